/* Unit tests of budget_children in beam, svdd and code: the children of each selection round from
 * the per-step allocator over run.max_nfe. The allocator's schedules are known in closed form
 * (uniform Q = floor((total - init) / S), rollover quota_{i+1} = quota_i - used_i + Q,
 * decreasing n_i = n_0 - i d), so the per-step records are checked exactly; the cap is checked
 * over many caps, child caps and seeds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its_test.h"
#include "itscale/budget.h"

#define DIM 3
#define STEPS 8
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

typedef its_test_fixture fixture;

static int setup(void **state) { return its_test_fixture_setup(state, DIM); }
static int teardown(void **state) { return its_test_fixture_teardown(state); }

static void sde_run(its_run_params *r, int steps, uint64_t max_nfe)
{
    its_run_params_init(r);
    r->steps = steps;
    r->dynamics = ITS_DYN_SDE;
    r->g_scale = 1.0;
    r->max_nfe = max_nfe;
}

/* One params struct for any of the three methods. */
typedef struct mcase {
    its_method m;
    union {
        its_beam_params beam;
        its_svdd_params svdd;
        its_code_params code;
    } p;
} mcase;

/* n particles (beams), kmax children, block (code only), budget mode and policy. */
static mcase mk(its_method m, int n, int kmax, int block, int budget, its_budget_policy pol)
{
    mcase c;
    memset(&c, 0, sizeof(c));
    c.m = m;
    if (m == ITS_METHOD_BEAM) {
        its_beam_params_init(&c.p.beam);
        c.p.beam.beams = n;
        c.p.beam.children = kmax;
        c.p.beam.budget_children = budget;
        c.p.beam.children_policy = pol;
    } else if (m == ITS_METHOD_SVDD) {
        its_svdd_params_init(&c.p.svdd);
        c.p.svdd.n = n;
        c.p.svdd.children = kmax;
        c.p.svdd.budget_children = budget;
        c.p.svdd.children_policy = pol;
    } else {
        its_code_params_init(&c.p.code);
        c.p.code.n = n;
        c.p.code.children = kmax;
        c.p.code.block = block;
        c.p.code.budget_children = budget;
        c.p.code.children_policy = pol;
    }
    return c;
}

static its_status gen(fixture *f, const mcase *c, const its_run_params *run, uint64_t seed,
                      its_result **out)
{
    its_sampler *s = NULL;
    *out = NULL;
    its_status st = its_sampler_create(f->ctx, c->m, &c->p, run, &s);
    if (st != ITS_OK)
        return st;
    st = its_generate(s, &f->model, &f->ver, seed, out);
    its_sampler_free(s);
    return st;
}

static uint64_t nfe_of(const its_result *r)
{
    its_usage u;
    its_result_usage(r, &u);
    return u.nfe;
}

static void assert_same_result(const its_result *a, const its_result *b)
{
    assert_int_equal(its_result_count(a), its_result_count(b));
    for (size_t i = 0; i < its_result_count(a); i++) {
        assert_memory_equal(its_result_sample(a, i), its_result_sample(b, i),
                            DIM * sizeof(float));
        double sa = its_result_score(a, i), sb = its_result_score(b, i);
        assert_memory_equal(&sa, &sb, sizeof(double));
    }
    assert_int_equal(nfe_of(a), nfe_of(b));
}

static void assert_same_steps(const its_result *a, const its_result *b)
{
    const its_step_usage *sa = NULL, *sb = NULL;
    size_t na = its_result_steps(a, &sa), nb = its_result_steps(b, &sb);
    assert_int_equal(na, nb);
    for (size_t i = 0; i < na; i++) {
        assert_int_equal(sa[i].step, sb[i].step);
        assert_int_equal(sa[i].quota, sb[i].quota);
        assert_int_equal(sa[i].used, sb[i].used);
    }
}

/* ---------------------------------------------------------------------------------------------
 * defaults and the reduction to fixed mode
 * ------------------------------------------------------------------------------------------- */
