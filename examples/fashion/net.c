/* The task's networks in the digits' its_mlp layout (forward, backward and Adam are the digits'
 * code), with this task's shapes and weight files (format in its_fashion.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

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

/* The file's kind, n_freq and pooling into the digits' its_mlp fields: its_mlp_* only read dims,
 * w and b; n_freq holds the pooling for a classifier. */
static void net_decode(its_mlp *m, int kind, int n_freq, int pool)
{
    m->kind = kind == ITS_FASHION_FLOW ? ITS_MLP_FLOW : ITS_MLP_CLASSIFIER;
    m->n_freq = kind == ITS_FASHION_FLOW ? n_freq : pool;
    m->n_class = kind == ITS_FASHION_FLOW ? 0 : ITS_FASHION_CLASSES;
}

static its_status net_alloc(its_mlp *m, int kind, int n_layers, const int *dims, int n_freq,
                            int pool, char *err, size_t errcap)
{
    memset(m, 0, sizeof(*m));
    ITS_TRY_FM(net_check_shape(kind, n_layers, dims, n_freq, pool, err, errcap));
    ITS_TRY_FM(its_mlp_alloc_shape(m, n_layers, dims, err, errcap));
    net_decode(m, kind, n_freq, pool);
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

static void net_encode(const its_mlp *m, int *kind, int *n_freq, int *pool)
{
    *kind = net_kind(m);
    *n_freq = *kind == ITS_FASHION_FLOW ? m->n_freq : 0;
    *pool = its_fashion_net_pool(m);
}

/* The task's weight files: magic "IFMW"; header word 4 is the classifier's input pooling. */
static const its_mlp_format fashion_format = {
    .magic = "IFMW",
    .name = "fashion",
    .word_max = 2,
    .max_bytes = (size_t)256 << 20,
    .check = net_check_shape,
    .encode = net_encode,
    .decode = net_decode,
};

its_status its_fashion_net_to_buffer(const its_mlp *m, unsigned char **buf, size_t *len,
                                     char *err, size_t errcap)
{
    return its_mlp_format_to_buffer(&fashion_format, m, buf, len, err, errcap);
}

its_status its_fashion_net_from_buffer(const void *buf, size_t len, int expect_kind,
                                       its_mlp *out, char *err, size_t errcap)
{
    return its_mlp_format_from_buffer(&fashion_format, buf, len, expect_kind, out, err, errcap);
}

its_status its_fashion_net_save(const its_mlp *m, const char *path, char *err, size_t errcap)
{
    return its_mlp_format_save(&fashion_format, m, path, err, errcap);
}

its_status its_fashion_net_load(const char *path, int expect_kind, its_mlp *out, char *err,
                                size_t errcap)
{
    return its_mlp_format_load(&fashion_format, path, expect_kind, out, err, errcap);
}
