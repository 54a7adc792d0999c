/* `dfs`: depth-first search over one trajectory (Zhang et al. 2025). At every step the
 * look-ahead x0_hat is scored; when r < threshold_t and backtracks remain, the particle is
 * re-noised `depth` steps back (t_k up to t_{k-depth}) under a new lineage
 * its_lineage_child(lineage, attempt) and the steps are redone. A backtrack that reaches the first
 * time draws fresh initial noise under the new lineage (as the reference does); none is taken at
 * step 0 itself, whose look-ahead barely depends on the noise. When no backtrack is left (or the NFE cap could not pay for
 * the redo), the particle continues from the best state seen at that step, as the reference
 * code does with its per-step buffer. Redone steps are charged like any other. With
 * backtracks = 0 the output equals `none` bit for bit. */
#include <math.h>

#include "rng/rng.h"
#include "samplers/common.h"

void its_dfs_params_init(its_dfs_params *p)
{
    if (!p)
        return;
    p->size = (uint32_t)sizeof(*p);
    p->method = ITS_METHOD_DFS;
    p->threshold = 0.0;
    p->depth = 2;
    p->backtracks = 4;
    p->rule = ITS_DFS_RELATIVE;
}

static void dfs_init(void *p) { its_dfs_params_init(p); }

static const its_param_desc dfs_desc[] = {
    ITS_P_DBL(its_dfs_params, threshold, -1e12, 1e12,
              "relative: fraction of |r| a step may lose; absolute: the bar at t = 0, "
              "threshold - t |threshold| at t"),
    ITS_P_INT(its_dfs_params, depth, 1, 100000, "steps to back up on a backtrack"),
    ITS_P_SIZE(its_dfs_params, backtracks, 0, 1000000, "most backtracks per run"),
    ITS_P_ENUM(its_dfs_params, rule, its_dfs_rule, ITS_DFS_RULE_COUNT_,
               "relative: backtrack when r falls below the previous step's r (any reward "
               "scale); absolute: below the fixed threshold"),
};

/* Most NFE one backtrack costs: the evaluation at step k that failed, then the steps from
 * k - depth back to k redone. */
static uint64_t dfs_redo(const its_plan *pl, int depth)
{
    uint64_t most = 0;
    for (int k = 1; k < pl->steps; k++) {
        int j = k - depth < 0 ? 0 : k - depth;
        uint64_t c = 1 + its_plan_trajectory(pl, j) - its_plan_trajectory(pl, k);
        most = c > most ? c : most;
    }
    return most;
}

static uint64_t dfs_plan(const its_plan *pl, const void *params)
{
    const its_dfs_params *p = params;
    return its_plan_trajectory(pl, 0) + (uint64_t)p->backtracks * dfs_redo(pl, p->depth);
}

/* backtracks = floor((NFE - T) / depth). */
static void dfs_scale(const its_plan *pl, void *params, uint64_t nfe)
{
    its_dfs_params *p = params;
    uint64_t T = its_plan_trajectory(pl, 0);
    double v = nfe > T ? floor((double)(nfe - T) / (double)p->depth) : 0;
    p->backtracks = (int)its_size_clamp(&its_vt_dfs, v);
}

