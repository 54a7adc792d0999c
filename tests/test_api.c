/* The public API at its edges: NULL and absurd arguments, enum names, status strings, failing
 * and misbehaving callbacks, allocation fault injection, cancellation and deadlines. */
#define _POSIX_C_SOURCE 200809L
#include "its_test.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DIM 2

static void sleep_ms(double ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(fmod(ms, 1000.0) * 1e6)};
    nanosleep(&ts, NULL);
}

/* A model that forwards to the mixture and misbehaves on request. */
typedef struct wrap_model {
    its_model inner;
    long calls;
    long fail_call;     /* 0-based call that returns fail_rc; -1 never */
    int fail_rc;
    long bad_call;      /* 0-based call whose row bad_row gets bad_val; -1 never */
    size_t bad_row;
    float bad_val;
    double sleep_ms;    /* per call */
} wrap_model;

static int wrap_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    wrap_model *w = user;
    long c = w->calls++;
    if (w->sleep_ms > 0)
        sleep_ms(w->sleep_ms);
    if (c == w->fail_call)
        return w->fail_rc;
    int rc = w->inner.eval(w->inner.user, x, t, n, out);
    if (c == w->bad_call && w->bad_row < n)
        out[w->bad_row * w->inner.dim + 1] = w->bad_val;
    return rc;
}

static void wrap_init(wrap_model *w, its_gmm *g, its_model *m)
{
    memset(w, 0, sizeof(*w));
    its_gmm_bind_model(g, NULL, ITS_PRED_VELOCITY, &w->inner);
    w->fail_call = w->bad_call = -1;
    *m = w->inner;
    m->eval = wrap_eval;
    m->user = w;
}

typedef struct wrap_ver {
    its_verifier inner;
    long calls;
    long fail_call;
    long nan_call;
    size_t nan_row;
    float nan_val;
    double first_sleep_ms;
} wrap_ver;

static int wrap_score(void *user, const float *x0, size_t n, float *scores)
{
    wrap_ver *w = user;
    long c = w->calls++;
    if (c == 0 && w->first_sleep_ms > 0)
        sleep_ms(w->first_sleep_ms);
    if (c == w->fail_call)
        return 7;
    int rc = w->inner.score(w->inner.user, x0, n, scores);
    if (c == w->nan_call && w->nan_row < n)
        scores[w->nan_row] = w->nan_val;
    return rc;
}

static void wrap_ver_init(wrap_ver *w, its_gmm *g, its_verifier *v)
{
    memset(w, 0, sizeof(*w));
    ITS_ASSERT_OK(its_gmm_bind_logprob(g, 1, &w->inner));
    w->fail_call = w->nan_call = -1;
    w->nan_val = NAN;
    *v = w->inner;
    v->score = wrap_score;
    v->grad = NULL;
    v->user = w;
}

static int contains(const char *hay, const char *needle)
{
    return hay && strstr(hay, needle) != NULL;
}

#define ASSERT_MSG(ctx, needle)                                                             \
    do {                                                                                    \
        if (!contains(its_ctx_errmsg(ctx), needle))                                         \
            fail_msg("message '%s' does not mention '%s'", its_ctx_errmsg(ctx), needle);    \
    } while (0)

/* ------------------------------------------------------------------------------------------ */

static int log_calls;
static void count_log(void *user, its_log_level level, const char *msg)
{
    (void)user;
    (void)msg;
    log_calls += level == ITS_LOG_ERROR;
}

