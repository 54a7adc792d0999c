/* The context's thread pool and the engine work it splits: every task runs exactly once for any
 * task count; workers really run tasks beside the caller; contexts with 1, 2, 3 or 4 threads give
 * bit-identical results for none (ODE, Heun, SDE), best_of_n, fk_smc, rbf, beam and
 * search_over_paths at dim 3 and at dim 300,000 (where the parallel paths run: checked through
 * the pool's job counter); creating and freeing contexts leaks no memory and no thread, also
 * when an allocation or a thread start fails; a host backend gets no workers. Label "threads": the ThreadSanitizer build runs
 * this suite. */
#define _POSIX_C_SOURCE 200809L
#include "its_test.h"

#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static int tp_base_threads; /* threads of the process before any test */

/* Threads of this process, from /proc/self/task. */
static int tp_threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static void tp_sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

/* A joined thread can stay listed for a moment while the kernel tears it down: poll (bounded)
 * for the count to come back to `want`. */
static int tp_threads_settle(int want)
{
    int n = tp_threads_now();
    for (int i = 0; i < 2000 && n != want; i++) {
        tp_sleep_us(1000);
        n = tp_threads_now();
    }
    return n;
}

static its_ctx *tp_ctx(its_test_alloc *a, int threads)
{
    its_ctx_params p;
    its_test_ctx_params(a, &p);
    p.n_threads = threads;
    its_ctx *ctx = NULL;
    its_status st = its_ctx_create(&p, &ctx);
    if (st != ITS_OK)
        fail_msg("its_ctx_create(n_threads %d) -> %s", threads, its_status_str(st));
    return ctx;
}

/* ---- the pool ------------------------------------------------------------------------------- */

#define TP_MAX_TASKS 5000

typedef struct tp_count {
    _Atomic int hits[TP_MAX_TASKS];
    long sleep_task; /* task that sleeps (exercises the caller's sleeping wait); -1 none */
} tp_count;

static void tp_count_task(void *arg, size_t i)
{
    tp_count *c = arg;
    atomic_fetch_add(&c->hits[i], 1);
    if ((long)i == c->sleep_task)
        tp_sleep_us(300);
}

static void tp_check_once(its_ctx *ctx, tp_count *c, size_t n, long sleep_task)
{
    for (size_t i = 0; i < n + 1 && i < TP_MAX_TASKS; i++)
        atomic_store(&c->hits[i], 0);
    c->sleep_task = sleep_task;
    its_parallel_for(ctx, n, tp_count_task, c);
    for (size_t i = 0; i < n; i++)
        if (atomic_load(&c->hits[i]) != 1)
            fail_msg("%d threads, %zu tasks: task %zu ran %d times", its_parallel_threads(ctx), n,
                     i, atomic_load(&c->hits[i]));
    if (n < TP_MAX_TASKS && atomic_load(&c->hits[n]) != 0)
        fail_msg("%zu tasks: task index %zu ran", n, n);
}

static void test_every_task_once(void **state)
{
    (void)state;
    static const size_t ns[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 64, 100, 257, 1000, 4099};
    static const int threads[] = {1, 2, 3, 4, 8};
    tp_count *c = calloc(1, sizeof(*c));
    for (size_t ti = 0; ti < ITS_ARRAY_LEN(threads); ti++) {
        its_ctx *ctx = tp_ctx(NULL, threads[ti]);
        assert_int_equal(its_parallel_threads(ctx), threads[ti]);
        uint64_t jobs = 0;
        for (size_t k = 0; k < ITS_ARRAY_LEN(ns); k++)
            for (int rep = 0; rep < 3; rep++) {
                /* rep 1: one task sleeps, so the caller may have to sleep for it; rep 2: a pause
                 * first, so the workers have gone to sleep and must be woken */
                if (rep == 2)
                    tp_sleep_us(500);
                tp_check_once(ctx, c, ns[k], rep == 1 ? (long)ns[k] / 2 : -1);
                if (threads[ti] > 1 && ns[k] > 1)
                    jobs++;
                assert_int_equal(its_parallel_jobs(ctx), jobs);
            }
        /* many back-to-back small jobs: generations turn over quickly */
        for (int rep = 0; rep < 3000; rep++)
            tp_check_once(ctx, c, 2 + (size_t)rep % 5, -1);
        its_ctx_free(ctx);
    }
    free(c);
}

