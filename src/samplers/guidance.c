/* The local-search move: gradient guidance with recurrence (Zhang et al. 2025, building on the
 * training-free guidance of Ye et al. 2024). In the reference code the update of a DDIM step is
 * x_prev += Delta_t / sqrt(alpha_t) + Delta_0 sqrt(abar_prev), Delta_t = rho grad_x log f(x0(x)),
 * Delta_0 = mu grad_x0 log f(x0); here in continuous time with x_s = alpha(s) x0 + sigma(s) eps. */
#include <math.h>

#include "samplers/guidance.h"

/* s(t) of the schedule that scales rho and mu. */
static its_status its_local_sched(its_engine *e, its_ls_schedule sch, double t, double *out)
{
    double v[4];
    switch (sch) {
    case ITS_LS_CONSTANT:
        *out = 1.0;
        return ITS_OK;
    case ITS_LS_LINEAR:
        *out = t;
        return ITS_OK;
    case ITS_LS_SIGMA:
        if (its_interp_eval(its_eng_interp(e), t, v) != ITS_OK)
            return its_error(its_eng_ctx(e), ITS_ERR_NUMERIC,
                             "local search: sigma(t) cannot be evaluated at t=%g", t);
        *out = v[1];
        return ITS_OK;
    default:
        return its_error(its_eng_ctx(e), ITS_ERR_INVALID, "local search: unknown schedule %d",
                         (int)sch);
    }
}

uint64_t its_smp_local_step_nfe_plan(const its_plan *pl, int k, const its_local_search_params *lp)
{
    return (uint64_t)lp->recur * (uint64_t)its_plan_nfe_per_step(pl, pl->grid[k], pl->grid[k + 1]);
}

uint64_t its_smp_local_step_nfe(const its_engine *e, int k, const its_local_search_params *lp)
{
    return its_smp_local_step_nfe_plan(its_eng_plan(e), k, lp);
}

its_status its_smp_local_step(its_engine *e, its_pset *ps, int k, const its_local_search_params *lp)
{
    its_ctx *ctx = its_eng_ctx(e);
    const double *grid = its_eng_grid(e);
    const int T = its_eng_steps(e);
    if (k < 0 || k >= T)
        return its_error(ctx, ITS_ERR_INVALID, "local search: step %d outside 0..%d", k, T - 1);
    if (!ps->has_u || ps->t != grid[k])
        return its_error(ctx, ITS_ERR_INVALID,
                         "local search: the particle set must be evaluated at t=%g", grid[k]);
    if (!ps->g)
        return its_error(ctx, ITS_ERR_INVALID,
                         "local search: the particle set has no gradient buffer (ITS_PSET_GRAD)");
    if (lp->recur < 1)
        return its_error(ctx, ITS_ERR_INVALID, "local search: recur must be >= 1, got %d",
                         lp->recur);
    const double tk = grid[k], s = grid[k + 1];
    double sch = 0.0, ak[4], as[4];
    ITS_TRY(its_local_sched(e, lp->schedule, tk, &sch));
    if (its_interp_eval(its_eng_interp(e), tk, ak) != ITS_OK ||
        its_interp_eval(its_eng_interp(e), s, as) != ITS_OK)
        return its_error(ctx, ITS_ERR_NUMERIC,
                         "local search: the interpolant cannot be evaluated at t=%g or t=%g", tk, s);
    /* x0_hat = (sigma' x - sigma u) / det with det = alpha sigma' - sigma alpha' (DESIGN.md §4.1):
     * x0x = sigma' / det at t_k. */
    const double det = ak[0] * ak[3] - ak[1] * ak[2];
    const double x0x = ak[3] / det;
    if (!isfinite(x0x))
        return its_error(ctx, ITS_ERR_NUMERIC, "local search: x0_hat is singular at t=%g", tk);
    const double rho_t = lp->rho * sch, mu_t = lp->mu * sch;
    const int guided = rho_t != 0.0 || mu_t != 0.0;
    for (int r = 1; r <= lp->recur; r++) {
        /* The reference adds no guidance on the last pass into the data end (the output stays a
         * model sample), so that pass needs no gradient. */
        const int apply = guided && !(s == 0.0 && r == lp->recur);
        if (apply)
            ITS_TRY(its_eng_grad(e, ps, 0, ps->n));
        /* SDE noise: pass r has its own tick, so recurrences do not reuse a step's noise; pass 1
         * keeps the plain step's tick. */
        uint32_t tick = (uint32_t)k + (uint32_t)(r - 1) * (uint32_t)T;
        ITS_TRY(its_eng_step(e, ps, s, tick));
        if (apply) {
            const float c = (float)(rho_t * x0x + as[0] * mu_t);
            for (size_t i = 0; i < ps->n; i++) {
                float *xi = its_eng_row(ps, ps->x, i);
                its_eng_lincomb(e, xi, 1.0f, xi, c, its_eng_row(ps, ps->g, i), 0.0f, NULL);
            }
        }
        if (r < lp->recur) {
            ITS_TRY(its_eng_renoise(e, ps, tk, tick));
            ITS_TRY(its_eng_eval(e, ps, 0, ps->n));
        }
    }
    return ITS_OK;
}
