/* `rbf`: SDE sampling with rollover budget forcing (Kim et al. 2025, DESIGN.md §6; the official code
 * is KAIST-Visual-AI-Group/Flow-Inference-Time-Scaling).
 *
 * B chains. At t = grid[0] each chain draws `init` noises (one velocity each), scores their x0_hat
 * and keeps the best. Per chain and step the quota is Q = floor((max_nfe - init B) / (T B)); the
 * budget is run.max_nfe, or params.nfe (default 500, the paper's budget) when run.max_nfe is 0.
 * At every step a
 * chain proposes one SDE child at a time (1 NFE; the child's velocity is the next step's drift)
 * and scores its x0_hat. A child that beats the chain's best score so far is accepted at once and
 * the unused quota rolls over (its_budget, rollover policy); when the quota runs out with no
 * improvement the chain advances with the step's best child and the next step gets Q.
 *
 * Like the official code the search stops one step before t = 0: the last searched level is
 * grid[T-1], where a chain spends everything it has left (its rollover, the quota of the skipped
 * final step) and keeps the best child. finish = tweedie returns that child's x0_hat (the official
 * output); finish = step takes the final step to t = 0 from it (no noise and no NFE there: its
 * velocity is already known) and scores the sample.
 *
 * Chains run side by side, each on its own budget: round after round each unfinished chain draws
 * its next proposals, whatever step it is at, and all of them go to the model in one call (rows
 * at their own times, its_eng_eval_at; rows = chains x speculative at most, init at the last
 * level). A chain's trajectory depends on its own noise, scores and budget only, so it is the one
 * it would have alone; the calls are the longest chain's rounds, not each step's slowest. With a
 * hard cap and speculation the chains keep in lockstep per step (rbf_step: a chain that accepted
 * or spent its quota waits for the others), as the waste a round may draw depends on every
 * chain's remaining budget at that point. Proposal j of a step always has child index j, whatever `speculative` is:
 * drawing k proposals per round and accepting the first improving one in draw order gives the
 * trajectory of k = 1 bit for bit. Proposals drawn after the accepted one are charged to the run's
 * NFE and shown in the per-step record, never to the chain's rollover. Under a hard cap
 * (run.max_nfe > 0) a round only draws proposals the cap can spare beyond what every chain is
 * still owed; with no headroom left each chain draws one at a time. At the last searched level
 * nothing is accepted, so a chain's remaining proposals are independent and all of them are
 * spent: a round there draws up to max(init, speculative) per chain, with no speculation
 * (rows in the initial draws' set, which is free by then). */
#include <math.h>

#include "itscale/budget.h"
#include "samplers/common.h"

#define ITS_RBF_DEFAULT_NFE 500

void its_rbf_params_init(its_rbf_params *p)
{
    if (!p)
        return;
    p->size = (uint32_t)sizeof(*p);
    p->method = ITS_METHOD_RBF;
    p->chains = 2;
    p->init = 25;
    p->speculative = 1;
    p->finish = ITS_FINISH_TWEEDIE;
    p->nfe = ITS_RBF_DEFAULT_NFE;
}

static void rbf_init(void *p) { its_rbf_params_init(p); }

static const its_param_desc rbf_desc[] = {
    ITS_P_INT(its_rbf_params, chains, 1, 4096, "independent chains B"),
    ITS_P_SIZE(its_rbf_params, init, 1, 65536, "initial noises per chain, best x0_hat kept"),
    ITS_P_INT(its_rbf_params, speculative, 1, 4096,
              "proposals drawn per model call (same trajectory as 1; fewer model calls)"),
    ITS_P_ENUM(its_rbf_params, finish, its_finish, ITS_FINISH_COUNT_,
               "tweedie: best x0_hat of the last searched level; step: step it to t = 0"),
    ITS_P_U64(its_rbf_params, nfe, 1, 1e15,
              "NFE budget when run.budget.max_nfe is 0 (no cap); a set cap is the budget"),
};

