/* The analytic Gaussian-mixture model (DESIGN.md §4.4). All math in double. */
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "itscale/gmm.h"
#include "rng/rng.h"

#define ITS_LOG_2PI 1.8378770664093454836

enum { ITS_GMM_VER_NONE = 0, ITS_GMM_VER_LOGPROB, ITS_GMM_VER_QUADRATIC };

struct its_gmm {
    its_ctx *ctx;
    size_t dim, k;
    double *w, *mu, *sd;       /* k, k x dim, k x dim */
    double *work;              /* k x 2 scratch for a single-threaded caller */
    its_interp ip;
    its_pred pred;
    int ver_kind;
    size_t target;
    double *center, qa;
};

static void its_gmm_release(its_ctx *ctx, its_gmm *g)
{
    its_mfree(ctx, g->w);
    its_mfree(ctx, g->mu);
    its_mfree(ctx, g->sd);
    its_mfree(ctx, g->work);
    its_mfree(ctx, g->center);
    its_mfree(ctx, g);
}

its_status its_gmm_create(its_ctx *ctx, size_t dim, size_t k, const double *weights,
                          const double *means, const double *stds, its_gmm **out)
{
    if (!out)
        return its_error(ctx, ITS_ERR_INVALID, "its_gmm_create: out is NULL");
    *out = NULL;
    if (!ctx || !weights || !means || !stds)
        return its_error(ctx, ITS_ERR_INVALID, "its_gmm_create: NULL argument");
    if (dim < 1 || dim > ((size_t)1 << 24) || k < 1 || k > 4096)
        return its_error(ctx, ITS_ERR_INVALID, "its_gmm_create: dim %zu or k %zu out of range",
                         dim, k);
    double wsum = 0;
    for (size_t i = 0; i < k; i++) {
        if (!(weights[i] > 0) || !isfinite(weights[i]))
            return its_error(ctx, ITS_ERR_INVALID, "its_gmm_create: weight %zu is %g", i,
                             weights[i]);
        wsum += weights[i];
    }
    for (size_t i = 0; i < k * dim; i++)
        if (!isfinite(means[i]) || !(stds[i] > 0) || !isfinite(stds[i]))
            return its_error(ctx, ITS_ERR_INVALID,
                             "its_gmm_create: mean or std %zu is not finite/positive", i);
    its_gmm *g = its_calloc(ctx, 1, sizeof(*g));
    if (!g)
        return ITS_ERR_NOMEM;
    g->ctx = ctx;
    g->dim = dim;
    g->k = k;
    if (!(g->w = its_calloc(ctx, k, sizeof(double))) ||
        !(g->mu = its_calloc(ctx, k * dim, sizeof(double))) ||
        !(g->sd = its_calloc(ctx, k * dim, sizeof(double))) ||
        !(g->work = its_calloc(ctx, 2 * k, sizeof(double))) ||
        !(g->center = its_calloc(ctx, dim, sizeof(double)))) {
        its_gmm_release(ctx, g);
        return ITS_ERR_NOMEM;
    }
    for (size_t i = 0; i < k; i++)
        g->w[i] = weights[i] / wsum;
    memcpy(g->mu, means, k * dim * sizeof(double));
    memcpy(g->sd, stds, k * dim * sizeof(double));
    its_interp_init(&g->ip, ITS_INTERP_LINEAR);
    g->pred = ITS_PRED_VELOCITY;
    *out = g;
    return ITS_OK;
}

void its_gmm_free(its_gmm *g)
{
    if (g)
        its_gmm_release(g->ctx, g);
}

size_t its_gmm_dim(const its_gmm *g) { return g ? g->dim : 0; }
size_t its_gmm_components(const its_gmm *g) { return g ? g->k : 0; }
double its_gmm_weight(const its_gmm *g, size_t k) { return (g && k < g->k) ? g->w[k] : NAN; }
const double *its_gmm_mean(const its_gmm *g, size_t k)
{
    return (g && k < g->k) ? g->mu + k * g->dim : NULL;
}
const double *its_gmm_std(const its_gmm *g, size_t k)
{
    return (g && k < g->k) ? g->sd + k * g->dim : NULL;
}

