/* Unit tests of the search samplers zero_order, search_over_paths, dfs and local_search (and the
 * shared local-search move), on the analytic mixture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its_test.h"

#define DIM 2
#define REC_CAP 4096
#define ITS_ARRAY_LEN_T(a) (sizeof(a) / sizeof((a)[0]))

/* A model wrapper that counts rows, records every evaluation time, keeps the inputs evaluated
 * at t = t_max, and can fail a chosen call. */
typedef struct {
    its_model inner;
    long calls, rows;
    long fail_call; /* 0-based call that returns an error; -1 = never */
    double tmin, tmax;
    float times[REC_CAP];
    size_t n_times;
    float x1[REC_CAP * DIM]; /* inputs at t == 1, in call order */
    size_t n_x1;
} wrap_model;

static int wrap_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    wrap_model *w = user;
    long call = w->calls++;
    if (call == w->fail_call)
        return 7;
    for (size_t i = 0; i < n; i++) {
        if (t[i] < w->tmin)
            w->tmin = t[i];
        if (t[i] > w->tmax)
            w->tmax = t[i];
        if (w->n_times < REC_CAP)
            w->times[w->n_times++] = t[i];
        if (t[i] == 1.0f && w->n_x1 < REC_CAP) {
            memcpy(w->x1 + w->n_x1 * DIM, x + i * DIM, DIM * sizeof(float));
            w->n_x1++;
        }
    }
    w->rows += (long)n;
    return w->inner.eval(w->inner.user, x, t, n, out);
}

static void wrap_init(wrap_model *w, const its_model *inner, its_model *m)
{
    memset(w, 0, sizeof(*w));
    w->inner = *inner;
    w->fail_call = -1;
    w->tmin = INFINITY;
    w->tmax = -INFINITY;
    *m = *inner;
    m->eval = wrap_eval;
    m->user = w;
}

/* A verifier wrapper: NaN on a chosen call, or a scripted score (+1, or -1 on listed calls). */
typedef struct {
    its_verifier inner;
    long calls;
    long nan_call;       /* -1 = never */
    int scripted;        /* 1: scores are +1 except -1 on the calls in low[] */
    long low[8];
    size_t n_low;
} wrap_ver;

static int wrap_score(void *user, const float *x0, size_t n, float *s)
{
    wrap_ver *w = user;
    long call = w->calls++;
    if (w->scripted) {
        float v = 1.0f;
        for (size_t i = 0; i < w->n_low; i++)
            if (w->low[i] == call)
                v = -1.0f;
        for (size_t i = 0; i < n; i++)
            s[i] = v;
    } else {
        int rc = w->inner.score(w->inner.user, x0, n, s);
        if (rc)
            return rc;
    }
    if (call == w->nan_call)
        s[0] = NAN;
    return 0;
}

static int wrap_grad(void *user, const float *x0, size_t n, float *g, float *s)
{
    wrap_ver *w = user;
    long call = w->calls++;
    int rc = w->inner.grad(w->inner.user, x0, n, g, s);
    if (call == w->nan_call)
        s[0] = NAN;
    return rc;
}

static void wrapv_init(wrap_ver *w, const its_verifier *inner, its_verifier *v, int with_grad)
{
    memset(w, 0, sizeof(*w));
    w->inner = *inner;
    w->nan_call = -1;
    *v = *inner;
    v->score = wrap_score;
    v->grad = with_grad ? wrap_grad : NULL;
    v->user = w;
}

typedef struct {
    its_ctx *ctx;
    its_gmm *g;
    its_model m;
    its_verifier v;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->ctx = its_test_ctx(NULL);
    f->g = its_test_gmm2(f->ctx, DIM, 1.0, 0.5, 0.1);
    its_interp ip;
    its_interp_init(&ip, ITS_INTERP_LINEAR);
    its_gmm_bind_model(f->g, &ip, ITS_PRED_VELOCITY, &f->m);
    its_gmm_bind_logprob(f->g, 1, &f->v);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    its_gmm_free(f->g);
    its_ctx_free(f->ctx);
    free(f);
    return 0;
}

static its_run_params run_of(int steps, uint64_t max_nfe)
{
    its_run_params r;
    its_run_params_init(&r);
    r.steps = steps;
    r.max_nfe = max_nfe;
    return r;
}

