/* The plan of a run: what one evaluation, one trajectory and a cap mean in NFE. The cost model
 * of every method (its fit, plan, minimum and scale slots) is written in these terms. */
#include "engine/engine.h"

int its_plan_nfe_per_step(const its_plan *pl, double t, double s)
{
    (void)t;
    return (pl->run->solver == ITS_SOLVER_HEUN && pl->run->dynamics == ITS_DYN_ODE && s > 0) ? 2
                                                                                             : 1;
}

uint64_t its_plan_trajectory(const its_plan *pl, int k0)
{
    uint64_t n = 0;
    for (int k = k0; k < pl->steps; k++)
        n += (uint64_t)its_plan_nfe_per_step(pl, pl->grid[k], pl->grid[k + 1]);
    return n;
}

its_status its_plan_require(its_ctx *ctx, const its_plan *pl, its_method m, uint64_t need,
                            const char *what)
{
    if (pl->cap && need > pl->cap)
        return its_error(ctx, ITS_ERR_BUDGET,
                         "%s needs at least %llu NFE (%s), but budget.max_nfe is %llu",
                         its_method_name(m), (unsigned long long)need, what,
                         (unsigned long long)pl->cap);
    return ITS_OK;
}

its_status its_plan_init(its_ctx *ctx, its_plan *pl, const its_run_params *run, double *gridbuf)
{
    pl->run = run;
    pl->steps = run->steps;
    pl->cap = run->max_nfe;
    pl->grid = gridbuf;
    return its_grid_build(ctx, run, gridbuf);
}

