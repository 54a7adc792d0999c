#include <string.h>

#include "samplers/children_search.h"
#include "samplers/selection.h"

its_status its_smp_rounds_check(its_ctx *ctx, const char *what, const char *nname, int n,
                                int children, int budget, its_budget_policy policy,
                                const its_run_params *run)
{
    if ((uint64_t)n * (uint64_t)children > ((uint64_t)1 << 24))
        return its_error(ctx, ITS_ERR_INVALID,
                         "params.children: %s x children = %d x %d exceeds 2^24 rows", nname, n,
                         children);
    if (run->dynamics != ITS_DYN_SDE)
        return its_error(ctx, ITS_ERR_INVALID,
                         "run.dynamics: %s branches SDE children; set dynamics to sde", what);
    if (!budget)
        return ITS_OK;
    if (run->max_nfe == 0)
        return its_error(ctx, ITS_ERR_BUDGET,
                         "run.max_nfe: %s with params.budget_children shares run.max_nfe over "
                         "its steps, but run.max_nfe is 0 (no cap); set run.max_nfe or "
                         "budget_children = false",
                         what);
    if (policy == ITS_BUDGET_DEADLINE && !(run->deadline_ms > 0))
        return its_error(ctx, ITS_ERR_INVALID,
                         "params.children_policy: deadline paces the steps by run.deadline_ms, "
                         "which is 0; set run.deadline_ms or another policy");
    return ITS_OK;
}

int its_smp_round_k0(const its_smp_rounds *rs, int r) { return r * rs->L; }

int its_smp_round_k1(const its_smp_rounds *rs, int r)
{
    int k1 = r * rs->L + rs->L;
    return k1 < rs->T ? k1 : rs->T;
}

uint64_t its_smp_round_cost(const its_smp_rounds *rs, int r)
{
    /* one evaluation per step, none at t = 0 */
    int k0 = its_smp_round_k0(rs, r), k1 = its_smp_round_k1(rs, r);
    return (uint64_t)(k1 == rs->T ? k1 - k0 - 1 : k1 - k0);
}

/* Cost per particle of one child in every round after r: the T - 1 evaluations of a trajectory
 * less those up to the end of round r. */
static uint64_t its_rounds_later(const its_smp_rounds *rs, int r)
{
    int k1 = its_smp_round_k1(rs, r);
    return k1 >= rs->T - 1 ? 0 : (uint64_t)(rs->T - 1 - k1);
}

/* Rounds of L steps over T: R rounds, S of them cost NFE, the dearest cmax per child. */
static void its_rounds_shape(int T, int L, int *R, int *S, uint64_t *cmax)
{
    its_smp_rounds tmp = {0};
    tmp.T = T;
    tmp.L = L;
    tmp.R = (T + L - 1) / L;
    *R = tmp.R;
    *S = 0;
    *cmax = 0;
    for (int r = 0; r < tmp.R; r++) {
        uint64_t c = its_smp_round_cost(&tmp, r);
        *S += c > 0;
        *cmax = c > *cmax ? c : *cmax;
    }
}

its_status its_smp_rounds_shrink(its_ctx *ctx, const its_plan *pl, its_method m, int budget,
                                 int block, size_t *n, size_t *kmax)
{
    int R, S;
    uint64_t cmax;
    its_rounds_shape(pl->steps, block, &R, &S, &cmax);
    const uint64_t cap = pl->cap;
    const int T = pl->steps;
    if (budget) {
        /* every paying round must be able to pay one child per particle at its dearest:
         * uniform quotas are floor((cap - n) / S) */
        uint64_t per = 1 + (uint64_t)S * cmax;
        ITS_TRY(its_plan_require(ctx, pl, m, per, "one trajectory with one child per round in "
                                                  "budget mode, the dearest round repeated"));
        if (cap && *n > cap / per)
            *n = (size_t)(cap / per);
    } else {
        ITS_TRY(its_plan_require(ctx, pl, m, (uint64_t)T, "one trajectory with one child per step"));
        if (cap) {
            /* fewer particles first (each keeps its full search), then fewer children:
             * cost(n, k) = n (the first evaluation) + n k (T - 1) */
            uint64_t per = 1 + (uint64_t)*kmax * (uint64_t)(T - 1);
            if (cap / per >= 1) {
                if (*n > cap / per)
                    *n = (size_t)(cap / per);
            } else {
                *n = 1;
                *kmax = T > 1 ? (size_t)((cap - 1) / (uint64_t)(T - 1)) : *kmax;
            }
        }
    }
    return ITS_OK;
}

uint64_t its_smp_rounds_plan(const its_plan *pl, int budget, int block, size_t n, size_t kmax)
{
    if (budget && pl->cap)
        return pl->cap;
    (void)block; /* the rounds' costs add up to T - 1 evaluations per child */
    return (uint64_t)n + (uint64_t)n * (uint64_t)kmax * (uint64_t)(pl->steps - 1);
}