static its_status gen(its_ctx *ctx, its_method meth, const void *params, const its_run_params *run,
                      const its_model *m, const its_verifier *v, uint64_t seed, its_result **out)
{
    its_sampler *s = NULL;
    its_status st = its_sampler_create(ctx, meth, params, run, &s);
    if (st != ITS_OK)
        return st;
    st = its_generate(s, m, v, seed, out);
    its_sampler_free(s);
    return st;
}

static uint64_t nfe_of(const its_result *r)
{
    its_usage u;
    its_result_usage(r, &u);
    return u.nfe;
}

static void assert_same_results(const its_result *a, const its_result *b)
{
    assert_int_equal(its_result_count(a), its_result_count(b));
    assert_int_equal(nfe_of(a), nfe_of(b));
    for (size_t i = 0; i < its_result_count(a); i++) {
        assert_memory_equal(its_result_sample(a, i), its_result_sample(b, i), DIM * sizeof(float));
        double sa = its_result_score(a, i), sb = its_result_score(b, i);
        assert_true(sa == sb || (isnan(sa) && isnan(sb)));
    }
}

/* ---------------------------------------------------------------------------------------------
 * parameters
 * ------------------------------------------------------------------------------------------- */
static void test_params(void **state)
{
    fixture *f = *state;
    its_zero_order_params zo;
    its_zero_order_params_init(&zo);
    assert_int_equal(zo.neighbors, 4);
    ITS_ASSERT_NEAR(zo.tau, 0.95, 0);
    assert_int_equal(zo.rounds, 0);
    assert_int_equal(zo.on_stall, ITS_STALL_KEEP);
    its_search_over_paths_params sp;
    its_search_over_paths_params_init(&sp);
    assert_int_equal(sp.n, 2);
    assert_int_equal(sp.m, 5);
    ITS_ASSERT_NEAR(sp.t_start, 0.12, 0);
    ITS_ASSERT_NEAR(sp.delta_f, 0.78, 0);
    ITS_ASSERT_NEAR(sp.delta_b, 0.81, 0);
    its_dfs_params dp;
    its_dfs_params_init(&dp);
    ITS_ASSERT_NEAR(dp.threshold, 0, 0);
    assert_int_equal(dp.depth, 2);
    assert_int_equal(dp.backtracks, 4);
    its_local_search_params lp;
    its_local_search_params_init(&lp);
    ITS_ASSERT_NEAR(lp.rho, 0.1, 0);
    ITS_ASSERT_NEAR(lp.mu, 0, 0);
    assert_int_equal(lp.recur, 2);
    assert_int_equal(lp.schedule, ITS_LS_SIGMA);
    assert_int_equal(lp.n, 1);

    its_run_params run = run_of(10, 500);
    its_method ms[] = {ITS_METHOD_ZERO_ORDER, ITS_METHOD_SEARCH_OVER_PATHS, ITS_METHOD_DFS,
                       ITS_METHOD_LOCAL_SEARCH};
    for (size_t i = 0; i < 4; i++) {
        its_sampler *s = NULL;
        ITS_ASSERT_OK(its_sampler_create(f->ctx, ms[i], NULL, &run, &s));
        assert_int_equal(its_sampler_method(s), ms[i]);
        its_sampler_free(s);
    }
    its_sampler *s = NULL;
    /* range and cross-field errors name the field */
    zo.tau = 1.5;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_ZERO_ORDER, &zo, &run, &s),
                     ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.tau"));
    zo.tau = 0.9;
    zo.on_stall = (its_stall)5;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_ZERO_ORDER, &zo, &run, &s),
                     ITS_ERR_INVALID);
    zo.on_stall = ITS_STALL_RESTART;
    its_run_params nocap = run_of(10, 0);
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_ZERO_ORDER, &zo, &nocap, &s),
                     ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.rounds"));
    sp.delta_b = 0.78;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_SEARCH_OVER_PATHS, &sp, &run, &s),
                     ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.delta_b"));
    sp.delta_b = 0.81;
    sp.t_start = 1.0;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_SEARCH_OVER_PATHS, &sp, &run, &s),
                     ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.t_start"));
    dp.depth = 0;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_DFS, &dp, &run, &s), ITS_ERR_INVALID);
    lp.recur = 0;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_LOCAL_SEARCH, &lp, &run, &s),
                     ITS_ERR_INVALID);
    lp.recur = 101;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_LOCAL_SEARCH, &lp, &run, &s),
                     ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.recur"));
    assert_null(s);
}

