/* The per-step allocator (its_budget) and the rbf sampler that runs on it: each policy's quotas
 * and rollover arithmetic, the records, bad parameters; rbf's hard cap, its rollover record,
 * speculative batching that leaves the sample unchanged, failure paths and batch independence. */
#include "its_test.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------
 * its_budget
 * ---------------------------------------------------------------------------------------- */
static its_budget *mk(its_ctx *ctx, its_budget_policy pol, uint64_t total, int steps,
                      uint64_t init)
{
    its_budget_params p;
    its_budget_params_init(&p);
    p.policy = pol;
    p.total = total;
    p.steps = steps;
    p.init = init;
    its_budget *b = NULL;
    ITS_ASSERT_OK(its_budget_create(ctx, &p, &b));
    return b;
}

static void test_policy_names(void **state)
{
    (void)state;
    for (int i = 0; i < ITS_BUDGET_POLICY_COUNT_; i++) {
        its_budget_policy v;
        const char *n = its_budget_policy_name((its_budget_policy)i);
        assert_non_null(n);
        ITS_ASSERT_OK(its_budget_policy_parse(n, &v));
        assert_int_equal(v, i);
    }
    its_budget_policy v;
    assert_null(its_budget_policy_name(ITS_BUDGET_POLICY_COUNT_));
    assert_int_equal(its_budget_policy_parse("Rollover", &v), ITS_ERR_INVALID);
    assert_int_equal(its_budget_policy_parse(NULL, &v), ITS_ERR_INVALID);
    assert_string_equal(its_budget_policy_name(ITS_BUDGET_ROLLOVER), "rollover");
}

static void test_uniform(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    /* Q = floor((100 - 10) / 4) = 22; unused NFE is lost */
    its_budget *b = mk(ctx, ITS_BUDGET_UNIFORM, 100, 4, 10);
    assert_int_equal(its_budget_quota(b), 22);
    assert_int_equal(its_budget_spent(b), 10);
    ITS_ASSERT_OK(its_budget_spend(b, 5));
    assert_int_equal(its_budget_left(b), 17);
    /* over-spending is refused and charges nothing */
    assert_int_equal(its_budget_spend(b, 18), ITS_ERR_BUDGET);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "step 0"));
    assert_int_equal(its_budget_left(b), 17);
    ITS_ASSERT_OK(its_budget_end_step(b));
    assert_int_equal(its_budget_quota(b), 22);
    ITS_ASSERT_OK(its_budget_spend(b, 22));
    ITS_ASSERT_OK(its_budget_end_step(b));
    assert_int_equal(its_budget_quota(b), 22);
    ITS_ASSERT_OK(its_budget_end_step(b));
    ITS_ASSERT_OK(its_budget_end_step(b));
    assert_int_equal(its_budget_step_index(b), 4);
    assert_int_equal(its_budget_quota(b), 0);
    assert_int_equal(its_budget_spend(b, 1), ITS_ERR_INVALID);
    assert_int_equal(its_budget_end_step(b), ITS_ERR_INVALID);
    const its_budget_step *r;
    assert_int_equal(its_budget_records(b, &r), 4);
    uint64_t want_used[4] = {5, 22, 0, 0};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(r[i].quota, 22);
        assert_int_equal(r[i].used, want_used[i]);
    }
    its_budget_free(b);
    its_ctx_free(ctx);
}

