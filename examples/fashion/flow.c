/* The flow-matching model on 28 x 28 images: the linear interpolant x_t = (1 - t) x0 + t eps
 * (rectified flow, Liu et al. 2022; flow matching, Lipman et al. 2022), an MLP on
 * [x_t, time features] that predicts the clean image x0 (the velocity is then
 * u = (x_t - x0_hat) / t), trained by minibatch Adam on the squared error, with a running
 * average of the weights (the returned model) as is usual for diffusion models.
 *
 * Why x0 and not u: an MLP that predicts u = eps - x0 must copy the noise in x_t to its output
 * with gain about one; this one did so poorly, and 20 Euler steps left speckle over every
 * sample. Predicting x0 needs no copy (the interpolant's algebra supplies it), and the samples
 * come out clean. The loss |x0_hat - x0|^2 = t^2 |u_hat - u|^2 weights late (noisy) times
 * more than velocity matching does. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

void its_fashion_flow_params_init(its_fashion_flow_params *p)
{
    if (!p)
        return;
    p->hidden = 1024;
    p->layers = 4;
    p->n_freq = 8;
    p->epochs = 12;
    p->batch = 128;
    p->lr = 1e-3;
    p->warmup = 300;
    p->ema = 0.999;
    p->seed = 1;
}

/* ---- progress bar ---- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fmt_dur(char *b, size_t cap, double s)
{
    if (!(s >= 0) || s > 1e7)
        snprintf(b, cap, "--");
    else if (s >= 3600)
        snprintf(b, cap, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
    else
        snprintf(b, cap, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
}

void its_fashion_progress_start(its_fashion_progress *p, FILE *log, const char *what)
{
    p->log = log;
    p->what = what;
    p->t0 = mono_s();
    p->last_draw = -1;
    p->last_pct = -1;
}

static void progress_draw(its_fashion_progress *p, size_t done, size_t total, double loss,
                          int final)
{
    double el = mono_s() - p->t0, frac = total ? (double)done / (double)total : 1.0;
    char e1[32], e2[32], bar[31];
    int fill = (int)(frac * 30);
    for (int i = 0; i < 30; i++)
        bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
    bar[30] = 0;
    fmt_dur(e1, sizeof(e1), el);
    fmt_dur(e2, sizeof(e2), done ? el * (1.0 - frac) / frac : -1);
    int tty = isatty(fileno(p->log));
    fprintf(p->log, "%s%s [%s] %3d%% %zu/%zu loss %.4f elapsed %s ETA %s%s", tty ? "\r" : "",
            p->what, bar, (int)(frac * 100), done, total, loss, e1, final ? "0m00s" : e2,
            tty && !final ? "" : "\n");
    fflush(p->log);
}

void its_fashion_progress_step(its_fashion_progress *p, size_t done, size_t total, double loss)
{
    if (!p->log)
        return;
    double now = mono_s();
    int pct = total ? (int)(100.0 * (double)done / (double)total) : 100;
    int tty = isatty(fileno(p->log));
    /* a terminal redraws twice a second; a file gets a line every 5% */
    if (tty ? now - p->last_draw < 0.5 : pct / 5 == p->last_pct / 5)
        return;
    p->last_draw = now;
    p->last_pct = pct;
    progress_draw(p, done, total, loss, 0);
}

void its_fashion_progress_end(its_fashion_progress *p, size_t total, double loss)
{
    if (p->log)
        progress_draw(p, total, total, loss, 1);
}

/* ---- features, loss ---- */

/* One input row: x (784), then sin and cos of (pi/2) 2^k t, k < n_freq. */
static void flow_features(const its_mlp *m, float *row, const float *x, double t)
{
    memcpy(row, x, ITS_FASHION_DIM * sizeof(float));
    float *f = row + ITS_FASHION_DIM;
    double w = 1.5707963267948966;
    for (int k = 0; k < m->n_freq; k++, w *= 2.0) {
        f[k] = (float)sin(w * t);
        f[m->n_freq + k] = (float)cos(w * t);
    }
}

double its_fashion_flow_batch_loss(const its_mlp *m, its_mlp_work *w, const float *x0,
                                   const float *t, const float *eps, size_t n, float *grad)
{
    const size_t D = ITS_FASHION_DIM, d0 = (size_t)m->dims[0];
    float xt[ITS_FASHION_DIM];
    for (size_t k = 0; k < n; k++) {
        const float *a = x0 + k * D, *e = eps + k * D;
        float tk = t[k];
        for (size_t j = 0; j < D; j++)
            xt[j] = (1.0f - tk) * a[j] + tk * e[j];
        flow_features(m, w->h[0] + k * d0, xt, tk);
    }
    its_mlp_forward(m, w, n);
    float *o = w->h[m->n_layers];
    /* d/do of the mean of (o - x0)^2 over n D terms, written over the last layer's
     * pre-activations (o is a copy of them; backward reads only the hidden layers' z) */
    float *dout = w->z[m->n_layers - 1];
    double sum = 0, scale = 2.0 / ((double)n * (double)D);
    for (size_t i = 0; i < n * D; i++) {
        double e = (double)o[i] - (double)x0[i];
        sum += e * e;
        dout[i] = (float)(scale * e);
    }
    if (grad)
        its_mlp_backward(m, w, n, dout, grad, NULL);
    return sum / ((double)n * (double)D);
}