/* logs[k] = log w_k + log N(x; alpha mu_k, alpha^2 s_k^2 + sigma^2); returns log-sum-exp. */
static double its_gmm_logjoint(const its_gmm *g, double a, double s, const double *x, double *logs)
{
    double mx = -INFINITY;
    for (size_t k = 0; k < g->k; k++) {
        const double *mu = g->mu + k * g->dim, *sd = g->sd + k * g->dim;
        double l = log(g->w[k]);
        for (size_t d = 0; d < g->dim; d++) {
            double v = a * a * sd[d] * sd[d] + s * s;
            double r = x[d] - a * mu[d];
            l -= 0.5 * (r * r / v + log(v) + ITS_LOG_2PI);
        }
        logs[k] = l;
        if (l > mx)
            mx = l;
    }
    double z = 0;
    for (size_t k = 0; k < g->k; k++)
        z += exp(logs[k] - mx);
    return mx + log(z);
}

its_status its_gmm_responsibilities(const its_gmm *g, const its_interp *ip, double t,
                                    const double *x, double *resp)
{
    double v[4];
    if (!g || !x || !resp)
        return ITS_ERR_INVALID;
    ITS_TRY(its_interp_eval(ip, t, v));
    double lz = its_gmm_logjoint(g, v[0], v[1], x, resp);
    for (size_t k = 0; k < g->k; k++)
        resp[k] = exp(resp[k] - lz);
    return ITS_OK;
}

its_status its_gmm_logpdf(const its_gmm *g, const its_interp *ip, double t, const double *x,
                          double *out)
{
    double v[4];
    if (!g || !x || !out)
        return ITS_ERR_INVALID;
    ITS_TRY(its_interp_eval(ip, t, v));
    *out = its_gmm_logjoint(g, v[0], v[1], x, g->work);
    return ITS_OK;
}

its_status its_gmm_predict(const its_gmm *g, const its_interp *ip, its_pred pred, double t,
                           const float *x, size_t n, float *out)
{
    double v[4];
    if (!g || !x || !out || (unsigned)pred >= ITS_PRED_COUNT_)
        return ITS_ERR_INVALID;
    ITS_TRY(its_interp_eval(ip, t, v));
    const double a = v[0], s = v[1], da = v[2], ds = v[3];
    if (pred == ITS_PRED_SCORE && !(s > 0))
        return ITS_ERR_NUMERIC;
    double *logs = g->work;
    double xd[64];
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * g->dim;
        float *oi = out + i * g->dim;
        /* responsibilities need all of x: evaluate in double from the float row */
        double mx = -INFINITY;
        for (size_t k = 0; k < g->k; k++) {
            const double *mu = g->mu + k * g->dim, *sd = g->sd + k * g->dim;
            double l = log(g->w[k]);
            for (size_t d = 0; d < g->dim; d++) {
                double var = a * a * sd[d] * sd[d] + s * s;
                double r = (double)xi[d] - a * mu[d];
                l -= 0.5 * (r * r / var + log(var));
            }
            logs[k] = l;
            if (l > mx)
                mx = l;
        }
        double z = 0;
        for (size_t k = 0; k < g->k; k++)
            z += (logs[k] = exp(logs[k] - mx));
        for (size_t k = 0; k < g->k; k++)
            logs[k] /= z;
        for (size_t d0 = 0; d0 < g->dim; d0 += 32) {
            size_t nd = g->dim - d0 < 32 ? g->dim - d0 : 32;
            /* xd[0..nd) = posterior mean x0_hat, xd[32..) = score */
            for (size_t j = 0; j < nd; j++)
                xd[j] = xd[32 + j] = 0;
            for (size_t k = 0; k < g->k; k++) {
                const double *mu = g->mu + k * g->dim + d0, *sd = g->sd + k * g->dim + d0;
                for (size_t j = 0; j < nd; j++) {
                    double var = a * a * sd[j] * sd[j] + s * s;
                    double r = (double)xi[d0 + j] - a * mu[j];
                    xd[j] += logs[k] * (mu[j] + a * sd[j] * sd[j] / var * r);
                    xd[32 + j] -= logs[k] * r / var;
                }
            }
            for (size_t j = 0; j < nd; j++) {
                double x0 = xd[j], sc = xd[32 + j], eps = -s * sc, o;
                switch (pred) {
                case ITS_PRED_VELOCITY: o = da * x0 + ds * eps; break;
                case ITS_PRED_EPS: o = eps; break;
                case ITS_PRED_X0: o = x0; break;
                default: o = sc; break;
                }
                oi[d0 + j] = (float)o;
            }
        }
    }
    return ITS_OK;
}