/* The budget the chains share: the cap, or params.nfe without one. */
static uint64_t rbf_max_nfe(const its_rbf_params *p, const its_run_params *run)
{
    return run->max_nfe ? run->max_nfe : p->nfe;
}

static its_status rbf_check(its_ctx *ctx, const void *params, const its_run_params *run)
{
    const its_rbf_params *p = params;
    if (run->dynamics != ITS_DYN_SDE)
        return its_error(ctx, ITS_ERR_UNSUPPORTED,
                         "run.dynamics: rbf proposes SDE children and needs sde (the paper: "
                         "g square 3, grid exp, convert to vp)");
    if (run->steps < 2)
        return its_error(ctx, ITS_ERR_INVALID,
                         "run.steps: rbf searches steps 1 .. T-1 and needs T >= 2, got %d",
                         run->steps);
    uint64_t max_nfe = rbf_max_nfe(p, run);
    uint64_t B = (uint64_t)p->chains, I = (uint64_t)p->init, T = (uint64_t)run->steps;
    if (max_nfe < I * B + T * B)
        return its_error(ctx, ITS_ERR_BUDGET,
                         "rbf needs at least %llu NFE (init %llu x chains %llu, then 1 per step and "
                         "chain for %llu steps), but %s is %llu",
                         (unsigned long long)(I * B + T * B), (unsigned long long)I,
                         (unsigned long long)B, (unsigned long long)T,
                         run->max_nfe ? "budget.max_nfe" : "params.nfe (budget.max_nfe is 0)",
                         (unsigned long long)max_nfe);
    return ITS_OK;
}

typedef struct rbf_state {
    const its_rbf_params *p;
    its_budget **bud;               /* one per chain */
    its_pset init, start, chain, prop, best; /* chain, best: row b = chain b; prop: B x S */
    size_t *pidx;
    uint32_t *cidx;
    /* per chain, within a step */
    double *best_ever, *step_best;
    uint64_t *pnum, *n, *off, *drawn;
    long *accepted;
    unsigned char *have_best, *active;
    /* chains out of step (rbf_run_async); a round's model call mixes rows of several steps, so
     * the per-step records are summed here per chain and handed to the engine at the end */
    int64_t *rec_quota, *rec_used;  /* per searched step, summed over chains */
    int steps_run;                  /* searched steps with a record */
    int *k_at;                      /* the chain's searched step; K once done */
    double *t_at;                   /* its chain row's time, grid[k_at] */
    double *row_t;                  /* a round's rows' times */
    int64_t *q_at;                  /* the quota of the chain's step */
    uint64_t Q;                     /* per chain per step */
    uint64_t chain_total;           /* init + T Q: one chain's budget */
    int K;                          /* searched steps: T - 1 */
} rbf_state;

/* Marks a set as evaluated at t (rows copied with u and x0 of that time). */
static void rbf_set_at(its_pset *ps, double t)
{
    ps->t = t;
    ps->has_u = 1;
}

/* Initial draws: init noises per chain in one batch; the best x0_hat of each chain starts it. */
static its_status rbf_initial(its_engine *e, rbf_state *st)
{
    const size_t B = (size_t)st->p->chains, I = (size_t)st->p->init;
    const double t0 = its_eng_grid(e)[0];
    its_eng_roots(e, &st->init, 0, I * B, 0);
    ITS_TRY(its_eng_init_noise(e, &st->init, 0, I * B, t0));
    ITS_TRY(its_eng_eval(e, &st->init, 0, I * B));
    ITS_TRY(its_eng_score(e, &st->init, 0, I * B, ITS_SCORE_LOOKAHEAD));
    for (size_t b = 0; b < B; b++) {
        size_t j = its_smp_argmax(st->init.score, b * I, (b + 1) * I);
        its_eng_copy_rows(e, &st->start, b, &st->init, j, 1);
    }
    rbf_set_at(&st->start, t0);
    return ITS_OK;
}

/* Chain b's n[b] scored proposals at rows off[b].. of set: the step's best so far is kept, and
 * the first to beat the chain's best ever is accepted (never at the last level, where nothing
 * is). The chain's budget is charged up to the accepted one: it sees the sequential schedule,
 * the rest is speculation. */