static void test_rollover(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_budget *b = mk(ctx, ITS_BUDGET_ROLLOVER, 100, 4, 10); /* Q = 22 */
    ITS_ASSERT_OK(its_budget_spend(b, 5));
    ITS_ASSERT_OK(its_budget_end_step(b));
    assert_int_equal(its_budget_quota(b), 22 - 5 + 22); /* budget <- budget - used + Q */
    ITS_ASSERT_OK(its_budget_spend(b, 39));
    ITS_ASSERT_OK(its_budget_end_step(b));
    assert_int_equal(its_budget_quota(b), 22);
    ITS_ASSERT_OK(its_budget_spend(b, 1));
    ITS_ASSERT_OK(its_budget_end_step(b));
    assert_int_equal(its_budget_quota(b), 43);
    assert_int_equal(its_budget_children(b, 4, 1), 10); /* floor(43 / 4) */
    assert_int_equal(its_budget_children(b, 4, 2), 5);
    assert_int_equal(its_budget_children(b, 0, 1), 0);
    ITS_ASSERT_OK(its_budget_spend(b, 40));
    ITS_ASSERT_OK(its_budget_end_step(b));
    /* 10 + 5 + 39 + 1 + 40 = 95: the rounding remainder of 2 and the 3 unused stay unspent */
    assert_int_equal(its_budget_spent(b), 95);
    its_budget_free(b);

    /* final_rest: the last step takes everything left, the remainder included */
    its_budget_params p;
    its_budget_params_init(&p);
    p.total = 100;
    p.steps = 4;
    p.init = 10;
    p.final_rest = 1;
    ITS_ASSERT_OK(its_budget_create(ctx, &p, &b));
    for (int i = 0; i < 3; i++) {
        ITS_ASSERT_OK(its_budget_spend(b, 1));
        ITS_ASSERT_OK(its_budget_end_step(b));
    }
    assert_int_equal(its_budget_quota(b), 100 - 10 - 3);
    /* reset: back to step 0, records cleared */
    ITS_ASSERT_OK(its_budget_reset(b));
    assert_int_equal(its_budget_step_index(b), 0);
    assert_int_equal(its_budget_quota(b), 22);
    assert_int_equal(its_budget_spent(b), 10);
    assert_int_equal(its_budget_records(b, NULL), 0);
    its_budget_free(b);

    /* an explicit Q below the even share */
    its_budget_params_init(&p);
    p.total = 100;
    p.steps = 4;
    p.per_step = 7;
    ITS_ASSERT_OK(its_budget_create(ctx, &p, &b));
    assert_int_equal(its_budget_quota(b), 7);
    ITS_ASSERT_OK(its_budget_end_step(b));
    assert_int_equal(its_budget_quota(b), 14);
    its_budget_free(b);
    its_ctx_free(ctx);
}

static void test_decreasing(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_budget_params p;
    its_budget_params_init(&p);
    p.policy = ITS_BUDGET_DECREASING;
    p.total = 100;
    p.steps = 4;
    p.d = 2;
    its_budget *b = NULL;
    /* n0 = the largest with 4 n0 - 2 * 6 <= 100: 28, then 26, 24, 22 (sum 100) */
    ITS_ASSERT_OK(its_budget_create(ctx, &p, &b));
    uint64_t want[4] = {28, 26, 24, 22};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(its_budget_quota(b), want[i]);
        ITS_ASSERT_OK(its_budget_spend(b, want[i] / 2));
        ITS_ASSERT_OK(its_budget_end_step(b));
    }
    its_budget_free(b);
    p.n0 = 20;
    ITS_ASSERT_OK(its_budget_create(ctx, &p, &b));
    assert_int_equal(its_budget_quota(b), 20);
    ITS_ASSERT_OK(its_budget_end_step(b));
    assert_int_equal(its_budget_quota(b), 18);
    its_budget_free(b);
    /* asks for more than the total */
    p.n0 = 29;
    assert_int_equal(its_budget_create(ctx, &p, &b), ITS_ERR_BUDGET);
    assert_null(b);
    /* reaches 0 before the last step */
    p.n0 = 6;
    assert_int_equal(its_budget_create(ctx, &p, &b), ITS_ERR_BUDGET);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "reaches 0"));
    p.n0 = 0;
    p.d = 40;
    assert_int_equal(its_budget_create(ctx, &p, &b), ITS_ERR_BUDGET);
    its_ctx_free(ctx);
}

typedef struct fake_clock {
    double now;
} fake_clock;

static double fake_now(void *user) { return ((fake_clock *)user)->now; }

