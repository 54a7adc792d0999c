#define _POSIX_C_SOURCE 200809L
/* The public parameter metadata, the cost model (plan, minimum, fit), params structs a host
 * cannot mix up (wrong method, older header), per-call generate options and the _dim callbacks. */
#include "its_test.h"

#include <stdlib.h>
#include <string.h>

#define DIM 2

/* A params buffer for any method. */
typedef union any_params {
    its_none_params none;
    its_best_of_n_params bon;
    its_zero_order_params zo;
    its_search_over_paths_params sop;
    its_beam_params beam;
    its_svdd_params svdd;
    its_code_params code;
    its_fk_smc_params fk;
    its_bfs_params bfs;
    its_dfs_params dfs;
    its_local_search_params ls;
    its_rbf_params rbf;
    unsigned char bytes[256];
} any_params;

static size_t params_size(its_method m)
{
    static const size_t sizes[ITS_METHOD_COUNT_] = {
        sizeof(its_none_params), sizeof(its_best_of_n_params), sizeof(its_zero_order_params),
        sizeof(its_search_over_paths_params), sizeof(its_beam_params), sizeof(its_svdd_params),
        sizeof(its_code_params), sizeof(its_fk_smc_params), sizeof(its_bfs_params),
        sizeof(its_dfs_params), sizeof(its_local_search_params), sizeof(its_rbf_params)};
    return sizes[m];
}

/* Methods that steer SDE particles need sde dynamics. */
static int needs_sde(its_method m)
{
    return m == ITS_METHOD_BEAM || m == ITS_METHOD_SVDD || m == ITS_METHOD_CODE ||
           m == ITS_METHOD_FK_SMC || m == ITS_METHOD_RBF;
}

static void run_for(its_method m, int steps, uint64_t cap, its_run_params *run)
{
    its_run_params_init(run);
    run->steps = steps;
    run->max_nfe = cap;
    if (needs_sde(m))
        run->dynamics = ITS_DYN_SDE;
}

static void test_wrong_struct(void **state)
{
    its_test_fixture *f = *state;
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    its_sampler *s = (its_sampler *)&s;
    /* a best_of_n struct (12 bytes) for rbf (40): refused before anything past the header */
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_RBF, &bp, NULL, &s), ITS_ERR_INVALID);
    assert_null(s);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.method"));
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "its_best_of_n_params"));
    /* the same through the cost model */
    its_cost c;
    assert_int_equal(its_cost_plan(f->ctx, ITS_METHOD_RBF, &bp, NULL, &c), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.method"));
    /* a struct never written by _init */
    its_rbf_params junk;
    memset(&junk, 0x5a, sizeof(junk));
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_RBF, &junk, NULL, &s), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.method"));
    /* a size no version of the struct had */
    its_rbf_params rp;
    its_rbf_params_init(&rp);
    rp.size = (uint32_t)sizeof(rp) + 8;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_RBF, &rp, NULL, &s), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.size"));
    rp.size = 8;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_RBF, &rp, NULL, &s), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "params.size"));
    assert_int_equal(its_method_params_init(ITS_METHOD_RBF, &rp, 8), ITS_ERR_INVALID);
    assert_int_equal(its_method_params_init(ITS_METHOD_COUNT_, &rp, sizeof(rp)), ITS_ERR_INVALID);
    assert_int_equal(its_method_params_init(ITS_METHOD_RBF, NULL, sizeof(rp)), ITS_ERR_INVALID);
}

/* its_rbf_params as the first published header declared it (before `nfe`). */
typedef struct rbf_params_v1 {
    uint32_t size;
    its_method method;
    int chains;
    int init;
    int speculative;
    its_finish finish;
} rbf_params_v1;

