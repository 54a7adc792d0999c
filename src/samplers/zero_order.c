/* `zero_order`: zero-order search over the initial noise (Ma et al. 2025; tt-scale-flux).
 * Round 0 runs the pivot noise n. Each later round draws K neighbours at cosine similarity tau,
 *     y = |n| (tau u_hat + sqrt(1 - tau^2) w_hat),  u_hat = n / |n|,  w_hat _|_ u_hat a random unit,
 * runs their trajectories (K rows in one set, batched by the engine) and scores the finals. The
 * pivot moves to the best neighbour when it beats the pivot's score; otherwise on_stall keeps the
 * pivot, or restarts from fresh noise under a new lineage root (whose score is unknown, -inf, so
 * the next round's best neighbour replaces it). Neighbour j of round r has lineage
 * child(pivot lineage, (r - 1) K + j + 1): the noise never depends on array slots or batching.
 * Every final is an output candidate; the best K overall are returned. NFE: T + R K T. Under a
 * cap below T + K T the neighbours shrink to what the cap pays beyond the pivot (the least cap is
 * 2 T); rounds = 0 takes as many rounds as the cap pays for. */
#include <limits.h>
#include <math.h>

#include "rng/rng.h"
#include "samplers/common.h"

void its_zero_order_params_init(its_zero_order_params *p)
{
    if (!p)
        return;
    p->size = (uint32_t)sizeof(*p);
    p->method = ITS_METHOD_ZERO_ORDER;
    p->neighbors = 4;
    p->tau = 0.95;
    p->rounds = 0;
    p->on_stall = ITS_STALL_KEEP;
}

static void zo_init(void *p) { its_zero_order_params_init(p); }

static const its_param_desc zo_desc[] = {
    ITS_P_INT(its_zero_order_params, neighbors, 1, 65536, "neighbours K per round"),
    ITS_P_DBL(its_zero_order_params, tau, 0, 1, "cosine similarity of a neighbour to the pivot"),
    ITS_P_INT(its_zero_order_params, rounds, 0, 1000000, "rounds; 0 = as many as max_nfe pays for"),
    ITS_P_ENUM(its_zero_order_params, on_stall, its_stall, ITS_STALL_COUNT_,
               "when no neighbour improves: keep the pivot or restart from fresh noise"),
};

static its_status zo_check(its_ctx *ctx, const void *params, const its_run_params *run)
{
    const its_zero_order_params *p = params;
    if (p->rounds == 0 && run->max_nfe == 0)
        return its_error(ctx, ITS_ERR_INVALID,
                         "params.rounds: 0 takes the rounds from run.max_nfe, which is 0 (no cap); "
                         "set rounds or max_nfe");
    return ITS_OK;
}

/* Under a cap: the neighbours of a round shrink to what the cap pays beyond the pivot, then the
 * rounds to what it pays for (rounds = 0: all of them). */
static its_status zo_fit(its_ctx *ctx, const its_plan *pl, void *params)
{
    its_zero_order_params *p = params;
    const uint64_t traj = its_plan_trajectory(pl, 0), cap = pl->cap;
    if (p->rounds == 0 && cap == 0)
        return its_error(ctx, ITS_ERR_BUDGET,
                         "zero_order with rounds = 0 needs budget.max_nfe to size the rounds");
    ITS_TRY(its_plan_require(ctx, pl, ITS_METHOD_ZERO_ORDER, 2 * traj,
                             "the pivot and one round of one neighbour"));
    if (!cap)
        return ITS_OK;
    uint64_t K = (uint64_t)p->neighbors;
    if (traj + K * traj > cap)
        p->neighbors = (int)(K = (cap - traj) / traj);
    uint64_t fit = (cap - traj) / (K * traj);
    if (fit > INT_MAX)
        fit = INT_MAX;
    if (p->rounds == 0 || (uint64_t)p->rounds > fit)
        p->rounds = (int)fit;
    return ITS_OK;
}

static uint64_t zo_plan(const its_plan *pl, const void *params)
{
    const its_zero_order_params *p = params;
    uint64_t traj = its_plan_trajectory(pl, 0);
    return traj + (uint64_t)p->rounds * (uint64_t)p->neighbors * traj;
}

static uint64_t zo_minimum(const its_plan *pl, const void *params)
{
    (void)params;
    return 2 * its_plan_trajectory(pl, 0);
}

static void zo_scale(const its_plan *pl, void *params, uint64_t nfe)
{
    (void)pl;
    (void)nfe;
    ((its_zero_order_params *)params)->rounds = 0;
}

static int zo_needs_cap(const void *params)
{
    return ((const its_zero_order_params *)params)->rounds == 0;
}