static int its_gmm_eval_cb(void *user, const float *x, const float *t, size_t n, float *out)
{
    its_gmm *g = user;
    /* rows may carry different times */
    for (size_t i = 0; i < n; i++)
        if (its_gmm_predict(g, &g->ip, g->pred, (double)t[i], x + i * g->dim, 1,
                            out + i * g->dim) != ITS_OK)
            return 1;
    return 0;
}

void its_gmm_bind_model(its_gmm *g, const its_interp *ip, its_pred pred, its_model *m)
{
    if (!g || !m)
        return;
    if (ip)
        g->ip = *ip;
    g->pred = pred;
    its_model_init(m);
    m->dim = g->dim;
    m->pred = pred;
    m->interp = g->ip;
    m->eval = its_gmm_eval_cb;
    m->user = g;
}

/* log gamma_target(x) at t = 0 and its gradient: grad log N_j - sum_k gamma_k grad log N_k. */
static double its_gmm_logprob_row(its_gmm *g, const float *x, float *grad)
{
    double *logs = g->work;
    double mx = -INFINITY;
    for (size_t k = 0; k < g->k; k++) {
        const double *mu = g->mu + k * g->dim, *sd = g->sd + k * g->dim;
        double l = log(g->w[k]);
        for (size_t d = 0; d < g->dim; d++) {
            double r = ((double)x[d] - mu[d]) / sd[d];
            l -= 0.5 * r * r + log(sd[d]);
        }
        logs[k] = l;
        if (l > mx)
            mx = l;
    }
    double z = 0;
    for (size_t k = 0; k < g->k; k++)
        z += exp(logs[k] - mx);
    double lt = logs[g->target] - (mx + log(z));
    if (grad) {
        double *gam = g->work + g->k;
        for (size_t k = 0; k < g->k; k++)
            gam[k] = exp(logs[k] - mx) / z;
        for (size_t d = 0; d < g->dim; d++) {
            double acc = 0;
            for (size_t k = 0; k < g->k; k++) {
                double sdk = g->sd[k * g->dim + d];
                double gk = -((double)x[d] - g->mu[k * g->dim + d]) / (sdk * sdk);
                acc += ((k == g->target) - gam[k]) * gk;
            }
            grad[d] = (float)acc;
        }
    }
    return lt;
}

static double its_gmm_quadratic_row(its_gmm *g, const float *x, float *grad)
{
    double r2 = 0;
    for (size_t d = 0; d < g->dim; d++) {
        double r = (double)x[d] - g->center[d];
        r2 += r * r;
        if (grad)
            grad[d] = (float)(-2.0 * g->qa * r);
    }
    return -g->qa * r2;
}

static int its_gmm_score_cb(void *user, const float *x0, size_t n, float *scores)
{
    its_gmm *g = user;
    for (size_t i = 0; i < n; i++)
        scores[i] = (float)(g->ver_kind == ITS_GMM_VER_LOGPROB
                                ? its_gmm_logprob_row(g, x0 + i * g->dim, NULL)
                                : its_gmm_quadratic_row(g, x0 + i * g->dim, NULL));
    return 0;
}

static int its_gmm_grad_cb(void *user, const float *x0, size_t n, float *grad, float *scores)
{
    its_gmm *g = user;
    for (size_t i = 0; i < n; i++)
        scores[i] = (float)(g->ver_kind == ITS_GMM_VER_LOGPROB
                                ? its_gmm_logprob_row(g, x0 + i * g->dim, grad + i * g->dim)
                                : its_gmm_quadratic_row(g, x0 + i * g->dim, grad + i * g->dim));
    return 0;
}

