/* A dense MLP on OpenBLAS sgemm: SiLU hidden layers, linear output; forward, backward, Adam,
 * and the digits weight file (its format in its_digits.h; the shared layout in weights.c). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The shape rules of the file format. */
static its_status mlp_check_shape(int kind, int n_layers, const int *dims, int n_freq,
                                  int n_class, char *err, size_t errcap)
{
    if (kind != ITS_MLP_FLOW && kind != ITS_MLP_CLASSIFIER)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: unknown kind %d", kind);
    if (n_layers < 1 || n_layers > ITS_MLP_MAX_LAYERS)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: %d layers, expected 1..%d",
                           n_layers, ITS_MLP_MAX_LAYERS);
    for (int l = 0; l <= n_layers; l++)
        if (dims[l] < 1 || dims[l] > ITS_MLP_MAX_WIDTH)
            return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                               "weights: width d_%d = %d outside 1..%d", l, dims[l],
                               ITS_MLP_MAX_WIDTH);
    if (kind == ITS_MLP_FLOW) {
        if (n_freq < 0 || n_freq > 16 || (n_class != 0 && n_class != ITS_DIGITS_CLASSES))
            return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                               "weights: flow n_freq %d (0..16) or n_class %d (0 or 10) invalid",
                               n_freq, n_class);
        int d0 = ITS_DIGITS_DIM + 2 * n_freq + n_class;
        if (dims[0] != d0 || dims[n_layers] != ITS_DIGITS_DIM)
            return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                               "weights: flow shape %d -> %d, expected %d -> %d", dims[0],
                               dims[n_layers], d0, ITS_DIGITS_DIM);
    } else {
        if (n_freq != 0 || n_class < 2 || n_class > ITS_MLP_MAX_WIDTH)
            return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                               "weights: classifier n_freq %d (0) or n_class %d invalid", n_freq,
                               n_class);
        if (dims[0] != ITS_DIGITS_DIM || dims[n_layers] != n_class)
            return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                               "weights: classifier shape %d -> %d, expected %d -> %d", dims[0],
                               dims[n_layers], ITS_DIGITS_DIM, n_class);
    }
    return ITS_OK;
}

static its_status mlp_alloc(its_mlp *m, int kind, int n_layers, const int *dims, int n_freq,
                            int n_class, char *err, size_t errcap)
{
    memset(m, 0, sizeof(*m));
    ITS_TRY_DG(mlp_check_shape(kind, n_layers, dims, n_freq, n_class, err, errcap));
    ITS_TRY_DG(its_mlp_alloc_shape(m, n_layers, dims, err, errcap));
    m->kind = kind;
    m->n_freq = n_freq;
    m->n_class = n_class;
    return ITS_OK;
}

its_status its_mlp_create(its_mlp *m, int kind, int n_layers, const int *dims, int n_freq,
                          int n_class, uint64_t seed, char *err, size_t errcap)
{
    if (!m || !dims)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "mlp: NULL argument");
    ITS_TRY_DG(mlp_alloc(m, kind, n_layers, dims, n_freq, n_class, err, errcap));
    its_digits_rng r;
    its_digits_rng_seed(&r, seed);
    for (int l = 0; l < n_layers; l++) {
        double bound = 1.0 / sqrt((double)dims[l]);
        size_t nw = (size_t)dims[l + 1] * (size_t)dims[l];
        for (size_t i = 0; i < nw; i++)
            m->w[l][i] = (float)((2.0 * its_digits_rng_uniform(&r) - 1.0) * bound);
    }
    return ITS_OK;
}

void its_mlp_free(its_mlp *m)
{
    if (!m)
        return;
    free(m->params);
    memset(m, 0, sizeof(*m));
}

void its_mlp_work_free(its_mlp_work *w)
{
    if (!w)
        return;
    for (int l = 0; l <= ITS_MLP_MAX_LAYERS; l++)
        free(w->h[l]);
    for (int l = 0; l < ITS_MLP_MAX_LAYERS; l++)
        free(w->z[l]);
    free(w->d0);
    free(w->d1);
    memset(w, 0, sizeof(*w));
}

its_status its_mlp_work_create(const its_mlp *m, size_t cap, its_mlp_work *w, char *err,
                               size_t errcap)
{
    if (!m || !w || cap == 0 || cap > (1u << 20))
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "mlp: work rows must be in 1..2^20");
    memset(w, 0, sizeof(*w));
    w->cap = cap;
    w->n_layers = m->n_layers;
    int widest = 0;
    int ok = 1;
    for (int l = 0; l <= m->n_layers; l++) {
        if (m->dims[l] > widest)
            widest = m->dims[l];
        w->h[l] = malloc(cap * (size_t)m->dims[l] * sizeof(float));
        ok = ok && w->h[l];
        if (l < m->n_layers) {
            w->z[l] = malloc(cap * (size_t)m->dims[l + 1] * sizeof(float));
            ok = ok && w->z[l];
        }
    }
    w->d0 = malloc(cap * (size_t)widest * sizeof(float));
    w->d1 = malloc(cap * (size_t)widest * sizeof(float));
    if (!ok || !w->d0 || !w->d1) {
        its_mlp_work_free(w);
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "mlp: out of memory for %zu rows", cap);
    }
    return ITS_OK;
}

static inline float sigmoidf_(float z) { return 1.0f / (1.0f + expf(-z)); }

