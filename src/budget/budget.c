/* The per-step NFE allocator (DESIGN.md §6): uniform, rollover, decreasing and deadline policies. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "itscale/budget.h"

#define ITS_BUDGET_MAX_STEPS 1000000
#define ITS_BUDGET_MAX_TOTAL (UINT64_C(1) << 62)

static const char *const its_budget_policy_names_[] = {"uniform", "rollover", "decreasing",
                                                       "deadline"};
static_assert(ITS_ARRAY_LEN(its_budget_policy_names_) == (size_t)ITS_BUDGET_POLICY_COUNT_,
              "its_budget_policy names incomplete");

const char *its_budget_policy_name(its_budget_policy v)
{
    return ((unsigned)v < ITS_BUDGET_POLICY_COUNT_) ? its_budget_policy_names_[v] : NULL;
}

/* The name by int, for descriptor tables (declared in samplers/sampler.h beside the other enums' _name_i). */
const char *its_budget_policy_name_i(int v);
const char *its_budget_policy_name_i(int v)
{
    return its_budget_policy_name((its_budget_policy)v);
}

its_status its_budget_policy_parse(const char *s, its_budget_policy *out)
{
    if (!s || !out)
        return ITS_ERR_INVALID;
    for (int i = 0; i < ITS_BUDGET_POLICY_COUNT_; i++) {
        if (strcmp(its_budget_policy_names_[i], s) == 0) {
            *out = (its_budget_policy)i;
            return ITS_OK;
        }
    }
    return ITS_ERR_INVALID;
}

struct its_budget {
    its_ctx *ctx;
    its_budget_params p;
    uint64_t q;             /* Q: the base quota per step */
    int step;               /* current step */
    uint64_t quota, used;   /* of the current step */
    uint64_t spent;         /* init + every spend */
    uint64_t step_spent;    /* spends since create/reset (deadline rate) */
    double t0;              /* clock at create/reset */
    its_budget_step *rec;   /* steps records */
};

void its_budget_params_init(its_budget_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof(*p));
    p->version = ITS_BUDGET_PARAMS_V1;
    p->policy = ITS_BUDGET_ROLLOVER;
    p->total = 500;
    p->steps = 10;
    p->d = 1;
}

static double its_budget_now(const its_budget *b)
{
    return b->p.clock ? b->p.clock(b->p.clock_user) : its_now();
}

static uint64_t its_min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* The quota of step b->step under the policy, never more than what is left of the total. */
static uint64_t its_budget_grant(its_budget *b)
{
    const its_budget_params *p = &b->p;
    uint64_t rest = p->total - b->spent;
    int i = b->step;
    if (p->final_rest && i == p->steps - 1)
        return rest;
    uint64_t g;
    switch (p->policy) {
    case ITS_BUDGET_UNIFORM:
        g = b->q;
        break;
    case ITS_BUDGET_ROLLOVER:
        /* budget <- budget - used + Q, kept in closed form: (i+1) Q minus what steps spent */
        g = b->q * (uint64_t)(i + 1) - (b->spent - p->init);
        break;
    case ITS_BUDGET_DECREASING:
        g = b->q - (uint64_t)i * p->d;
        break;
    case ITS_BUDGET_DEADLINE: {
        uint64_t left_steps = (uint64_t)(p->steps - i);
        g = rest / left_steps;
        double elapsed = its_budget_now(b) - b->t0;
        double t_left = p->deadline_ms * 1e-3 - elapsed;
        if (!(t_left > 0)) {
            g = 0;
        } else if (b->step_spent > 0 && elapsed > 0) {
            /* NFE the measured rate fits into an even share of the time left */
            double fit = floor(t_left / (double)left_steps / (elapsed / (double)b->step_spent));
            if (fit < (double)g)
                g = fit > 0 ? (uint64_t)fit : 0;
        }
        break;
    }
    default:
        g = 0;
        break;
    }
    return its_min_u64(g, rest);
}