/* ---------------------------------------------------------------------------------------------
 * dfs
 * ------------------------------------------------------------------------------------------- */
static void test_dfs_no_backtracks_is_none(void **state)
{
    fixture *f = *state;
    its_dfs_params dp;
    its_dfs_params_init(&dp);
    dp.backtracks = 0;
    dp.threshold = 1e9; /* every step would backtrack if it could */
    for (int sde = 0; sde < 2; sde++) {
        its_run_params run = run_of(12, 0);
        run.dynamics = sde ? ITS_DYN_SDE : ITS_DYN_ODE;
        for (uint64_t seed = 1; seed <= 3; seed++) {
            its_result *a = NULL, *b = NULL;
            ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_NONE, NULL, &run, &f->m, &f->v, seed, &a));
            ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_DFS, &dp, &run, &f->m, &f->v, seed, &b));
            assert_same_results(a, b);
            its_result_free(a);
            its_result_free(b);
        }
    }
}

/* A scripted verifier fails chosen look-ahead calls; the evaluation times must retrace the
 * backtracks exactly and every redone step must be charged. */
static void test_dfs_backtrack_trace(void **state)
{
    fixture *f = *state;
    const int T = 10;
    its_run_params run = run_of(T, 0);
    its_dfs_params dp;
    its_dfs_params_init(&dp);
    dp.threshold = 0.5; /* +1 passes, -1 fails at every t */
    dp.depth = 2;
    struct {
        int backtracks;
        long low[3];
        size_t n_low;
        int expect_k[32];
        size_t n_expect;
    } cases[] = {
        /* call 5 is step 5: back to 3, redo 3, 4, 5 */
        {4, {5}, 1, {0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7, 8, 9}, 13},
        /* step 1 fails: back to 0 with fresh noise */
        {4, {1}, 1, {0, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 12},
        /* step 0 never backtracks; step 5 fails twice, the second time with none left */
        {1, {0, 5, 8}, 3, {0, 1, 2, 3, 4, 5, 3, 4, 5, 6, 7, 8, 9}, 13},
    };
    double grid[64];
    for (int k = 0; k <= T; k++)
        grid[k] = 1.0 - (double)k / T;
    for (size_t c = 0; c < ITS_ARRAY_LEN_T(cases); c++) {
        wrap_model wm;
        its_model m;
        wrap_init(&wm, &f->m, &m);
        wrap_ver wv;
        its_verifier v;
        wrapv_init(&wv, &f->v, &v, 0);
        wv.scripted = 1;
        memcpy(wv.low, cases[c].low, sizeof(cases[c].low));
        wv.n_low = cases[c].n_low;
        dp.backtracks = cases[c].backtracks;
        its_result *r = NULL;
        ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_DFS, &dp, &run, &m, &v, 3, &r));
        assert_int_equal(nfe_of(r), cases[c].n_expect);
        assert_int_equal(wm.rows, (long)nfe_of(r));
        assert_int_equal(wm.n_times, cases[c].n_expect);
        for (size_t i = 0; i < cases[c].n_expect; i++)
            ITS_ASSERT_NEAR(wm.times[i], (float)grid[cases[c].expect_k[i]], 0);
        assert_true(wm.tmin >= 0);
        /* per-step records add up to the NFE */
        const its_step_usage *st;
        size_t ns = its_result_steps(r, &st);
        assert_int_equal(ns, T);
        int64_t sum = 0;
        for (size_t i = 0; i < ns; i++)
            sum += st[i].used;
        assert_int_equal(sum, (int64_t)nfe_of(r));
        its_result_free(r);
    }
}

/* The look-ahead pool: a backtrack changes the sample (a new lineage), and -1 scores at every
 * call with backtracks exhausted keep the best seen state. */
static void test_dfs_changes_path(void **state)
{
    fixture *f = *state;
    its_run_params run = run_of(10, 0);
    its_dfs_params dp;
    its_dfs_params_init(&dp);
    dp.threshold = 0.5;
    wrap_ver wv;
    its_verifier v;
    wrapv_init(&wv, &f->v, &v, 0);
    wv.scripted = 1;
    wv.low[0] = 4;
    wv.n_low = 1;
    its_result *a = NULL, *b = NULL;
    ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_NONE, NULL, &run, &f->m, &f->v, 5, &a));
    ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_DFS, &dp, &run, &f->m, &v, 5, &b));
    assert_memory_not_equal(its_result_sample(a, 0), its_result_sample(b, 0), DIM * sizeof(float));
    its_result_free(a);
    its_result_free(b);
}

