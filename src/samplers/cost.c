/* The cost model: the plan of a run (grid and cap), each method's fit / plan / minimum / scale
 * slots behind one function, and the public entry points its_cost_plan, its_sampler_cost and
 * its_cost_fit. The engine fits through the same function before a method runs. */
#include <stdio.h>
#include <string.h>

#include "samplers/sampler.h"

#define ITS_PARAMS_MAX 256

static int its_vt_needs_cap(const its_method_vt *vt, const void *params)
{
    return vt->needs_cap || (vt->needs_cap_fn && vt->needs_cap_fn(params));
}

its_status its_method_fit(its_ctx *ctx, const its_method_vt *vt, const its_plan *pl,
                          void *params)
{
    if (vt->fit)
        return vt->fit(ctx, pl, params);
    return its_plan_require(ctx, pl, vt->method, its_plan_trajectory(pl, 0), "one trajectory");
}

its_status its_method_cost(its_ctx *ctx, const its_method_vt *vt, const its_plan *pl,
                           void *params, its_cost *out)
{
    memset(out, 0, sizeof(*out));
    out->trajectory = its_plan_trajectory(pl, 0);
    out->needs_cap = its_vt_needs_cap(vt, params);
    out->minimum = vt->minimum ? vt->minimum(pl, params) : out->trajectory;
    if (out->needs_cap && !pl->cap) {
        out->planned = 0;
        return ITS_OK;
    }
    its_status st = its_method_fit(ctx, vt, pl, params);
    if (st != ITS_OK) {
        out->planned = 0;
        return st;
    }
    out->planned = vt->plan ? vt->plan(pl, params) : out->trajectory;
    if (pl->cap && out->planned > pl->cap)
        out->planned = pl->cap;
    return ITS_OK;
}

/* The plan without its cap (the minimum does not depend on it). */
static void run_plan_nocap(its_plan *pl)
{
    pl->cap = 0;
}

/* Checks a configuration as its_sampler_create does, into params (ITS_PARAMS_MAX bytes) and a
 * plan with its grid (allocated from ctx; *grid freed by the caller). */
static its_status its_cost_setup(its_ctx *ctx, const its_method_vt *vt, const void *method_params,
                                 const its_run_params *run, void *params, its_plan *pl,
                                 double **grid)
{
    *grid = NULL;
    ITS_TRY(its_run_check(ctx, run));
    if (vt->params_size > ITS_PARAMS_MAX)
        return its_error(ctx, ITS_ERR_INVALID, "%s parameters are too large",
                         its_method_name(vt->method));
    ITS_TRY(its_params_load(ctx, vt, method_params, params));
    ITS_TRY(its_params_check(ctx, vt, params));
    if (!(*grid = its_calloc(ctx, (size_t)run->steps + 1, sizeof(double))))
        return ITS_ERR_NOMEM;
    return its_plan_init(ctx, pl, run, *grid);
}

its_status its_cost_plan(its_ctx *ctx, its_method m, const void *method_params,
                         const its_run_params *run, its_cost *out)
{
    if (!ctx)
        return ITS_ERR_INVALID;
    its_clear_error(ctx);
    if (!out)
        return its_error(ctx, ITS_ERR_INVALID, "its_cost_plan: out is NULL");
    memset(out, 0, sizeof(*out));
    const its_method_vt *vt = its_method_vt_get(m);
    if (!vt)
        return its_error(ctx, ITS_ERR_INVALID, "unknown method %d", (int)m);
    its_run_params def;
    if (!run) {
        its_run_params_init(&def);
        run = &def;
    }
    union {
        unsigned char bytes[ITS_PARAMS_MAX];
        double align_d;
        uint64_t align_u;
    } pbuf;
    memset(&pbuf, 0, sizeof(pbuf));
    its_plan pl;
    double *grid;
    its_status st = its_cost_setup(ctx, vt, method_params, run, pbuf.bytes, &pl, &grid);
    if (st == ITS_OK && vt->check && (st = vt->check(ctx, pbuf.bytes, run)) == ITS_ERR_BUDGET) {
        /* a cap below the minimum: the cost is known all the same */
        its_cost c;
        its_status keep = ITS_ERR_BUDGET;
        run_plan_nocap(&pl);
        its_method_cost(ctx, vt, &pl, pbuf.bytes, &c);
        out->trajectory = c.trajectory;
        out->minimum = c.minimum;
        out->needs_cap = c.needs_cap;
        its_mfree(ctx, grid);
        return keep;
    }
    if (st == ITS_OK)
        st = its_method_cost(ctx, vt, &pl, pbuf.bytes, out);
    its_mfree(ctx, grid);
    return st;
}

its_status its_sampler_cost(its_sampler *s, its_cost *out)
{
    if (!s)
        return ITS_ERR_INVALID;
    return its_cost_plan(s->ctx, s->vt->method, s->params, &s->run, out);
}

its_status its_cost_fit(its_ctx *ctx, its_method m, void *method_params, its_run_params *run,
                        uint64_t nfe)
{
    if (!ctx)
        return ITS_ERR_INVALID;
    its_clear_error(ctx);
    const its_method_vt *vt = its_method_vt_get(m);
    if (!vt)
        return its_error(ctx, ITS_ERR_INVALID, "unknown method %d", (int)m);
    if (!method_params || !run)
        return its_error(ctx, ITS_ERR_INVALID, "its_cost_fit: params or run is NULL");
    run->max_nfe = nfe;
    union {
        unsigned char bytes[ITS_PARAMS_MAX];
        double align_d;
        uint64_t align_u;
    } pbuf;
    memset(&pbuf, 0, sizeof(pbuf));
    its_plan pl;
    double *grid;
    its_status st = its_run_check(ctx, run);
    if (st == ITS_OK)
        st = its_params_load(ctx, vt, method_params, pbuf.bytes);
    if (st != ITS_OK)
        return st;
    if (!(grid = its_calloc(ctx, (size_t)run->steps + 1, sizeof(double))))
        return ITS_ERR_NOMEM;
    st = its_plan_init(ctx, &pl, run, grid);
    if (st == ITS_OK && vt->scale) {
        vt->scale(&pl, pbuf.bytes, nfe);
        /* write back only as far as the host's struct reaches */
        uint32_t size;
        memcpy(&size, method_params, sizeof(size));
        memcpy(method_params, pbuf.bytes, size);
        memcpy(method_params, &size, sizeof(size));
    }
    if (st == ITS_OK) {
        its_cost c;
        st = its_cost_plan(ctx, m, method_params, run, &c);
    }
    its_mfree(ctx, grid);
    return st;
}

/* Clamps v to the range of the method's size parameter. */
uint64_t its_size_clamp(const its_method_vt *vt, double v)
{
    for (size_t i = 0; i < vt->n_desc; i++)
        if (vt->desc[i].size_param) {
            if (v < vt->desc[i].min)
                v = vt->desc[i].min;
            if (v > vt->desc[i].max)
                v = vt->desc[i].max;
        }
    return (uint64_t)v;
}
