/* JSON configs and result reports: round trips for every registered method, a table of bad
 * documents each naming its path, result JSON keys, and allocation failures. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "its_test.h"
#include "samplers/sampler.h"

/* A sampler of method m with default params: default run, or SDE dynamics when the method
 * steers SDE particles (its check says so). */
static its_sampler *default_sampler(its_ctx *ctx, its_method m)
{
    its_sampler *s = NULL;
    if (its_sampler_create(ctx, m, NULL, NULL, &s) == ITS_OK)
        return s;
    its_run_params run;
    its_run_params_init(&run);
    run.dynamics = ITS_DYN_SDE;
    if (its_sampler_create(ctx, m, NULL, &run, &s) == ITS_OK)
        return s;
    run.max_nfe = 500; /* methods whose search is sized by the budget */
    ITS_ASSERT_OK(its_sampler_create(ctx, m, NULL, &run, &s));
    return s;
}

static void round_trip(its_ctx *ctx, its_sampler *s)
{
    const char *j1 = its_sampler_to_json(s);
    assert_non_null(j1);
    size_t len = strlen(j1);
    char *copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, j1, len + 1);
    its_sampler *s2 = NULL;
    its_status st = its_sampler_from_json(ctx, copy, strlen(copy), &s2);
    if (st != ITS_OK)
        fail_msg("%s: %s", copy, its_ctx_errmsg(ctx));
    const char *j2 = its_sampler_to_json(s2);
    assert_non_null(j2);
    assert_string_equal(copy, j2);
    /* the structs agree too, not only the text */
    assert_int_equal(s->vt->method, s2->vt->method);
    assert_memory_equal(s->params, s2->params, s->vt->params_size);
    assert_int_equal(s->run.steps, s2->run.steps);
    assert_int_equal(s->run.max_nfe, s2->run.max_nfe);
    assert_int_equal(s->run.convert, s2->run.convert);
    its_sampler_free(s2);
    free(copy);
}

static void test_round_trip_every_method(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    int n = 0;
    for (int m = 0; m < ITS_METHOD_COUNT_; m++) {
        if (!its_method_vt_get((its_method)m))
            continue;
        its_sampler *s = default_sampler(ctx, (its_method)m);
        round_trip(ctx, s);
        /* every descriptor appears under params with its default */
        cJSON *doc = cJSON_Parse(its_sampler_to_json(s));
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(doc, "params");
        assert_non_null(p);
        assert_int_equal(cJSON_GetArraySize(p), (int)s->vt->n_desc);
        for (size_t i = 0; i < s->vt->n_desc; i++)
            assert_non_null(cJSON_GetObjectItemCaseSensitive(p, s->vt->desc[i].name));
        cJSON_Delete(doc);
        its_sampler_free(s);
        n++;
    }
    assert_true(n >= 2);
    its_ctx_free(ctx);
}

static void test_round_trip_full_run(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    const char *docs[] = {
        "{\"sampler\":\"best_of_n\",\"params\":{\"n\":7},\"run\":{\"steps\":4,\"grid\":\"custom\","
        "\"grid_custom\":[1,0.5,0.25,0.125,0],\"solver\":\"heun\",\"interp\":{\"kind\":\"vp\","
        "\"beta_min\":0.2,\"beta_max\":15},\"budget\":{\"max_nfe\":9007199254740992,"
        "\"max_verifier_rows\":12,\"deadline_ms\":1.5},\"top_k\":3,\"on_nonfinite\":\"drop\"}}",
        "{\"sampler\":\"none\",\"run\":{\"dynamics\":{\"kind\":\"sde\",\"g\":{\"schedule\":\"sin\","
        "\"scale\":0.5}},\"grid\":\"shifted\",\"grid_shift\":2.5,\"t_max\":0.9,\"interp\":\"ve\"}}",
        "{\"sampler\":\"none\",\"run\":{\"interp\":\"linear\",\"grid\":\"exp\"}}",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        its_sampler *s = NULL;
        its_status st = its_sampler_from_json(ctx, docs[i], strlen(docs[i]), &s);
        if (st != ITS_OK)
            fail_msg("doc %zu: %s", i, its_ctx_errmsg(ctx));
        round_trip(ctx, s);
        if (i == 0) {
            const its_best_of_n_params *p = s->params;
            assert_int_equal(p->n, 7);
            assert_int_equal(s->run.grid, ITS_GRID_CUSTOM);
            ITS_ASSERT_NEAR(s->run.grid_custom[2], 0.25, 0);
            assert_int_equal(s->run.solver, ITS_SOLVER_HEUN);
            assert_int_equal(s->run.convert, 1);
            assert_int_equal(s->run.target.kind, ITS_INTERP_VP);
            ITS_ASSERT_NEAR(s->run.target.beta_max, 15, 0);
            assert_true(s->run.max_nfe == 9007199254740992ULL);
            assert_int_equal(s->run.max_verifier_rows, 12);
            assert_int_equal(s->run.top_k, 3);
            assert_int_equal(s->run.on_nonfinite, ITS_NONFINITE_DROP);
        }
        its_sampler_free(s);
    }
    its_ctx_free(ctx);
}

