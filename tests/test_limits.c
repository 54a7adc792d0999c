/* Absurd sizes are refused with a reason: run parameters, particle counts and budgets outside
 * their ranges fail in its_sampler_create with every block it took freed again, model checks fail
 * in its_generate before any allocation (counted), and sizes that are in range but cannot be allocated (dim 2^28 with 2^20
 * particles) end in ITS_ERR_NOMEM with a message and nothing left allocated. */
#define _POSIX_C_SOURCE 200809L
#include "reliab.h"

#include <limits.h>
#include <stdlib.h>

/* The shared counting allocator, refusing single blocks above 64 MiB, so in-range but huge
 * requests fail the same way on every machine and never touch real memory. */
typedef its_test_alloc cap_alloc;

#define CAP_BYTES ((size_t)64 << 20)

static its_ctx *cap_ctx(cap_alloc *a)
{
    a->max_block = CAP_BYTES;
    its_ctx_params p;
    its_test_ctx_params(a, &p);
    its_ctx *ctx = NULL;
    return its_ctx_create(&p, &ctx) == ITS_OK ? ctx : NULL;
}

/* ---- creation-time limits ---- */
typedef struct create_case {
    const char *name;
    its_method m;
    void (*mutate)(rl_params *p, its_run_params *run);
    its_status want;
    const char *msg; /* substring the message must hold */
} create_case;

static const double bad_grid[5] = {1.0, 0.5, 0.7, 0.2, 0.0};
static const double nan_grid[5] = {1.0, 0.5, NAN, 0.2, 0.0};

static void m_steps0(rl_params *p, its_run_params *r) { (void)p; r->steps = 0; }
static void m_steps_neg(rl_params *p, its_run_params *r) { (void)p; r->steps = -1; }
static void m_steps_max(rl_params *p, its_run_params *r) { (void)p; r->steps = INT_MAX; }
static void m_topk0(rl_params *p, its_run_params *r) { (void)p; r->top_k = 0; }
static void m_topk_max(rl_params *p, its_run_params *r) { (void)p; r->top_k = INT_MAX; }
static void m_n0(rl_params *p, its_run_params *r) { (void)r; p->bon.n = 0; }
static void m_n_neg(rl_params *p, its_run_params *r) { (void)r; p->bon.n = INT_MIN; }
static void m_n_max(rl_params *p, its_run_params *r) { (void)r; p->bon.n = INT_MAX; }
static void m_beam_rows(rl_params *p, its_run_params *r)
{
    (void)r;
    p->beam.beams = 65536;
    p->beam.children = 65536;
}
static void m_svdd_rows(rl_params *p, its_run_params *r)
{
    (void)r;
    p->svdd.n = 65536;
    p->svdd.children = 65536;
}
static void m_gscale_inf(rl_params *p, its_run_params *r) { (void)p; r->g_scale = INFINITY; }
static void m_gscale_nan(rl_params *p, its_run_params *r) { (void)p; r->g_scale = NAN; }
static void m_tmax_nan(rl_params *p, its_run_params *r) { (void)p; r->t_max = NAN; }
static void m_tmax_big(rl_params *p, its_run_params *r) { (void)p; r->t_max = 2.0; }
static void m_deadline_neg(rl_params *p, its_run_params *r) { (void)p; r->deadline_ms = -1; }
static void m_deadline_inf(rl_params *p, its_run_params *r) { (void)p; r->deadline_ms = INFINITY; }
static void m_solver(rl_params *p, its_run_params *r) { (void)p; r->solver = (its_solver)99; }
static void m_version(rl_params *p, its_run_params *r) { (void)p; r->version = 99; }
static void m_rbf_budget(rl_params *p, its_run_params *r) { (void)p; r->max_nfe = 1; }
static void m_zo_nobudget(rl_params *p, its_run_params *r)
{
    p->zo.rounds = 0;
    r->max_nfe = 0;
}
static void m_grid_order(rl_params *p, its_run_params *r)
{
    (void)p;
    r->grid = ITS_GRID_CUSTOM;
    r->grid_custom = bad_grid;
}
static void m_grid_nan(rl_params *p, its_run_params *r)
{
    (void)p;
    r->grid = ITS_GRID_CUSTOM;
    r->grid_custom = nan_grid;
}
static void m_tau_nan(rl_params *p, its_run_params *r) { (void)r; p->zo.tau = NAN; }
static void m_fk_lambda_inf(rl_params *p, its_run_params *r) { (void)r; p->fk.lambda = INFINITY; }