static void test_deadline(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    fake_clock c = {5.0};
    its_budget_params p;
    its_budget_params_init(&p);
    p.policy = ITS_BUDGET_DEADLINE;
    p.total = 100;
    p.steps = 4;
    p.deadline_ms = 1000;
    p.clock = fake_now;
    p.clock_user = &c;
    its_budget *b = NULL;
    ITS_ASSERT_OK(its_budget_create(ctx, &p, &b));
    assert_int_equal(its_budget_quota(b), 25); /* nothing measured yet: an even share */
    ITS_ASSERT_OK(its_budget_spend(b, 25));
    c.now = 5.1; /* 4 ms per NFE: 0.9 s left over 3 steps fits 75 per step */
    ITS_ASSERT_OK(its_budget_end_step(b));
    assert_int_equal(its_budget_quota(b), 25);
    ITS_ASSERT_OK(its_budget_spend(b, 25));
    c.now = 5.8; /* 16 ms per NFE: 0.2 s left over 2 steps fits floor(0.1 / 0.016) = 6 */
    ITS_ASSERT_OK(its_budget_end_step(b));
    assert_int_equal(its_budget_quota(b), 6);
    ITS_ASSERT_OK(its_budget_spend(b, 6));
    c.now = 6.5; /* past the deadline */
    ITS_ASSERT_OK(its_budget_end_step(b));
    assert_int_equal(its_budget_quota(b), 0);
    assert_int_equal(its_budget_spend(b, 1), ITS_ERR_BUDGET);
    /* reset restarts the clock */
    ITS_ASSERT_OK(its_budget_reset(b));
    assert_int_equal(its_budget_quota(b), 25);
    its_budget_free(b);
    /* the deadline policy needs a deadline */
    p.deadline_ms = 0;
    assert_int_equal(its_budget_create(ctx, &p, &b), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "budget.deadline_ms"));
    its_ctx_free(ctx);
}

/* Random spends under every policy: no step spends past its quota, the run never past the total,
 * and the records add up to what was spent. */
static void test_never_exceeds(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    uint64_t lcg = 12345;
    fake_clock c = {0};
    for (int pol = 0; pol < ITS_BUDGET_POLICY_COUNT_; pol++) {
        for (int trial = 0; trial < 200; trial++) {
            lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
            its_budget_params p;
            its_budget_params_init(&p);
            p.policy = (its_budget_policy)pol;
            p.steps = 1 + (int)((lcg >> 33) % 12);
            p.init = (lcg >> 20) % 30;
            p.total = p.init + (uint64_t)p.steps * (2 + (lcg >> 40) % 40) + (lcg >> 50) % 7;
            p.final_rest = (int)((lcg >> 10) & 1);
            p.d = (lcg >> 5) % 3;
            p.deadline_ms = 1000;
            p.clock = fake_now;
            p.clock_user = &c;
            c.now = 0;
            its_budget *b = NULL;
            if (its_budget_create(ctx, &p, &b) != ITS_OK) {
                /* only a decreasing schedule that does not fit may be refused */
                assert_int_equal(pol, ITS_BUDGET_DECREASING);
                continue;
            }
            uint64_t sum = 0;
            for (int i = 0; i < p.steps; i++) {
                lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
                uint64_t q = its_budget_quota(b);
                uint64_t use = q ? (lcg >> 33) % (q + 1) : 0;
                if ((lcg >> 7) % 3 == 0)
                    use = q;
                ITS_ASSERT_OK(its_budget_spend(b, use));
                assert_int_equal(its_budget_spend(b, its_budget_left(b) + 1), ITS_ERR_BUDGET);
                sum += use;
                assert_true(its_budget_spent(b) <= p.total);
                c.now += 0.01 * (double)use;
                ITS_ASSERT_OK(its_budget_end_step(b));
            }
            const its_budget_step *r;
            assert_int_equal(its_budget_records(b, &r), (size_t)p.steps);
            uint64_t rs = 0;
            for (int i = 0; i < p.steps; i++) {
                assert_true(r[i].used <= r[i].quota);
                rs += r[i].used;
            }
            assert_int_equal(rs, sum);
            assert_int_equal(its_budget_spent(b), p.init + sum);
            its_budget_free(b);
        }
    }
    its_ctx_free(ctx);
}

