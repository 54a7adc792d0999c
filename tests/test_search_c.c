/* Unit tests of the search samplers beam, svdd, code, bfs and fk_smc and of the selection helpers
 * behind them (resampling, softmax allocation, ranking). Exact-equality tests pin the reductions
 * each method promises (K = 1, temp = 0); the rest check budgets, determinism and failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its_test.h"
#include "samplers/selection.h"

#define DIM 3
#define STEPS 8

typedef its_test_fixture fixture;

static int setup(void **state) { return its_test_fixture_setup(state, DIM); }
static int teardown(void **state) { return its_test_fixture_teardown(state); }

static void sde_run(its_run_params *r)
{
    its_run_params_init(r);
    r->steps = STEPS;
    r->dynamics = ITS_DYN_SDE;
    r->g_scale = 1.0;
}

static its_status gen(fixture *f, its_method m, const void *params, const its_run_params *run,
                      uint64_t seed, its_result **out)
{
    its_sampler *s = NULL;
    its_status st = its_sampler_create(f->ctx, m, params, run, &s);
    if (st != ITS_OK)
        return st;
    st = its_generate(s, &f->model, &f->ver, seed, out);
    its_sampler_free(s);
    return st;
}

/* Same samples (bit for bit) and scores, in the same order. */
static void assert_same_result(const its_result *a, const its_result *b)
{
    assert_int_equal(its_result_count(a), its_result_count(b));
    for (size_t i = 0; i < its_result_count(a); i++) {
        assert_memory_equal(its_result_sample(a, i), its_result_sample(b, i),
                            DIM * sizeof(float));
        double sa = its_result_score(a, i), sb = its_result_score(b, i);
        assert_memory_equal(&sa, &sb, sizeof(double));
    }
}

static uint64_t nfe_of(const its_result *r)
{
    its_usage u;
    its_result_usage(r, &u);
    return u.nfe;
}

/* ---------------------------------------------------------------------------------------------
 * selection helpers
 * ------------------------------------------------------------------------------------------- */
static void test_weights_normalize(void **state)
{
    (void)state;
    double lw[3] = {0.0, log(3.0), -INFINITY}, w[3];
    double ess = its_weights_normalize(lw, 3, w);
    ITS_ASSERT_NEAR(w[0], 0.25, 1e-15);
    ITS_ASSERT_NEAR(w[1], 0.75, 1e-15);
    assert_true(w[2] == 0.0);
    ITS_ASSERT_NEAR(ess, 1.0 / (0.25 * 0.25 + 0.75 * 0.75), 1e-12);
    /* shifting every log-weight changes nothing; huge values do not overflow */
    double big[3] = {1000.0, 1000.0 + log(3.0), NAN};
    its_weights_normalize(big, 3, w);
    ITS_ASSERT_NEAR(w[0], 0.25, 1e-12);
    assert_true(w[2] == 0.0);
    double none[2] = {-INFINITY, -INFINITY};
    ess = its_weights_normalize(none, 2, w);
    ITS_ASSERT_NEAR(w[0], 0.5, 0);
    ITS_ASSERT_NEAR(ess, 2.0, 0);
}

static void test_multinomial_inversion(void **state)
{
    (void)state;
    double w[3] = {0.25, 0.5, 0.25}, cdf[3];
    double u[6] = {0.1, 0.25, 0.7, 0.74, 0.76, 0.99};
    size_t counts[3], idx[6];
    its_resample_multinomial(w, 3, u, 6, cdf, counts);
    /* cdf = 0.25, 0.75, 1: u < 0.25 -> 0, [0.25, 0.75) -> 1, above -> 2 */
    assert_int_equal(counts[0], 1);
    assert_int_equal(counts[1], 3);
    assert_int_equal(counts[2], 2);
    assert_int_equal(its_counts_to_index(counts, 3, idx), 6);
    size_t want[6] = {0, 1, 1, 1, 2, 2};
    assert_memory_equal(idx, want, sizeof(want));
    /* a zero-weight row is never drawn, even at its cdf boundary */
    double w0[3] = {0.5, 0.0, 0.5};
    double u0[2] = {0.5, 0.4999999};
    its_resample_multinomial(w0, 3, u0, 2, cdf, counts);
    assert_int_equal(counts[1], 0);
}

