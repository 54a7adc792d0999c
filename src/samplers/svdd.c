/* `svdd`: soft value-based decoding (Li et al. 2024). Each particle spawns K SDE children per
 * step and keeps the child whose look-ahead r(x0_hat) is largest: a greedy search that needs no
 * verifier gradient. Child 0 continues the parent's noise, so K = 1 is plain SDE sampling (`none`
 * for n = 1, `best_of_n` for n > 1), bit for bit. Cost n + n K (T - 1) NFE; under a smaller cap it
 * runs fewer particles, then fewer children (ITS_ERR_BUDGET below one trajectory). With
 * budget_children the K of each step comes from the per-step allocator over run.max_nfe
 * (its_smp_rounds), `children` being the most. */
#include <math.h>

#include "samplers/children_search.h"

void its_svdd_params_init(its_svdd_params *p)
{
    if (!p)
        return;
    p->size = (uint32_t)sizeof(*p);
    p->method = ITS_METHOD_SVDD;
    p->n = 2;
    p->children = 25;
    p->budget_children = 0;
    p->children_policy = ITS_BUDGET_ROLLOVER;
}

static void svdd_init(void *p) { its_svdd_params_init(p); }

static const its_param_desc svdd_desc[] = {
    ITS_P_INT(its_svdd_params, n, 1, 65536, "particles, each searched on its own"),
    ITS_P_SIZE(its_svdd_params, children, 1, 65536,
              "SDE children per particle per step; the most per step with budget_children"),
    ITS_P_BOOL(its_svdd_params, budget_children,
               "children per step from the allocator over run.max_nfe (needs run.max_nfe)"),
    ITS_P_ENUM(its_svdd_params, children_policy, its_budget_policy, ITS_BUDGET_POLICY_COUNT_,
               "allocator policy of budget_children"),
};

static its_status svdd_check(its_ctx *ctx, const void *params, const its_run_params *run)
{
    const its_svdd_params *p = params;
    return its_smp_rounds_check(ctx, "svdd", "n", p->n, p->children, p->budget_children,
                                p->children_policy, run);
}

static its_status svdd_fit(its_ctx *ctx, const its_plan *pl, void *params)
{
    its_svdd_params *p = params;
    size_t n = (size_t)p->n, k = (size_t)p->children;
    ITS_TRY(its_smp_rounds_shrink(ctx, pl, ITS_METHOD_SVDD, p->budget_children, 1, &n, &k));
    p->n = (int)n;
    p->children = (int)k;
    return ITS_OK;
}

static uint64_t svdd_plan(const its_plan *pl, const void *params)
{
    const its_svdd_params *p = params;
    return its_smp_rounds_plan(pl, p->budget_children, 1, (size_t)p->n,
                               (size_t)p->children);
}

static uint64_t svdd_minimum(const its_plan *pl, const void *params)
{
    const its_svdd_params *p = params;
    return its_smp_rounds_minimum(pl, p->budget_children, 1);
}

/* children = floor(NFE / (n T)); with budget_children the allocator sizes them (cap only). */
static void svdd_scale(const its_plan *pl, void *params, uint64_t nfe)
{
    its_svdd_params *p = params;
    if (p->budget_children)
        return;
    double per = (double)p->n * (double)its_plan_trajectory(pl, 0);
    p->children = (int)its_size_clamp(&its_vt_svdd, floor((double)nfe / per));
}

static int svdd_needs_cap(const void *params)
{
    return ((its_svdd_params const *)params)->budget_children != 0;
}

static its_status svdd_run(its_engine *e, const void *params)
{
    const its_svdd_params *p = params;
    return its_smp_children_search(e, (size_t)p->n, (size_t)p->children, 1,
                                   p->budget_children, p->children_policy);
}

const its_method_vt its_vt_svdd = {
    .method = ITS_METHOD_SVDD,
    .params_size = sizeof(its_svdd_params),
    .params_init = svdd_init,
    .desc = svdd_desc,
    .n_desc = ITS_ARRAY_LEN(svdd_desc),
    .check = svdd_check,
    .needs_verifier = 1,
    .run = svdd_run,
    .fit = svdd_fit,
    .plan = svdd_plan,
    .minimum = svdd_minimum,
    .scale = svdd_scale,
    .needs_cap_fn = svdd_needs_cap,
    .scale_rule = "children = floor(NFE / (n T)); with budget_children only the cap",
    .summary = "per particle, K SDE children per step, keep the best look-ahead (Li et al. 2024)",
};
