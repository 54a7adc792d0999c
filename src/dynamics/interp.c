/* Interpolants and prediction conversions (DESIGN.md §4.1). */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "dynamics/dynamics.h"

#define ITS_PI 3.14159265358979323846

void its_interp_init(its_interp *ip, its_interp_kind kind)
{
    if (!ip)
        return;
    memset(ip, 0, sizeof(*ip));
    ip->kind = kind;
    ip->beta_min = 0.1;
    ip->beta_max = 20.0;
    ip->sigma_min = 0.002;
    ip->sigma_max = 80.0;
    ip->cosine_s = 0.008;
}

its_status its_interp_check(its_ctx *ctx, const its_interp *ip, const char *what)
{
    switch (ip->kind) {
    case ITS_INTERP_LINEAR:
        return ITS_OK;
    case ITS_INTERP_VP:
        if (!(ip->beta_min > 0 && ip->beta_max >= ip->beta_min && ip->beta_max < 1e4))
            return its_error(ctx, ITS_ERR_INVALID,
                             "%s: vp needs 0 < beta_min <= beta_max < 1e4, got %g .. %g", what,
                             ip->beta_min, ip->beta_max);
        return ITS_OK;
    case ITS_INTERP_VP_COSINE:
        if (!(ip->cosine_s > 0 && ip->cosine_s < 1))
            return its_error(ctx, ITS_ERR_INVALID, "%s: vp_cosine needs 0 < s < 1, got %g", what,
                             ip->cosine_s);
        return ITS_OK;
    case ITS_INTERP_VE:
        if (!(ip->sigma_min > 0 && ip->sigma_max > ip->sigma_min && ip->sigma_max < 1e6))
            return its_error(ctx, ITS_ERR_INVALID,
                             "%s: ve needs 0 < sigma_min < sigma_max < 1e6, got %g .. %g", what,
                             ip->sigma_min, ip->sigma_max);
        return ITS_OK;
    case ITS_INTERP_CUSTOM:
        if (!ip->alpha || !ip->sigma || !ip->dalpha || !ip->dsigma)
            return its_error(ctx, ITS_ERR_INVALID,
                             "%s: custom interpolant needs alpha, sigma, dalpha and dsigma", what);
        return ITS_OK;
    default:
        return its_error(ctx, ITS_ERR_INVALID, "%s: unknown interpolant kind %d", what,
                         (int)ip->kind);
    }
}

its_status its_interp_eval(const its_interp *ip, double t, double out[4])
{
    if (!ip || !out || !(t >= 0.0 && t <= 1.0))
        return ITS_ERR_INVALID;
    double a, s, da, ds;
    switch (ip->kind) {
    case ITS_INTERP_LINEAR:
        a = 1.0 - t;
        s = t;
        da = -1.0;
        ds = 1.0;
        break;
    case ITS_INTERP_VP: {
        double db = ip->beta_max - ip->beta_min;
        double T = 0.5 * t * t * db + t * ip->beta_min;
        double dT = t * db + ip->beta_min;
        a = exp(-0.5 * T);
        da = -0.5 * dT * a;
        s = sqrt(-expm1(-T));
        ds = s > 0 ? 0.5 * dT * exp(-T) / s : INFINITY;
        break;
    }
    case ITS_INTERP_VP_COSINE: {
        double k = 0.5 * ITS_PI / (1.0 + ip->cosine_s);
        double f0 = cos(k * ip->cosine_s);
        a = cos(k * (t + ip->cosine_s)) / f0;
        if (a < 0)
            a = 0;
        da = -k * sin(k * (t + ip->cosine_s)) / f0;
        s = sqrt(fmax(0.0, 1.0 - a * a));
        ds = s > 0 ? -a * da / s : INFINITY;
        break;
    }
    case ITS_INTERP_VE: {
        double lr = log(ip->sigma_max / ip->sigma_min);
        a = 1.0;
        da = 0.0;
        s = ip->sigma_min * exp(t * lr);
        ds = s * lr;
        break;
    }
    case ITS_INTERP_CUSTOM:
        if (!ip->alpha || !ip->sigma || !ip->dalpha || !ip->dsigma)
            return ITS_ERR_INVALID;
        a = ip->alpha(ip->user, t);
        s = ip->sigma(ip->user, t);
        da = ip->dalpha(ip->user, t);
        ds = ip->dsigma(ip->user, t);
        if (!isfinite(a) || !isfinite(s) || !isfinite(da) || !isfinite(ds))
            return ITS_ERR_NUMERIC;
        break;
    default:
        return ITS_ERR_INVALID;
    }
    out[0] = a;
    out[1] = s;
    out[2] = da;
    out[3] = ds;
    return ITS_OK;
}

/* Each prediction is a*x0 + b*eps at t: velocity (alpha', sigma'), eps (0, 1), x0 (1, 0),
 * score (0, -1/sigma). */
static its_status its_pred_ab(its_pred p, const double v[4], double *a, double *b)
{
    switch (p) {
    case ITS_PRED_VELOCITY: *a = v[2]; *b = v[3]; break;
    case ITS_PRED_EPS: *a = 0; *b = 1; break;
    case ITS_PRED_X0: *a = 1; *b = 0; break;
    case ITS_PRED_SCORE:
        if (!(v[1] > 0))
            return ITS_ERR_NUMERIC;
        *a = 0;
        *b = -1.0 / v[1];
        break;
    default:
        return ITS_ERR_INVALID;
    }
    return (isfinite(*a) && isfinite(*b)) ? ITS_OK : ITS_ERR_NUMERIC;
}

/* With x = alpha x0 + sigma eps and p = a x0 + b eps, D = alpha b - sigma a:
 * x0 = (b x - sigma p)/D, eps = (alpha p - a x)/D, so to = a' x0 + b' eps is
 * ((a' b - b' a)/D) x + ((b' alpha - a' sigma)/D) p. */
its_status its_pred_coeffs(const its_interp *ip, double t, its_pred from, its_pred to, double *cx,
                           double *cp)
{
    if (!cx || !cp || (unsigned)from >= ITS_PRED_COUNT_ || (unsigned)to >= ITS_PRED_COUNT_)
        return ITS_ERR_INVALID;
    double v[4];
    ITS_TRY(its_interp_eval(ip, t, v));
    if (from == to) {
        *cx = 0.0;
        *cp = 1.0;
        return ITS_OK;
    }
    double a, b, a2, b2;
    ITS_TRY(its_pred_ab(from, v, &a, &b));
    ITS_TRY(its_pred_ab(to, v, &a2, &b2));
    double D = v[0] * b - v[1] * a;
    if (!(fabs(D) > 1e-300) || !isfinite(D))
        return ITS_ERR_NUMERIC;
    *cx = (a2 * b - b2 * a) / D;
    *cp = (b2 * v[0] - a2 * v[1]) / D;
    return (isfinite(*cx) && isfinite(*cp)) ? ITS_OK : ITS_ERR_NUMERIC;
}

double its_g_eval(its_g_schedule g, double scale, double t, double sigma_t)
{
    switch (g) {
    case ITS_G_CONSTANT: return scale;
    case ITS_G_SIGMA: return scale * sigma_t;
    case ITS_G_LINEAR: return scale * t;
    case ITS_G_SQUARE: return scale * t * t;
    case ITS_G_SIN: return scale * sin(0.5 * ITS_PI * t);
    default: return 0.0;
    }
}