its_status its_fashion_flow_train(const its_fashion_data *d, const its_fashion_flow_params *p,
                                  its_mlp *out, double *final_loss, FILE *log, char *err,
                                  size_t errcap)
{
    if (!d || !d->x || d->n == 0)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "flow: no training data");
    if (!p || !out)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "flow: NULL argument");
    if (p->layers < 2 || p->layers > ITS_MLP_MAX_LAYERS || p->hidden < 1 ||
        p->hidden > ITS_MLP_MAX_WIDTH || p->epochs < 1 || p->batch < 1 || p->batch > 65536 ||
        !(p->lr > 0) || p->n_freq < 0 || p->n_freq > 16 || p->warmup < 0 || !(p->ema >= 0) ||
        !(p->ema < 1))
        return its_fm_fail(err, errcap, ITS_ERR_INVALID,
                           "flow: layers 2..%d, hidden 1..%d, epochs >= 1, batch 1..65536, "
                           "lr > 0, n_freq 0..16, warmup >= 0, ema in [0, 1)",
                           ITS_MLP_MAX_LAYERS, ITS_MLP_MAX_WIDTH);
    int dims[ITS_MLP_MAX_LAYERS + 1];
    dims[0] = ITS_FASHION_DIM + 2 * p->n_freq;
    for (int l = 1; l < p->layers; l++)
        dims[l] = p->hidden;
    dims[p->layers] = ITS_FASHION_DIM;
    its_mlp m, avg;
    memset(&avg, 0, sizeof(avg));
    ITS_TRY_FM(its_fashion_net_create(&m, ITS_FASHION_FLOW, p->layers, dims, p->n_freq, 1,
                                      p->seed, err, errcap));
    const size_t B = (size_t)p->batch, D = ITS_FASHION_DIM;
    its_mlp_work w;
    its_adam adam;
    memset(&w, 0, sizeof(w));
    memset(&adam, 0, sizeof(adam));
    its_status s = its_mlp_work_create(&m, B, &w, err, errcap);
    if (s == ITS_OK)
        s = its_adam_create(&adam, m.n_params, err, errcap);
    if (s == ITS_OK)
        s = its_fashion_net_create(&avg, ITS_FASHION_FLOW, p->layers, dims, p->n_freq, 1, p->seed,
                                   err, errcap);
    float *grad = malloc(m.n_params * sizeof(float));
    float *x0 = malloc(B * D * sizeof(float)), *eps = malloc(B * D * sizeof(float));
    float *t = malloc(B * sizeof(float));
    size_t *perm = malloc(d->n * sizeof(size_t));
    if (s == ITS_OK && (!grad || !x0 || !eps || !t || !perm))
        s = its_fm_fail(err, errcap, ITS_ERR_NOMEM, "flow: out of memory");
    if (s != ITS_OK)
        goto done;
    /* One thread: OpenBLAS then uses one fixed kernel and reduction order, run after run. */
    int threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    its_digits_rng r;
    its_digits_rng_seed(&r, p->seed ^ 0x5851f42d4c957f2dull);
    for (size_t i = 0; i < d->n; i++)
        perm[i] = i;
    memcpy(avg.params, m.params, m.n_params * sizeof(float));
    size_t per_epoch = (d->n + B - 1) / B, total = per_epoch * (size_t)p->epochs, step = 0;
    double last = 0;
    its_fashion_progress pg;
    its_fashion_progress_start(&pg, log, "flow");
    for (int ep = 0; ep < p->epochs && s == ITS_OK; ep++) {
        its_digits_shuffle(&r, perm, d->n);
        double sum = 0, run = 0;
        for (size_t b0 = 0; b0 < d->n; b0 += B) {
            size_t nb = d->n - b0 < B ? d->n - b0 : B;
            for (size_t k = 0; k < nb; k++) {
                memcpy(x0 + k * D, d->x + perm[b0 + k] * D, D * sizeof(float));
                t[k] = (float)its_digits_rng_uniform(&r);
                for (size_t j = 0; j < D; j++)
                    eps[k * D + j] = (float)its_digits_rng_normal(&r);
            }
            memset(grad, 0, m.n_params * sizeof(float));
            double bl = its_fashion_flow_batch_loss(&m, &w, x0, t, eps, nb, grad);
            sum += bl * (double)nb;
            run = step < 50 ? bl : 0.98 * run + 0.02 * bl;
            double lr = step < (size_t)p->warmup
                            ? p->lr * (double)(step + 1) / (double)p->warmup
                            : p->lr * 0.5 *
                                  (1.0 + cos(3.141592653589793 * (double)(step - (size_t)p->warmup) /
                                             (double)(total > (size_t)p->warmup
                                                          ? total - (size_t)p->warmup
                                                          : 1)));
            its_adam_step(&adam, m.params, grad, lr);
            /* running average, with the usual short-horizon start (decay min(ema, (1+k)/(10+k))) */
            float dec = (float)fmin(p->ema, (1.0 + (double)step) / (10.0 + (double)step));
            for (size_t i = 0; i < m.n_params; i++)
                avg.params[i] = dec * avg.params[i] + (1.0f - dec) * m.params[i];
            step++;
            its_fashion_progress_step(&pg, step, total, run);
        }
        last = sum / (double)d->n;
        if (!isfinite(last))
            s = its_fm_fail(err, errcap, ITS_ERR_NUMERIC, "flow: loss diverged at epoch %d",
                            ep + 1);
    }
    if (s == ITS_OK)
        its_fashion_progress_end(&pg, total, last);
    openblas_set_num_threads(threads);