static its_status rbf_take(its_engine *e, rbf_state *st, size_t b, const its_pset *set, int last)
{
    uint64_t taken = st->n[b];
    for (size_t j = 0; j < st->n[b]; j++) {
        size_t r = st->off[b] + j;
        double sc = set->score[r];
        if (!st->have_best[b] || sc > st->step_best[b]) {
            its_eng_copy_rows(e, &st->best, b, set, r, 1);
            st->step_best[b] = sc;
            st->have_best[b] = 1;
        }
        if (!last && sc > st->best_ever[b]) {
            /* the chain moves on now: later rounds reuse these rows, and chain b's row is no
             * other chain's parent */
            st->accepted[b] = (long)r;
            its_eng_copy_rows(e, &st->chain, b, set, r, 1);
            st->best_ever[b] = sc;
            taken = j + 1;
            break;
        }
    }
    ITS_TRY(its_budget_spend(st->bud[b], taken));
    st->pnum[b] += taken;
    st->active[b] = st->accepted[b] < 0 && its_budget_left(st->bud[b]) > 0;
    return ITS_OK;
}

/* One searched step k of every chain, from grid[k] to s: rounds of proposals until each chain
 * accepted one or spent its quota. */
static its_status rbf_step(its_engine *e, rbf_state *st, int k)
{
    const size_t B = (size_t)st->p->chains, S = (size_t)st->p->speculative;
    const size_t I = (size_t)st->p->init;
    const double s = its_eng_grid(e)[k + 1];
    const int last = k == st->K - 1;
    /* proposals per chain and round, and where they go (the last level: see the top) */
    const size_t per = last && I > S ? I : S;
    its_pset *prop = per > S ? &st->init : &st->prop;
    const uint64_t cap = its_eng_max_nfe(e);
    /* the record of step k + 1: chains summed, the quotas their budgets granted */
    int64_t quota = 0;
    for (size_t b = 0; b < B; b++)
        quota += (int64_t)its_budget_quota(st->bud[b]);
    its_eng_step_begin(e, k + 1, its_eng_grid(e)[k], quota);
    for (size_t b = 0; b < B; b++) {
        st->pnum[b] = 0;
        st->step_best[b] = -INFINITY;
        st->have_best[b] = 0;
        st->accepted[b] = -1;
        st->active[b] = its_budget_left(st->bud[b]) > 0;
    }
    for (;;) {
        /* this round's proposals: chain b's rows are off[b] .. off[b] + n[b] */
        uint64_t spare = UINT64_MAX;
        if (cap && !last) {
            /* waste (n - 1 per chain at most) must fit what the cap spares beyond every
             * chain's obligations */
            uint64_t owed = 0, used = its_eng_nfe(e);
            for (size_t b = 0; b < B; b++)
                owed += its_budget_remaining(st->bud[b]);
            spare = cap > used + owed ? cap - used - owed : 0;
        }
        size_t rows = 0;
        for (size_t b = 0; b < B; b++) {
            st->n[b] = 0;
            st->off[b] = rows;
            if (!st->active[b])
                continue;
            uint64_t n = its_budget_left(st->bud[b]);
            if (n > per)
                n = per;
            if (spare != UINT64_MAX) {
                if (n > spare + 1)
                    n = spare + 1;
                spare -= n - 1;
            }
            for (size_t j = 0; j < n; j++) {
                st->pidx[rows + j] = b;
                st->cidx[rows + j] = (uint32_t)(st->pnum[b] + j);
            }
            st->n[b] = n;
            rows += n;
        }
        if (rows == 0)
            break;
        ITS_TRY(its_eng_branch(e, &st->chain, st->pidx, st->cidx, prop, 0, rows, s,
                               (uint32_t)k));
        prop->n = rows;
        ITS_TRY(its_eng_eval(e, prop, 0, rows));
        ITS_TRY(its_eng_score(e, prop, 0, rows, ITS_SCORE_LOOKAHEAD));
        for (size_t b = 0; b < B; b++)
            if (st->n[b])
                ITS_TRY(rbf_take(e, st, b, prop, last));
    }
    for (size_t b = 0; b < B; b++)
        ITS_TRY(its_budget_end_step(st->bud[b]));
    its_eng_step_end(e); /* every proposal drawn, the speculative ones too */
    st->best.n = B;
    rbf_set_at(&st->best, s);
    if (last)
        return ITS_OK;
    for (size_t b = 0; b < B; b++)
        if (st->accepted[b] < 0)
            its_eng_copy_rows(e, &st->chain, b, &st->best, b, 1);
    rbf_set_at(&st->chain, s);
    return ITS_OK;
}