typedef struct bad_case {
    const char *json;
    const char *expect; /* substring of the message: the path and what was expected */
} bad_case;

static void test_bad_configs(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    static const bad_case cases[] = {
        {"{\"sampler\":\"best_of_n\",\"params\":{\"n\":0}}",
         "params.n: expected integer in [1, 65536], got 0"},
        {"{\"sampler\":\"best_of_n\",\"params\":{\"n\":2.5}}", "params.n: expected integer"},
        {"{\"sampler\":\"best_of_n\",\"params\":{\"n\":\"4\"}}", "params.n: expected integer"},
        {"{\"sampler\":\"best_of_n\",\"params\":{\"n\":1e999}}", "params.n: expected integer"},
        {"{\"sampler\":\"best_of_n\",\"params\":{\"n\":1e300}}", "params.n: expected integer"},
        {"{\"sampler\":\"best_of_n\",\"params\":{\"m\":4}}", "params.m: unknown key"},
        {"{\"sampler\":\"best_of_n\",\"params\":{\"n\":4,\"n\":5}}", "params.n: duplicate key"},
        {"{\"sampler\":\"best_of_n\",\"params\":[]}", "params: expected an object"},
        {"{\"sampler\":\"best_of_nn\"}", "sampler: expected one of"},
        {"{\"sampler\":3}", "sampler: expected one of"},
        {"{\"params\":{}}", "sampler: missing"},
        {"{\"sampler\":\"none\",\"extra\":1}", "extra: unknown key"},
        {"[1,2]", "config: expected an object"},
        {"{\"sampler\":\"none\",\"run\":{\"steps\":0}}",
         "run.steps: expected integer in [1, 100000], got 0"},
        {"{\"sampler\":\"none\",\"run\":{\"steps\":-3}}", "run.steps: expected integer"},
        {"{\"sampler\":\"none\",\"run\":{\"stepz\":3}}", "run.stepz: unknown key"},
        {"{\"sampler\":\"none\",\"run\":{\"solver\":\"rk4\"}}",
         "run.solver: expected one of \"euler\", \"heun\", got \"rk4\""},
        {"{\"sampler\":\"none\",\"run\":{\"dynamics\":{\"kind\":\"sde\",\"g\":{\"scale\":-1}}}}",
         "run.dynamics.g.scale: expected number in [0, 1000]"},
        {"{\"sampler\":\"none\",\"run\":{\"dynamics\":{\"g\":{\"shape\":1}}}}",
         "run.dynamics.g.shape: unknown key"},
        {"{\"sampler\":\"none\",\"run\":{\"dynamics\":\"sde\"}}", "run.dynamics: expected an object"},
        {"{\"sampler\":\"none\",\"run\":{\"grid_shift\":0}}", "run.grid_shift: expected number in (0"},
        {"{\"sampler\":\"none\",\"run\":{\"t_max\":1.5}}", "run.t_max: expected number in (0, 1]"},
        {"{\"sampler\":\"none\",\"run\":{\"budget\":{\"max_nfe\":-1}}}",
         "run.budget.max_nfe: expected integer >= 0"},
        {"{\"sampler\":\"none\",\"run\":{\"budget\":{\"max_nfe\":1e20}}}",
         "run.budget.max_nfe: expected integer >= 0, got 1e+20"},
        {"{\"sampler\":\"none\",\"run\":{\"budget\":{\"max_nfe\":true}}}",
         "run.budget.max_nfe: expected integer >= 0, got true"},
        {"{\"sampler\":\"none\",\"run\":{\"top_k\":null}}", "run.top_k: expected integer"},
        {"{\"sampler\":\"none\",\"run\":{\"interp\":\"vq\"}}", "run.interp: expected"},
        {"{\"sampler\":\"none\",\"run\":{\"interp\":{\"beta_min\":1}}}", "run.interp.kind: missing"},
        {"{\"sampler\":\"none\",\"run\":{\"interp\":{\"kind\":\"vp\",\"sigma_max\":3}}}",
         "run.interp.sigma_max: unknown key"},
        {"{\"sampler\":\"none\",\"run\":{\"interp\":{\"kind\":\"vp\",\"beta_min\":5,\"beta_max\":1}}}",
         "run.interp"},
        {"{\"sampler\":\"none\",\"run\":{\"grid\":\"custom\"}}", "run.grid_custom: missing"},
        {"{\"sampler\":\"none\",\"run\":{\"grid_custom\":[1,0]}}", "run.grid_custom: only with"},
        {"{\"sampler\":\"none\",\"run\":{\"steps\":2,\"grid\":\"custom\",\"grid_custom\":[1,0]}}",
         "run.grid_custom: expected steps + 1 = 3 times, got 2"},
        {"{\"sampler\":\"none\",\"run\":{\"steps\":2,\"grid\":\"custom\",\"grid_custom\":[1,1,0]}}",
         "run.grid_custom[1]: expected number in (0, 1) (decreasing)"},
        {"{\"sampler\":\"none\",\"run\":{\"steps\":2,\"grid\":\"custom\",\"grid_custom\":[1,0.5,0.1]}}",
         "run.grid_custom[2]: expected 0"},
        {"{\"sampler\":\"none\",\"run\":{\"solver\":\"heun\",\"dynamics\":{\"kind\":\"sde\"}}}",
         "run.solver"},
        {"{\"sampler\":\"none\"", "truncated JSON"},
        {"{\"sampler\":\"no", "truncated JSON"},
        {"{\"sampler\" \"none\"}", "malformed JSON at offset"},
        {"{\"sampler\":\"none\"} x", "trailing characters at offset 19"},
        {"", "empty document"},
        {"{\"sampler\":\"none\xff\"}", "invalid UTF-8 at offset 16"},
        {"{\"sampler\":\"\xc0\xafnone\"}", "invalid UTF-8"},      /* overlong '/' */
        {"{\"sampler\":\"\xed\xa0\x80\"}", "invalid UTF-8"},      /* a surrogate */
        {"{\"sampler\":\"\\ud800\"}", "malformed JSON"},          /* a lone escaped surrogate */
        /* leading zeros: cJSON reads 04 as 4, RFC 8259 section 6 forbids it */
        {"{\"sampler\":\"best_of_n\",\"params\":{\"n\":04}}", "leading zero at offset 37"},
        {"{\"sampler\":\"none\",\"run\":{\"steps\":-01}}", "leading zero at offset 33"},
        {"{\"sampler\":\"none\",\"run\":{\"budget\":{\"max_nfe\":00}}}",
         "leading zero at offset 45"},
        {"{\"sampler\":\"none\",\"run\":{\"steps\":2,\"grid\":\"custom\",\"grid_custom\":[1,0.5,00]}}",
         "leading zero at offset 72"},
        {"{\"sampler\":\"none\",\"run\":{\"t_max\":00.5}}", "leading zero at offset 33"},
        {"01", "leading zero at offset 0"},
        /* inside a string the digits are text: the key check answers, not the number scan */
        {"{\"sampler\":\"none\",\"01\":1}", "01: unknown key"},
        /* the escape \u0000 would cut the string it decodes into ("none"); an escaped backslash
         * before u0000 is text */
        {"{\"sampler\":\"none\\u0000zz\"}", "\\u0000 (NUL) in a string at offset 16"},
        {"{\"sampler\":\"none\\\\u0000zz\"}", "sampler: expected one of"},
    };
    char deep[200];
    size_t o = 0;
    o += (size_t)snprintf(deep + o, sizeof(deep) - o, "{\"sampler\":\"none\",\"run\":");
    for (int i = 0; i < 40; i++)
        deep[o++] = '[';
    deep[o] = 0;
    for (size_t i = 0; i <= sizeof(cases) / sizeof(cases[0]); i++) {
        const char *js = i < sizeof(cases) / sizeof(cases[0]) ? cases[i].json : deep;
        const char *ex = i < sizeof(cases) / sizeof(cases[0]) ? cases[i].expect
                                                              : "nesting deeper than 32 levels";
        its_sampler *s = (its_sampler *)0x1;
        its_status st = its_sampler_from_json(ctx, js, strlen(js), &s);
        if (st != ITS_ERR_CONFIG)
            fail_msg("case %zu (%s): status %s, message \"%s\"", i, js, its_status_str(st),
                     its_ctx_errmsg(ctx));
        assert_null(s);
        if (!strstr(its_ctx_errmsg(ctx), ex))
            fail_msg("case %zu (%s): message \"%s\" lacks \"%s\"", i, js, its_ctx_errmsg(ctx), ex);
    }
    /* a NUL byte inside the given length, and a document cut by the length */
    const char nul[] = "{\"sampler\":\"none\"}\0{}";
    its_sampler *s = NULL;
    assert_int_equal(its_sampler_from_json(ctx, nul, sizeof(nul) - 1, &s), ITS_ERR_CONFIG);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "NUL byte at offset 18"));
    const char *cut = "{\"sampler\":\"none\"}";
    assert_int_equal(its_sampler_from_json(ctx, cut, 10, &s), ITS_ERR_CONFIG);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "truncated"));
    assert_int_equal(its_sampler_from_json(ctx, NULL, 0, &s), ITS_ERR_CONFIG);
    /* the exact message of the style guide's example */
    const char *n0 = "{\"sampler\":\"best_of_n\",\"params\":{\"n\":0}}";
    assert_int_equal(its_sampler_from_json(ctx, n0, strlen(n0), &s), ITS_ERR_CONFIG);
    assert_string_equal(its_ctx_errmsg(ctx), "params.n: expected integer in [1, 65536], got 0");
    /* a budget below what the method needs is ITS_ERR_BUDGET, as from its_sampler_create */
    const char *small = "{\"sampler\":\"rbf\",\"params\":{\"chains\":2,\"init\":25},"
                        "\"run\":{\"steps\":20,\"dynamics\":{\"kind\":\"sde\"},"
                        "\"budget\":{\"max_nfe\":10}}}";
    s = (its_sampler *)0x1;
    assert_int_equal(its_sampler_from_json(ctx, small, strlen(small), &s), ITS_ERR_BUDGET);
    assert_null(s);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "rbf needs at least 90 NFE"));
    its_ctx_free(ctx);
}

