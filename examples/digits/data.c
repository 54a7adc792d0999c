/* The UCI optical digits: loading, validation, splits; and the training RNG. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "internal.h"

#define DG_MAX_BYTES (64u << 20) /* the real file is ~0.5 MB uncompressed */

const char *its_digits_default_data_path(void) { return ITS_DIGITS_DATA_PATH; }
const char *its_digits_default_cache_dir(void) { return ITS_DIGITS_CACHE_DIR; }

void its_digits_data_free(its_digits_data *d)
{
    if (!d)
        return;
    free(d->x);
    free(d->y);
    memset(d, 0, sizeof(*d));
}

static its_status data_alloc(its_digits_data *d, size_t n, char *err, size_t errcap)
{
    memset(d, 0, sizeof(*d));
    d->x = malloc((n ? n : 1) * ITS_DIGITS_DIM * sizeof(float));
    d->y = malloc((n ? n : 1) * sizeof(int));
    if (!d->x || !d->y) {
        its_digits_data_free(d);
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "digits: out of memory for %zu rows", n);
    }
    d->n = n;
    return ITS_OK;
}

its_status its_digits_parse(const char *text, size_t len, its_digits_data *out, char *err,
                            size_t errcap)
{
    if (!text || !out)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "digits: NULL argument");
    memset(out, 0, sizeof(*out));
    /* count lines with content to size the arrays once */
    size_t lines = 0;
    int content = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            lines += content;
            content = 0;
        } else if (text[i] != '\r' && text[i] != ' ' && text[i] != '\t') {
            content = 1;
        }
    }
    lines += content;
    if (lines == 0)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "digits: no data rows");
    its_digits_data d;
    ITS_TRY_DG(data_alloc(&d, lines, err, errcap));
    size_t pos = 0, row = 0, line = 0;
    while (pos < len) {
        line++;
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        size_t a = pos;
        while (a < end && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r'))
            a++;
        if (a == end) {
            pos = end + 1;
            continue;
        }
        int col = 0;
        size_t p = a;
        while (p < end) {
            long v = 0;
            int digits = 0;
            while (p < end && (text[p] == ' ' || text[p] == '\t'))
                p++;
            while (p < end && text[p] >= '0' && text[p] <= '9' && digits < 6) {
                v = v * 10 + (text[p] - '0');
                p++;
                digits++;
            }
            while (p < end && (text[p] == ' ' || text[p] == '\t' || text[p] == '\r'))
                p++;
            if (digits == 0 || (p < end && text[p] != ',')) {
                its_digits_data_free(&d);
                return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                                   "digits: line %zu, column %d: expected a non-negative integer",
                                   line, col + 1);
            }
            if (col >= ITS_DIGITS_DIM + 1) {
                its_digits_data_free(&d);
                return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                                   "digits: line %zu: more than %d columns", line,
                                   ITS_DIGITS_DIM + 1);
            }
            if (col < ITS_DIGITS_DIM) {
                if (v > 16) {
                    its_digits_data_free(&d);
                    return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                                       "digits: line %zu, column %d: pixel %ld outside 0..16", line,
                                       col + 1, v);
                }
                d.x[row * ITS_DIGITS_DIM + (size_t)col] = (float)v / 8.0f - 1.0f;
            } else {
                if (v > 9) {
                    its_digits_data_free(&d);
                    return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                                       "digits: line %zu: label %ld outside 0..9", line, v);
                }
                d.y[row] = (int)v;
            }
            col++;
            if (p < end)
                p++; /* the comma */
            if (p == end && text[p - 1] == ',') {
                its_digits_data_free(&d);
                return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                                   "digits: line %zu: trailing comma", line);
            }
        }
        if (col != ITS_DIGITS_DIM + 1) {
            its_digits_data_free(&d);
            return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                               "digits: line %zu: %d columns, expected %d", line, col,
                               ITS_DIGITS_DIM + 1);
        }
        row++;
        pos = end + 1;
    }
    d.n = row;
    *out = d;
    return ITS_OK;
}

