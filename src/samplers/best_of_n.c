/* `best_of_n`: N independent trajectories, keep the best final verifier score (random search,
 * Ma et al. 2025). Trajectory i has lineage root i, so n = 1 reproduces `none`. When the NFE cap
 * cannot pay for n trajectories, it runs as many as it can pay for. */
#include "samplers/common.h"

void its_best_of_n_params_init(its_best_of_n_params *p)
{
    if (!p)
        return;
    p->size = (uint32_t)sizeof(*p);
    p->method = ITS_METHOD_BEST_OF_N;
    p->n = 4;
}

static void bon_init(void *p) { its_best_of_n_params_init(p); }

static const its_param_desc bon_desc[] = {
    ITS_P_SIZE(its_best_of_n_params, n, 1, 65536, "independent trajectories"),
};

static its_status bon_fit(its_ctx *ctx, const its_plan *pl, void *params)
{
    its_best_of_n_params *p = params;
    uint64_t traj = its_plan_trajectory(pl, 0);
    ITS_TRY(its_plan_require(ctx, pl, ITS_METHOD_BEST_OF_N, traj, "one trajectory"));
    if (pl->cap && (uint64_t)p->n > pl->cap / traj)
        p->n = (int)(pl->cap / traj);
    return ITS_OK;
}

static uint64_t bon_plan(const its_plan *pl, const void *params)
{
    return (uint64_t)((const its_best_of_n_params *)params)->n * its_plan_trajectory(pl, 0);
}

static void bon_scale(const its_plan *pl, void *params, uint64_t nfe)
{
    ((its_best_of_n_params *)params)->n =
        (int)its_size_clamp(&its_vt_best_of_n, (double)(nfe / its_plan_trajectory(pl, 0)));
}

static its_status bon_run(its_engine *e, const void *params)
{
    const its_best_of_n_params *p = params;
    size_t n = (size_t)p->n; /* fitted to the cap by bon_fit */
    its_pset ps;
    ITS_TRY(its_eng_pset(e, &ps, n, 0));
    its_eng_roots(e, &ps, 0, n, 0);
    ITS_TRY(its_eng_init_noise(e, &ps, 0, n, its_eng_grid(e)[0]));
    ITS_TRY(its_smp_rollout(e, &ps, 0));
    return its_eng_score(e, &ps, 0, n, ITS_SCORE_FINAL);
}

const its_method_vt its_vt_best_of_n = {
    .method = ITS_METHOD_BEST_OF_N,
    .params_size = sizeof(its_best_of_n_params),
    .params_init = bon_init,
    .desc = bon_desc,
    .n_desc = ITS_ARRAY_LEN(bon_desc),
    .needs_verifier = 1,
    .run = bon_run,
    .fit = bon_fit,
    .plan = bon_plan,
    .scale = bon_scale,
    .scale_rule = "n = floor(NFE / T), T the NFE of one trajectory",
    .no_lookahead = 1,
    .summary = "N independent trajectories, keep the best final score (Ma et al. 2025)",
};
