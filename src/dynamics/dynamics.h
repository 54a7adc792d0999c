/* Interpolants, prediction conversions, time grids and step coefficients (DESIGN.md §4).
 * Everything here is scalar math on coefficients; the vector work is the backend's. */
#ifndef ITS_DYNAMICS_H
#define ITS_DYNAMICS_H

#include "itscale.h"

/* Validates an interpolant's parameters (message on ctx names `what`). */
its_status its_interp_check(its_ctx *ctx, const its_interp *ip, const char *what);

/* g(t) of an SDE schedule; sigma_t is the working interpolant's sigma at t. */
double its_g_eval(its_g_schedule g, double scale, double t, double sigma_t);

/* How one model evaluation at working time r maps into the working interpolant (DESIGN.md §4.3):
 * the model is queried at (in_scale * x, t_model); the working velocity is
 * u = ux * x + up * pred and the Tweedie look-ahead is x0 = x0x * x + x0u * u. Without
 * conversion (work == NULL) t_model = r and in_scale = 1. */
typedef struct its_evalmap {
    double t_model, in_scale;
    double ux, up;
    double x0x, x0u;
} its_evalmap;

its_status its_evalmap_at(const its_interp *model_ip, its_pred pred, const its_interp *work,
                          double r, its_evalmap *m);

/* Source time t(r) with sigma(t)/alpha(t) = sigma_w(r)/alpha_w(r) (SNR matching). */
its_status its_snr_match(const its_interp *src, const its_interp *work, double r, double *t);

/* One step from t to s < t in the working interpolant: x_s = A x + B u + C z, z ~ N(0, I).
 * ODE Euler: A = 1, B = -(t - s), C = 0. SDE Euler-Maruyama with g: the drift u - g^2/2 score,
 * where the score is linear in x and u. The last step (s == 0) of an SDE is taken as the ODE
 * step (no noise at the data end). */
typedef struct its_stepc {
    double A, B, C;
} its_stepc;

its_status its_step_coeffs(const its_interp *work, its_dynamics dyn, its_g_schedule g,
                           double g_scale, double t, double s, its_stepc *c);

/* Re-noising from level tc up to tf > tc: x_f = a x_c + b eps. */
its_status its_renoise_coeffs(const its_interp *work, double tc, double tf, double *a, double *b);

/* Time grid of steps + 1 times from t_max down to 0. */
its_status its_grid_build(its_ctx *ctx, const its_run_params *run, double *t);

#endif