static void test_ctx_create(void **state)
{
    (void)state;
    its_ctx *ctx = (its_ctx *)&ctx;
    assert_int_equal(its_ctx_create(NULL, NULL), ITS_ERR_INVALID);
    ITS_ASSERT_OK(its_ctx_create(NULL, &ctx));
    assert_non_null(ctx);
    assert_string_equal(its_ctx_errmsg(ctx), "");
    assert_int_equal(its_ctx_errcode(ctx), ITS_OK);
    its_ctx_free(ctx);

    its_ctx_params p;
    its_ctx_params_init(&p);
    p.version = 99;
    assert_int_equal(its_ctx_create(&p, &ctx), ITS_ERR_INVALID);
    assert_null(ctx);
    /* with no context to hold it, the reason is its_ctx_errmsg(NULL) (this thread's last failed
     * create) and goes to the host's log */
    assert_non_null(strstr(its_ctx_errmsg(NULL), "its_ctx_params_init"));
    its_ctx_params_init(&p);
    p.n_threads = -3;
    log_calls = 0;
    p.log = count_log;
    assert_int_equal(its_ctx_create(&p, &ctx), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(NULL), "n_threads: expected 0 .. 1024"));
    assert_int_equal(log_calls, 1);
    its_ctx_params_init(&p);
    p.log_level = (its_log_level)42;
    assert_int_equal(its_ctx_create(&p, &ctx), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(NULL), "log_level"));
    its_test_alloc a = {0};
    its_test_ctx_params(&a, &p);
    p.allocator.free = NULL; /* alloc without free */
    assert_int_equal(its_ctx_create(&p, &ctx), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(NULL), "allocator"));
    its_backend_i be = *its_backend_cpu();
    be.version = 0;
    its_ctx_params_init(&p);
    p.backend = &be;
    assert_int_equal(its_ctx_create(&p, &ctx), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(NULL), "backend"));
    be = *its_backend_cpu();
    be.lincomb = NULL;
    assert_int_equal(its_ctx_create(&p, &ctx), ITS_ERR_INVALID);
    assert_null(ctx);
    /* a create that succeeds clears the reason */
    ITS_ASSERT_OK(its_ctx_create(NULL, &ctx));
    assert_string_equal(its_ctx_errmsg(NULL), "no context");
    its_ctx_free(ctx);
    /* the counting allocator: create and free leave nothing behind */
    its_test_ctx_params(&a, &p);
    ITS_ASSERT_OK(its_ctx_create(&p, &ctx));
    assert_true(a.live >= 1);
    its_ctx_free(ctx);
    assert_int_equal(a.live, 0);
}

typedef struct run_case {
    const char *field;
    its_status want;
    void (*set)(its_run_params *r);
} run_case;

static const double bad_grid[3] = {1.0, 0.5, 0.0};
static void rc_version(its_run_params *r) { r->version = 2; }
static void rc_steps0(its_run_params *r) { r->steps = 0; }
static void rc_steps_big(its_run_params *r) { r->steps = 1000000; }
static void rc_grid(its_run_params *r) { r->grid = (its_grid)9; }
static void rc_grid_custom(its_run_params *r) { r->grid = ITS_GRID_CUSTOM; }
static void rc_shift0(its_run_params *r) { r->grid_shift = 0; }
static void rc_shift_nan(its_run_params *r) { r->grid_shift = NAN; }
static void rc_tmax0(its_run_params *r) { r->t_max = 0; }
static void rc_tmax_big(its_run_params *r) { r->t_max = 1.5; }
static void rc_solver(its_run_params *r) { r->solver = (its_solver)5; }
static void rc_dyn(its_run_params *r) { r->dynamics = (its_dynamics)-1; }
static void rc_heun_sde(its_run_params *r)
{
    r->solver = ITS_SOLVER_HEUN;
    r->dynamics = ITS_DYN_SDE;
}
static void rc_g(its_run_params *r) { r->g_schedule = (its_g_schedule)77; }
static void rc_gscale(its_run_params *r) { r->g_scale = -1; }
static void rc_gscale_inf(its_run_params *r) { r->g_scale = INFINITY; }
static void rc_convert(its_run_params *r) { r->convert = 2; }
static void rc_target(its_run_params *r)
{
    r->convert = 1;
    r->target.beta_min = -1;
}
static void rc_deadline(its_run_params *r) { r->deadline_ms = -5; }
static void rc_deadline_nan(its_run_params *r) { r->deadline_ms = NAN; }
static void rc_topk0(its_run_params *r) { r->top_k = 0; }
static void rc_topk_big(its_run_params *r) { r->top_k = 100000; }
static void rc_nonfinite(its_run_params *r) { r->on_nonfinite = (its_nonfinite)3; }