static void test_bad_params(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_budget *b = (its_budget *)&b;
    its_budget_params p;
    its_budget_params_init(&p);
    p.version = 7;
    assert_int_equal(its_budget_create(ctx, &p, &b), ITS_ERR_INVALID);
    assert_null(b);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "budget.version"));
    its_budget_params_init(&p);
    p.steps = 0;
    assert_int_equal(its_budget_create(ctx, &p, &b), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "budget.steps"));
    its_budget_params_init(&p);
    p.total = 0;
    assert_int_equal(its_budget_create(ctx, &p, &b), ITS_ERR_INVALID);
    its_budget_params_init(&p);
    p.policy = ITS_BUDGET_POLICY_COUNT_;
    assert_int_equal(its_budget_create(ctx, &p, &b), ITS_ERR_INVALID);
    its_budget_params_init(&p);
    p.init = 500;
    assert_int_equal(its_budget_create(ctx, &p, &b), ITS_ERR_BUDGET);
    its_budget_params_init(&p);
    p.total = 9; /* 10 steps cannot get 1 NFE each */
    assert_int_equal(its_budget_create(ctx, &p, &b), ITS_ERR_BUDGET);
    its_budget_params_init(&p);
    p.per_step = 51;
    assert_int_equal(its_budget_create(ctx, &p, &b), ITS_ERR_BUDGET);
    its_budget_params_init(&p);
    p.final_rest = 2;
    assert_int_equal(its_budget_create(ctx, &p, &b), ITS_ERR_INVALID);
    assert_int_equal(its_budget_create(ctx, NULL, &b), ITS_ERR_INVALID);
    assert_int_equal(its_budget_create(ctx, &p, NULL), ITS_ERR_INVALID);
    /* NULL-safe */
    its_budget_free(NULL);
    assert_int_equal(its_budget_spend(NULL, 1), ITS_ERR_INVALID);
    assert_int_equal(its_budget_end_step(NULL), ITS_ERR_INVALID);
    assert_int_equal(its_budget_quota(NULL), 0);
    its_ctx_free(ctx);
}

static void test_budget_nomem(void **state)
{
    (void)state;
    for (long k = 1; k <= 3; k++) {
        its_test_alloc a = {0};
        its_ctx *ctx = its_test_ctx(&a);
        long base = a.calls;
        a.fail_at = base + k;
        its_budget_params p;
        its_budget_params_init(&p);
        its_budget *b = NULL;
        its_status st = its_budget_create(ctx, &p, &b);
        if (k <= 2) {
            assert_int_equal(st, ITS_ERR_NOMEM);
            assert_null(b);
        } else {
            ITS_ASSERT_OK(st);
        }
        its_budget_free(b);
        its_ctx_free(ctx);
        assert_int_equal(a.live, 0);
    }
}

/* ------------------------------------------------------------------------------------------
 * rbf
 * ---------------------------------------------------------------------------------------- */
#define DIM 4

typedef struct fix {
    its_ctx *ctx;
    its_gmm *g;
    its_model m;
    its_verifier v;
} fix;

static void fix_init(fix *f, its_test_alloc *a)
{
    f->ctx = its_test_ctx(a);
    f->g = its_test_gmm2(f->ctx, DIM, 1.5, 0.5, 0.05);
    assert_non_null(f->g);
    its_interp lin;
    its_interp_init(&lin, ITS_INTERP_LINEAR);
    its_gmm_bind_model(f->g, &lin, ITS_PRED_VELOCITY, &f->m);
    ITS_ASSERT_OK(its_gmm_bind_logprob(f->g, 1, &f->v));
}

static void fix_free(fix *f)
{
    its_gmm_free(f->g);
    its_ctx_free(f->ctx);
}

static void rbf_run_params(its_run_params *run, uint64_t max_nfe)
{
    its_run_params_init(run);
    run->steps = 10;
    run->dynamics = ITS_DYN_SDE;
    run->g_schedule = ITS_G_SQUARE;
    run->g_scale = 3;
    run->grid = ITS_GRID_EXP;
    run->convert = 1;
    run->max_nfe = max_nfe;
}

static its_result *rbf_gen(fix *f, const its_rbf_params *p, const its_run_params *run,
                           uint64_t seed)
{
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(f->ctx, ITS_METHOD_RBF, p, run, &s));
    its_result *r = NULL;
    its_status st = its_generate(s, &f->m, &f->v, seed, &r);
    if (st != ITS_OK)
        fail_msg("rbf: %s: %s", its_status_str(st), its_ctx_errmsg(f->ctx));
    its_sampler_free(s);
    return r;
}