static void test_systematic_counts(void **state)
{
    (void)state;
    double w[5] = {0.05, 0.3, 0.0, 0.4, 0.25};
    size_t counts[5];
    for (int j = 0; j < 50; j++) {
        double u0 = (j + 0.5) / 50.0;
        its_resample_systematic(w, 5, u0, 16, counts);
        size_t sum = 0;
        for (int i = 0; i < 5; i++) {
            double share = 16 * w[i];
            /* systematic resampling keeps every count within 1 of its share */
            assert_true((double)counts[i] >= floor(share) && (double)counts[i] <= ceil(share));
            sum += counts[i];
        }
        assert_int_equal(sum, 16);
        assert_int_equal(counts[2], 0);
    }
}

static void test_softmax_alloc(void **state)
{
    (void)state;
    size_t c[4];
    double work[4];
    double r2[2] = {log(2.0), 0.0};
    its_alloc_softmax(r2, 2, 1.0, 3, work, c); /* shares 2, 1 */
    assert_int_equal(c[0], 2);
    assert_int_equal(c[1], 1);
    double r4[4] = {0, 0, 0, 0};
    its_alloc_softmax(r4, 4, 1.0, 2, work, c); /* shares 0.5 each: round gives 4, fix-up to 2 */
    assert_int_equal(c[0] + c[1] + c[2] + c[3], 2);
    assert_int_equal(c[0], 0); /* ties: surplus taken from the lowest index first */
    assert_int_equal(c[1], 0);
    assert_int_equal(c[2], 1);
    assert_int_equal(c[3], 1);
    double r3[3] = {0, 0, 0};
    its_alloc_softmax(r3, 3, 1.0, 5, work, c); /* 5/3 each: 2, 2, 2 -> one removed */
    assert_int_equal(c[0], 1);
    assert_int_equal(c[1], 2);
    assert_int_equal(c[2], 2);
    /* shortfall: shares 1/3 each round to 0; the fix-up hands out N = 1 */
    double r5[4] = {0, 0, 0, -INFINITY};
    its_alloc_softmax(r5, 4, 1.0, 1, work, c);
    assert_int_equal(c[0] + c[1] + c[2], 1);
    assert_int_equal(c[3], 0);
    /* temp = 0: one slot each whatever the scores, -inf included */
    double rz[4] = {-5, 3, -INFINITY, 0};
    its_alloc_softmax(rz, 4, 0.0, 4, work, c);
    for (int i = 0; i < 4; i++)
        assert_int_equal(c[i], 1);
    /* a dominant particle takes every slot */
    double rd[3] = {0, 100, 0};
    its_alloc_softmax(rd, 3, 1.0, 3, work, c);
    assert_int_equal(c[1], 3);
}

static void test_rank_desc(void **state)
{
    (void)state;
    double s[6] = {0.5, NAN, 2.0, -INFINITY, 2.0, 1.0};
    size_t o[6];
    its_rank_desc(s, 6, o);
    size_t want[6] = {2, 4, 5, 0, 3, 1};
    assert_memory_equal(o, want, sizeof(want));
}

/* The ranking against a stable insertion sort written out here, on sets with many ties, NaNs,
 * infinities and signed zeros, of every size up to 300. */
static void test_rank_desc_stable(void **state)
{
    (void)state;
    enum { N = 300 };
    static const double vals[] = {0.0, -0.0, 1.0, -1.0, 2.5, INFINITY, -INFINITY, NAN};
    double s[N] = {0};
    size_t got[N], want[N];
    uint64_t r = 0x9e3779b97f4a7c15u;
    for (size_t n = 0; n <= N; n += (n < 20 ? 1 : 37)) {
        for (size_t i = 0; i < n; i++) {
            r = r * 6364136223846793005u + 1442695040888963407u;
            s[i] = vals[(r >> 33) % (sizeof(vals) / sizeof(vals[0]))];
        }
        its_rank_desc(s, n, got);
        for (size_t i = 0; i < n; i++) {
            size_t v = i, j = i;
            while (j > 0 && (isnan(s[want[j - 1]]) ? !isnan(s[v]) : s[v] > s[want[j - 1]])) {
                want[j] = want[j - 1];
                j--;
            }
            want[j] = v;
        }
        if (n)
            assert_memory_equal(got, want, n * sizeof(size_t));
    }
}

/* ---------------------------------------------------------------------------------------------
 * exact reductions
 * ------------------------------------------------------------------------------------------- */