static its_status its_budget_check(its_ctx *ctx, const its_budget_params *p, uint64_t *q)
{
    if (p->version != ITS_BUDGET_PARAMS_V1)
        return its_error(ctx, ITS_ERR_INVALID, "budget.version: expected %d, got %d",
                         ITS_BUDGET_PARAMS_V1, p->version);
    if ((unsigned)p->policy >= ITS_BUDGET_POLICY_COUNT_)
        return its_error(ctx, ITS_ERR_INVALID, "budget.policy: unknown policy %d",
                         (int)p->policy);
    if (p->steps < 1 || p->steps > ITS_BUDGET_MAX_STEPS)
        return its_error(ctx, ITS_ERR_INVALID, "budget.steps: expected integer in [1, %d], got %d",
                         ITS_BUDGET_MAX_STEPS, p->steps);
    if (p->total < 1 || p->total > ITS_BUDGET_MAX_TOTAL)
        return its_error(ctx, ITS_ERR_INVALID, "budget.total: expected [1, 2^62], got %llu",
                         (unsigned long long)p->total);
    if (p->final_rest != 0 && p->final_rest != 1)
        return its_error(ctx, ITS_ERR_INVALID, "budget.final_rest: expected 0 or 1, got %d",
                         p->final_rest);
    if (p->init >= p->total)
        return its_error(ctx, ITS_ERR_BUDGET,
                         "budget.init: %llu NFE leaves nothing of budget.total = %llu for the steps",
                         (unsigned long long)p->init, (unsigned long long)p->total);
    uint64_t avail = p->total - p->init, T = (uint64_t)p->steps;
    if (p->policy == ITS_BUDGET_DEADLINE && !(p->deadline_ms > 0 && p->deadline_ms < 1e12))
        return its_error(ctx, ITS_ERR_INVALID,
                         "budget.deadline_ms: the deadline policy needs a time in (0, 1e12), "
                         "got %g",
                         p->deadline_ms);
    if (p->policy == ITS_BUDGET_DECREASING) {
        if (p->d > avail)
            return its_error(ctx, ITS_ERR_INVALID, "budget.d: %llu exceeds the %llu NFE to share",
                             (unsigned long long)p->d, (unsigned long long)avail);
        /* sum_{i<T} (n0 - i d) = T n0 - d T (T - 1) / 2 (no overflow: T <= 1e6, d <= 2^62 is
         * ruled out by the product check below) */
        double tri = (double)p->d * (double)T * (double)(T - 1) / 2.0;
        if (tri > (double)ITS_BUDGET_MAX_TOTAL)
            return its_error(ctx, ITS_ERR_BUDGET,
                             "budget.d: a decrement of %llu over %d steps needs more than 2^62 NFE",
                             (unsigned long long)p->d, p->steps);
        uint64_t dec = p->d * (T * (T - 1) / 2);
        uint64_t n0 = p->n0 ? p->n0 : (avail + dec) / T;
        if (n0 < 1 + p->d * (T - 1))
            return its_error(ctx, ITS_ERR_BUDGET,
                             "budget: the decreasing schedule n0 = %llu, d = %llu reaches 0 before "
                             "step %d (total - init = %llu)",
                             (unsigned long long)n0, (unsigned long long)p->d, p->steps,
                             (unsigned long long)avail);
        if (n0 > ITS_BUDGET_MAX_TOTAL / T || n0 * T - dec > avail)
            return its_error(ctx, ITS_ERR_BUDGET,
                             "budget.n0: the schedule n0 = %llu, d = %llu needs more than the %llu "
                             "NFE of total - init",
                             (unsigned long long)n0, (unsigned long long)p->d,
                             (unsigned long long)avail);
        *q = n0;
        return ITS_OK;
    }
    uint64_t q0 = p->per_step ? p->per_step : avail / T;
    if (q0 < 1)
        return its_error(ctx, ITS_ERR_BUDGET,
                         "budget.total: %llu NFE after init cannot pay 1 NFE for each of %d steps",
                         (unsigned long long)avail, p->steps);
    if (q0 > avail / T)
        return its_error(ctx, ITS_ERR_BUDGET,
                         "budget.per_step: %llu NFE for %d steps exceeds the %llu of total - init",
                         (unsigned long long)q0, p->steps, (unsigned long long)avail);
    *q = q0;
    return ITS_OK;
}