static void test_rbf_params(void **state)
{
    (void)state;
    fix f;
    fix_init(&f, NULL);
    its_rbf_params p;
    its_rbf_params_init(&p);
    assert_int_equal(p.chains, 2);
    assert_int_equal(p.init, 25);
    assert_int_equal(p.speculative, 1);
    assert_int_equal(p.finish, ITS_FINISH_TWEEDIE);
    its_run_params run;
    rbf_run_params(&run, 0);
    its_sampler *s = NULL;
    p.chains = 0;
    assert_int_equal(its_sampler_create(f.ctx, ITS_METHOD_RBF, &p, &run, &s), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f.ctx), "params.chains"));
    its_rbf_params_init(&p);
    p.finish = ITS_FINISH_COUNT_;
    assert_int_equal(its_sampler_create(f.ctx, ITS_METHOD_RBF, &p, &run, &s), ITS_ERR_INVALID);
    its_rbf_params_init(&p);
    run.dynamics = ITS_DYN_ODE;
    assert_int_equal(its_sampler_create(f.ctx, ITS_METHOD_RBF, &p, &run, &s),
                     ITS_ERR_UNSUPPORTED);
    assert_non_null(strstr(its_ctx_errmsg(f.ctx), "run.dynamics"));
    rbf_run_params(&run, 69); /* 25 * 2 + 10 * 2 = 70 needed */
    assert_int_equal(its_sampler_create(f.ctx, ITS_METHOD_RBF, &p, &run, &s), ITS_ERR_BUDGET);
    run.max_nfe = 70;
    ITS_ASSERT_OK(its_sampler_create(f.ctx, ITS_METHOD_RBF, &p, &run, &s));
    its_sampler_free(s);
    rbf_run_params(&run, 0);
    run.steps = 1;
    assert_int_equal(its_sampler_create(f.ctx, ITS_METHOD_RBF, &p, &run, &s), ITS_ERR_INVALID);
    /* run.max_nfe = 0: the default budget of 500 */
    rbf_run_params(&run, 0);
    its_result *r = rbf_gen(&f, &p, &run, 1);
    its_usage u;
    its_result_usage(r, &u);
    assert_true(u.nfe <= 500);
    assert_true(u.nfe >= 490);
    its_result_free(r);
    fix_free(&f);
}

/* The hard cap holds for every seed, budget, chain count, finish and speculation; each step's
 * record adds up to the usage; with k = 1 no step spends past its quota. */
static void test_rbf_cap(void **state)
{
    (void)state;
    fix f;
    fix_init(&f, NULL);
    const uint64_t budgets[] = {40, 57, 100, 133, 251};
    for (size_t bi = 0; bi < (sizeof(budgets) / sizeof(budgets[0])); bi++) {
        for (int spec = 1; spec <= 4; spec += 3) {
            for (uint64_t seed = 0; seed < 12; seed++) {
                its_rbf_params p;
                its_rbf_params_init(&p);
                p.chains = 1 + (int)(seed % 3);
                p.init = 3;
                p.speculative = spec;
                p.finish = (its_finish)(seed % 2);
                its_run_params run;
                rbf_run_params(&run, budgets[bi]);
                run.convert = (int)((seed / 2) % 2);
                run.grid = seed % 4 < 2 ? ITS_GRID_EXP : ITS_GRID_UNIFORM;
                its_result *r = rbf_gen(&f, &p, &run, seed);
                its_usage u;
                its_result_usage(r, &u);
                assert_true(u.nfe <= budgets[bi]);
                assert_int_equal(its_result_stop(r), ITS_STOP_COMPLETED);
                assert_true(its_result_count(r) >= 1);
                assert_true(isfinite(its_result_score(r, 0)));
                const its_step_usage *st;
                size_t ns = its_result_steps(r, &st);
                assert_int_equal(ns, 10); /* init + 9 searched steps */
                uint64_t sum = 0;
                for (size_t i = 0; i < ns; i++) {
                    sum += (uint64_t)st[i].used;
                    if (spec == 1)
                        assert_true(st[i].used <= st[i].quota);
                }
                assert_int_equal(sum, u.nfe);
                /* one verifier row per NFE, and one more per chain for finish = step */
                assert_int_equal(u.verifier_rows,
                                 u.nfe + (p.finish == ITS_FINISH_STEP ? (uint64_t)p.chains : 0));
                its_result_free(r);
            }
        }
    }
    fix_free(&f);
}