/* Two tasks that each wait until both have started: only possible when a worker takes one while
 * the caller runs the other. The wait is bounded so a pool whose workers never run fails. */
typedef struct tp_meet {
    _Atomic int started;
    _Atomic int met;
} tp_meet;

static void tp_meet_task(void *arg, size_t i)
{
    (void)i;
    tp_meet *m = arg;
    atomic_fetch_add(&m->started, 1);
    for (int k = 0; k < 200000 && atomic_load(&m->started) < 2; k++)
        tp_sleep_us(100);
    if (atomic_load(&m->started) >= 2)
        atomic_fetch_add(&m->met, 1);
}

static void test_workers_run_tasks(void **state)
{
    (void)state;
    for (int threads = 2; threads <= 4; threads++) {
        its_ctx *ctx = tp_ctx(NULL, threads);
        for (int rep = 0; rep < 20; rep++) {
            tp_meet m;
            atomic_init(&m.started, 0);
            atomic_init(&m.met, 0);
            if (rep % 4 == 3)
                tp_sleep_us(500); /* workers asleep */
            its_parallel_for(ctx, 2, tp_meet_task, &m);
            assert_int_equal(atomic_load(&m.started), 2);
            assert_int_equal(atomic_load(&m.met), 2);
        }
        its_ctx_free(ctx);
    }
}

/* Several host threads, each with its own context and pool, at once. */
typedef struct tp_host {
    int threads, errors;
} tp_host;

static void *tp_host_main(void *vp)
{
    tp_host *h = vp;
    its_ctx_params p;
    its_ctx_params_init(&p);
    p.n_threads = h->threads;
    its_ctx *ctx = NULL;
    if (its_ctx_create(&p, &ctx) != ITS_OK) {
        h->errors++;
        return NULL;
    }
    tp_count *c = calloc(1, sizeof(*c));
    for (int rep = 0; rep < 500; rep++) {
        size_t n = 1 + (size_t)(rep * 7 + h->threads) % 40;
        for (size_t i = 0; i < n; i++)
            atomic_store(&c->hits[i], 0);
        c->sleep_task = -1;
        its_parallel_for(ctx, n, tp_count_task, c);
        for (size_t i = 0; i < n; i++)
            h->errors += atomic_load(&c->hits[i]) != 1;
    }
    free(c);
    its_ctx_free(ctx);
    return NULL;
}

static void test_contexts_independent(void **state)
{
    (void)state;
    pthread_t tid[3];
    tp_host h[3] = {{2, 0}, {3, 0}, {4, 0}};
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&tid[i], NULL, tp_host_main, &h[i]), 0);
    for (int i = 0; i < 3; i++) {
        pthread_join(tid[i], NULL);
        assert_int_equal(h[i].errors, 0);
    }
}

/* ---- lifetime and faults -------------------------------------------------------------------- */

static void test_create_free_no_leak(void **state)
{
    (void)state;
    int base = tp_base_threads;
    assert_true(base >= 1);
    its_test_alloc a = {0};
    for (int rep = 0; rep < 40; rep++) {
        int threads = rep % 5; /* 0 means 1 */
        its_ctx *ctx = tp_ctx(&a, threads);
        assert_int_equal(its_parallel_threads(ctx), threads ? threads : 1);
        if (threads > 1)
            assert_int_equal(tp_threads_settle(base + threads - 1), base + threads - 1);
        tp_count *c = calloc(1, sizeof(*c));
        tp_check_once(ctx, c, 10, -1);
        free(c);
        its_ctx_free(ctx);
        assert_int_equal(a.live, 0);
    }
    /* several pools alive at once */
    its_ctx *many[8];
    for (int i = 0; i < 8; i++)
        many[i] = tp_ctx(&a, 2 + i % 3);
    /* workers: 1, 2, 3, 1, 2, 3, 1, 2 */
    assert_int_equal(tp_threads_settle(base + 15), base + 15);
    for (int i = 0; i < 8; i++)
        its_ctx_free(many[i]);
    assert_int_equal(a.live, 0);
    assert_int_equal(tp_threads_settle(base), base);
    /* a host backend (here the CPU slots under another table) gets no workers */
    its_backend_i host = *its_backend_cpu();
    host.name = "host";
    its_ctx_params p;
    its_test_ctx_params(&a, &p);
    p.n_threads = 4;
    p.backend = &host;
    its_ctx *hc = NULL;
    ITS_ASSERT_OK(its_ctx_create(&p, &hc));
    assert_int_equal(its_parallel_threads(hc), 1);
    assert_int_equal(tp_threads_now(), base);
    its_ctx_free(hc);
    assert_int_equal(a.live, 0);
}

