/* Scale to budget: for `bench`, how each method's main size parameter follows the NFE budget.
 * T = NFE of one trajectory (steps, twice that for heun). run.budget.max_nfe is always set to
 * the budget as well, so a method never spends more; values are clamped to the parameter's
 * range. A method missing here (or whose parameter is absent) only gets the cap. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "itscale.h"
#include "samplers/sampler.h"

const cli_scale cli_scales[] = {
    {"none", NULL, NULL, 1, "one trajectory; only the cap is set", 0},
    {"best_of_n", "n", NULL, 1, "n = floor(NFE / T)", 0},
    {"zero_order", "rounds", NULL, 0, "rounds = 0 (as many as the cap pays for)", 0},
    {"search_over_paths", "n", "m", 1, "n = floor(NFE / (m T))", 0},
    {"beam", "children", "beams", 1, "children = floor(NFE / (beams T))", 1},
    {"svdd", "children", "n", 1, "children = floor(NFE / (n T))", 1},
    {"code", "children", "n", 1, "children = floor(NFE / (n T))", 1},
    {"fk_smc", "n", NULL, 1, "n = floor(NFE / T)", 1},
    {"bfs", "n", NULL, 1, "n = floor(NFE / T)", 1},
    {"dfs", "backtracks", "depth", -1, "backtracks = floor((NFE - T) / depth)", 0},
    {"local_search", "n", "recur", 1, "n = floor(NFE / (recur T))", 0},
    {"rbf", "init", "chains", 0.1, "init = floor(0.1 NFE / chains) (the paper: 25 of 500 for 2 chains)", 1},
};
const size_t cli_n_scales = sizeof(cli_scales) / sizeof(cli_scales[0]);

const cli_scale *cli_scale_find(const char *method)
{
    for (size_t i = 0; i < cli_n_scales; i++)
        if (strcmp(cli_scales[i].method, method) == 0)
            return &cli_scales[i];
    return NULL;
}

static double cli_param(const cJSON *eff, const char *name)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(eff, "params");
    const cJSON *v = p ? cJSON_GetObjectItemCaseSensitive(p, name) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

int cli_scale_doc(its_ctx *ctx, cJSON *doc, const char *method, uint64_t nfe, cli_scaled *out)
{
    cli_scaled dummy;
    if (!out)
        out = &dummy;
    memset(out, 0, sizeof(*out));
    snprintf(out->what, sizeof(out->what), "only the cap is set");
    if (cli_doc_set(doc, "run.budget.max_nfe", cJSON_CreateNumber((double)nfe), "bench") != 0)
        return -1;
    const cli_scale *sc = cli_scale_find(method);
    /* the effective config tells T, the solver and the other parameters; a method whose
     * defaults need more than this cap is asked again without it */
    its_sampler *s = sc && sc->param ? cli_sampler_quiet(ctx, doc) : NULL;
    if (sc && sc->param && !s) {
        if (cli_doc_set(doc, "run.budget.max_nfe", cJSON_CreateNumber(0), "bench") != 0)
            return -1;
        s = cli_sampler(ctx, doc);
        if (cli_doc_set(doc, "run.budget.max_nfe", cJSON_CreateNumber((double)nfe), "bench") != 0) {
            its_sampler_free(s);
            return -1;
        }
    }
    if (!sc || !sc->param)
        return 0;
    if (!s)
        return -1;
    cJSON *eff = cJSON_Parse(its_sampler_to_json(s));
    its_sampler_free(s);
    if (!eff) {
        cli_err("out of memory");
        return -1;
    }
    its_method m = ITS_METHOD_NONE;
    its_method_parse(method, &m);
    const its_method_vt *vt = its_method_vt_get(m);
    const its_param_desc *d = NULL;
    for (size_t i = 0; vt && i < vt->n_desc; i++)
        if (strcmp(vt->desc[i].name, sc->param) == 0)
            d = &vt->desc[i];
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(eff, "run");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(run, "steps");
    const cJSON *solver = cJSON_GetObjectItemCaseSensitive(run, "solver");
    double T = cJSON_IsNumber(steps) ? steps->valuedouble : 1;
    if (cJSON_IsString(solver) && strcmp(solver->valuestring, "heun") == 0)
        T *= 2;
    double per = sc->per ? cli_param(eff, sc->per) : 1;
    /* children taken from the allocator: `children` is a cap, the budget sizes each step */
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(eff, "params");
    int from_budget = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pp, "budget_children"));
    cJSON_Delete(eff);
    if (!d || per <= 0 || (from_budget && strcmp(sc->param, "children") == 0))
        return 0; /* no such parameter in this build, or the allocator sizes it: the cap alone */
    double v;
    if (sc->fraction == 0)
        v = 0;
    else if (sc->fraction < 0)
        v = floor(((double)nfe - T) / per);
    else
        v = floor(sc->fraction * (double)nfe / (per * (sc->fraction == 1 ? T : 1)));
    double want = v;
    if (v < d->min)
        v = d->min;
    if (v > d->max)
        v = d->max;
    snprintf(out->what, sizeof(out->what), "%s = %.17g (%s)", sc->param, v, sc->rule);
    if (v != want) {
        out->clamped = 1;
        snprintf(out->clamp, sizeof(out->clamp), "%s = %.17g clamped to %.17g, the %s of its range",
                 sc->param, want, v, v == d->max ? "top" : "bottom");
    }
    char path[96];
    snprintf(path, sizeof(path), "params.%s", sc->param);
    return cli_doc_set(doc, path, cJSON_CreateNumber(v), "bench");
}
