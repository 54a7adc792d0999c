/* The engine's promises, seen through none and best_of_n: the NFE cap is hard, batching does not
 * change a single bit, usage counters match what the callbacks saw, the trace is monotone, top-k
 * is sorted and distinct, and best_of_n with n = 1 is none. */
#include "its_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM 3

/* Counting wrappers around the mixture's callbacks. */
typedef struct cnt_model {
    its_model inner;
    uint64_t rows, calls;
    size_t max_rows;
} cnt_model;

static int cnt_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    cnt_model *c = user;
    c->rows += n;
    c->calls++;
    if (n > c->max_rows)
        c->max_rows = n;
    return c->inner.eval(c->inner.user, x, t, n, out);
}

typedef struct cnt_ver {
    its_verifier inner;
    uint64_t rows, calls;
    size_t max_rows;
} cnt_ver;

static int cnt_score(void *user, const float *x0, size_t n, float *s)
{
    cnt_ver *c = user;
    c->rows += n;
    c->calls++;
    if (n > c->max_rows)
        c->max_rows = n;
    return c->inner.score(c->inner.user, x0, n, s);
}

typedef struct fixture {
    its_ctx *ctx;
    its_gmm *g;
    cnt_model cm;
    cnt_ver cv;
    its_model m;
    its_verifier v;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->ctx = its_test_ctx(NULL);
    f->g = its_test_gmm2(f->ctx, DIM, 1.5, 0.6, 0.3);
    its_gmm_bind_model(f->g, NULL, ITS_PRED_VELOCITY, &f->cm.inner);
    its_gmm_bind_logprob(f->g, 1, &f->cv.inner);
    f->m = f->cm.inner;
    f->m.eval = cnt_eval;
    f->m.user = &f->cm;
    f->v = f->cv.inner;
    f->v.score = cnt_score;
    f->v.user = &f->cv;
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

static void reset_counts(fixture *f)
{
    f->cm.rows = f->cm.calls = 0;
    f->cm.max_rows = 0;
    f->cv.rows = f->cv.calls = 0;
    f->cv.max_rows = 0;
}

static its_result *run_method(fixture *f, its_method method, int n, const its_run_params *run,
                              uint64_t seed)
{
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    bp.n = n;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(f->ctx, method, method == ITS_METHOD_BEST_OF_N ? &bp : NULL,
                                     run, &s));
    its_result *r = NULL;
    reset_counts(f);
    its_status st = its_generate(s, &f->m, &f->v, seed, &r);
    if (st != ITS_OK)
        fail_msg("generate: %s: %s", its_status_str(st), its_ctx_errmsg(f->ctx));
    its_sampler_free(s);
    return r;
}

/* ------------------------------------------------------------------------------------------ */

static void test_nfe_cap(void **state)
{
    fixture *f = *state;
    const its_solver solvers[] = {ITS_SOLVER_EULER, ITS_SOLVER_HEUN};
    const uint64_t caps[] = {10, 11, 19, 20, 27, 39, 57, 79, 80, 81, 1000};
    for (int si = 0; si < 2; si++) {
        its_run_params run;
        its_run_params_init(&run);
        run.steps = 10;
        run.solver = solvers[si];
        /* Heun: 2 NFE per step, the last step to 0 is Euler */
        uint64_t traj = si ? 19 : 10;
        for (size_t ci = 0; ci < sizeof(caps) / sizeof(caps[0]); ci++) {
            for (size_t mb = 0; mb < 3; mb++) {
                if (caps[ci] < traj)
                    continue;
                const size_t batches[3] = {0, 3, 1};
                f->m.max_batch = batches[mb];
                run.max_nfe = caps[ci];
                its_result *r = run_method(f, ITS_METHOD_BEST_OF_N, 8, &run, 4);
                its_usage u;
                its_result_usage(r, &u);
                uint64_t ntraj = caps[ci] / traj < 8 ? caps[ci] / traj : 8;
                assert_true(u.nfe <= caps[ci]);
                assert_int_equal(u.nfe, ntraj * traj);
                assert_int_equal(u.nfe, f->cm.rows);
                assert_int_equal(u.verifier_rows, ntraj);
                assert_int_equal(its_result_max_nfe(r), caps[ci]);
                assert_int_equal(its_result_stop(r), ITS_STOP_COMPLETED);
                its_result_free(r);
            }
        }
        f->m.max_batch = 0;
        /* smaller than one trajectory: an error that says what one trajectory costs */
        its_sampler *s = NULL;
        its_result *r = (its_result *)&r;
        for (int method = 0; method < 2; method++) {
            run.max_nfe = traj - 1;
            ITS_ASSERT_OK(its_sampler_create(f->ctx, (its_method)method, NULL, &run, &s));
            reset_counts(f);
            assert_int_equal(its_generate(s, &f->m, &f->v, 1, &r), ITS_ERR_BUDGET);
            assert_null(r);
            char want[64];
            snprintf(want, sizeof(want), "at least %llu NFE", (unsigned long long)traj);
            if (!strstr(its_ctx_errmsg(f->ctx), want) || !strstr(its_ctx_errmsg(f->ctx), "max_nfe"))
                fail_msg("message: %s", its_ctx_errmsg(f->ctx));
            assert_int_equal(f->cm.rows, 0); /* nothing was spent */
            its_sampler_free(s);
        }
    }
}