static void test_ctx_create_alloc_faults(void **state)
{
    (void)state;
    int base = tp_base_threads;
    int failures = 0;
    for (long k = 1; k < 100; k++) {
        its_test_alloc a = {0};
        a.fail_at = k;
        its_ctx_params p;
        its_test_ctx_params(&a, &p);
        p.n_threads = 4;
        its_ctx *ctx = (its_ctx *)&a; /* must be reset to NULL on failure */
        its_status st = its_ctx_create(&p, &ctx);
        if (st == ITS_OK) {
            assert_int_equal(a.failures, 0); /* all allocations were made */
            assert_int_equal(its_parallel_threads(ctx), 4);
            its_ctx_free(ctx);
            assert_int_equal(a.live, 0);
            break;
        }
        failures++;
        assert_int_equal(st, ITS_ERR_NOMEM);
        assert_null(ctx);
        assert_int_equal(a.live, 0);
        assert_int_equal(tp_threads_settle(base), base);
    }
    /* the context, the pool, the worker table */
    assert_int_equal(failures, 3);
    assert_int_equal(tp_threads_settle(base), base);
}

static void test_thread_start_fault(void **state)
{
    (void)state;
    int base = tp_base_threads;
    its_test_alloc a = {0};
    its_ctx *ctx = tp_ctx(&a, 1);
    long live = a.live;
    for (int k = 0; k < 4; k++) {
        its_tpool *p = (its_tpool *)ctx;
        its_status st = its_tpool_create(ctx, 4, k, &p);
        assert_int_equal(st, ITS_ERR_NOMEM);
        assert_null(p);
        assert_non_null(strstr(its_ctx_errmsg(ctx), "worker thread"));
        assert_int_equal(a.live, live);
        assert_int_equal(tp_threads_settle(base), base);
    }
    its_tpool *p = NULL;
    assert_int_equal(its_tpool_create(ctx, 0, -1, &p), ITS_ERR_INVALID);
    assert_null(p);
    assert_int_equal(its_tpool_create(ctx, 3, -1, &p), ITS_OK);
    assert_int_equal(tp_threads_settle(base + 3), base + 3);
    its_tpool_free(ctx, p);
    its_tpool_free(ctx, NULL);
    assert_int_equal(a.live, live);
    its_ctx_free(ctx);
    assert_int_equal(a.live, 0);
    assert_int_equal(tp_threads_settle(base), base);
    /* out-of-range thread counts are refused before anything starts */
    its_ctx_params cp;
    its_ctx_params_init(&cp);
    cp.n_threads = 1025;
    its_ctx *bad = NULL;
    assert_int_equal(its_ctx_create(&cp, &bad), ITS_ERR_INVALID);
    assert_null(bad);
}

/* ---- bit-identical runs for any thread count -------------------------------------------------- */

typedef union tp_params {
    its_none_params none;
    its_best_of_n_params bon;
    its_fk_smc_params fk;
    its_rbf_params rbf;
    its_beam_params beam;
    its_search_over_paths_params sop;
} tp_params;

typedef struct tp_case {
    const char *name;
    its_method method;
    its_dynamics dyn;
    its_solver solver;
} tp_case;