static void test_sampler_create_args(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_sampler *s = (its_sampler *)&s;
    assert_int_equal(its_sampler_create(NULL, ITS_METHOD_NONE, NULL, NULL, &s), ITS_ERR_INVALID);
    assert_null(s);
    assert_int_equal(its_sampler_create(ctx, ITS_METHOD_NONE, NULL, NULL, NULL), ITS_ERR_INVALID);
    assert_int_equal(its_sampler_create(ctx, (its_method)-1, NULL, NULL, &s), ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "method");
    assert_int_equal(its_sampler_create(ctx, ITS_METHOD_COUNT_, NULL, NULL, &s),
                     ITS_ERR_INVALID);
    assert_null(s);
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, NULL, NULL, &s));
    assert_int_equal(its_sampler_method(s), ITS_METHOD_BEST_OF_N);
    its_sampler_free(s);

    const run_case cases[] = {
        {"run.version", ITS_ERR_INVALID, rc_version},
        {"run.steps", ITS_ERR_INVALID, rc_steps0},
        {"run.steps", ITS_ERR_INVALID, rc_steps_big},
        {"run.grid", ITS_ERR_INVALID, rc_grid},
        {"run.grid_custom", ITS_ERR_INVALID, rc_grid_custom},
        {"run.grid_shift", ITS_ERR_INVALID, rc_shift0},
        {"run.grid_shift", ITS_ERR_INVALID, rc_shift_nan},
        {"run.t_max", ITS_ERR_INVALID, rc_tmax0},
        {"run.t_max", ITS_ERR_INVALID, rc_tmax_big},
        {"run.solver", ITS_ERR_INVALID, rc_solver},
        {"run.dynamics", ITS_ERR_INVALID, rc_dyn},
        {"run.solver", ITS_ERR_UNSUPPORTED, rc_heun_sde},
        {"run.dynamics.g.schedule", ITS_ERR_INVALID, rc_g},
        {"run.dynamics.g.scale", ITS_ERR_INVALID, rc_gscale},
        {"run.dynamics.g.scale", ITS_ERR_INVALID, rc_gscale_inf},
        {"run.convert", ITS_ERR_INVALID, rc_convert},
        {"run.interp", ITS_ERR_INVALID, rc_target},
        {"run.budget.deadline_ms", ITS_ERR_INVALID, rc_deadline},
        {"run.budget.deadline_ms", ITS_ERR_INVALID, rc_deadline_nan},
        {"run.top_k", ITS_ERR_INVALID, rc_topk0},
        {"run.top_k", ITS_ERR_INVALID, rc_topk_big},
        {"run.on_nonfinite", ITS_ERR_INVALID, rc_nonfinite},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        its_run_params run;
        its_run_params_init(&run);
        cases[i].set(&run);
        s = (its_sampler *)&s;
        its_status st = its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, NULL, &run, &s);
        if (st != cases[i].want)
            fail_msg("case %zu (%s): got %s", i, cases[i].field, its_status_str(st));
        assert_null(s);
        ASSERT_MSG(ctx, cases[i].field);
    }
    /* the custom grid is copied: the caller's array may go away */
    its_run_params run;
    its_run_params_init(&run);
    run.grid = ITS_GRID_CUSTOM;
    run.steps = 2;
    run.grid_custom = bad_grid;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_NONE, NULL, &run, &s));
    its_sampler_free(s);

    /* method parameters: out of range and wrong version name the field */
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    assert_int_equal(bp.n, 4);
    bp.n = 0;
    assert_int_equal(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &bp, NULL, &s),
                     ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "params.n");
    bp.n = 1 << 20;
    assert_int_equal(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &bp, NULL, &s),
                     ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "params.n");
    bp.n = 3;
    bp.size = 0;
    assert_int_equal(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &bp, NULL, &s),
                     ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "params.size");
    assert_null(s);
    /* a success clears the last error */
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_NONE, NULL, NULL, &s));
    assert_string_equal(its_ctx_errmsg(ctx), "");
    its_sampler_free(s);
    its_ctx_free(ctx);
}

