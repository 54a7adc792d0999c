/* The task's networks in the digits' its_mlp layout (forward, backward and Adam are the digits'
 * code), with this task's shapes and weight files (format in its_fashion.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"

#define NET_MAGIC "IFMW"
#define NET_VERSION 1u
#define NET_HEADER 24u

static its_status net_check_shape(int kind, int n_layers, const int *dims, int n_freq, int pool,
                                  char *err, size_t errcap)
{
    if (kind != ITS_FASHION_FLOW && kind != ITS_FASHION_CLASSIFIER)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "weights: unknown kind %d", kind);
    if (n_layers < 1 || n_layers > ITS_MLP_MAX_LAYERS)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "weights: %d layers, expected 1..%d",
                           n_layers, ITS_MLP_MAX_LAYERS);
    for (int l = 0; l <= n_layers; l++)
        if (dims[l] < 1 || dims[l] > ITS_MLP_MAX_WIDTH)
            return its_fm_fail(err, errcap, ITS_ERR_INVALID,
                               "weights: width d_%d = %d outside 1..%d", l, dims[l],
                               ITS_MLP_MAX_WIDTH);
    if (kind == ITS_FASHION_FLOW) {
        if (n_freq < 0 || n_freq > 16 || pool != 1)
            return its_fm_fail(err, errcap, ITS_ERR_INVALID,
                               "weights: flow n_freq %d (0..16) or pool %d (1) invalid", n_freq,
                               pool);
        int d0 = ITS_FASHION_DIM + 2 * n_freq;
        if (dims[0] != d0 || dims[n_layers] != ITS_FASHION_DIM)
            return its_fm_fail(err, errcap, ITS_ERR_INVALID,
                               "weights: flow shape %d -> %d, expected %d -> %d", dims[0],
                               dims[n_layers], d0, ITS_FASHION_DIM);
    } else {
        if (n_freq != 0 || (pool != 1 && pool != 2))
            return its_fm_fail(err, errcap, ITS_ERR_INVALID,
                               "weights: classifier n_freq %d (0) or pool %d (1 or 2) invalid",
                               n_freq, pool);
        int d0 = ITS_FASHION_DIM / (pool * pool);
        if (dims[0] != d0 || dims[n_layers] != ITS_FASHION_CLASSES)
            return its_fm_fail(err, errcap, ITS_ERR_INVALID,
                               "weights: classifier shape %d -> %d, expected %d -> %d", dims[0],
                               dims[n_layers], d0, ITS_FASHION_CLASSES);
    }
    return ITS_OK;
}

static size_t net_count(int n_layers, const int *dims)
{
    size_t n = 0;
    for (int l = 0; l < n_layers; l++)
        n += (size_t)dims[l + 1] * (size_t)dims[l] + (size_t)dims[l + 1];
    return n;
}

static its_status net_alloc(its_mlp *m, int kind, int n_layers, const int *dims, int n_freq,
                            int pool, char *err, size_t errcap)
{
    memset(m, 0, sizeof(*m));
    ITS_TRY_FM(net_check_shape(kind, n_layers, dims, n_freq, pool, err, errcap));
    /* the digits' kinds: its_mlp_* only read dims, w and b */
    m->kind = kind == ITS_FASHION_FLOW ? ITS_MLP_FLOW : ITS_MLP_CLASSIFIER;
    m->n_layers = n_layers;
    memcpy(m->dims, dims, (size_t)(n_layers + 1) * sizeof(int));
    m->n_freq = kind == ITS_FASHION_FLOW ? n_freq : pool;
    m->n_class = kind == ITS_FASHION_FLOW ? 0 : ITS_FASHION_CLASSES;
    m->n_params = net_count(n_layers, dims);
    m->params = calloc(m->n_params, sizeof(float));
    if (!m->params)
        return its_fm_fail(err, errcap, ITS_ERR_NOMEM, "net: out of memory for %zu parameters",
                           m->n_params);
    float *p = m->params;
    for (int l = 0; l < n_layers; l++) {
        m->w[l] = p;
        p += (size_t)dims[l + 1] * (size_t)dims[l];
        m->b[l] = p;
        p += (size_t)dims[l + 1];
    }
    return ITS_OK;
}