static const tp_case tp_cases[] = {
    {"none ode", ITS_METHOD_NONE, ITS_DYN_ODE, ITS_SOLVER_EULER},
    {"none heun", ITS_METHOD_NONE, ITS_DYN_ODE, ITS_SOLVER_HEUN},
    {"none sde", ITS_METHOD_NONE, ITS_DYN_SDE, ITS_SOLVER_EULER},
    {"best_of_n ode", ITS_METHOD_BEST_OF_N, ITS_DYN_ODE, ITS_SOLVER_EULER},
    {"best_of_n sde", ITS_METHOD_BEST_OF_N, ITS_DYN_SDE, ITS_SOLVER_EULER},
    {"fk_smc", ITS_METHOD_FK_SMC, ITS_DYN_SDE, ITS_SOLVER_EULER},
    {"rbf", ITS_METHOD_RBF, ITS_DYN_SDE, ITS_SOLVER_EULER},
    {"beam", ITS_METHOD_BEAM, ITS_DYN_SDE, ITS_SOLVER_EULER},
    {"search_over_paths", ITS_METHOD_SEARCH_OVER_PATHS, ITS_DYN_ODE, ITS_SOLVER_EULER},
};

/* Small runs (noise at dim 300,000 dominates the suite's time in Debug builds). */
static const void *tp_setup(const tp_case *c, tp_params *p, its_run_params *run)
{
    its_run_params_init(run);
    run->steps = 2;
    run->dynamics = c->dyn;
    run->solver = c->solver;
    run->g_scale = 1.0;
    run->top_k = 2;
    memset(p, 0, sizeof(*p));
    switch (c->method) {
    case ITS_METHOD_BEST_OF_N:
        its_best_of_n_params_init(&p->bon);
        p->bon.n = 2;
        return &p->bon;
    case ITS_METHOD_FK_SMC:
        its_fk_smc_params_init(&p->fk);
        p->fk.n = 3;
        p->fk.ess = 1.0; /* resample every step */
        run->steps = 3;
        return &p->fk;
    case ITS_METHOD_RBF:
        /* conversion to vp: the scaled model input runs through the split lincomb too */
        its_rbf_params_init(&p->rbf);
        p->rbf.chains = 2;
        p->rbf.init = 2;
        p->rbf.speculative = 2;
        run->steps = 3;
        run->grid = ITS_GRID_EXP;
        run->convert = 1;
        run->max_nfe = 12;
        return &p->rbf;
    case ITS_METHOD_BEAM:
        its_beam_params_init(&p->beam);
        p->beam.beams = 2;
        p->beam.children = 2;
        return &p->beam;
    case ITS_METHOD_SEARCH_OVER_PATHS:
        its_search_over_paths_params_init(&p->sop);
        p->sop.n = 2;
        p->sop.m = 2;
        p->sop.t_start = 0.5;
        p->sop.delta_f = 0.3;
        p->sop.delta_b = 0.4;
        run->steps = 4;
        run->max_nfe = 24;
        return &p->sop;
    default:
        its_none_params_init(&p->none);
        return &p->none;
    }
}

/* A cheap exact model for large dims: the mixture w0 N(-mu 1, s^2 I) + w1 N(+mu 1, s^2 I) under
 * the linear interpolant (alpha = 1 - t, sigma = t). Both marginals are N(alpha mu_k 1, v I) with
 * v = alpha^2 s^2 + sigma^2, so the responsibilities need only |x - alpha mu_k|^2, and
 * x0_hat = sum_k gamma_k (mu_k + alpha s^2 / v (x - alpha mu_k)) (DESIGN.md §4.4). The verifier is
 * log gamma_1 at t = 0. The gmm check below holds it to its_gmm_predict. */
typedef struct tp_iso2 {
    size_t dim;
    double mu, s, w1;
} tp_iso2;

/* Posterior weight of component 1 for row x at (alpha, v). */
static double tp_iso2_gamma1(const tp_iso2 *m, const float *x, double alpha, double v)
{
    double d0 = 0, d1 = 0;
    for (size_t j = 0; j < m->dim; j++) {
        double r0 = (double)x[j] + alpha * m->mu, r1 = (double)x[j] - alpha * m->mu;
        d0 += r0 * r0;
        d1 += r1 * r1;
    }
    /* log(w1 N1 / w0 N0) */
    double l = log(m->w1 / (1.0 - m->w1)) - 0.5 * (d1 - d0) / v;
    return l > 0 ? 1.0 / (1.0 + exp(-l)) : exp(l) / (1.0 + exp(l));
}

