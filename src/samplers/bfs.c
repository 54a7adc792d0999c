/* `bfs`: best-first / breadth search over particles (Zhang et al. 2025). N particles run
 * together; at evaluation steps (grid index `start`, then every `every` steps) each particle is
 * scored by look-ahead r(x0_hat) and given n_i = round(N softmax(temp r)_i) slots (fixed up to sum
 * to N). `resample` duplicates particles into their slots, keeping N (repeats get child lineages,
 * so copies part at the next SDE step); `prune` keeps each particle with n_i > 0 once, so the set
 * shrinks (never below 1). The final output is the best of the survivors. temp = 0 allocates one
 * slot each: the run is `best_of_n` with the same n, bit for bit. With local_search = 1 every step
 * is the local-search move (needs verifier.grad). Budget: under a cap that cannot pay for N
 * trajectories it runs as many particles as it can pay for (ITS_ERR_BUDGET below one). */
#include "samplers/guidance.h"
#include "samplers/selection.h"

void its_bfs_params_init(its_bfs_params *p)
{
    if (!p)
        return;
    p->size = (uint32_t)sizeof(*p);
    p->method = ITS_METHOD_BFS;
    p->n = 8;
    p->temp = 1.0;
    p->start = 0;
    p->every = 1;
    p->mode = ITS_BFS_RESAMPLE;
    p->local_search = 0;
}

static void bfs_init(void *p) { its_bfs_params_init(p); }

static const its_param_desc bfs_desc[] = {
    ITS_P_SIZE(its_bfs_params, n, 1, 65536, "particles"),
    ITS_P_DBL(its_bfs_params, temp, 0, 1e6, "softmax inverse temperature on r(x0_hat)"),
    ITS_P_INT(its_bfs_params, start, 0, 100000, "first evaluation step (grid index)"),
    ITS_P_INT(its_bfs_params, every, 1, 100000, "steps between evaluations"),
    ITS_P_ENUM(its_bfs_params, mode, its_bfs_mode, ITS_BFS_COUNT_,
               "resample (keep N) or prune (drop particles with no slot)"),
    ITS_P_BOOL(its_bfs_params, local_search, "a local-search move inside each step"),
};

static its_status bfs_check(its_ctx *ctx, const void *params, const its_run_params *run)
{
    const its_bfs_params *p = params;
    if (p->start >= run->steps)
        return its_error(ctx, ITS_ERR_INVALID,
                         "params.start: %d is not a step of a %d-step run", p->start, run->steps);
    return ITS_OK;
}

static int bfs_wants_grad(const void *params)
{
    return ((const its_bfs_params *)params)->local_search != 0;
}

static uint64_t bfs_per(const its_plan *pl, const its_bfs_params *p)
{
    if (!p->local_search)
        return its_plan_trajectory(pl, 0);
    its_local_search_params lp;
    its_local_search_params_init(&lp);
    uint64_t n = 0;
    for (int k = 0; k < pl->steps; k++)
        n += its_smp_local_step_nfe_plan(pl, k, &lp);
    return n;
}

static its_status bfs_fit(its_ctx *ctx, const its_plan *pl, void *params)
{
    its_bfs_params *p = params;
    uint64_t per = bfs_per(pl, p);
    ITS_TRY(its_plan_require(ctx, pl, ITS_METHOD_BFS, per, "one trajectory"));
    if (pl->cap && (uint64_t)p->n > pl->cap / per)
        p->n = (int)(pl->cap / per);
    return ITS_OK;
}

static uint64_t bfs_plan(const its_plan *pl, const void *params)
{
    const its_bfs_params *p = params;
    return (uint64_t)p->n * bfs_per(pl, p);
}

static uint64_t bfs_minimum(const its_plan *pl, const void *params)
{
    return bfs_per(pl, params);
}

static void bfs_scale(const its_plan *pl, void *params, uint64_t nfe)
{
    its_bfs_params *p = params;
    p->n = (int)its_size_clamp(&its_vt_bfs, (double)(nfe / bfs_per(pl, p)));
}

static its_status bfs_run(its_engine *e, const void *params)
{
    const its_bfs_params *p = params;
    const int T = its_eng_steps(e);
    const double *t = its_eng_grid(e);
    its_local_search_params lp;
    its_local_search_params_init(&lp);
    size_t N = (size_t)p->n; /* fitted to the cap by bfs_fit */

    its_pset P, Q;
    int flags = p->local_search ? ITS_PSET_GRAD : 0;
    ITS_TRY(its_eng_pset(e, &P, N, flags));
    ITS_TRY(its_eng_pset(e, &Q, N, flags));
    size_t *counts = its_eng_alloc(e, N * sizeof(size_t));
    size_t *idx = its_eng_alloc(e, N * sizeof(size_t));
    double *work = its_eng_alloc(e, N * sizeof(double));
    if (!counts || !idx || !work)
        return ITS_ERR_NOMEM;

    its_eng_roots(e, &P, 0, N, 0);
    ITS_TRY(its_eng_init_noise(e, &P, 0, N, t[0]));
    for (int k = 0; k < T; k++) {
        its_eng_step_begin(e, k, t[k], -1);
        ITS_TRY(its_eng_eval(e, &P, 0, P.n));
        if (k >= p->start && (k - p->start) % p->every == 0) {
            ITS_TRY(its_eng_score(e, &P, 0, P.n, ITS_SCORE_LOOKAHEAD));
            size_t n = P.n, m = 0;
            its_alloc_softmax(P.score, n, p->temp, n, work, counts);
            if (p->mode == ITS_BFS_RESAMPLE) {
                m = its_counts_to_index(counts, n, idx);
            } else {
                for (size_t i = 0; i < n; i++)
                    if (counts[i] > 0)
                        idx[m++] = i;
            }
            /* m >= 1: the counts sum to n >= 1 */
            ITS_TRY(its_eng_gather(e, &Q, &P, idx, m));
            its_pset tmp = P;
            P = Q;
            Q = tmp;
        }
        if (p->local_search)
            ITS_TRY(its_smp_local_step(e, &P, k, &lp));
        else
            ITS_TRY(its_eng_step(e, &P, t[k + 1], (uint32_t)k));
        its_eng_step_end(e);
    }
    return its_eng_score(e, &P, 0, P.n, ITS_SCORE_FINAL);
}

const its_method_vt its_vt_bfs = {
    .method = ITS_METHOD_BFS,
    .params_size = sizeof(its_bfs_params),
    .params_init = bfs_init,
    .desc = bfs_desc,
    .n_desc = ITS_ARRAY_LEN(bfs_desc),
    .check = bfs_check,
    .needs_verifier = 1,
    .needs_grad = 2,
    .wants_grad = bfs_wants_grad,
    .run = bfs_run,
    .fit = bfs_fit,
    .plan = bfs_plan,
    .minimum = bfs_minimum,
    .scale = bfs_scale,
    .scale_rule = "n = floor(NFE / T), T the NFE of one particle's trajectory",
    .summary = "N particles, softmax allocation of slots by look-ahead score; resample or prune "
               "(Zhang et al. 2025)",
};