static void test_generate_args(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = its_test_gmm2(ctx, DIM, 2.0, 0.5, 0.2);
    its_model m;
    its_verifier v;
    its_gmm_bind_model(g, NULL, ITS_PRED_VELOCITY, &m);
    ITS_ASSERT_OK(its_gmm_bind_logprob(g, 1, &v));
    its_sampler *s = NULL, *sb = NULL;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_NONE, NULL, NULL, &s));
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, NULL, NULL, &sb));
    its_result *r = (its_result *)&r;

    assert_int_equal(its_generate(NULL, &m, &v, 1, &r), ITS_ERR_INVALID);
    assert_null(r);
    assert_int_equal(its_generate(s, &m, &v, 1, NULL), ITS_ERR_INVALID);
    assert_int_equal(its_generate(s, NULL, &v, 1, &r), ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "model is NULL");
    its_model bad = m;
    bad.dim = 0;
    assert_int_equal(its_generate(s, &bad, &v, 1, &r), ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "model.dim");
    bad = m;
    bad.eval = NULL;
    assert_int_equal(its_generate(s, &bad, &v, 1, &r), ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "model.eval");
    bad = m;
    bad.version = 0;
    assert_int_equal(its_generate(s, &bad, &v, 1, &r), ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "model.version");
    bad = m;
    bad.pred = (its_pred)12;
    assert_int_equal(its_generate(s, &bad, &v, 1, &r), ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "model.pred");
    bad = m;
    bad.interp.kind = ITS_INTERP_CUSTOM; /* no functions */
    assert_int_equal(its_generate(s, &bad, &v, 1, &r), ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "model.interp");
    bad = m;
    bad.max_batch = SIZE_MAX;
    assert_int_equal(its_generate(s, &bad, &v, 1, &r), ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "model.max_batch");
    its_verifier vb = v;
    vb.version = 3;
    assert_int_equal(its_generate(s, &m, &vb, 1, &r), ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "verifier.version");
    vb = v;
    vb.score = NULL;
    assert_int_equal(its_generate(s, &m, &vb, 1, &r), ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "verifier.score");
    vb = v;
    vb.max_batch = SIZE_MAX;
    assert_int_equal(its_generate(s, &m, &vb, 1, &r), ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "verifier.max_batch");
    /* best_of_n needs a verifier; none does not (its output is unscored) */
    assert_int_equal(its_generate(sb, &m, NULL, 1, &r), ITS_ERR_INVALID);
    ASSERT_MSG(ctx, "best_of_n needs a verifier");
    assert_null(r);
    ITS_ASSERT_OK(its_generate(s, &m, NULL, 1, &r));
    assert_int_equal(its_result_count(r), 1);
    assert_true(isnan(its_result_score(r, 0)));
    assert_int_equal(its_result_dim(r), DIM);
    assert_int_equal(its_result_seed(r), 1);
    assert_int_equal(its_result_method(r), ITS_METHOD_NONE);
    assert_int_equal(its_result_status(r), ITS_OK);
    assert_int_equal(its_result_stop(r), ITS_STOP_COMPLETED);
    assert_null(its_result_sample(r, 1));
    assert_true(isnan(its_result_score(r, 5)));
    its_result_free(r);
    its_sampler_free(s);
    its_sampler_free(sb);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

