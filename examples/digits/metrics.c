/* Sample-set metrics: Gaussian fits, Frechet distance (Dowson & Landau 1982; the FID formula of
 * Heusel et al. 2017 on raw pixels), mean pairwise distance, and a PGM viewer. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* LAPACK (Fortran ABI, in OpenBLAS): symmetric eigendecomposition, divide and conquer. The two
 * trailing arguments are the hidden lengths of the character arguments. */
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda,
             double *w, double *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);

its_status its_stats_mean_cov(const float *x, size_t n, size_t dim, double *mean, double *cov,
                              char *err, size_t errcap)
{
    if (!x || !mean || !cov || dim == 0)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "stats: NULL argument");
    if (n < 2)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "stats: covariance needs 2 rows, got %zu",
                           n);
    memset(mean, 0, dim * sizeof(double));
    memset(cov, 0, dim * dim * sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++)
            mean[j] += x[i * dim + j];
    for (size_t j = 0; j < dim; j++)
        mean[j] /= (double)n;
    /* two passes: centred products, no cancellation */
    for (size_t i = 0; i < n; i++) {
        const float *row = x + i * dim;
        for (size_t a = 0; a < dim; a++) {
            double da = row[a] - mean[a];
            for (size_t b = a; b < dim; b++)
                cov[a * dim + b] += da * (row[b] - mean[b]);
        }
    }
    for (size_t a = 0; a < dim; a++)
        for (size_t b = a; b < dim; b++) {
            cov[a * dim + b] /= (double)(n - 1);
            cov[b * dim + a] = cov[a * dim + b];
        }
    return ITS_OK;
}

/* Eigenvalues (ascending) into w and, with vectors, eigenvectors into the columns of a
 * (column-major = rows of the row-major result). */
static its_status sym_eig(int n, double *a, double *w, int vectors, char *err, size_t errcap)
{
    int lwork = vectors ? 1 + 6 * n + 2 * n * n : 2 * n + 1;
    int liwork = vectors ? 3 + 5 * n : 1;
    double *work = malloc((size_t)lwork * sizeof(double));
    int *iwork = malloc((size_t)liwork * sizeof(int));
    if (!work || !iwork) {
        free(work);
        free(iwork);
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "frechet: out of memory");
    }
    int info = 0;
    dsyevd_(vectors ? "V" : "N", "U", &n, a, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
    free(work);
    free(iwork);
    if (info != 0)
        return its_dg_fail(err, errcap, ITS_ERR_NUMERIC, "frechet: dsyevd failed (info %d)", info);
    return ITS_OK;
}

its_status its_frechet_gauss(size_t dim, const double *mu1, const double *c1, const double *mu2,
                             const double *c2, double *out, char *err, size_t errcap)
{
    if (!mu1 || !c1 || !mu2 || !c2 || !out || dim == 0 || dim > 4096)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "frechet: bad arguments");
    for (size_t i = 0; i < dim * dim; i++)
        if (!isfinite(c1[i]) || !isfinite(c2[i]))
            return its_dg_fail(err, errcap, ITS_ERR_NUMERIC, "frechet: non-finite covariance");
    size_t nn = dim * dim;
    double *v = malloc(nn * sizeof(double)), *s = malloc(nn * sizeof(double)),
           *t = malloc(nn * sizeof(double)), *lam = malloc(dim * sizeof(double));
    if (!v || !s || !t || !lam) {
        free(v), free(s), free(t), free(lam);
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "frechet: out of memory");
    }
    int n = (int)dim;
    /* c1 = V diag(lam) V^T; the symmetric input reads the same in either layout. Row i of the
     * row-major result v is eigenvector i. */
    memcpy(v, c1, nn * sizeof(double));
    its_status st = sym_eig(n, v, lam, 1, err, errcap);
    if (st == ITS_OK) {
        /* S = c1^(1/2) = sum_i sqrt(lam_i) v_i v_i^T: scale the rows, then V^T (V D^1/2) */
        memcpy(t, v, nn * sizeof(double));
        for (size_t i = 0; i < dim; i++) {
            double r = lam[i] > 0 ? sqrt(sqrt(lam[i])) : 0.0;
            for (size_t j = 0; j < dim; j++)
                t[i * dim + j] *= r;
        }
        cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, n, n, 1.0, t, n, t, n, 0.0, s, n);
        /* M = S c2 S, symmetric PSD with the eigenvalues of c1 c2 */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, s, n, c2, n, 0.0, t, n);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, t, n, s, n, 0.0, v, n);
        for (size_t i = 0; i < dim; i++)
            for (size_t j = i + 1; j < dim; j++) {
                double a = 0.5 * (v[i * dim + j] + v[j * dim + i]);
                v[i * dim + j] = v[j * dim + i] = a;
            }
        st = sym_eig(n, v, lam, 0, err, errcap);
    }
    if (st == ITS_OK) {
        double d2 = 0, tr = 0, trs = 0;
        for (size_t i = 0; i < dim; i++) {
            double d = mu1[i] - mu2[i];
            d2 += d * d;
            tr += c1[i * dim + i] + c2[i * dim + i];
            trs += lam[i] > 0 ? sqrt(lam[i]) : 0.0;
        }
        *out = d2 + tr - 2.0 * trs;
    }
    free(v), free(s), free(t), free(lam);
    return st;
}