static int tp_iso2_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    const tp_iso2 *m = user;
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * m->dim;
        double alpha = 1.0 - (double)t[i], sigma = (double)t[i];
        double v = alpha * alpha * m->s * m->s + sigma * sigma;
        double g1 = tp_iso2_gamma1(m, xi, alpha, v), k = alpha * m->s * m->s / v;
        double mbar = (2.0 * g1 - 1.0) * m->mu; /* sum_k gamma_k mu_k */
        for (size_t j = 0; j < m->dim; j++)
            out[i * m->dim + j] = (float)(mbar + k * ((double)xi[j] - alpha * mbar));
    }
    return 0;
}

static int tp_iso2_score(void *user, const float *x0, size_t n, float *scores)
{
    const tp_iso2 *m = user;
    for (size_t i = 0; i < n; i++)
        scores[i] = (float)log(tp_iso2_gamma1(m, x0 + i * m->dim, 1.0, m->s * m->s));
    return 0;
}

static void tp_iso2_bind(tp_iso2 *iso, size_t dim, its_model *m, its_verifier *v)
{
    *iso = (tp_iso2){dim, 1.5, 0.6, 0.3};
    its_model_init(m);
    m->dim = dim;
    m->pred = ITS_PRED_X0;
    its_interp_init(&m->interp, ITS_INTERP_LINEAR);
    m->eval = tp_iso2_eval;
    m->user = iso;
    its_verifier_init(v);
    v->score = tp_iso2_score;
    v->user = iso;
}

/* The cheap model is the fixture mixture's exact x0 prediction. */
static void test_iso2_is_exact(void **state)
{
    (void)state;
    const size_t dim = 5;
    its_ctx *ctx = tp_ctx(NULL, 1);
    its_gmm *g = its_test_gmm2(ctx, dim, 1.5, 0.6, 0.3);
    assert_non_null(g);
    its_interp ip;
    its_interp_init(&ip, ITS_INTERP_LINEAR);
    tp_iso2 iso;
    its_model m;
    its_verifier v;
    tp_iso2_bind(&iso, dim, &m, &v);
    float x[3 * 5], want[3 * 5], got[3 * 5], tt[3];
    for (size_t j = 0; j < 3 * dim; j++)
        x[j] = (float)(0.37 * (double)((int)(j * 7 % 11) - 5));
    for (double t = 0.05; t < 1.0; t += 0.15) {
        for (int i = 0; i < 3; i++)
            tt[i] = (float)t;
        ITS_ASSERT_OK(its_gmm_predict(g, &ip, ITS_PRED_X0, (double)(float)t, x, 3, want));
        assert_int_equal(tp_iso2_eval(&iso, x, tt, 3, got), 0);
        for (size_t j = 0; j < 3 * dim; j++)
            ITS_ASSERT_NEAR(got[j], want[j], 1e-5 * (1.0 + fabs(want[j])));
    }
    its_gmm_free(g);
    its_ctx_free(ctx);
}

/* Runs case c on ctx (which the result keeps: free the result first); *jobs = pool jobs used.
 * Dim 3 runs the analytic mixture itself, larger dims its cheap equivalent above. */
static its_result *tp_run(its_ctx *ctx, size_t dim, const tp_case *c, uint64_t seed,
                          uint64_t *jobs)
{
    its_gmm *g = NULL;
    tp_iso2 iso;
    its_model m;
    its_verifier v;
    if (dim <= 16) {
        g = its_test_gmm2(ctx, dim, 1.5, 0.6, 0.3);
        assert_non_null(g);
        /* x0 predictions: every evaluation converts */
        its_gmm_bind_model(g, NULL, ITS_PRED_X0, &m);
        ITS_ASSERT_OK(its_gmm_bind_logprob(g, 1, &v));
    } else {
        tp_iso2_bind(&iso, dim, &m, &v);
    }
    tp_params p;
    its_run_params run;
    const void *mp = tp_setup(c, &p, &run);
    its_sampler *s = NULL;
    its_result *r = NULL;
    ITS_ASSERT_OK(its_sampler_create(ctx, c->method, mp, &run, &s));
    uint64_t jobs0 = its_parallel_jobs(ctx);
    its_status st = its_generate(s, &m, &v, seed, &r);
    if (st != ITS_OK)
        fail_msg("%s, dim %zu, %d threads: %s (%s)", c->name, dim, its_parallel_threads(ctx),
                 its_status_str(st), its_ctx_errmsg(ctx));
    *jobs = its_parallel_jobs(ctx) - jobs0;
    its_sampler_free(s);
    its_gmm_free(g);
    return r;
}

