#define _POSIX_C_SOURCE 200809L
/* `auto`: policies (round trip, strict validation with paths), the one-entry bit identity, the
 * online mode's cap and determinism, and tuning on the analytic mixture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its_test.h"

#define DIM 4

static const char *const policy_text =
    "{\"version\": 1, \"label\": \"test\", \"nfe_per_s\": 1000,"
    " \"tuning\": {\"seed\": 1000, \"seeds\": 8, \"nfe\": 123456, \"runs\": 99, \"seconds\": 1.5},"
    " \"entries\": ["
    "  {\"nfe\": [1, 150], \"tuned_at\": 100, \"sampler\": \"fk_smc\", \"params\": {\"n\": 5},"
    "   \"run\": {\"dynamics\": {\"kind\": \"sde\"}}, \"mean\": -1.5, \"se\": 0.25, \"n\": 8,"
    "   \"runner_up\": {\"sampler\": \"best_of_n\", \"params\": {\"n\": 5}, \"mean\": -2, \"se\": 0.5,"
    "                   \"n\": 8}},"
    "  {\"nfe\": [151, null], \"tuned_at\": 500, \"sampler\": \"local_search\","
    "   \"params\": {\"n\": 8, \"rho\": 0.05}, \"mean\": null, \"se\": null, \"n\": 0}"
    " ]}";

static its_policy *parse_policy(its_ctx *ctx, const char *txt)
{
    its_policy *p = NULL;
    its_status st = its_policy_from_json(ctx, txt, strlen(txt), &p);
    if (st != ITS_OK)
        fail_msg("policy: %s: %s", its_status_str(st), its_ctx_errmsg(ctx));
    return p;
}

static void test_policy_round_trip(void **state)
{
    its_test_fixture *f = *state;
    its_policy *p = parse_policy(f->ctx, policy_text);
    assert_int_equal(its_policy_count(p), 2);
    its_policy_entry e;
    ITS_ASSERT_OK(its_policy_entry_get(p, 0, &e));
    assert_int_equal(e.method, ITS_METHOD_FK_SMC);
    assert_true(e.nfe_lo == 1 && e.nfe_hi == 150 && e.tuned_at == 100);
    assert_true(e.mean == -1.5 && e.se == 0.25 && e.n == 8);
    assert_true(e.has_runner_up && e.runner_up == ITS_METHOD_BEST_OF_N);
    assert_true(e.runner_up_mean == -2 && e.runner_up_se == 0.5);
    ITS_ASSERT_OK(its_policy_entry_get(p, 1, &e));
    assert_int_equal(e.method, ITS_METHOD_LOCAL_SEARCH);
    assert_true(e.nfe_hi == UINT64_MAX && isnan(e.mean) && !e.has_runner_up);

    /* written, read back and written again: the same text */
    const char *a = its_policy_to_json(p);
    assert_non_null(a);
    char *copy = strdup(a);
    its_policy *q = parse_policy(f->ctx, copy);
    const char *b = its_policy_to_json(q);
    assert_non_null(b);
    assert_string_equal(copy, b);
    /* every parameter is written out, the run only where the entry states it */
    assert_non_null(strstr(copy, "\"lambda\""));
    assert_non_null(strstr(copy, "\"rho\":\t0.05"));
    assert_null(strstr(copy, "max_nfe"));

    size_t k;
    ITS_ASSERT_OK(its_policy_choose(p, 1, &k));
    assert_int_equal(k, 0);
    ITS_ASSERT_OK(its_policy_choose(p, 150, &k));
    assert_int_equal(k, 0);
    ITS_ASSERT_OK(its_policy_choose(p, 151, &k));
    assert_int_equal(k, 1);
    ITS_ASSERT_OK(its_policy_choose(p, 1000000, &k));
    assert_int_equal(k, 1);
    assert_int_equal(its_policy_choose(p, 0, &k), ITS_ERR_INVALID);
    free(copy);
    its_policy_free(q);
    its_policy_free(p);
}