/* Chain b starts its step k_at[b] (state as rbf_step sets it). */
static void rbf_chain_begin(rbf_state *st, size_t b)
{
    st->q_at[b] = (int64_t)its_budget_quota(st->bud[b]);
    st->drawn[b] = st->pnum[b] = 0;
    st->step_best[b] = -INFINITY;
    st->have_best[b] = 0;
    st->accepted[b] = -1;
    st->active[b] = its_budget_left(st->bud[b]) > 0;
}

/* Chain b ends its step (as rbf_step ends one for every chain) and begins the next while it
 * has one; one that has no budget left at a step's start ends that step at once, as before. */
static its_status rbf_chain_end(its_engine *e, rbf_state *st, size_t b)
{
    const double *grid = its_eng_grid(e);
    do {
        int k = st->k_at[b];
        ITS_TRY(its_budget_end_step(st->bud[b]));
        st->rec_quota[k] += st->q_at[b];
        st->rec_used[k] += (int64_t)st->drawn[b];
        if (k + 1 > st->steps_run)
            st->steps_run = k + 1;
        st->k_at[b] = k + 1;
        if (k == st->K - 1)
            return ITS_OK; /* done: its output is row b of best */
        if (st->accepted[b] < 0)
            its_eng_copy_rows(e, &st->chain, b, &st->best, b, 1);
        st->t_at[b] = grid[k + 1];
        rbf_chain_begin(st, b);
    } while (!st->active[b]);
    return ITS_OK;
}

/* The searched steps with every chain on its own: a round takes each unfinished chain's next
 * proposals, whatever step it is at, and all of them go to the model in one call (rows at
 * their own times). A chain's proposals, acceptance, budget and records are those of rbf_step,
 * so its trajectory is the one it has in lockstep or alone; it no longer waits at each step for
 * the slowest chain. Used except with a hard cap and speculation, where the proposals a round
 * may waste depend on the other chains' progress (rbf_step keeps that rule). */
static its_status rbf_run_async(its_engine *e, rbf_state *st)
{
    const size_t B = (size_t)st->p->chains, S = (size_t)st->p->speculative;
    const size_t I = (size_t)st->p->init;
    const double *grid = its_eng_grid(e);
    its_pset *buf = I > S ? &st->init : &st->prop;
    for (size_t b = 0; b < B; b++) {
        st->k_at[b] = 0;
        st->t_at[b] = grid[0];
        rbf_chain_begin(st, b);
        if (!st->active[b])
            ITS_TRY(rbf_chain_end(e, st, b));
    }
    for (;;) {
        size_t rows = 0;
        for (size_t b = 0; b < B; b++) {
            st->n[b] = 0;
            st->off[b] = rows;
            if (st->k_at[b] >= st->K)
                continue;
            const int last = st->k_at[b] == st->K - 1;
            uint64_t n = its_budget_left(st->bud[b]), per = last && I > S ? I : S;
            if (n > per)
                n = per;
            for (size_t j = 0; j < n; j++) {
                st->pidx[rows + j] = b;
                st->cidx[rows + j] = (uint32_t)(st->pnum[b] + j);
                st->row_t[rows + j] = grid[st->k_at[b] + 1];
            }
            st->n[b] = n;
            rows += n;
        }
        if (rows == 0)
            break;
        for (size_t b = 0; b < B; b++) {
            if (!st->n[b])
                continue;
            st->chain.t = st->t_at[b]; /* the parent's time for this chain's step */
            ITS_TRY(its_eng_branch(e, &st->chain, st->pidx + st->off[b], st->cidx + st->off[b],
                                   buf, st->off[b], st->n[b], grid[st->k_at[b] + 1],
                                   (uint32_t)st->k_at[b]));
        }
        buf->n = rows;
        ITS_TRY(its_eng_eval_at(e, buf, 0, rows, st->row_t));
        ITS_TRY(its_eng_score(e, buf, 0, rows, ITS_SCORE_LOOKAHEAD));
        for (size_t b = 0; b < B; b++) {
            if (!st->n[b])
                continue;
            st->drawn[b] += st->n[b];
            ITS_TRY(rbf_take(e, st, b, buf, st->k_at[b] == st->K - 1));
            if (!st->active[b])
                ITS_TRY(rbf_chain_end(e, st, b));
        }
    }
    st->best.n = B;
    rbf_set_at(&st->best, grid[st->K]);
    return ITS_OK;
}