#define ENUM_CASE(type, count)                                                                 \
    do {                                                                                       \
        for (int i = 0; i < (int)(count); i++) {                                               \
            const char *nm = type##_name((type)i);                                            \
            assert_non_null(nm);                                                              \
            type back = (type)-1;                                                              \
            ITS_ASSERT_OK(type##_parse(nm, &back));                                            \
            assert_int_equal((int)back, i);                                                    \
            for (int j = 0; j < i; j++)                                                        \
                assert_string_not_equal(nm, type##_name((type)j));                             \
        }                                                                                      \
        assert_null(type##_name((type)(count)));                                               \
        assert_null(type##_name((type)-1));                                                    \
        type out_ = (type)0;                                                                   \
        assert_int_equal(type##_parse("no_such_name", &out_), ITS_ERR_INVALID);                \
        assert_int_equal(type##_parse("", &out_), ITS_ERR_INVALID);                            \
        assert_int_equal(type##_parse(NULL, &out_), ITS_ERR_INVALID);                          \
        assert_int_equal(type##_parse(type##_name((type)0), NULL), ITS_ERR_INVALID);           \
        n_enums++;                                                                             \
    } while (0)

static void test_enums(void **state)
{
    (void)state;
    int n_enums = 0;
    ENUM_CASE(its_interp_kind, ITS_INTERP_COUNT_);
    ENUM_CASE(its_pred, ITS_PRED_COUNT_);
    ENUM_CASE(its_solver, ITS_SOLVER_COUNT_);
    ENUM_CASE(its_dynamics, ITS_DYN_COUNT_);
    ENUM_CASE(its_g_schedule, ITS_G_COUNT_);
    ENUM_CASE(its_grid, ITS_GRID_COUNT_);
    ENUM_CASE(its_method, ITS_METHOD_COUNT_);
    ENUM_CASE(its_nonfinite, ITS_NONFINITE_COUNT_);
    ENUM_CASE(its_stop, ITS_STOP_COUNT_);
    ENUM_CASE(its_log_level, ITS_LOG_COUNT_);
    ENUM_CASE(its_stall, ITS_STALL_COUNT_);
    ENUM_CASE(its_potential, ITS_POT_COUNT_);
    ENUM_CASE(its_resampler, ITS_RESAMPLE_COUNT_);
    ENUM_CASE(its_bfs_mode, ITS_BFS_COUNT_);
    ENUM_CASE(its_ls_schedule, ITS_LS_COUNT_);
    ENUM_CASE(its_finish, ITS_FINISH_COUNT_);
    assert_int_equal(n_enums, 16);
    /* exact and case-sensitive */
    its_method m;
    assert_int_equal(its_method_parse("Best_Of_N", &m), ITS_ERR_INVALID);
    assert_int_equal(its_method_parse("best_of_n ", &m), ITS_ERR_INVALID);
    ITS_ASSERT_OK(its_method_parse("best_of_n", &m));
    assert_int_equal(m, ITS_METHOD_BEST_OF_N);
    its_interp_kind k;
    ITS_ASSERT_OK(its_interp_kind_parse("vp_cosine", &k));
    assert_int_equal(k, ITS_INTERP_VP_COSINE);
}

static void test_status_str(void **state)
{
    (void)state;
    const its_status all[] = {ITS_OK, ITS_ERR_INVALID, ITS_ERR_NOMEM, ITS_ERR_CALLBACK,
                              ITS_ERR_NUMERIC, ITS_ERR_BUDGET, ITS_ERR_CONFIG,
                              ITS_ERR_UNSUPPORTED, ITS_ERR_IO, ITS_CANCELLED};
    const char *names[] = {"ITS_OK", "ITS_ERR_INVALID", "ITS_ERR_NOMEM", "ITS_ERR_CALLBACK",
                           "ITS_ERR_NUMERIC", "ITS_ERR_BUDGET", "ITS_ERR_CONFIG",
                           "ITS_ERR_UNSUPPORTED", "ITS_ERR_IO", "ITS_CANCELLED"};
    for (size_t i = 0; i < 10; i++)
        assert_string_equal(its_status_str(all[i]), names[i]);
    assert_non_null(its_status_str((its_status)-99));
    assert_non_null(its_status_str((its_status)12345));
    assert_string_equal(its_version(), ITS_VERSION_STRING);
    assert_int_equal(its_version_number(), ITS_VERSION_NUMBER);
}

static void test_null_tolerance(void **state)
{
    (void)state;
    its_ctx_free(NULL);
    its_sampler_free(NULL);
    its_result_free(NULL);
    its_gmm_free(NULL);
    its_ctx_mem_free(NULL, NULL);
    its_ctx_params_init(NULL);
    its_run_params_init(NULL);
    its_model_init(NULL);
    its_verifier_init(NULL);
    its_interp_init(NULL, ITS_INTERP_VP);
    its_none_params_init(NULL);
    its_best_of_n_params_init(NULL);
    assert_non_null(its_ctx_errmsg(NULL));
    assert_int_equal(its_ctx_errcode(NULL), ITS_ERR_INVALID);
    assert_int_equal(its_result_count(NULL), 0);
    assert_int_equal(its_result_dim(NULL), 0);
    assert_null(its_result_sample(NULL, 0));
    assert_true(isnan(its_result_score(NULL, 0)));
    its_usage u;
    memset(&u, 0xff, sizeof(u));
    its_result_usage(NULL, &u);
    assert_int_equal(u.nfe, 0);
    its_result_usage(NULL, NULL);
    const its_trace_point *tp = (const its_trace_point *)&tp;
    assert_int_equal(its_result_trace(NULL, &tp), 0);
    assert_null(tp);
    const its_step_usage *su = (const its_step_usage *)&su;
    assert_int_equal(its_result_steps(NULL, &su), 0);
    assert_null(su);
    assert_int_equal(its_sampler_method(NULL), ITS_METHOD_COUNT_);
    assert_int_equal(its_gmm_dim(NULL), 0);
    its_ctx *ctx = its_test_ctx(NULL);
    its_ctx_mem_free(ctx, NULL);
    its_gmm *g = (its_gmm *)&g;
    double w = 1, mu = 0, sd = 0;
    assert_int_equal(its_gmm_create(ctx, 1, 1, &w, &mu, &sd, &g), ITS_ERR_INVALID);
    assert_null(g);
    assert_int_equal(its_gmm_create(ctx, 0, 1, &w, &mu, &sd, &g), ITS_ERR_INVALID);
    assert_int_equal(its_gmm_create(ctx, 1, 1, NULL, &mu, &sd, &g), ITS_ERR_INVALID);
    its_ctx_free(ctx);
}

static void test_callback_failure(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = its_test_gmm2(ctx, DIM, 2.0, 0.5, 0.2);
    wrap_model w;
    wrap_ver wv;
    its_model m;
    its_verifier v;
    wrap_init(&w, g, &m);
    wrap_ver_init(&wv, g, &v);
    its_run_params run;
    its_run_params_init(&run);
    run.steps = 6;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, NULL, &run, &s));
    its_result *r = (its_result *)&r;

    w.fail_call = 3;
    w.fail_rc = -42;
    assert_int_equal(its_generate(s, &m, &v, 1, &r), ITS_ERR_CALLBACK);
    assert_null(r);
    ASSERT_MSG(ctx, "model eval callback returned -42");
    ASSERT_MSG(ctx, "call 4");
    assert_int_equal(its_ctx_errcode(ctx), ITS_ERR_CALLBACK);

    /* the verifier's failure names the verifier */
    w.fail_call = -1;
    w.calls = 0;
    wv.fail_call = 0;
    assert_int_equal(its_generate(s, &m, &v, 1, &r), ITS_ERR_CALLBACK);
    ASSERT_MSG(ctx, "verifier score callback returned 7");
    ASSERT_MSG(ctx, "call 1");

    /* and the same sampler runs cleanly afterwards */
    wv.fail_call = -1;
    ITS_ASSERT_OK(its_generate(s, &m, &v, 1, &r));
    assert_string_equal(its_ctx_errmsg(ctx), "");
    its_result_free(r);
    its_sampler_free(s);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

static void test_nonfinite(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = its_test_gmm2(ctx, DIM, 2.0, 0.5, 0.2);
    wrap_model w;
    wrap_ver wv;
    its_model m;
    its_verifier v;
    wrap_init(&w, g, &m);
    wrap_ver_init(&wv, g, &v);
    its_run_params run;
    its_run_params_init(&run);
    run.steps = 6;
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    bp.n = 5;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &bp, &run, &s));
    its_result *r = (its_result *)&r;
    const float bad[2] = {NAN, INFINITY};
    for (int b = 0; b < 2; b++) {
        w.calls = 0;
        w.bad_call = 2;
        w.bad_row = 3;
        w.bad_val = bad[b];
        assert_int_equal(its_generate(s, &m, &v, 9, &r), ITS_ERR_NUMERIC);
        assert_null(r);
        ASSERT_MSG(ctx, "model eval callback returned a non-finite value");
        ASSERT_MSG(ctx, "row 3");
        ASSERT_MSG(ctx, "call 3");
    }
    /* with max_batch 2, row 3 is row 1 of the call: the message still names the set's row */
    m.max_batch = 2;
    w.calls = 0;
    w.bad_call = 1; /* rows 2..3 of the first step */
    w.bad_row = 1;
    w.bad_val = NAN;
    assert_int_equal(its_generate(s, &m, &v, 9, &r), ITS_ERR_NUMERIC);
    ASSERT_MSG(ctx, "row 3");
    m.max_batch = 0;

    /* drop: the run goes on without that particle, whose score is -inf */
    its_sampler_free(s);
    run.on_nonfinite = ITS_NONFINITE_DROP;
    run.top_k = 5;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &bp, &run, &s));
    w.calls = 0;
    w.bad_call = 2;
    w.bad_row = 3;
    ITS_ASSERT_OK(its_generate(s, &m, &v, 9, &r));
    assert_int_equal(its_result_count(r), 5);
    for (size_t i = 0; i < 4; i++)
        assert_true(isfinite(its_result_score(r, i)));
    assert_true(its_result_score(r, 4) == -INFINITY);
    its_usage u;
    its_result_usage(r, &u);
    assert_int_equal(u.nfe, 30);
    its_result_free(r);
    its_sampler_free(s);

    /* NaN from the verifier is an error naming the verifier and the row */
    run.on_nonfinite = ITS_NONFINITE_ERROR;
    run.top_k = 1;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &bp, &run, &s));
    w.bad_call = -1;
    wv.calls = 0;
    wv.nan_call = 0;
    wv.nan_row = 2;
    assert_int_equal(its_generate(s, &m, &v, 9, &r), ITS_ERR_NUMERIC);
    assert_null(r);
    ASSERT_MSG(ctx, "verifier score callback returned NaN");
    ASSERT_MSG(ctx, "row 2");
    /* -inf is a legal verdict ("reject"), not an error: that row ranks last */
    its_sampler_free(s);
    run.top_k = 5;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &bp, &run, &s));
    wv.calls = 0;
    wv.nan_val = -INFINITY;
    ITS_ASSERT_OK(its_generate(s, &m, &v, 9, &r));
    assert_int_equal(its_result_count(r), 5);
    assert_true(isfinite(its_result_score(r, 3)));
    assert_true(its_result_score(r, 4) == -INFINITY);
    its_result_free(r);
    wv.nan_call = -1;
    its_sampler_free(s);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

