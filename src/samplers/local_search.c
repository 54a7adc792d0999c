/* `local_search`: n particles, each step taken with the local-search move (gradient guidance
 * with recurrence, Zhang et al. 2025; samplers/guidance.h), the best final verifier score kept. It
 * needs verifier.grad. With rho = mu = 0 and recur = 1 it is best_of_n. When the NFE cap cannot
 * pay for n guided trajectories it runs as many as it can pay for. */
#include "samplers/guidance.h"

void its_local_search_params_init(its_local_search_params *p)
{
    if (!p)
        return;
    p->size = (uint32_t)sizeof(*p);
    p->method = ITS_METHOD_LOCAL_SEARCH;
    p->rho = 0.1;
    p->mu = 0.0;
    p->recur = 2;
    p->schedule = ITS_LS_SIGMA;
    p->n = 1;
}

static void ls_init(void *p) { its_local_search_params_init(p); }

static const its_param_desc ls_desc[] = {
    ITS_P_DBL(its_local_search_params, rho, 0, 1e6, "gradient step on x"),
    ITS_P_DBL(its_local_search_params, mu, 0, 1e6, "x0_hat refinement step"),
    /* recur <= 100 and steps <= 100000 keep the SDE ticks k + (r - 1) steps below 2^24 */
    ITS_P_INT(its_local_search_params, recur, 1, 100, "recurrences per step"),
    ITS_P_ENUM(its_local_search_params, schedule, its_ls_schedule, ITS_LS_COUNT_,
               "how rho and mu scale with t: constant, linear (t) or sigma (sigma(t))"),
    ITS_P_SIZE(its_local_search_params, n, 1, 65536, "particles (best of n)"),
};

/* NFE of one guided trajectory. */
static uint64_t ls_per(const its_plan *pl, const its_local_search_params *p)
{
    uint64_t traj = 0;
    for (int k = 0; k < pl->steps; k++)
        traj += its_smp_local_step_nfe_plan(pl, k, p);
    return traj;
}

static its_status ls_fit(its_ctx *ctx, const its_plan *pl, void *params)
{
    its_local_search_params *p = params;
    uint64_t per = ls_per(pl, p);
    ITS_TRY(its_plan_require(ctx, pl, ITS_METHOD_LOCAL_SEARCH, per, "one guided trajectory"));
    if (pl->cap && (uint64_t)p->n > pl->cap / per)
        p->n = (int)(pl->cap / per);
    return ITS_OK;
}

static uint64_t ls_plan(const its_plan *pl, const void *params)
{
    const its_local_search_params *p = params;
    return (uint64_t)p->n * ls_per(pl, p);
}

static uint64_t ls_minimum(const its_plan *pl, const void *params)
{
    return ls_per(pl, params);
}

static void ls_scale(const its_plan *pl, void *params, uint64_t nfe)
{
    its_local_search_params *p = params;
    p->n = (int)its_size_clamp(&its_vt_local_search, (double)(nfe / ls_per(pl, p)));
}

static its_status ls_run(its_engine *e, const void *params)
{
    const its_local_search_params *p = params;
    const int T = its_eng_steps(e);
    const double *t = its_eng_grid(e);
    size_t n = (size_t)p->n; /* fitted to the cap by ls_fit */
    its_pset ps;
    ITS_TRY(its_eng_pset(e, &ps, n, ITS_PSET_GRAD));
    its_eng_roots(e, &ps, 0, n, 0);
    ITS_TRY(its_eng_init_noise(e, &ps, 0, n, t[0]));
    for (int k = 0; k < T; k++) {
        its_eng_step_begin(e, k, t[k], -1);
        ITS_TRY(its_eng_eval(e, &ps, 0, n));
        ITS_TRY(its_smp_local_step(e, &ps, k, p));
        its_eng_step_end(e);
    }
    return its_eng_score(e, &ps, 0, n, ITS_SCORE_FINAL);
}

const its_method_vt its_vt_local_search = {
    .method = ITS_METHOD_LOCAL_SEARCH,
    .params_size = sizeof(its_local_search_params),
    .params_init = ls_init,
    .desc = ls_desc,
    .n_desc = ITS_ARRAY_LEN(ls_desc),
    .needs_verifier = 1,
    .needs_grad = 1,
    .run = ls_run,
    .fit = ls_fit,
    .plan = ls_plan,
    .minimum = ls_minimum,
    .scale = ls_scale,
    .scale_rule = "n = floor(NFE / (recur T))",
    .summary = "gradient guidance with recurrence, best of n (Zhang et al. 2025)",
};
