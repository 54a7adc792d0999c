/* Classifiers on 28 x 28 images: SiLU MLPs on the pixels or on 2 x 2 block means, trained by
 * minibatch Adam on cross-entropy; the verifier callback log p(target | x0) with its input
 * gradient; the evaluator's features for the Frechet distance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void its_fashion_verifier_params(its_fashion_clf_params *p)
{
    memset(p, 0, sizeof(*p));
    p->pool = 1;
    p->n_hidden = 1;
    p->hidden[0] = 256;
    p->epochs = 6;
    p->batch = 128;
    p->lr = 2e-3;
    p->l2 = 1e-4;
    p->seed = 11;
}

void its_fashion_evaluator_params(its_fashion_clf_params *p)
{
    memset(p, 0, sizeof(*p));
    p->pool = 2;
    p->n_hidden = 2;
    p->hidden[0] = 512;
    p->hidden[1] = 128;
    p->epochs = 8;
    p->batch = 128;
    p->lr = 2e-3;
    p->l2 = 1e-4;
    p->seed = 23;
}

/* 2 x 2 block means of one 28 x 28 image into 14 x 14 (pool 2), or a copy (pool 1). */
static void pool_in(int pool, const float *x, float *in)
{
    if (pool == 1) {
        memcpy(in, x, ITS_FASHION_DIM * sizeof(float));
        return;
    }
    const int S = ITS_FASHION_SIDE, H = S / 2;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < H; j++) {
            const float *a = x + (2 * i) * S + 2 * j;
            in[i * H + j] = 0.25f * (a[0] + a[1] + a[S] + a[S + 1]);
        }
}

/* The adjoint of pool_in: spreads d/d(in) back onto the pixels. */
static void pool_back(int pool, const float *din, float *dx)
{
    if (pool == 1) {
        memcpy(dx, din, ITS_FASHION_DIM * sizeof(float));
        return;
    }
    const int S = ITS_FASHION_SIDE, H = S / 2;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < H; j++) {
            float g = 0.25f * din[i * H + j];
            float *a = dx + (2 * i) * S + 2 * j;
            a[0] = a[1] = a[S] = a[S + 1] = g;
        }
}

/* log-softmax of one row of k logits into lp; returns the argmax. */
static int log_softmax(const float *z, int k, double *lp)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (z[j] > z[best])
            best = j;
    double mx = z[best], s = 0;
    for (int j = 0; j < k; j++)
        s += exp((double)z[j] - mx);
    double lse = mx + log(s);
    for (int j = 0; j < k; j++)
        lp[j] = (double)z[j] - lse;
    return best;
}