static void test_svdd_k1_is_sde(void **state)
{
    fixture *f = *state;
    its_run_params run;
    sde_run(&run);
    its_svdd_params sp;
    its_svdd_params_init(&sp);
    sp.children = 1;
    sp.n = 1;
    its_result *a = NULL, *b = NULL;
    ITS_ASSERT_OK(gen(f, ITS_METHOD_SVDD, &sp, &run, 11, &a));
    ITS_ASSERT_OK(gen(f, ITS_METHOD_NONE, NULL, &run, 11, &b));
    assert_same_result(a, b);
    assert_int_equal(nfe_of(a), STEPS);
    its_result_free(a);
    its_result_free(b);

    sp.n = 3;
    run.top_k = 3;
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    bp.n = 3;
    ITS_ASSERT_OK(gen(f, ITS_METHOD_SVDD, &sp, &run, 12, &a));
    ITS_ASSERT_OK(gen(f, ITS_METHOD_BEST_OF_N, &bp, &run, 12, &b));
    assert_int_equal(its_result_count(a), 3);
    assert_same_result(a, b);
    assert_int_equal(nfe_of(a), nfe_of(b));
    its_result_free(a);
    its_result_free(b);

    /* code with K = 1 is the same whatever the block */
    its_code_params cp;
    its_code_params_init(&cp);
    cp.n = 3;
    cp.children = 1;
    cp.block = 3;
    ITS_ASSERT_OK(gen(f, ITS_METHOD_CODE, &cp, &run, 12, &a));
    ITS_ASSERT_OK(gen(f, ITS_METHOD_BEST_OF_N, &bp, &run, 12, &b));
    assert_same_result(a, b);
    its_result_free(a);
    its_result_free(b);
}

static void test_beam_k1_is_sde(void **state)
{
    fixture *f = *state;
    its_run_params run;
    sde_run(&run);
    run.top_k = 4;
    its_beam_params p;
    its_beam_params_init(&p);
    p.beams = 4;
    p.children = 1;
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    bp.n = 4;
    its_result *a = NULL, *b = NULL;
    ITS_ASSERT_OK(gen(f, ITS_METHOD_BEAM, &p, &run, 21, &a));
    ITS_ASSERT_OK(gen(f, ITS_METHOD_BEST_OF_N, &bp, &run, 21, &b));
    assert_int_equal(its_result_count(a), 4);
    assert_same_result(a, b);
    assert_int_equal(nfe_of(a), 4 * STEPS);
    its_result_free(a);
    its_result_free(b);
}