static void test_defaults(void **state)
{
    (void)state;
    its_beam_params b;
    its_svdd_params s;
    its_code_params c;
    its_beam_params_init(&b);
    its_svdd_params_init(&s);
    its_code_params_init(&c);
    assert_int_equal(b.budget_children, 0);
    assert_int_equal(s.budget_children, 0);
    assert_int_equal(c.budget_children, 0);
    assert_int_equal(b.children_policy, ITS_BUDGET_ROLLOVER);
    assert_int_equal(s.children_policy, ITS_BUDGET_ROLLOVER);
    assert_int_equal(c.children_policy, ITS_BUDGET_ROLLOVER);
}

/* A budget that pays exactly `children` per particle in every round gives K = children each
 * round, so budget mode reproduces fixed mode bit for bit, under every policy that grants it. */
static void test_exact_budget_is_fixed(void **state)
{
    fixture *f = *state;
    struct {
        its_method m;
        int n, k, block, steps;
    } cs[] = {
        {ITS_METHOD_SVDD, 2, 4, 1, STEPS},
        {ITS_METHOD_BEAM, 3, 3, 1, STEPS},
        /* T = 7, L = 3: rounds of 3, 3 and 0 NFE per child, so the paying rounds cost alike */
        {ITS_METHOD_CODE, 3, 4, 3, 7},
    };
    /* decreasing is left out: it takes one child per particle off every round */
    its_budget_policy pols[] = {ITS_BUDGET_UNIFORM, ITS_BUDGET_ROLLOVER};
    for (size_t i = 0; i < LEN(cs); i++) {
        /* cost n + n k (T - 1) */
        uint64_t cost =
            (uint64_t)cs[i].n + (uint64_t)(cs[i].n * cs[i].k) * (uint64_t)(cs[i].steps - 1);
        its_run_params run;
        sde_run(&run, cs[i].steps, cost);
        run.top_k = 2;
        mcase fixed = mk(cs[i].m, cs[i].n, cs[i].k, cs[i].block, 0, ITS_BUDGET_ROLLOVER);
        its_result *a = NULL;
        ITS_ASSERT_OK(gen(f, &fixed, &run, 5, &a));
        assert_int_equal(nfe_of(a), cost);
        for (size_t p = 0; p < LEN(pols); p++) {
            mcase bud = mk(cs[i].m, cs[i].n, cs[i].k, cs[i].block, 1, pols[p]);
            its_result *b = NULL;
            ITS_ASSERT_OK(gen(f, &bud, &run, 5, &b));
            assert_same_result(a, b);
            its_result_free(b);
        }
        its_result_free(a);
    }
}

/* ---------------------------------------------------------------------------------------------
 * the cap
 * ------------------------------------------------------------------------------------------- */
/* Per-particle NFE of one child in round r (rounds of L steps; none for the step to t = 0). */
static uint64_t round_cost(int T, int L, int k0)
{
    int k1 = k0 + L < T ? k0 + L : T;
    return (uint64_t)(k1 == T ? k1 - k0 - 1 : k1 - k0);
}

/* Checks one budget-mode result against its plan: NFE <= cap, every paying round gets between
 * 1 and kmax children per particle and spends no more than its quota (deadline aside). */