/* Samples and scores are bit-identical for any model and verifier batch size. */
static void test_batch_invariance(void **state)
{
    fixture *f = *state;
    const size_t mb[] = {0, 1, 3, 64};
    const size_t vb[] = {0, 1, 3, 64};
    enum { N = 7 };
    for (int cfg = 0; cfg < 3; cfg++) {
        for (int method = 0; method < 2; method++) {
            its_run_params run;
            its_run_params_init(&run);
            run.steps = 9;
            run.top_k = N;
            if (cfg == 1)
                run.solver = ITS_SOLVER_HEUN;
            if (cfg == 2)
                run.dynamics = ITS_DYN_SDE;
            float ref[N * DIM];
            double ref_s[N];
            size_t ref_n = 0;
            for (size_t a = 0; a < 4; a++) {
                for (size_t b = 0; b < 4; b++) {
                    f->m.max_batch = mb[a];
                    f->v.max_batch = vb[b];
                    its_result *r = run_method(f, (its_method)method, N, &run, 1234);
                    size_t n = its_result_count(r);
                    assert_int_equal(n, method ? N : 1);
                    if (mb[a])
                        assert_true(f->cm.max_rows <= mb[a]);
                    if (vb[b])
                        assert_true(f->cv.max_rows <= vb[b]);
                    its_usage u;
                    its_result_usage(r, &u);
                    assert_int_equal(u.nfe, f->cm.rows);
                    assert_int_equal(u.model_calls, f->cm.calls);
                    assert_int_equal(u.verifier_rows, f->cv.rows);
                    assert_int_equal(u.verifier_calls, f->cv.calls);
                    assert_int_equal(u.grad_rows, 0);
                    size_t per = (size_t)(method ? N : 1);
                    size_t calls_per_eval = mb[a] ? (per + mb[a] - 1) / mb[a] : 1;
                    size_t evals = cfg == 1 ? 17 : 9;
                    assert_int_equal(u.model_calls, calls_per_eval * evals);
                    assert_int_equal(u.nfe, per * evals);
                    assert_int_equal(u.verifier_calls, vb[b] ? (per + vb[b] - 1) / vb[b] : 1);
                    if (a == 0 && b == 0) {
                        ref_n = n;
                        for (size_t i = 0; i < n; i++) {
                            memcpy(ref + i * DIM, its_result_sample(r, i), DIM * sizeof(float));
                            ref_s[i] = its_result_score(r, i);
                        }
                    } else {
                        assert_int_equal(n, ref_n);
                        for (size_t i = 0; i < n; i++) {
                            assert_memory_equal(its_result_sample(r, i), ref + i * DIM,
                                                DIM * sizeof(float));
                            assert_memory_equal(&ref_s[i], &(double){its_result_score(r, i)},
                                                sizeof(double));
                        }
                    }
                    its_result_free(r);
                }
            }
        }
    }
    f->m.max_batch = 0;
    f->v.max_batch = 0;
}