its_status its_fashion_net_create(its_mlp *m, int kind, int n_layers, const int *dims, int n_freq,
                                  int pool, uint64_t seed, char *err, size_t errcap)
{
    if (!m || !dims)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "net: NULL argument");
    ITS_TRY_FM(net_alloc(m, kind, n_layers, dims, n_freq, pool, err, errcap));
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

static int net_kind(const its_mlp *m)
{
    return m->kind == ITS_MLP_FLOW ? ITS_FASHION_FLOW : ITS_FASHION_CLASSIFIER;
}

int its_fashion_net_pool(const its_mlp *m)
{
    return m && m->kind == ITS_MLP_CLASSIFIER ? m->n_freq : 1;
}

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

/* zlib's crc32 takes a uInt length: feed large buffers in pieces */
static uint32_t crc_of(const unsigned char *b, size_t n)
{
    uLong c = crc32(0L, Z_NULL, 0);
    while (n) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, b, k);
        b += k;
        n -= k;
    }
    return (uint32_t)c;
}

its_status its_fashion_net_to_buffer(const its_mlp *m, unsigned char **buf, size_t *len,
                                     char *err, size_t errcap)
{
    if (!m || !m->params || !buf || !len)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL argument");
    int kind = net_kind(m), nf = kind == ITS_FASHION_FLOW ? m->n_freq : 0;
    int pool = its_fashion_net_pool(m);
    ITS_TRY_FM(net_check_shape(kind, m->n_layers, m->dims, nf, pool, err, errcap));
    size_t total = NET_HEADER + 4u * (size_t)(m->n_layers + 1) + 4u * m->n_params + 4u;
    unsigned char *b = malloc(total);
    if (!b)
        return its_fm_fail(err, errcap, ITS_ERR_NOMEM, "weights: out of memory");
    memcpy(b, NET_MAGIC, 4);
    put_u32(b + 4, NET_VERSION);
    put_u32(b + 8, (uint32_t)kind);
    put_u32(b + 12, (uint32_t)m->n_layers);
    put_u32(b + 16, (uint32_t)nf);
    put_u32(b + 20, (uint32_t)pool);
    unsigned char *p = b + NET_HEADER;
    for (int l = 0; l <= m->n_layers; l++, p += 4)
        put_u32(p, (uint32_t)m->dims[l]);
    for (size_t i = 0; i < m->n_params; i++, p += 4) {
        uint32_t u;
        memcpy(&u, &m->params[i], 4);
        put_u32(p, u);
    }
    put_u32(p, crc_of(b, total - 4));
    *buf = b;
    *len = total;
    return ITS_OK;
}