static void check_budget_result(const its_result *r, uint64_t cap, int T, int L, size_t n_eff,
                                int kmax, its_budget_policy pol)
{
    const its_step_usage *st = NULL;
    size_t ns = its_result_steps(r, &st);
    uint64_t nfe = nfe_of(r);
    if (nfe > cap)
        fail_msg("NFE %llu over the cap %llu", (unsigned long long)nfe, (unsigned long long)cap);
    assert_true(ns >= 2);
    assert_int_equal(st[0].step, 0);
    assert_int_equal((uint64_t)st[0].used, n_eff);
    int64_t sum = 0;
    for (size_t i = 0; i < ns; i++)
        sum += st[i].used;
    assert_int_equal((uint64_t)sum, nfe);
    for (size_t i = 1; i < ns; i++) {
        int k0 = st[i].step - 1;
        uint64_t c = round_cost(T, L, k0);
        if (c == 0) {
            assert_int_equal(st[i].quota, -1);
            assert_int_equal(st[i].used, 0);
            continue;
        }
        uint64_t used = (uint64_t)st[i].used;
        assert_int_equal(used % (n_eff * c), 0);
        uint64_t k = used / (n_eff * c);
        if (k < 1 || k > (uint64_t)kmax)
            fail_msg("round at step %d: %llu children per particle, cap %d", k0,
                     (unsigned long long)k, kmax);
        if (pol != ITS_BUDGET_DEADLINE && (int64_t)used > st[i].quota)
            fail_msg("round at step %d spends %llu over its quota %lld", k0,
                     (unsigned long long)used, (long long)st[i].quota);
    }
}

static void test_cap_never_exceeded(void **state)
{
    fixture *f = *state;
    its_method ms[] = {ITS_METHOD_SVDD, ITS_METHOD_BEAM, ITS_METHOD_CODE, ITS_METHOD_CODE};
    int blocks[] = {1, 1, 2, 3};
    its_budget_policy pols[] = {ITS_BUDGET_UNIFORM, ITS_BUDGET_ROLLOVER, ITS_BUDGET_DECREASING};
    int kmaxs[] = {1, 3, 50};
    uint64_t caps[] = {0, 1, 13, 37, 64, 151, 400};
    long runs = 0;
    for (size_t mi = 0; mi < LEN(ms); mi++) {
        const int L = blocks[mi], T = STEPS;
        /* paying rounds S and their dearest cost: the least a particle needs in budget mode */
        int S = 0;
        uint64_t cmax = 0, cmin = UINT64_MAX;
        for (int k0 = 0; k0 < T; k0 += L) {
            uint64_t c = round_cost(T, L, k0);
            S += c > 0;
            cmax = c > cmax ? c : cmax;
            cmin = c > 0 && c < cmin ? c : cmin;
        }
        const uint64_t per = 1 + (uint64_t)S * cmax;
        for (size_t pi = 0; pi < LEN(pols); pi++)
            for (size_t ki = 0; ki < LEN(kmaxs); ki++)
                for (size_t ci = 0; ci < LEN(caps); ci++)
                    for (uint64_t seed = 1; seed <= 3; seed++) {
                        /* caps[0] = the least that works, caps[1] one less */
                        uint64_t cap = ci == 0 ? per : ci == 1 ? per - 1 : caps[ci] + per;
                        its_run_params run;
                        sde_run(&run, T, cap);
                        mcase c = mk(ms[mi], 3, kmaxs[ki], L, 1, pols[pi]);
                        its_result *r = NULL;
                        its_status st = gen(f, &c, &run, seed, &r);
                        if (ci == 1) {
                            assert_int_equal(st, ITS_ERR_BUDGET);
                            assert_null(r);
                            continue;
                        }
                        if (st != ITS_OK)
                            fail_msg("%s cap %llu: %s", its_method_name(ms[mi]),
                                     (unsigned long long)cap, its_ctx_errmsg(f->ctx));
                        size_t n_eff = cap / per < 3 ? (size_t)(cap / per) : 3;
                        check_budget_result(r, cap, T, L, n_eff, kmaxs[ki], pols[pi]);
                        /* rollover loses only the rounding of Q (< S) and what no child
                         * fits in at the end (< n c_max), where the child cap cannot bind */
                        uint64_t nfe = nfe_of(r);
                        if (pols[pi] == ITS_BUDGET_ROLLOVER &&
                            (uint64_t)kmaxs[ki] * n_eff * cmin >= cap)
                            assert_true(cap - nfe < (uint64_t)S + n_eff * cmax);
                        its_result_free(r);
                        runs++;
                    }
    }
    assert_true(runs > 200);
}

/* The deadline policy paces quotas by the clock; with a distant deadline it is the even share
 * of what is left, and still never passes the cap. */