static void test_bfs_temp0_is_best_of_n(void **state)
{
    fixture *f = *state;
    for (int dyn = 0; dyn < 2; dyn++) {
        its_run_params run;
        sde_run(&run);
        run.dynamics = dyn ? ITS_DYN_SDE : ITS_DYN_ODE;
        run.solver = dyn ? ITS_SOLVER_EULER : ITS_SOLVER_HEUN;
        run.top_k = 6;
        for (int mode = 0; mode < 2; mode++) {
            its_bfs_params p;
            its_bfs_params_init(&p);
            p.n = 6;
            p.temp = 0.0;
            p.mode = (its_bfs_mode)mode;
            its_best_of_n_params bp;
            its_best_of_n_params_init(&bp);
            bp.n = 6;
            its_result *a = NULL, *b = NULL;
            ITS_ASSERT_OK(gen(f, ITS_METHOD_BFS, &p, &run, 31, &a));
            ITS_ASSERT_OK(gen(f, ITS_METHOD_BEST_OF_N, &bp, &run, 31, &b));
            assert_same_result(a, b);
            assert_int_equal(nfe_of(a), nfe_of(b));
            its_result_free(a);
            its_result_free(b);
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * determinism, budgets, records
 * ------------------------------------------------------------------------------------------- */
typedef struct method_case {
    its_method m;
    union {
        its_beam_params beam;
        its_svdd_params svdd;
        its_code_params code;
        its_bfs_params bfs;
        its_fk_smc_params fk;
    } p;
} method_case;

static size_t all_cases(method_case *c)
{
    memset(c, 0, 6 * sizeof(*c));
    c[0].m = ITS_METHOD_BEAM;
    its_beam_params_init(&c[0].p.beam);
    c[0].p.beam.beams = 3;
    c[0].p.beam.children = 3;
    c[1].m = ITS_METHOD_SVDD;
    its_svdd_params_init(&c[1].p.svdd);
    c[1].p.svdd.n = 3;
    c[1].p.svdd.children = 4;
    c[2].m = ITS_METHOD_CODE;
    its_code_params_init(&c[2].p.code);
    c[2].p.code.n = 3;
    c[2].p.code.children = 4;
    c[2].p.code.block = 3;
    c[3].m = ITS_METHOD_BFS;
    its_bfs_params_init(&c[3].p.bfs);
    c[3].p.bfs.n = 10;
    c[3].p.bfs.temp = 2.0;
    c[4].m = ITS_METHOD_BFS;
    its_bfs_params_init(&c[4].p.bfs);
    c[4].p.bfs.n = 10;
    c[4].p.bfs.temp = 2.0;
    c[4].p.bfs.mode = ITS_BFS_PRUNE;
    c[5].m = ITS_METHOD_FK_SMC;
    its_fk_smc_params_init(&c[5].p.fk);
    c[5].p.fk.n = 10;
    c[5].p.fk.lambda = 2.0;
    return 6;
}

static void test_max_batch_determinism(void **state)
{
    fixture *f = *state;
    method_case c[6];
    size_t nc = all_cases(c);
    its_potential pots[4] = {ITS_POT_MAX, ITS_POT_ADD, ITS_POT_DIFF, ITS_POT_RT};
    for (size_t i = 0; i < nc + 6; i++) {
        method_case mc = c[i < nc ? i : nc - 1];
        if (i >= nc && i < nc + 4) { /* every potential, systematic resampling, adaptive ESS */
            mc.p.fk.potential = pots[i - nc];
            mc.p.fk.resampler = (i - nc) % 2 ? ITS_RESAMPLE_SYSTEMATIC : ITS_RESAMPLE_MULTINOMIAL;
            mc.p.fk.ess = 0.7;
        } else if (i == nc + 4) { /* the local-search move inside fk_smc and bfs */
            mc.p.fk.local_search = 1;
        } else if (i == nc + 5) {
            mc = c[3];
            mc.p.bfs.local_search = 1;
        }
        its_run_params run;
        sde_run(&run);
        run.top_k = 3;
        its_result *ref = NULL;
        size_t batches[3] = {1, 7, 64};
        for (int b = 0; b < 3; b++) {
            f->model.max_batch = batches[b];
            f->ver.max_batch = batches[2 - b];
            its_result *r = NULL;
            ITS_ASSERT_OK(gen(f, mc.m, &mc.p, &run, 77, &r));
            assert_true(its_result_count(r) >= 1);
            if (!ref) {
                ref = r;
                continue;
            }
            assert_same_result(ref, r);
            assert_int_equal(nfe_of(ref), nfe_of(r));
            its_result_free(r);
        }
        f->model.max_batch = 0;
        f->ver.max_batch = 0;
        /* a different seed gives different samples */
        its_result *o = NULL;
        ITS_ASSERT_OK(gen(f, mc.m, &mc.p, &run, 78, &o));
        assert_true(memcmp(its_result_sample(ref, 0), its_result_sample(o, 0), DIM * 4) != 0);
        its_result_free(o);
        its_result_free(ref);
    }
}

static void test_budget(void **state)
{
    fixture *f = *state;
    method_case c[6];
    size_t nc = all_cases(c);
    for (size_t i = 0; i < nc; i++) {
        its_run_params run;
        sde_run(&run);
        its_result *r = NULL;
        /* below one trajectory: an error that says so */
        run.max_nfe = STEPS - 1;
        assert_int_equal(gen(f, c[i].m, &c[i].p, &run, 3, &r), ITS_ERR_BUDGET);
        assert_null(r);
        assert_non_null(strstr(its_ctx_errmsg(f->ctx), "max_nfe"));
        /* exactly one trajectory: runs, within the cap, to completion */
        run.max_nfe = STEPS;
        ITS_ASSERT_OK(gen(f, c[i].m, &c[i].p, &run, 3, &r));
        assert_true(nfe_of(r) <= STEPS);
        assert_int_equal(its_result_stop(r), ITS_STOP_COMPLETED);
        its_result_free(r);
        /* a cap between shrinks the search and completes within it */
        run.max_nfe = 45;
        ITS_ASSERT_OK(gen(f, c[i].m, &c[i].p, &run, 3, &r));
        assert_true(nfe_of(r) <= 45);
        assert_true(nfe_of(r) >= STEPS);
        assert_int_equal(its_result_stop(r), ITS_STOP_COMPLETED);
        its_result_free(r);
    }
    /* the documented shrink rules: beam 3x3 costs 3 (1 + 3 * 7) = 66; a cap of 45 keeps 2
     * beams (44 NFE); a cap of 20 keeps one beam with (20 - 1) / 7 = 2 children (15 NFE) */
    its_run_params run;
    sde_run(&run);
    its_result *r = NULL;
    run.max_nfe = 45;
    ITS_ASSERT_OK(gen(f, c[0].m, &c[0].p, &run, 3, &r));
    assert_int_equal(nfe_of(r), 44);
    its_result_free(r);
    run.max_nfe = 20;
    ITS_ASSERT_OK(gen(f, c[0].m, &c[0].p, &run, 3, &r));
    assert_int_equal(nfe_of(r), 15);
    its_result_free(r);
    /* bfs and fk_smc: as many whole particles as the cap pays for (20 / 8 = 2, 45 / 8 = 5) */
    ITS_ASSERT_OK(gen(f, c[3].m, &c[3].p, &run, 3, &r));
    assert_int_equal(nfe_of(r), 16);
    its_result_free(r);
    run.max_nfe = 45;
    ITS_ASSERT_OK(gen(f, c[5].m, &c[5].p, &run, 3, &r));
    assert_int_equal(nfe_of(r), 40);
    its_result_free(r);
    /* full cost without a cap: svdd 3 (1 + 4 * 7) = 87, code the same */
    run.max_nfe = 0;
    ITS_ASSERT_OK(gen(f, c[1].m, &c[1].p, &run, 3, &r));
    assert_int_equal(nfe_of(r), 87);
    its_result_free(r);
    ITS_ASSERT_OK(gen(f, c[2].m, &c[2].p, &run, 3, &r));
    assert_int_equal(nfe_of(r), 87);
    its_result_free(r);
}

static void test_step_records_and_prune(void **state)
{
    fixture *f = *state;
    method_case c[6];
    size_t nc = all_cases(c);
    for (size_t i = 0; i < nc; i++) {
        its_run_params run;
        sde_run(&run);
        its_result *r = NULL;
        ITS_ASSERT_OK(gen(f, c[i].m, &c[i].p, &run, 9, &r));
        const its_step_usage *st = NULL;
        size_t n = its_result_steps(r, &st);
        int64_t sum = 0;
        for (size_t k = 0; k < n; k++)
            sum += st[k].used;
        assert_true(n >= 1);
        assert_int_equal((uint64_t)sum, nfe_of(r));
        if (c[i].m == ITS_METHOD_BFS || c[i].m == ITS_METHOD_FK_SMC || c[i].m == ITS_METHOD_BEAM)
            assert_int_equal(n, STEPS);
        if (c[i].m == ITS_METHOD_CODE)
            assert_int_equal(n, (STEPS + 2) / 3);
        if (c[i].m == ITS_METHOD_BFS && c[i].p.bfs.mode == ITS_BFS_PRUNE) {
            /* a sharp allocation drops particles: fewer than n T rows, never fewer than T */
            assert_true(nfe_of(r) < 10 * STEPS);
            assert_true(nfe_of(r) >= STEPS);
        }
        if (c[i].m == ITS_METHOD_BFS && c[i].p.bfs.mode == ITS_BFS_RESAMPLE)
            assert_int_equal(nfe_of(r), 10 * STEPS);
        its_result_free(r);
    }
}

/* ---------------------------------------------------------------------------------------------
 * failures
 * ------------------------------------------------------------------------------------------- */
typedef struct faulty {
    its_model inner;
    its_verifier vinner;
    long calls, fail_call;
    long vcalls, nan_call;
} faulty;

static int faulty_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    faulty *q = user;
    if (q->calls++ == q->fail_call)
        return 7;
    return q->inner.eval(q->inner.user, x, t, n, out);
}

static int faulty_score(void *user, const float *x0, size_t n, float *scores)
{
    faulty *q = user;
    int rc = q->vinner.score(q->vinner.user, x0, n, scores);
    if (q->vcalls++ == q->nan_call)
        scores[n - 1] = NAN;
    return rc;
}

static void test_failures(void **state)
{
    fixture *f = *state;
    method_case c[6];
    size_t nc = all_cases(c);
    for (size_t i = 0; i < nc; i++) {
        its_run_params run;
        sde_run(&run);
        its_sampler *s = NULL;
        ITS_ASSERT_OK(its_sampler_create(f->ctx, c[i].m, &c[i].p, &run, &s));
        faulty q = {.inner = f->model, .vinner = f->ver, .fail_call = 3, .nan_call = -1};
        its_model m = f->model;
        m.eval = faulty_eval;
        m.user = &q;
        its_verifier v = f->ver;
        v.score = faulty_score;
        v.user = &q;
        its_result *r = NULL;
        assert_int_equal(its_generate(s, &m, &v, 1, &r), ITS_ERR_CALLBACK);
        assert_null(r);
        assert_non_null(strstr(its_ctx_errmsg(f->ctx), "model eval callback returned 7"));
        q.calls = 0;
        q.vcalls = 0;
        q.fail_call = -1;
        q.nan_call = 2;
        its_status st = its_generate(s, &m, &v, 1, &r);
        if (st != ITS_ERR_NUMERIC)
            fail_msg("case %zu: NaN score gave %s", i, its_status_str(st));
        assert_null(r);
        assert_non_null(strstr(its_ctx_errmsg(f->ctx), "NaN"));
        its_sampler_free(s);
    }
    /* local_search = 1 without a verifier gradient */
    its_run_params run;
    sde_run(&run);
    its_verifier nograd = f->ver;
    nograd.grad = NULL;
    its_bfs_params bp;
    its_bfs_params_init(&bp);
    bp.local_search = 1;
    its_fk_smc_params fp;
    its_fk_smc_params_init(&fp);
    fp.local_search = 1;
    const void *ps[2] = {&bp, &fp};
    its_method ms[2] = {ITS_METHOD_BFS, ITS_METHOD_FK_SMC};
    for (int i = 0; i < 2; i++) {
        its_sampler *s = NULL;
        ITS_ASSERT_OK(its_sampler_create(f->ctx, ms[i], ps[i], &run, &s));
        its_result *r = NULL;
        assert_int_equal(its_generate(s, &f->model, &nograd, 1, &r), ITS_ERR_UNSUPPORTED);
        assert_null(r);
        assert_non_null(strstr(its_ctx_errmsg(f->ctx), "grad"));
        /* with the gradient it runs, and spends gradient rows */
        ITS_ASSERT_OK(its_generate(s, &f->model, &f->ver, 1, &r));
        its_usage u;
        its_result_usage(r, &u);
        assert_true(u.grad_rows > 0);
        its_result_free(r);
        its_sampler_free(s);
    }
}

static void test_alloc_failures(void **state)
{
    fixture *f = *state;
    method_case c[6];
    size_t nc = all_cases(c);
    for (size_t i = 0; i < nc; i++) {
        its_run_params run;
        sde_run(&run);
        its_sampler *s = NULL;
        ITS_ASSERT_OK(its_sampler_create(f->ctx, c[i].m, &c[i].p, &run, &s));
        long base = f->alloc.calls;
        its_result *r = NULL;
        ITS_ASSERT_OK(its_generate(s, &f->model, &f->ver, 1, &r));
        long need = f->alloc.calls - base;
        its_result_free(r);
        for (long k = 1; k <= need; k++) {
            f->alloc.fail_at = f->alloc.calls + k;
            its_status st = its_generate(s, &f->model, &f->ver, 1, &r);
            f->alloc.fail_at = 0;
            assert_int_equal(st, ITS_ERR_NOMEM);
            assert_null(r);
        }
        its_sampler_free(s);
    }
}

static void test_params(void **state)
{
    fixture *f = *state;
    its_run_params run;
    sde_run(&run);
    its_sampler *s = NULL;
    /* defaults as documented */
    its_beam_params b;
    its_beam_params_init(&b);
    assert_int_equal(b.beams, 2);
    assert_int_equal(b.children, 4);
    its_svdd_params sv;
    its_svdd_params_init(&sv);
    assert_int_equal(sv.n, 2);
    assert_int_equal(sv.children, 25);
    its_code_params cd;
    its_code_params_init(&cd);
    assert_int_equal(cd.block, 2);
    its_fk_smc_params fk;
    its_fk_smc_params_init(&fk);
    assert_int_equal(fk.n, 8);
    ITS_ASSERT_NEAR(fk.lambda, 10.0, 0);
    assert_int_equal(fk.potential, ITS_POT_DIFF);
    ITS_ASSERT_NEAR(fk.ess, 0.5, 0);
    its_bfs_params bf;
    its_bfs_params_init(&bf);
    assert_int_equal(bf.n, 8);
    assert_int_equal(bf.mode, ITS_BFS_RESAMPLE);

    b.children = 0;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_BEAM, &b, &run, &s), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.children"));
    its_beam_params_init(&b);
    run.dynamics = ITS_DYN_ODE;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_BEAM, &b, &run, &s), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "run.dynamics"));
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_SVDD, NULL, &run, &s), ITS_ERR_INVALID);
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_FK_SMC, NULL, &run, &s),
                     ITS_ERR_INVALID);
    ITS_ASSERT_OK(its_sampler_create(f->ctx, ITS_METHOD_BFS, NULL, &run, &s)); /* ODE is fine */
    its_sampler_free(s);
    sde_run(&run);
    fk.t_end = 0.6;
    fk.t_start = 0.4;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_FK_SMC, &fk, &run, &s),
                     ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.t_end"));
    its_fk_smc_params_init(&fk);
    fk.ess = 1.5;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_FK_SMC, &fk, &run, &s),
                     ITS_ERR_INVALID);
    fk.ess = 0.5;
    fk.potential = ITS_POT_COUNT_;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_FK_SMC, &fk, &run, &s),
                     ITS_ERR_INVALID);
    cd.block = STEPS + 1;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_CODE, &cd, &run, &s), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.block"));
    bf.start = STEPS;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_BFS, &bf, &run, &s), ITS_ERR_INVALID);
    bf.start = 0;
    bf.temp = -1;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_BFS, &bf, &run, &s), ITS_ERR_INVALID);
    /* a verifier is required */
    ITS_ASSERT_OK(its_sampler_create(f->ctx, ITS_METHOD_BEAM, NULL, &run, &s));
    its_result *r = NULL;
    assert_int_equal(its_generate(s, &f->model, NULL, 1, &r), ITS_ERR_INVALID);
    its_sampler_free(s);
}

