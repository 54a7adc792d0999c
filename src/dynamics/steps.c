/* Step, re-noising and interpolant-conversion coefficients (DESIGN.md §4.2, 4.3). */
#include <math.h>

#include "core/core.h"
#include "dynamics/dynamics.h"

/* sigma/alpha is increasing in t for every built-in interpolant; bisection serves any
 * source (the linear source has the closed form t = rho / (1 + rho)). */
its_status its_snr_match(const its_interp *src, const its_interp *work, double r, double *t)
{
    double w[4];
    ITS_TRY(its_interp_eval(work, r, w));
    if (!(w[0] > 0)) {
        *t = 1.0;
        return ITS_OK;
    }
    double rho = w[1] / w[0];
    if (src->kind == ITS_INTERP_LINEAR) {
        *t = rho / (1.0 + rho);
        return ITS_OK;
    }
    double lo = 0.0, hi = 1.0, v[4];
    for (int it = 0; it < 200 && hi - lo > 1e-15; it++) {
        double mid = 0.5 * (lo + hi);
        ITS_TRY(its_interp_eval(src, mid, v));
        if (v[1] < rho * v[0])
            lo = mid;
        else
            hi = mid;
    }
    *t = 0.5 * (lo + hi);
    return ITS_OK;
}

its_status its_evalmap_at(const its_interp *model_ip, its_pred pred, const its_interp *work,
                          double r, its_evalmap *m)
{
    double w[4];
    if (!work) {
        ITS_TRY(its_interp_eval(model_ip, r, w));
        m->t_model = r;
        m->in_scale = 1.0;
        ITS_TRY(its_pred_coeffs(model_ip, r, pred, ITS_PRED_VELOCITY, &m->ux, &m->up));
    } else {
        double t, v[4], cx, cp;
        ITS_TRY(its_interp_eval(work, r, w));
        ITS_TRY(its_snr_match(model_ip, work, r, &t));
        ITS_TRY(its_interp_eval(model_ip, t, v));
        ITS_TRY(its_pred_coeffs(model_ip, t, pred, ITS_PRED_VELOCITY, &cx, &cp));
        /* c = sigma_w/sigma = alpha_w/alpha (equal by SNR matching): use the better-conditioned
         * ratio. dt/dr = (1/c^2) (sigma_w' alpha_w - sigma_w alpha_w') / (sigma' alpha - sigma alpha'). */
        double c, dc;
        double num = w[3] * w[0] - w[1] * w[2];
        double den = v[3] * v[0] - v[1] * v[2];
        if (!(fabs(den) > 0))
            return ITS_ERR_NUMERIC;
        if (v[0] >= v[1]) {
            c = w[0] / v[0];
            double dt = num / (den * c * c);
            dc = (w[2] * v[0] - w[0] * v[2] * dt) / (v[0] * v[0]);
            m->ux = dc / c + dt * cx;
            m->up = dt * c * cp;
        } else {
            c = w[1] / v[1];
            double dt = num / (den * c * c);
            dc = (w[3] * v[1] - w[1] * v[3] * dt) / (v[1] * v[1]);
            m->ux = dc / c + dt * cx;
            m->up = dt * c * cp;
        }
        if (!(c > 0) || !isfinite(c))
            return ITS_ERR_NUMERIC;
        m->t_model = t;
        m->in_scale = 1.0 / c;
    }
    /* Tweedie from the working velocity: x0 = (sigma' x - sigma u) / (alpha sigma' - sigma alpha'). */
    double det = w[0] * w[3] - w[1] * w[2];
    if (!(fabs(det) > 1e-300) || !isfinite(det))
        return ITS_ERR_NUMERIC;
    m->x0x = w[3] / det;
    m->x0u = -w[1] / det;
    if (!isfinite(m->ux) || !isfinite(m->up) || !isfinite(m->x0x) || !isfinite(m->x0u))
        return ITS_ERR_NUMERIC;
    return ITS_OK;
}

its_status its_step_coeffs(const its_interp *work, its_dynamics dyn, its_g_schedule g,
                           double g_scale, double t, double s, its_stepc *c)
{
    double delta = t - s;
    if (!(delta > 0))
        return ITS_ERR_INVALID;
    c->A = 1.0;
    c->B = -delta;
    c->C = 0.0;
    if (dyn == ITS_DYN_ODE || s <= 0.0)
        return ITS_OK;
    double w[4];
    ITS_TRY(its_interp_eval(work, t, w));
    double gt = its_g_eval(g, g_scale, t, w[1]);
    if (gt == 0.0)
        return ITS_OK;
    /* score = -eps/sigma with eps = (alpha u - alpha' x)/det:
     * score = sx x + su u, sx = alpha'/(det sigma), su = -alpha/(det sigma). */
    double det = w[0] * w[3] - w[1] * w[2];
    if (!(w[1] > 0) || !(fabs(det) > 0))
        return ITS_ERR_NUMERIC;
    double sx = w[2] / (det * w[1]);
    double su = -w[0] / (det * w[1]);
    double h = 0.5 * delta * gt * gt;
    c->A = 1.0 + h * sx;
    c->B = -delta + h * su;
    c->C = gt * sqrt(delta);
    if (!isfinite(c->A) || !isfinite(c->B) || !isfinite(c->C))
        return ITS_ERR_NUMERIC;
    return ITS_OK;
}

its_status its_renoise_coeffs(const its_interp *work, double tc, double tf, double *a, double *b)
{
    double vc[4], vf[4];
    if (!(tf >= tc))
        return ITS_ERR_INVALID;
    ITS_TRY(its_interp_eval(work, tc, vc));
    ITS_TRY(its_interp_eval(work, tf, vf));
    if (!(vc[0] > 0))
        return ITS_ERR_NUMERIC;
    double ratio = vf[0] / vc[0];
    double var = vf[1] * vf[1] - ratio * ratio * vc[1] * vc[1];
    *a = ratio;
    *b = sqrt(var > 0 ? var : 0.0);
    return ITS_OK;
}

its_status its_grid_build(its_ctx *ctx, const its_run_params *run, double *t)
{
    int T = run->steps;
    double tmax = run->t_max;
    if (run->grid == ITS_GRID_CUSTOM) {
        if (!run->grid_custom)
            return its_error(ctx, ITS_ERR_INVALID, "run.grid: custom grid needs grid_custom");
        for (int i = 0; i <= T; i++) {
            double v = run->grid_custom[i];
            if (!(v >= 0.0 && v <= 1.0) || (i > 0 && !(v < t[i - 1])))
                return its_error(ctx, ITS_ERR_INVALID,
                                 "run.grid_custom[%d]: expected a decreasing time in [0, 1], got %g",
                                 i, v);
            t[i] = v;
        }
        if (t[T] != 0.0)
            return its_error(ctx, ITS_ERR_INVALID, "run.grid_custom[%d]: the last time must be 0",
                             T);
        return ITS_OK;
    }
    for (int i = 0; i <= T; i++) {
        double u = 1.0 - (double)i / (double)T; /* 1 -> 0 */
        double v;
        switch (run->grid) {
        case ITS_GRID_UNIFORM: v = u; break;
        case ITS_GRID_SHIFTED: v = run->grid_shift * u / (1.0 + (run->grid_shift - 1.0) * u); break;
        case ITS_GRID_EXP: v = sqrt(fmax(0.0, 1.0 - (1.0 - u) * (1.0 - u))); break;
        default: return its_error(ctx, ITS_ERR_INVALID, "run.grid: unknown grid %d", (int)run->grid);
        }
        t[i] = tmax * v;
    }
    t[T] = 0.0;
    return ITS_OK;
}