static void test_deadline_policy(void **state)
{
    fixture *f = *state;
    its_run_params run;
    sde_run(&run, STEPS, 100);
    run.deadline_ms = 1e7;
    mcase c = mk(ITS_METHOD_SVDD, 2, 50, 1, 1, ITS_BUDGET_DEADLINE);
    its_result *r = NULL;
    ITS_ASSERT_OK(gen(f, &c, &run, 3, &r));
    check_budget_result(r, 100, STEPS, 1, 2, 50, ITS_BUDGET_DEADLINE);
    const its_step_usage *st = NULL;
    its_result_steps(r, &st);
    /* even shares of 98 over 7 rounds: 14 each, all spent */
    for (int i = 1; i <= STEPS - 1; i++) {
        assert_int_equal(st[i].quota, 14);
        assert_int_equal(st[i].used, 14);
    }
    its_result_free(r);
}

/* ---------------------------------------------------------------------------------------------
 * schedules
 * ------------------------------------------------------------------------------------------- */
/* decreasing: quota_i = n0 - i d with d = n (one child per particle less per step) when the
 * total pays it; n0 = floor((total - init + d S (S - 1) / 2) / S) (include/itscale/budget.h). */
static void test_decreasing_schedule(void **state)
{
    fixture *f = *state;
    const int S = STEPS - 1;
    const uint64_t n = 2;
    struct {
        uint64_t cap, d;
    } cs[] = {
        {100, 2}, /* 98 NFE: n0 = (98 + 2*21) / 7 = 20, children 10, 9, ..., 4 */
        {200, 2}, /* n0 = (198 + 42) / 7 = 34 */
        {40, 1},  /* 38 NFE: d = 2 gives n0 = 11 and ends at 11 - 12 < n; d = 1 fits */
        {16, 0},  /* 14 NFE: one child per particle every step, d = 0 */
    };
    for (size_t i = 0; i < LEN(cs); i++) {
        its_run_params run;
        sde_run(&run, STEPS, cs[i].cap);
        mcase c = mk(ITS_METHOD_SVDD, (int)n, 1000, 1, 1, ITS_BUDGET_DECREASING);
        its_result *r = NULL;
        ITS_ASSERT_OK(gen(f, &c, &run, 7, &r));
        const its_step_usage *st = NULL;
        size_t ns = its_result_steps(r, &st);
        assert_int_equal(ns, (size_t)STEPS + 1);
        uint64_t avail = cs[i].cap - n, d = cs[i].d;
        uint64_t n0 = (avail + d * (uint64_t)(S * (S - 1) / 2)) / (uint64_t)S;
        uint64_t prev_k = UINT64_MAX;
        for (int k = 0; k < S; k++) {
            const its_step_usage *s = &st[k + 1];
            assert_int_equal(s->step, k + 1);
            assert_int_equal(s->quota, (int64_t)(n0 - (uint64_t)k * d));
            /* children per particle: floor(quota / n), never increasing */
            uint64_t kk = (uint64_t)s->quota / n;
            assert_int_equal(s->used, (int64_t)(kk * n));
            assert_true(kk <= prev_k && kk >= 1);
            if (d == n && k > 0)
                assert_int_equal(kk, prev_k - 1);
            prev_k = kk;
        }
        assert_int_equal(st[STEPS].quota, -1);
        assert_true(nfe_of(r) <= cs[i].cap);
        /* every paid child is scored once; the free last step (to t = 0, verifier rows only)
         * keeps the last paid width */
        its_usage u;
        its_result_usage(r, &u);
        assert_int_equal(u.verifier_rows, (nfe_of(r) - n) + n * prev_k);
        its_result_free(r);
    }
}

/* rollover: quota_{i+1} = quota_i - used_i + Q; with n = 3 not dividing Q = 7 the remainder
 * reaches a later step (7, 8, 9 -> 3 children ...). uniform loses it: every quota is Q. */