static void test_older_header(void **state)
{
    its_test_fixture *f = *state;
    rbf_params_v1 old;
    ITS_ASSERT_OK(its_method_params_init(ITS_METHOD_RBF, &old, sizeof(old)));
    assert_int_equal(old.size, sizeof(old));
    assert_int_equal(old.method, ITS_METHOD_RBF);
    assert_int_equal(old.chains, 2);
    old.init = 5;
    its_rbf_params cur;
    its_rbf_params_init(&cur);
    cur.init = 5;
    its_run_params run;
    run_for(ITS_METHOD_RBF, 8, 0, &run);
    its_sampler *so = NULL, *sc = NULL;
    ITS_ASSERT_OK(its_sampler_create(f->ctx, ITS_METHOD_RBF, &old, &run, &so));
    ITS_ASSERT_OK(its_sampler_create(f->ctx, ITS_METHOD_RBF, &cur, &run, &sc));
    /* the older struct gets nfe = 500 like the current one: the same run, bit for bit */
    its_result *ro = NULL, *rc = NULL;
    ITS_ASSERT_OK(its_generate(so, &f->model, &f->ver, 3, &ro));
    ITS_ASSERT_OK(its_generate(sc, &f->model, &f->ver, 3, &rc));
    its_usage uo, uc;
    its_result_usage(ro, &uo);
    its_result_usage(rc, &uc);
    assert_int_equal(uo.nfe, uc.nfe);
    assert_true(uo.nfe <= 500);
    assert_memory_equal(its_result_sample(ro, 0), its_result_sample(rc, 0), DIM * sizeof(float));
    assert_non_null(strstr(its_sampler_to_json(so), "\"nfe\":500"));
    its_result_free(ro);
    its_result_free(rc);
    its_sampler_free(so);
    its_sampler_free(sc);
}

static void test_metadata(void **state)
{
    its_test_fixture *f = *state;
    for (int m = 0; m < ITS_METHOD_COUNT_; m++) {
        int n = its_method_param_count((its_method)m);
        assert_true(n >= 0);
        assert_non_null(its_method_summary((its_method)m));
        assert_non_null(its_method_scale_rule((its_method)m));
        any_params p;
        ITS_ASSERT_OK(its_method_params_init((its_method)m, &p, params_size((its_method)m)));
        int sizes = 0;
        for (int i = 0; i < n; i++) {
            its_param_info in;
            ITS_ASSERT_OK(its_method_param_info((its_method)m, i, &in));
            assert_int_equal(its_method_param_find((its_method)m, in.name), i);
            assert_non_null(in.doc);
            sizes += in.size_param;
            /* the default is inside the bounds */
            assert_true(in.def >= in.min && in.def <= in.max);
            if (in.type == ITS_PARAM_ENUM) {
                assert_true(in.n_choices >= 2);
                for (int j = 0; j < in.n_choices; j++)
                    assert_non_null(its_param_choice(&in, j));
                assert_null(its_param_choice(&in, in.n_choices));
            }
        }
        assert_true(sizes <= 1);
        assert_int_equal(its_method_param_info((its_method)m, n, &(its_param_info){0}),
                         ITS_ERR_INVALID);
        assert_int_equal(its_method_param_find((its_method)m, "no_such"), -1);
    }
    assert_int_equal(its_method_param_count(ITS_METHOD_COUNT_), -1);
    /* a best_of_n default from the table is what _init writes */
    its_param_info in;
    ITS_ASSERT_OK(its_method_param_info(ITS_METHOD_BEST_OF_N,
                                        its_method_param_find(ITS_METHOD_BEST_OF_N, "n"), &in));
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    assert_true(in.def == bp.n && in.size_param == 1 && in.type == ITS_PARAM_INT);
    /* run parameters: the JSON paths, with the bounds validation uses */
    int k = its_run_param_find("budget.max_nfe");
    assert_true(k >= 0);
    ITS_ASSERT_OK(its_run_param_info(k, &in));
    assert_true(in.def == 0 && in.min == 0 && in.type == ITS_PARAM_INT);
    k = its_run_param_find("steps");
    ITS_ASSERT_OK(its_run_param_info(k, &in));
    assert_true(in.def == 20 && in.min == 1);
    its_run_params run;
    its_run_params_init(&run);
    run.steps = (int)in.max + 1;
    its_sampler *s = NULL;
    assert_int_equal(its_sampler_create(f->ctx, ITS_METHOD_NONE, NULL, &run, &s),
                     ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "run.steps"));
    k = its_run_param_find("grid_shift");
    ITS_ASSERT_OK(its_run_param_info(k, &in));
    assert_true(in.min_open == 1 && in.min == 0);
    k = its_run_param_find("solver");
    ITS_ASSERT_OK(its_run_param_info(k, &in));
    assert_string_equal(its_param_choice(&in, 1), "heun");
    assert_int_equal(its_run_param_find("nope"), -1);
    /* the whole catalogue as JSON */
    char *json = NULL;
    ITS_ASSERT_OK(its_params_json(f->ctx, &json));
    assert_non_null(strstr(json, "\"methods\""));
    assert_non_null(strstr(json, "\"budget.max_nfe\""));
    assert_non_null(strstr(json, "\"size_param\":\"children\""));
    assert_non_null(strstr(json, "\"choices\":[\"euler\",\"heun\"]"));
    its_ctx_mem_free(f->ctx, json);
}

