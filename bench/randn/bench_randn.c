/* Normal-variate throughput, measured side by side in one run:
 *   its_randn on every instruction-set path this CPU has, its_rng_lincomb_randn (noise fused
 *   into out = a*x + b*y + c*z), and a reference scalar Box-Muller on libm (logf, cosf, sinf)
 *   over the same Philox blocks; the unfused lincomb (noise buffer of length n, then the loop)
 *   for comparison. Prints ns per value (best of several repeats) and speed-ups over libm.
 * Usage: bench_randn [n] [repeats] */
#define _POSIX_C_SOURCE 199309L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "itscale.h"
#include "rng/rng.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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
static void lincomb_unfused(float *out, float *z, size_t n, const float *x, const float *y,
                            const its_noise_key *key)
{
    its_randn(z, n, key, 0);
    for (size_t j = 0; j < n; j++)
        out[j] = (0.9f * x[j] + -0.1f * y[j]) + 0.3f * z[j];
}

static double time_ns(int kind, float *out, float *tmp, const float *x, const float *y, size_t n,
                      int reps, const its_noise_key *key)
{
    double best = 1e300;
    for (int r = 0; r < reps; r++) {
        double t0 = now_s();
        if (kind == KIND_RANDN)
            its_randn(out, n, key, 0);
        else if (kind == KIND_LINCOMB)
            its_rng_lincomb_randn(out, n, 0.9f, x, -0.1f, y, 0.3f, key);
        else if (kind == KIND_UNFUSED)
            lincomb_unfused(out, tmp, n, x, y, key);
        else
            randn_libm(out, n, key);
        double t = now_s() - t0;
        if (t < best)
            best = t;
    }
    return 1e9 * best / (double)n;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : (size_t)16384 * 8;
    int reps = argc > 2 ? atoi(argv[2]) : 50;
    if (n == 0 || reps < 1) {
        fprintf(stderr, "usage: bench_randn [n > 0] [repeats >= 1]\n");
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
    double ref = time_ns(KIND_LIBM, out, tmp, x, y, n, reps, &key);
    checksum += out[n / 2];
    printf("n = %zu, best of %d repeats, 1 thread; best path on this CPU: %s\n", n, reps,
           its_rng_isa_name(best));
    printf("%-34s %8.3f ns/value   1.00x\n", "reference: scalar Box-Muller, libm", ref);

    its_rng_isa prev = its_rng_isa_cap(ITS_RNG_ISA_SCALAR);
    for (int isa = ITS_RNG_ISA_SCALAR; isa <= (int)best; isa++) {
        its_rng_isa_cap((its_rng_isa)isa);
        double t = time_ns(KIND_RANDN, out, tmp, x, y, n, reps, &key);
        checksum += out[n / 3];
        char label[64];
        snprintf(label, sizeof label, "its_randn [%s]", its_rng_isa_name((its_rng_isa)isa));
        printf("%-34s %8.3f ns/value  %5.2fx\n", label, t, ref / t);
    }
    its_rng_isa_cap(prev);
    double tl = time_ns(KIND_LINCOMB, out, tmp, x, y, n, reps, &key);
    checksum += out[n / 5];
    double tu = time_ns(KIND_UNFUSED, out, tmp, x, y, n, reps, &key);
    checksum += out[n / 7];
    char label[64];
    snprintf(label, sizeof label, "its_rng_lincomb_randn [%s]", its_rng_isa_name(best));
    printf("%-34s %8.3f ns/value  %5.2fx\n", label, tl, ref / tl);
    printf("%-34s %8.3f ns/value  %5.2fx\n", "its_randn + lincomb, unfused", tu, ref / tu);
    printf("(checksum %g)\n", checksum);
    free(out);
    free(x);
    free(y);
    free(tmp);
    return 0;
}
