/* Fuzz target: a fuzzed configuration run end to end on the analytic mixture, then the result
 * report (its_result_to_json). The run is kept small by capping the budget (at most 400 NFE and
 * 4000 verifier rows, no deadline) after parsing. Invariants: the hard caps hold; an error leaves
 * no result and a message; a result holds at most top_k finite samples, best first, with scores
 * that are never NaN; its JSON parses and agrees with the accessors; nothing leaks. */
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "itscale/gmm.h"
#include "samplers/sampler.h"

#define FUZZ_MAX_NFE 400
#define FUZZ_MAX_VROWS 4000

static its_fuzz_alloc a;
static its_ctx *ctx;
static its_gmm *gmm;
static its_model model;
static its_verifier ver;

static void result_setup(void)
{
    if (!(ctx = its_fuzz_ctx(&a)))
        abort();
    const double w[2] = {0.8, 0.2}, mu[4] = {-1.5, -1.5, 1.5, 1.5}, sd[4] = {0.4, 0.4, 0.4, 0.4};
    if (its_gmm_create(ctx, 2, 2, w, mu, sd, &gmm) != ITS_OK)
        abort();
    its_interp ip;
    its_interp_init(&ip, ITS_INTERP_LINEAR);
    its_gmm_bind_model(gmm, &ip, ITS_PRED_VELOCITY, &model);
    if (its_gmm_bind_logprob(gmm, 1, &ver) != ITS_OK)
        abort();
}

static double json_num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void result_check(its_result *r, const its_sampler *s)
{
    its_usage u;
    its_result_usage(r, &u);
    ITS_FUZZ_CHECK(u.nfe <= s->run.max_nfe, "nfe %llu over the cap %llu",
                   (unsigned long long)u.nfe, (unsigned long long)s->run.max_nfe);
    ITS_FUZZ_CHECK(u.verifier_rows + u.grad_rows <= s->run.max_verifier_rows,
                   "verifier rows %llu over the cap",
                   (unsigned long long)(u.verifier_rows + u.grad_rows));
    size_t n = its_result_count(r);
    ITS_FUZZ_CHECK(n <= (size_t)s->run.top_k, "%zu results for top_k %d", n, s->run.top_k);
    ITS_FUZZ_CHECK(its_result_dim(r) == 2, "dim %zu", its_result_dim(r));
    for (size_t i = 0; i < n; i++) {
        const float *x = its_result_sample(r, i);
        ITS_FUZZ_CHECK(x && isfinite(x[0]) && isfinite(x[1]), "sample %zu not finite", i);
        double sc = its_result_score(r, i);
        ITS_FUZZ_CHECK(!isnan(sc) && sc != INFINITY, "score %zu is %g", i, sc);
        if (i > 0)
            ITS_FUZZ_CHECK(sc <= its_result_score(r, i - 1), "scores out of order at %zu", i);
    }
    ITS_FUZZ_CHECK(its_result_sample(r, n) == NULL, "sample past the end");
    const char *js = its_result_to_json(r);
    ITS_FUZZ_CHECK(js != NULL, "to_json failed");
    cJSON *doc = cJSON_Parse(js);
    ITS_FUZZ_CHECK(doc != NULL, "result JSON does not parse:\n%s", js);
    ITS_FUZZ_CHECK(json_num(doc, "count") == (double)n, "count disagrees");
    const cJSON *uj = cJSON_GetObjectItemCaseSensitive(doc, "usage");
    ITS_FUZZ_CHECK(json_num(uj, "nfe") == (double)u.nfe, "usage.nfe disagrees");
    const cJSON *sj = cJSON_GetObjectItemCaseSensitive(doc, "sampler");
    ITS_FUZZ_CHECK(cJSON_IsString(sj) &&
                       strcmp(sj->valuestring, its_method_name(its_result_method(r))) == 0,
                   "sampler disagrees");
    cJSON_Delete(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctx)
        result_setup();
    long live0 = a.live;
    its_sampler *s = NULL;
    if (its_sampler_from_json(ctx, (const char *)data, size, &s) != ITS_OK)
        return 0;
    if (s->run.max_nfe == 0 || s->run.max_nfe > FUZZ_MAX_NFE)
        s->run.max_nfe = FUZZ_MAX_NFE;
    if (s->run.max_verifier_rows == 0 || s->run.max_verifier_rows > FUZZ_MAX_VROWS)
        s->run.max_verifier_rows = FUZZ_MAX_VROWS;
    s->run.deadline_ms = 0;
    uint64_t seed = size;
    for (size_t i = 0; i < size; i++)
        seed = seed * 1099511628211ULL + data[i];
    its_result *r = NULL;
    its_status st = its_generate(s, &model, &ver, seed, &r);
    if (getenv("ITS_FUZZ_VERBOSE"))
        fprintf(stderr, "%s: %s %s\n", its_method_name(its_sampler_method(s)),
                its_status_str(st), st == ITS_OK ? "" : its_ctx_errmsg(ctx));
    if (st == ITS_OK || st == ITS_CANCELLED) {
        ITS_FUZZ_CHECK(r != NULL, "no result with %s", its_status_str(st));
        result_check(r, s);
    } else {
        ITS_FUZZ_CHECK(r == NULL, "a result with %s", its_status_str(st));
        ITS_FUZZ_CHECK(st < 0, "status %d", (int)st);
        ITS_FUZZ_CHECK(its_ctx_errmsg(ctx)[0] != '\0', "no message for %s", its_status_str(st));
    }
    its_result_free(r);
    its_sampler_free(s);
    ITS_FUZZ_CHECK(a.live == live0, "%ld blocks leaked", a.live - live0);
    return 0;
}
