/* Normal-variate throughput, measured side by side in one run:
 *   its_randn on every instruction-set path this CPU has, its_rng_lincomb_randn (noise fused
 *   into out = a*x + b*y + c*z), and a reference scalar Box-Muller on libm (logf, cosf, sinf)
 *   over the same Philox blocks; the unfused lincomb (noise buffer of length n, then the loop)
 *   for comparison. Prints the CPU model and the path in use, and ns per value (median over
 *   rounds of the best of several repeats; every path in every round) with speed-ups over libm.
 *   Then short rows, as an SDE step over small latents makes them: 64 rows of m values, each
 *   with its own key, one its_rng_lincomb_randn call per row against one
 *   its_rng_lincomb_randn_rows call for all of them (ns per row, the same bits).
 * Usage: bench_randn [n] [repeats] [rounds] */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bench_util.h"
#include "itscale.h"
#include "rng/rng.h"

/* The straightforward way: one Philox block at a time, libm for ln, cos, sin. */
static void randn_libm(float *out, size_t n, const its_noise_key *key)
{
    const uint32_t k[2] = {(uint32_t)key->seed, (uint32_t)(key->seed >> 32)};
    for (size_t j = 0; j < n; j += 4) {
        const uint32_t ctr[4] = {(uint32_t)key->lineage, (uint32_t)(key->lineage >> 32),
                                 key->stream, (uint32_t)(j / 4)};
        uint32_t w[4];
        its_philox4x32_10(ctr, k, w);
        for (int p = 0; p < 2 && j + 2 * (size_t)p < n; p++) {
            float ua = ((float)(w[2 * p] >> 8) + 1.0f) * 0x1p-24f;
            float u = ((float)(w[2 * p + 1] >> 8) + 0.5f) * 0x1p-24f;
            float r = sqrtf(-2.0f * logf(ua));
            float th = 6.2831853f * u;
            out[j + 2 * (size_t)p] = r * cosf(th);
            if (j + 2 * (size_t)p + 1 < n)
                out[j + 2 * (size_t)p + 1] = r * sinf(th);
        }
    }
}

enum { KIND_RANDN, KIND_LINCOMB, KIND_UNFUSED, KIND_LIBM };

/* The unfused way: the noise into a buffer of length n, then the lincomb over it. */
static void lincomb_unfused(its_rng_isa isa, float *out, float *z, size_t n, const float *x,
                            const float *y, const its_noise_key *key)
{
    its_randn_isa(isa, z, n, key, 0);
    for (size_t j = 0; j < n; j++)
        out[j] = (0.9f * x[j] + -0.1f * y[j]) + 0.3f * z[j];
}

