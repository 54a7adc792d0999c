/* The digits task (examples/digits): data, splits, weight files, MLP gradients, flow training,
 * classifiers, Frechet distance and diversity, and sampling through the library. */
#define _POSIX_C_SOURCE 200809L
#include "its_test.h"

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its_digits.h"
#include "its_fashion.h" /* the PNG writer and reader the task's pictures use */
#include "task.h"

/* Class counts of the UCI optical digits test set (UCI / scikit-learn documentation). */
static const int k_counts[10] = {178, 182, 177, 183, 181, 182, 181, 179, 174, 180};

static its_digits_data *g_all; /* loaded once; the suite's setup */

static int suite_setup(void **state)
{
    (void)state;
    static its_digits_data d;
    char err[256];
    if (its_digits_load(its_digits_default_data_path(), &d, err, sizeof(err)) != ITS_OK) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    g_all = &d;
    return 0;
}

static int suite_teardown(void **state)
{
    (void)state;
    its_digits_data_free(g_all);
    return 0;
}

static void write_file(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* ---- data ---- */

static void test_data_counts(void **state)
{
    (void)state;
    const its_digits_data *d = g_all;
    assert_int_equal(d->n, 1797);
    int c[10] = {0};
    for (size_t i = 0; i < d->n; i++) {
        assert_true(d->y[i] >= 0 && d->y[i] <= 9);
        c[d->y[i]]++;
    }
    for (int k = 0; k < 10; k++)
        assert_int_equal(c[k], k_counts[k]);
    for (size_t i = 0; i < d->n * ITS_DIGITS_DIM; i++)
        assert_true(d->x[i] >= -1.0f && d->x[i] <= 1.0f);
    /* first row of the file: 0,0,5,13,9,1,0,0, ... label 0; scaling v/8 - 1 */
    assert_true(d->x[2] == 5.0f / 8.0f - 1.0f && d->x[3] == 13.0f / 8.0f - 1.0f);
    assert_int_equal(d->y[0], 0);
}

static void expect_parse(const char *text, its_status want, const char *needle)
{
    its_digits_data d;
    char err[256] = "";
    its_status s = its_digits_parse(text, strlen(text), &d, err, sizeof(err));
    if (s != want)
        fail_msg("parse of \"%.40s\": %s, expected %s (%s)", text, its_status_str(s),
                 its_status_str(want), err);
    if (needle && !strstr(err, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err, needle);
    its_digits_data_free(&d);
}

static void test_data_errors(void **state)
{
    (void)state;
    char row[512] = "";
    for (int j = 0; j < 64; j++)
        strcat(row, "1,");
    char good[1200], bad[1200];
    snprintf(good, sizeof(good), "%s7\n%s2\r\n\n", row, row);
    its_digits_data d;
    ITS_ASSERT_OK(its_digits_parse(good, strlen(good), &d, NULL, 0));
    assert_int_equal(d.n, 2);
    assert_int_equal(d.y[0], 7);
    assert_int_equal(d.y[1], 2);
    assert_true(d.x[5] == 1.0f / 8.0f - 1.0f);
    its_digits_data_free(&d);

    expect_parse("", ITS_ERR_INVALID, "no data");
    snprintf(bad, sizeof(bad), "%s10\n", row);
    expect_parse(bad, ITS_ERR_INVALID, "label");
    snprintf(bad, sizeof(bad), "17,%s3\n", row + 2);
    expect_parse(bad, ITS_ERR_INVALID, "pixel 17");
    snprintf(bad, sizeof(bad), "%s3,4\n", row);
    expect_parse(bad, ITS_ERR_INVALID, "more than 65");
    snprintf(bad, sizeof(bad), "%s\n", row + 2); /* 63 pixels and a trailing comma */
    expect_parse(bad, ITS_ERR_INVALID, "line 1");
    snprintf(bad, sizeof(bad), "%s3\n1,2\n", row);
    expect_parse(bad, ITS_ERR_INVALID, "line 2");
    snprintf(bad, sizeof(bad), "x,%s3\n", row + 2);
    expect_parse(bad, ITS_ERR_INVALID, "column 1");
    snprintf(bad, sizeof(bad), "-1,%s3\n", row + 2);
    expect_parse(bad, ITS_ERR_INVALID, "column 1");

    char err[256] = "";
    assert_int_equal(its_digits_load("no/such/digits.csv.gz", &d, err, sizeof(err)), ITS_ERR_IO);
    assert_non_null(strstr(err, "cannot open"));
    /* plain text loads too; a damaged gzip stream is an I/O error */
    write_file("test_digits_plain.csv", good, strlen(good));
    ITS_ASSERT_OK(its_digits_load("test_digits_plain.csv", &d, err, sizeof(err)));
    assert_int_equal(d.n, 2);
    its_digits_data_free(&d);
    FILE *src = fopen(its_digits_default_data_path(), "rb");
    assert_non_null(src);
    static unsigned char gz[4096];
    size_t got = fread(gz, 1, sizeof(gz), src);
    fclose(src);
    assert_int_equal(got, sizeof(gz));
    for (size_t i = 200; i < sizeof(gz); i += 7)
        gz[i] ^= 0x5a;
    write_file("test_digits_bad.csv.gz", gz, sizeof(gz));
    its_status s = its_digits_load("test_digits_bad.csv.gz", &d, err, sizeof(err));
    assert_true(s == ITS_ERR_IO || s == ITS_ERR_INVALID);
    assert_true(strlen(err) > 0);
    remove("test_digits_plain.csv");
    remove("test_digits_bad.csv.gz");
}

static void test_split_disjoint(void **state)
{
    (void)state;
    const its_digits_data *d = g_all;
    its_digits_data a, b;
    ITS_ASSERT_OK(its_digits_split(d, 0, &a, NULL, 0));
    ITS_ASSERT_OK(its_digits_split(d, 1, &b, NULL, 0));
    assert_int_equal(a.n + b.n, d->n);
    assert_int_equal(a.n, 899);
    /* A holds the even rows, B the odd rows, in order: every source row lands in exactly one */
    for (size_t i = 0; i < d->n; i++) {
        const its_digits_data *p = (i & 1) ? &b : &a;
        size_t k = i / 2;
        assert_memory_equal(p->x + k * 64, d->x + i * 64, 64 * sizeof(float));
        assert_int_equal(p->y[k], d->y[i]);
    }
    int ca[10] = {0}, cb[10] = {0};
    for (size_t i = 0; i < a.n; i++)
        ca[a.y[i]]++;
    for (size_t i = 0; i < b.n; i++)
        cb[b.y[i]]++;
    for (int k = 0; k < 10; k++) {
        assert_int_equal(ca[k] + cb[k], k_counts[k]);
        assert_true(ca[k] >= 80 && cb[k] >= 80);
    }
    its_digits_data t;
    ITS_ASSERT_OK(its_digits_select(d, 3, &t, NULL, 0));
    assert_int_equal(t.n, 183);
    for (size_t i = 0; i < t.n; i++)
        assert_int_equal(t.y[i], 3);
    assert_int_equal(its_digits_split(d, 2, &t, NULL, 0), ITS_ERR_INVALID);
    its_digits_data_free(&t);
    its_digits_data_free(&a);
    its_digits_data_free(&b);
}

/* ---- weight files ---- */

static void make_flow(its_mlp *m, int hidden, uint64_t seed)
{
    int dims[4] = {64 + 2 * 3, hidden, hidden, 64};
    ITS_ASSERT_OK(its_mlp_create(m, ITS_MLP_FLOW, 3, dims, 3, 0, seed, NULL, 0));
}

static void test_weights_roundtrip(void **state)
{
    (void)state;
    its_mlp m, c, back;
    make_flow(&m, 16, 5);
    int cd[3] = {64, 12, 10};
    ITS_ASSERT_OK(its_mlp_create(&c, ITS_MLP_CLASSIFIER, 2, cd, 0, 10, 9, NULL, 0));
    const its_mlp *ms[2] = {&m, &c};
    for (int k = 0; k < 2; k++) {
        char err[256] = "";
        ITS_ASSERT_OK(its_mlp_save(ms[k], "test_digits_w.itsw", err, sizeof(err)));
        ITS_ASSERT_OK(its_mlp_load("test_digits_w.itsw", ms[k]->kind, &back, err, sizeof(err)));
        assert_int_equal(back.kind, ms[k]->kind);
        assert_int_equal(back.n_layers, ms[k]->n_layers);
        assert_memory_equal(back.dims, ms[k]->dims, sizeof(int) * (size_t)(back.n_layers + 1));
        assert_int_equal(back.n_freq, ms[k]->n_freq);
        assert_int_equal(back.n_class, ms[k]->n_class);
        assert_int_equal(back.n_params, ms[k]->n_params);
        assert_memory_equal(back.params, ms[k]->params, back.n_params * sizeof(float));
        its_mlp_free(&back);
        ITS_ASSERT_OK(its_mlp_load("test_digits_w.itsw", 0, &back, err, sizeof(err)));
        its_mlp_free(&back);
    }
    /* the documented size: 24 + 4 (L + 1) + 4 P + 4 */
    unsigned char *buf;
    size_t len;
    ITS_ASSERT_OK(its_mlp_to_buffer(&m, &buf, &len, NULL, 0));
    assert_int_equal(len, 24 + 4 * 4 + 4 * m.n_params + 4);
    assert_memory_equal(buf, "IDGW", 4);
    free(buf);
    remove("test_digits_w.itsw");
    its_mlp_free(&m);
    its_mlp_free(&c);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* CRC-32 (IEEE, reflected), bitwise: an independent check of the file's checksum. */
static uint32_t crc32_ref(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static void expect_load(const unsigned char *buf, size_t len, int kind, its_status want,
                        const char *needle)
{
    its_mlp m;
    char err[256] = "";
    write_file("test_digits_bad.itsw", buf, len);
    its_status s = its_mlp_load("test_digits_bad.itsw", kind, &m, err, sizeof(err));
    if (s != want)
        fail_msg("load: %s, expected %s (%s)", its_status_str(s), its_status_str(want), err);
    if (!strstr(err, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err, needle);
    assert_null(m.params);
    /* the in-memory parser agrees */
    assert_int_equal(its_mlp_from_buffer(buf, len, kind, &m, NULL, 0), want);
}

static void test_weights_corrupt(void **state)
{
    (void)state;
    its_mlp m;
    make_flow(&m, 8, 3);
    unsigned char *good;
    size_t len;
    ITS_ASSERT_OK(its_mlp_to_buffer(&m, &good, &len, NULL, 0));
    uint32_t stored = (uint32_t)good[len - 4] | (uint32_t)good[len - 3] << 8 |
                      (uint32_t)good[len - 2] << 16 | (uint32_t)good[len - 1] << 24;
    assert_int_equal(stored, crc32_ref(good, len - 4));
    unsigned char *b = malloc(len + 8);
    assert_non_null(b);
#define RESET() memcpy(b, good, len)
#define RESEAL() put32(b + len - 4, crc32_ref(b, len - 4))

    its_mlp out;
    char err[256] = "";
    assert_int_equal(its_mlp_load("no/such/file.itsw", 0, &out, err, sizeof(err)), ITS_ERR_IO);
    assert_non_null(strstr(err, "cannot open"));
    RESET();
    expect_load(b, 0, 0, ITS_ERR_INVALID, "not a digits weight file");
    expect_load(b, 12, 0, ITS_ERR_IO, "truncated");
    expect_load(b, 30, 0, ITS_ERR_IO, "truncated");
    expect_load(b, len - 1, 0, ITS_ERR_IO, "truncated");
    expect_load(b, len / 2, 0, ITS_ERR_IO, "truncated");
    b[len] = 0;
    expect_load(b, len + 1, 0, ITS_ERR_IO, "trailing");
    RESET();
    b[24 + 16 + 40] ^= 0x10; /* one payload bit */
    expect_load(b, len, 0, ITS_ERR_IO, "checksum");
    RESET();
    b[len - 1] ^= 1;
    expect_load(b, len, 0, ITS_ERR_IO, "checksum");
    RESET();
    b[0] = 'X';
    RESEAL();
    expect_load(b, len, 0, ITS_ERR_INVALID, "magic");
    RESET();
    put32(b + 4, 2);
    RESEAL();
    expect_load(b, len, 0, ITS_ERR_INVALID, "version 2");
    RESET();
    put32(b + 8, 7);
    RESEAL();
    expect_load(b, len, 0, ITS_ERR_INVALID, "kind");
    RESET();
    expect_load(b, len, ITS_MLP_CLASSIFIER, ITS_ERR_INVALID, "flow model file where a classifier");
    put32(b + 12, 0);
    RESEAL();
    expect_load(b, len, 0, ITS_ERR_INVALID, "layers");
    RESET();
    put32(b + 12, 9);
    RESEAL();
    expect_load(b, len, 0, ITS_ERR_INVALID, "layers");
    RESET();
    put32(b + 24, 71); /* d_0 must be 64 + 2 n_freq = 70 */
    RESEAL();
    expect_load(b, len, 0, ITS_ERR_INVALID, "shape");
    RESET();
    put32(b + 24 + 12, 32); /* d_3 must be 64 */
    RESEAL();
    expect_load(b, len, 0, ITS_ERR_INVALID, "shape");
    RESET();
    put32(b + 24 + 4, 0); /* a zero width */
    RESEAL();
    expect_load(b, len, 0, ITS_ERR_INVALID, "width");
    RESET();
    put32(b + 24 + 4, 1u << 30); /* a huge width: rejected before any allocation */
    RESEAL();
    expect_load(b, len, 0, ITS_ERR_INVALID, "width");
    RESET();
    put32(b + 24 + 4, 9); /* consistent header, but the payload is too short for it */
    RESEAL();
    expect_load(b, len, 0, ITS_ERR_IO, "truncated");
    RESET();
    put32(b + 20, 10); /* conditional classes without room in d_0 */
    RESEAL();
    expect_load(b, len, 0, ITS_ERR_INVALID, "shape");
    RESET();
    put32(b + 24 + 16 + 8, 0x7fc00000u); /* a NaN weight under a valid checksum */
    RESEAL();
    expect_load(b, len, 0, ITS_ERR_INVALID, "not finite");
#undef RESET
#undef RESEAL
    remove("test_digits_bad.itsw");
    free(b);
    free(good);
    its_mlp_free(&m);
}

/* The seed corpus of the weight-file fuzzer: valid-* load, bad-io-* and bad-invalid-* fail with
 * that status. */
static void test_weights_corpus(void **state)
{
    (void)state;
    DIR *dir = opendir(ITS_WEIGHTS_CORPUS);
    assert_non_null(dir);
    int seen[3] = {0};
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        const char *n = de->d_name;
        int k = !strncmp(n, "valid-", 6) ? 0 : !strncmp(n, "bad-io-", 7) ? 1
                : !strncmp(n, "bad-invalid-", 12)                   ? 2
                                                                    : -1;
        if (k < 0)
            continue;
        char path[1024], err[256] = "";
        snprintf(path, sizeof(path), "%s/%s", ITS_WEIGHTS_CORPUS, n);
        its_mlp m;
        its_status s = its_mlp_load(path, 0, &m, err, sizeof(err));
        its_status want = k == 0 ? ITS_OK : k == 1 ? ITS_ERR_IO : ITS_ERR_INVALID;
        if (s != want)
            fail_msg("%s: %s, expected %s (%s)", n, its_status_str(s), its_status_str(want), err);
        if (k == 0) {
            /* a valid file re-encodes to the same bytes */
            unsigned char *buf;
            size_t len;
            ITS_ASSERT_OK(its_mlp_to_buffer(&m, &buf, &len, NULL, 0));
            FILE *f = fopen(path, "rb");
            assert_non_null(f);
            unsigned char *orig = malloc(len + 1);
            assert_non_null(orig);
            assert_int_equal(fread(orig, 1, len + 1, f), len);
            fclose(f);
            assert_memory_equal(orig, buf, len);
            free(orig);
            free(buf);
        } else {
            assert_true(strlen(err) > 0);
        }
        its_mlp_free(&m);
        seen[k]++;
    }
    closedir(dir);
    assert_true(seen[0] >= 3 && seen[1] >= 3 && seen[2] >= 5);
}

/* ---- gradients ---- */

/* L = sum_r sum_k c[r, k] out[r, k], accumulated in double. */
static double weighted_out(const its_mlp *m, its_mlp_work *w, const float *x, size_t n,
                           const float *c)
{
    memcpy(w->h[0], x, n * (size_t)m->dims[0] * sizeof(float));
    its_mlp_forward(m, w, n);
    double s = 0;
    size_t k = n * (size_t)m->dims[m->n_layers];
    for (size_t i = 0; i < k; i++)
        s += (double)c[i] * w->h[m->n_layers][i];
    return s;
}

/* Central differences in float with h = 1e-2 on O(1) inputs: truncation ~h^2 |f'''| / 6 and
 * rounding ~1e-7 |L| / h, both well under the tolerance 2e-3 + 1e-2 |g|; a wrong backward pass
 * errs by O(|g|). */
static void test_mlp_grad_fd(void **state)
{
    (void)state;
    its_mlp m;
    int dims[4] = {64, 12, 9, 10};
    ITS_ASSERT_OK(its_mlp_create(&m, ITS_MLP_CLASSIFIER, 3, dims, 0, 10, 17, NULL, 0));
    for (size_t i = 0; i < m.n_params; i++) /* non-zero biases too */
        m.params[i] += 0.05f * (float)((i * 7919) % 13) / 13.0f;
    enum { N = 3 };
    its_mlp_work w;
    ITS_ASSERT_OK(its_mlp_work_create(&m, N, &w, NULL, 0));
    its_digits_rng r;
    its_digits_rng_seed(&r, 99);
    float x[N * 64], c[N * 10], din[N * 64];
    for (int i = 0; i < N * 64; i++)
        x[i] = (float)(2.0 * its_digits_rng_uniform(&r) - 1.0);
    for (int i = 0; i < N * 10; i++)
        c[i] = (float)its_digits_rng_normal(&r);
    float *grad = calloc(m.n_params, sizeof(float));
    assert_non_null(grad);
    weighted_out(&m, &w, x, N, c);
    its_mlp_backward(&m, &w, N, c, grad, din);
    const float h = 1e-2f;
    double worst = 0;
    for (size_t i = 0; i < m.n_params; i += 11) {
        float keep = m.params[i];
        m.params[i] = keep + h;
        double lp = weighted_out(&m, &w, x, N, c);
        m.params[i] = keep - h;
        double lm = weighted_out(&m, &w, x, N, c);
        m.params[i] = keep;
        double fd = (lp - lm) / (2.0 * h), err = fabs(fd - grad[i]);
        if (err > 2e-3 + 1e-2 * fabs(grad[i]))
            fail_msg("param %zu: backward %.6g, finite difference %.6g", i, grad[i], fd);
        worst = fmax(worst, err);
    }
    for (size_t i = 0; i < N * 64; i += 5) {
        float keep = x[i];
        x[i] = keep + h;
        double lp = weighted_out(&m, &w, x, N, c);
        x[i] = keep - h;
        double lm = weighted_out(&m, &w, x, N, c);
        x[i] = keep;
        double fd = (lp - lm) / (2.0 * h);
        if (fabs(fd - din[i]) > 2e-3 + 1e-2 * fabs(din[i]))
            fail_msg("input %zu: backward %.6g, finite difference %.6g", i, din[i], fd);
    }
    /* gradients accumulate: a second backward pass doubles them */
    float g0 = grad[0];
    weighted_out(&m, &w, x, N, c);
    its_mlp_backward(&m, &w, N, c, grad, NULL);
    ITS_ASSERT_NEAR(grad[0], 2.0 * g0, 1e-6 + 1e-5 * fabs(g0));
    free(grad);
    its_mlp_work_free(&w);
    its_mlp_free(&m);
}

/* The verifier's gradient of log p(target | x) against central differences of its score. */
static void test_verifier_grad_fd(void **state)
{
    (void)state;
    for (int hidden = 0; hidden <= 16; hidden += 16) {
        its_mlp m;
        int dims[3] = {64, hidden ? hidden : 10, 10};
        ITS_ASSERT_OK(its_mlp_create(&m, ITS_MLP_CLASSIFIER, hidden ? 2 : 1, dims, 0, 10,
                                     31 + (uint64_t)hidden, NULL, 0));
        for (size_t i = 0; i < m.n_params; i++)
            m.params[i] *= 3.0f; /* sharper softmax than at initialisation */
        its_clf c;
        ITS_ASSERT_OK(its_clf_create(&c, &m, 2, 3, NULL, 0)); /* cap 2 < rows: chunking */
        its_verifier v;
        its_clf_bind_verifier(&c, &v);
        assert_non_null(v.grad);
        enum { N = 5 };
        float x[N * 64], g[N * 64], s[N], s2[N], lp, lm;
        for (int i = 0; i < N * 64; i++)
            x[i] = g_all->x[i + 64 * 10];
        assert_int_equal(v.grad(v.user, x, N, g, s), 0);
        assert_int_equal(v.score(v.user, x, N, s2), 0);
        for (int r = 0; r < N; r++) {
            assert_true(s[r] <= 0.0f && s[r] == s2[r]);
            for (int j = 0; j < 64; j += 3) {
                float *xi = x + r * 64 + j, keep = *xi;
                *xi = keep + 1e-2f;
                its_clf_logp(&c, x + r * 64, 1, &lp, NULL);
                *xi = keep - 1e-2f;
                its_clf_logp(&c, x + r * 64, 1, &lm, NULL);
                *xi = keep;
                double fd = ((double)lp - lm) / 2e-2, an = g[r * 64 + j];
                if (fabs(fd - an) > 2e-3 + 1e-2 * fabs(an))
                    fail_msg("hidden %d row %d pixel %d: grad %.6g, finite difference %.6g",
                             hidden, r, j, an, fd);
            }
        }
        its_clf_free(&c);
        its_mlp_free(&m);
    }
}

/* ---- training ---- */

static void test_flow_training(void **state)
{
    (void)state;
    its_flow_train_params p;
    its_flow_train_params_init(&p);
    p.hidden = 64;
    p.layers = 3;
    p.n_freq = 3;
    p.epochs = 30;
    p.lr = 4e-3;
    p.seed = 4;
    its_mlp init, m, again;
    int dims[4] = {70, 64, 64, 64};
    ITS_ASSERT_OK(its_mlp_create(&init, ITS_MLP_FLOW, 3, dims, 3, 0, p.seed, NULL, 0));
    double l0, l1, last;
    ITS_ASSERT_OK(its_flow_loss(&init, g_all, 123, 1, &l0, NULL, 0));
    ITS_ASSERT_OK(its_flow_train(g_all, &p, &m, &last, NULL, NULL, 0));
    ITS_ASSERT_OK(its_flow_loss(&m, g_all, 123, 1, &l1, NULL, 0));
    /* The best constant prediction of u = eps - x0 has loss 1 + mean pixel variance (eps is
     * independent of x0); a model that learned anything from x_t and t must beat it. */
    double mean[64], cov[64 * 64], base = 1.0;
    ITS_ASSERT_OK(its_stats_mean_cov(g_all->x, g_all->n, 64, mean, cov, NULL, 0));
    for (int j = 0; j < 64; j++)
        base += cov[j * 64 + j] * (double)(g_all->n - 1) / (double)g_all->n / 64.0;
    if (!(l1 < 0.85 * base && l1 < 0.7 * l0))
        fail_msg("flow loss %.4f after training, %.4f before, %.4f for the best constant", l1, l0,
                 base);
    assert_true(last > 0 && last < l0);
    /* measured: 1.72 -> 0.92 against 1.29 for the best constant */
    /* deterministic: a second run gives the same bits */
    ITS_ASSERT_OK(its_flow_train(g_all, &p, &again, NULL, NULL, NULL, 0));
    assert_int_equal(again.n_params, m.n_params);
    assert_memory_equal(again.params, m.params, m.n_params * sizeof(float));
    its_mlp_free(&init);
    its_mlp_free(&m);
    its_mlp_free(&again);
}

static void test_classifier_accuracy(void **state)
{
    (void)state;
    its_digits_data a, b;
    ITS_ASSERT_OK(its_digits_split(g_all, 0, &a, NULL, 0));
    ITS_ASSERT_OK(its_digits_split(g_all, 1, &b, NULL, 0));
    its_clf_train_params vp, ep;
    its_digits_verifier_params(&vp);
    its_digits_evaluator_params(&ep);
    its_mlp v, e;
    double ce, acc_v, acc_e, acc_train;
    ITS_ASSERT_OK(its_clf_train(&a, &vp, &v, &ce, NULL, NULL, 0));
    ITS_ASSERT_OK(its_clf_train(&b, &ep, &e, NULL, NULL, NULL, 0));
    ITS_ASSERT_OK(its_clf_accuracy(&v, &b, &acc_v, NULL, 0));
    ITS_ASSERT_OK(its_clf_accuracy(&e, &a, &acc_e, NULL, 0));
    ITS_ASSERT_OK(its_clf_accuracy(&v, &a, &acc_train, NULL, 0));
    /* Linear models reach about 95% on 8x8 digits; chance is 10%. */
    if (!(acc_v > 0.90 && acc_e > 0.90))
        fail_msg("held-out accuracy: verifier %.4f, evaluator %.4f", acc_v, acc_e);
    assert_true(acc_train >= acc_v - 0.01);
    assert_true(ce > 0 && ce < 0.5);
    assert_int_equal(v.n_layers, 1);
    assert_int_equal(e.n_layers, 2);
    its_mlp_free(&v);
    its_mlp_free(&e);
    its_digits_data_free(&a);
    its_digits_data_free(&b);
}

/* ---- metrics ---- */

/* A rounding bound for its_frechet_gauss, independent of the BLAS/LAPACK kernels chosen at run
 * time. FD = |mu1 - mu2|^2 + tr c1 + tr c2 - 2 sum_i sqrt(mu_i), mu_i the eigenvalues of
 * M = c1^1/2 c2 c1^1/2. The square root comes from a symmetric eigen-decomposition and M from two
 * d x d products; each is backward stable (Golub & Van Loan, Matrix Computations, 4th ed.,
 * 2.7.8 and 8.4), so the computed M is M + F with ||F||_2 <= c d eps ||c1||_2 ||c2||_2 (c = 4
 * covers the products, the symmetrisation and both decompositions), and by Weyl's inequality each
 * computed eigenvalue moves by at most delta = ||F||_2. A square root then moves by
 * min(sqrt(delta), delta / (2 sqrt(mu_i))): the first form is what a (near-)singular covariance
 * gets, and it is why a set against itself, with pixels that never vary, is 0 only up to
 * d sqrt(c d eps) ||c||, not d eps ||c||. mu may be NULL (then every eigenvalue is taken as
 * possibly 0). The traces and the mean term add c d eps times their size. ||.||_2 <= trace for a
 * PSD matrix. */
static double frechet_tol(int d, const double *mu, double tr1, double tr2, double d2)
{
    const double c = 4.0, eps = DBL_EPSILON;
    double delta = c * d * eps * tr1 * tr2, tol = c * d * eps * (tr1 + tr2 + d2);
    for (int i = 0; i < d; i++) {
        double a = sqrt(delta);
        if (mu && mu[i] > 0 && delta / (2.0 * sqrt(mu[i])) < a)
            a = delta / (2.0 * sqrt(mu[i]));
        tol += 2.0 * a;
    }
    return tol;
}

static void test_frechet_closed_form(void **state)
{
    (void)state;
    double fd;
    /* 2-D, non-commuting covariances: for 2x2 PSD M, tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)),
     * with M = c1^1/2 c2 c1^1/2: tr M = tr(c1 c2), det M = det c1 det c2. */
    double m1[2] = {0.5, -1.0}, m2[2] = {-0.25, 2.0};
    double c1[4] = {2.0, 0.6, 0.6, 1.0}, c2[4] = {0.5, -0.3, -0.3, 3.0};
    double tr12 = c1[0] * c2[0] + c1[1] * c2[2] + c1[2] * c2[1] + c1[3] * c2[3];
    double det1 = c1[0] * c1[3] - c1[1] * c1[2], det2 = c2[0] * c2[3] - c2[1] * c2[2];
    double want = (0.75 * 0.75 + 3.0 * 3.0) + (3.0 + 3.5) -
                  2.0 * sqrt(tr12 + 2.0 * sqrt(det1 * det2));
    /* the eigenvalues of c1 c2: roots of x^2 - tr12 x + det1 det2 */
    double disc = sqrt(tr12 * tr12 - 4.0 * det1 * det2);
    double mu2x2[2] = {0.5 * (tr12 - disc), 0.5 * (tr12 + disc)};
    double tol = frechet_tol(2, mu2x2, c1[0] + c1[3], c2[0] + c2[3], 0.75 * 0.75 + 9.0);
    ITS_ASSERT_OK(its_frechet_gauss(2, m1, c1, m2, c2, &fd, NULL, 0));
    ITS_ASSERT_NEAR(fd, want, tol);
    /* symmetric in its arguments */
    double fd2;
    ITS_ASSERT_OK(its_frechet_gauss(2, m2, c2, m1, c1, &fd2, NULL, 0));
    ITS_ASSERT_NEAR(fd2, want, tol);

    /* 64-D diagonal: |mu1 - mu2|^2 + sum (a_i - b_i)^2 for stds a, b; one zero variance */
    enum { D = 64 };
    static double mu1[D], mu2[D], s1[D * D], s2[D * D];
    memset(s1, 0, sizeof(s1));
    memset(s2, 0, sizeof(s2));
    want = 0;
    double mud[D], tra = 0, trb = 0, dd = 0;
    for (int i = 0; i < D; i++) {
        double a = i == 5 ? 0.0 : 0.1 + 0.02 * i, bb = 0.3 + 0.01 * ((i * 7) % 11);
        mu1[i] = 0.01 * i;
        mu2[i] = -0.02 * ((i * 3) % 5);
        s1[i * D + i] = a * a;
        s2[i * D + i] = bb * bb;
        mud[i] = a * a * bb * bb;
        tra += a * a;
        trb += bb * bb;
        dd += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]);
        want += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) + (a - bb) * (a - bb);
    }
    ITS_ASSERT_OK(its_frechet_gauss(D, mu1, s1, mu2, s2, &fd, NULL, 0));
    ITS_ASSERT_NEAR(fd, want, frechet_tol(D, mud, tra, trb, dd));

    /* A set against itself: 0 up to rounding (the trace term equals tr c exactly in theory);
     * digits have pixels that never vary, so c is singular and the sqrt(delta) form applies. */
    its_digits_data t;
    ITS_ASSERT_OK(its_digits_select(g_all, 3, &t, NULL, 0));
    ITS_ASSERT_OK(its_frechet_samples(t.x, t.n, t.x, t.n, 64, &fd, NULL, 0));
    ITS_ASSERT_OK(its_stats_mean_cov(t.x, t.n, 64, mu1, s1, NULL, 0));
    double tr = 0;
    for (int i = 0; i < D; i++)
        tr += s1[i * D + i];
    ITS_ASSERT_NEAR(fd, 0.0, frechet_tol(D, NULL, tr, tr, 0.0));
    /* and a different digit is far away by comparison */
    its_digits_data o;
    ITS_ASSERT_OK(its_digits_select(g_all, 8, &o, NULL, 0));
    ITS_ASSERT_OK(its_frechet_samples(t.x, t.n, o.x, o.n, 64, &fd, NULL, 0));
    assert_true(fd > 0.1 * tr);
    char err[128] = "";
    assert_int_equal(its_frechet_samples(t.x, 1, o.x, o.n, 64, &fd, err, sizeof(err)),
                     ITS_ERR_INVALID);
    assert_non_null(strstr(err, "2 rows"));
    its_digits_data_free(&t);
    its_digits_data_free(&o);
}

static void test_mean_cov_diversity(void **state)
{
    (void)state;
    /* rows (0,0), (3,4), (0,4) in the first two pixels: distances 5, 3, 4 -> mean 4 */
    float x[3 * 64];
    memset(x, 0, sizeof(x));
    x[64] = 3, x[65] = 4, x[129] = 4;
    ITS_ASSERT_NEAR(its_diversity(x, 3, 64), 4.0, 1e-12);
    assert_true(isnan(its_diversity(x, 1, 64)));
    double mean[64], cov[64 * 64];
    ITS_ASSERT_OK(its_stats_mean_cov(x, 3, 64, mean, cov, NULL, 0));
    ITS_ASSERT_NEAR(mean[0], 1.0, 1e-12);
    ITS_ASSERT_NEAR(mean[1], 8.0 / 3.0, 1e-12);
    ITS_ASSERT_NEAR(cov[0], 3.0, 1e-12);                     /* (1 + 4 + 1) / 2 */
    ITS_ASSERT_NEAR(cov[1], (-1 * -8.0 / 3 + 2 * 4.0 / 3 + -1 * 4.0 / 3) / 2, 1e-12);
    ITS_ASSERT_NEAR(cov[64 * 64 - 1], 0.0, 0.0);
    /* PGM viewer: header and size */
    ITS_ASSERT_OK(its_digits_write_pgm("test_digits.pgm", g_all->x, 10, 5, 2, NULL, 0));
    FILE *f = fopen("test_digits.pgm", "rb");
    assert_non_null(f);
    int w = 0, h = 0, mx = 0;
    assert_int_equal(fscanf(f, "P5 %d %d %d", &w, &h, &mx), 3);
    assert_int_equal(w, 5 * 17 + 1);
    assert_int_equal(h, 2 * 17 + 1);
    assert_int_equal(mx, 255);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    assert_int_equal(size, (long)strlen("P5\n86 35\n255\n") + 86 * 35);
    remove("test_digits.pgm");
}

/* The model callback: chunks of max_batch rows give the rows' single-call results, and a
 * conditional model reads its class. */
static void test_flow_callback(void **state)
{
    (void)state;
    its_mlp m;
    int dims[4] = {64 + 8 + 10, 24, 24, 64};
    ITS_ASSERT_OK(its_mlp_create(&m, ITS_MLP_FLOW, 3, dims, 4, 10, 8, NULL, 0));
    its_flow_model fm;
    its_model model;
    ITS_ASSERT_OK(its_flow_model_create(&fm, &m, 3, &model, NULL, 0));
    assert_int_equal(model.version, ITS_MODEL_V1);
    assert_int_equal(model.dim, 64);
    assert_int_equal(model.pred, ITS_PRED_VELOCITY);
    assert_int_equal(model.interp.kind, ITS_INTERP_LINEAR);
    assert_int_equal(model.max_batch, 3);
    enum { N = 7 };
    float x[N * 64], t[N], all[N * 64], one[64], cond[N * 64];
    for (int i = 0; i < N * 64; i++)
        x[i] = g_all->x[i];
    for (int i = 0; i < N; i++)
        t[i] = 0.1f + 0.12f * (float)i;
    assert_int_equal(model.eval(model.user, x, t, N, all), 0); /* 3 + 3 + 1 rows */
    for (int i = 0; i < N; i++) {
        assert_int_equal(model.eval(model.user, x + i * 64, t + i, 1, one), 0);
        for (int j = 0; j < 64; j++)
            ITS_ASSERT_NEAR(all[i * 64 + j], one[j], 1e-5 * (1 + fabs(one[j])));
    }
    fm.cond_class = 3;
    assert_int_equal(model.eval(model.user, x, t, N, cond), 0);
    double diff = 0;
    for (int i = 0; i < N * 64; i++)
        diff += fabs(cond[i] - all[i]);
    assert_true(diff > 1e-3);
    its_flow_model_free(&fm);
    its_mlp_free(&m);
}

/* The CLI task: weights from a folder, measure() on real digits, errors for a bad file. */
static void test_task(void **state)
{
    (void)state;
    const its_task_vt *vt = &its_task_digits;
    assert_int_equal(vt->version, ITS_TASK_V1);
    assert_string_equal(vt->name, "digits");
    /* tiny models in a fresh folder: the task loads them instead of training */
    mkdir("test_digits_task", 0777);
    its_mlp flow, ver, eva;
    make_flow(&flow, 8, 1);
    its_digits_data a, b;
    ITS_ASSERT_OK(its_digits_split(g_all, 0, &a, NULL, 0));
    ITS_ASSERT_OK(its_digits_split(g_all, 1, &b, NULL, 0));
    its_clf_train_params cp;
    its_digits_verifier_params(&cp);
    cp.epochs = 60;
    ITS_ASSERT_OK(its_clf_train(&a, &cp, &ver, NULL, NULL, NULL, 0));
    ITS_ASSERT_OK(its_clf_train(&b, &cp, &eva, NULL, NULL, NULL, 0));
    ITS_ASSERT_OK(its_mlp_save(&flow, "test_digits_task/flow.itsw", NULL, 0));
    ITS_ASSERT_OK(its_mlp_save(&ver, "test_digits_task/verifier.itsw", NULL, 0));
    ITS_ASSERT_OK(its_mlp_save(&eva, "test_digits_task/evaluator.itsw", NULL, 0));
    its_task_value v[4];
    assert_int_equal(vt->n_settings, 4);
    for (size_t i = 0; i < vt->n_settings; i++) {
        v[i].str = vt->settings[i].def;
        v[i].num = atof(vt->settings[i].def);
        if (!strcmp(vt->settings[i].key, "weights"))
            v[i].str = "test_digits_task";
        if (!strcmp(vt->settings[i].key, "target"))
            v[i].num = 7;
    }
    its_task_inst inst;
    char err[256] = "";
    memset(&inst, 0, sizeof(inst));
    if (vt->create(NULL, v, &inst, err, sizeof(err)) != 0)
        fail_msg("create: %s", err);
    assert_int_equal(inst.model.dim, 64);
    assert_non_null(inst.verifier.grad);
    /* measure the real sevens: the evaluator recognises them, Frechet to themselves is ~0 */
    its_digits_data sevens;
    ITS_ASSERT_OK(its_digits_select(g_all, 7, &sevens, NULL, 0));
    double out[5];
    assert_int_equal(vt->n_metrics, 5);
    assert_int_equal(vt->measure(inst.state, sevens.x, sevens.n, out, err, sizeof(err)), 0);
    float lp[200];
    its_clf c;
    ITS_ASSERT_OK(its_clf_create(&c, &ver, 64, 7, NULL, 0));
    its_clf_logp(&c, sevens.x, sevens.n, lp, NULL);
    double mean_lp = 0;
    for (size_t i = 0; i < sevens.n; i++)
        mean_lp += lp[i] / (double)sevens.n;
    ITS_ASSERT_NEAR(out[0], mean_lp, 1e-9);
    assert_true(out[1] > 0.9 && out[1] <= 1.0);
    assert_true(out[2] < 0 && out[2] > -0.5);
    ITS_ASSERT_NEAR(out[3], its_diversity(sevens.x, sevens.n, 64), 1e-9);
    ITS_ASSERT_NEAR(out[4], 0.0, 1e-6);
    /* one sample: pooled metrics are NaN */
    assert_int_equal(vt->measure(inst.state, sevens.x, 1, out, err, sizeof(err)), 0);
    assert_true(isnan(out[3]) && isnan(out[4]));
    assert_true(out[1] == 0.0 || out[1] == 1.0);
    /* pictures: three sevens as a PNG grid, 8 x 8 pixels each drawn 7 x 7, dark ink on white */
    assert_non_null(vt->write_png);
    assert_int_equal(vt->write_png(inst.state, sevens.x, 3, 8, "test_digits_task/sevens.png", err,
                                   sizeof(err)),
                     0);
    unsigned char *pix = NULL;
    int w = 0, h = 0;
    ITS_ASSERT_OK(its_fashion_read_png("test_digits_task/sevens.png", &pix, &w, &h, NULL, 0));
    assert_int_equal(w, 3 * 56 + 4 * 2);
    assert_int_equal(h, 56 + 2 * 2);
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 64; i++) {
            int px = 2 + k * 58 + (i % 8) * 7 + 3, py = 2 + (i / 8) * 7 + 3;
            assert_int_equal(pix[(size_t)py * (size_t)w + (size_t)px],
                             255 - its_fashion_pixel_byte(sevens.x[(size_t)k * 64 + (size_t)i]));
        }
    free(pix);
    remove("test_digits_task/sevens.png");
    vt->free(inst.state);
    vt->free(NULL);
    /* a damaged weight file stops create() with the file's name and the cause */
    FILE *f = fopen("test_digits_task/verifier.itsw", "r+b");
    assert_non_null(f);
    fseek(f, 100, SEEK_SET);
    fputc(0x55, f);
    fclose(f);
    memset(&inst, 0, sizeof(inst));
    assert_int_not_equal(vt->create(NULL, v, &inst, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "verifier.itsw"));
    assert_non_null(strstr(err, "checksum"));
    its_clf_free(&c);
    its_digits_data_free(&sevens);
    its_digits_data_free(&a);
    its_digits_data_free(&b);
    its_mlp_free(&flow);
    its_mlp_free(&ver);
    its_mlp_free(&eva);
    remove("test_digits_task/flow.itsw");
    remove("test_digits_task/verifier.itsw");
    remove("test_digits_task/evaluator.itsw");
    rmdir("test_digits_task");
}