/* One full best_of_n run through a context with the counting allocator. Returns the first
 * failing status, or ITS_OK with the best sample copied to out. */
static its_status full_run(its_test_alloc *a, float *out, double *score)
{
    its_ctx_params p;
    its_test_ctx_params(a, &p);
    its_ctx *ctx = NULL;
    its_status st = its_ctx_create(&p, &ctx);
    if (st != ITS_OK) {
        assert_null(ctx);
        return st;
    }
    its_gmm *g = its_test_gmm2(ctx, DIM, 2.0, 0.5, 0.2);
    if (!g) {
        assert_int_equal(its_ctx_errcode(ctx), ITS_ERR_NOMEM);
        its_ctx_free(ctx);
        return ITS_ERR_NOMEM;
    }
    its_model m;
    its_verifier v;
    its_gmm_bind_model(g, NULL, ITS_PRED_VELOCITY, &m);
    its_gmm_bind_logprob(g, 1, &v);
    its_run_params run;
    its_run_params_init(&run);
    run.steps = 5;
    run.top_k = 2;
    run.dynamics = ITS_DYN_SDE;
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    bp.n = 3;
    its_sampler *s = NULL;
    its_result *r = NULL;
    st = its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &bp, &run, &s);
    if (st == ITS_OK) {
        st = its_generate(s, &m, &v, 77, &r);
        if (st == ITS_OK) {
            memcpy(out, its_result_sample(r, 0), DIM * sizeof(float));
            *score = its_result_score(r, 0);
        } else {
            assert_null(r);
        }
    } else {
        assert_null(s);
    }
    if (st != ITS_OK) {
        assert_int_equal(st, ITS_ERR_NOMEM);
        assert_int_equal(its_ctx_errcode(ctx), ITS_ERR_NOMEM);
        assert_true(contains(its_ctx_errmsg(ctx), "memory") ||
                    contains(its_ctx_errmsg(ctx), "alloc"));
        /* the context stays usable: the same step succeeds once memory is there again */
        long saved = a->fail_at;
        a->fail_at = 0;
        its_sampler *s2 = s;
        if (!s2)
            ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &bp, &run, &s2));
        its_result *r2 = NULL;
        ITS_ASSERT_OK(its_generate(s2, &m, &v, 77, &r2));
        assert_int_equal(its_result_count(r2), 2);
        its_result_free(r2);
        if (s2 != s)
            its_sampler_free(s2);
        a->fail_at = saved;
    }
    its_result_free(r);
    its_sampler_free(s);
    its_gmm_free(g);
    its_ctx_free(ctx);
    return st;
}