static void tp_same(const its_result *a, const its_result *b, const char *what, int threads)
{
    size_t n = its_result_count(a), dim = its_result_dim(a);
    assert_true(n >= 1);
    if (n != its_result_count(b) || dim != its_result_dim(b))
        fail_msg("%s, %d threads: %zu results of dim %zu, expected %zu of %zu", what, threads,
                 its_result_count(b), its_result_dim(b), n, dim);
    for (size_t i = 0; i < n; i++) {
        const float *xa = its_result_sample(a, i), *xb = its_result_sample(b, i);
        for (size_t j = 0; j < dim; j++)
            if (memcmp(&xa[j], &xb[j], sizeof(float)) != 0)
                fail_msg("%s, %d threads: sample %zu differs at element %zu: %.9g vs %.9g", what,
                         threads, i, j, (double)xb[j], (double)xa[j]);
        double sa = its_result_score(a, i), sb = its_result_score(b, i);
        if (memcmp(&sa, &sb, sizeof sa) != 0)
            fail_msg("%s, %d threads: score %zu is %.17g, expected %.17g", what, threads, i, sb,
                     sa);
    }
    its_usage ua, ub;
    its_result_usage(a, &ua);
    its_result_usage(b, &ub);
    assert_int_equal(ua.nfe, ub.nfe);
    assert_int_equal(ua.verifier_rows, ub.verifier_rows);
    const its_trace_point *ta, *tb;
    size_t na = its_result_trace(a, &ta), nb = its_result_trace(b, &tb);
    assert_int_equal(na, nb);
    assert_memory_equal(ta, tb, na * sizeof(*ta));
}

static void tp_identical(size_t dim, int expect_parallel)
{
    its_ctx *ctx[5] = {NULL};
    for (int threads = 1; threads <= 4; threads++)
        ctx[threads] = tp_ctx(NULL, threads);
    for (size_t ci = 0; ci < ITS_ARRAY_LEN(tp_cases); ci++) {
        const tp_case *c = &tp_cases[ci];
        uint64_t jobs1 = 0;
        its_result *ref = tp_run(ctx[1], dim, c, 1234 + ci, &jobs1);
        assert_int_equal(jobs1, 0);
        for (int threads = 2; threads <= 4; threads++) {
            uint64_t jobs = 0;
            its_result *r = tp_run(ctx[threads], dim, c, 1234 + ci, &jobs);
            char what[96];
            snprintf(what, sizeof what, "%s at dim %zu", c->name, dim);
            tp_same(ref, r, what, threads);
            /* the split paths ran at the large dim, and never at the small one */
            if (expect_parallel && jobs == 0)
                fail_msg("%s, %d threads: no work went to the pool", what, threads);
            if (!expect_parallel && jobs != 0)
                fail_msg("%s, %d threads: %llu jobs went to the pool", what, threads,
                         (unsigned long long)jobs);
            its_result_free(r);
        }
        its_result_free(ref);
    }
    for (int threads = 1; threads <= 4; threads++)
        its_ctx_free(ctx[threads]);
}

static void test_identical_dim3(void **state)
{
    (void)state;
    tp_identical(3, 0);
}

static void test_identical_dim300k(void **state)
{
    (void)state;
    tp_identical(300000, 1);
}

int main(void)
{
    tp_base_threads = tp_threads_now();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_task_once),
        cmocka_unit_test(test_workers_run_tasks),
        cmocka_unit_test(test_contexts_independent),
        cmocka_unit_test(test_create_free_no_leak),
        cmocka_unit_test(test_ctx_create_alloc_faults),
        cmocka_unit_test(test_thread_start_fault),
        cmocka_unit_test(test_iso2_is_exact),
        cmocka_unit_test(test_identical_dim3),
        cmocka_unit_test(test_identical_dim300k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