/* NFE a configuration spends on the mixture. */
static its_status spend(its_test_fixture *f, its_method m, const void *p,
                        const its_run_params *run, uint64_t *nfe)
{
    its_sampler *s = NULL;
    its_status st = its_sampler_create(f->ctx, m, p, run, &s);
    if (st != ITS_OK)
        return st;
    its_result *r = NULL;
    st = its_generate(s, &f->model, &f->ver, 7, &r);
    if (st == ITS_OK) {
        its_usage u;
        its_result_usage(r, &u);
        *nfe = u.nfe;
    }
    its_result_free(r);
    its_sampler_free(s);
    return st;
}

/* Every method: the plan is what the run spends (dfs: at most), the minimum runs and one less
 * is ITS_ERR_BUDGET, and a fit to N spends at most N. */
static void test_cost(void **state)
{
    its_test_fixture *f = *state;
    const uint64_t caps[] = {0, 45, 120, 500};
    for (int m = 0; m < ITS_METHOD_COUNT_; m++) {
        for (int heun = 0; heun < 2; heun++) {
            if (heun && needs_sde((its_method)m))
                continue;
            for (size_t c = 0; c < 4; c++) {
                any_params p;
                its_method_params_init((its_method)m, &p, params_size((its_method)m));
                if (m == ITS_METHOD_ZERO_ORDER)
                    p.zo.rounds = 2;
                its_run_params run;
                run_for((its_method)m, 6, caps[c], &run);
                if (heun)
                    run.solver = ITS_SOLVER_HEUN;
                its_cost cost;
                its_status st = its_cost_plan(f->ctx, (its_method)m, &p, &run, &cost);
                assert_int_equal(cost.trajectory, heun ? 11 : 6);
                uint64_t nfe = 0;
                its_status sr = spend(f, (its_method)m, &p, &run, &nfe);
                if (st == ITS_ERR_BUDGET) {
                    assert_int_equal(sr, ITS_ERR_BUDGET);
                    assert_true(caps[c] < cost.minimum);
                    continue;
                }
                ITS_ASSERT_OK(st);
                ITS_ASSERT_OK(sr);
                if (m == ITS_METHOD_DFS || m == ITS_METHOD_RBF)
                    assert_true(nfe <= cost.planned);
                else if (nfe != cost.planned)
                    fail_msg("%s cap %llu heun %d: planned %llu, spent %llu",
                             its_method_name((its_method)m), (unsigned long long)caps[c], heun,
                             (unsigned long long)cost.planned, (unsigned long long)nfe);
            }
            /* the minimum is exact */
            any_params p;
            its_method_params_init((its_method)m, &p, params_size((its_method)m));
            its_run_params run;
            run_for((its_method)m, 6, 0, &run);
            if (heun)
                run.solver = ITS_SOLVER_HEUN;
            its_cost cost;
            if (m == ITS_METHOD_ZERO_ORDER)
                run.max_nfe = 1000;
            ITS_ASSERT_OK(its_cost_plan(f->ctx, (its_method)m, &p, &run, &cost));
            assert_true(cost.minimum >= 1);
            run.max_nfe = cost.minimum;
            uint64_t nfe = 0;
            its_status sr = spend(f, (its_method)m, &p, &run, &nfe);
            if (sr != ITS_OK)
                fail_msg("%s heun %d at its minimum %llu: %s", its_method_name((its_method)m),
                         heun, (unsigned long long)cost.minimum, its_ctx_errmsg(f->ctx));
            assert_true(nfe <= cost.minimum);
            run.max_nfe = cost.minimum - 1;
            assert_int_equal(spend(f, (its_method)m, &p, &run, &nfe), ITS_ERR_BUDGET);
            /* fit to a budget: the size parameter grows, the spend stays within it */
            its_method_params_init((its_method)m, &p, params_size((its_method)m));
            run_for((its_method)m, 6, 0, &run);
            if (heun)
                run.solver = ITS_SOLVER_HEUN;
            ITS_ASSERT_OK(its_cost_fit(f->ctx, (its_method)m, &p, &run, 400));
            assert_int_equal(run.max_nfe, 400);
            ITS_ASSERT_OK(its_cost_plan(f->ctx, (its_method)m, &p, &run, &cost));
            assert_true(cost.planned <= 400);
            ITS_ASSERT_OK(spend(f, (its_method)m, &p, &run, &nfe));
            assert_true(nfe <= 400);
        }
    }
    /* best_of_n: n = floor(400 / 6) */
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    its_run_params run;
    run_for(ITS_METHOD_BEST_OF_N, 6, 0, &run);
    ITS_ASSERT_OK(its_cost_fit(f->ctx, ITS_METHOD_BEST_OF_N, &bp, &run, 400));
    assert_int_equal(bp.n, 66);
    /* below the minimum: ITS_ERR_BUDGET with the minimum in the message */
    assert_int_equal(its_cost_fit(f->ctx, ITS_METHOD_BEST_OF_N, &bp, &run, 5), ITS_ERR_BUDGET);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "needs at least 6 NFE"));
    /* zero_order with rounds = 0 needs the cap */
    its_zero_order_params zp;
    its_zero_order_params_init(&zp);
    its_cost cost;
    run.max_nfe = 0;
    ITS_ASSERT_OK(its_cost_plan(f->ctx, ITS_METHOD_ZERO_ORDER, &zp, &run, &cost) == ITS_OK
                      ? ITS_ERR_INVALID
                      : ITS_OK);
    run.max_nfe = 100;
    ITS_ASSERT_OK(its_cost_plan(f->ctx, ITS_METHOD_ZERO_ORDER, &zp, &run, &cost));
    assert_int_equal(cost.needs_cap, 1);
    /* the sampler's own cost */
    its_sampler *s = NULL;
    run.max_nfe = 0;
    ITS_ASSERT_OK(its_sampler_create(f->ctx, ITS_METHOD_BEST_OF_N, NULL, &run, &s));
    ITS_ASSERT_OK(its_sampler_cost(s, &cost));
    assert_int_equal(cost.planned, 24);
    its_sampler_free(s);
}

