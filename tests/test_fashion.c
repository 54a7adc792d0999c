/* The fashion task (examples/fashion): the IDX reader and its errors, weight files, training
 * gradients against finite differences, deterministic training, classifier accuracy on a
 * small split, PNG grids written and read back, and the task end to end through the library.
 * Every network here is tiny; the data is Fashion-MNIST as installed by dataset-fashion-mnist. */
#define _POSIX_C_SOURCE 200809L
#include "its_test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "its_fashion.h"
#include "task.h"

static its_fashion_data g_test; /* t10k, loaded once */

static int suite_setup(void **state)
{
    (void)state;
    char err[512];
    if (its_fashion_load(NULL, "t10k", 0, &g_test, err, sizeof(err)) != ITS_OK) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    return 0;
}

static int suite_teardown(void **state)
{
    (void)state;
    its_fashion_data_free(&g_test);
    return 0;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* An IDX images buffer of n images of rows x cols, pixel (k, i) = (k + 3 i) mod 256. */
static unsigned char *make_images(uint32_t n, uint32_t rows, uint32_t cols, size_t *len)
{
    *len = 16 + (size_t)n * rows * cols;
    unsigned char *b = malloc(*len);
    assert_non_null(b);
    b[0] = b[1] = 0;
    b[2] = 0x08;
    b[3] = 3;
    put_be32(b + 4, n);
    put_be32(b + 8, rows);
    put_be32(b + 12, cols);
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < (size_t)rows * cols; i++)
            b[16 + k * rows * cols + i] = (unsigned char)((k + 3 * i) % 256);
    return b;
}

static unsigned char *make_labels(uint32_t n, size_t *len)
{
    *len = 8 + n;
    unsigned char *b = malloc(*len);
    assert_non_null(b);
    b[0] = b[1] = 0;
    b[2] = 0x08;
    b[3] = 1;
    put_be32(b + 4, n);
    for (uint32_t i = 0; i < n; i++)
        b[8 + i] = (unsigned char)(i % 10);
    return b;
}

static void expect_images(const unsigned char *b, size_t len, its_status want, const char *needle)
{
    float *x = NULL;
    size_t n = 0;
    char err[256] = "";
    its_status s = its_fashion_parse_images(b, len, &x, &n, err, sizeof(err));
    if (s != want)
        fail_msg("images (%zu bytes): %s, expected %s (%s)", len, its_status_str(s),
                 its_status_str(want), err);
    if (s != ITS_OK) {
        assert_null(x);
        if (!strstr(err, needle))
            fail_msg("message \"%s\" lacks \"%s\"", err, needle);
    }
    free(x);
}

/* ---- the IDX reader ---- */

static void test_idx_parse(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = make_images(3, 28, 28, &len);
    float *x = NULL;
    size_t n = 0;
    ITS_ASSERT_OK(its_fashion_parse_images(b, len, &x, &n, NULL, 0));
    assert_int_equal(n, 3);
    for (size_t k = 0; k < 3; k++)
        for (size_t i = 0; i < ITS_FASHION_DIM; i++)
            assert_true(x[k * ITS_FASHION_DIM + i] == (float)((k + 3 * i) % 256) / 127.5f - 1.0f);
    free(x);
    unsigned char *l = NULL;
    size_t llen;
    l = make_labels(12, &llen);
    int *y = NULL;
    ITS_ASSERT_OK(its_fashion_parse_labels(l, llen, &y, &n, NULL, 0));
    assert_int_equal(n, 12);
    for (int i = 0; i < 12; i++)
        assert_int_equal(y[i], i % 10);
    free(y);
    free(l);
    free(b);
}

