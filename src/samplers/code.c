/* `code`: controlled denoising (CoDe): as `svdd`, but each child runs `block` SDE steps before
 * the per-particle selection by look-ahead r(x0_hat), so selection happens every L steps and
 * children diverge further before being compared. block = 1 is `svdd`; K = 1 is plain SDE
 * sampling. Cost n + n K (T - 1) NFE; under a smaller cap it runs fewer particles, then fewer
 * children (ITS_ERR_BUDGET below one trajectory). With budget_children the K of each block comes
 * from the per-step allocator over run.max_nfe, one budget step per block (its_smp_rounds). */
#include <math.h>

#include "samplers/children_search.h"

void its_code_params_init(its_code_params *p)
{
    if (!p)
        return;
    p->size = (uint32_t)sizeof(*p);
    p->method = ITS_METHOD_CODE;
    p->n = 2;
    p->children = 25;
    p->budget_children = 0;
    p->children_policy = ITS_BUDGET_ROLLOVER;
    p->block = 2;
}

static void code_init(void *p) { its_code_params_init(p); }

static const its_param_desc code_desc[] = {
    ITS_P_INT(its_code_params, n, 1, 65536, "particles, each searched on its own"),
    ITS_P_SIZE(its_code_params, children, 1, 65536,
              "SDE children per particle per block; the most per block with budget_children"),
    ITS_P_INT(its_code_params, block, 1, 100000, "steps a child runs before selection (L)"),
    ITS_P_BOOL(its_code_params, budget_children,
               "children per block from the allocator over run.max_nfe (needs run.max_nfe)"),
    ITS_P_ENUM(its_code_params, children_policy, its_budget_policy, ITS_BUDGET_POLICY_COUNT_,
               "allocator policy of budget_children"),
};

static its_status code_check(its_ctx *ctx, const void *params, const its_run_params *run)
{
    const its_code_params *p = params;
    if (p->block > run->steps)
        return its_error(ctx, ITS_ERR_INVALID, "params.block: %d is more than run.steps (%d)",
                         p->block, run->steps);
    return its_smp_rounds_check(ctx, "code", "n", p->n, p->children, p->budget_children,
                                p->children_policy, run);
}

static its_status code_fit(its_ctx *ctx, const its_plan *pl, void *params)
{
    its_code_params *p = params;
    size_t n = (size_t)p->n, k = (size_t)p->children;
    ITS_TRY(its_smp_rounds_shrink(ctx, pl, ITS_METHOD_CODE, p->budget_children, p->block, &n, &k));
    p->n = (int)n;
    p->children = (int)k;
    return ITS_OK;
}

static uint64_t code_plan(const its_plan *pl, const void *params)
{
    const its_code_params *p = params;
    return its_smp_rounds_plan(pl, p->budget_children, p->block, (size_t)p->n,
                               (size_t)p->children);
}

static uint64_t code_minimum(const its_plan *pl, const void *params)
{
    const its_code_params *p = params;
    return its_smp_rounds_minimum(pl, p->budget_children, p->block);
}

/* children = floor(NFE / (n T)); with budget_children the allocator sizes them (cap only). */
static void code_scale(const its_plan *pl, void *params, uint64_t nfe)
{
    its_code_params *p = params;
    if (p->budget_children)
        return;
    double per = (double)p->n * (double)its_plan_trajectory(pl, 0);
    p->children = (int)its_size_clamp(&its_vt_code, floor((double)nfe / per));
}

static int code_needs_cap(const void *params)
{
    return ((its_code_params const *)params)->budget_children != 0;
}

static its_status code_run(its_engine *e, const void *params)
{
    const its_code_params *p = params;
    return its_smp_children_search(e, (size_t)p->n, (size_t)p->children, p->block,
                                   p->budget_children, p->children_policy);
}

const its_method_vt its_vt_code = {
    .method = ITS_METHOD_CODE,
    .params_size = sizeof(its_code_params),
    .params_init = code_init,
    .desc = code_desc,
    .n_desc = ITS_ARRAY_LEN(code_desc),
    .check = code_check,
    .needs_verifier = 1,
    .run = code_run,
    .fit = code_fit,
    .plan = code_plan,
    .minimum = code_minimum,
    .scale = code_scale,
    .needs_cap_fn = code_needs_cap,
    .scale_rule = "children = floor(NFE / (n T)); with budget_children only the cap",
    .summary = "as svdd, children run `block` steps before selection (CoDe)",
};