static const create_case create_cases[] = {
    {"steps 0", ITS_METHOD_NONE, m_steps0, ITS_ERR_INVALID, "run.steps"},
    {"steps -1", ITS_METHOD_NONE, m_steps_neg, ITS_ERR_INVALID, "run.steps"},
    {"steps INT_MAX", ITS_METHOD_BEST_OF_N, m_steps_max, ITS_ERR_INVALID, "run.steps"},
    {"top_k 0", ITS_METHOD_BEST_OF_N, m_topk0, ITS_ERR_INVALID, "run.top_k"},
    {"top_k INT_MAX", ITS_METHOD_BEST_OF_N, m_topk_max, ITS_ERR_INVALID, "run.top_k"},
    {"n 0", ITS_METHOD_BEST_OF_N, m_n0, ITS_ERR_INVALID, "params.n"},
    {"n INT_MIN", ITS_METHOD_BEST_OF_N, m_n_neg, ITS_ERR_INVALID, "params.n"},
    {"n INT_MAX", ITS_METHOD_BEST_OF_N, m_n_max, ITS_ERR_INVALID, "params.n"},
    {"beam 2^16 x 2^16 rows", ITS_METHOD_BEAM, m_beam_rows, ITS_ERR_INVALID, "params.children"},
    {"svdd 2^16 x 2^16 rows", ITS_METHOD_SVDD, m_svdd_rows, ITS_ERR_INVALID, "params.children"},
    {"g scale inf", ITS_METHOD_SVDD, m_gscale_inf, ITS_ERR_INVALID, "run.dynamics.g.scale"},
    {"g scale NaN", ITS_METHOD_BEAM, m_gscale_nan, ITS_ERR_INVALID, "run.dynamics.g.scale"},
    {"t_max NaN", ITS_METHOD_NONE, m_tmax_nan, ITS_ERR_INVALID, "run.t_max"},
    {"t_max 2", ITS_METHOD_NONE, m_tmax_big, ITS_ERR_INVALID, "run.t_max"},
    {"deadline -1", ITS_METHOD_NONE, m_deadline_neg, ITS_ERR_INVALID, "deadline_ms"},
    {"deadline inf", ITS_METHOD_NONE, m_deadline_inf, ITS_ERR_INVALID, "deadline_ms"},
    {"solver 99", ITS_METHOD_NONE, m_solver, ITS_ERR_INVALID, "run.solver"},
    {"run version 99", ITS_METHOD_NONE, m_version, ITS_ERR_INVALID, "run.version"},
    {"rbf max_nfe 1", ITS_METHOD_RBF, m_rbf_budget, ITS_ERR_BUDGET, "NFE"},
    {"zero_order without rounds or cap", ITS_METHOD_ZERO_ORDER, m_zo_nobudget, ITS_ERR_INVALID,
     "params.rounds"},
    {"custom grid not decreasing", ITS_METHOD_NONE, m_grid_order, ITS_ERR_INVALID, "grid_custom"},
    {"custom grid NaN", ITS_METHOD_NONE, m_grid_nan, ITS_ERR_INVALID, "grid_custom"},
    {"zero_order tau NaN", ITS_METHOD_ZERO_ORDER, m_tau_nan, ITS_ERR_INVALID, "params.tau"},
    {"fk_smc lambda inf", ITS_METHOD_FK_SMC, m_fk_lambda_inf, ITS_ERR_INVALID, "params.lambda"},
};

static void test_limits_create(void **state)
{
    (void)state;
    cap_alloc a = {0};
    its_ctx *ctx = cap_ctx(&a);
    assert_non_null(ctx);
    for (size_t i = 0; i < sizeof(create_cases) / sizeof(create_cases[0]); i++) {
        const create_case *c = &create_cases[i];
        if (!rl_registered(c->m))
            continue;
        rl_params p;
        its_run_params run;
        rl_small(c->m, &p, &run);
        c->mutate(&p, &run);
        long calls0 = a.calls, live0 = a.live;
        its_sampler *s = (its_sampler *)&a; /* must be reset to NULL */
        its_status st = its_sampler_create(ctx, c->m, &p, &run, &s);
        const char *msg = its_ctx_errmsg(ctx);
        printf("# %-34s -> %s (%ld allocations, all freed): %s\n", c->name, its_status_str(st),
               a.calls - calls0, msg);
        if (st != c->want || !strstr(msg, c->msg))
            fail_msg("%s: got %s \"%s\", expected %s naming %s", c->name, its_status_str(st), msg,
                     its_status_str(c->want), c->msg);
        assert_null(s);
        if (a.live != live0)
            fail_msg("%s: %ld blocks left after the rejection", c->name, a.live - live0);
    }
    /* a method number outside the enum */
    its_sampler *s = NULL;
    assert_int_equal(its_sampler_create(ctx, (its_method)ITS_METHOD_COUNT_, NULL, NULL, &s),
                     ITS_ERR_INVALID);
    assert_null(s);
    assert_true(its_ctx_errmsg(ctx)[0] != '\0');
    its_ctx_free(ctx);
    assert_int_equal(a.live, 0);
}

