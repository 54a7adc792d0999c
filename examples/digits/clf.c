/* Classifiers on 8x8 digits: softmax regression or a one-hidden-layer MLP, trained by minibatch
 * Adam on cross-entropy; the verifier callback log p(target | x0) with its input gradient. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void its_clf_train_params_init(its_clf_train_params *p)
{
    if (!p)
        return;
    p->hidden = 0;
    p->epochs = 200;
    p->batch = 64;
    p->lr = 1e-2;
    p->l2 = 1e-3;
    p->seed = 1;
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

its_status its_clf_train(const its_digits_data *d, const its_clf_train_params *p, its_mlp *out,
                         double *final_loss, FILE *log, char *err, size_t errcap)
{
    if (!d || !d->x || d->n == 0 || !p || !out)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "classifier: no training data");
    if (p->hidden < 0 || p->hidden > ITS_MLP_MAX_WIDTH || p->epochs < 1 || p->batch < 1 ||
        !(p->lr > 0) || !(p->l2 >= 0))
        return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                           "classifier: hidden 0..%d, epochs >= 1, batch >= 1, lr > 0, l2 >= 0",
                           ITS_MLP_MAX_WIDTH);
    const int K = ITS_DIGITS_CLASSES;
    int dims[3] = {ITS_DIGITS_DIM, p->hidden, K};
    int L = 2;
    if (p->hidden == 0) {
        dims[1] = K;
        L = 1;
    }
    its_mlp m;
    ITS_TRY_DG(its_mlp_create(&m, ITS_MLP_CLASSIFIER, L, dims, 0, K, p->seed, err, errcap));
    size_t B = (size_t)p->batch;
    its_mlp_work w;
    its_adam adam;
    memset(&adam, 0, sizeof(adam));
    its_status s = its_mlp_work_create(&m, B, &w, err, errcap);
    if (s == ITS_OK)
        s = its_adam_create(&adam, m.n_params, err, errcap);
    float *grad = malloc(m.n_params * sizeof(float));
    float *dout = malloc(B * (size_t)K * sizeof(float));
    size_t *perm = malloc(d->n * sizeof(size_t));
    if (s == ITS_OK && (!grad || !dout || !perm))
        s = its_dg_fail(err, errcap, ITS_ERR_NOMEM, "classifier: out of memory");
    if (s != ITS_OK) {
        free(grad);
        free(dout);
        free(perm);
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
    double last = 0;
    for (int ep = 0; ep < p->epochs; ep++) {
        its_digits_shuffle(&r, perm, d->n);
        double sum = 0;
        for (size_t b0 = 0; b0 < d->n; b0 += B) {
            size_t nb = d->n - b0 < B ? d->n - b0 : B;
            for (size_t k = 0; k < nb; k++)
                memcpy(w.h[0] + k * ITS_DIGITS_DIM, d->x + perm[b0 + k] * ITS_DIGITS_DIM,
                       ITS_DIGITS_DIM * sizeof(float));
            its_mlp_forward(&m, &w, nb);
            for (size_t k = 0; k < nb; k++) {
                double lp[ITS_DIGITS_CLASSES];
                int y = d->y[perm[b0 + k]];
                log_softmax(w.h[L] + k * (size_t)K, K, lp);
                sum -= lp[y];
                for (int j = 0; j < K; j++) /* d(-log p_y)/dz = softmax - onehot */
                    dout[k * (size_t)K + (size_t)j] = (float)((exp(lp[j]) - (j == y)) / (double)nb);
            }
            memset(grad, 0, m.n_params * sizeof(float));
            its_mlp_backward(&m, &w, nb, dout, grad, NULL);
            for (int l = 0; l < L; l++) { /* weight decay on W only */
                size_t off = (size_t)(m.w[l] - m.params), nw = (size_t)dims[l + 1] * (size_t)dims[l];
                for (size_t i = 0; i < nw; i++)
                    grad[off + i] += (float)p->l2 * m.params[off + i];
            }
            double lr = p->lr * 0.5 * (1.0 + cos(3.141592653589793 * ep / p->epochs));
            its_adam_step(&adam, m.params, grad, lr);
        }
        last = sum / (double)d->n;
        if (log && ((ep + 1) % 50 == 0 || ep == 0))
            fprintf(log, "classifier: epoch %d/%d cross-entropy %.4f\n", ep + 1, p->epochs, last),
                fflush(log);
    }
    openblas_set_num_threads(threads);
    free(grad);
    free(dout);
    free(perm);
    its_adam_free(&adam);
    its_mlp_work_free(&w);
    if (!isfinite(last)) {
        its_mlp_free(&m);
        return its_dg_fail(err, errcap, ITS_ERR_NUMERIC, "classifier: training diverged");
    }
    if (final_loss)
        *final_loss = last;
    *out = m;
    return ITS_OK;
}