static its_status rbf_search(its_engine *e, rbf_state *st)
{
    const size_t B = (size_t)st->p->chains, I = (size_t)st->p->init;
    const size_t S = (size_t)st->p->speculative, R = B * (I > S ? I : S); /* rows per round */
    if (!(st->bud = its_eng_alloc(e, B * sizeof(its_budget *))) ||
        !(st->pidx = its_eng_alloc(e, R * sizeof(size_t))) ||
        !(st->cidx = its_eng_alloc(e, R * sizeof(uint32_t))) ||
        !(st->best_ever = its_eng_alloc(e, B * sizeof(double))) ||
        !(st->step_best = its_eng_alloc(e, B * sizeof(double))) ||
        !(st->pnum = its_eng_alloc(e, B * sizeof(uint64_t))) ||
        !(st->drawn = its_eng_alloc(e, B * sizeof(uint64_t))) ||
        !(st->n = its_eng_alloc(e, B * sizeof(uint64_t))) ||
        !(st->off = its_eng_alloc(e, B * sizeof(uint64_t))) ||
        !(st->accepted = its_eng_alloc(e, B * sizeof(long))) ||
        !(st->have_best = its_eng_alloc(e, B)) || !(st->active = its_eng_alloc(e, B)) ||
        !(st->rec_quota = its_eng_alloc(e, (size_t)st->K * sizeof(int64_t))) ||
        !(st->rec_used = its_eng_alloc(e, (size_t)st->K * sizeof(int64_t))) ||
        !(st->k_at = its_eng_alloc(e, B * sizeof(int))) ||
        !(st->t_at = its_eng_alloc(e, B * sizeof(double))) ||
        !(st->q_at = its_eng_alloc(e, B * sizeof(int64_t))) ||
        !(st->row_t = its_eng_alloc(e, R * sizeof(double))))
        return ITS_ERR_NOMEM;
    ITS_TRY(its_eng_pset(e, &st->init, I * B, 0));
    ITS_TRY(its_eng_pset(e, &st->start, B, 0));
    ITS_TRY(its_eng_pset(e, &st->chain, B, 0));
    ITS_TRY(its_eng_pset(e, &st->prop, B * S, 0));
    ITS_TRY(its_eng_pset(e, &st->best, B, 0));

    its_budget_params bp;
    its_budget_params_init(&bp);
    bp.policy = ITS_BUDGET_ROLLOVER;
    bp.total = st->chain_total;
    bp.init = I;
    bp.steps = st->K;
    bp.per_step = st->Q;
    bp.final_rest = 1;
    for (size_t b = 0; b < B; b++)
        ITS_TRY(its_budget_create(its_eng_ctx(e), &bp, &st->bud[b]));

    /* step 0: the initial draws, init x chains; recorded also when the run stops in them */
    its_eng_step_begin(e, 0, its_eng_grid(e)[0], (int64_t)(I * B));
    its_status s0 = rbf_initial(e, st);
    its_eng_step_end(e);
    ITS_TRY(s0);
    its_eng_copy_rows(e, &st->chain, 0, &st->start, 0, B);
    rbf_set_at(&st->chain, its_eng_grid(e)[0]);
    for (size_t b = 0; b < B; b++)
        st->best_ever[b] = st->chain.score[b];
    if (its_eng_max_nfe(e) && S > 1) {
        for (int k = 0; k < st->K; k++)
            ITS_TRY(rbf_step(e, st, k));
    } else {
        its_status sa = rbf_run_async(e, st);
        /* the searched steps' records, also when the run stopped inside one */
        for (int k = 0; k < st->steps_run; k++)
            its_eng_step_add(e, k + 1, its_eng_grid(e)[k], st->rec_quota[k], st->rec_used[k]);
        ITS_TRY(sa);
    }

    /* outputs in chain order */
    if (st->p->finish == ITS_FINISH_TWEEDIE) {
        its_eng_offer(e, &st->best, 0, B, ITS_SCORE_FINAL_X0);
        return ITS_OK;
    }
    /* the final step to t = 0 is the noiseless Euler step with the known velocity */
    ITS_TRY(its_eng_step(e, &st->best, 0.0, (uint32_t)st->K));
    return its_eng_score(e, &st->best, 0, B, ITS_SCORE_FINAL);
}