/* One chain: quota_{k+1} = Q + quota_k - used_k (rollover), the last searched step takes all that
 * is left (T Q minus the steps before), and some early acceptance rolls NFE over. */
static void test_rbf_rollover_record(void **state)
{
    (void)state;
    fix f;
    fix_init(&f, NULL);
    const int T = 10;
    const uint64_t max_nfe = 35, I = 5;
    const int64_t Q = (int64_t)((max_nfe - I) / (uint64_t)T); /* 3 */
    int rolled = 0;
    for (uint64_t seed = 0; seed < 8; seed++) {
        its_rbf_params p;
        its_rbf_params_init(&p);
        p.chains = 1;
        p.init = (int)I;
        its_run_params run;
        rbf_run_params(&run, max_nfe);
        its_result *r = rbf_gen(&f, &p, &run, seed);
        const its_step_usage *st;
        size_t ns = its_result_steps(r, &st);
        assert_int_equal(ns, (size_t)T);
        assert_int_equal(st[0].step, 0);
        assert_int_equal(st[0].quota, (int64_t)I);
        assert_int_equal(st[1].quota, Q);
        int64_t used = 0;
        for (size_t i = 1; i < ns; i++) {
            assert_int_equal(st[i].step, (int)i);
            if (i + 1 < ns)
                assert_int_equal(st[i + 1].quota,
                                 i + 2 < ns ? Q + st[i].quota - st[i].used
                                            : (int64_t)T * Q - (used + st[i].used));
            used += st[i].used;
            if (i + 1 < ns && st[i].used > Q)
                rolled = 1;
        }
        /* the last searched step spends everything */
        assert_int_equal(st[ns - 1].used, st[ns - 1].quota);
        assert_int_equal(used, (int64_t)T * Q);
        its_result_free(r);
    }
    assert_true(rolled);
    fix_free(&f);
}

/* k = 1, 4, 16 proposals per round give every chain's output bit for bit (top_k = chains keeps
 * them all), with fewer model calls and the unused proposals' NFE charged. Chains run
 * side by side: with k = 1 a round's model call carries one row per searching chain. */
static void test_rbf_speculative(void **state)
{
    (void)state;
    fix f;
    fix_init(&f, NULL);
    for (int capped = 0; capped < 2; capped++) {
        for (uint64_t seed = 0; seed < 6; seed++) {
            float ref[2 * DIM];
            double ref_score[2] = {0, 0};
            uint64_t calls1 = 0, nfe1 = 0;
            const int ks[] = {1, 4, 16};
            for (size_t ki = 0; ki < 3; ki++) {
                its_rbf_params p;
                its_rbf_params_init(&p);
                p.chains = 2;
                p.init = 5;
                p.speculative = ks[ki];
                p.finish = (its_finish)(seed % 2);
                its_run_params run;
                rbf_run_params(&run, capped ? 400 : 0);
                run.top_k = 2;
                its_result *r = rbf_gen(&f, &p, &run, seed);
                its_usage u;
                its_result_usage(r, &u);
                assert_int_equal(its_result_count(r), 2);
                if (ki == 0) {
                    for (size_t c = 0; c < 2; c++) {
                        memcpy(ref + c * DIM, its_result_sample(r, c), DIM * sizeof(float));
                        ref_score[c] = its_result_score(r, c);
                    }
                    calls1 = u.model_calls;
                    nfe1 = u.nfe;
                    /* side by side: fewer calls than NFE past the initial batch */
                    assert_true(u.model_calls < u.nfe - 2 * 5);
                } else {
                    for (size_t c = 0; c < 2; c++) {
                        assert_memory_equal(ref + c * DIM, its_result_sample(r, c),
                                            DIM * sizeof(float));
                        assert_true(its_result_score(r, c) == ref_score[c]);
                    }
                    assert_true(u.nfe >= nfe1);
                    if (capped)
                        assert_true(u.nfe <= 400);
                    else
                        assert_true(u.model_calls < calls1);
                }
                its_result_free(r);
            }
        }
    }
    fix_free(&f);
}

