/* `beam`: beam search over SDE paths (Ramesh & Mardani 2025). B beams; every step each beam
 * spawns K SDE children, all B K children are evaluated and scored by look-ahead r(x0_hat), and
 * the best B survive, whichever beams they came from; at t = 0 the children are the outputs.
 * Child 0 keeps its beam's noise, so K = 1 is one SDE trajectory per beam (`best_of_n` with
 * n = B). Cost B + B K (T - 1) NFE; under a smaller cap it keeps fewer beams, then fewer children
 * (ITS_ERR_BUDGET below one trajectory). With budget_children the K of each step comes from the
 * per-step allocator over run.max_nfe (its_smp_rounds), `children` being the most. */
#include <math.h>

#include "samplers/children_search.h"
#include "samplers/selection.h"

void its_beam_params_init(its_beam_params *p)
{
    if (!p)
        return;
    p->size = (uint32_t)sizeof(*p);
    p->method = ITS_METHOD_BEAM;
    p->beams = 2;
    p->children = 4;
    p->budget_children = 0;
    p->children_policy = ITS_BUDGET_ROLLOVER;
}

static void beam_init(void *p) { its_beam_params_init(p); }

static const its_param_desc beam_desc[] = {
    ITS_P_INT(its_beam_params, beams, 1, 65536, "beams kept after every step (B)"),
    ITS_P_SIZE(its_beam_params, children, 1, 65536,
              "SDE children per beam per step (K); the most per step with budget_children"),
    ITS_P_BOOL(its_beam_params, budget_children,
               "children per step from the allocator over run.max_nfe (needs run.max_nfe)"),
    ITS_P_ENUM(its_beam_params, children_policy, its_budget_policy, ITS_BUDGET_POLICY_COUNT_,
               "allocator policy of budget_children"),
};

static its_status beam_check(its_ctx *ctx, const void *params, const its_run_params *run)
{
    const its_beam_params *p = params;
    return its_smp_rounds_check(ctx, "beam", "beams", p->beams, p->children, p->budget_children,
                                p->children_policy, run);
}

static its_status beam_fit(its_ctx *ctx, const its_plan *pl, void *params)
{
    its_beam_params *p = params;
    size_t n = (size_t)p->beams, k = (size_t)p->children;
    ITS_TRY(its_smp_rounds_shrink(ctx, pl, ITS_METHOD_BEAM, p->budget_children, 1, &n, &k));
    p->beams = (int)n;
    p->children = (int)k;
    return ITS_OK;
}

static uint64_t beam_plan(const its_plan *pl, const void *params)
{
    const its_beam_params *p = params;
    return its_smp_rounds_plan(pl, p->budget_children, 1, (size_t)p->beams,
                               (size_t)p->children);
}

static uint64_t beam_minimum(const its_plan *pl, const void *params)
{
    const its_beam_params *p = params;
    return its_smp_rounds_minimum(pl, p->budget_children, 1);
}

/* children = floor(NFE / (beams T)); with budget_children the allocator sizes them (cap only). */
static void beam_scale(const its_plan *pl, void *params, uint64_t nfe)
{
    its_beam_params *p = params;
    if (p->budget_children)
        return;
    double per = (double)p->beams * (double)its_plan_trajectory(pl, 0);
    p->children = (int)its_size_clamp(&its_vt_beam, floor((double)nfe / per));
}

static int beam_needs_cap(const void *params)
{
    return ((its_beam_params const *)params)->budget_children != 0;
}

static its_status beam_steps(its_engine *e, its_smp_rounds *rs, its_budget_policy policy)
{
    const double *t = its_eng_grid(e);
    const size_t B = rs->n;
    its_pset P, C;
    size_t *pidx;
    uint32_t *cidx;
    size_t *order = its_eng_alloc(e, B * rs->kmax * sizeof(size_t));
    if (!order)
        return ITS_ERR_NOMEM;
    ITS_TRY(its_smp_search_start(e, rs, policy, &P, &C, &pidx, &cidx));
    size_t kprev = rs->kmax;
    for (int k = 0; k < rs->T; k++) {
        const size_t K = its_smp_rounds_k(e, rs, k), BK = B * K;
        if (K != kprev) {
            its_smp_fanout_index(B, K, pidx, cidx);
            kprev = K;
        }
        ITS_TRY(its_eng_branch(e, &P, pidx, cidx, &C, 0, BK, t[k + 1], (uint32_t)k));
        C.n = BK;
        if (k + 1 == rs->T) {
            ITS_TRY(its_smp_rounds_end(e, rs, k));
            return its_eng_score(e, &C, 0, BK, ITS_SCORE_FINAL);
        }
        ITS_TRY(its_eng_eval(e, &C, 0, BK));
        ITS_TRY(its_eng_score(e, &C, 0, BK, ITS_SCORE_LOOKAHEAD));
        its_rank_desc(C.score, BK, order);
        ITS_TRY(its_eng_gather(e, &P, &C, order, B));
        ITS_TRY(its_smp_rounds_end(e, rs, k));
    }
    return ITS_OK;
}

static its_status beam_run(its_engine *e, const void *params)
{
    const its_beam_params *p = params;
    size_t B = (size_t)p->beams, K = (size_t)p->children;
    its_smp_rounds rs;
    ITS_TRY(its_smp_rounds_fit(e, &rs, p->budget_children, 1, &B, &K));
    its_status st = beam_steps(e, &rs, p->children_policy);
    its_smp_rounds_free(&rs);
    return st;
}

const its_method_vt its_vt_beam = {
    .method = ITS_METHOD_BEAM,
    .params_size = sizeof(its_beam_params),
    .params_init = beam_init,
    .desc = beam_desc,
    .n_desc = ITS_ARRAY_LEN(beam_desc),
    .check = beam_check,
    .needs_verifier = 1,
    .run = beam_run,
    .fit = beam_fit,
    .plan = beam_plan,
    .minimum = beam_minimum,
    .scale = beam_scale,
    .needs_cap_fn = beam_needs_cap,
    .scale_rule = "children = floor(NFE / (beams T)); with budget_children only the cap",
    .summary = "B beams, K SDE children each per step, keep the best B look-aheads "
               "(Ramesh & Mardani 2025)",
};