static void test_idx_errors(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = make_images(2, 28, 28, &len);
    expect_images(b, 0, ITS_ERR_IO, "truncated magic");
    expect_images(b, 3, ITS_ERR_IO, "truncated magic");
    expect_images(b, 10, ITS_ERR_IO, "truncated header");
    expect_images(b, len - 1, ITS_ERR_IO, "truncated");
    expect_images(b, 16, ITS_ERR_IO, "truncated");
    b[2] = 0x0D; /* floats, not unsigned bytes */
    expect_images(b, len, ITS_ERR_IO, "bad magic");
    b[2] = 0x08;
    b[0] = 0x1f; /* a gzip stream handed over undecompressed */
    expect_images(b, len, ITS_ERR_IO, "bad magic");
    b[0] = 0;
    b[3] = 1; /* a labels file where images are expected */
    expect_images(b, len, ITS_ERR_IO, "rank 1, expected 3");
    b[3] = 3;
    put_be32(b + 8, 27);
    expect_images(b, len, ITS_ERR_IO, "27 x 28");
    put_be32(b + 8, 28);
    put_be32(b + 4, 0);
    expect_images(b, 16, ITS_ERR_IO, "no items");
    put_be32(b + 4, 0xffffffffu); /* a size that would overflow naive arithmetic */
    expect_images(b, len, ITS_ERR_IO, "above");
    put_be32(b + 4, 1);
    expect_images(b, len, ITS_ERR_IO, "trailing data");
    put_be32(b + 4, 2);
    expect_images(b, len, ITS_OK, NULL);
    free(b);
    /* labels: a value outside 0..9 */
    unsigned char *l = make_labels(4, &len);
    int *y = NULL;
    size_t n;
    char err[256] = "";
    l[8 + 2] = 10;
    assert_int_equal(its_fashion_parse_labels(l, len, &y, &n, err, sizeof(err)), ITS_ERR_IO);
    assert_null(y);
    assert_non_null(strstr(err, "label 10 at item 2"));
    free(l);
    /* a NULL buffer with a length is a caller error, not an I/O error */
    assert_int_equal(its_fashion_parse_images(NULL, 5, &(float *){NULL}, &n, NULL, 0),
                     ITS_ERR_INVALID);
}

static void write_gz(const char *path, const unsigned char *b, size_t len)
{
    gzFile f = gzopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(gzwrite(f, b, (unsigned)len), (int)len);
    assert_int_equal(gzclose(f), Z_OK);
}

/* Files on disk: counts that disagree, a missing file, a damaged gzip stream; each names the
 * file. */