static its_status zo_run(its_engine *e, const void *params)
{
    const its_zero_order_params *p = params;
    its_ctx *ctx = its_eng_ctx(e);
    const double *t = its_eng_grid(e);
    /* neighbors and rounds come fitted to the cap (zo_fit) */
    const size_t K = (size_t)p->neighbors;
    const uint64_t R = (uint64_t)p->rounds;
    double v0[4];
    if (its_interp_eval(its_eng_interp(e), t[0], v0) != ITS_OK)
        return its_error(ctx, ITS_ERR_NUMERIC, "zero_order: sigma(t) cannot be evaluated at t=%g",
                         t[0]);

    its_pset cand;
    ITS_TRY(its_eng_pset(e, &cand, K, 0));
    float *y0 = its_eng_latents(e, K);  /* the initial noise of each candidate */
    float *piv = its_eng_latents(e, 1); /* the pivot noise n */
    float *w = its_eng_latents(e, 1);
    if (!y0 || !piv || !w)
        return ITS_ERR_NOMEM;

    /* round 0: the pivot's own trajectory */
    its_eng_step_begin(e, 0, t[0], -1);
    its_eng_roots(e, &cand, 0, 1, 0);
    ITS_TRY(its_eng_init_noise(e, &cand, 0, 1, t[0]));
    its_eng_lincomb(e, piv, 1.0f, cand.x, 0.0f, NULL, 0.0f, NULL);
    uint64_t piv_lin = cand.lineage[0];
    uint64_t restarts = 0;
    ITS_TRY(its_smp_rollout(e, &cand, 0));
    ITS_TRY(its_eng_score(e, &cand, 0, 1, ITS_SCORE_FINAL));
    double piv_score = cand.score[0];
    its_eng_step_end(e);

    const double c_perp = sqrt(1.0 - p->tau * p->tau);
    for (uint64_t r = 1; r <= R; r++) {
        its_eng_step_begin(e, (int)r, t[0], -1);
        ITS_TRY(its_eng_check(e));
        double nn = its_eng_dot(e, piv, piv);
        double norm = sqrt(nn);
        for (size_t j = 0; j < K; j++) {
            uint64_t lin = its_lineage_child(piv_lin, (r - 1) * K + j + 1);
            float *xj = its_eng_row(&cand, cand.x, j);
            /* w_hat: a normal direction, Gram-Schmidt against n, normalised */
            its_eng_noise(e, w, 0.0f, NULL, 1.0f, lin, ITS_NOISE_DIR, 0);
            double proj = nn > 0 ? its_eng_dot(e, w, piv) / nn : 0.0;
            its_eng_lincomb(e, w, 1.0f, w, (float)-proj, piv, 0.0f, NULL);
            double wn = sqrt(its_eng_dot(e, w, w));
            /* dim = 1 has no orthogonal direction: the neighbour is tau n */
            double cw = wn > 0 ? c_perp * norm / wn : 0.0;
            its_eng_lincomb(e, xj, (float)p->tau, piv, (float)cw, w, 0.0f, NULL);
            its_eng_lincomb(e, its_eng_row(&cand, y0, j), 1.0f, xj, 0.0f, NULL, 0.0f, NULL);
            cand.lineage[j] = lin;
            cand.score[j] = -INFINITY;
            cand.alive[j] = 1;
        }
        cand.n = K;
        cand.t = t[0];
        cand.has_u = 0;
        ITS_TRY(its_smp_rollout(e, &cand, 0));
        ITS_TRY(its_eng_score(e, &cand, 0, K, ITS_SCORE_FINAL));
        size_t b = its_smp_argmax(cand.score, 0, K);
        if (cand.score[b] > piv_score) {
            its_eng_lincomb(e, piv, 1.0f, its_eng_row(&cand, y0, b), 0.0f, NULL, 0.0f, NULL);
            piv_lin = cand.lineage[b];
            piv_score = cand.score[b];
        } else if (p->on_stall == ITS_STALL_RESTART) {
            piv_lin = its_lineage_root(++restarts);
            its_eng_noise(e, piv, 0.0f, NULL, (float)v0[1], piv_lin, ITS_NOISE_INIT, 0);
            piv_score = -INFINITY;
        }
        its_eng_step_end(e);
    }
    return ITS_OK;
}

const its_method_vt its_vt_zero_order = {
    .method = ITS_METHOD_ZERO_ORDER,
    .params_size = sizeof(its_zero_order_params),
    .params_init = zo_init,
    .desc = zo_desc,
    .n_desc = ITS_ARRAY_LEN(zo_desc),
    .check = zo_check,
    .needs_verifier = 1,
    .run = zo_run,
    .fit = zo_fit,
    .plan = zo_plan,
    .minimum = zo_minimum,
    .scale = zo_scale,
    .needs_cap_fn = zo_needs_cap,
    .scale_rule = "rounds = 0 (as many as the cap pays for)",
    .summary = "zero-order search over the initial noise: neighbours at cosine tau, move to the "
               "best (Ma et al. 2025)",
};