/* ---------------------------------------------------------------------------------------------
 * search over paths
 * ------------------------------------------------------------------------------------------- */
static void test_sop_nfe_and_times(void **state)
{
    fixture *f = *state;
    /* defaults, 20 steps (h = 0.05): 1 -> 0.12 is 17 grid steps + 1 = 18 NFE per path; then
     * 0.12 -> 0.90 -> 0.09 -> 0.87 -> 0.06 -> 0.84 -> 0.03 -> 0.81 -> 0: each leg of 0.81 is 17
     * sub-steps, +1 evaluation for x0_hat while s > 0: 18 + 18 + 18 + 17 = 71 per candidate.
     * 2 * 18 + 10 * 71 = 746. */
    struct {
        int steps, n, m;
        double ts, df, db;
        uint64_t nfe;
        double tf_max;
        size_t init_rows; /* evaluations of the initial leg */
    } cases[] = {
        {20, 2, 5, 0.12, 0.78, 0.81, 746, 0.90, 36},
        /* general case, 10 steps (h = 0.1): 1 -> 0.35 is 6 + 1 = 7 per path; 0.35 -> 0.65 ->
         * 0.15 is 5 sub-steps + 1; 0.15 -> 0.45 -> 0 (clipped) is ceil(4.5) = 5. 2*7 + 6*11 = 80 */
        {10, 2, 3, 0.35, 0.30, 0.50, 80, 0.65, 14},
        /* forward re-noising clipped at t_max: 0.5 -> 1 -> 0.1 -> 0.6 -> 0 */
        {10, 1, 2, 0.5, 0.5, 0.9, 0, 1.0, 5},
    };
    for (size_t c = 0; c < ITS_ARRAY_LEN_T(cases); c++) {
        its_search_over_paths_params sp;
        its_search_over_paths_params_init(&sp);
        sp.n = cases[c].n;
        sp.m = cases[c].m;
        sp.t_start = cases[c].ts;
        sp.delta_f = cases[c].df;
        sp.delta_b = cases[c].db;
        its_run_params run = run_of(cases[c].steps, 0);
        wrap_model wm;
        its_model m;
        wrap_init(&wm, &f->m, &m);
        its_result *r = NULL;
        ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_SEARCH_OVER_PATHS, &sp, &run, &m, &f->v, 11, &r));
        if (cases[c].nfe)
            assert_int_equal(nfe_of(r), cases[c].nfe);
        assert_int_equal(wm.rows, (long)nfe_of(r));
        assert_true(wm.tmin > 0); /* the last leg ends at 0 without evaluating there */
        assert_true(wm.tmax <= 1.0);
        /* the highest re-noised level of the search */
        float top = -1;
        for (size_t i = cases[c].init_rows; i < wm.n_times; i++)
            if (wm.times[i] > top)
                top = wm.times[i];
        ITS_ASSERT_NEAR(top, cases[c].tf_max, 1e-6);
        assert_int_equal(its_result_stop(r), ITS_STOP_COMPLETED);
        its_result_free(r);
    }
    /* case 3 by hand: 1 -> 0.5: 5 per path; 0.5 -> 1 -> 0.1: 9 + 1; 0.1 -> 0.6 -> 0: 6 */
    its_search_over_paths_params sp;
    its_search_over_paths_params_init(&sp);
    sp.n = 1;
    sp.m = 2;
    sp.t_start = 0.5;
    sp.delta_f = 0.5;
    sp.delta_b = 0.9;
    its_run_params run = run_of(10, 0);
    its_result *r = NULL;
    ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_SEARCH_OVER_PATHS, &sp, &run, &f->m, &f->v, 11, &r));
    assert_int_equal(nfe_of(r), 5 + 2 * (10 + 6));
    its_result_free(r);
}

/* ---------------------------------------------------------------------------------------------
 * zero order
 * ------------------------------------------------------------------------------------------- */
static double dotf(const float *a, const float *b)
{
    double s = 0;
    for (int d = 0; d < DIM; d++)
        s += (double)a[d] * b[d];
    return s;
}