static void test_idx_files(void **state)
{
    (void)state;
    const char *dir = "test_fashion_idx";
    mkdir(dir, 0777);
    size_t li, ll;
    unsigned char *im = make_images(3, 28, 28, &li), *lb = make_labels(2, &ll);
    write_gz("test_fashion_idx/x-images-idx3-ubyte.gz", im, li);
    write_gz("test_fashion_idx/x-labels-idx1-ubyte.gz", lb, ll);
    its_fashion_data d;
    char err[512] = "";
    assert_int_equal(its_fashion_load(dir, "x", 0, &d, err, sizeof(err)), ITS_ERR_IO);
    assert_non_null(strstr(err, "3 images but 2 labels"));
    assert_null(d.x);
    free(lb);
    lb = make_labels(3, &ll);
    write_gz("test_fashion_idx/x-labels-idx1-ubyte.gz", lb, ll);
    ITS_ASSERT_OK(its_fashion_load(dir, "x", 0, &d, err, sizeof(err)));
    assert_int_equal(d.n, 3);
    assert_int_equal(d.y[2], 2);
    its_fashion_data_free(&d);
    ITS_ASSERT_OK(its_fashion_load(dir, "x", 2, &d, err, sizeof(err))); /* limit */
    assert_int_equal(d.n, 2);
    its_fashion_data_free(&d);
    assert_int_equal(its_fashion_load(dir, "nope", 0, &d, err, sizeof(err)), ITS_ERR_IO);
    assert_non_null(strstr(err, "nope-images-idx3-ubyte.gz"));
    /* a gzip stream cut short */
    write_gz("test_fashion_idx/y-images-idx3-ubyte.gz", im, li);
    FILE *f = fopen("test_fashion_idx/y-images-idx3-ubyte.gz", "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fclose(f);
    assert_int_equal(truncate("test_fashion_idx/y-images-idx3-ubyte.gz", sz / 2), 0);
    write_gz("test_fashion_idx/y-labels-idx1-ubyte.gz", lb, ll);
    assert_int_equal(its_fashion_load(dir, "y", 0, &d, err, sizeof(err)), ITS_ERR_IO);
    assert_non_null(strstr(err, "y-images-idx3-ubyte.gz"));
    free(im);
    free(lb);
    remove("test_fashion_idx/x-images-idx3-ubyte.gz");
    remove("test_fashion_idx/x-labels-idx1-ubyte.gz");
    remove("test_fashion_idx/y-images-idx3-ubyte.gz");
    remove("test_fashion_idx/y-labels-idx1-ubyte.gz");
    rmdir(dir);
}

/* The installed t10k split: 10,000 images, 1,000 of each class (Xiao et al. 2017, Table 1). */
static void test_real_data(void **state)
{
    (void)state;
    assert_int_equal(g_test.n, 10000);
    int c[10] = {0};
    for (size_t i = 0; i < g_test.n; i++)
        c[g_test.y[i]]++;
    for (int k = 0; k < 10; k++)
        assert_int_equal(c[k], 1000);
    for (size_t i = 0; i < g_test.n * ITS_FASHION_DIM; i++)
        assert_true(g_test.x[i] >= -1.0f && g_test.x[i] <= 1.0f);
    its_fashion_data s;
    ITS_ASSERT_OK(its_fashion_select(&g_test, 8, &s, NULL, 0));
    assert_int_equal(s.n, 1000);
    its_fashion_data_free(&s);
    assert_string_equal(its_fashion_class_name(9), "Ankle boot");
}

/* The fuzz corpus, by name: valid-images-*, valid-labels-* and valid-weights-* parse as that;
 * every bad-* file is rejected by all three parsers with a reason. */
static void test_corpus(void **state)
{
    (void)state;
    DIR *dir = opendir(ITS_IDX_CORPUS);
    assert_non_null(dir);
    struct dirent *e;
    int seen = 0;
    while ((e = readdir(dir)) != NULL) {
        const char *nm = e->d_name;
        int valid = !strncmp(nm, "valid-", 6), bad = !strncmp(nm, "bad-", 4);
        if (!valid && !bad)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", ITS_IDX_CORPUS, nm);
        unsigned char *buf = NULL;
        size_t len = 0;
        ITS_ASSERT_OK(its_fashion_read_file(path, 1u << 20, &buf, &len, NULL, 0));
        float *x = NULL;
        int *y = NULL;
        size_t n;
        its_mlp m;
        char err[256] = "";
        its_status si = its_fashion_parse_images(buf, len, &x, &n, err, sizeof(err));
        its_status sl = its_fashion_parse_labels(buf, len, &y, &n, err, sizeof(err));
        its_status sw = its_fashion_net_from_buffer(buf, len, 0, &m, err, sizeof(err));
        int want_i = !strncmp(nm, "valid-images", 12), want_l = !strncmp(nm, "valid-labels", 12);
        int want_w = !strncmp(nm, "valid-weights", 13);
        if ((si == ITS_OK) != want_i || (sl == ITS_OK) != want_l || (sw == ITS_OK) != want_w)
            fail_msg("%s: images %s, labels %s, weights %s", nm, its_status_str(si),
                     its_status_str(sl), its_status_str(sw));
        free(x);
        free(y);
        its_mlp_free(&m);
        free(buf);
        seen++;
    }
    closedir(dir);
    assert_true(seen >= 10);
}

/* ---- weight files ---- */

static void tiny_flow(its_mlp *m, int hidden, uint64_t seed)
{
    int dims[3] = {ITS_FASHION_DIM + 4, hidden, ITS_FASHION_DIM};
    ITS_ASSERT_OK(its_fashion_net_create(m, ITS_FASHION_FLOW, 2, dims, 2, 1, seed, NULL, 0));
}

static void test_weights(void **state)
{
    (void)state;
    its_mlp m, back;
    tiny_flow(&m, 6, 3);
    for (size_t i = 0; i < m.n_params; i++)
        m.params[i] += 0.01f * (float)(i % 7);
    unsigned char *buf = NULL;
    size_t len = 0;
    ITS_ASSERT_OK(its_fashion_net_to_buffer(&m, &buf, &len, NULL, 0));
    ITS_ASSERT_OK(its_fashion_net_from_buffer(buf, len, ITS_FASHION_FLOW, &back, NULL, 0));
    assert_int_equal(back.n_params, m.n_params);
    assert_memory_equal(back.params, m.params, m.n_params * sizeof(float));
    its_mlp_free(&back);
    char err[256];
    /* a classifier where a flow model is needed, a flipped bit, a short file, a bad magic */
    assert_int_equal(its_fashion_net_from_buffer(buf, len, ITS_FASHION_CLASSIFIER, &back, err,
                                                 sizeof(err)),
                     ITS_ERR_INVALID);
    buf[len / 2] ^= 0x10;
    assert_int_equal(its_fashion_net_from_buffer(buf, len, 0, &back, err, sizeof(err)),
                     ITS_ERR_IO);
    assert_non_null(strstr(err, "checksum"));
    buf[len / 2] ^= 0x10;
    assert_int_equal(its_fashion_net_from_buffer(buf, len - 1, 0, &back, err, sizeof(err)),
                     ITS_ERR_IO);
    assert_non_null(strstr(err, "truncated"));
    buf[0] = 'X';
    assert_int_equal(its_fashion_net_from_buffer(buf, len, 0, &back, err, sizeof(err)),
                     ITS_ERR_INVALID);
    assert_non_null(strstr(err, "magic"));
    free(buf);
    /* a classifier with pooling keeps it */
    int cd[3] = {196, 5, 10};
    ITS_ASSERT_OK(its_fashion_net_create(&back, ITS_FASHION_CLASSIFIER, 2, cd, 0, 2, 1, NULL, 0));
    ITS_ASSERT_OK(its_fashion_net_save(&back, "test_fashion_w.ifmw", NULL, 0));
    its_mlp_free(&back);
    ITS_ASSERT_OK(its_fashion_net_load("test_fashion_w.ifmw", ITS_FASHION_CLASSIFIER, &back, NULL,
                                       0));
    assert_int_equal(its_fashion_net_pool(&back), 2);
    its_mlp_free(&back);
    remove("test_fashion_w.ifmw");
    /* a shape the format forbids */
    cd[0] = 784;
    assert_int_equal(its_fashion_net_create(&back, ITS_FASHION_CLASSIFIER, 2, cd, 0, 2, 1, err,
                                            sizeof(err)),
                     ITS_ERR_INVALID);
    its_mlp_free(&m);
}

/* ---- gradients ---- */

/* The flow-matching loss's parameter gradient against central differences, h = 1e-2, one
 * parameter at a time. The loss is a mean of squares accumulated in double from float network
 * outputs; moving one parameter changes the rounding of the outputs by about one float ulp
 * (6e-8 relative), so the loss difference carries a rounding error far below 1e-7 and the
 * quotient below 1e-5. Truncation is h^2 |L'''| / 6 with |L'''| of order one for these O(0.1)
 * weights: about 2e-5. The tolerance 5e-5 + 1e-2 |g| covers both; a wrong backward pass errs
 * by O(|g|), and a gradient scaled by 1.1 is rejected where |g| > 1e-3 (checked). */
static void test_flow_grad_fd(void **state)
{
    (void)state;
    its_mlp m;
    int dims[4] = {ITS_FASHION_DIM + 4, 7, 5, ITS_FASHION_DIM};
    ITS_ASSERT_OK(its_fashion_net_create(&m, ITS_FASHION_FLOW, 3, dims, 2, 1, 5, NULL, 0));
    for (size_t i = 0; i < m.n_params; i++) /* non-zero biases, larger weights */
        m.params[i] = 3.0f * m.params[i] + 0.05f * (float)((i * 7919) % 13) / 13.0f;
    enum { N = 3 };
    its_mlp_work w;
    ITS_ASSERT_OK(its_mlp_work_create(&m, N, &w, NULL, 0));
    static float x0[N * ITS_FASHION_DIM], eps[N * ITS_FASHION_DIM];
    float t[N] = {0.1f, 0.5f, 0.93f};
    memcpy(x0, g_test.x, sizeof(x0));
    its_digits_rng r;
    its_digits_rng_seed(&r, 8);
    for (size_t i = 0; i < N * ITS_FASHION_DIM; i++)
        eps[i] = (float)its_digits_rng_normal(&r);
    float *grad = calloc(m.n_params, sizeof(float));
    assert_non_null(grad);
    double l0 = its_fashion_flow_batch_loss(&m, &w, x0, t, eps, N, grad);
    assert_true(l0 > 0.5 && l0 < 10);
    /* the loss is the mean of (o - (eps - x0))^2: the no-gradient call agrees */
    ITS_ASSERT_NEAR(its_fashion_flow_batch_loss(&m, &w, x0, t, eps, N, NULL), l0, 0.0);
    const float h = 1e-2f;
    int checked = 0, big = 0;
    for (size_t i = 0; i < m.n_params; i += 97) {
        float keep = m.params[i];
        m.params[i] = keep + h;
        double lp = its_fashion_flow_batch_loss(&m, &w, x0, t, eps, N, NULL);
        m.params[i] = keep - h;
        double lm = its_fashion_flow_batch_loss(&m, &w, x0, t, eps, N, NULL);
        m.params[i] = keep;
        double fd = (lp - lm) / (2.0 * (double)h), g = grad[i], tol = 5e-5 + 1e-2 * fabs(g);
        if (fabs(fd - g) > tol)
            fail_msg("param %zu: backward %.6g, finite difference %.6g", i, g, fd);
        if (fabs(g) > 1e-3) {
            big++;
            assert_true(fabs(fd - 1.1 * g) > tol); /* the check can tell a wrong gradient */
        }
        checked++;
    }
    assert_true(checked > 50 && big > 5);
    free(grad);
    its_mlp_work_free(&w);
    its_mlp_free(&m);
}

/* The verifier's input gradient (both input resolutions) against central differences of its
 * score; same tolerance argument as above on an O(1) log-probability. */
static void test_verifier_grad_fd(void **state)
{
    (void)state;
    for (int pool = 1; pool <= 2; pool++) {
        its_mlp m;
        int dims[3] = {ITS_FASHION_DIM / (pool * pool), 9, 10};
        ITS_ASSERT_OK(its_fashion_net_create(&m, ITS_FASHION_CLASSIFIER, 2, dims, 0, pool,
                                             40 + (uint64_t)pool, NULL, 0));
        for (size_t i = 0; i < m.n_params; i++)
            m.params[i] *= 4.0f; /* sharper softmax than at initialisation */
        its_fashion_clf c;
        ITS_ASSERT_OK(its_fashion_clf_create(&c, &m, 2, 3, NULL, 0)); /* cap 2 < rows */
        its_verifier v;
        its_fashion_clf_bind_verifier(&c, &v);
        enum { N = 3 };
        static float x[N * ITS_FASHION_DIM], g[N * ITS_FASHION_DIM];
        float s[N], s2[N], lp, lm;
        memcpy(x, g_test.x + 20 * ITS_FASHION_DIM, sizeof(x));
        assert_int_equal(v.grad(v.user, x, N, g, s), 0);
        assert_int_equal(v.score(v.user, x, N, s2), 0);
        int big = 0;
        for (int row = 0; row < N; row++) {
            assert_true(s[row] <= 0.0f && s[row] == s2[row]);
            for (int j = 0; j < ITS_FASHION_DIM; j += 13) {
                float *xi = x + row * ITS_FASHION_DIM + j, keep = *xi;
                *xi = keep + 1e-2f;
                its_fashion_clf_logp(&c, x + row * ITS_FASHION_DIM, 1, &lp, NULL);
                *xi = keep - 1e-2f;
                its_fashion_clf_logp(&c, x + row * ITS_FASHION_DIM, 1, &lm, NULL);
                *xi = keep;
                double fd = ((double)lp - lm) / 2e-2, an = g[row * ITS_FASHION_DIM + j];
                if (fabs(fd - an) > 2e-3 + 1e-2 * fabs(an))
                    fail_msg("pool %d row %d pixel %d: grad %.6g, finite difference %.6g", pool,
                             row, j, an, fd);
                big += fabs(an) > 1e-2;
            }
        }
        assert_true(big > 10);
        its_fashion_clf_free(&c);
        its_mlp_free(&m);
    }
}

/* ---- training ---- */

static void test_flow_training(void **state)
{
    (void)state;
    its_fashion_data d = g_test;
    d.n = 256;
    its_fashion_flow_params p;
    its_fashion_flow_params_init(&p);
    p.hidden = 64;
    p.layers = 3;
    p.n_freq = 3;
    p.epochs = 100;
    p.batch = 32;
    p.lr = 5e-3;
    p.warmup = 20;
    p.ema = 0.95;
    p.seed = 4;
    its_mlp m, again;
    double last;
    ITS_ASSERT_OK(its_fashion_flow_train(&d, &p, &m, &last, NULL, NULL, 0));
    /* The model predicts x0; the best constant prediction (the mean image) has expected loss
     * the mean pixel variance, and a model that learned anything from x_t and t beats it. The
     * loss is estimated on fresh (t, eps), 4 draws per image in 16 batches of 64; the trained
     * model must beat the constant by five standard errors of that estimate, and the untrained
     * network (same seed) must not (the check can fail). */
    double mean[ITS_FASHION_DIM] = {0}, base = 0.0;
    for (size_t i = 0; i < d.n; i++)
        for (int j = 0; j < ITS_FASHION_DIM; j++)
            mean[j] += d.x[i * ITS_FASHION_DIM + j] / (double)d.n;
    for (size_t i = 0; i < d.n; i++)
        for (int j = 0; j < ITS_FASHION_DIM; j++) {
            double e = d.x[i * ITS_FASHION_DIM + j] - mean[j];
            base += e * e / ((double)d.n * ITS_FASHION_DIM);
        }
    its_mlp init;
    int dims[4] = {ITS_FASHION_DIM + 6, 64, 64, ITS_FASHION_DIM};
    ITS_ASSERT_OK(its_fashion_net_create(&init, ITS_FASHION_FLOW, 3, dims, 3, 1, p.seed, NULL, 0));
    const its_mlp *nets[2] = {&init, &m};
    double loss[2], se[2];
    enum { B = 64 };
    its_mlp_work w;
    ITS_ASSERT_OK(its_mlp_work_create(&m, B, &w, NULL, 0));
    static float eps[B * ITS_FASHION_DIM];
    float t[B];
    for (int k = 0; k < 2; k++) {
        its_digits_rng r;
        its_digits_rng_seed(&r, 77);
        double s1 = 0, s2 = 0;
        int batches = 0;
        for (int pass = 0; pass < 4; pass++)
            for (size_t b0 = 0; b0 < d.n; b0 += B, batches++) {
                for (int i = 0; i < B; i++) {
                    t[i] = (float)its_digits_rng_uniform(&r);
                    for (int j = 0; j < ITS_FASHION_DIM; j++)
                        eps[i * ITS_FASHION_DIM + j] = (float)its_digits_rng_normal(&r);
                }
                double l = its_fashion_flow_batch_loss(nets[k], &w, d.x + b0 * ITS_FASHION_DIM, t,
                                                       eps, B, NULL);
                s1 += l;
                s2 += l * l;
            }
        loss[k] = s1 / batches;
        se[k] = sqrt((s2 / batches - loss[k] * loss[k]) / (batches - 1));
    }
    /* measured: 0.127 (se 0.003) trained, 0.686 untrained, against 0.354 for the constant */
    if (!(loss[1] + 5 * se[1] < base) || !(loss[0] + 5 * se[0] >= base))
        fail_msg("flow loss %.4f (se %.4f) after training, %.4f (se %.4f) before, %.4f for the "
                 "best constant",
                 loss[1], se[1], loss[0], se[0], base);
    its_mlp_free(&init);
    assert_true(last > 0 && isfinite(last));
    /* deterministic: a second run gives the same bits */
    ITS_ASSERT_OK(its_fashion_flow_train(&d, &p, &again, NULL, NULL, NULL, 0));
    assert_int_equal(again.n_params, m.n_params);
    assert_memory_equal(again.params, m.params, m.n_params * sizeof(float));
    its_mlp_work_free(&w);
    its_mlp_free(&m);
    its_mlp_free(&again);
}

/* Both classifier architectures trained on 1,000 t10k images (even rows of the first 2,000)
 * and scored on the other 1,000. Chance is 0.1; softmax regression on all 60,000 training
 * images scores 0.84 (Xiao et al. 2017, benchmark table) and small MLPs on 1,000 images score
 * about 0.75-0.8. The threshold 0.6 is more than nine standard errors (sd of an accuracy
 * near 0.75 on 1,000 images: 0.014) below that, and five times chance. */
static void test_classifier_accuracy(void **state)
{
    (void)state;
    its_fashion_data first = g_test, a, b;
    first.n = 2000;
    ITS_ASSERT_OK(its_fashion_split(&first, 0, &a, NULL, 0));
    ITS_ASSERT_OK(its_fashion_split(&first, 1, &b, NULL, 0));
    assert_int_equal(a.n, 1000);
    for (int which = 0; which < 2; which++) {
        its_fashion_clf_params p;
        if (which == 0)
            its_fashion_verifier_params(&p);
        else
            its_fashion_evaluator_params(&p);
        p.hidden[0] = 64;
        p.hidden[1] = 32;
        p.epochs = 15;
        its_mlp m;
        double ce, acc, acc_train;
        ITS_ASSERT_OK(its_fashion_clf_train(&a, &p, &m, &ce, NULL, NULL, 0));
        ITS_ASSERT_OK(its_fashion_clf_accuracy(&m, &b, &acc, NULL, 0));
        ITS_ASSERT_OK(its_fashion_clf_accuracy(&m, &a, &acc_train, NULL, 0));
        if (!(acc > 0.6))
            fail_msg("%s: held-out accuracy %.3f (training %.3f, cross-entropy %.3f)",
                     which ? "evaluator" : "verifier", acc, acc_train, ce);
        assert_true(acc_train >= acc - 0.05); /* no sign of a label mix-up between splits */
        its_mlp_free(&m);
    }
    its_fashion_data_free(&a);
    its_fashion_data_free(&b);
}

/* ---- pictures ---- */

static void test_png_roundtrip(void **state)
{
    (void)state;
    const char *path = "test_fashion_grid.png";
    const size_t n = 5;
    const int cols = 3;
    /* fashion's 28 x 28 images, and 8 x 8 ones (the digits task's) through the general writer */
    for (int run = 0; run < 4; run++) {
        const int invert = run & 1, side = run < 2 ? 28 : 8, zoom = run < 2 ? 2 : 7;
        if (side == 28)
            ITS_ASSERT_OK(its_fashion_write_png(path, g_test.x, n, cols, zoom, invert, NULL, 0));
        else
            ITS_ASSERT_OK(its_png_write_grid(path, g_test.x, n, side, cols, zoom, invert, NULL,
                                             0));
        unsigned char *pix = NULL;
        int w = 0, h = 0;
        ITS_ASSERT_OK(its_fashion_read_png(path, &pix, &w, &h, NULL, 0));
        const int cell = side * zoom, gut = 2;
        assert_int_equal(w, cols * cell + (cols + 1) * gut);
        assert_int_equal(h, 2 * cell + 3 * gut);
        /* every pixel: the image's byte inside a cell, white in gutters and empty cells */
        for (int py = 0; py < h; py++)
            for (int px = 0; px < w; px++) {
                int cx = (px - gut) / (cell + gut), ox = (px - gut) % (cell + gut);
                int cy = (py - gut) / (cell + gut), oy = (py - gut) % (cell + gut);
                int want = 255;
                size_t k = (size_t)cy * cols + (size_t)cx;
                if (px >= gut && py >= gut && ox < cell && oy < cell && k < n) {
                    float v = g_test.x[k * (size_t)(side * side) + (size_t)(oy / zoom) * side +
                                       (size_t)(ox / zoom)];
                    want = its_fashion_pixel_byte(v);
                    if (invert)
                        want = 255 - want;
                }
                if (pix[(size_t)py * w + px] != want)
                    fail_msg("side %d invert %d pixel (%d, %d): %d, expected %d", side, invert, px,
                             py, pix[(size_t)py * w + px], want);
            }
        free(pix);
    }
    /* the byte mapping inverts the data scaling on its 256 levels */
    for (int v = 0; v < 256; v++)
        assert_int_equal(its_fashion_pixel_byte((float)v / 127.5f - 1.0f), v);
    assert_int_equal(its_fashion_pixel_byte(NAN), 0);
    assert_int_equal(its_fashion_pixel_byte(7.0f), 255);
    /* errors: a folder that does not exist, a file that is not a PNG, bad arguments */
    char err[256] = "";
    assert_int_equal(its_fashion_write_png("no-such-dir/x.png", g_test.x, 1, 1, 1, 0, err,
                                           sizeof(err)),
                     ITS_ERR_IO);
    assert_non_null(strstr(err, "no-such-dir/x.png"));
    assert_int_equal(its_fashion_write_png(path, g_test.x, 0, 1, 1, 0, err, sizeof(err)),
                     ITS_ERR_INVALID);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("not a png at all", f);
    fclose(f);
    unsigned char *pix = NULL;
    int w, h;
    assert_int_equal(its_fashion_read_png(path, &pix, &w, &h, err, sizeof(err)), ITS_ERR_IO);
    assert_null(pix);
    remove(path);
}

/* ---- the task end to end ---- */

/* Tiny networks in a folder; the CLI task loads them, measures the real target images, draws
 * samples through the library with `none` and `best_of_n`, and writes them as a grid. */
static void test_task(void **state)
{
    (void)state;
    const its_task_vt *vt = &its_task_fashion;
    assert_int_equal(vt->version, ITS_TASK_V1);
    assert_string_equal(vt->name, "fashion");
    assert_non_null(vt->write_png);
    const char *dir = "test_fashion_task";
    mkdir(dir, 0777);
    its_fashion_data first = g_test, a, b;
    first.n = 2000;
    ITS_ASSERT_OK(its_fashion_split(&first, 0, &a, NULL, 0));
    ITS_ASSERT_OK(its_fashion_split(&first, 1, &b, NULL, 0));
    its_mlp flow, ver, eva;
    tiny_flow(&flow, 8, 1);
    its_fashion_clf_params cp;
    its_fashion_verifier_params(&cp);
    cp.hidden[0] = 32;
    cp.epochs = 10;
    ITS_ASSERT_OK(its_fashion_clf_train(&a, &cp, &ver, NULL, NULL, NULL, 0));
    its_fashion_evaluator_params(&cp);
    cp.hidden[0] = 32;
    cp.hidden[1] = 16;
    cp.epochs = 10;
    ITS_ASSERT_OK(its_fashion_clf_train(&b, &cp, &eva, NULL, NULL, NULL, 0));
    ITS_ASSERT_OK(its_fashion_net_save(&flow, "test_fashion_task/flow.ifmw", NULL, 0));
    ITS_ASSERT_OK(its_fashion_net_save(&ver, "test_fashion_task/verifier.ifmw", NULL, 0));
    ITS_ASSERT_OK(its_fashion_net_save(&eva, "test_fashion_task/evaluator.ifmw", NULL, 0));
    its_task_value v[4];
    assert_int_equal(vt->n_settings, 4);
    for (size_t i = 0; i < vt->n_settings; i++) {
        v[i].str = vt->settings[i].def;
        v[i].num = atof(vt->settings[i].def);
        if (!strcmp(vt->settings[i].key, "weights"))
            v[i].str = dir;
        if (!strcmp(vt->settings[i].key, "target"))
            v[i].num = 1; /* trousers */
    }
    its_task_inst inst;
    char err[512] = "";
    memset(&inst, 0, sizeof(inst));
    if (vt->create(NULL, v, &inst, err, sizeof(err)) != 0)
        fail_msg("create: %s", err);
    assert_int_equal(inst.model.dim, ITS_FASHION_DIM);
    assert_non_null(inst.verifier.grad);
    /* the real trousers: the evaluator recognises most; Frechet distance to themselves is 0 */
    its_fashion_data tr;
    ITS_ASSERT_OK(its_fashion_select(&g_test, 1, &tr, NULL, 0));
    double out[5];
    assert_int_equal(vt->n_metrics, 5);
    assert_int_equal(vt->measure(inst.state, tr.x, tr.n, out, err, sizeof(err)), 0);
    assert_true(out[0] < 0 && out[1] > 0.8 && out[1] <= 1.0 && out[2] < 0);
    ITS_ASSERT_NEAR(out[3], its_diversity(tr.x, tr.n, ITS_FASHION_DIM), 1e-9);
    ITS_ASSERT_NEAR(out[4], 0.0, 1e-3);
    /* other classes are far from the trousers in the evaluator's features */
    its_fashion_data bags;
    ITS_ASSERT_OK(its_fashion_select(&g_test, 8, &bags, NULL, 0));
    double ob[5];
    assert_int_equal(vt->measure(inst.state, bags.x, 200, ob, err, sizeof(err)), 0);
    assert_true(ob[4] > 10 * (out[4] + 1e-3) && ob[1] < 0.2);
    /* one sample: pooled metrics are NaN */
    assert_int_equal(vt->measure(inst.state, tr.x, 1, out, err, sizeof(err)), 0);
    assert_true(isnan(out[3]) && isnan(out[4]));
    /* through the library: the model and verifier drive a search */
    its_ctx *ctx = its_test_ctx(NULL);
    assert_non_null(ctx);
    its_run_params run;
    its_run_params_init(&run);
    run.steps = 4;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, NULL, &run, &s));
    its_result *r = NULL;
    ITS_ASSERT_OK(its_generate(s, &inst.model, &inst.verifier, 5, &r));
    size_t k = its_result_count(r);
    assert_true(k >= 1);
    const float *x = its_result_sample(r, 0);
    for (size_t i = 0; i < ITS_FASHION_DIM; i++)
        assert_true(isfinite(x[i]));
    assert_int_equal(vt->measure(inst.state, x, 1, out, err, sizeof(err)), 0);
    assert_true(isfinite(out[0]) && out[0] <= 0);
    assert_int_equal(vt->write_png(inst.state, x, 1, 4, "test_fashion_task/run.png", err,
                                   sizeof(err)),
                     0);
    unsigned char *pix = NULL;
    int w, h;
    ITS_ASSERT_OK(its_fashion_read_png("test_fashion_task/run.png", &pix, &w, &h, NULL, 0));
    assert_int_equal(w, 56 + 4);
    free(pix);
    its_result_free(r);
    its_sampler_free(s);
    its_ctx_free(ctx);
    vt->free(inst.state);
    vt->free(NULL);
    /* a damaged weight file stops create() with the file's name and the cause */
    FILE *f = fopen("test_fashion_task/evaluator.ifmw", "r+b");
    assert_non_null(f);
    fseek(f, 100, SEEK_SET);
    fputc(0x55, f);
    fclose(f);
    memset(&inst, 0, sizeof(inst));
    assert_int_not_equal(vt->create(NULL, v, &inst, err, sizeof(err)), 0);
    assert_non_null(strstr(err, "evaluator.ifmw"));
    assert_non_null(strstr(err, "checksum"));
    its_fashion_data_free(&tr);
    its_fashion_data_free(&bags);
    its_fashion_data_free(&a);
    its_fashion_data_free(&b);
    its_mlp_free(&flow);
    its_mlp_free(&ver);
    its_mlp_free(&eva);
    remove("test_fashion_task/run.png");
    remove("test_fashion_task/flow.ifmw");
    remove("test_fashion_task/verifier.ifmw");
    remove("test_fashion_task/evaluator.ifmw");
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idx_parse),
        cmocka_unit_test(test_idx_errors),
        cmocka_unit_test(test_idx_files),
        cmocka_unit_test(test_real_data),
        cmocka_unit_test(test_corpus),
        cmocka_unit_test(test_weights),
        cmocka_unit_test(test_flow_grad_fd),
        cmocka_unit_test(test_verifier_grad_fd),
        cmocka_unit_test(test_flow_training),
        cmocka_unit_test(test_classifier_accuracy),
        cmocka_unit_test(test_png_roundtrip),
        cmocka_unit_test(test_task),
    };
    return cmocka_run_group_tests(tests, suite_setup, suite_teardown);
}
