/* Scale to budget: for `run --nfe` and `bench`, the method's size parameter follows the NFE
 * budget by the method's own rule (its_cost_fit_json; its_method_scale_rule says it in words),
 * and run.budget.max_nfe is the budget as well, so a method never spends more. The CLI only
 * reports: what was set, and when the size parameter stopped at the top of its range so that
 * part of the budget goes unspent. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "itscale.h"

/* Methods that steer SDE particles: the CLI's default dynamics for them is "sde". */
static const char *const cli_sde_methods[] = {"beam", "svdd", "code", "fk_smc", "bfs", "rbf"};

int cli_method_wants_sde(const char *method)
{
    for (size_t i = 0; i < sizeof(cli_sde_methods) / sizeof(cli_sde_methods[0]); i++)
        if (strcmp(cli_sde_methods[i], method) == 0)
            return 1;
    return 0;
}

/* The size parameter of m (its index), or -1 when the method has none. */
static int cli_size_param(its_method m, its_param_info *info)
{
    for (int i = 0; i < its_method_param_count(m); i++)
        if (its_method_param_info(m, i, info) == ITS_OK && info->size_param)
            return i;
    return -1;
}

int cli_scale_doc(its_ctx *ctx, cJSON *doc, const char *method, uint64_t nfe, cli_scaled *out)
{
    cli_scaled dummy;
    if (!out)
        out = &dummy;
    memset(out, 0, sizeof(*out));
    /* auto picks its policy's entry for run.budget.max_nfe (already set to the budget) and
     * sizes it with its_cost_fit itself: fitting here would have no method to fit */
    if (strcmp(method, "auto") == 0) {
        const cJSON *pp = cJSON_GetObjectItemCaseSensitive(doc, "params");
        snprintf(out->what, sizeof(out->what), "%s",
                 cJSON_GetObjectItemCaseSensitive(pp, "policy")
                     ? "only the cap is set (auto sizes its policy's entry to the budget)"
                     : "only the cap is set (auto, online: pilot runs of its candidates pick "
                       "one, sized to the budget)");
        return 0;
    }
    its_method m;
    if (its_method_parse(method, &m) != ITS_OK) {
        cli_err("unknown sampler \"%s\" (see itscale samplers)", method);
        return -1;
    }
    char *txt = cJSON_PrintUnformatted(doc), *fitted = NULL;
    if (!txt) {
        cli_err("out of memory");
        return -1;
    }
    its_status st = its_cost_fit_json(ctx, txt, strlen(txt), nfe, &fitted);
    cJSON_free(txt);
    if (st != ITS_OK && st != ITS_ERR_BUDGET) {
        cli_err("config: %s", its_ctx_errmsg(ctx));
        its_ctx_mem_free(ctx, fitted);
        return -1;
    }
    /* below the method's minimum the sampler reports it when it is created */
    cJSON *eff = cJSON_Parse(fitted);
    its_ctx_mem_free(ctx, fitted);
    if (!eff) {
        cli_err("out of memory");
        return -1;
    }
    /* the fitted configuration replaces the document's sampler, params and run */
    static const char *const keys[] = {"sampler", "params", "run"};
    for (size_t i = 0; i < 3; i++) {
        cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(eff, keys[i]);
        if (v && cli_doc_set(doc, keys[i], v, "--nfe") != 0) {
            cJSON_Delete(eff);
            return -1;
        }
    }
    its_param_info info;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(doc, "params");
    const cJSON *v = NULL;
    if (cli_size_param(m, &info) >= 0)
        v = cJSON_GetObjectItemCaseSensitive(params, info.name);
    if (!cJSON_IsNumber(v)) {
        const char *rule = its_method_scale_rule(m);
        if (strstr(rule, "only the cap is set")) /* the rule says it already */
            snprintf(out->what, sizeof(out->what), "%s", rule);
        else
            snprintf(out->what, sizeof(out->what), "only the cap is set (%s)", rule);
        cJSON_Delete(eff);
        return 0;
    }
    snprintf(out->what, sizeof(out->what), "%s = %.17g (%s)", info.name, v->valuedouble,
             its_method_scale_rule(m));
    /* at the top of its range with NFE to spare: the rule wanted more than the range allows */
    if (st == ITS_OK && v->valuedouble >= info.max) {
        char *t2 = cJSON_PrintUnformatted(doc);
        its_sampler *s = NULL;
        its_cost c;
        if (t2 && its_sampler_from_json(ctx, t2, strlen(t2), &s) == ITS_OK &&
            its_sampler_cost(s, &c) == ITS_OK && c.planned < nfe) {
            out->clamped = 1;
            snprintf(out->clamp, sizeof(out->clamp),
                     "%s = %.17g, the top of its range: plans %llu of the %llu NFE", info.name,
                     v->valuedouble, (unsigned long long)c.planned, (unsigned long long)nfe);
        }
        its_sampler_free(s);
        cJSON_free(t2);
    }
    cJSON_Delete(eff);
    return 0;
}