its_status its_clf_create(its_clf *c, const its_mlp *mlp, size_t cap, int target, char *err,
                          size_t errcap)
{
    if (!c || !mlp || mlp->kind != ITS_MLP_CLASSIFIER)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "classifier: needs a classifier MLP");
    if (target < 0 || target >= mlp->n_class)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "classifier: target %d outside 0..%d",
                           target, mlp->n_class - 1);
    memset(c, 0, sizeof(*c));
    ITS_TRY_DG(its_mlp_work_create(mlp, cap, &c->work, err, errcap));
    c->dlogit = malloc(cap * (size_t)mlp->n_class * sizeof(float));
    if (!c->dlogit) {
        its_mlp_work_free(&c->work);
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "classifier: out of memory");
    }
    c->mlp = mlp;
    c->target = target;
    return ITS_OK;
}

void its_clf_free(its_clf *c)
{
    if (!c)
        return;
    its_mlp_work_free(&c->work);
    free(c->dlogit);
    memset(c, 0, sizeof(*c));
}

void its_clf_logp(its_clf *c, const float *x, size_t n, float *logp, int *cls)
{
    const its_mlp *m = c->mlp;
    int K = m->n_class;
    for (size_t r0 = 0; r0 < n; r0 += c->work.cap) {
        size_t nb = n - r0 < c->work.cap ? n - r0 : c->work.cap;
        memcpy(c->work.h[0], x + r0 * ITS_DIGITS_DIM, nb * ITS_DIGITS_DIM * sizeof(float));
        its_mlp_forward(m, &c->work, nb);
        for (size_t k = 0; k < nb; k++) {
            double lp[ITS_MLP_MAX_WIDTH];
            int best = log_softmax(c->work.h[m->n_layers] + k * (size_t)K, K, lp);
            if (logp)
                logp[r0 + k] = (float)lp[c->target];
            if (cls)
                cls[r0 + k] = best;
        }
    }
}

void its_clf_logp_grad(its_clf *c, const float *x, size_t n, float *grad, float *logp)
{
    const its_mlp *m = c->mlp;
    int K = m->n_class;
    for (size_t r0 = 0; r0 < n; r0 += c->work.cap) {
        size_t nb = n - r0 < c->work.cap ? n - r0 : c->work.cap;
        memcpy(c->work.h[0], x + r0 * ITS_DIGITS_DIM, nb * ITS_DIGITS_DIM * sizeof(float));
        its_mlp_forward(m, &c->work, nb);
        for (size_t k = 0; k < nb; k++) {
            double lp[ITS_MLP_MAX_WIDTH];
            log_softmax(c->work.h[m->n_layers] + k * (size_t)K, K, lp);
            if (logp)
                logp[r0 + k] = (float)lp[c->target];
            for (int j = 0; j < K; j++) /* d log p_y / dz = onehot - softmax */
                c->dlogit[k * (size_t)K + (size_t)j] = (float)((j == c->target) - exp(lp[j]));
        }
        its_mlp_backward(m, &c->work, nb, c->dlogit, NULL, grad + r0 * ITS_DIGITS_DIM);
    }
}

its_status its_clf_accuracy(const its_mlp *m, const its_digits_data *d, double *acc, char *err,
                            size_t errcap)
{
    if (!m || !d || d->n == 0 || !acc)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "classifier: accuracy needs data");
    its_clf c;
    ITS_TRY_DG(its_clf_create(&c, m, 256, 0, err, errcap));
    int *cls = malloc(d->n * sizeof(int));
    if (!cls) {
        its_clf_free(&c);
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "classifier: out of memory");
    }
    its_clf_logp(&c, d->x, d->n, NULL, cls);
    size_t hit = 0;
    for (size_t i = 0; i < d->n; i++)
        hit += cls[i] == d->y[i];
    *acc = (double)hit / (double)d->n;
    free(cls);
    its_clf_free(&c);
    return ITS_OK;
}

static int clf_score(void *user, const float *x0, size_t n, float *scores)
{
    its_clf_logp(user, x0, n, scores, NULL);
    return 0;
}

static int clf_grad(void *user, const float *x0, size_t n, float *grad, float *scores)
{
    its_clf_logp_grad(user, x0, n, grad, scores);
    return 0;
}

void its_clf_bind_verifier(its_clf *c, its_verifier *v)
{
    memset(v, 0, sizeof(*v)); /* as its_verifier_init, without an itscale symbol */
    v->version = ITS_VERIFIER_V1;
    v->max_batch = c->work.cap;
    v->score = clf_score;
    v->grad = clf_grad;
    v->user = c;
}