uint64_t its_smp_rounds_minimum(const its_plan *pl, int budget, int block)
{
    if (!budget)
        return (uint64_t)pl->steps;
    int R, S;
    uint64_t cmax;
    its_rounds_shape(pl->steps, block, &R, &S, &cmax);
    return 1 + (uint64_t)S * cmax;
}

its_status its_smp_rounds_fit(its_engine *e, its_smp_rounds *rs, int budget, int block, size_t *n,
                              size_t *kmax)
{
    memset(rs, 0, sizeof(*rs));
    rs->budget = budget;
    rs->T = its_eng_steps(e);
    rs->L = block;
    uint64_t cmax;
    its_rounds_shape(rs->T, block, &rs->R, &rs->S, &cmax);
    ITS_TRY(its_smp_rounds_shrink(its_eng_ctx(e), its_eng_plan(e), its_eng_method(e), budget,
                                  block, n, kmax));
    rs->n = *n;
    rs->kmax = *kmax;
    rs->klast = *kmax;
    return ITS_OK;
}

/* decreasing: d = n c_max (one child per particle less each round) when the last round still
 * gets one child per particle, else the largest d that leaves it that. */
static uint64_t its_rounds_decrement(uint64_t avail, uint64_t S, uint64_t m)
{
    if (S < 2)
        return 0;
    double fit = 2.0 * ((double)avail - (double)m * (double)S) / ((double)S * (double)(S - 1));
    double lim = (double)(UINT64_C(1) << 61) / ((double)S * (double)(S - 1) / 2.0);
    double dd = (double)m;
    if (fit < dd)
        dd = fit;
    if (lim < dd)
        dd = lim;
    uint64_t d = dd > 0 ? (uint64_t)dd : 0;
    /* floor effects of n0 = floor((avail + d S (S - 1) / 2) / S): step down until it fits */
    while (d > 0) {
        uint64_t n0 = (avail + d * (S * (S - 1) / 2)) / S;
        if (n0 >= m + d * (S - 1))
            break;
        d--;
    }
    return d;
}

/* Opens the record of round r (see its_smp_rounds_end). The allocator's quota of a paying round
 * is fixed when the step before it closes, so it reads the same here as at the round's end. */
static void its_rounds_open(its_engine *e, const its_smp_rounds *rs, int r)
{
    int k0 = its_smp_round_k0(rs, r);
    double t = its_eng_grid(e)[k0];
    if (!rs->budget) {
        its_eng_step_begin(e, k0, t, -1);
        return;
    }
    int64_t quota = -1;
    if (rs->b && its_smp_round_cost(rs, r) > 0)
        quota = (int64_t)its_budget_quota(rs->b);
    its_eng_step_begin(e, k0 + 1, t, quota);
}

/* The allocator of budget mode: total = the cap, init = the first evaluation's NFE. */
static its_status its_rounds_create(its_engine *e, its_smp_rounds *rs, its_budget_policy policy,
                                    uint64_t init)
{
    const its_run_params *run = its_eng_run(e);
    uint64_t cmax = 0;
    for (int r = 0; r < rs->R; r++) {
        uint64_t c = its_smp_round_cost(rs, r);
        cmax = c > cmax ? c : cmax;
    }
    its_budget_params bp;
    its_budget_params_init(&bp);
    bp.policy = policy;
    bp.total = its_eng_max_nfe(e);
    if (bp.total > (UINT64_C(1) << 62))
        bp.total = UINT64_C(1) << 62;
    bp.init = init;
    bp.steps = rs->S;
    bp.deadline_ms = run->deadline_ms;
    if (policy == ITS_BUDGET_DECREASING)
        bp.d = its_rounds_decrement(bp.total - bp.init, (uint64_t)rs->S,
                                    (uint64_t)rs->n * cmax);
    return its_budget_create(its_eng_ctx(e), &bp, &rs->b);
}

its_status its_smp_rounds_begin(its_engine *e, its_smp_rounds *rs, its_budget_policy policy)
{
    if (!rs->budget)
        return ITS_OK;
    /* step 0: the first evaluation, paid before the allocator starts */
    uint64_t init = its_eng_step_end(e);
    if (rs->S > 0)
        ITS_TRY(its_rounds_create(e, rs, policy, init));
    its_rounds_open(e, rs, 0);
    return ITS_OK;
}

void its_smp_rounds_free(its_smp_rounds *rs)
{
    its_budget_free(rs->b);
    rs->b = NULL;
}