typedef struct progress_log {
    int calls;
} progress_log;

static int count_progress(void *user, const its_progress *p)
{
    (void)p;
    ((progress_log *)user)->calls++;
    return 0;
}

static int stop_progress(void *user, const its_progress *p)
{
    (void)user;
    return p->nfe >= 4;
}

static void test_generate_opts(void **state)
{
    its_test_fixture *f = *state;
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(f->ctx, ITS_METHOD_BEST_OF_N, &bp, NULL, &s));
    char *before = strdup(its_sampler_to_json(s));
    its_gen_options o;
    its_gen_options_init(&o);
    assert_true(o.deadline_ms < 0);
    progress_log log = {0};
    o.progress = count_progress;
    o.progress_user = &log;
    its_result *r = NULL, *r0 = NULL;
    ITS_ASSERT_OK(its_generate_opts(s, &f->model, &f->ver, 5, &o, &r));
    assert_true(log.calls > 0);
    ITS_ASSERT_OK(its_generate(s, &f->model, &f->ver, 5, &r0));
    assert_memory_equal(its_result_sample(r, 0), its_result_sample(r0, 0), DIM * sizeof(float));
    its_result_free(r);
    its_result_free(r0);
    /* a progress callback that stops: cancelled, best so far */
    o.progress = stop_progress;
    assert_int_equal(its_generate_opts(s, &f->model, &f->ver, 5, &o, &r), ITS_CANCELLED);
    assert_int_equal(its_result_stop(r), ITS_STOP_CANCELLED);
    its_result_free(r);
    /* the sampler was not modified */
    assert_string_equal(before, its_sampler_to_json(s));
    free(before);
    o.size = 3;
    assert_int_equal(its_generate_opts(s, &f->model, &f->ver, 5, &o, &r), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "options.size"));
    its_sampler_free(s);
}

