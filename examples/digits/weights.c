/* Weight files in the its_mlp layout, for any task's format (its_mlp_format): "MAGIC", then
 * little-endian u32 version, kind, n_layers, n_freq, task word, dims[0..n_layers], the float32
 * parameters in file order, and a CRC-32 (zlib) of everything before it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"

#define W_VERSION 1u
#define W_HEADER 24u

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

static size_t count_params(int n_layers, const int *dims)
{
    size_t n = 0;
    for (int l = 0; l < n_layers; l++)
        n += (size_t)dims[l + 1] * (size_t)dims[l] + (size_t)dims[l + 1];
    return n;
}

its_status its_mlp_alloc_shape(its_mlp *m, int n_layers, const int *dims, char *err,
                               size_t errcap)
{
    memset(m, 0, sizeof(*m));
    m->n_layers = n_layers;
    memcpy(m->dims, dims, (size_t)(n_layers + 1) * sizeof(int));
    m->n_params = count_params(n_layers, dims);
    m->params = calloc(m->n_params, sizeof(float));
    if (!m->params)
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "mlp: out of memory for %zu parameters",
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

its_status its_mlp_format_to_buffer(const its_mlp_format *f, const its_mlp *m,
                                    unsigned char **buf, size_t *len, char *err, size_t errcap)
{
    if (!f || !m || !m->params || !buf || !len)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL argument");
    int kind = 0, nf = 0, word = 0;
    f->encode(m, &kind, &nf, &word);
    ITS_TRY_DG(f->check(kind, m->n_layers, m->dims, nf, word, err, errcap));
    size_t total = W_HEADER + 4u * (size_t)(m->n_layers + 1) + 4u * m->n_params + 4u;
    unsigned char *b = malloc(total);
    if (!b)
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "weights: out of memory");
    memcpy(b, f->magic, 4);
    put_u32(b + 4, W_VERSION);
    put_u32(b + 8, (uint32_t)kind);
    put_u32(b + 12, (uint32_t)m->n_layers);
    put_u32(b + 16, (uint32_t)nf);
    put_u32(b + 20, (uint32_t)word);
    unsigned char *p = b + W_HEADER;
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

its_status its_mlp_format_from_buffer(const its_mlp_format *f, const void *buf, size_t len,
                                      int expect_kind, its_mlp *out, char *err, size_t errcap)
{
    if (!f || !out)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL argument");
    memset(out, 0, sizeof(*out));
    if (!buf && len)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL buffer");
    const unsigned char *b = buf;
    if (len < 4 || memcmp(b, f->magic, 4) != 0)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                           "weights: not a %s weight file (magic is not \"%.4s\")", f->name,
                           f->magic);
    if (len < W_HEADER)
        return its_dg_fail(err, errcap, ITS_ERR_IO, "weights: truncated header (%zu bytes)", len);
    uint32_t version = get_u32(b + 4);
    if (version != W_VERSION)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                           "weights: version %u, this build reads version %u", version,
                           W_VERSION);
    uint32_t kind = get_u32(b + 8), nl = get_u32(b + 12), nf = get_u32(b + 16),
             word = get_u32(b + 20);
    if (kind != ITS_MLP_FLOW && kind != ITS_MLP_CLASSIFIER)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: unknown kind %u", kind);
    if (expect_kind && (int)kind != expect_kind)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: a %s file where a %s is needed",
                           kind == ITS_MLP_FLOW ? "flow model" : "classifier",
                           expect_kind == ITS_MLP_FLOW ? "flow model" : "classifier");
    if (nl < 1 || nl > ITS_MLP_MAX_LAYERS)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: %u layers, expected 1..%d", nl,
                           ITS_MLP_MAX_LAYERS);
    if (len < W_HEADER + 4u * (nl + 1))
        return its_dg_fail(err, errcap, ITS_ERR_IO, "weights: truncated shape table");
    int dims[ITS_MLP_MAX_LAYERS + 1];
    for (uint32_t l = 0; l <= nl; l++) {
        uint32_t d = get_u32(b + W_HEADER + 4 * l);
        dims[l] = d > ITS_MLP_MAX_WIDTH ? -1 : (int)d;
    }
    int nf_i = nf > 16 ? -1 : (int)nf, word_i = word > f->word_max ? -1 : (int)word;
    ITS_TRY_DG(f->check((int)kind, (int)nl, dims, nf_i, word_i, err, errcap));
    size_t np = count_params((int)nl, dims);
    size_t total = W_HEADER + 4u * (nl + 1) + 4u * np + 4u;
    if (len < total)
        return its_dg_fail(err, errcap, ITS_ERR_IO, "weights: truncated: %zu bytes, expected %zu",
                           len, total);
    if (len > total)
        return its_dg_fail(err, errcap, ITS_ERR_IO,
                           "weights: %zu bytes, expected %zu (trailing data)", len, total);
    uint32_t want = get_u32(b + total - 4), got = crc_of(b, total - 4);
    if (want != got)
        return its_dg_fail(err, errcap, ITS_ERR_IO,
                           "weights: checksum mismatch (stored %08x, computed %08x)", want, got);
    its_mlp m;
    ITS_TRY_DG(its_mlp_alloc_shape(&m, (int)nl, dims, err, errcap));
    f->decode(&m, (int)kind, nf_i, word_i);
    const unsigned char *p = b + W_HEADER + 4u * (nl + 1);
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

its_status its_mlp_format_save(const its_mlp_format *f, const its_mlp *m, const char *path,
                               char *err, size_t errcap)
{
    if (!path)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL path");
    unsigned char *buf = NULL;
    size_t len = 0;
    ITS_TRY_DG(its_mlp_format_to_buffer(f, m, &buf, &len, err, errcap));
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.part", path) >= sizeof(tmp)) {
        free(buf);
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: path too long");
    }
    FILE *fp = fopen(tmp, "wb");
    if (!fp) {
        free(buf);
        return its_dg_fail(err, errcap, ITS_ERR_IO, "weights: cannot create %s", tmp);
    }
    size_t put = fwrite(buf, 1, len, fp);
    int closed = fclose(fp);
    free(buf);
    if (put != len || closed != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return its_dg_fail(err, errcap, ITS_ERR_IO, "weights: writing %s failed", path);
    }
    return ITS_OK;
}

its_status its_mlp_format_load(const its_mlp_format *f, const char *path, int expect_kind,
                               its_mlp *out, char *err, size_t errcap)
{
    if (!f || !path || !out)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "weights: NULL argument");
    memset(out, 0, sizeof(*out));
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return its_dg_fail(err, errcap, ITS_ERR_IO, "weights: cannot open %s", path);
    /* read up to one byte past the largest legal file, so an overlong one is detected */
    size_t len = 0, have = 1u << 16;
    unsigned char *buf = malloc(have);
    while (buf) {
        if (len == have) {
            if (have >= f->max_bytes)
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
        size_t got = fread(buf + len, 1, have - len, fp);
        len += got;
        if (got == 0)
            break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (!buf)
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "weights: out of memory reading %s", path);
    if (bad) {
        free(buf);
        return its_dg_fail(err, errcap, ITS_ERR_IO, "weights: read error on %s", path);
    }
    char sub[200];
    its_status s = its_mlp_format_from_buffer(f, buf, len, expect_kind, out, sub, sizeof(sub));
    free(buf);
    if (s != ITS_OK)
        return its_dg_fail(err, errcap, s, "%s: %s", path, sub);
    return ITS_OK;
}