static void test_rollover_carries(void **state)
{
    fixture *f = *state;
    const int S = STEPS - 1;
    const uint64_t n = 3, cap = 3 + 7 * (uint64_t)S, Q = 7;
    uint64_t nfe_pol[2];
    for (int pol = 0; pol < 2; pol++) {
        its_run_params run;
        sde_run(&run, STEPS, cap);
        mcase c = mk(ITS_METHOD_SVDD, (int)n, 1000, 1, 1,
                     pol ? ITS_BUDGET_ROLLOVER : ITS_BUDGET_UNIFORM);
        its_result *r = NULL;
        ITS_ASSERT_OK(gen(f, &c, &run, 8, &r));
        const its_step_usage *st = NULL;
        its_result_steps(r, &st);
        int carried = 0;
        for (int k = 0; k < S; k++) {
            const its_step_usage *s = &st[k + 1];
            uint64_t want = pol == 0 || k == 0 ? Q
                                               : (uint64_t)(st[k].quota - st[k].used) + Q;
            assert_int_equal(s->quota, (int64_t)want);
            assert_int_equal(s->used, (int64_t)((uint64_t)s->quota / n * n));
            carried += s->quota > (int64_t)Q;
        }
        assert_int_equal(carried > 0, pol == 1);
        nfe_pol[pol] = nfe_of(r);
        its_result_free(r);
    }
    /* uniform: 2 children of 3 NFE from each quota of 7; rollover spends its carry */
    assert_int_equal(nfe_pol[0], n + 6 * (uint64_t)S);
    assert_true(nfe_pol[1] > nfe_pol[0]);
    assert_true(nfe_pol[1] <= cap);

    /* the child cap binds: kmax = 1 spends 3 of each quota and rolls the rest over, so the
     * quotas grow by Q - 3 per step: quota_i = Q + i (Q - 3) */
    its_run_params run;
    sde_run(&run, STEPS, cap);
    mcase c = mk(ITS_METHOD_SVDD, (int)n, 1, 1, 1, ITS_BUDGET_ROLLOVER);
    its_result *r = NULL;
    ITS_ASSERT_OK(gen(f, &c, &run, 8, &r));
    const its_step_usage *st = NULL;
    its_result_steps(r, &st);
    for (int k = 0; k < S; k++) {
        assert_int_equal(st[k + 1].quota, (int64_t)(Q + (uint64_t)k * (Q - n)));
        assert_int_equal(st[k + 1].used, (int64_t)n);
    }
    its_result_free(r);
}

/* code: one budget step per block, a child costs the block's evaluations. */
static void test_code_blocks(void **state)
{
    fixture *f = *state;
    /* T = 8, L = 3: rounds at 0, 3, 6 cost 3, 3 and 1 per child; n = 2 */
    its_run_params run;
    sde_run(&run, STEPS, 2 + 60);
    mcase c = mk(ITS_METHOD_CODE, 2, 1000, 3, 1, ITS_BUDGET_UNIFORM);
    its_result *r = NULL;
    ITS_ASSERT_OK(gen(f, &c, &run, 9, &r));
    const its_step_usage *st = NULL;
    size_t ns = its_result_steps(r, &st);
    assert_int_equal(ns, 4);
    int want_step[] = {1, 4, 7};
    uint64_t want_used[] = {18, 18, 20}; /* Q = 20: floor(20 / 6) = 3 children, 3; 10 of 2 */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(st[i + 1].step, want_step[i]);
        assert_int_equal(st[i + 1].quota, 20);
        assert_int_equal(st[i + 1].used, (int64_t)want_used[i]);
    }
    assert_int_equal(nfe_of(r), 2 + 18 + 18 + 20);
    its_result_free(r);
}

/* ---------------------------------------------------------------------------------------------
 * determinism and failures
 * ------------------------------------------------------------------------------------------- */