static void test_zero_order_neighbours(void **state)
{
    fixture *f = *state;
    const int T = 5, K = 3;
    its_zero_order_params zo;
    its_zero_order_params_init(&zo);
    zo.neighbors = K;
    zo.tau = 0.9;
    zo.rounds = 2;
    its_run_params run = run_of(T, 0);
    wrap_model wm;
    its_model m;
    wrap_init(&wm, &f->m, &m);
    its_result *r = NULL;
    ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_ZERO_ORDER, &zo, &run, &m, &f->v, 21, &r));
    assert_int_equal(nfe_of(r), T + 2 * K * T);
    assert_int_equal(wm.n_x1, 1 + 2 * K);
    const float *n0 = wm.x1;
    /* round 1: |y| = |n| and cos(y, n) = tau */
    for (int j = 0; j < K; j++) {
        const float *y = wm.x1 + (1 + j) * DIM;
        ITS_ASSERT_NEAR(sqrt(dotf(y, y)), sqrt(dotf(n0, n0)), 1e-5 * sqrt(dotf(n0, n0)));
        ITS_ASSERT_NEAR(dotf(y, n0) / dotf(n0, n0), 0.9, 1e-5);
    }
    /* round 2: neighbours of one pivot among the round-0 and round-1 noises */
    int found = 0;
    for (int p = 0; p <= K && !found; p++) {
        const float *pv = wm.x1 + p * DIM;
        int all = 1;
        for (int j = 0; j < K; j++) {
            const float *y = wm.x1 + (1 + K + j) * DIM;
            all &= fabs(dotf(y, pv) / dotf(pv, pv) - 0.9) < 1e-5 &&
                   fabs(dotf(y, y) - dotf(pv, pv)) < 1e-4 * dotf(pv, pv);
        }
        found = all;
    }
    assert_true(found);
    /* every final was an output candidate: top-1 is the best of 1 + 2K */
    assert_int_equal(its_result_count(r), 1);
    its_result_free(r);

    /* rounds from the budget: (100 - 5) / (4 * 5) = 4 rounds, 85 NFE */
    zo.neighbors = 4;
    zo.rounds = 0;
    run = run_of(T, 100);
    ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_ZERO_ORDER, &zo, &run, &f->m, &f->v, 21, &r));
    assert_int_equal(nfe_of(r), 85);
    const its_step_usage *st;
    assert_int_equal(its_result_steps(r, &st), 5);
    its_result_free(r);

    /* restart: still within the cap, different from keep on some seed */
    zo.on_stall = ITS_STALL_RESTART;
    zo.rounds = 6;
    zo.tau = 0.999; /* neighbours so close that stalls are likely */
    run = run_of(T, 0);
    int differs = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        its_result *a = NULL, *b = NULL;
        ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_ZERO_ORDER, &zo, &run, &f->m, &f->v, seed, &a));
        zo.on_stall = ITS_STALL_KEEP;
        ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_ZERO_ORDER, &zo, &run, &f->m, &f->v, seed, &b));
        zo.on_stall = ITS_STALL_RESTART;
        assert_int_equal(nfe_of(a), T + 6 * 4 * T);
        differs |= memcmp(its_result_sample(a, 0), its_result_sample(b, 0), DIM * sizeof(float)) != 0;
        its_result_free(a);
        its_result_free(b);
    }
    assert_true(differs);
}

/* ---------------------------------------------------------------------------------------------
 * local search
 * ------------------------------------------------------------------------------------------- */
static void test_local_search_reduces_and_counts(void **state)
{
    fixture *f = *state;
    its_local_search_params lp;
    its_local_search_params_init(&lp);
    lp.rho = 0;
    lp.mu = 0;
    lp.recur = 1;
    its_run_params run = run_of(10, 0);
    for (int sde = 0; sde < 2; sde++) {
        run.dynamics = sde ? ITS_DYN_SDE : ITS_DYN_ODE;
        its_result *a = NULL, *b = NULL;
        ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_NONE, NULL, &run, &f->m, &f->v, 8, &a));
        ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_LOCAL_SEARCH, &lp, &run, &f->m, &f->v, 8, &b));
        assert_same_results(a, b);
        its_result_free(a);
        its_result_free(b);
    }
    /* recur 3, n 2: 3 T NFE and 3 T - 1 gradient rows per particle (the last pass into t = 0 is
     * unguided); Heun doubles the NFE except the step into t = 0 */
    lp.rho = 0.1;
    lp.recur = 3;
    lp.n = 2;
    for (int heun = 0; heun < 2; heun++) {
        run = run_of(10, 0);
        run.solver = heun ? ITS_SOLVER_HEUN : ITS_SOLVER_EULER;
        wrap_model wm;
        its_model m;
        wrap_init(&wm, &f->m, &m);
        its_result *r = NULL;
        ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_LOCAL_SEARCH, &lp, &run, &m, &f->v, 8, &r));
        its_usage u;
        its_result_usage(r, &u);
        assert_int_equal(u.nfe, heun ? 2 * 3 * (2 * 9 + 1) : 2 * 3 * 10);
        assert_int_equal(u.grad_rows, 2 * (3 * 10 - 1));
        assert_int_equal(wm.rows, (long)u.nfe);
        assert_true(wm.tmin >= 0);
        its_result_free(r);
    }
}

