/* Thread-safe models are called concurrently (one call per pool thread), with results, errors
 * and accounting identical to the sequential loop. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "its_test.h"

/* A pure, thread-safe velocity model: the exact velocity of N(mu, s^2 I) under the linear
 * interpolant, u = (alpha' x0_hat + sigma' eps_hat) in closed form. */
typedef struct {
    size_t dim;
    double mu, s;
    atomic_int inside, max_inside;
    atomic_long calls;
    long fail_call;      /* non-zero: calls whose data match a rule fail (see pure_eval) */
    int sleep_us;
} pure_model;

static int pure_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    pure_model *pm = user;
    long call = atomic_fetch_add(&pm->calls, 1) + 1;
    int now = atomic_fetch_add(&pm->inside, 1) + 1;
    int prev = atomic_load(&pm->max_inside);
    while (now > prev && !atomic_compare_exchange_weak(&pm->max_inside, &prev, now))
        ;
    if (pm->sleep_us) {
        struct timespec ts = {0, pm->sleep_us * 1000L};
        nanosleep(&ts, NULL);
    }
    for (size_t i = 0; i < n; i++) {
        double tt = t[i], a = 1.0 - tt, v = a * a * pm->s * pm->s + tt * tt;
        for (size_t d = 0; d < pm->dim; d++) {
            double xi = x[i * pm->dim + d], r = xi - a * pm->mu;
            double x0 = pm->mu + a * pm->s * pm->s / v * r, eps = tt * r / v;
            out[i * pm->dim + d] = (float)(-x0 + eps);
        }
    }
    atomic_fetch_sub(&pm->inside, 1);
    (void)call;
    /* fails on data, not on call order (calls overlap): the first row of the call at t < 0.6
     * with a positive first coordinate */
    return (pm->fail_call && t[0] < 0.6f && x[0] > 0.0f) ? 7 : 0;
}

static int quad_score(void *user, const float *x0, size_t n, float *scores)
{
    size_t dim = *(size_t *)user;
    for (size_t i = 0; i < n; i++) {
        double q = 0;
        for (size_t d = 0; d < dim; d++)
            q += (x0[i * dim + d] - 1.0) * (x0[i * dim + d] - 1.0);
        scores[i] = (float)-q;
    }
    return 0;
}

/* Contexts of the runs, freed after their results. */
static its_ctx *ctxs[16];
static size_t n_ctxs;

static its_result *run(int threads, pure_model *pm, size_t max_batch, int thread_safe,
                       its_method meth, uint64_t max_nfe, its_status *st_out, char *msg,
                       size_t cap)
{
    its_ctx_params cp;
    its_ctx_params_init(&cp);
    cp.n_threads = threads;
    its_ctx *ctx = NULL;
    assert_int_equal(its_ctx_create(&cp, &ctx), ITS_OK);
    assert_true(n_ctxs < 16);
    ctxs[n_ctxs++] = ctx;
    its_model m;
    its_model_init(&m);
    m.dim = pm->dim;
    m.eval = pure_eval;
    m.user = pm;
    m.max_batch = max_batch;
    m.thread_safe = thread_safe;
    its_verifier v;
    its_verifier_init(&v);
    v.score = quad_score;
    v.user = &pm->dim;
    its_run_params rp;
    its_run_params_init(&rp);
    rp.steps = 6;
    rp.dynamics = ITS_DYN_SDE;
    rp.max_nfe = max_nfe;
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    bp.n = 12;
    its_fk_smc_params fp;
    its_fk_smc_params_init(&fp);
    fp.n = 12;
    its_sampler *s = NULL;
    assert_int_equal(its_sampler_create(ctx, meth, meth == ITS_METHOD_FK_SMC ? (void *)&fp
                                                                               : (void *)&bp,
                                        &rp, &s),
                     ITS_OK);
    its_result *r = NULL;
    its_status st = its_generate(s, &m, &v, 11, &r);
    if (st_out)
        *st_out = st;
    if (msg)
        snprintf(msg, cap, "%s", its_ctx_errmsg(ctx));
    its_sampler_free(s);
    return r;
}

static void free_run(its_result *r)
{
    its_result_free(r);
}