/* fk_smc with a resampling window that holds no grid time only applies the final correction;
 * with lambda = 0 every weight is equal and the output is a resampled set of plain SDE samples,
 * so top_k = n returns n samples. */
static void test_fk_window_and_topk(void **state)
{
    fixture *f = *state;
    its_run_params run;
    sde_run(&run);
    run.top_k = 10;
    its_fk_smc_params p;
    its_fk_smc_params_init(&p);
    p.n = 10;
    p.t_start = 0.05;
    p.t_end = 0.01; /* grid 1, 0.875, ..., 0.125, 0: nothing inside */
    its_result *r = NULL;
    ITS_ASSERT_OK(gen(f, ITS_METHOD_FK_SMC, &p, &run, 4, &r));
    its_usage u;
    its_result_usage(r, &u);
    assert_int_equal(u.verifier_rows, 10); /* the final scores only */
    assert_int_equal(its_result_count(r), 10);
    for (size_t i = 1; i < 10; i++)
        assert_true(its_result_score(r, i - 1) >= its_result_score(r, i));
    its_result_free(r);
    its_fk_smc_params_init(&p);
    p.n = 10;
    ITS_ASSERT_OK(gen(f, ITS_METHOD_FK_SMC, &p, &run, 4, &r));
    its_result_usage(r, &u);
    assert_int_equal(u.verifier_rows, 10 * (STEPS + 1));
    its_result_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights_normalize),
        cmocka_unit_test(test_multinomial_inversion),
        cmocka_unit_test(test_systematic_counts),
        cmocka_unit_test(test_softmax_alloc),
        cmocka_unit_test(test_rank_desc),
        cmocka_unit_test(test_rank_desc_stable),
        cmocka_unit_test_setup_teardown(test_svdd_k1_is_sde, setup, teardown),
        cmocka_unit_test_setup_teardown(test_beam_k1_is_sde, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bfs_temp0_is_best_of_n, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_batch_determinism, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_step_records_and_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_failures, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fk_window_and_topk, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