static void test_alloc_faults(void **state)
{
    (void)state;
    float ref[DIM], got[DIM];
    double ref_score = NAN, score = NAN;
    its_test_alloc a = {0};
    ITS_ASSERT_OK(full_run(&a, ref, &ref_score));
    assert_int_equal(a.live, 0);
    long total = a.calls;
    assert_true(total > 5);
    long k;
    for (k = 1;; k++) {
        memset(&a, 0, sizeof(a));
        a.fail_at = k;
        its_status st = full_run(&a, got, &score);
        assert_int_equal(a.live, 0); /* no leaks on any path */
        if (a.failures == 0) {
            ITS_ASSERT_OK(st);
            break;
        }
        assert_int_equal(st, ITS_ERR_NOMEM);
        assert_int_equal(a.failures, 1);
    }
    /* every allocation was failed once, and the last run is the unfaulted one */
    assert_int_equal(k, total + 1);
    assert_memory_equal(got, ref, sizeof(ref));
    assert_true(score == ref_score);
}

typedef struct cancel_state {
    uint64_t after_nfe;
    int calls;
    uint64_t last_nfe;
    uint64_t max_nfe_seen;
} cancel_state;

static int cancel_progress(void *user, const its_progress *p)
{
    cancel_state *c = user;
    c->calls++;
    assert_true(p->nfe >= c->last_nfe);
    c->last_nfe = p->nfe;
    c->max_nfe_seen = p->max_nfe;
    return p->nfe >= c->after_nfe;
}