its_status its_digits_load(const char *path, its_digits_data *out, char *err, size_t errcap)
{
    if (!path || !out)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "digits: NULL argument");
    memset(out, 0, sizeof(*out));
    gzFile f = gzopen(path, "rb"); /* reads plain files too */
    if (!f)
        return its_dg_fail(err, errcap, ITS_ERR_IO, "digits: cannot open %s", path);
    size_t cap = 1u << 20, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        gzclose(f);
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "digits: out of memory reading %s", path);
    }
    for (;;) {
        if (len == cap) {
            if (cap >= DG_MAX_BYTES) {
                free(buf);
                gzclose(f);
                return its_dg_fail(err, errcap, ITS_ERR_INVALID,
                                   "digits: %s is larger than %u bytes uncompressed", path,
                                   DG_MAX_BYTES);
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                gzclose(f);
                return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "digits: out of memory reading %s",
                                   path);
            }
            buf = nb;
            cap *= 2;
        }
        int got = gzread(f, buf + len, (unsigned)(cap - len));
        if (got < 0) {
            int zerr = 0;
            const char *msg = gzerror(f, &zerr);
            its_status s = its_dg_fail(err, errcap, ITS_ERR_IO, "digits: reading %s: %s", path,
                                       msg ? msg : "zlib error");
            free(buf);
            gzclose(f);
            return s;
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    int zerr = 0;
    gzerror(f, &zerr);
    gzclose(f);
    if (zerr != Z_OK && zerr != Z_STREAM_END) {
        free(buf);
        return its_dg_fail(err, errcap, ITS_ERR_IO, "digits: %s is a damaged gzip stream", path);
    }
    its_status s = its_digits_parse(buf, len, out, err, errcap);
    free(buf);
    return s;
}

static its_status select_rows(const its_digits_data *d, int part, int cls, its_digits_data *out,
                              char *err, size_t errcap)
{
    size_t n = 0;
    for (size_t i = 0; i < d->n; i++)
        n += part >= 0 ? (int)(i & 1) == part : d->y[i] == cls;
    ITS_TRY_DG(data_alloc(out, n, err, errcap));
    size_t k = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (part >= 0 ? (int)(i & 1) != part : d->y[i] != cls)
            continue;
        memcpy(out->x + k * ITS_DIGITS_DIM, d->x + i * ITS_DIGITS_DIM,
               ITS_DIGITS_DIM * sizeof(float));
        out->y[k++] = d->y[i];
    }
    return ITS_OK;
}

its_status its_digits_split(const its_digits_data *d, int part, its_digits_data *out, char *err,
                            size_t errcap)
{
    if (!d || !out || (part != 0 && part != 1))
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "digits: split part must be 0 or 1");
    return select_rows(d, part, -1, out, err, errcap);
}

its_status its_digits_select(const its_digits_data *d, int c, its_digits_data *out, char *err,
                             size_t errcap)
{
    if (!d || !out || c < 0 || c >= ITS_DIGITS_CLASSES)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "digits: class must be in 0..9");
    return select_rows(d, -1, c, out, err, errcap);
}

/* SplitMix64 (Steele, Lea, Flood 2014) */
void its_digits_rng_seed(its_digits_rng *r, uint64_t seed)
{
    r->s = seed;
    r->has_spare = 0;
    r->spare = 0;
}

uint64_t its_digits_rng_u64(its_digits_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void its_digits_shuffle(its_digits_rng *r, size_t *perm, size_t n)
{
    for (size_t i = n ? n - 1 : 0; i > 0; i--) {
        size_t j = (size_t)(its_digits_rng_u64(r) % (i + 1));
        size_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
}

double its_digits_rng_uniform(its_digits_rng *r)
{
    return ((double)(its_digits_rng_u64(r) >> 11) + 0.5) * 0x1p-53;
}

double its_digits_rng_normal(its_digits_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = its_digits_rng_uniform(r), u2 = its_digits_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}