/* The move against a hand computation: 2 steps (1 -> 0.5 -> 0), recur 1, constant schedule.
 * Step 0: x' = x - 0.5 u(x, 1) + (rho x0x + alpha(0.5) mu) grad r(x0_hat), x0x = 1 for the linear
 * interpolant; step 1 into t = 0 takes no guidance (the last pass into the data end). */
static void test_local_step_formula(void **state)
{
    fixture *f = *state;
    its_local_search_params lp;
    its_local_search_params_init(&lp);
    lp.rho = 0.5;
    lp.mu = 0.25;
    lp.recur = 1;
    lp.schedule = ITS_LS_CONSTANT;
    its_run_params run = run_of(2, 0);
    its_interp ip;
    its_interp_init(&ip, ITS_INTERP_LINEAR);
    for (uint64_t seed = 1; seed <= 4; seed++) {
        wrap_model wm;
        its_model m;
        wrap_init(&wm, &f->m, &m);
        its_result *r = NULL;
        ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_LOCAL_SEARCH, &lp, &run, &m, &f->v, seed, &r));
        float x[DIM], u[DIM], x0[DIM], g[DIM], s;
        memcpy(x, wm.x1, sizeof(x));
        ITS_ASSERT_OK(its_gmm_predict(f->g, &ip, ITS_PRED_VELOCITY, 1.0, x, 1, u));
        ITS_ASSERT_OK(its_gmm_predict(f->g, &ip, ITS_PRED_X0, 1.0, x, 1, x0));
        assert_int_equal(f->v.grad(f->v.user, x0, 1, g, &s), 0);
        double c = 0.5 * 1.0 + 0.5 * 0.25;
        float xh[DIM];
        for (int d = 0; d < DIM; d++)
            xh[d] = (float)(x[d] - 0.5 * u[d] + c * g[d]);
        ITS_ASSERT_OK(its_gmm_predict(f->g, &ip, ITS_PRED_VELOCITY, 0.5, xh, 1, u));
        const float *out = its_result_sample(r, 0);
        for (int d = 0; d < DIM; d++)
            ITS_ASSERT_NEAR(out[d], xh[d] - 0.5 * u[d], 1e-4 * (1 + fabs(out[d])));
        /* the guidance moved the sample: rho = mu = 0 differs */
        its_result_free(r);
    }
}

/* ---------------------------------------------------------------------------------------------
 * budgets, determinism and failures (all four samplers)
 * ------------------------------------------------------------------------------------------- */
typedef struct {
    its_method m;
    union {
        its_zero_order_params zo;
        its_search_over_paths_params sp;
        its_dfs_params dfs;
        its_local_search_params ls;
    } p;
} method_case;

static size_t method_cases(method_case *mc)
{
    memset(mc, 0, 4 * sizeof(*mc));
    mc[0].m = ITS_METHOD_ZERO_ORDER;
    its_zero_order_params_init(&mc[0].p.zo);
    mc[0].p.zo.rounds = 3;
    mc[1].m = ITS_METHOD_SEARCH_OVER_PATHS;
    its_search_over_paths_params_init(&mc[1].p.sp);
    mc[2].m = ITS_METHOD_DFS;
    its_dfs_params_init(&mc[2].p.dfs);
    mc[2].p.dfs.threshold = -1.0;
    mc[2].p.dfs.backtracks = 6;
    mc[3].m = ITS_METHOD_LOCAL_SEARCH;
    its_local_search_params_init(&mc[3].p.ls);
    mc[3].p.ls.n = 3;
    mc[3].p.ls.mu = 0.05;
    return 4;
}