static void free_ctxs(void)
{
    for (size_t i = 0; i < n_ctxs; i++)
        its_ctx_free(ctxs[i]);
    n_ctxs = 0;
}

static void test_waves_bit_identical(void **state)
{
    (void)state;
    const its_method meths[] = {ITS_METHOD_BEST_OF_N, ITS_METHOD_FK_SMC};
    for (size_t mi = 0; mi < 2; mi++) {
        for (size_t mb = 1; mb <= 5; mb += 2) {
            pure_model a = {.dim = 5, .mu = 0.5, .s = 0.7};
            pure_model b = {.dim = 5, .mu = 0.5, .s = 0.7};
            its_result *r1 = run(1, &a, mb, 0, meths[mi], 0, NULL, NULL, 0);
            its_result *r4 = run(4, &b, mb, 1, meths[mi], 0, NULL, NULL, 0);
            assert_non_null(r1);
            assert_non_null(r4);
            its_usage u1, u4;
            its_result_usage(r1, &u1);
            its_result_usage(r4, &u4);
            assert_int_equal(u1.nfe, u4.nfe);
            assert_int_equal(u1.model_calls, u4.model_calls);
            assert_int_equal(its_result_count(r1), its_result_count(r4));
            assert_memory_equal(its_result_sample(r1, 0), its_result_sample(r4, 0),
                                5 * sizeof(float));
            assert_true(its_result_score(r1, 0) == its_result_score(r4, 0));
            assert_int_equal(atomic_load(&a.max_inside), 1);
            free_run(r1);
            free_run(r4);
            free_ctxs();
        }
    }
}

static void test_waves_run_concurrently(void **state)
{
    (void)state;
    pure_model pm = {.dim = 3, .mu = 0.0, .s = 1.0, .sleep_us = 5000};
    its_result *r = run(4, &pm, 1, 1, ITS_METHOD_BEST_OF_N, 0, NULL, NULL, 0);
    assert_non_null(r);
    /* 12 one-row calls per step on 4 threads: calls overlap (each sleeps 5 ms, 72 calls) */
    assert_true(atomic_load(&pm.max_inside) >= 2);
    assert_true(atomic_load(&pm.max_inside) <= 4);
    free_run(r);
    free_ctxs();
}

static void test_waves_errors_and_cap(void **state)
{
    (void)state;
    /* the failing call is named as in the sequential loop */
    char m1[512], m4[512];
    its_status s1, s4;
    pure_model a = {.dim = 2, .mu = 0, .s = 1, .fail_call = 6};
    pure_model b = {.dim = 2, .mu = 0, .s = 1, .fail_call = 6};
    assert_null(run(1, &a, 1, 1, ITS_METHOD_BEST_OF_N, 0, &s1, m1, sizeof(m1)));
    assert_null(run(4, &b, 1, 1, ITS_METHOD_BEST_OF_N, 0, &s4, m4, sizeof(m4)));
    assert_int_equal(s1, ITS_ERR_CALLBACK);
    assert_int_equal(s4, ITS_ERR_CALLBACK);
    assert_non_null(strstr(m4, "model eval callback returned 7 on call"));
    assert_string_equal(m1, m4);
    /* a cap in the middle of a step: never exceeded, same NFE as one thread */
    pure_model c = {.dim = 2, .mu = 0, .s = 1};
    pure_model d = {.dim = 2, .mu = 0, .s = 1};
    its_status sc, sd;
    its_result *rc = run(1, &c, 1, 1, ITS_METHOD_FK_SMC, 41, &sc, NULL, 0);
    its_result *rd = run(4, &d, 1, 1, ITS_METHOD_FK_SMC, 41, &sd, NULL, 0);
    assert_int_equal(sc, sd);
    if (rc && rd) {
        its_usage uc, ud;
        its_result_usage(rc, &uc);
        its_result_usage(rd, &ud);
        assert_true(ud.nfe <= 41);
        assert_int_equal(uc.nfe, ud.nfe);
    }
    free_run(rc);
    free_run(rd);
    free_ctxs();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_waves_bit_identical),
        cmocka_unit_test(test_waves_run_concurrently),
        cmocka_unit_test(test_waves_errors_and_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
