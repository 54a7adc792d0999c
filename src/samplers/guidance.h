/* The local-search move (Zhang et al. 2025): verifier-gradient guidance with recurrence, an
 * annealed Langevin step on p * f^lambda. Shared by `local_search` and, inside each step, by the
 * global searches (bfs, fk_smc with params.local_search = 1). */
#ifndef ITS_SAMPLERS_GUIDANCE_H
#define ITS_SAMPLERS_GUIDANCE_H

#include "samplers/common.h"

/* Takes ps evaluated at grid[k] (has_u; made with ITS_PSET_GRAD) and leaves it at grid[k + 1]
 * (has_u = 0). For r = 1 .. recur:
 *     g   = grad r(x0_hat)                                    (its_eng_grad, gradient rows)
 *     x  <- step(x, t_k -> t_{k+1}) + rho_t x0x g + alpha(t_{k+1}) mu_t g
 *     if r < recur: re-noise t_{k+1} -> t_k (fresh noise per recurrence), evaluate again.
 * x0x is the Tweedie coefficient of x in x0_hat = x0x x + x0u u: the Jacobian d x0_hat / dx is
 * taken as that scalar (the model's own dependence on x is ignored), which maps the gradient at
 * x0_hat to x. rho_t = rho * s(t_k), mu_t = mu * s(t_k) with s = 1, t or sigma(t) (schedule).
 * As in the reference code, the last pass of the step into t = 0 takes no guidance (and no
 * gradient). Gradient rows per call: n * recur, n * (recur - 1) at the last step; none when
 * rho = mu = 0.
 * Model NFE per call: recur * (NFE of one step) - 1 beyond the evaluation the caller made. */
its_status its_smp_local_step(its_engine *e, its_pset *ps, int k, const its_local_search_params *lp);

/* Model NFE of one its_smp_local_step at grid index k for one row, the caller's evaluation at
 * grid[k] included. */
uint64_t its_smp_local_step_nfe(const its_engine *e, int k, const its_local_search_params *lp);
uint64_t its_smp_local_step_nfe_plan(const its_plan *pl, int k, const its_local_search_params *lp);

#endif
