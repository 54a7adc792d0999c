/* The flow-matching model: velocity u = eps - x0 of x_t = (1 - t) x0 + t eps (rectified flow,
 * Liu et al. 2022; Lipman et al. 2022), an MLP on [x_t, time features, class one-hot]. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void its_flow_train_params_init(its_flow_train_params *p)
{
    if (!p)
        return;
    p->hidden = 256;
    p->layers = 4;
    p->n_freq = 6;
    p->conditional = 0;
    p->epochs = 1500;
    p->batch = 128;
    p->lr = 2e-3;
    p->seed = 1;
    p->log_every = 100;
}

/* One input row: x (64), sin and cos of (pi/2) 2^k t, then the class one-hot (cls < 0: zeros). */
static void flow_features(const its_mlp *m, float *row, const float *x, double t, int cls)
{
    memcpy(row, x, ITS_DIGITS_DIM * sizeof(float));
    float *f = row + ITS_DIGITS_DIM;
    double w = 1.5707963267948966;
    for (int k = 0; k < m->n_freq; k++, w *= 2.0) {
        f[k] = (float)sin(w * t);
        f[m->n_freq + k] = (float)cos(w * t);
    }
    float *c = f + 2 * m->n_freq;
    for (int k = 0; k < m->n_class; k++)
        c[k] = k == cls ? 1.0f : 0.0f;
}

/* Draws (t, eps) for data row x0 and writes the input row and the target u = eps - x0. */
static void flow_draw(const its_mlp *m, its_digits_rng *r, const float *x0, int cls, float *in,
                      float *target)
{
    double t = its_digits_rng_uniform(r);
    float xt[ITS_DIGITS_DIM];
    for (int j = 0; j < ITS_DIGITS_DIM; j++) {
        float eps = (float)its_digits_rng_normal(r);
        xt[j] = (float)(1.0 - t) * x0[j] + (float)t * eps;
        target[j] = eps - x0[j];
    }
    flow_features(m, in, xt, t, cls);
}

static its_status flow_check_data(const its_digits_data *d, char *err, size_t errcap)
{
    if (!d || !d->x || !d->y || d->n == 0)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "flow: no training data");
    return ITS_OK;
}

its_status its_flow_train(const its_digits_data *d, const its_flow_train_params *p, its_mlp *out,
                          double *final_loss, FILE *log, char *err, size_t errcap)
{
    ITS_TRY_DG(flow_check_data(d, err, errcap));
    if (!p || !out)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "flow: NULL argument");
    if (p->layers < 1 || p->layers > ITS_MLP_MAX_LAYERS || p->hidden < 1 ||
        p->hidden > ITS_MLP_MAX_WIDTH || p->epochs < 1 || p->batch < 1 || p->batch > 65536 ||
        !(p->lr > 0) || p->n_freq < 0 || p->n_freq > 16)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                           "flow: layers 1..%d, hidden 1..%d, epochs >= 1, batch 1..65536, "
                           "lr > 0, n_freq 0..16",
                           ITS_MLP_MAX_LAYERS, ITS_MLP_MAX_WIDTH);
    int n_class = p->conditional ? ITS_DIGITS_CLASSES : 0;
    int dims[ITS_MLP_MAX_LAYERS + 1];
    dims[0] = ITS_DIGITS_DIM + 2 * p->n_freq + n_class;
    for (int l = 1; l < p->layers; l++)
        dims[l] = p->hidden;
    dims[p->layers] = ITS_DIGITS_DIM;
    its_mlp m;
    ITS_TRY_DG(its_mlp_create(&m, ITS_MLP_FLOW, p->layers, dims, p->n_freq, n_class, p->seed,
                              err, errcap));
    size_t B = (size_t)p->batch;
    its_mlp_work w;
    its_adam adam;
    memset(&adam, 0, sizeof(adam));
    its_status s = its_mlp_work_create(&m, B, &w, err, errcap);
    if (s == ITS_OK)
        s = its_adam_create(&adam, m.n_params, err, errcap);
    float *grad = malloc(m.n_params * sizeof(float));
    float *target = malloc(B * ITS_DIGITS_DIM * sizeof(float));
    float *dout = malloc(B * ITS_DIGITS_DIM * sizeof(float));
    size_t *perm = malloc(d->n * sizeof(size_t));
    if (s == ITS_OK && (!grad || !target || !dout || !perm))
        s = its_dg_fail(err, errcap, ITS_ERR_NOMEM, "flow: out of memory");
    if (s != ITS_OK) {
        free(grad), free(target), free(dout), free(perm);
        its_adam_free(&adam);
        its_mlp_work_free(&w);
        its_mlp_free(&m);
        return s;
    }
    /* One thread: OpenBLAS then uses one fixed kernel and reduction order, run after run. */
    int threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    its_digits_rng r;
    its_digits_rng_seed(&r, p->seed ^ 0x5851f42d4c957f2dull);
    for (size_t i = 0; i < d->n; i++)
        perm[i] = i;
    size_t per_epoch = (d->n + B - 1) / B;
    double total = (double)per_epoch * p->epochs, step = 0, last = 0;
    for (int ep = 0; ep < p->epochs; ep++) {
        its_digits_shuffle(&r, perm, d->n);
        double sum = 0;
        for (size_t b0 = 0; b0 < d->n; b0 += B) {
            size_t nb = d->n - b0 < B ? d->n - b0 : B;
            for (size_t k = 0; k < nb; k++) {
                size_t i = perm[b0 + k];
                int cls = -1;
                if (n_class && its_digits_rng_uniform(&r) >= 0.1) /* 10% unconditional */
                    cls = d->y[i];
                flow_draw(&m, &r, d->x + i * ITS_DIGITS_DIM, cls, w.h[0] + k * (size_t)dims[0],
                          target + k * ITS_DIGITS_DIM);
            }
            its_mlp_forward(&m, &w, nb);
            const float *o = w.h[p->layers];
            double bl = 0, scale = 2.0 / ((double)nb * ITS_DIGITS_DIM);
            for (size_t k = 0; k < nb * ITS_DIGITS_DIM; k++) {
                double e = (double)o[k] - target[k];
                bl += e * e;
                dout[k] = (float)(scale * e);
            }
            sum += bl / ITS_DIGITS_DIM;
            memset(grad, 0, m.n_params * sizeof(float));
            its_mlp_backward(&m, &w, nb, dout, grad, NULL);
            double lr = p->lr * 0.5 * (1.0 + cos(3.141592653589793 * step / total)); /* cosine */
            its_adam_step(&adam, m.params, grad, lr);
            step += 1;
        }
        last = sum / (double)d->n;
        if (!isfinite(last)) {
            s = its_dg_fail(err, errcap, ITS_ERR_NUMERIC, "flow: loss diverged at epoch %d",
                            ep + 1);
            break;
        }
        if (log && p->log_every > 0 && ((ep + 1) % p->log_every == 0 || ep == 0))
            fprintf(log, "flow: epoch %d/%d loss %.5f\n", ep + 1, p->epochs, last), fflush(log);
    }
    openblas_set_num_threads(threads);
    free(grad), free(target), free(dout), free(perm);
    its_adam_free(&adam);
    its_mlp_work_free(&w);
    if (s != ITS_OK) {
        its_mlp_free(&m);
        return s;
    }
    if (final_loss)
        *final_loss = last;
    *out = m;
    return ITS_OK;
}