static double time_ns(int kind, its_rng_isa isa, float *out, float *tmp, const float *x,
                      const float *y, size_t n, int reps, const its_noise_key *key)
{
    double best = 1e300;
    for (int r = 0; r < reps; r++) {
        double t0 = its_bench_now_s();
        if (kind == KIND_RANDN)
            its_randn_isa(isa, out, n, key, 0);
        else if (kind == KIND_LINCOMB)
            its_rng_lincomb_randn_isa(isa, out, n, 0.9f, x, -0.1f, y, 0.3f, key);
        else if (kind == KIND_UNFUSED)
            lincomb_unfused(isa, out, tmp, n, x, y, key);
        else
            randn_libm(out, n, key);
        double t = its_bench_now_s() - t0;
        if (t < best)
            best = t;
    }
    return 1e9 * best / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

enum { ROWS = 64 };

/* ns per row for ROWS rows of m values (out, x, y row-major with stride m): one call per row
 * (batched 0) or one rows call (batched 1); the best of reps. */
static double rows_ns(its_rng_isa isa, int batched, float *out, const float *x, const float *y,
                      size_t m, int reps)
{
    its_rng_row rows[ROWS];
    for (size_t r = 0; r < ROWS; r++)
        rows[r] = (its_rng_row){out + r * m, x + r * m, y + r * m,
                                {12345, its_lineage_root(r), 3}};
    double best = 1e300;
    for (int k = 0; k < reps; k++) {
        double t0 = its_bench_now_s();
        if (batched)
            its_rng_lincomb_randn_rows_isa(isa, rows, ROWS, m, 0.9f, -0.1f, 0.3f);
        else
            for (size_t r = 0; r < ROWS; r++)
                its_rng_lincomb_randn_isa(isa, rows[r].out, m, 0.9f, rows[r].x, -0.1f, rows[r].y,
                                          0.3f, &rows[r].key);
        double t = its_bench_now_s() - t0;
        if (t < best)
            best = t;
    }
    return 1e9 * best / ROWS;
}

#define MAX_ROUNDS 64

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bench_randn [n > 0] [repeats >= 1] [rounds 1..64]\n");
            printf("its_randn against a scalar Box-Muller reference and the fused noise step: ns per value\n");
            return 0;
        }
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : (size_t)16384 * 8;
    int reps = argc > 2 ? atoi(argv[2]) : 20;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (n == 0 || reps < 1 || rounds < 1 || rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: bench_randn [n > 0] [repeats >= 1] [rounds 1..64]\n");
        return 2;
    }
    float *out = malloc(n * sizeof(float)), *x = malloc(n * sizeof(float)),
          *y = malloc(n * sizeof(float)), *tmp = malloc(n * sizeof(float));
    if (!out || !x || !y || !tmp)
        return 1;
    for (size_t j = 0; j < n; j++) {
        x[j] = (float)(j % 97) * 0.01f;
        y[j] = (float)(j % 89) * -0.02f;
    }
    const its_noise_key key = {.seed = 12345, .lineage = its_lineage_root(7), .stream = 3};
    double checksum = 0.0;
    its_rng_isa best = its_rng_isa_best();
    printf("%s; best path %s, in use %s (ITS_SIMD caps it)\n", its_bench_cpu_model(),
           its_rng_isa_name(best),
           its_rng_isa_name(its_rng_isa_active()));
    printf("n = %zu, 1 thread; median of %d rounds, each the best of %d repeats; every path and "
           "kind in every round\n",
           n, rounds, reps);

    /* t[kind][isa][round]; the libm reference and the unfused pair run once per round */
    static double t[4][4][MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        t[KIND_LIBM][0][r] = time_ns(KIND_LIBM, best, out, tmp, x, y, n, reps, &key);
        for (int isa = ITS_RNG_ISA_SCALAR; isa <= (int)best; isa++) {
            t[KIND_RANDN][isa][r] = time_ns(KIND_RANDN, (its_rng_isa)isa, out, tmp, x, y, n, reps, &key);
            checksum += out[n / 3];
            t[KIND_LINCOMB][isa][r] = time_ns(KIND_LINCOMB, (its_rng_isa)isa, out, tmp, x, y, n, reps, &key);
            checksum += out[n / 5];
        }
        t[KIND_UNFUSED][0][r] = time_ns(KIND_UNFUSED, best, out, tmp, x, y, n, reps, &key);
        checksum += out[n / 7];
    }
    double med[4][4];
    for (int k = 0; k < 4; k++)
        for (int isa = 0; isa < 4; isa++) {
            qsort(t[k][isa], (size_t)rounds, sizeof(double), cmp_double);
            med[k][isa] = t[k][isa][rounds / 2];
        }
    double ref = med[KIND_LIBM][0];
    printf("%-36s %10s %9s\n", "", "ns/value", "vs libm");
    printf("%-36s %10.3f %8.2fx\n", "reference: scalar Box-Muller, libm", ref, 1.0);
    for (int isa = ITS_RNG_ISA_SCALAR; isa <= (int)best; isa++) {
        char label[64];
        snprintf(label, sizeof label, "its_randn [%s]", its_rng_isa_name((its_rng_isa)isa));
        printf("%-36s %10.3f %8.2fx\n", label, med[KIND_RANDN][isa], ref / med[KIND_RANDN][isa]);
    }
    for (int isa = ITS_RNG_ISA_SCALAR; isa <= (int)best; isa++) {
        char label[64];
        snprintf(label, sizeof label, "its_rng_lincomb_randn [%s]",
                 its_rng_isa_name((its_rng_isa)isa));
        printf("%-36s %10.3f %8.2fx\n", label, med[KIND_LINCOMB][isa],
               ref / med[KIND_LINCOMB][isa]);
    }
    char label[64];
    snprintf(label, sizeof label, "its_randn + lincomb, unfused [%s]", its_rng_isa_name(best));
    printf("%-36s %10.3f %8.2fx\n", label, med[KIND_UNFUSED][0], ref / med[KIND_UNFUSED][0]);
    if (best >= ITS_RNG_ISA_AVX2)
        printf("avx2 / %s per value: randn %.2fx, lincomb %.2fx\n", its_rng_isa_name(best),
               med[KIND_RANDN][ITS_RNG_ISA_AVX2] / med[KIND_RANDN][best],
               med[KIND_LINCOMB][ITS_RNG_ISA_AVX2] / med[KIND_LINCOMB][best]);

    /* short rows: per-row calls against the rows call, on AVX2 and the best path */
    const size_t ms[] = {16, 64, 100};
    float *rout = malloc(ROWS * 100 * sizeof(float)), *rx = malloc(ROWS * 100 * sizeof(float)),
          *ry = malloc(ROWS * 100 * sizeof(float));
    if (!rout || !rx || !ry)
        return 1;
    for (size_t j = 0; j < ROWS * 100; j++) {
        rx[j] = (float)(j % 97) * 0.01f;
        ry[j] = (float)(j % 89) * -0.02f;
    }
    printf("\nshort rows: %d rows of m values, each its own key; ns per row, median of %d rounds, "
           "each the best of %d repeats\n", ROWS, rounds, reps);
    printf("%-10s %4s %14s %12s %8s\n", "path", "m", "call per row", "rows call", "ratio");
    for (int isa = ITS_RNG_ISA_AVX2 <= best ? ITS_RNG_ISA_AVX2 : best; isa <= (int)best; isa++) {
        for (size_t mi = 0; mi < sizeof ms / sizeof ms[0]; mi++) {
            double tr[2][MAX_ROUNDS];
            for (int r = 0; r < rounds; r++)
                for (int b = 0; b < 2; b++) {
                    tr[b][r] = rows_ns((its_rng_isa)isa, b, rout, rx, ry, ms[mi], reps);
                    checksum += rout[ms[mi] * 5 + 3];
                }
            qsort(tr[0], (size_t)rounds, sizeof(double), cmp_double);
            qsort(tr[1], (size_t)rounds, sizeof(double), cmp_double);
            double a = tr[0][rounds / 2], b = tr[1][rounds / 2];
            printf("%-10s %4zu %14.1f %12.1f %7.2fx\n", its_rng_isa_name((its_rng_isa)isa),
                   ms[mi], a, b, a / b);
        }
    }
    free(rout);
    free(rx);
    free(ry);
    printf("(checksum %g)\n", checksum);
    free(out);
    free(x);
    free(y);
    free(tmp);
    return 0;
}