static void test_budget(void **state)
{
    fixture *f = *state;
    method_case mc[4];
    size_t n = method_cases(mc);
    const int T = 10;
    for (size_t i = 0; i < n; i++) {
        /* less than one trajectory */
        its_run_params run = run_of(T, T - 1);
        its_result *r = (its_result *)1;
        assert_int_equal(gen(f->ctx, mc[i].m, &mc[i].p, &run, &f->m, &f->v, 1, &r),
                         ITS_ERR_BUDGET);
        assert_null(r);
        assert_non_null(strstr(its_ctx_errmsg(f->ctx), "max_nfe"));
        /* caps are never exceeded */
        uint64_t caps[] = {25, 60, 123, 400};
        for (size_t c = 0; c < 4; c++) {
            run = run_of(T, caps[c]);
            wrap_model wm;
            its_model m;
            wrap_init(&wm, &f->m, &m);
            its_status st = gen(f->ctx, mc[i].m, &mc[i].p, &run, &m, &f->v, 2, &r);
            if (st == ITS_ERR_BUDGET) {
                /* only where one unit of the method does not fit */
                assert_true(caps[c] < 100);
                assert_int_equal(wm.rows, 0);
                continue;
            }
            ITS_ASSERT_OK(st);
            assert_true(nfe_of(r) <= caps[c]);
            assert_int_equal(wm.rows, (long)nfe_of(r));
            its_result_free(r);
        }
    }
    /* zero_order: a cap short of one round of 4 neighbours shrinks the round to the 3 it pays
     * for (T + 3 T = 40 of 49); below the pivot and one neighbour (2 T) it is ITS_ERR_BUDGET */
    its_run_params run = run_of(T, T + 4 * T - 1);
    its_result *r = NULL;
    ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_ZERO_ORDER, &mc[0].p, &run, &f->m, &f->v, 1, &r));
    assert_int_equal(nfe_of(r), 4 * T);
    its_result_free(r);
    r = NULL;
    run = run_of(T, 2 * T - 1);
    assert_int_equal(gen(f->ctx, ITS_METHOD_ZERO_ORDER, &mc[0].p, &run, &f->m, &f->v, 1, &r),
                     ITS_ERR_BUDGET);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "needs at least 20 NFE"));
    run = run_of(T, 2 * T);
    ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_ZERO_ORDER, &mc[0].p, &run, &f->m, &f->v, 1, &r));
    assert_int_equal(nfe_of(r), 2 * T);
    its_result_free(r);
    r = NULL;
    /* search_over_paths lowers m, then n, to fit the cap */
    run = run_of(20, 300);
    ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_SEARCH_OVER_PATHS, &mc[1].p, &run, &f->m, &f->v, 1, &r));
    /* 2 paths: 36 + 2 m 71 <= 300 -> m = 1: 178 */
    assert_int_equal(nfe_of(r), 178);
    its_result_free(r);
    run = run_of(20, 100);
    ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_SEARCH_OVER_PATHS, &mc[1].p, &run, &f->m, &f->v, 1, &r));
    assert_int_equal(nfe_of(r), 18 + 71);
    its_result_free(r);
    /* the plan's cost is exact: 89 fits, 88 does not */
    run = run_of(20, 89);
    ITS_ASSERT_OK(gen(f->ctx, ITS_METHOD_SEARCH_OVER_PATHS, &mc[1].p, &run, &f->m, &f->v, 1, &r));
    assert_int_equal(nfe_of(r), 89);
    its_result_free(r);
    run = run_of(20, 88);
    assert_int_equal(gen(f->ctx, ITS_METHOD_SEARCH_OVER_PATHS, &mc[1].p, &run, &f->m, &f->v, 1, &r),
                     ITS_ERR_BUDGET);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "at least 89 NFE"));
}