its_status its_fashion_clf_train(const its_fashion_data *d, const its_fashion_clf_params *p,
                                 its_mlp *out, double *final_loss, FILE *log, char *err,
                                 size_t errcap)
{
    if (!d || !d->x || !d->y || d->n == 0 || !p || !out)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "classifier: no training data");
    int ok = (p->pool == 1 || p->pool == 2) && p->n_hidden >= 0 && p->n_hidden <= 3 &&
             p->epochs >= 1 && p->batch >= 1 && p->batch <= 65536 && p->lr > 0 && p->l2 >= 0;
    for (int l = 0; ok && l < p->n_hidden; l++)
        ok = p->hidden[l] >= 1 && p->hidden[l] <= ITS_MLP_MAX_WIDTH;
    if (!ok)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID,
                           "classifier: pool 1 or 2, 0..3 hidden layers of 1..%d, epochs >= 1, "
                           "batch 1..65536, lr > 0, l2 >= 0",
                           ITS_MLP_MAX_WIDTH);
    const int K = ITS_FASHION_CLASSES, L = p->n_hidden + 1;
    int dims[ITS_MLP_MAX_LAYERS + 1];
    dims[0] = ITS_FASHION_DIM / (p->pool * p->pool);
    for (int l = 0; l < p->n_hidden; l++)
        dims[l + 1] = p->hidden[l];
    dims[L] = K;
    its_mlp m;
    ITS_TRY_FM(its_fashion_net_create(&m, ITS_FASHION_CLASSIFIER, L, dims, 0, p->pool, p->seed,
                                      err, errcap));
    size_t B = (size_t)p->batch;
    its_mlp_work w;
    its_adam adam;
    memset(&w, 0, sizeof(w));
    memset(&adam, 0, sizeof(adam));
    its_status s = its_mlp_work_create(&m, B, &w, err, errcap);
    if (s == ITS_OK)
        s = its_adam_create(&adam, m.n_params, err, errcap);
    float *grad = malloc(m.n_params * sizeof(float));
    float *dout = malloc(B * (size_t)K * sizeof(float));
    size_t *perm = malloc(d->n * sizeof(size_t));
    if (s == ITS_OK && (!grad || !dout || !perm))
        s = its_fm_fail(err, errcap, ITS_ERR_NOMEM, "classifier: out of memory");
    if (s != ITS_OK) {
        free(grad), free(dout), free(perm);
        its_adam_free(&adam);
        its_mlp_work_free(&w);
        its_mlp_free(&m);
        return s;
    }
    int threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    its_digits_rng r;
    its_digits_rng_seed(&r, p->seed ^ 0x2545f4914f6cdd1dull);
    for (size_t i = 0; i < d->n; i++)
        perm[i] = i;
    size_t per_epoch = (d->n + B - 1) / B, total = per_epoch * (size_t)p->epochs, step = 0;
    double last = 0, run = 0;
    its_fashion_progress pg;
    its_fashion_progress_start(&pg, log, p->pool == 1 ? "verifier " : "evaluator");
    for (int ep = 0; ep < p->epochs; ep++) {
        its_digits_shuffle(&r, perm, d->n);
        double sum = 0;
        for (size_t b0 = 0; b0 < d->n; b0 += B) {
            size_t nb = d->n - b0 < B ? d->n - b0 : B;
            for (size_t k = 0; k < nb; k++)
                pool_in(p->pool, d->x + perm[b0 + k] * ITS_FASHION_DIM,
                        w.h[0] + k * (size_t)dims[0]);
            its_mlp_forward(&m, &w, nb);
            double bl = 0;
            for (size_t k = 0; k < nb; k++) {
                double lp[ITS_FASHION_CLASSES];
                int y = d->y[perm[b0 + k]];
                log_softmax(w.h[L] + k * (size_t)K, K, lp);
                bl -= lp[y];
                for (int j = 0; j < K; j++) /* d(-log p_y)/dz = softmax - onehot */
                    dout[k * (size_t)K + (size_t)j] = (float)((exp(lp[j]) - (j == y)) / (double)nb);
            }
            sum += bl;
            run = step < 20 ? bl / (double)nb : 0.95 * run + 0.05 * bl / (double)nb;
            memset(grad, 0, m.n_params * sizeof(float));
            its_mlp_backward(&m, &w, nb, dout, grad, NULL);
            for (int l = 0; l < L; l++) { /* weight decay on W only */
                size_t off = (size_t)(m.w[l] - m.params), nw = (size_t)dims[l + 1] * (size_t)dims[l];
                for (size_t i = 0; i < nw; i++)
                    grad[off + i] += (float)p->l2 * m.params[off + i];
            }
            double lr = p->lr * 0.5 * (1.0 + cos(3.141592653589793 * (double)step / (double)total));
            its_adam_step(&adam, m.params, grad, lr);
            step++;
            its_fashion_progress_step(&pg, step, total, run);
        }
        last = sum / (double)d->n;
    }
    if (isfinite(last))
        its_fashion_progress_end(&pg, total, last);
    openblas_set_num_threads(threads);
    free(grad), free(dout), free(perm);
    its_adam_free(&adam);
    its_mlp_work_free(&w);
    if (!isfinite(last)) {
        its_mlp_free(&m);
        return its_fm_fail(err, errcap, ITS_ERR_NUMERIC, "classifier: training diverged");
    }
    if (final_loss)
        *final_loss = last;
    *out = m;
    return ITS_OK;
}

its_status its_fashion_clf_create(its_fashion_clf *c, const its_mlp *mlp, size_t cap, int target,
                                  char *err, size_t errcap)
{
    if (!c || !mlp || mlp->kind != ITS_MLP_CLASSIFIER || mlp->n_class != ITS_FASHION_CLASSES ||
        mlp->dims[mlp->n_layers] != ITS_FASHION_CLASSES)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "classifier: needs a fashion classifier");
    int pool = its_fashion_net_pool(mlp);
    if ((pool != 1 && pool != 2) || mlp->dims[0] != ITS_FASHION_DIM / (pool * pool))
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "classifier: input shape %d, pool %d",
                           mlp->dims[0], pool);
    if (target < 0 || target >= ITS_FASHION_CLASSES)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "classifier: target %d outside 0..%d",
                           target, ITS_FASHION_CLASSES - 1);
    memset(c, 0, sizeof(*c));
    ITS_TRY_FM(its_mlp_work_create(mlp, cap, &c->work, err, errcap));
    c->dlogit = malloc(cap * ITS_FASHION_CLASSES * sizeof(float));
    if (!c->dlogit) {
        its_mlp_work_free(&c->work);
        return its_fm_fail(err, errcap, ITS_ERR_NOMEM, "classifier: out of memory");
    }
    c->mlp = mlp;
    c->pool = pool;
    c->target = target;
    return ITS_OK;
}

void its_fashion_clf_free(its_fashion_clf *c)
{
    if (!c)
        return;
    its_mlp_work_free(&c->work);
    free(c->dlogit);
    memset(c, 0, sizeof(*c));
}

static void clf_forward(its_fashion_clf *c, const float *x, size_t nb)
{
    size_t d0 = (size_t)c->mlp->dims[0];
    for (size_t k = 0; k < nb; k++)
        pool_in(c->pool, x + k * ITS_FASHION_DIM, c->work.h[0] + k * d0);
    its_mlp_forward(c->mlp, &c->work, nb);
}