static void test_batch_invariance(void **state)
{
    fixture *f = *state;
    mcase cs[] = {
        mk(ITS_METHOD_SVDD, 3, 6, 1, 1, ITS_BUDGET_ROLLOVER),
        mk(ITS_METHOD_BEAM, 3, 6, 1, 1, ITS_BUDGET_DECREASING),
        mk(ITS_METHOD_CODE, 3, 6, 2, 1, ITS_BUDGET_UNIFORM),
    };
    size_t batches[] = {1, 7, 64};
    for (size_t i = 0; i < LEN(cs); i++) {
        its_run_params run;
        sde_run(&run, STEPS, 131);
        run.top_k = 3;
        its_result *ref = NULL;
        for (size_t b = 0; b < LEN(batches); b++) {
            f->model.max_batch = batches[b];
            its_result *r = NULL;
            ITS_ASSERT_OK(gen(f, &cs[i], &run, 17, &r));
            if (!ref) {
                ref = r;
                continue;
            }
            assert_same_result(ref, r);
            assert_same_steps(ref, r);
            its_result_free(r);
        }
        f->model.max_batch = 0;
        /* another seed gives another sample: the comparison above can fail */
        its_result *o = NULL;
        ITS_ASSERT_OK(gen(f, &cs[i], &run, 18, &o));
        assert_true(memcmp(its_result_sample(ref, 0), its_result_sample(o, 0),
                           DIM * sizeof(float)) != 0);
        its_result_free(o);
        its_result_free(ref);
    }
}

static void test_failures(void **state)
{
    fixture *f = *state;
    its_method ms[] = {ITS_METHOD_BEAM, ITS_METHOD_SVDD, ITS_METHOD_CODE};
    for (size_t i = 0; i < LEN(ms); i++) {
        its_run_params run;
        sde_run(&run, STEPS, 0);
        its_sampler *s = NULL;
        mcase c = mk(ms[i], 2, 4, 2, 1, ITS_BUDGET_ROLLOVER);
        /* budget mode shares run.max_nfe: none set is an error naming it */
        assert_int_equal(its_sampler_create(f->ctx, c.m, &c.p, &run, &s), ITS_ERR_BUDGET);
        assert_null(s);
        assert_non_null(strstr(its_ctx_errmsg(f->ctx), "run.max_nfe"));
        assert_non_null(strstr(its_ctx_errmsg(f->ctx), "budget_children"));
        /* fixed mode needs no cap */
        c = mk(ms[i], 2, 4, 2, 0, ITS_BUDGET_ROLLOVER);
        ITS_ASSERT_OK(its_sampler_create(f->ctx, c.m, &c.p, &run, &s));
        its_sampler_free(s);
        s = NULL;
        /* deadline pacing without a deadline */
        run.max_nfe = 100;
        c = mk(ms[i], 2, 4, 2, 1, ITS_BUDGET_DEADLINE);
        assert_int_equal(its_sampler_create(f->ctx, c.m, &c.p, &run, &s), ITS_ERR_INVALID);
        assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.children_policy"));
        /* out-of-range policy and flag */
        c = mk(ms[i], 2, 4, 2, 1, (its_budget_policy)ITS_BUDGET_POLICY_COUNT_);
        assert_int_equal(its_sampler_create(f->ctx, c.m, &c.p, &run, &s), ITS_ERR_INVALID);
        assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.children_policy"));
        c = mk(ms[i], 2, 4, 2, 2, ITS_BUDGET_ROLLOVER);
        assert_int_equal(its_sampler_create(f->ctx, c.m, &c.p, &run, &s), ITS_ERR_INVALID);
        assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.budget_children"));
        assert_null(s);
    }
    /* code with L = 3 over 8 steps (rounds of 3, 3, 1 NFE per child): a particle needs
     * 1 + 3 x 3 = 10 NFE in budget mode; fixed mode runs on 8 */
    its_run_params run;
    sde_run(&run, STEPS, 9);
    mcase c = mk(ITS_METHOD_CODE, 2, 4, 3, 1, ITS_BUDGET_UNIFORM);
    its_result *r = NULL;
    its_status st = gen(f, &c, &run, 1, &r);
    assert_int_equal(st, ITS_ERR_BUDGET);
    assert_null(r);
    run.max_nfe = 8;
    c = mk(ITS_METHOD_CODE, 2, 4, 3, 0, ITS_BUDGET_UNIFORM);
    ITS_ASSERT_OK(gen(f, &c, &run, 1, &r));
    its_result_free(r);
}