/* ---- sampling through the library ---- */

/* A small flow model sampled with `none` must make varied digits: the held-out evaluator's
 * classes over 48 seeds cover at least 5 digits and none takes more than half. */
static void test_sampling_not_degenerate(void **state)
{
    (void)state;
    its_flow_train_params p;
    its_flow_train_params_init(&p);
    p.hidden = 96;
    p.layers = 3;
    p.epochs = 40;
    p.seed = 2;
    its_mlp flow, ev;
    ITS_ASSERT_OK(its_flow_train(g_all, &p, &flow, NULL, NULL, NULL, 0));
    its_digits_data b;
    ITS_ASSERT_OK(its_digits_split(g_all, 1, &b, NULL, 0));
    its_clf_train_params ep;
    its_digits_evaluator_params(&ep);
    ep.epochs = 60;
    ITS_ASSERT_OK(its_clf_train(&b, &ep, &ev, NULL, NULL, NULL, 0));

    its_ctx *ctx = its_test_ctx(NULL);
    assert_non_null(ctx);
    its_flow_model fm;
    its_model model;
    ITS_ASSERT_OK(its_flow_model_create(&fm, &flow, 16, &model, NULL, 0));
    its_clf eva;
    ITS_ASSERT_OK(its_clf_create(&eva, &ev, 16, 0, NULL, 0));
    its_run_params run;
    its_run_params_init(&run);
    run.steps = 16;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_NONE, NULL, &run, &s));
    enum { S = 48 };
    int hist[10] = {0};
    static float outs[S * 64];
    for (int i = 0; i < S; i++) {
        its_result *r = NULL;
        ITS_ASSERT_OK(its_generate(s, &model, NULL, (uint64_t)i, &r));
        memcpy(outs + i * 64, its_result_sample(r, 0), 64 * sizeof(float));
        its_result_free(r);
    }
    int cls[S];
    its_clf_logp(&eva, outs, S, NULL, cls);
    int distinct = 0, most = 0;
    for (int i = 0; i < S; i++)
        hist[cls[i]]++;
    for (int k = 0; k < 10; k++) {
        distinct += hist[k] > 0;
        most = hist[k] > most ? hist[k] : most;
    }
    if (distinct < 5 || most > S / 2)
        fail_msg("evaluator classes: %d distinct, largest %d of %d", distinct, most, S);
    /* samples live on the data's scale, and differ from one another */
    double d = its_diversity(outs, S, 64);
    assert_true(d > 1.0 && d < 30.0);
    its_sampler_free(s);
    its_clf_free(&eva);
    its_flow_model_free(&fm);
    its_ctx_free(ctx);
    its_mlp_free(&flow);
    its_mlp_free(&ev);
    its_digits_data_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_counts),
        cmocka_unit_test(test_data_errors),
        cmocka_unit_test(test_split_disjoint),
        cmocka_unit_test(test_weights_roundtrip),
        cmocka_unit_test(test_weights_corrupt),
        cmocka_unit_test(test_weights_corpus),
        cmocka_unit_test(test_mlp_grad_fd),
        cmocka_unit_test(test_verifier_grad_fd),
        cmocka_unit_test(test_flow_training),
        cmocka_unit_test(test_classifier_accuracy),
        cmocka_unit_test(test_frechet_closed_form),
        cmocka_unit_test(test_mean_cov_diversity),
        cmocka_unit_test(test_flow_callback),
        cmocka_unit_test(test_task),
        cmocka_unit_test(test_sampling_not_degenerate),
    };
    return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