void its_fashion_clf_logp(its_fashion_clf *c, const float *x, size_t n, float *logp, int *cls)
{
    const int K = ITS_FASHION_CLASSES, L = c->mlp->n_layers;
    for (size_t r0 = 0; r0 < n; r0 += c->work.cap) {
        size_t nb = n - r0 < c->work.cap ? n - r0 : c->work.cap;
        clf_forward(c, x + r0 * ITS_FASHION_DIM, nb);
        for (size_t k = 0; k < nb; k++) {
            double lp[ITS_FASHION_CLASSES];
            int best = log_softmax(c->work.h[L] + k * (size_t)K, K, lp);
            if (logp)
                logp[r0 + k] = (float)lp[c->target];
            if (cls)
                cls[r0 + k] = best;
        }
    }
}

void its_fashion_clf_logp_grad(its_fashion_clf *c, const float *x, size_t n, float *grad,
                               float *logp)
{
    const int K = ITS_FASHION_CLASSES, L = c->mlp->n_layers;
    size_t d0 = (size_t)c->mlp->dims[0];
    for (size_t r0 = 0; r0 < n; r0 += c->work.cap) {
        size_t nb = n - r0 < c->work.cap ? n - r0 : c->work.cap;
        clf_forward(c, x + r0 * ITS_FASHION_DIM, nb);
        for (size_t k = 0; k < nb; k++) {
            double lp[ITS_FASHION_CLASSES];
            log_softmax(c->work.h[L] + k * (size_t)K, K, lp);
            if (logp)
                logp[r0 + k] = (float)lp[c->target];
            for (int j = 0; j < K; j++) /* d log p_y / dz = onehot - softmax */
                c->dlogit[k * (size_t)K + (size_t)j] = (float)((j == c->target) - exp(lp[j]));
        }
        if (c->pool == 1) {
            its_mlp_backward(c->mlp, &c->work, nb, c->dlogit, NULL, grad + r0 * ITS_FASHION_DIM);
        } else {
            /* d/d(pooled input) into h[0] (its input is no longer needed), then spread */
            its_mlp_backward(c->mlp, &c->work, nb, c->dlogit, NULL, c->work.h[0]);
            for (size_t k = 0; k < nb; k++)
                pool_back(c->pool, c->work.h[0] + k * d0, grad + (r0 + k) * ITS_FASHION_DIM);
        }
    }
}

int its_fashion_clf_feat_dim(const its_fashion_clf *c)
{
    return c->mlp->dims[c->mlp->n_layers - 1];
}

void its_fashion_clf_features(its_fashion_clf *c, const float *x, size_t n, float *feat)
{
    size_t fd = (size_t)its_fashion_clf_feat_dim(c);
    int L = c->mlp->n_layers;
    for (size_t r0 = 0; r0 < n; r0 += c->work.cap) {
        size_t nb = n - r0 < c->work.cap ? n - r0 : c->work.cap;
        clf_forward(c, x + r0 * ITS_FASHION_DIM, nb);
        memcpy(feat + r0 * fd, c->work.h[L - 1], nb * fd * sizeof(float));
    }
}

its_status its_fashion_clf_accuracy(const its_mlp *m, const its_fashion_data *d, double *acc,
                                    char *err, size_t errcap)
{
    if (!m || !d || d->n == 0 || !acc)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "classifier: accuracy needs data");
    its_fashion_clf c;
    ITS_TRY_FM(its_fashion_clf_create(&c, m, 256, 0, err, errcap));
    int *cls = malloc(d->n * sizeof(int));
    if (!cls) {
        its_fashion_clf_free(&c);
        return its_fm_fail(err, errcap, ITS_ERR_NOMEM, "classifier: out of memory");
    }
    its_fashion_clf_logp(&c, d->x, d->n, NULL, cls);
    size_t hit = 0;
    for (size_t i = 0; i < d->n; i++)
        hit += cls[i] == d->y[i];
    *acc = (double)hit / (double)d->n;
    free(cls);
    its_fashion_clf_free(&c);
    return ITS_OK;
}

static int clf_score(void *user, const float *x0, size_t n, float *scores)
{
    its_fashion_clf_logp(user, x0, n, scores, NULL);
    return 0;
}

static int clf_grad(void *user, const float *x0, size_t n, float *grad, float *scores)
{
    its_fashion_clf_logp_grad(user, x0, n, grad, scores);
    return 0;
}

void its_fashion_clf_bind_verifier(its_fashion_clf *c, its_verifier *v)
{
    memset(v, 0, sizeof(*v)); /* as its_verifier_init, without an itscale symbol */
    v->version = ITS_VERIFIER_V1;
    v->max_batch = c->work.cap;
    v->score = clf_score;
    v->grad = clf_grad;
    v->user = c;
}