its_status its_budget_create(its_ctx *ctx, const its_budget_params *p, its_budget **out)
{
    if (!out)
        return its_error(ctx, ITS_ERR_INVALID, "its_budget_create: out is NULL");
    *out = NULL;
    if (!ctx)
        return ITS_ERR_INVALID;
    if (!p)
        return its_error(ctx, ITS_ERR_INVALID, "its_budget_create: params are NULL");
    uint64_t q = 0;
    ITS_TRY(its_budget_check(ctx, p, &q));
    its_budget *b = its_calloc(ctx, 1, sizeof(*b));
    if (!b)
        return ITS_ERR_NOMEM;
    b->rec = its_calloc(ctx, (size_t)p->steps, sizeof(its_budget_step));
    if (!b->rec) {
        its_mfree(ctx, b);
        return ITS_ERR_NOMEM;
    }
    b->ctx = ctx;
    b->p = *p;
    b->q = q;
    its_budget_reset(b);
    *out = b;
    return ITS_OK;
}

void its_budget_free(its_budget *b)
{
    if (!b)
        return;
    its_mfree(b->ctx, b->rec);
    its_mfree(b->ctx, b);
}

its_status its_budget_reset(its_budget *b)
{
    if (!b)
        return ITS_ERR_INVALID;
    b->step = 0;
    b->used = 0;
    b->spent = b->p.init;
    b->step_spent = 0;
    b->t0 = its_budget_now(b);
    memset(b->rec, 0, (size_t)b->p.steps * sizeof(its_budget_step));
    b->quota = its_budget_grant(b);
    return ITS_OK;
}

int its_budget_step_index(const its_budget *b) { return b ? b->step : 0; }
int its_budget_steps(const its_budget *b) { return b ? b->p.steps : 0; }
uint64_t its_budget_quota(const its_budget *b) { return b ? b->quota : 0; }
uint64_t its_budget_left(const its_budget *b) { return b ? b->quota - b->used : 0; }
uint64_t its_budget_spent(const its_budget *b) { return b ? b->spent : 0; }
uint64_t its_budget_remaining(const its_budget *b) { return b ? b->p.total - b->spent : 0; }

its_status its_budget_spend(its_budget *b, uint64_t nfe)
{
    if (!b)
        return ITS_ERR_INVALID;
    if (b->step >= b->p.steps)
        return its_error(b->ctx, ITS_ERR_INVALID,
                         "budget: spend of %llu NFE after the last of %d steps was closed",
                         (unsigned long long)nfe, b->p.steps);
    if (nfe > b->quota - b->used)
        return its_error(b->ctx, ITS_ERR_BUDGET,
                         "budget: step %d spends %llu NFE but has %llu of its quota %llu left",
                         b->step, (unsigned long long)nfe,
                         (unsigned long long)(b->quota - b->used), (unsigned long long)b->quota);
    b->used += nfe;
    b->spent += nfe;
    b->step_spent += nfe;
    return ITS_OK;
}

its_status its_budget_end_step(its_budget *b)
{
    if (!b)
        return ITS_ERR_INVALID;
    if (b->step >= b->p.steps)
        return its_error(b->ctx, ITS_ERR_INVALID, "budget: all %d steps are already closed",
                         b->p.steps);
    b->rec[b->step].quota = b->quota;
    b->rec[b->step].used = b->used;
    b->step++;
    b->used = 0;
    b->quota = b->step < b->p.steps ? its_budget_grant(b) : 0;
    return ITS_OK;
}

size_t its_budget_records(const its_budget *b, const its_budget_step **rec)
{
    if (rec)
        *rec = b ? b->rec : NULL;
    return b ? (size_t)b->step : 0;
}

uint64_t its_budget_children(const its_budget *b, uint64_t particles, uint64_t nfe_per_child)
{
    if (!b || particles == 0 || nfe_per_child == 0)
        return 0;
    uint64_t left = b->quota - b->used;
    if (particles > left / nfe_per_child)
        return 0;
    return left / (particles * nfe_per_child);
}
