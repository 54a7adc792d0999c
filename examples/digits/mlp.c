/* A dense MLP on OpenBLAS sgemm: SiLU hidden layers, linear output; forward, backward, Adam,
 * and the weight file (format in its_digits.h). */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"

#define MLP_MAGIC "IDGW"
#define MLP_VERSION 1u
#define MLP_HEADER 24u

static void mlp_views(its_mlp *m)
{
    float *p = m->params;
    for (int l = 0; l < m->n_layers; l++) {
        m->w[l] = p;
        p += (size_t)m->dims[l + 1] * (size_t)m->dims[l];
        m->b[l] = p;
        p += (size_t)m->dims[l + 1];
    }
}

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

static size_t mlp_count(int n_layers, const int *dims)
{
    size_t n = 0;
    for (int l = 0; l < n_layers; l++)
        n += (size_t)dims[l + 1] * (size_t)dims[l] + (size_t)dims[l + 1];
    return n;
}

static its_status mlp_alloc(its_mlp *m, int kind, int n_layers, const int *dims, int n_freq,
                            int n_class, char *err, size_t errcap)
{
    memset(m, 0, sizeof(*m));
    ITS_TRY_DG(mlp_check_shape(kind, n_layers, dims, n_freq, n_class, err, errcap));
    m->kind = kind;
    m->n_layers = n_layers;
    memcpy(m->dims, dims, (size_t)(n_layers + 1) * sizeof(int));
    m->n_freq = n_freq;
    m->n_class = n_class;
    m->n_params = mlp_count(n_layers, dims);
    m->params = calloc(m->n_params, sizeof(float));
    if (!m->params)
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "mlp: out of memory for %zu parameters",
                           m->n_params);
    mlp_views(m);
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

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

its_status its_mlp_to_buffer(const its_mlp *m, unsigned char **buf, size_t *len, char *err,
                             size_t errcap)
{
    if (!m || !m->params || !buf || !len)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL argument");
    ITS_TRY_DG(mlp_check_shape(m->kind, m->n_layers, m->dims, m->n_freq, m->n_class, err,
                               errcap));
    size_t total = MLP_HEADER + 4u * (size_t)(m->n_layers + 1) + 4u * m->n_params + 4u;
    unsigned char *b = malloc(total);
    if (!b)
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "weights: out of memory");
    memcpy(b, MLP_MAGIC, 4);
    put_u32(b + 4, MLP_VERSION);
    put_u32(b + 8, (uint32_t)m->kind);
    put_u32(b + 12, (uint32_t)m->n_layers);
    put_u32(b + 16, (uint32_t)m->n_freq);
    put_u32(b + 20, (uint32_t)m->n_class);
    unsigned char *p = b + MLP_HEADER;
    for (int l = 0; l <= m->n_layers; l++, p += 4)
        put_u32(p, (uint32_t)m->dims[l]);
    for (size_t i = 0; i < m->n_params; i++, p += 4) {
        uint32_t u;
        memcpy(&u, &m->params[i], 4);
        put_u32(p, u);
    }
    put_u32(p, (uint32_t)crc32(0L, b, (uInt)(total - 4)));
    *buf = b;
    *len = total;
    return ITS_OK;
}