static its_status rbf_fit(its_ctx *ctx, const its_plan *pl, void *params)
{
    return rbf_check(ctx, params, pl->run);
}

static uint64_t rbf_plan(const its_plan *pl, const void *params)
{
    return rbf_max_nfe(params, pl->run);
}

static uint64_t rbf_minimum(const its_plan *pl, const void *params)
{
    const its_rbf_params *p = params;
    return (uint64_t)p->init * (uint64_t)p->chains + (uint64_t)pl->steps * (uint64_t)p->chains;
}

/* init = floor(0.1 NFE / chains): the paper's 25 of 500 for 2 chains. */
static void rbf_scale(const its_plan *pl, void *params, uint64_t nfe)
{
    (void)pl;
    its_rbf_params *p = params;
    p->init = (int)its_size_clamp(&its_vt_rbf, floor(0.1 * (double)nfe / (double)p->chains));
}

static its_status rbf_run(its_engine *e, const void *params)
{
    const its_rbf_params *p = params;
    const its_run_params *run = its_eng_run(e);
    const int T = its_eng_steps(e);
    uint64_t B = (uint64_t)p->chains, I = (uint64_t)p->init;
    uint64_t max_nfe = rbf_max_nfe(p, run);
    ITS_TRY(its_eng_require_nfe(e, I * B + (uint64_t)T * B, "init x chains, then one per step"));

    rbf_state st = {0};
    st.p = p;
    st.K = T - 1;
    st.Q = (max_nfe - I * B) / ((uint64_t)T * B); /* Q = floor((max_nfe - init B) / (T B)) */
    st.chain_total = I + (uint64_t)T * st.Q;

    its_status status = rbf_search(e, &st);
    for (int b = 0; st.bud && b < p->chains; b++)
        its_budget_free(st.bud[b]);
    return status;
}

const its_method_vt its_vt_rbf = {
    .method = ITS_METHOD_RBF,
    .params_size = sizeof(its_rbf_params),
    .params_init = rbf_init,
    .desc = rbf_desc,
    .n_desc = ITS_ARRAY_LEN(rbf_desc),
    .check = rbf_check,
    .needs_verifier = 1,
    .run = rbf_run,
    .fit = rbf_fit,
    .plan = rbf_plan,
    .minimum = rbf_minimum,
    .scale = rbf_scale,
    .params_size_v1 = offsetof(its_rbf_params, nfe),
    .scale_rule = "init = floor(0.1 NFE / chains) (the paper: 25 of 500 for 2 chains)",
    .summary = "SDE chains with rollover budget forcing (Kim et al. 2025)",
};