/* Numbers JSON allows next to the leading-zero rule: 0, -0, 0.x, exponents with leading zeros. */
static void test_config_numbers_ok(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    const char *js = "{\"sampler\":\"best_of_n\",\"params\":{\"n\":10},\"run\":{\"steps\":1E01,"
                     "\"t_max\":0.5,\"grid_shift\":1e-01,\"budget\":{\"max_nfe\":0,"
                     "\"deadline_ms\":-0}}}";
    its_sampler *s = NULL;
    its_status st = its_sampler_from_json(ctx, js, strlen(js), &s);
    if (st != ITS_OK)
        fail_msg("%s: %s", its_status_str(st), its_ctx_errmsg(ctx));
    const its_best_of_n_params *p = s->params;
    assert_int_equal(p->n, 10);
    assert_int_equal(s->run.steps, 10);
    ITS_ASSERT_NEAR(s->run.t_max, 0.5, 0);
    ITS_ASSERT_NEAR(s->run.grid_shift, 0.1, 1e-15);
    ITS_ASSERT_NEAR(s->run.deadline_ms, 0, 0);
    its_sampler_free(s);
    its_ctx_free(ctx);
}

static void test_result_json(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = its_test_gmm2(ctx, 4, 1.5, 0.5, 0.2);
    its_model m;
    its_verifier v;
    its_interp lin;
    its_interp_init(&lin, ITS_INTERP_LINEAR);
    its_gmm_bind_model(g, &lin, ITS_PRED_VELOCITY, &m);
    ITS_ASSERT_OK(its_gmm_bind_logprob(g, 1, &v));
    const char *cfg = "{\"sampler\":\"best_of_n\",\"params\":{\"n\":6},\"run\":{\"steps\":5,"
                      "\"top_k\":3,\"budget\":{\"max_nfe\":1000}}}";
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_from_json(ctx, cfg, strlen(cfg), &s));
    its_result *r = NULL;
    ITS_ASSERT_OK(its_generate(s, &m, &v, 42, &r));
    const char *txt = its_result_to_json(r);
    assert_non_null(txt);
    cJSON *doc = cJSON_Parse(txt);
    assert_non_null(doc);
    static const char *const keys[] = {"sampler", "config", "seed", "usage", "budget", "best",
                                       "topk", "time", "trace", "steps", "status", "stop"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (!cJSON_GetObjectItemCaseSensitive(doc, keys[i]))
            fail_msg("result JSON lacks \"%s\": %s", keys[i], txt);
    static const char *const usage[] = {"nfe", "model_calls", "verifier_rows", "verifier_calls",
                                        "grad_rows"};
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(doc, "usage");
    for (size_t i = 0; i < sizeof(usage) / sizeof(usage[0]); i++)
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(u, usage[i])));
    static const char *const tkeys[] = {"total_s", "model_s", "verifier_s", "library_s"};
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "time");
    for (size_t i = 0; i < 4; i++)
        assert_true(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(t, tkeys[i])));
    /* the values are the result's own */
    its_usage us;
    its_result_usage(r, &us);
    assert_int_equal(us.nfe, 30); /* 6 trajectories x 5 steps */
    ITS_ASSERT_NEAR(cJSON_GetObjectItemCaseSensitive(u, "nfe")->valuedouble, (double)us.nfe, 0);
    ITS_ASSERT_NEAR(cJSON_GetObjectItemCaseSensitive(doc, "seed")->valuedouble, 42, 0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "sampler")->valuestring,
                        "best_of_n");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(doc, "stop")->valuestring, "completed");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(doc, "budget");
    ITS_ASSERT_NEAR(cJSON_GetObjectItemCaseSensitive(b, "max_nfe")->valuedouble, 1000, 0);
    const cJSON *best = cJSON_GetObjectItemCaseSensitive(doc, "best");
    ITS_ASSERT_NEAR(cJSON_GetObjectItemCaseSensitive(best, "score")->valuedouble,
                    its_result_score(r, 0), 1e-12 * (1 + fabs(its_result_score(r, 0))));
    const cJSON *topk = cJSON_GetObjectItemCaseSensitive(doc, "topk");
    assert_int_equal(cJSON_GetArraySize(topk), (int)its_result_count(r));
    assert_int_equal(its_result_count(r), 3);
    for (int i = 0; i < 3; i++)
        ITS_ASSERT_NEAR(cJSON_GetArrayItem(topk, i)->valuedouble, its_result_score(r, (size_t)i),
                        1e-12 * (1 + fabs(its_result_score(r, (size_t)i))));
    const its_trace_point *tp;
    size_t nt = its_result_trace(r, &tp);
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(doc, "trace");
    assert_int_equal(cJSON_GetArraySize(tr), (int)nt);
    for (size_t i = 0; i < nt; i++) {
        const cJSON *pt = cJSON_GetArrayItem(tr, (int)i);
        assert_int_equal(cJSON_GetArraySize(pt), 2);
        ITS_ASSERT_NEAR(cJSON_GetArrayItem(pt, 0)->valuedouble, (double)tp[i].nfe, 0);
    }
    const its_step_usage *su;
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "steps")),
                     (int)its_result_steps(r, &su));
    /* the config inside is the sampler's effective config */
    char *cfg_txt = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(doc, "config"));
    assert_string_equal(cfg_txt, its_sampler_to_json(s));
    cJSON_free(cfg_txt);
    cJSON_Delete(doc);
    its_result_free(r);
    its_sampler_free(s);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

