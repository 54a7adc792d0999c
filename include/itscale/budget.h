/*
 * itscale per-step NFE allocator (DESIGN.md §6): how much compute each denoising step of a search may
 * spend, out of a fixed total. Reusable by any sampler and by hosts that run their own loops.
 *
 * A budget has `steps` steps and a `total` (NFE of the whole run, the `init` NFE spent before step
 * 0 included). Each step: ask its quota (its_budget_quota / its_budget_left), spend from it
 * (its_budget_spend), close it (its_budget_end_step), which records {quota, used} and grants the
 * next quota by the policy. Spending never exceeds the step's quota, and the quotas never add up
 * past the total. Nothing allocates after its_budget_create; its_budget_reset reuses the object.
 *
 * Policies (Q = per_step, by default floor((total - init) / steps)):
 *   uniform     every step gets Q; what a step leaves unused is lost.
 *   rollover    every step gets Q plus what the previous step left unused
 *               (budget <- budget - used + Q; Kim et al. 2025, rollover budget forcing).
 *   decreasing  step i gets n_i = n_0 - i*d (more compute early, where the search matters most).
 *   deadline    step i gets an even share of the NFE left over the steps left, capped by what
 *               the measured NFE rate can do in an even share of the wall-clock time left.
 * final_rest = 1 gives the last step everything left of the total (its share, any rollover and
 * the rounding remainder).
 *
 * Driving a per-step search (beam, svdd and the like): create with total = max_nfe,
 * steps = T, init = the NFE spent before the first step; at step i call
 * its_budget_children(b, N, 1) for the children per particle (0: stop searching), evaluate the
 * N*K children, its_budget_spend(b, N*K), its_budget_end_step(b). Under rollover the part of a
 * quota that N does not divide carries over to the next step. The built-in beam, svdd and code
 * do this with params.budget_children = 1 (params.children_policy picks the policy).
 */
#ifndef ITSCALE_BUDGET_H
#define ITSCALE_BUDGET_H

#include "itscale.h"

#ifdef __cplusplus
extern "C" {
#endif

/* its_budget_policy is declared in itscale.h (method parameters use it). */
/* "uniform", "rollover", "decreasing", "deadline"; NULL out of range. */
ITS_API const char *its_budget_policy_name(its_budget_policy v);
/* Exact, case-sensitive; ITS_ERR_INVALID on an unknown name. */
ITS_API its_status its_budget_policy_parse(const char *s, its_budget_policy *out);

#define ITS_BUDGET_PARAMS_V1 1
typedef struct its_budget_params {
    int version;                 /* ITS_BUDGET_PARAMS_V1 */
    its_budget_policy policy;    /* default rollover */
    uint64_t total;              /* NFE of the whole run, init included; default 500 */
    int steps;                   /* steps T, 1 .. 1e6; default 10 */
    uint64_t init;               /* NFE spent before step 0 (initial draws); default 0 */
    uint64_t per_step;           /* Q; 0 = floor((total - init) / steps). Default 0 */
    int final_rest;              /* 1: the last step's quota is all that is left. Default 0 */
    uint64_t n0;                 /* decreasing: first quota; 0 = the largest that fits. Default 0 */
    uint64_t d;                  /* decreasing: decrement per step; default 1 */
    double deadline_ms;          /* deadline: wall-clock time from create/reset, > 0; default 0 */
    /* deadline: monotonic clock in seconds; NULL = the library's clock (tests pass a fake). */
    double (*clock)(void *user);
    void *clock_user;
} its_budget_params;

/* One closed step: what the allocator granted and what was spent. */
typedef struct its_budget_step {
    uint64_t quota;
    uint64_t used;
} its_budget_step;

typedef struct its_budget its_budget;

ITS_API void its_budget_params_init(its_budget_params *p);

/* Validates p and creates a budget at step 0; *out is NULL on failure. ITS_ERR_INVALID names the
 * bad field; ITS_ERR_BUDGET when the total cannot pay 1 NFE per step (or the decreasing schedule
 * asked for); ITS_ERR_NOMEM. ctx must outlive the budget; messages go to ctx. */
ITS_API its_status its_budget_create(its_ctx *ctx, const its_budget_params *p, its_budget **out);
ITS_API void its_budget_free(its_budget *b);
/* Back to step 0 with the same parameters: records cleared, clock restarted. No allocation. */
ITS_API its_status its_budget_reset(its_budget *b);

/* Current step index; steps once every step was closed. */
ITS_API int its_budget_step_index(const its_budget *b);
ITS_API int its_budget_steps(const its_budget *b);
/* NFE granted to the current step (0 once all steps were closed). */
ITS_API uint64_t its_budget_quota(const its_budget *b);
/* What the current step may still spend: quota - used. */
ITS_API uint64_t its_budget_left(const its_budget *b);
/* NFE spent so far, init included; and total - spent. */
ITS_API uint64_t its_budget_spent(const its_budget *b);
ITS_API uint64_t its_budget_remaining(const its_budget *b);

/* Charges nfe to the current step. ITS_ERR_BUDGET (nothing charged) when nfe > its_budget_left;
 * ITS_ERR_INVALID after the last step was closed. */
ITS_API its_status its_budget_spend(its_budget *b, uint64_t nfe);
/* Closes the current step (records {quota, used}) and grants the next one its quota.
 * ITS_ERR_INVALID when every step is already closed. */
ITS_API its_status its_budget_end_step(its_budget *b);
/* The records of the closed steps, in order; *rec owned by b, valid until reset or free. */
ITS_API size_t its_budget_records(const its_budget *b, const its_budget_step **rec);

/* Hook for per-step searches: children per particle this step can pay for,
 * floor(left / (particles * nfe_per_child)); 0 for zero arguments. */
ITS_API uint64_t its_budget_children(const its_budget *b, uint64_t particles,
                                     uint64_t nfe_per_child);

#ifdef __cplusplus
}
#endif

#endif /* ITSCALE_BUDGET_H */