/* At the last searched level nothing is accepted: each chain's remaining proposals are drawn
 * max(init, k) per round. With 2 steps that level is the only one searched: 2 chains, init 5,
 * params.nfe 50 give Q = 10 and 20 proposals per chain there, so k = 1 takes 1 + 4 model calls
 * and k = 16 1 + 2, with the same outputs and NFE. */
static void test_rbf_last_level(void **state)
{
    (void)state;
    fix f;
    fix_init(&f, NULL);
    for (uint64_t seed = 0; seed < 4; seed++) {
        float ref[2 * DIM];
        const int ks[] = {1, 16};
        const uint64_t calls[] = {1 + 4, 1 + 2};
        for (size_t ki = 0; ki < 2; ki++) {
            its_rbf_params p;
            its_rbf_params_init(&p);
            p.chains = 2;
            p.init = 5;
            p.nfe = 50;
            p.speculative = ks[ki];
            its_run_params run;
            rbf_run_params(&run, 0);
            run.steps = 2;
            run.top_k = 2;
            its_result *r = rbf_gen(&f, &p, &run, seed);
            its_usage u;
            its_result_usage(r, &u);
            assert_int_equal(u.nfe, 50);
            assert_int_equal(u.model_calls, calls[ki]);
            assert_int_equal(its_result_count(r), 2);
            for (size_t c = 0; c < 2; c++) {
                if (ki == 0)
                    memcpy(ref + c * DIM, its_result_sample(r, c), DIM * sizeof(float));
                else
                    assert_memory_equal(ref + c * DIM, its_result_sample(r, c),
                                        DIM * sizeof(float));
            }
            its_result_free(r);
        }
    }
    fix_free(&f);
}

/* Chains run on their own (a round carries each chain's next proposals, whatever step it is at):
 * chain 0 of a 2-chain run is the 1-chain run with the same per-chain budget, and the 2-chain
 * run takes fewer model calls than the two chains' calls added. */
static void test_rbf_chains_alone(void **state)
{
    (void)state;
    fix f;
    fix_init(&f, NULL);
    for (uint64_t seed = 0; seed < 4; seed++) {
        for (int spec = 1; spec <= 4; spec += 3) {
            its_result *r[2];
            its_usage u[2];
            for (int c = 1; c <= 2; c++) {
                its_rbf_params p;
                its_rbf_params_init(&p);
                p.chains = c;
                p.init = 4;
                p.nfe = (uint64_t)c * 60; /* Q = (60 - 4) / 10 = 5 per chain either way */
                p.speculative = spec;
                its_run_params run;
                rbf_run_params(&run, 0);
                run.top_k = 2;
                r[c - 1] = rbf_gen(&f, &p, &run, seed);
                its_result_usage(r[c - 1], &u[c - 1]);
            }
            int found = 0;
            for (size_t k = 0; k < its_result_count(r[1]); k++)
                found |= memcmp(its_result_sample(r[0], 0), its_result_sample(r[1], k),
                                DIM * sizeof(float)) == 0;
            assert_true(found);
            assert_true(u[1].model_calls < 2 * u[0].model_calls);
            its_result_free(r[0]);
            its_result_free(r[1]);
        }
    }
    fix_free(&f);
}

typedef struct fail_model {
    its_model inner;
    long calls, fail_at;
} fail_model;

static int fail_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    fail_model *fm = user;
    if (++fm->calls == fm->fail_at)
        return 7;
    return fm->inner.eval(fm->inner.user, x, t, n, out);
}

typedef struct nan_ver {
    its_verifier inner;
    long rows, nan_at;
} nan_ver;

static int nan_score(void *user, const float *x0, size_t n, float *s)
{
    nan_ver *nv = user;
    int rc = nv->inner.score(nv->inner.user, x0, n, s);
    for (size_t i = 0; i < n; i++)
        if (++nv->rows == nv->nan_at)
            s[i] = NAN;
    return rc;
}

