/* its_cost_fit on a JSON configuration: for hosts that hold configurations as JSON (the CLI, the
 * server, language bindings) and want one sized for a budget without the structs. */
#include <stdio.h>

#include "config/config.h"

its_status its_cost_fit_json(its_ctx *ctx, const char *json, size_t len, uint64_t nfe, char **out)
{
    if (!ctx)
        return ITS_ERR_INVALID;
    if (!out)
        return its_error(ctx, ITS_ERR_INVALID, "its_cost_fit_json: out is NULL");
    *out = NULL;
    its_clear_error(ctx);
    const its_method_vt *vt;
    void *params;
    its_run_params run;
    ITS_TRY(its_cfg_parse(ctx, json, len, &vt, &params, &run));
    double *grid = (double *)run.grid_custom;
    its_status st = its_cost_fit(ctx, vt->method, params, &run, nfe);
    if (st == ITS_OK || st == ITS_ERR_BUDGET) {
        char msg[ITS_ERRMSG_CAP];
        snprintf(msg, sizeof(msg), "%s", its_ctx_errmsg(ctx));
        cJSON *doc = its_cfg_to_cjson(vt, params, &run);
        *out = its_cfg_print(ctx, doc);
        cJSON_Delete(doc);
        if (!*out)
            st = its_error(ctx, ITS_ERR_NOMEM, "its_cost_fit_json: out of memory");
        else if (st != ITS_OK)
            its_error(ctx, st, "%s", msg);
    }
    its_mfree(ctx, params);
    its_mfree(ctx, grid);
    return st;
}