its_status its_frechet_samples(const float *a, size_t na, const float *b, size_t nb, size_t dim,
                               double *out, char *err, size_t errcap)
{
    if (!a || !b || !out || dim == 0 || dim > 4096)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "frechet: bad arguments");
    double *m1 = malloc(dim * sizeof(double)), *m2 = malloc(dim * sizeof(double));
    double *c1 = malloc(dim * dim * sizeof(double)), *c2 = malloc(dim * dim * sizeof(double));
    its_status st = ITS_OK;
    if (!m1 || !m2 || !c1 || !c2)
        st = its_dg_fail(err, errcap, ITS_ERR_NOMEM, "frechet: out of memory");
    if (st == ITS_OK)
        st = its_stats_mean_cov(a, na, dim, m1, c1, err, errcap);
    if (st == ITS_OK)
        st = its_stats_mean_cov(b, nb, dim, m2, c2, err, errcap);
    if (st == ITS_OK)
        st = its_frechet_gauss(dim, m1, c1, m2, c2, out, err, errcap);
    free(m1), free(m2), free(c1), free(c2);
    return st;
}

double its_diversity(const float *x, size_t n, size_t dim)
{
    if (!x || n < 2)
        return NAN;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double d2 = 0;
            for (size_t k = 0; k < dim; k++) {
                double d = (double)x[i * dim + k] - x[j * dim + k];
                d2 += d * d;
            }
            sum += sqrt(d2);
        }
    return sum / ((double)n * (double)(n - 1) / 2.0);
}

its_status its_digits_write_pgm(const char *path, const float *x, size_t n, int cols, int zoom,
                                char *err, size_t errcap)
{
    if (!path || !x || n == 0 || cols < 1 || zoom < 1 || zoom > 64)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "pgm: bad arguments");
    size_t c = (size_t)cols < n ? (size_t)cols : n, rows = (n + c - 1) / c;
    size_t cell = 8 * (size_t)zoom + 1;
    size_t W = c * cell + 1, H = rows * cell + 1;
    unsigned char *img = malloc(W * H);
    if (!img)
        return its_dg_fail(err, errcap, ITS_ERR_NOMEM, "pgm: out of memory");
    memset(img, 160, W * H); /* grey gutter */
    for (size_t k = 0; k < n; k++) {
        size_t ox = (k % c) * cell + 1, oy = (k / c) * cell + 1;
        for (size_t py = 0; py < 8 * (size_t)zoom; py++)
            for (size_t px = 0; px < 8 * (size_t)zoom; px++) {
                float v = x[k * ITS_DIGITS_DIM + (py / (size_t)zoom) * 8 + px / (size_t)zoom];
                double ink = (v + 1.0) / 2.0; /* 0 blank .. 1 full ink */
                ink = ink < 0 ? 0 : ink > 1 ? 1 : ink;
                img[(oy + py) * W + ox + px] = (unsigned char)lround(255.0 * (1.0 - ink));
            }
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(img);
        return its_dg_fail(err, errcap, ITS_ERR_IO, "pgm: cannot create %s", path);
    }
    int ok = fprintf(f, "P5\n%zu %zu\n255\n", W, H) > 0 && fwrite(img, 1, W * H, f) == W * H;
    ok = (fclose(f) == 0) && ok;
    free(img);
    return ok ? ITS_OK : its_dg_fail(err, errcap, ITS_ERR_IO, "pgm: writing %s failed", path);
}