/* The text with the first occurrence of `from` replaced by `to`. */
static char *edit(const char *txt, const char *from, const char *to)
{
    const char *at = strstr(txt, from);
    if (!at)
        fail_msg("edit: \"%s\" not in the text", from);
    size_t n = strlen(txt) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - txt), txt, to, at + strlen(from));
    return out;
}

static void expect_config_error(its_ctx *ctx, const char *txt, const char *path)
{
    its_policy *p = (its_policy *)1;
    its_status st = its_policy_from_json(ctx, txt, strlen(txt), &p);
    if (p)
        fail_msg("accepted a policy with a bad %s", path);
    if (st != ITS_ERR_CONFIG)
        fail_msg("expected ITS_ERR_CONFIG naming %s, got %s: %s", path, its_status_str(st),
                 its_ctx_errmsg(ctx));
    const char *msg = its_ctx_errmsg(ctx);
    if (strncmp(msg, path, strlen(path)) != 0 || msg[strlen(path)] != ':')
        fail_msg("expected the message to start with \"%s:\", got \"%s\"", path, msg);
}

static void test_policy_errors(void **state)
{
    its_test_fixture *f = *state;
    static const struct {
        const char *from, *to, *path;
    } cases[] = {
        {"\"label\"", "\"labl\"", "labl"},
        {"\"version\": 1", "\"version\": 2", "version"},
        {"\"version\": 1,", "", "version"},
        {"\"seconds\"", "\"secs\"", "tuning.secs"},
        {"\"mean\": -1.5", "\"mean\": -1.5, \"extra\": 1", "entries[0].extra"},
        {"\"sampler\": \"fk_smc\"", "\"sampler\": \"fk_smcc\"", "entries[0].sampler"},
        {"\"sampler\": \"fk_smc\"", "\"sampler\": \"auto\"", "entries[0].sampler"},
        {"\"params\": {\"n\": 5}", "\"params\": {\"n\": 0}", "entries[0].params.n"},
        {"\"params\": {\"n\": 5}", "\"params\": {\"m\": 5}", "entries[0].params.m"},
        {"\"sampler\": \"best_of_n\"", "\"sampler\": \"best_of\"",
         "entries[0].runner_up.sampler"},
        {"{\"kind\": \"sde\"}", "{\"kind\": \"sd\"}", "entries[0].run.dynamics.kind"},
        {"\"run\": {", "\"run\": {\"budget\": {\"max_nfe\": 5}, ", "entries[0].run.budget.max_nfe"},
        {"\"run\": {", "\"run\": {\"top_k\": 2, ", "entries[0].run.top_k"},
        {"[151, null]", "[100, null]", "entries[1].nfe"},       /* overlaps [1, 150] */
        {"[151, null]", "[1, null]", "entries[1].nfe"},         /* not sorted */
        {"[1, 150]", "[1, null]", "entries[0].nfe[1]"},         /* unbounded, not last */
        {"[1, 150]", "[10, 5]", "entries[0].nfe[1]"},
        {"[1, 150]", "[0, 150]", "entries[0].nfe[0]"},
        {"\"tuned_at\": 100", "\"tuned_at\": 1.5", "entries[0].tuned_at"},
        {"\"se\": 0.25", "\"se\": -1", "entries[0].se"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *txt = edit(policy_text, cases[i].from, cases[i].to);
        expect_config_error(f->ctx, txt, cases[i].path);
        free(txt);
    }
    /* a method whose smallest run costs more than the budget it was tuned at */
    char *txt = edit(policy_text, "\"tuned_at\": 100", "\"tuned_at\": 10");
    expect_config_error(f->ctx, txt, "entries[0]");
    free(txt);
    expect_config_error(f->ctx, "[]", "policy");
    expect_config_error(f->ctx, "{\"version\": 1, \"entries\": []}", "entries");
}

/* Samples, scores and usage of two results are the same bits. */
static void assert_same_result(its_result *a, its_result *b)
{
    assert_int_equal(its_result_count(a), its_result_count(b));
    assert_int_equal(its_result_method(a), its_result_method(b));
    size_t dim = its_result_dim(a);
    for (size_t i = 0; i < its_result_count(a); i++) {
        assert_memory_equal(its_result_sample(a, i), its_result_sample(b, i),
                            dim * sizeof(float));
        double sa = its_result_score(a, i), sb = its_result_score(b, i);
        assert_memory_equal(&sa, &sb, sizeof(double));
    }
    its_usage ua, ub;
    its_result_usage(a, &ua);
    its_result_usage(b, &ub);
    assert_true(ua.nfe == ub.nfe && ua.model_calls == ub.model_calls &&
                ua.verifier_rows == ub.verifier_rows);
}

static void test_one_entry_bit_identical(void **state)
{
    its_test_fixture *f = *state;
    static const char *const one =
        "{\"version\": 1, \"entries\": [{\"nfe\": [1, null], \"tuned_at\": 120,"
        " \"sampler\": \"fk_smc\", \"params\": {\"n\": 6, \"lambda\": 3},"
        " \"run\": {\"dynamics\": {\"kind\": \"sde\", \"g\": {\"scale\": 2}}}}]}";
    its_policy *pol = parse_policy(f->ctx, one);
    its_auto_params ap;
    its_auto_params_init(&ap);
    ap.policy = pol;
    its_run_params run;
    its_run_params_init(&run);
    run.max_nfe = 120;
    run.top_k = 3;
    its_sampler *as = NULL, *ms = NULL;
    ITS_ASSERT_OK(its_auto_sampler_create(f->ctx, &ap, &run, &as));
    its_policy_free(pol); /* the sampler keeps its own copy */
    assert_true(its_sampler_is_auto(as));

    its_fk_smc_params fp;
    its_fk_smc_params_init(&fp);
    fp.n = 6;
    fp.lambda = 3;
    its_run_params mr = run;
    mr.dynamics = ITS_DYN_SDE;
    mr.g_scale = 2;
    ITS_ASSERT_OK(its_sampler_create(f->ctx, ITS_METHOD_FK_SMC, &fp, &mr, &ms));
    assert_false(its_sampler_is_auto(ms));
    for (uint64_t seed = 0; seed < 3; seed++) {
        its_result *ra = NULL, *rm = NULL;
        ITS_ASSERT_OK(its_generate(as, &f->model, &f->ver, seed, &ra));
        ITS_ASSERT_OK(its_generate(ms, &f->model, &f->ver, seed, &rm));
        assert_same_result(ra, rm);
        const char *js = its_result_to_json(ra);
        assert_non_null(js);
        assert_non_null(strstr(js, "\"sampler\":\"fk_smc\""));
        assert_non_null(strstr(js, "\"auto\":{\"mode\":\"policy\""));
        assert_non_null(strstr(js, "\"lambda\":3"));
        its_result_free(ra);
        its_result_free(rm);
    }

    /* the same through JSON, and the sampler's JSON reads back to the same sampler */
    char doc[2048];
    snprintf(doc, sizeof(doc),
             "{\"sampler\": \"auto\", \"params\": {\"policy\": %s}, \"run\": {\"budget\": "
             "{\"max_nfe\": 120}, \"top_k\": 3}}",
             one);
    its_sampler *js = NULL, *js2 = NULL;
    ITS_ASSERT_OK(its_sampler_from_json(f->ctx, doc, strlen(doc), &js));
    const char *eff = its_sampler_to_json(js);
    assert_non_null(eff);
    ITS_ASSERT_OK(its_sampler_from_json(f->ctx, eff, strlen(eff), &js2));
    its_result *ra = NULL, *rm = NULL, *rb = NULL;
    ITS_ASSERT_OK(its_generate(js, &f->model, &f->ver, 7, &ra));
    ITS_ASSERT_OK(its_generate(js2, &f->model, &f->ver, 7, &rb));
    ITS_ASSERT_OK(its_generate(ms, &f->model, &f->ver, 7, &rm));
    assert_same_result(ra, rm);
    assert_same_result(rb, rm);
    its_result_free(ra);
    its_result_free(rb);
    its_result_free(rm);
    its_sampler_free(js);
    its_sampler_free(js2);
    its_sampler_free(as);
    its_sampler_free(ms);
}

static void test_auto_errors(void **state)
{
    its_test_fixture *f = *state;
    /* no budget */
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_auto_sampler_create(f->ctx, NULL, NULL, &s));
    its_result *r = (its_result *)1;
    assert_int_equal(its_generate(s, &f->model, &f->ver, 0, &r), ITS_ERR_BUDGET);
    assert_null(r);
    its_sampler_free(s);
    /* config paths */
    static const struct {
        const char *doc, *path;
    } cases[] = {
        {"{\"sampler\": \"auto\", \"params\": {\"polcy\": {}}}", "params.polcy"},
        {"{\"sampler\": \"auto\", \"params\": {\"pilot_share\": 0.95}}", "params.pilot_share"},
        {"{\"sampler\": \"auto\", \"params\": {\"candidates\": [\"beam\", \"nope\"]}}",
         "params.candidates[1]"},
        {"{\"sampler\": \"auto\", \"params\": {\"policy\": {\"version\": 1, \"entries\": "
         "[{\"nfe\": [1, null], \"tuned_at\": 50, \"sampler\": \"beem\"}]}}}",
         "params.policy.entries[0].sampler"},
        {"{\"sampler\": \"auto\", \"run\": {\"stps\": 3}}", "run.stps"},
        {"{\"sampler\": \"auto\", \"extra\": 1}", "extra"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        s = (its_sampler *)1;
        its_status st = its_sampler_from_json(f->ctx, cases[i].doc, strlen(cases[i].doc), &s);
        assert_null(s);
        const char *msg = its_ctx_errmsg(f->ctx);
        size_t n = strlen(cases[i].path);
        if (st != ITS_ERR_CONFIG || strncmp(msg, cases[i].path, n) != 0 || msg[n] != ':')
            fail_msg("%s: expected ITS_ERR_CONFIG at %s, got %s: %s", cases[i].doc,
                     cases[i].path, its_status_str(st), msg);
    }
}

/* The online mode never spends more than the cap and repeats itself for a seed. */
static void test_online_cap_and_determinism(void **state)
{
    its_test_fixture *f = *state;
    static const uint64_t budgets[] = {20, 61, 100, 237, 400};
    for (size_t b = 0; b < sizeof(budgets) / sizeof(budgets[0]); b++) {
        its_auto_params ap;
        its_auto_params_init(&ap);
        ap.pilot_share = 0.3;
        its_run_params run;
        its_run_params_init(&run);
        run.steps = 10;
        run.max_nfe = budgets[b];
        run.top_k = 2;
        its_sampler *s = NULL;
        ITS_ASSERT_OK(its_auto_sampler_create(f->ctx, &ap, &run, &s));
        for (uint64_t seed = 0; seed < 3; seed++) {
            its_result *r1 = NULL, *r2 = NULL;
            ITS_ASSERT_OK(its_generate(s, &f->model, &f->ver, seed, &r1));
            ITS_ASSERT_OK(its_generate(s, &f->model, &f->ver, seed, &r2));
            its_usage u;
            its_result_usage(r1, &u);
            if (u.nfe > budgets[b])
                fail_msg("budget %llu: spent %llu", (unsigned long long)budgets[b],
                         (unsigned long long)u.nfe);
            assert_true(u.nfe > 0);
            assert_same_result(r1, r2);
            /* the best sample's score is the best of what every sub-run found */
            const its_trace_point *tp;
            size_t nt = its_result_trace(r1, &tp);
            assert_true(nt > 0);
            assert_true(tp[nt - 1].nfe <= budgets[b]);
            const char *js = its_result_to_json(r1);
            assert_non_null(strstr(js, "\"mode\":\"online\""));
            if (budgets[b] == 400) /* 30% of 400 pays one pilot round of every candidate */
                assert_non_null(strstr(js, "\"nfe_each\""));
            its_result_free(r1);
            its_result_free(r2);
        }
        its_sampler_free(s);
    }
}

/* Tuning picks, per budget, the candidate with the best mean on common seeds: best_of_n's first
 * trajectory is `none`'s (same lineage, same seed), so its best score is never lower, and a tie
 * goes to the earlier candidate. */
static void test_tune_small(void **state)
{
    its_test_fixture *f = *state;
    static const char *const cands[] = {"{\"sampler\": \"best_of_n\"}",
                                        "{\"sampler\": \"none\"}"};
    static const uint64_t budgets[] = {40, 100};
    its_tune_params tp;
    its_tune_params_init(&tp);
    tp.budgets = budgets;
    tp.n_budgets = 2;
    tp.seeds = 4;
    tp.seed = 500;
    tp.candidates = cands;
    tp.n_candidates = 2;
    tp.label = "fixture";
    its_policy *pol = NULL;
    its_tune_report rep;
    ITS_ASSERT_OK(its_tune(f->ctx, &tp, &f->model, &f->ver, &pol, &rep));
    assert_int_equal(its_policy_count(pol), 2);
    assert_int_equal(rep.n_budgets, 2);
    assert_int_equal(rep.n_candidates, 2);
    for (size_t b = 0; b < 2; b++) {
        its_policy_entry e;
        ITS_ASSERT_OK(its_policy_entry_get(pol, b, &e));
        assert_int_equal(e.method, ITS_METHOD_BEST_OF_N);
        assert_true(e.has_runner_up && e.runner_up == ITS_METHOD_NONE);
        assert_true(e.mean >= e.runner_up_mean);
        assert_int_equal(e.tuned_at, budgets[b]);
        assert_int_equal(rep.count[b * 2 + 1], 4);
        assert_true(rep.mean[b * 2 + 0] == e.mean && rep.mean[b * 2 + 1] == e.runner_up_mean);
    }
    its_policy_entry e0, e1;
    its_policy_entry_get(pol, 0, &e0);
    its_policy_entry_get(pol, 1, &e1);
    /* the boundary is the geometric mean of the tuned budgets: floor(sqrt(4000)) = 63 */
    assert_true(e0.nfe_lo == 1 && e0.nfe_hi == 63 && e1.nfe_lo == 64 && e1.nfe_hi == UINT64_MAX);
    /* the tuning's own cost: none spends 20 NFE a run; best_of_n 40 and 100 */
    assert_int_equal(rep.runs, 16);
    assert_int_equal(rep.nfe, 4 * (20 + 40) + 4 * (20 + 100));
    /* the policy round-trips */
    const char *txt = its_policy_to_json(pol);
    its_policy *back = parse_policy(f->ctx, txt);
    char *a = strdup(txt);
    assert_string_equal(a, its_policy_to_json(back));
    assert_non_null(strstr(a, "\"label\":\t\"fixture\""));
    free(a);
    its_policy_free(back);
    its_policy_free(pol);
}

/* The select rule: with select 0 the entry is the best mean; with select 1 the best mean - SE
 * among the candidates run on every seed, and the runner-up the next by the same rule; any other
 * value is refused naming the field. */
static void test_tune_select(void **state)
{
    its_test_fixture *f = *state;
    static const char *const cands[] = {
        "{\"sampler\": \"none\"}", "{\"sampler\": \"best_of_n\"}",
        "{\"sampler\": \"zero_order\"}",
        "{\"sampler\": \"fk_smc\", \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}"};
    static const uint64_t budgets[] = {60, 200};
    for (int sel = 0; sel < 2; sel++) {
        its_tune_params tp;
        its_tune_params_init(&tp);
        assert_int_equal(tp.select, 0);
        tp.budgets = budgets;
        tp.n_budgets = 2;
        tp.seeds = 6;
        tp.seed = 700;
        tp.candidates = cands;
        tp.n_candidates = 4;
        tp.halving = 0;
        tp.select = sel;
        its_policy *pol = NULL;
        its_tune_report rep;
        ITS_ASSERT_OK(its_tune(f->ctx, &tp, &f->model, &f->ver, &pol, &rep));
        for (size_t b = 0; b < 2; b++) {
            its_policy_entry e;
            ITS_ASSERT_OK(its_policy_entry_get(pol, b, &e));
            double key_best = sel ? e.mean - e.se : e.mean;
            double key_run = sel ? e.runner_up_mean - e.runner_up_se : e.runner_up_mean;
            assert_true(e.has_runner_up);
            assert_true(key_best >= key_run);
            int seen_best = 0;
            for (size_t i = 0; i < 4; i++) {
                size_t k = b * 4 + i;
                if (rep.count[k] != 6)
                    continue;
                double key = sel ? rep.mean[k] - rep.se[k] : rep.mean[k];
                assert_true(key <= key_best);
                if (rep.mean[k] == e.mean && rep.se[k] == e.se)
                    seen_best = 1;
                else
                    assert_true(key <= key_run);
            }
            assert_true(seen_best);
        }
        its_policy_free(pol);
    }
    its_tune_params tp;
    its_tune_params_init(&tp);
    tp.budgets = budgets;
    tp.n_budgets = 2;
    tp.select = 2;
    its_policy *pol = NULL;
    assert_int_equal(its_tune(f->ctx, &tp, &f->model, &f->ver, &pol, NULL), ITS_ERR_INVALID);
    assert_null(pol);
    assert_non_null(strstr(its_ctx_errmsg(f->ctx), "tune.select"));
}

/* A policy's scheduler profiles run what auto runs at each tuned budget. */
static void test_policy_profiles(void **state)
{
    its_test_fixture *f = *state;
    its_policy *pol = parse_policy(f->ctx, policy_text);
    its_sched_profile prof[2];
    size_t n = 0;
    assert_int_equal(its_policy_profiles(pol, NULL, prof, 1, &n), ITS_ERR_INVALID);
    ITS_ASSERT_OK(its_policy_profiles(pol, NULL, prof, 2, &n));
    assert_int_equal(n, 2);
    assert_string_equal(prof[0].name, "auto_100");
    assert_true(prof[0].nfe == 100 && prof[1].nfe == 500);
    its_auto_params ap;
    its_auto_params_init(&ap);
    ap.policy = pol;
    for (size_t i = 0; i < n; i++) {
        its_sampler *ps = NULL, *as = NULL;
        ITS_ASSERT_OK(its_sampler_from_json(f->ctx, prof[i].config_json,
                                            strlen(prof[i].config_json), &ps));
        its_run_params run;
        its_run_params_init(&run);
        run.max_nfe = prof[i].nfe;
        ITS_ASSERT_OK(its_auto_sampler_create(f->ctx, &ap, &run, &as));
        its_result *rp = NULL, *ra = NULL;
        ITS_ASSERT_OK(its_generate(ps, &f->model, &f->ver, 3, &rp));
        ITS_ASSERT_OK(its_generate(as, &f->model, &f->ver, 3, &ra));
        assert_same_result(rp, ra);
        its_result_free(rp);
        its_result_free(ra);
        its_sampler_free(ps);
        its_sampler_free(as);
    }
    its_policy_free(pol);
}

static int setup(void **state) { return its_test_fixture_setup(state, DIM); }
static int teardown(void **state) { return its_test_fixture_teardown(state); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_policy_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_entry_bit_identical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auto_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_online_cap_and_determinism, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tune_small, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tune_select, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_profiles, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