done:
    free(grad), free(x0), free(eps), free(t), free(perm);
    its_adam_free(&adam);
    its_mlp_work_free(&w);
    its_mlp_free(&m);
    if (s != ITS_OK) {
        its_mlp_free(&avg);
        return s;
    }
    if (final_loss)
        *final_loss = last;
    *out = avg; /* equal to the last weights when ema is 0 (decay 0 copies) */
    return ITS_OK;
}

/* ---- the model callback ---- */

static int flow_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    its_fashion_flow_model *fm = user;
    const its_mlp *m = fm->mlp;
    size_t cap = fm->work.cap, d0 = (size_t)m->dims[0];
    for (size_t r0 = 0; r0 < n; r0 += cap) {
        size_t nb = n - r0 < cap ? n - r0 : cap;
        for (size_t k = 0; k < nb; k++)
            flow_features(m, fm->work.h[0] + k * d0, x + (r0 + k) * ITS_FASHION_DIM, t[r0 + k]);
        its_mlp_forward(m, &fm->work, nb);
        memcpy(out + r0 * ITS_FASHION_DIM, fm->work.h[m->n_layers],
               nb * ITS_FASHION_DIM * sizeof(float));
    }
    return 0;
}

its_status its_fashion_flow_model_create(its_fashion_flow_model *fm, const its_mlp *mlp,
                                         size_t max_batch, its_model *out, char *err,
                                         size_t errcap)
{
    if (!fm || !mlp || !out || mlp->kind != ITS_MLP_FLOW ||
        mlp->dims[mlp->n_layers] != ITS_FASHION_DIM)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "flow: model needs a fashion flow net");
    memset(fm, 0, sizeof(*fm));
    fm->mlp = mlp;
    ITS_TRY_FM(its_mlp_work_create(mlp, max_batch, &fm->work, err, errcap));
    /* filled field by field (the documented defaults of its_model_init and its_interp_init),
     * so this library needs no itscale symbol and links beside the shared or static library */
    memset(out, 0, sizeof(*out));
    out->version = ITS_MODEL_V1;
    out->dim = ITS_FASHION_DIM;
    out->pred = ITS_PRED_X0;
    out->interp.kind = ITS_INTERP_LINEAR;
    out->interp.beta_min = 0.1;
    out->interp.beta_max = 20.0;
    out->interp.sigma_min = 0.002;
    out->interp.sigma_max = 80.0;
    out->interp.cosine_s = 0.008;
    out->max_batch = max_batch;
    out->thread_safe = 0; /* one set of activations */
    out->eval = flow_eval;
    out->user = fm;
    return ITS_OK;
}

void its_fashion_flow_model_free(its_fashion_flow_model *fm)
{
    if (!fm)
        return;
    its_mlp_work_free(&fm->work);
    fm->mlp = NULL;
}

its_status its_fashion_flow_sample(const its_mlp *flow, size_t n, int steps, uint64_t seed,
                                   float *out, char *err, size_t errcap)
{
    if (!flow || !out || n == 0 || steps < 1)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "flow: sample needs n >= 1, steps >= 1");
    its_fashion_flow_model fm;
    its_model m;
    size_t cap = n < 64 ? n : 64;
    ITS_TRY_FM(its_fashion_flow_model_create(&fm, flow, cap, &m, err, errcap));
    float *u = malloc(n * ITS_FASHION_DIM * sizeof(float)), *t = malloc(n * sizeof(float));
    if (!u || !t) {
        free(u), free(t);
        its_fashion_flow_model_free(&fm);
        return its_fm_fail(err, errcap, ITS_ERR_NOMEM, "flow: out of memory");
    }
    its_digits_rng r;
    its_digits_rng_seed(&r, seed);
    for (size_t i = 0; i < n * ITS_FASHION_DIM; i++)
        out[i] = (float)its_digits_rng_normal(&r);
    /* Euler from t = 1 (noise) to t = 0 (data): dx/dt = u = (x - x0_hat) / t */
    for (int k = 0; k < steps; k++) {
        double tk = 1.0 - (double)k / steps, dt = 1.0 / steps;
        for (size_t i = 0; i < n; i++)
            t[i] = (float)tk;
        m.eval(m.user, out, t, n, u); /* x0_hat */
        for (size_t i = 0; i < n * ITS_FASHION_DIM; i++)
            out[i] -= (float)(dt / tk) * (out[i] - u[i]);
    }
    free(u), free(t);
    its_fashion_flow_model_free(&fm);
    return ITS_OK;
}