/* its_gen_options as headers before the cancel flag declared it. */
typedef struct gen_options_v1 {
    uint32_t size;
    double deadline_ms;
    its_progress_fn progress;
    void *progress_user;
} gen_options_v1;

/* A model that sets a cancel flag on its `at`-th call. */
typedef struct flag_model {
    its_model inner;
    int calls, at;
    volatile int *flag;
} flag_model;

static int flag_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    flag_model *w = user;
    if (++w->calls == w->at)
        *w->flag = 1;
    return w->inner.eval(w->inner.user, x, t, n, out);
}

/* The options' cancel flag: left at 0 it changes nothing; set by the model on its 3rd call it
 * stops the run right after that call (ITS_CANCELLED, best so far, a message naming the flag),
 * with the host's progress callback still called; an older host's options (without the field)
 * still work; an auto sampler honours the per-call options too. */
static void test_generate_cancel_flag(void **state)
{
    its_test_fixture *f = *state;
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    bp.n = 4;
    its_run_params run;
    its_run_params_init(&run);
    run.steps = 8;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(f->ctx, ITS_METHOD_BEST_OF_N, &bp, &run, &s));
    volatile int flag = 0;
    flag_model w = {.inner = f->model, .at = 3, .flag = &flag};
    its_model m = f->model;
    m.eval = flag_eval;
    m.user = &w;
    m.max_batch = 2;
    its_gen_options o;
    its_gen_options_init(&o);
    assert_null(o.cancel);
    progress_log log = {0};
    o.progress = count_progress;
    o.progress_user = &log;
    o.cancel = &flag;
    w.at = 0; /* never set */
    its_result *r = NULL, *r0 = NULL;
    ITS_ASSERT_OK(its_generate_opts(s, &m, &f->ver, 5, &o, &r));
    ITS_ASSERT_OK(its_generate(s, &f->model, &f->ver, 5, &r0));
    assert_memory_equal(its_result_sample(r, 0), its_result_sample(r0, 0), DIM * sizeof(float));
    assert_int_equal(log.calls, 16); /* 8 steps x 2 calls of 2 rows */
    its_result_free(r);
    its_result_free(r0);

    w.at = 3;
    w.calls = 0;
    log.calls = 0;
    assert_int_equal(its_generate_opts(s, &m, &f->ver, 5, &o, &r), ITS_CANCELLED);
    assert_non_null(r);
    assert_int_equal(its_result_stop(r), ITS_STOP_CANCELLED);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "cancel flag"));
    its_usage u;
    its_result_usage(r, &u);
    assert_int_equal(w.calls, 3);
    assert_int_equal(u.nfe, 6);
    assert_int_equal(log.calls, 2); /* the flag is read first: no callback after the 3rd call */
    its_result_free(r);

    /* an older host's options end before the flag: a set flag is not read */
    o.size = (uint32_t)offsetof(its_gen_options, cancel);
    w.calls = 0;
    ITS_ASSERT_OK(its_generate_opts(s, &m, &f->ver, 5, &o, &r));
    assert_int_equal(w.calls, 16);
    its_result_free(r);
    /* a host built against that older header calls the its_gen_options_init symbol on a struct
     * of that size (on the heap, so that a write past it is a sanitizer error): the fields it
     * has are written, nothing beyond, and the options work */
    assert_int_equal(sizeof(gen_options_v1), offsetof(its_gen_options, cancel));
    gen_options_v1 *old = malloc(sizeof(*old));
    assert_non_null(old);
    (its_gen_options_init)((its_gen_options *)(void *)old);
    assert_int_equal(old->size, sizeof(*old));
    assert_true(old->deadline_ms < 0);
    assert_null(old->progress);
    w.calls = 0;
    ITS_ASSERT_OK(its_generate_opts(s, &m, &f->ver, 5, (const its_gen_options *)(void *)old, &r));
    assert_int_equal(w.calls, 16);
    its_result_free(r);
    free(old);
    /* a size below deadline_ms writes nothing; one above this library's is capped */
    its_gen_options big;
    memset(&big, 0x5a, sizeof(big));
    its_gen_options_init_sized(&big, 4);
    assert_int_equal(big.size, 0x5a5a5a5au);
    its_gen_options_init_sized(&big, sizeof(big));
    assert_int_equal(big.size, sizeof(big));
    assert_null(big.cancel);
    its_sampler_free(s);

    /* an auto sampler runs its inner samplers with the call's options */
    const char *doc = "{\"sampler\": \"auto\", \"run\": {\"steps\": 8, "
                      "\"budget\": {\"max_nfe\": 64}}}";
    ITS_ASSERT_OK(its_sampler_from_json(f->ctx, doc, strlen(doc), &s));
    its_gen_options_init(&o);
    o.cancel = &flag;
    flag = 0;
    w.calls = 0;
    w.at = 3;
    assert_int_equal(its_generate_opts(s, &m, &f->ver, 5, &o, &r), ITS_CANCELLED);
    assert_non_null(r);
    assert_int_equal(its_result_stop(r), ITS_STOP_CANCELLED);
    assert_int_equal(w.calls, 3);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "cancelled by the cancel flag after 6 NFE"));
    its_result_free(r);
    its_sampler_free(s);
}