static void test_trace_and_topk(void **state)
{
    fixture *f = *state;
    enum { N = 9, K = 5 };
    for (int dyn = 0; dyn < 2; dyn++) {
        its_run_params run;
        its_run_params_init(&run);
        run.steps = 8;
        run.dynamics = (its_dynamics)dyn;
        run.top_k = N;
        its_result *all = run_method(f, ITS_METHOD_BEST_OF_N, N, &run, 99);
        run.top_k = K;
        f->v.max_batch = 2; /* scores arrive in several calls: the trace sees several bests */
        its_result *r = run_method(f, ITS_METHOD_BEST_OF_N, N, &run, 99);
        f->v.max_batch = 0;
        assert_int_equal(its_result_count(all), N);
        assert_int_equal(its_result_count(r), K);
        for (size_t i = 0; i < K; i++) {
            double si = its_result_score(r, i);
            assert_true(isfinite(si));
            if (i)
                assert_true(si <= its_result_score(r, i - 1));
            /* the reported score is the verifier's score of the returned sample */
            float chk;
            f->cv.inner.score(f->cv.inner.user, its_result_sample(r, i), 1, &chk);
            assert_true((double)chk == si);
            for (size_t j = 0; j < i; j++)
                assert_memory_not_equal(its_result_sample(r, i), its_result_sample(r, j),
                                        DIM * sizeof(float));
            /* the top K of all N trajectories, in order */
            assert_memory_equal(its_result_sample(r, i), its_result_sample(all, i),
                                DIM * sizeof(float));
            assert_true(its_result_score(all, i) == si);
        }
        for (size_t i = 1; i < N; i++)
            assert_true(its_result_score(all, i) <= its_result_score(all, i - 1));
        /* trace: strictly increasing NFE, increasing best, ending at the best score */
        const its_trace_point *tp = NULL;
        size_t nt = its_result_trace(r, &tp);
        assert_true(nt >= 1);
        its_usage u;
        its_result_usage(r, &u);
        for (size_t i = 1; i < nt; i++) {
            assert_true(tp[i].nfe > tp[i - 1].nfe);
            assert_true(tp[i].best > tp[i - 1].best);
        }
        assert_true(tp[nt - 1].best == its_result_score(r, 0));
        assert_true(tp[nt - 1].nfe <= u.nfe);
        its_result_free(all);
        its_result_free(r);
    }
    /* top_k above n returns what there is */
    its_run_params run;
    its_run_params_init(&run);
    run.steps = 4;
    run.top_k = 10;
    its_result *r = run_method(f, ITS_METHOD_BEST_OF_N, 3, &run, 5);
    assert_int_equal(its_result_count(r), 3);
    its_result_free(r);
}

/* Trajectory i has lineage root i, so best_of_n with n = 1 is none, bit for bit, and the first
 * trajectory of any best_of_n run is the same path. */
static void test_bon1_equals_none(void **state)
{
    fixture *f = *state;
    for (int cfg = 0; cfg < 3; cfg++) {
        its_run_params run;
        its_run_params_init(&run);
        run.steps = 12;
        if (cfg == 1)
            run.solver = ITS_SOLVER_HEUN;
        if (cfg == 2) {
            run.dynamics = ITS_DYN_SDE;
            run.g_schedule = ITS_G_SIN;
            run.g_scale = 1.5;
        }
        for (uint64_t seed = 1; seed <= 3; seed++) {
            its_result *a = run_method(f, ITS_METHOD_NONE, 1, &run, seed);
            its_result *b = run_method(f, ITS_METHOD_BEST_OF_N, 1, &run, seed);
            assert_memory_equal(its_result_sample(a, 0), its_result_sample(b, 0),
                                DIM * sizeof(float));
            assert_true(its_result_score(a, 0) == its_result_score(b, 0));
            its_usage ua, ub;
            its_result_usage(a, &ua);
            its_result_usage(b, &ub);
            assert_int_equal(ua.nfe, ub.nfe);
            /* a different seed gives a different sample */
            its_result *c = run_method(f, ITS_METHOD_NONE, 1, &run, seed + 100);
            assert_memory_not_equal(its_result_sample(a, 0), its_result_sample(c, 0),
                                    DIM * sizeof(float));
            its_result_free(a);
            its_result_free(b);
            its_result_free(c);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_nfe_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_invariance, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_and_topk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bon1_equals_none, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