size_t its_smp_rounds_k(its_engine *e, its_smp_rounds *rs, int r)
{
    uint64_t c = its_smp_round_cost(rs, r);
    if (!rs->b)
        return rs->kmax;
    if (c == 0) /* costs verifier rows only: keep the last allocated width */
        return rs->klast;
    const uint64_t n = (uint64_t)rs->n;
    uint64_t k = its_budget_children(rs->b, n, c);
    if (k > rs->kmax)
        k = rs->kmax;
    /* what the cap leaves once every later round has one child per particle */
    uint64_t left = its_eng_nfe_left(e), reserve = n * its_rounds_later(rs, r);
    uint64_t kt = left > reserve ? (left - reserve) / (n * c) : 0;
    if (k > kt)
        k = kt;
    rs->klast = k ? (size_t)k : 1;
    return rs->klast;
}

its_status its_smp_rounds_end(its_engine *e, its_smp_rounds *rs, int r)
{
    uint64_t used = its_eng_step_end(e);
    if (rs->b && its_smp_round_cost(rs, r) > 0) {
        /* a deadline quota below one child per particle still runs one: charge what fits */
        uint64_t left = its_budget_left(rs->b);
        ITS_TRY(its_budget_spend(rs->b, used < left ? used : left));
        ITS_TRY(its_budget_end_step(rs->b));
    }
    if (r + 1 < rs->R)
        its_rounds_open(e, rs, r + 1);
    return ITS_OK;
}

its_status its_smp_search_start(its_engine *e, its_smp_rounds *rs, its_budget_policy policy,
                                its_pset *parent, its_pset *child, size_t **pidx, uint32_t **cidx)
{
    ITS_TRY(its_smp_fanout(e, parent, child, rs->n, rs->kmax, pidx, cidx));
    its_eng_roots(e, parent, 0, rs->n, 0);
    /* fixed mode: round 0's record includes the first evaluation; with an allocator the first
     * evaluation is its init, step 0 of its own, its quota the n rows it evaluates */
    if (rs->budget)
        its_eng_step_begin(e, 0, its_eng_grid(e)[0], (int64_t)rs->n);
    else
        its_rounds_open(e, rs, 0);
    ITS_TRY(its_eng_init_noise(e, parent, 0, rs->n, its_eng_grid(e)[0]));
    ITS_TRY(its_eng_eval(e, parent, 0, rs->n));
    return its_smp_rounds_begin(e, rs, policy);
}

static its_status its_children_rounds(its_engine *e, its_smp_rounds *rs, its_budget_policy policy)
{
    const double *t = its_eng_grid(e);
    const size_t n = rs->n;
    its_pset P, C;
    size_t *pidx;
    uint32_t *cidx;
    size_t *sel = its_eng_alloc(e, n * sizeof(size_t));
    if (!sel)
        return ITS_ERR_NOMEM;
    ITS_TRY(its_smp_search_start(e, rs, policy, &P, &C, &pidx, &cidx));
    size_t kprev = rs->kmax;
    for (int r = 0; r < rs->R; r++) {
        const int k0 = its_smp_round_k0(rs, r), k1 = its_smp_round_k1(rs, r);
        const size_t k = its_smp_rounds_k(e, rs, r), nk = n * k;
        if (k != kprev) {
            its_smp_fanout_index(n, k, pidx, cidx);
            kprev = k;
        }
        ITS_TRY(its_eng_branch(e, &P, pidx, cidx, &C, 0, nk, t[k0 + 1], (uint32_t)k0));
        C.n = nk;
        for (int s = k0 + 1; s < k1; s++) {
            ITS_TRY(its_eng_eval(e, &C, 0, nk));
            ITS_TRY(its_eng_step(e, &C, t[s + 1], (uint32_t)s));
        }
        if (k1 == rs->T) {
            ITS_TRY(its_smp_rounds_end(e, rs, r));
            return its_eng_score(e, &C, 0, nk, ITS_SCORE_FINAL);
        }
        ITS_TRY(its_eng_eval(e, &C, 0, nk));
        ITS_TRY(its_eng_score(e, &C, 0, nk, ITS_SCORE_LOOKAHEAD));
        for (size_t i = 0; i < n; i++)
            sel[i] = its_smp_argmax(C.score, i * k, i * k + k);
        ITS_TRY(its_eng_gather(e, &P, &C, sel, n));
        ITS_TRY(its_smp_rounds_end(e, rs, r));
    }
    return ITS_OK;
}

its_status its_smp_children_search(its_engine *e, size_t n, size_t k, int block, int budget,
                                   its_budget_policy policy)
{
    its_smp_rounds rs;
    ITS_TRY(its_smp_rounds_fit(e, &rs, budget, block, &n, &k));
    its_status st = its_children_rounds(e, &rs, policy);
    its_smp_rounds_free(&rs);
    return st;
}