its_status its_fashion_net_from_buffer(const void *buf, size_t len, int expect_kind,
                                       its_mlp *out, char *err, size_t errcap)
{
    if (!out)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL argument");
    memset(out, 0, sizeof(*out));
    if (!buf && len)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL buffer");
    const unsigned char *b = buf;
    if (len < 4 || memcmp(b, NET_MAGIC, 4) != 0)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID,
                           "weights: not a fashion weight file (magic is not \"IFMW\")");
    if (len < NET_HEADER)
        return its_fm_fail(err, errcap, ITS_ERR_IO, "weights: truncated header (%zu bytes)", len);
    uint32_t version = get_u32(b + 4);
    if (version != NET_VERSION)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID,
                           "weights: version %u, this build reads version %u", version,
                           NET_VERSION);
    uint32_t kind = get_u32(b + 8), nl = get_u32(b + 12), nf = get_u32(b + 16),
             pool = get_u32(b + 20);
    if (kind != ITS_FASHION_FLOW && kind != ITS_FASHION_CLASSIFIER)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "weights: unknown kind %u", kind);
    if (expect_kind && (int)kind != expect_kind)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "weights: a %s file where a %s is needed",
                           kind == ITS_FASHION_FLOW ? "flow model" : "classifier",
                           expect_kind == ITS_FASHION_FLOW ? "flow model" : "classifier");
    if (nl < 1 || nl > ITS_MLP_MAX_LAYERS)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "weights: %u layers, expected 1..%d", nl,
                           ITS_MLP_MAX_LAYERS);
    if (len < NET_HEADER + 4u * (nl + 1))
        return its_fm_fail(err, errcap, ITS_ERR_IO, "weights: truncated shape table");
    int dims[ITS_MLP_MAX_LAYERS + 1];
    for (uint32_t l = 0; l <= nl; l++) {
        uint32_t d = get_u32(b + NET_HEADER + 4 * l);
        dims[l] = d > ITS_MLP_MAX_WIDTH ? -1 : (int)d;
    }
    ITS_TRY_FM(net_check_shape((int)kind, (int)nl, dims, nf > 16 ? -1 : (int)nf,
                               pool > 2 ? -1 : (int)pool, err, errcap));
    size_t np = net_count((int)nl, dims);
    size_t total = NET_HEADER + 4u * (nl + 1) + 4u * np + 4u;
    if (len < total)
        return its_fm_fail(err, errcap, ITS_ERR_IO, "weights: truncated: %zu bytes, expected %zu",
                           len, total);
    if (len > total)
        return its_fm_fail(err, errcap, ITS_ERR_IO,
                           "weights: %zu bytes, expected %zu (trailing data)", len, total);
    uint32_t want = get_u32(b + total - 4), got = crc_of(b, total - 4);
    if (want != got)
        return its_fm_fail(err, errcap, ITS_ERR_IO,
                           "weights: checksum mismatch (stored %08x, computed %08x)", want, got);
    its_mlp m;
    ITS_TRY_FM(net_alloc(&m, (int)kind, (int)nl, dims, (int)nf, (int)pool, err, errcap));
    const unsigned char *p = b + NET_HEADER + 4u * (nl + 1);
    for (size_t i = 0; i < np; i++, p += 4) {
        uint32_t u = get_u32(p);
        memcpy(&m.params[i], &u, 4);
        if (!isfinite(m.params[i])) {
            its_mlp_free(&m);
            return its_fm_fail(err, errcap, ITS_ERR_INVALID,
                               "weights: parameter %zu is not finite", i);
        }
    }
    *out = m;
    return ITS_OK;
}

its_status its_fashion_net_save(const its_mlp *m, const char *path, char *err, size_t errcap)
{
    if (!path)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL path");
    unsigned char *buf = NULL;
    size_t len = 0;
    ITS_TRY_FM(its_fashion_net_to_buffer(m, &buf, &len, err, errcap));
    /* write beside, then rename: a reader never sees half a file */
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.part", path) >= sizeof(tmp)) {
        free(buf);
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "weights: path too long");
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(buf);
        return its_fm_fail(err, errcap, ITS_ERR_IO, "weights: cannot create %s", tmp);
    }
    size_t put = fwrite(buf, 1, len, f);
    int closed = fclose(f);
    free(buf);
    if (put != len || closed != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return its_fm_fail(err, errcap, ITS_ERR_IO, "weights: writing %s failed", path);
    }
    return ITS_OK;
}

its_status its_fashion_net_load(const char *path, int expect_kind, its_mlp *out, char *err,
                                size_t errcap)
{
    if (!path || !out)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL argument");
    memset(out, 0, sizeof(*out));
    unsigned char *buf = NULL;
    size_t len = 0;
    /* weight files are written plain; zlib reads them as they are */
    ITS_TRY_FM(its_fashion_read_file(path, (size_t)256 << 20, &buf, &len, err, errcap));
    char sub[200];
    its_status s = its_fashion_net_from_buffer(buf, len, expect_kind, out, sub, sizeof(sub));
    free(buf);
    if (s != ITS_OK)
        return its_fm_fail(err, errcap, s, "%s: %s", path, sub);
    return ITS_OK;
}