void its_mlp_forward(const its_mlp *m, its_mlp_work *w, size_t n)
{
    int L = m->n_layers;
    for (int l = 0; l < L; l++) {
        int din = m->dims[l], dout = m->dims[l + 1];
        float *z = w->z[l];
        for (size_t r = 0; r < n; r++)
            memcpy(z + r * (size_t)dout, m->b[l], (size_t)dout * sizeof(float));
        /* z = h W^T + b */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, dout, din, 1.0f, w->h[l], din,
                    m->w[l], din, 1.0f, z, dout);
        float *h = w->h[l + 1];
        size_t cnt = n * (size_t)dout;
        if (l == L - 1) {
            memcpy(h, z, cnt * sizeof(float));
        } else {
            for (size_t i = 0; i < cnt; i++)
                h[i] = z[i] * sigmoidf_(z[i]); /* SiLU */
        }
    }
}

void its_mlp_backward(const its_mlp *m, its_mlp_work *w, size_t n, const float *dout,
                      float *grad, float *din)
{
    int L = m->n_layers;
    const float *dz = dout; /* dLoss/dz of the current layer */
    float *bufs[2] = {w->d0, w->d1};
    int which = 0;
    for (int l = L - 1; l >= 0; l--) {
        int di = m->dims[l], dn = m->dims[l + 1];
        if (grad) {
            float *gw = grad + (m->w[l] - m->params), *gb = grad + (m->b[l] - m->params);
            /* dW += dz^T h */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dn, di, (int)n, 1.0f, dz, dn,
                        w->h[l], di, 1.0f, gw, di);
            for (size_t r = 0; r < n; r++) {
                const float *row = dz + r * (size_t)dn;
                for (int j = 0; j < dn; j++)
                    gb[j] += row[j];
            }
        }
        if (l == 0 && !din)
            break;
        /* dh = dz W, then through SiLU of layer l-1: s'(z) = sig(z) (1 + z (1 - sig(z))) */
        float *dh = l == 0 ? din : bufs[which];
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, di, dn, 1.0f, dz, dn,
                    m->w[l], di, 0.0f, dh, di);
        if (l > 0) {
            const float *z = w->z[l - 1];
            size_t cnt = n * (size_t)di;
            for (size_t i = 0; i < cnt; i++) {
                float s = sigmoidf_(z[i]);
                dh[i] *= s * (1.0f + z[i] * (1.0f - s));
            }
            dz = dh;
            which ^= 1;
        }
    }
}

its_status its_adam_create(its_adam *a, size_t n, char *err, size_t errcap)
{
    memset(a, 0, sizeof(*a));
    a->m = calloc(n ? n : 1, sizeof(float));
    a->v = calloc(n ? n : 1, sizeof(float));
    if (!a->m || !a->v) {
        its_adam_free(a);
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "adam: out of memory");
    }
    a->n = n;
    a->beta1 = 0.9;
    a->beta2 = 0.999;
    a->eps = 1e-8;
    return ITS_OK;
}

void its_adam_free(its_adam *a)
{
    if (!a)
        return;
    free(a->m);
    free(a->v);
    memset(a, 0, sizeof(*a));
}

/* Adam (Kingma & Ba 2015, Alg. 1) with bias correction folded into the step size. */
void its_adam_step(its_adam *a, float *params, const float *grad, double lr)
{
    a->t++;
    float b1 = (float)a->beta1, b2 = (float)a->beta2;
    double c1 = 1.0 - pow(a->beta1, (double)a->t), c2 = 1.0 - pow(a->beta2, (double)a->t);
    float step = (float)(lr * sqrt(c2) / c1), eps = (float)(a->eps * sqrt(c2));
    for (size_t i = 0; i < a->n; i++) {
        float g = grad[i];
        a->m[i] = b1 * a->m[i] + (1.0f - b1) * g;
        a->v[i] = b2 * a->v[i] + (1.0f - b2) * g * g;
        params[i] -= step * a->m[i] / (sqrtf(a->v[i]) + eps);
    }
}

/* ---- weight files ---- */

/* The digits' weight files: magic "IDGW"; header word 4 is n_class. */
static void digits_encode(const its_mlp *m, int *kind, int *n_freq, int *word)
{
    *kind = m->kind;
    *n_freq = m->n_freq;
    *word = m->n_class;
}

static void digits_decode(its_mlp *m, int kind, int n_freq, int word)
{
    m->kind = kind;
    m->n_freq = n_freq;
    m->n_class = word;
}

static const its_mlp_format digits_format = {
    .magic = "IDGW",
    .name = "digits",
    .word_max = ITS_MLP_MAX_WIDTH,
    .max_bytes = (size_t)64 << 20,
    .check = mlp_check_shape,
    .encode = digits_encode,
    .decode = digits_decode,
};

its_status its_mlp_to_buffer(const its_mlp *m, unsigned char **buf, size_t *len, char *err,
                             size_t errcap)
{
    return its_mlp_format_to_buffer(&digits_format, m, buf, len, err, errcap);
}

its_status its_mlp_from_buffer(const void *buf, size_t len, int expect_kind, its_mlp *out,
                               char *err, size_t errcap)
{
    return its_mlp_format_from_buffer(&digits_format, buf, len, expect_kind, out, err, errcap);
}

its_status its_mlp_save(const its_mlp *m, const char *path, char *err, size_t errcap)
{
    return its_mlp_format_save(&digits_format, m, path, err, errcap);
}

its_status its_mlp_load(const char *path, int expect_kind, its_mlp *out, char *err, size_t errcap)
{
    return its_mlp_format_load(&digits_format, path, expect_kind, out, err, errcap);
}