static void test_rbf_failures(void **state)
{
    (void)state;
    fix f;
    fix_init(&f, NULL);
    its_rbf_params p;
    its_rbf_params_init(&p);
    p.init = 4;
    p.speculative = 3;
    its_run_params run;
    rbf_run_params(&run, 120);
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(f.ctx, ITS_METHOD_RBF, &p, &run, &s));
    its_result *r = NULL;

    /* a model callback error in the initial batch and in the middle of a chain */
    for (long at = 1; at <= 20; at += 19) {
        fail_model fm = {f.m, 0, at};
        its_model m = f.m;
        m.eval = fail_eval;
        m.user = &fm;
        assert_int_equal(its_generate(s, &m, &f.v, 3, &r), ITS_ERR_CALLBACK);
        assert_null(r);
        assert_non_null(strstr(its_ctx_errmsg(f.ctx), "model eval callback returned 7"));
    }
    /* a NaN score is an error, or a dropped proposal under on_nonfinite = drop */
    nan_ver nv = {f.v, 0, 30};
    its_verifier v = f.v;
    v.score = nan_score;
    v.user = &nv;
    assert_int_equal(its_generate(s, &f.m, &v, 3, &r), ITS_ERR_NUMERIC);
    assert_non_null(strstr(its_ctx_errmsg(f.ctx), "NaN"));
    its_sampler_free(s);
    run.on_nonfinite = ITS_NONFINITE_DROP;
    ITS_ASSERT_OK(its_sampler_create(f.ctx, ITS_METHOD_RBF, &p, &run, &s));
    nv.rows = 0;
    ITS_ASSERT_OK(its_generate(s, &f.m, &v, 3, &r));
    assert_true(isfinite(its_result_score(r, 0)));
    its_result_free(r);
    its_sampler_free(s);
    fix_free(&f);

    /* every allocation failure is reported and leaks nothing */
    for (long k = 1;; k++) {
        its_test_alloc a = {0};
        fix g;
        fix_init(&g, &a);
        ITS_ASSERT_OK(its_sampler_create(g.ctx, ITS_METHOD_RBF, &p, &run, &s));
        a.fail_at = a.calls + k;
        its_status st = its_generate(s, &g.m, &g.v, 3, &r);
        long failures = a.failures;
        its_result_free(r);
        its_sampler_free(s);
        fix_free(&g);
        assert_int_equal(a.live, 0);
        if (!failures) {
            ITS_ASSERT_OK(st);
            break;
        }
        assert_int_equal(st, ITS_ERR_NOMEM);
        assert_true(k < 1000);
    }
}

/* The model's max_batch changes the calls, never a bit of the result. */
static void test_rbf_batch_invariance(void **state)
{
    (void)state;
    fix f;
    fix_init(&f, NULL);
    const size_t batches[] = {1, 7, 64};
    for (uint64_t seed = 10; seed < 14; seed++) {
        float ref[DIM];
        uint64_t nfe0 = 0, calls0 = 0;
        for (size_t bi = 0; bi < 3; bi++) {
            its_rbf_params p;
            its_rbf_params_init(&p);
            p.init = 9;
            p.speculative = 8;
            its_run_params run;
            rbf_run_params(&run, 0);
            its_model m = f.m;
            m.max_batch = batches[bi];
            its_sampler *s = NULL;
            ITS_ASSERT_OK(its_sampler_create(f.ctx, ITS_METHOD_RBF, &p, &run, &s));
            its_result *r = NULL;
            ITS_ASSERT_OK(its_generate(s, &m, &f.v, seed, &r));
            its_usage u;
            its_result_usage(r, &u);
            if (bi == 0) {
                memcpy(ref, its_result_sample(r, 0), sizeof(ref));
                nfe0 = u.nfe;
                calls0 = u.model_calls;
                assert_int_equal(calls0, nfe0); /* max_batch 1: one row per call */
            } else {
                assert_memory_equal(ref, its_result_sample(r, 0), sizeof(ref));
                assert_int_equal(u.nfe, nfe0);
                assert_true(u.model_calls < calls0);
            }
            its_result_free(r);
            its_sampler_free(s);
        }
    }
    fix_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_names),
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_rollover),
        cmocka_unit_test(test_decreasing),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_never_exceeds),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_budget_nomem),
        cmocka_unit_test(test_rbf_params),
        cmocka_unit_test(test_rbf_cap),
        cmocka_unit_test(test_rbf_rollover_record),
        cmocka_unit_test(test_rbf_speculative),
        cmocka_unit_test(test_rbf_last_level),
        cmocka_unit_test(test_rbf_chains_alone),
        cmocka_unit_test(test_rbf_failures),
        cmocka_unit_test(test_rbf_batch_invariance),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