static void test_determinism_batches(void **state)
{
    fixture *f = *state;
    method_case mc[4];
    size_t n = method_cases(mc);
    size_t batches[] = {1, 7, 64};
    for (size_t i = 0; i < n; i++) {
        for (int sde = 0; sde < 2; sde++) {
            its_run_params run = run_of(8, 0);
            run.top_k = 3;
            run.dynamics = sde ? ITS_DYN_SDE : ITS_DYN_ODE;
            its_result *ref = NULL;
            for (size_t b = 0; b < 3; b++) {
                its_model m = f->m;
                its_verifier v = f->v;
                m.max_batch = batches[b];
                v.max_batch = batches[(b + 1) % 3];
                its_result *r = NULL;
                ITS_ASSERT_OK(gen(f->ctx, mc[i].m, &mc[i].p, &run, &m, &v, 99, &r));
                /* top-k: dfs has a single output, the others at least 3 */
                assert_int_equal(its_result_count(r), mc[i].m == ITS_METHOD_DFS ? 1 : 3);
                for (size_t j = 1; j < its_result_count(r); j++)
                    assert_true(its_result_score(r, j - 1) >= its_result_score(r, j));
                if (!ref)
                    ref = r;
                else {
                    assert_same_results(ref, r);
                    its_result_free(r);
                }
            }
            its_result_free(ref);
        }
    }
}

static void test_failures(void **state)
{
    fixture *f = *state;
    method_case mc[4];
    size_t n = method_cases(mc);
    its_run_params run = run_of(8, 0);
    for (size_t i = 0; i < n; i++) {
        /* model callback error on its fourth call */
        wrap_model wm;
        its_model m;
        wrap_init(&wm, &f->m, &m);
        wm.fail_call = 3;
        its_result *r = (its_result *)1;
        assert_int_equal(gen(f->ctx, mc[i].m, &mc[i].p, &run, &m, &f->v, 1, &r), ITS_ERR_CALLBACK);
        assert_null(r);
        assert_non_null(strstr(its_ctx_errmsg(f->ctx), "model eval callback returned 7"));
        /* NaN score on the verifier's second call (score or gradient) */
        wrap_ver wv;
        its_verifier v;
        wrapv_init(&wv, &f->v, &v, 1);
        wv.nan_call = 1;
        r = (its_result *)1;
        assert_int_equal(gen(f->ctx, mc[i].m, &mc[i].p, &run, &f->m, &v, 1, &r), ITS_ERR_NUMERIC);
        assert_null(r);
        assert_non_null(strstr(its_ctx_errmsg(f->ctx), "NaN"));
        /* no verifier at all */
        assert_int_equal(gen(f->ctx, mc[i].m, &mc[i].p, &run, &f->m, NULL, 1, &r), ITS_ERR_INVALID);
    }
    /* local_search needs the gradient */
    its_verifier nograd = f->v;
    nograd.grad = NULL;
    its_result *r = NULL;
    assert_int_equal(gen(f->ctx, ITS_METHOD_LOCAL_SEARCH, &mc[3].p, &run, &f->m, &nograd, 1, &r),
                     ITS_ERR_UNSUPPORTED);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "grad"));
    assert_null(r);
}

/* Every allocation failure is reported as ITS_ERR_NOMEM and leaks nothing. */
static void test_alloc_failures(void **state)
{
    (void)state;
    method_case mc[4];
    size_t n = method_cases(mc);
    for (size_t i = 0; i < n; i++) {
        for (long k = 1;; k++) {
            its_test_alloc a = {0};
            its_ctx *ctx = its_test_ctx(&a);
            assert_non_null(ctx);
            its_gmm *g = its_test_gmm2(ctx, DIM, 1.0, 0.5, 0.1);
            assert_non_null(g);
            its_model m;
            its_verifier v;
            its_gmm_bind_model(g, NULL, ITS_PRED_VELOCITY, &m);
            its_gmm_bind_logprob(g, 1, &v);
            its_run_params run = run_of(6, 0);
            a.fail_at = a.calls + k;
            its_result *r = NULL;
            its_status st = gen(ctx, mc[i].m, &mc[i].p, &run, &m, &v, 4, &r);
            long failures = a.failures;
            its_result_free(r);
            its_gmm_free(g);
            its_ctx_free(ctx);
            assert_int_equal(a.live, 0);
            if (!failures) {
                ITS_ASSERT_OK(st);
                break;
            }
            assert_int_equal(st, ITS_ERR_NOMEM);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dfs_no_backtracks_is_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dfs_backtrack_trace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dfs_changes_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sop_nfe_and_times, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_order_neighbours, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_search_reduces_and_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_step_formula, setup, teardown),
        cmocka_unit_test_setup_teardown(test_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_determinism_batches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failures, setup, teardown),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