its_status its_mlp_from_buffer(const void *buf, size_t len, int expect_kind, its_mlp *out,
                               char *err, size_t errcap)
{
    if (!out)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL argument");
    memset(out, 0, sizeof(*out));
    if (!buf && len)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL buffer");
    const unsigned char *b = buf;
    if (len < 4 || memcmp(b, MLP_MAGIC, 4) != 0)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                           "weights: not a digits weight file (magic is not \"IDGW\")");
    if (len < MLP_HEADER)
        return its_dg_fail(err, errcap, ITS_ERR_IO, "weights: truncated header (%zu bytes)", len);
    uint32_t version = get_u32(b + 4);
    if (version != MLP_VERSION)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                           "weights: version %u, this build reads version %u", version,
                           MLP_VERSION);
    uint32_t kind = get_u32(b + 8), nl = get_u32(b + 12), nf = get_u32(b + 16),
             nc = get_u32(b + 20);
    if (kind != ITS_MLP_FLOW && kind != ITS_MLP_CLASSIFIER)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: unknown kind %u", kind);
    if (expect_kind && (int)kind != expect_kind)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: a %s file where a %s is needed",
                           kind == ITS_MLP_FLOW ? "flow model" : "classifier",
                           expect_kind == ITS_MLP_FLOW ? "flow model" : "classifier");
    if (nl < 1 || nl > ITS_MLP_MAX_LAYERS)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: %u layers, expected 1..%d", nl,
                           ITS_MLP_MAX_LAYERS);
    if (len < MLP_HEADER + 4u * (nl + 1))
        return its_dg_fail(err, errcap, ITS_ERR_IO, "weights: truncated shape table");
    int dims[ITS_MLP_MAX_LAYERS + 1];
    for (uint32_t l = 0; l <= nl; l++) {
        uint32_t d = get_u32(b + MLP_HEADER + 4 * l);
        dims[l] = d > ITS_MLP_MAX_WIDTH ? -1 : (int)d;
    }
    ITS_TRY_DG(mlp_check_shape((int)kind, (int)nl, dims, nf > 16 ? -1 : (int)nf,
                               nc > ITS_MLP_MAX_WIDTH ? -1 : (int)nc, err, errcap));
    size_t np = mlp_count((int)nl, dims);
    size_t total = MLP_HEADER + 4u * (nl + 1) + 4u * np + 4u;
    if (len < total)
        return its_dg_fail(err, errcap, ITS_ERR_IO, "weights: truncated: %zu bytes, expected %zu",
                           len, total);
    if (len > total)
        return its_dg_fail(err, errcap, ITS_ERR_IO,
                           "weights: %zu bytes, expected %zu (trailing data)", len, total);
    uint32_t want = get_u32(b + total - 4);
    uint32_t got = (uint32_t)crc32(0L, b, (uInt)(total - 4));
    if (want != got)
        return its_dg_fail(err, errcap, ITS_ERR_IO,
                           "weights: checksum mismatch (stored %08x, computed %08x)", want, got);
    its_mlp m;
    ITS_TRY_DG(mlp_alloc(&m, (int)kind, (int)nl, dims, (int)nf, (int)nc, err, errcap));
    const unsigned char *p = b + MLP_HEADER + 4u * (nl + 1);
    for (size_t i = 0; i < np; i++, p += 4) {
        uint32_t u = get_u32(p);
        memcpy(&m.params[i], &u, 4);
        if (!isfinite(m.params[i])) {
            its_mlp_free(&m);
            return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: parameter %zu is not finite",
                               i);
        }
    }
    *out = m;
    return ITS_OK;
}

its_status its_mlp_save(const its_mlp *m, const char *path, char *err, size_t errcap)
{
    if (!path)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL path");
    unsigned char *buf = NULL;
    size_t len = 0;
    ITS_TRY_DG(its_mlp_to_buffer(m, &buf, &len, err, errcap));
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(buf);
        return its_dg_fail(err, errcap, ITS_ERR_IO, "weights: cannot create %s", path);
    }
    size_t put = fwrite(buf, 1, len, f);
    int closed = fclose(f);
    free(buf);
    if (put != len || closed != 0)
        return its_dg_fail(err, errcap, ITS_ERR_IO, "weights: writing %s failed", path);
    return ITS_OK;
}

its_status its_mlp_load(const char *path, int expect_kind, its_mlp *out, char *err, size_t errcap)
{
    if (!path || !out)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL argument");
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (!f)
        return its_dg_fail(err, errcap, ITS_ERR_IO, "weights: cannot open %s", path);
    /* the largest legal file is far below this; read one byte more to detect overlong files */
    size_t cap = 64u << 20, len = 0, have = 1u << 16;
    unsigned char *buf = malloc(have);
    while (buf) {
        if (len == have) {
            if (have >= cap)
                break;
            unsigned char *nb = realloc(buf, have * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            have *= 2;
        }
        size_t got = fread(buf + len, 1, have - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "weights: out of memory reading %s", path);
    if (bad) {
        free(buf);
        return its_dg_fail(err, errcap, ITS_ERR_IO, "weights: read error on %s", path);
    }
    char sub[200];
    its_status s = its_mlp_from_buffer(buf, len, expect_kind, out, sub, sizeof(sub));
    free(buf);
    if (s != ITS_OK)
        return its_dg_fail(err, errcap, s, "%s: %s", path, sub);
    return ITS_OK;
}
