/* `none`: one ODE or SDE trajectory from noise to data, the baseline every search is measured
 * against. With a verifier its output is scored. */
#include "samplers/common.h"

void its_none_params_init(its_none_params *p)
{
    if (!p)
        return;
    p->size = (uint32_t)sizeof(*p);
    p->method = ITS_METHOD_NONE;
}

static void none_init(void *p) { its_none_params_init(p); }

static its_status none_run(its_engine *e, const void *params)
{
    (void)params;
    its_pset ps;
    ITS_TRY(its_eng_require_nfe(e, its_eng_trajectory_nfe(e, 0), "one trajectory"));
    ITS_TRY(its_eng_pset(e, &ps, 1, 0));
    its_eng_roots(e, &ps, 0, 1, 0);
    ITS_TRY(its_eng_init_noise(e, &ps, 0, 1, its_eng_grid(e)[0]));
    ITS_TRY(its_smp_rollout(e, &ps, 0));
    return its_eng_score(e, &ps, 0, 1, ITS_SCORE_FINAL);
}

const its_method_vt its_vt_none = {
    .method = ITS_METHOD_NONE,
    .params_size = sizeof(its_none_params),
    .params_init = none_init,
    .desc = NULL,
    .n_desc = 0,
    .needs_verifier = 0,
    .run = none_run,
    .no_lookahead = 1,
    .summary = "one ODE or SDE trajectory (the baseline)",
};