/* _dim callbacks: the row width comes with each call. */
typedef struct dim_host {
    its_model inner;
    its_verifier vinner;
    size_t seen_dim;
    long calls;
} dim_host;

static int dim_eval(void *user, const float *x, const float *t, size_t n, size_t dim,
                    float *out)
{
    dim_host *h = user;
    h->seen_dim = dim;
    h->calls++;
    return h->inner.eval(h->inner.user, x, t, n, out);
}

static int dim_score(void *user, const float *x0, size_t n, size_t dim, float *scores)
{
    dim_host *h = user;
    h->seen_dim = dim;
    return h->vinner.score(h->vinner.user, x0, n, scores);
}

static void test_dim_callbacks(void **state)
{
    its_test_fixture *f = *state;
    dim_host h = {f->model, f->ver, 0, 0};
    its_model m;
    its_model_init(&m);
    assert_int_equal(m.version, ITS_MODEL_V2);
    m.dim = f->model.dim;
    m.pred = f->model.pred;
    m.interp = f->model.interp;
    m.eval_dim = dim_eval;
    m.user = &h;
    its_verifier v;
    its_verifier_init(&v);
    v.score_dim = dim_score;
    v.user = &h;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(f->ctx, ITS_METHOD_BEST_OF_N, NULL, NULL, &s));
    its_result *r = NULL, *r0 = NULL;
    ITS_ASSERT_OK(its_generate(s, &m, &v, 9, &r));
    assert_int_equal(h.seen_dim, DIM);
    assert_true(h.calls > 0);
    ITS_ASSERT_OK(its_generate(s, &f->model, &f->ver, 9, &r0));
    assert_memory_equal(its_result_sample(r, 0), its_result_sample(r0, 0), DIM * sizeof(float));
    assert_true(its_result_score(r, 0) == its_result_score(r0, 0));
    its_result_free(r);
    its_result_free(r0);
    /* a V1 struct: eval_dim is not read */
    its_model m1 = f->model;
    m1.version = ITS_MODEL_V1;
    m1.eval = NULL;
    assert_int_equal(its_generate(s, &m1, &f->ver, 9, &r), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "model.eval"));
    its_sampler_free(s);
}

/* The verifier-row cap reports its own stop reason. */
static void test_verifier_cap_stop(void **state)
{
    its_test_fixture *f = *state;
    its_run_params run;
    its_run_params_init(&run);
    run.max_verifier_rows = 2;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(f->ctx, ITS_METHOD_DFS, NULL, &run, &s));
    its_result *r = NULL;
    ITS_ASSERT_OK(its_generate(s, &f->model, &f->ver, 1, &r));
    assert_int_equal(its_result_stop(r), ITS_STOP_VERIFIER_CAP);
    assert_string_equal(its_stop_name(its_result_stop(r)), "verifier_cap");
    its_result_free(r);
    its_sampler_free(s);
}

static int setup(void **state) { return its_test_fixture_setup(state, DIM); }
static int teardown(void **state) { return its_test_fixture_teardown(state); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wrong_struct),     cmocka_unit_test(test_older_header),
        cmocka_unit_test(test_metadata),         cmocka_unit_test(test_cost),
        cmocka_unit_test(test_generate_opts),    cmocka_unit_test(test_dim_callbacks),
        cmocka_unit_test(test_verifier_cap_stop), cmocka_unit_test(test_generate_cancel_flag),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
