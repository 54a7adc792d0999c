/* The children search behind `svdd` and `code` (DESIGN.md §5): every particle spawns K SDE
 * children that run to the next selection, and the child with the best look-ahead score
 * r(x0_hat) replaces it. Also the selection rounds `beam` shares with them: their fit to the NFE
 * cap and, in budget mode, the children per round from the per-step allocator (§6). */
#ifndef ITS_SAMPLERS_CHILDREN_SEARCH_H
#define ITS_SAMPLERS_CHILDREN_SEARCH_H

#include <stddef.h>

#include "itscale/budget.h"
#include "samplers/common.h"

/* Selection rounds of a children search: round r runs grid steps [r L, min(r L + L, T)) and its
 * children are compared at the end. A child costs c_r NFE per particle: one evaluation per step,
 * none for the step that reaches t = 0 (the last round of svdd and beam costs nothing).
 *
 * Budget mode (budget_children = 1): the children per particle of each round that costs NFE come
 * from an its_budget with total = run.max_nfe, init = the NFE of the first evaluation and one
 * budget step per paying round. K_r = min(kmax, its_budget_children(b, n, c_r)), lowered so the
 * cap still pays one child per particle in every later round, and never below 1 (the planning in
 * its_smp_rounds_fit makes sure the total pays that). A free round (verifier rows only) takes the
 * K of the round before it (kmax when none came before). Under `decreasing`
 * the quota falls by one child per particle per round (n_i = n_0 - i d, d = n c_max) where the
 * total allows it, by less where it does not. */
typedef struct its_smp_rounds {
    its_budget *b;      /* NULL: fixed mode, or no round costs NFE */
    int budget;         /* budget_children */
    int T, L, R, S;     /* steps, round length, rounds, rounds that cost NFE */
    size_t n, kmax;
    size_t klast;       /* K of the last paying round */
} its_smp_rounds;

/* The checks beam, svdd and code share: n x children rows (n is called `nname`), SDE dynamics,
 * and budget_children / children_policy; the message names the field. */
its_status its_smp_rounds_check(its_ctx *ctx, const char *what, const char *nname, int n,
                                int children, int budget, its_budget_policy policy,
                                const its_run_params *run);
/* Sets T, L, R, S and fits n particles (fewer first) and kmax children under run.max_nfe:
 * fixed mode n + n k (T - 1) <= cap; budget mode n (1 + S c_max) <= cap, kmax unchanged.
 * ITS_ERR_BUDGET below one trajectory. */
its_status its_smp_rounds_fit(its_engine *e, its_smp_rounds *rs, int budget, int block, size_t *n,
                              size_t *kmax);
/* The same fit on a plan (the cost model of beam, svdd and code), its planned NFE (the cap in
 * budget mode) and its least cap. */
its_status its_smp_rounds_shrink(its_ctx *ctx, const its_plan *pl, its_method m, int budget,
                                 int block, size_t *n, size_t *kmax);
uint64_t its_smp_rounds_plan(const its_plan *pl, int budget, int block, size_t n, size_t kmax);
uint64_t its_smp_rounds_minimum(const its_plan *pl, int budget, int block);
/* Budget mode: closes the record of the first evaluation (step 0), creates the budget after it
 * and opens round 0's record (no-op in fixed mode). Free with its_smp_rounds_free on every
 * path. */
its_status its_smp_rounds_begin(its_engine *e, its_smp_rounds *rs, its_budget_policy policy);
/* The start shared by beam, svdd and code: parent and child sets for rs->n particles with up to
 * rs->kmax children each, the parents drawn at t_max and evaluated, and the round planner begun.
 * The first evaluation is recorded in round 0 (fixed mode) or as step 0 of its own (budget
 * mode); round 0's record is open on return. */
its_status its_smp_search_start(its_engine *e, its_smp_rounds *rs, its_budget_policy policy,
                                its_pset *parent, its_pset *child, size_t **pidx, uint32_t **cidx);
void its_smp_rounds_free(its_smp_rounds *rs);
/* First grid step of round r, one past its last, and c_r. */
int its_smp_round_k0(const its_smp_rounds *rs, int r);
int its_smp_round_k1(const its_smp_rounds *rs, int r);
uint64_t its_smp_round_cost(const its_smp_rounds *rs, int r);
/* Children per particle for round r (kmax in fixed mode). */
size_t its_smp_rounds_k(its_engine *e, its_smp_rounds *rs, int r);
/* Closes round r's record and opens round r + 1's. The record is engine step k0 (the round's
 * first grid index) in fixed mode; in budget mode it is step k0 + 1 (step 0 is the first
 * evaluation) with the allocator's quota, and the NFE the round used are charged to the
 * allocator. */
its_status its_smp_rounds_end(its_engine *e, its_smp_rounds *rs, int r);

/* Children search (`svdd`: block = 1; `code`: block = L). n particles; at each block start every
 * particle spawns k SDE children (child 0 keeps the parent's lineage) that run `block` steps;
 * each particle is replaced by its child with the best look-ahead score r(x0_hat); at t = 0 the
 * children are scored as outputs. With k = 1 it is plain SDE sampling, bit for bit. Cost:
 * n + n k (T - 1) NFE; under a smaller cap it runs fewer particles, then fewer children.
 * budget != 0: k per round from the allocator (see its_smp_rounds), k the most per round. */
its_status its_smp_children_search(its_engine *e, size_t n, size_t k, int block, int budget,
                                   its_budget_policy policy);

#endif