/* ---- generation-time limits ---- */
static void test_limits_model(void **state)
{
    (void)state;
    cap_alloc a = {0};
    its_ctx *ctx = cap_ctx(&a);
    rl_fixture f;
    assert_int_equal(rl_fixture_init(&f, ctx, 2), 0);
    rl_params p;
    its_run_params run;
    rl_small(ITS_METHOD_BEST_OF_N, &p, &run);
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &p, &run, &s));
    struct {
        const char *name;
        size_t dim, max_batch;
        const char *msg;
    } cases[] = {
        {"dim 0", 0, 0, "model.dim"},
        {"dim 2^28 + 1", ((size_t)1 << 28) + 1, 0, "model.dim"},
        {"dim SIZE_MAX", SIZE_MAX, 0, "model.dim"},
        {"max_batch 2^24 + 1", 2, ((size_t)1 << 24) + 1, "model.max_batch"},
        {"max_batch SIZE_MAX", 2, SIZE_MAX, "model.max_batch"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        its_model m = f.model;
        m.dim = cases[i].dim;
        m.max_batch = cases[i].max_batch;
        long calls0 = a.calls;
        its_result *r = NULL;
        its_status st = its_generate(s, &m, &f.ver, 1, &r);
        printf("# %-34s -> %s: %s\n", cases[i].name, its_status_str(st), its_ctx_errmsg(ctx));
        assert_int_equal(st, ITS_ERR_INVALID);
        assert_non_null(strstr(its_ctx_errmsg(ctx), cases[i].msg));
        assert_null(r);
        assert_int_equal(a.calls, calls0);
    }
    its_verifier v = f.ver;
    v.max_batch = SIZE_MAX;
    its_result *r = NULL;
    long calls0 = a.calls;
    assert_int_equal(its_generate(s, &f.model, &v, 1, &r), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "verifier.max_batch"));
    assert_int_equal(a.calls, calls0);
    its_model m = f.model;
    m.eval = NULL;
    assert_int_equal(its_generate(s, &m, &f.ver, 1, &r), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "model.eval"));
    assert_int_equal(its_generate(s, &f.model, NULL, 1, &r), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "verifier"));
    assert_int_equal(a.calls, calls0);
    its_sampler_free(s);
    its_gmm_free(f.gmm);
    its_ctx_free(ctx);
    assert_int_equal(a.live, 0);
}

/* The model callback of a huge-dimension model must never run: memory cannot be had. */
static int never_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    (void)x;
    (void)t;
    (void)n;
    (void)out;
    (*(int *)user)++;
    return 1;
}

static void test_limits_huge(void **state)
{
    (void)state;
    cap_alloc a = {0};
    its_ctx *ctx = cap_ctx(&a);
    int evals = 0;
    its_model m;
    its_model_init(&m);
    m.dim = (size_t)1 << 28;
    m.eval = never_eval;
    m.user = &evals;
    /* dim 2^28 with 2^20 particles (beam 1024 x 1024): 2^50 bytes per buffer */
    its_beam_params bp;
    its_beam_params_init(&bp);
    bp.beams = 1024;
    bp.children = 1024;
    its_run_params run;
    its_run_params_init(&run);
    run.dynamics = ITS_DYN_SDE;
    run.steps = 4;
    its_none_params np;
    its_none_params_init(&np);
    struct {
        const char *name;
        its_method m;
        const void *p;
    } cases[] = {
        {"beam 2^20 rows x dim 2^28", ITS_METHOD_BEAM, &bp},
        {"none 1 row x dim 2^28", ITS_METHOD_NONE, &np},
    };
    its_verifier v;
    its_verifier_init(&v);
    v.score = NULL;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (!rl_registered(cases[i].m))
            continue;
        its_sampler *s = NULL;
        ITS_ASSERT_OK(its_sampler_create(ctx, cases[i].m, cases[i].p, &run, &s));
        long live0 = a.live;
        its_result *r = NULL;
        its_status st = its_generate(s, &m, NULL, 1, &r);
        if (cases[i].m != ITS_METHOD_NONE && st == ITS_ERR_INVALID) {
            /* beam needs a verifier: give it one that is never reached */
            rl_fixture f;
            assert_int_equal(rl_fixture_init(&f, ctx, 2), 0);
            long live1 = a.live;
            st = its_generate(s, &m, &f.ver, 1, &r);
            printf("# %-34s -> %s: %s\n", cases[i].name, its_status_str(st), its_ctx_errmsg(ctx));
            assert_int_equal(a.live, live1);
            its_gmm_free(f.gmm);
        } else {
            printf("# %-34s -> %s: %s\n", cases[i].name, its_status_str(st), its_ctx_errmsg(ctx));
        }
        if (st != ITS_ERR_NOMEM && st != ITS_ERR_INVALID)
            fail_msg("%s: %s (%s)", cases[i].name, its_status_str(st), its_ctx_errmsg(ctx));
        assert_true(strlen(its_ctx_errmsg(ctx)) > 0);
        assert_null(r);
        assert_int_equal(a.live, live0);
        its_sampler_free(s);
    }
    assert_int_equal(evals, 0);
    assert_true(a.refused > 0);
    its_ctx_free(ctx);
    assert_int_equal(a.live, 0);
}

