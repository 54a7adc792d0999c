/* Fashion-MNIST's IDX files: a validating reader (gzip through zlib), splits, class names. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"

#define IDX_MAX_ROWS 1000000u
/* images: 16-byte header + 784 bytes a row */
#define IDX_MAX_BYTES (16u + (size_t)IDX_MAX_ROWS * ITS_FASHION_DIM)

static const char *const class_names[ITS_FASHION_CLASSES] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot",
};

const char *its_fashion_class_name(int c)
{
    return c >= 0 && c < ITS_FASHION_CLASSES ? class_names[c] : "?";
}

const char *its_fashion_default_data_dir(void) { return ITS_FASHION_DATA_DIR; }
const char *its_fashion_default_cache_dir(void) { return ITS_FASHION_CACHE_DIR; }

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Checks the magic (unsigned-byte data of the given rank) and that the buffer holds exactly the
 * header and the bytes its sizes announce. */
static its_status idx_header(const unsigned char *b, size_t len, unsigned rank, uint32_t *sizes,
                             const char *what, char *err, size_t errcap)
{
    if (len < 4)
        return its_fm_fail(err, errcap, ITS_ERR_IO, "idx %s: truncated magic (%zu bytes)", what,
                           len);
    if (b[0] != 0 || b[1] != 0 || b[2] != 0x08)
        return its_fm_fail(err, errcap, ITS_ERR_IO,
                           "idx %s: bad magic %02x %02x %02x %02x (expected 00 00 08 %02x: "
                           "unsigned bytes, rank %u)",
                           what, b[0], b[1], b[2], b[3], rank, rank);
    if (b[3] != rank)
        return its_fm_fail(err, errcap, ITS_ERR_IO, "idx %s: rank %u, expected %u", what, b[3],
                           rank);
    size_t head = 4 + 4 * (size_t)rank;
    if (len < head)
        return its_fm_fail(err, errcap, ITS_ERR_IO, "idx %s: truncated header (%zu of %zu bytes)",
                           what, len, head);
    size_t body = 1;
    for (unsigned k = 0; k < rank; k++) {
        sizes[k] = be32(b + 4 + 4 * k);
        if (sizes[k] > IDX_MAX_ROWS)
            return its_fm_fail(err, errcap, ITS_ERR_IO, "idx %s: size %u of dimension %u above %u",
                               what, sizes[k], k, IDX_MAX_ROWS);
        body *= sizes[k]; /* at most 10^18 for rank 3: no overflow */
    }
    if (sizes[0] == 0)
        return its_fm_fail(err, errcap, ITS_ERR_IO, "idx %s: no items", what);
    if (rank == 3 && (sizes[1] != ITS_FASHION_SIDE || sizes[2] != ITS_FASHION_SIDE))
        return its_fm_fail(err, errcap, ITS_ERR_IO, "idx %s: images are %u x %u, expected %d x %d",
                           what, sizes[1], sizes[2], ITS_FASHION_SIDE, ITS_FASHION_SIDE);
    if (len < head + body)
        return its_fm_fail(err, errcap, ITS_ERR_IO,
                           "idx %s: truncated: %zu bytes, the header announces %zu", what, len,
                           head + body);
    if (len > head + body)
        return its_fm_fail(err, errcap, ITS_ERR_IO,
                           "idx %s: %zu bytes, the header announces %zu (trailing data)", what,
                           len, head + body);
    return ITS_OK;
}

its_status its_fashion_parse_images(const void *buf, size_t len, float **x, size_t *n, char *err,
                                    size_t errcap)
{
    if (!x || !n || (!buf && len))
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "idx images: NULL argument");
    *x = NULL;
    *n = 0;
    uint32_t sz[3] = {0, 0, 0};
    ITS_TRY_FM(idx_header(buf, len, 3, sz, "images", err, errcap));
    const unsigned char *p = (const unsigned char *)buf + 16;
    size_t cnt = (size_t)sz[0] * ITS_FASHION_DIM;
    float *v = malloc(cnt * sizeof(float));
    if (!v)
        return its_fm_fail(err, errcap, ITS_ERR_NOMEM, "idx images: out of memory for %u rows",
                           sz[0]);
    for (size_t i = 0; i < cnt; i++)
        v[i] = (float)p[i] / 127.5f - 1.0f;
    *x = v;
    *n = sz[0];
    return ITS_OK;
}

its_status its_fashion_parse_labels(const void *buf, size_t len, int **y, size_t *n, char *err,
                                    size_t errcap)
{
    if (!y || !n || (!buf && len))
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "idx labels: NULL argument");
    *y = NULL;
    *n = 0;
    uint32_t sz[1] = {0};
    ITS_TRY_FM(idx_header(buf, len, 1, sz, "labels", err, errcap));
    const unsigned char *p = (const unsigned char *)buf + 8;
    int *v = malloc((size_t)sz[0] * sizeof(int));
    if (!v)
        return its_fm_fail(err, errcap, ITS_ERR_NOMEM, "idx labels: out of memory");
    for (size_t i = 0; i < sz[0]; i++) {
        if (p[i] >= ITS_FASHION_CLASSES) {
            free(v);
            return its_fm_fail(err, errcap, ITS_ERR_IO, "idx labels: label %u at item %zu, "
                               "expected 0..%d", p[i], i, ITS_FASHION_CLASSES - 1);
        }
        v[i] = p[i];
    }
    *y = v;
    *n = sz[0];
    return ITS_OK;
}