static its_status dfs_run(its_engine *e, const void *params)
{
    const its_dfs_params *p = params;
    const int T = its_eng_steps(e);
    const double *t = its_eng_grid(e);
    ITS_TRY(its_eng_require_nfe(e, its_eng_trajectory_nfe(e, 0), "one trajectory"));
    its_pset ps, keep;
    ITS_TRY(its_eng_pset(e, &ps, 1, 0));
    /* keep row k: the best evaluated state seen at step k (x, u, x0, lineage, score) */
    ITS_TRY(its_eng_pset(e, &keep, (size_t)T, 0));
    unsigned char *seen = its_eng_alloc(e, (size_t)T);
    double *prev = its_eng_alloc(e, (size_t)T * sizeof(double)); /* the path's r at each step */
    if (!seen || !prev)
        return ITS_ERR_NOMEM;
    its_eng_roots(e, &ps, 0, 1, 0);
    ITS_TRY(its_eng_init_noise(e, &ps, 0, 1, t[0]));
    int left = p->backtracks;
    uint32_t attempt = 0;
    int k = 0;
    its_status st = ITS_OK;
    while (k < T) {
        /* a step's record sums its visits: after a backtrack the steps from j on are visited again */
        its_eng_step_begin(e, k, t[k], -1);
        if ((st = its_eng_eval(e, &ps, 0, 1)) != ITS_OK ||
            (st = its_eng_score(e, &ps, 0, 1, ITS_SCORE_LOOKAHEAD)) != ITS_OK)
            break;
        double r = ps.score[0];
        double thr;
        if (p->rule == ITS_DFS_ABSOLUTE) {
            /* The threshold holds exactly at t = 0 and is relaxed linearly in t towards the
             * noise: threshold_t = threshold - t |threshold|, which is threshold * (1 - t) for
             * threshold >= 0 and threshold * (1 + t) for a negative one (log-probabilities). */
            thr = p->threshold - t[k] * fabs(p->threshold);
        } else {
            /* Relative: the look-ahead score of this path one step earlier is the bar, less
             * threshold |r_{k-1}|, so the rule means the same on any reward scale. */
            thr = k > 0 ? prev[k - 1] - p->threshold * fabs(prev[k - 1]) : -INFINITY;
        }
        if (!seen[k] || r > keep.score[k]) {
            its_eng_copy_rows(e, &keep, (size_t)k, &ps, 0, 1);
            seen[k] = 1;
        }
        if (r < thr) {
            int j = k - p->depth < 0 ? 0 : k - p->depth;
            if (k > 0 && left > 0 && its_eng_nfe_left(e) >= its_eng_trajectory_nfe(e, j)) {
                left--;
                attempt++;
                ps.lineage[0] = its_lineage_child(ps.lineage[0], attempt);
                st = j == 0 ? its_eng_init_noise(e, &ps, 0, 1, t[0])
                            : its_eng_renoise(e, &ps, t[j], attempt);
                if (st != ITS_OK)
                    break;
                its_eng_step_end(e);
                k = j;
                continue;
            }
            if (keep.score[k] > r)
                its_eng_copy_rows(e, &ps, 0, &keep, (size_t)k, 1);
        }
        prev[k] = ps.score[0]; /* the score of the state this path continues from */
        st = its_eng_step(e, &ps, t[k + 1], (uint32_t)k);
        its_eng_step_end(e); /* also when the step stopped: what it spent counts */
        if (st != ITS_OK)
            break;
        k++;
    }
    /* every grid step has a record, in grid order: 0 NFE for the steps the run never reached
     * (the visited ones form a prefix, so appending the rest keeps the order) */
    for (int i = 0; i < T; i++) {
        its_eng_step_begin(e, i, t[i], -1);
        its_eng_step_end(e);
    }
    ITS_TRY(st);
    return its_eng_score(e, &ps, 0, 1, ITS_SCORE_FINAL);
}

const its_method_vt its_vt_dfs = {
    .method = ITS_METHOD_DFS,
    .params_size = sizeof(its_dfs_params),
    .params_size_v1 = offsetof(its_dfs_params, rule),
    .params_init = dfs_init,
    .desc = dfs_desc,
    .n_desc = ITS_ARRAY_LEN(dfs_desc),
    .needs_verifier = 1,
    .run = dfs_run,
    .plan = dfs_plan,
    .scale = dfs_scale,
    .scale_rule = "backtracks = floor((NFE - T) / depth)",
    .summary = "one trajectory, backtrack by re-noising when the look-ahead score is low "
               "(Zhang et al. 2025)",
};