/* Budgets: a cap below one trajectory is ITS_ERR_BUDGET naming the need; a verifier-row cap
 * that stops a search early still gives a defined anytime result. */
static void test_limits_budget(void **state)
{
    (void)state;
    cap_alloc a = {0};
    its_ctx *ctx = cap_ctx(&a);
    rl_fixture f;
    assert_int_equal(rl_fixture_init(&f, ctx, 2), 0);
    for (int mi = 0; mi < ITS_METHOD_COUNT_; mi++) {
        its_method m = (its_method)mi;
        if (!rl_registered(m))
            continue;
        rl_params p;
        its_run_params run;
        rl_small(m, &p, &run);
        run.max_nfe = 1;
        its_sampler *s = NULL;
        its_status st = its_sampler_create(ctx, m, &p, &run, &s);
        its_result *r = NULL;
        long live0 = a.live;
        if (st == ITS_OK)
            st = its_generate(s, &f.model, &f.ver, 1, &r);
        printf("# %-18s max_nfe 1 -> %s: %s\n", its_method_name(m), its_status_str(st),
               its_ctx_errmsg(ctx));
        if (st == ITS_OK) {
            its_usage u;
            its_result_usage(r, &u);
            assert_true(u.nfe <= 1);
        } else {
            assert_int_equal(st, ITS_ERR_BUDGET);
            assert_non_null(strstr(its_ctx_errmsg(ctx), "NFE"));
        }
        its_result_free(r);
        assert_int_equal(a.live, live0);
        its_sampler_free(s);

        rl_small(m, &p, &run);
        run.max_verifier_rows = 1;
        s = NULL;
        r = NULL;
        ITS_ASSERT_OK(its_sampler_create(ctx, m, &p, &run, &s));
        st = its_generate(s, &f.model, &f.ver, 1, &r);
        if (st == ITS_OK) {
            its_usage u;
            its_result_usage(r, &u);
            assert_true(u.verifier_rows + u.grad_rows <= 1);
            for (size_t i = 0; i < its_result_count(r); i++)
                for (size_t d = 0; d < 2; d++)
                    assert_true(isfinite(its_result_sample(r, i)[d]));
        } else {
            assert_true(st < 0 && its_ctx_errmsg(ctx)[0]);
        }
        printf("# %-18s max_verifier_rows 1 -> %s (%s)\n", its_method_name(m), its_status_str(st),
               r ? its_stop_name(its_result_stop(r)) : its_ctx_errmsg(ctx));
        its_result_free(r);
        its_sampler_free(s);
    }
    its_gmm_free(f.gmm);
    its_ctx_free(ctx);
    assert_int_equal(a.live, 0);
}

/* JSON numbers past the C types are configuration errors, not wrapped integers. */
static void test_limits_json(void **state)
{
    (void)state;
    cap_alloc a = {0};
    its_ctx *ctx = cap_ctx(&a);
    long live0 = a.live;
    const char *docs[] = {
        "{\"sampler\": \"best_of_n\", \"params\": {\"n\": 4294967297}}",
        "{\"sampler\": \"best_of_n\", \"run\": {\"steps\": 1e300}}",
        "{\"sampler\": \"best_of_n\", \"run\": {\"steps\": -2147483649}}",
        "{\"sampler\": \"best_of_n\", \"run\": {\"budget\": {\"max_nfe\": 1e30}}}",
        "{\"sampler\": \"best_of_n\", \"run\": {\"budget\": {\"max_nfe\": -1}}}",
        "{\"sampler\": \"best_of_n\", \"run\": {\"top_k\": 1e9}}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        its_sampler *s = NULL;
        its_status st = its_sampler_from_json(ctx, docs[i], strlen(docs[i]), &s);
        printf("# %s -> %s: %s\n", docs[i], its_status_str(st), its_ctx_errmsg(ctx));
        assert_int_equal(st, ITS_ERR_CONFIG);
        assert_null(s);
        assert_true(its_ctx_errmsg(ctx)[0] != '\0');
        assert_int_equal(a.live, live0);
    }
    its_ctx_free(ctx);
    assert_int_equal(a.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_create),
        cmocka_unit_test(test_limits_model),
        cmocka_unit_test(test_limits_huge),
        cmocka_unit_test(test_limits_budget),
        cmocka_unit_test(test_limits_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