its_status its_fashion_read_file(const char *path, size_t max_bytes, unsigned char **buf,
                                 size_t *len, char *err, size_t errcap)
{
    if (!path || !buf || !len)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "read: NULL argument");
    *buf = NULL;
    *len = 0;
    gzFile f = gzopen(path, "rb"); /* reads plain files too */
    if (!f)
        return its_fm_fail(err, errcap, ITS_ERR_IO, "cannot open %s", path);
    size_t cap = 1u << 20, n = 0;
    unsigned char *b = malloc(cap);
    its_status s = ITS_OK;
    if (!b)
        s = its_fm_fail(err, errcap, ITS_ERR_NOMEM, "out of memory reading %s", path);
    while (s == ITS_OK) {
        if (n == cap) {
            if (cap > max_bytes) {
                s = its_fm_fail(err, errcap, ITS_ERR_IO, "%s is larger than %zu bytes", path,
                                max_bytes);
                break;
            }
            unsigned char *nb = realloc(b, cap * 2);
            if (!nb) {
                s = its_fm_fail(err, errcap, ITS_ERR_NOMEM, "out of memory reading %s", path);
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t want = cap - n > (1u << 30) ? (1u << 30) : cap - n;
        int got = gzread(f, b + n, (unsigned)want);
        if (got < 0) {
            int zerr = 0;
            const char *msg = gzerror(f, &zerr);
            s = its_fm_fail(err, errcap, ITS_ERR_IO, "reading %s: %s", path,
                            msg ? msg : "zlib error");
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    if (s == ITS_OK) {
        int zerr = 0;
        gzerror(f, &zerr);
        if (zerr != Z_OK && zerr != Z_STREAM_END)
            s = its_fm_fail(err, errcap, ITS_ERR_IO, "%s is a damaged gzip stream", path);
        else if (n > max_bytes)
            s = its_fm_fail(err, errcap, ITS_ERR_IO, "%s is larger than %zu bytes", path,
                            max_bytes);
    }
    gzclose(f);
    if (s != ITS_OK) {
        free(b);
        return s;
    }
    *buf = b;
    *len = n;
    return ITS_OK;
}

void its_fashion_data_free(its_fashion_data *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->y);
    memset(d, 0, sizeof(*d));
}

its_status its_fashion_load(const char *dir, const char *split, size_t limit,
                            its_fashion_data *out, char *err, size_t errcap)
{
    if (!split || !out)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "fashion: NULL argument");
    memset(out, 0, sizeof(*out));
    if (!dir || !*dir)
        dir = its_fashion_default_data_dir();
    char pi[4096], pl[4096];
    if ((size_t)snprintf(pi, sizeof(pi), "%s/%s-images-idx3-ubyte.gz", dir, split) >= sizeof(pi) ||
        (size_t)snprintf(pl, sizeof(pl), "%s/%s-labels-idx1-ubyte.gz", dir, split) >= sizeof(pl))
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "fashion: folder name too long");
    unsigned char *buf = NULL;
    size_t len = 0, ni = 0, nl = 0;
    char sub[512];
    its_status s = its_fashion_read_file(pi, IDX_MAX_BYTES, &buf, &len, sub, sizeof(sub));
    if (s == ITS_OK)
        s = its_fashion_parse_images(buf, len, &out->x, &ni, sub, sizeof(sub));
    free(buf);
    buf = NULL;
    if (s != ITS_OK)
        return its_fm_fail(err, errcap, s, "fashion: %s: %s", pi, sub);
    s = its_fashion_read_file(pl, 8u + IDX_MAX_ROWS, &buf, &len, sub, sizeof(sub));
    if (s == ITS_OK)
        s = its_fashion_parse_labels(buf, len, &out->y, &nl, sub, sizeof(sub));
    free(buf);
    if (s != ITS_OK) {
        its_fashion_data_free(out);
        return its_fm_fail(err, errcap, s, "fashion: %s: %s", pl, sub);
    }
    if (ni != nl) {
        its_fashion_data_free(out);
        return its_fm_fail(err, errcap, ITS_ERR_IO, "fashion: %zu images but %zu labels in %s/%s",
                           ni, nl, dir, split);
    }
    out->n = limit && limit < ni ? limit : ni;
    return ITS_OK;
}

static its_status select_rows(const its_fashion_data *d, int part, int cls,
                              its_fashion_data *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof(*out));
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += part >= 0 ? (int)(i & 1) == part : d->y[i] == cls;
    out->x = malloc((n ? n : 1) * ITS_FASHION_DIM * sizeof(float));
    out->y = malloc((n ? n : 1) * sizeof(int));
    if (!out->x || !out->y) {
        its_fashion_data_free(out);
        return its_fm_fail(err, errcap, ITS_ERR_NOMEM, "fashion: out of memory for %zu rows", n);
    }
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (part >= 0 ? (int)(i & 1) != part : d->y[i] != cls)
            continue;
        memcpy(out->x + k * ITS_FASHION_DIM, d->x + i * ITS_FASHION_DIM,
               ITS_FASHION_DIM * sizeof(float));
        out->y[k++] = d->y[i];
    }
    out->n = n;
    return ITS_OK;
}

its_status its_fashion_split(const its_fashion_data *d, int part, its_fashion_data *out,
                             char *err, size_t errcap)
{
    if (!d || !out || (part != 0 && part != 1))
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "fashion: split part must be 0 or 1");
    return select_rows(d, part, -1, out, err, errcap);
}

its_status its_fashion_select(const its_fashion_data *d, int c, its_fashion_data *out, char *err,
                              size_t errcap)
{
    if (!d || !out || c < 0 || c >= ITS_FASHION_CLASSES)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "fashion: class must be in 0..9");
    return select_rows(d, -1, c, out, err, errcap);
}