its_status its_flow_loss(const its_mlp *m, const its_digits_data *d, uint64_t seed, int n_draws,
                         double *loss, char *err, size_t errcap)
{
    ITS_TRY_DG(flow_check_data(d, err, errcap));
    if (!m || m->kind != ITS_MLP_FLOW || !loss || n_draws < 1)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "flow: loss needs a flow model");
    size_t B = 256;
    its_mlp_work w;
    ITS_TRY_DG(its_mlp_work_create(m, B, &w, err, errcap));
    float *target = malloc(B * ITS_DIGITS_DIM * sizeof(float));
    if (!target) {
        its_mlp_work_free(&w);
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "flow: out of memory");
    }
    its_digits_rng r;
    its_digits_rng_seed(&r, seed);
    double sum = 0;
    for (int pass = 0; pass < n_draws; pass++) {
        for (size_t b0 = 0; b0 < d->n; b0 += B) {
            size_t nb = d->n - b0 < B ? d->n - b0 : B;
            for (size_t k = 0; k < nb; k++)
                flow_draw(m, &r, d->x + (b0 + k) * ITS_DIGITS_DIM, m->n_class ? d->y[b0 + k] : -1,
                          w.h[0] + k * (size_t)m->dims[0], target + k * ITS_DIGITS_DIM);
            its_mlp_forward(m, &w, nb);
            const float *o = w.h[m->n_layers];
            for (size_t k = 0; k < nb * ITS_DIGITS_DIM; k++) {
                double e = (double)o[k] - target[k];
                sum += e * e;
            }
        }
    }
    *loss = sum / ((double)d->n * n_draws * ITS_DIGITS_DIM);
    free(target);
    its_mlp_work_free(&w);
    return ITS_OK;
}

static int flow_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    its_flow_model *fm = user;
    const its_mlp *m = fm->mlp;
    size_t cap = fm->work.cap, d0 = (size_t)m->dims[0];
    for (size_t r0 = 0; r0 < n; r0 += cap) {
        size_t nb = n - r0 < cap ? n - r0 : cap;
        for (size_t k = 0; k < nb; k++)
            flow_features(m, fm->work.h[0] + k * d0, x + (r0 + k) * ITS_DIGITS_DIM, t[r0 + k],
                          fm->cond_class);
        its_mlp_forward(m, &fm->work, nb);
        memcpy(out + r0 * ITS_DIGITS_DIM, fm->work.h[m->n_layers],
               nb * ITS_DIGITS_DIM * sizeof(float));
    }
    return 0;
}

its_status its_flow_model_create(its_flow_model *fm, const its_mlp *mlp, size_t max_batch,
                                 its_model *out, char *err, size_t errcap)
{
    if (!fm || !mlp || !out || mlp->kind != ITS_MLP_FLOW)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "flow: model needs a flow MLP");
    memset(fm, 0, sizeof(*fm));
    fm->mlp = mlp;
    fm->cond_class = -1;
    ITS_TRY_DG(its_mlp_work_create(mlp, max_batch, &fm->work, err, errcap));
    /* filled field by field (the documented defaults of its_model_init and its_interp_init),
     * so its_digits needs no itscale symbol and links beside the shared or static library */
    memset(out, 0, sizeof(*out));
    out->version = ITS_MODEL_V1;
    out->dim = ITS_DIGITS_DIM;
    out->pred = ITS_PRED_VELOCITY;
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

void its_flow_model_free(its_flow_model *fm)
{
    if (!fm)
        return;
    its_mlp_work_free(&fm->work);
    fm->mlp = NULL;
}