static void test_cancel(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = its_test_gmm2(ctx, DIM, 2.0, 0.5, 0.2);
    its_model m;
    its_verifier v;
    its_gmm_bind_model(g, NULL, ITS_PRED_VELOCITY, &m);
    ITS_ASSERT_OK(its_gmm_bind_logprob(g, 1, &v));
    m.max_batch = 2;
    cancel_state cs = {.after_nfe = 10};
    its_run_params run;
    its_run_params_init(&run);
    run.steps = 10;
    run.progress = cancel_progress;
    run.progress_user = &cs;
    run.max_nfe = 1000;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, NULL, &run, &s));
    its_result *r = NULL;
    assert_int_equal(its_generate(s, &m, &v, 3, &r), ITS_CANCELLED);
    assert_non_null(r);
    assert_int_equal(its_result_status(r), ITS_CANCELLED);
    assert_int_equal(its_result_stop(r), ITS_STOP_CANCELLED);
    ASSERT_MSG(ctx, "cancel");
    its_usage u;
    its_result_usage(r, &u);
    /* the callback asked to stop at 10 NFE: no model call after that one */
    assert_int_equal(u.nfe, 10);
    assert_int_equal(cs.max_nfe_seen, 1000);
    assert_int_equal(cs.calls, 5);
    its_result_free(r);

    /* a callback that never cancels sees every call, in increasing NFE */
    cs.after_nfe = UINT64_MAX;
    cs.calls = 0;
    cs.last_nfe = 0;
    ITS_ASSERT_OK(its_generate(s, &m, &v, 3, &r));
    assert_int_equal(cs.calls, 20); /* 10 steps x 2 calls of 2 rows */
    assert_int_equal(cs.last_nfe, 40);
    assert_int_equal(its_result_stop(r), ITS_STOP_COMPLETED);
    its_result_free(r);
    its_sampler_free(s);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

static void test_deadline(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = its_test_gmm2(ctx, DIM, 2.0, 0.5, 0.2);
    wrap_model w;
    wrap_ver wv;
    its_model m;
    its_verifier v;
    wrap_init(&w, g, &m);
    wrap_ver_init(&wv, g, &v);
    its_run_params run;
    its_run_params_init(&run);
    run.steps = 8;
    run.deadline_ms = 400;
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    bp.n = 6;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &bp, &run, &s));
    /* the model takes ~1 ms a call (8 calls); the first verifier call outlasts the deadline, so
     * the run stops after scoring one batch and returns its best */
    w.sleep_ms = 1;
    wv.first_sleep_ms = 700;
    v.max_batch = 2;
    its_result *r = NULL;
    ITS_ASSERT_OK(its_generate(s, &m, &v, 5, &r));
    assert_int_equal(its_result_stop(r), ITS_STOP_DEADLINE);
    assert_int_equal(its_result_count(r), 1);
    assert_true(isfinite(its_result_score(r, 0)));
    its_usage u;
    its_result_usage(r, &u);
    assert_int_equal(u.nfe, 48);
    assert_int_equal(u.verifier_rows, 2);
    assert_int_equal(u.verifier_calls, 1);
    its_result_free(r);

    /* a deadline that passes while the model runs, before anything was scored, has nothing to
     * return: ITS_ERR_BUDGET naming the deadline */
    its_sampler_free(s);
    run.steps = 100;
    run.deadline_ms = 20;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_NONE, NULL, &run, &s));
    w.sleep_ms = 2;
    w.calls = 0;
    wv.calls = 0;
    wv.first_sleep_ms = 0;
    assert_int_equal(its_generate(s, &m, &v, 5, &r), ITS_ERR_BUDGET);
    assert_null(r);
    ASSERT_MSG(ctx, "deadline");
    assert_true(w.calls < 100);
    its_sampler_free(s);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctx_create),
        cmocka_unit_test(test_sampler_create_args),
        cmocka_unit_test(test_generate_args),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_status_str),
        cmocka_unit_test(test_null_tolerance),
        cmocka_unit_test(test_callback_failure),
        cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_alloc_faults),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