/* JSON: both fields parse, print and round-trip; a bad policy name names the path. */
static void test_json(void **state)
{
    fixture *f = *state;
    const char *js = "{\"sampler\":\"svdd\",\"params\":{\"n\":2,\"children\":9,"
                     "\"budget_children\":true,\"children_policy\":\"decreasing\"},"
                     "\"run\":{\"steps\":8,\"dynamics\":{\"kind\":\"sde\"},"
                     "\"budget\":{\"max_nfe\":120}}}";
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_from_json(f->ctx, js, strlen(js), &s));
    const char *out = its_sampler_to_json(s);
    assert_non_null(out);
    assert_non_null(strstr(out, "budget_children"));
    assert_non_null(strstr(out, "decreasing"));
    its_sampler *s2 = NULL;
    ITS_ASSERT_OK(its_sampler_from_json(f->ctx, out, strlen(out), &s2));
    assert_string_equal(its_sampler_to_json(s2), out);
    its_result *a = NULL, *b = NULL;
    ITS_ASSERT_OK(its_generate(s, &f->model, &f->ver, 4, &a));
    ITS_ASSERT_OK(its_generate(s2, &f->model, &f->ver, 4, &b));
    assert_same_result(a, b);
    assert_same_steps(a, b);
    its_result_free(a);
    its_result_free(b);
    its_sampler_free(s);
    its_sampler_free(s2);

    const char *bad = "{\"sampler\":\"beam\",\"params\":{\"budget_children\":true,"
                      "\"children_policy\":\"greedy\"},\"run\":{\"dynamics\":{\"kind\":\"sde\"},"
                      "\"budget\":{\"max_nfe\":120}}}";
    s = NULL;
    assert_int_equal(its_sampler_from_json(f->ctx, bad, strlen(bad), &s), ITS_ERR_CONFIG);
    assert_null(s);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "children_policy"));
}

/* Every allocation of a budget-mode run fails once: ITS_ERR_NOMEM or the same result, no leak
 * (the allocator's own blocks included). */
static void test_faults(void **state)
{
    fixture *f = *state;
    mcase cs[] = {
        mk(ITS_METHOD_SVDD, 2, 5, 1, 1, ITS_BUDGET_ROLLOVER),
        mk(ITS_METHOD_BEAM, 2, 5, 1, 1, ITS_BUDGET_DECREASING),
        mk(ITS_METHOD_CODE, 2, 5, 2, 1, ITS_BUDGET_UNIFORM),
    };
    for (size_t i = 0; i < LEN(cs); i++) {
        its_run_params run;
        sde_run(&run, STEPS, 90);
        its_result *ref = NULL;
        ITS_ASSERT_OK(gen(f, &cs[i], &run, 2, &ref));
        long sites = 0;
        for (long k = 1;; k++) {
            long live0 = f->alloc.live, fail0 = f->alloc.failures;
            f->alloc.fail_at = f->alloc.calls + k;
            its_result *r = NULL;
            its_status st = gen(f, &cs[i], &run, 2, &r);
            int met = f->alloc.failures > fail0;
            f->alloc.fail_at = 0;
            if (st == ITS_OK)
                assert_same_result(ref, r);
            else
                assert_int_equal(st, ITS_ERR_NOMEM);
            its_result_free(r);
            assert_int_equal(f->alloc.live, live0);
            if (!met)
                break;
            sites++;
        }
        assert_true(sites > 5);
        its_result_free(ref);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test_setup_teardown(test_exact_budget_is_fixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_never_exceeded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadline_policy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decreasing_schedule, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollover_carries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_code_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_invariance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