static void its_gmm_verifier(its_gmm *g, its_verifier *v)
{
    its_verifier_init(v);
    v->score = its_gmm_score_cb;
    v->grad = its_gmm_grad_cb;
    v->user = g;
}

its_status its_gmm_bind_logprob(its_gmm *g, size_t target, its_verifier *v)
{
    if (!g || !v)
        return ITS_ERR_INVALID;
    if (target >= g->k)
        return its_error(g->ctx, ITS_ERR_INVALID, "target component %zu of %zu", target, g->k);
    g->ver_kind = ITS_GMM_VER_LOGPROB;
    g->target = target;
    its_gmm_verifier(g, v);
    return ITS_OK;
}

its_status its_gmm_bind_quadratic(its_gmm *g, const double *center, double a, its_verifier *v)
{
    if (!g || !v || !center || !(a >= 0) || !isfinite(a))
        return ITS_ERR_INVALID;
    g->ver_kind = ITS_GMM_VER_QUADRATIC;
    memcpy(g->center, center, g->dim * sizeof(double));
    g->qa = a;
    its_gmm_verifier(g, v);
    return ITS_OK;
}

/* N(x; mu, s^2) exp(-lambda a |x - c|^2) = Z_k N(x; m', s'^2) with precision
 * 1/s'^2 = 1/s^2 + 2 lambda a, m' = s'^2 (mu/s^2 + 2 lambda a c), and
 * Z_k = prod_d N(c; mu, s^2 + 1/(2 lambda a)) * sqrt(pi / (lambda a)) (a constant shared by all k). */
its_status its_gmm_tilt_quadratic(const its_gmm *g, const double *center, double a, double lambda,
                                  its_gmm **out)
{
    if (!out)
        return ITS_ERR_INVALID;
    *out = NULL;
    if (!g || !center || !(a > 0) || !(lambda > 0))
        return its_error(g ? g->ctx : NULL, ITS_ERR_INVALID, "tilt needs a > 0 and lambda > 0");
    its_ctx *ctx = g->ctx;
    size_t K = g->k, D = g->dim;
    double *w = its_calloc(ctx, K, sizeof(double));
    double *mu = its_calloc(ctx, K * D, sizeof(double));
    double *sd = its_calloc(ctx, K * D, sizeof(double));
    its_status st = ITS_ERR_NOMEM;
    if (w && mu && sd) {
        double p = 2.0 * lambda * a, lmax = -INFINITY;
        for (size_t k = 0; k < K; k++) {
            double lw = log(g->w[k]);
            for (size_t d = 0; d < D; d++) {
                double s2 = g->sd[k * D + d] * g->sd[k * D + d];
                double prec = 1.0 / s2 + p;
                double v = s2 + 1.0 / p;
                double r = center[d] - g->mu[k * D + d];
                lw -= 0.5 * (r * r / v + log(v));
                sd[k * D + d] = sqrt(1.0 / prec);
                mu[k * D + d] = (g->mu[k * D + d] / s2 + p * center[d]) / prec;
            }
            w[k] = lw;
            if (lw > lmax)
                lmax = lw;
        }
        for (size_t k = 0; k < K; k++)
            w[k] = exp(w[k] - lmax);
        st = its_gmm_create(ctx, D, K, w, mu, sd, out);
    }
    its_mfree(ctx, w);
    its_mfree(ctx, mu);
    its_mfree(ctx, sd);
    return st;
}

its_status its_gmm_sample(const its_gmm *g, uint64_t seed, size_t n, float *out, size_t *comp)
{
    if (!g || !out)
        return ITS_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        double u;
        its_noise_key ku = {seed, i, 0x7F000000u};
        its_rng_uniform(&u, 1, &ku, 0);
        size_t k = 0;
        double c = g->w[0];
        while (k + 1 < g->k && u > c)
            c += g->w[++k];
        its_noise_key kz = {seed, i, 0x7E000000u};
        float *row = out + i * g->dim;
        its_randn(row, g->dim, &kz, 0);
        for (size_t d = 0; d < g->dim; d++)
            row[d] = (float)(g->mu[k * g->dim + d] + g->sd[k * g->dim + d] * (double)row[d]);
        if (comp)
            comp[i] = k;
    }
    return ITS_OK;
}