/* Every allocation the config layer makes through the context can fail without a leak. */
static void test_alloc_failures(void **state)
{
    (void)state;
    const char *cfg = "{\"sampler\":\"best_of_n\",\"params\":{\"n\":3},\"run\":{\"steps\":2,"
                      "\"grid\":\"custom\",\"grid_custom\":[1,0.5,0]}}";
    int saw_fail = 0, saw_ok = 0;
    for (long k = 1; k < 40 && !saw_ok; k++) {
        its_test_alloc a = {0};
        a.fail_at = k;
        its_ctx *ctx = its_test_ctx(&a);
        if (!ctx)
            continue;
        its_sampler *s = NULL;
        its_status st = its_sampler_from_json(ctx, cfg, strlen(cfg), &s);
        if (st == ITS_OK) {
            const char *j = its_sampler_to_json(s);
            if (j)
                saw_ok = 1;
            else
                saw_fail = 1;
        } else {
            assert_int_equal(st, ITS_ERR_NOMEM);
            assert_null(s);
            saw_fail = 1;
        }
        its_sampler_free(s);
        its_ctx_free(ctx);
        assert_int_equal(a.live, 0);
    }
    assert_true(saw_fail);
    assert_true(saw_ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_every_method),
        cmocka_unit_test(test_round_trip_full_run),
        cmocka_unit_test(test_bad_configs),
        cmocka_unit_test(test_config_numbers_ok),
        cmocka_unit_test(test_result_json),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
