/* The CPU backend: the reference for every other backend. The lincomb is a plain C loop the
 * compiler vectorizes per instruction set; with no FMA contraction (-ffp-contract=off) it gives
 * the same bits on every SIMD level. The non-finite scan has its AVX2 loop written out. Reductions
 * use OpenBLAS. */
#include <cblas.h>
#include <stdint.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "core/core.h"
#include "rng/rng.h"

static void cpu_copy(void *state, float *dst, const float *src, size_t n)
{
    (void)state;
    memcpy(dst, src, n * sizeof(float));
}

/* Evaluation order (shared with the fused noise kernel): t = a*x; t = t + b*y; t = t + c*z.
 * The body is compiled once per instruction set: each element is rounded the same way at any
 * vector width (no FMA contraction), so every path gives the same bits. */
#define ITS_LINCOMB_BODY                                                    \
    {                                                                       \
        if (x && y && z) {                                                  \
            for (size_t j = 0; j < n; j++)                                  \
                out[j] = (a * x[j] + b * y[j]) + c * z[j];                  \
        } else if (x && y) {                                                \
            for (size_t j = 0; j < n; j++)                                  \
                out[j] = a * x[j] + b * y[j];                               \
        } else if (x && z) {                                                \
            for (size_t j = 0; j < n; j++)                                  \
                out[j] = a * x[j] + c * z[j];                               \
        } else if (y && z) {                                                \
            for (size_t j = 0; j < n; j++)                                  \
                out[j] = b * y[j] + c * z[j];                               \
        } else if (x) {                                                     \
            for (size_t j = 0; j < n; j++)                                  \
                out[j] = a * x[j];                                          \
        } else if (y) {                                                     \
            for (size_t j = 0; j < n; j++)                                  \
                out[j] = b * y[j];                                          \
        } else if (z) {                                                     \
            for (size_t j = 0; j < n; j++)                                  \
                out[j] = c * z[j];                                          \
        } else {                                                            \
            memset(out, 0, n * sizeof(float));                              \
        }                                                                   \
    }

#define ITS_LINCOMB_ARGS                                                                    \
    float *out, size_t n, float a, const float *x, float b, const float *y, float c,        \
        const float *z

static void cpu_lincomb_base(ITS_LINCOMB_ARGS) ITS_LINCOMB_BODY
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static void cpu_lincomb_avx2(ITS_LINCOMB_ARGS) ITS_LINCOMB_BODY
__attribute__((target("avx512f"))) static void cpu_lincomb_avx512(ITS_LINCOMB_ARGS)
    ITS_LINCOMB_BODY
#endif

/* The path is the noise kernels' (rng.h: the CPU's best, capped by ITS_SIMD). */
static void cpu_lincomb(void *state, float *out, size_t n, float a, const float *x, float b,
                        const float *y, float c, const float *z)
{
    (void)state;
#if defined(__x86_64__) && defined(__GNUC__)
    its_rng_isa isa = its_rng_isa_active();
    if (isa >= ITS_RNG_ISA_AVX512) {
        cpu_lincomb_avx512(out, n, a, x, b, y, c, z);
        return;
    }
    if (isa >= ITS_RNG_ISA_AVX2) {
        cpu_lincomb_avx2(out, n, a, x, b, y, c, z);
        return;
    }
#endif
    cpu_lincomb_base(out, n, a, x, b, y, c, z);
}

/* The non-finite scan: one read-only pass. The compiler's AVX2 loop keeps one accumulator and
 * ran about 1.5 times as long per element as its AVX-512 loop on 2 MiB of model output (an AMD
 * EPYC, Zen 5); four independent accumulators and one test at the end bring it level. The answer
 * is exact on every path. */
#if defined(__GNUC__)
typedef uint32_t its_u32_alias __attribute__((may_alias)); /* float bits read in place */
#else
typedef uint32_t its_u32_alias;
#endif
#define ITS_FINITE_BODY                                                                 \
    {                                                                                   \
        const its_u32_alias *b = (const its_u32_alias *)(const void *)x;                \
        uint32_t bad = 0;                                                               \
        for (size_t j = 0; j < n; j++)                                                  \
            bad |= (uint32_t)((b[j] & 0x7f800000u) == 0x7f800000u);                     \
        return bad == 0;                                                                \
    }
static int cpu_finite_base(const float *x, size_t n) ITS_FINITE_BODY
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static int cpu_finite_avx2(const float *x, size_t n)
{
    const __m256i e = _mm256_set1_epi32(0x7f800000);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
    size_t j = 0;
    for (; j + 32 <= n; j += 32) {
#define ITS_FINITE_LANE(acc, k)                                                                 \
    acc = _mm256_or_si256(                                                                      \
        acc, _mm256_cmpeq_epi32(                                                                \
                 _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)(x + j + k)), \
                                  e),                                                           \
                 e))
        ITS_FINITE_LANE(a0, 0);
        ITS_FINITE_LANE(a1, 8);
        ITS_FINITE_LANE(a2, 16);
        ITS_FINITE_LANE(a3, 24);
#undef ITS_FINITE_LANE
    }
    __m256i a = _mm256_or_si256(_mm256_or_si256(a0, a1), _mm256_or_si256(a2, a3));
    if (!_mm256_testz_si256(a, a))
        return 0;
    return cpu_finite_base(x + j, n - j);
}
__attribute__((target("avx512f,avx512bw"))) static int cpu_finite_avx512(const float *x, size_t n)
    ITS_FINITE_BODY
#endif

int its_finite_isa(its_rng_isa isa, const float *x, size_t n)
{
#if defined(__x86_64__) && defined(__GNUC__)
    its_rng_isa best = its_rng_isa_best();
    if (isa > best)
        isa = best;
    if (isa >= ITS_RNG_ISA_AVX512)
        return cpu_finite_avx512(x, n);
    if (isa >= ITS_RNG_ISA_AVX2)
        return cpu_finite_avx2(x, n);
#else
    (void)isa;
#endif
    return cpu_finite_base(x, n);
}

static void cpu_lincomb_randn(void *state, float *out, size_t n, float a, const float *x, float b,
                              const float *y, float c, const its_noise_key *key)
{
    if (c == 0.0f) {
        cpu_lincomb(state, out, n, a, x, b, y, 0.0f, NULL);
        return;
    }
    its_rng_lincomb_randn(out, n, a, x, b, y, c, key);
}

static double cpu_dot(void *state, const float *x, const float *y, size_t n)
{
    (void)state;
    double s = 0.0;
    /* cblas takes int lengths: go in chunks. */
    while (n > 0) {
        int k = n > (size_t)1 << 30 ? 1 << 30 : (int)n;
        s += cblas_dsdot(k, x, 1, y, 1);
        x += k;
        y += k;
        n -= (size_t)k;
    }
    return s;
}

static const its_backend_i its_cpu_backend = {
    .version = ITS_BACKEND_V1,
    .name = "cpu",
    .alloc = NULL,
    .free = NULL,
    .to_host = NULL,
    .copy = cpu_copy,
    .lincomb = cpu_lincomb,
    .lincomb_randn = cpu_lincomb_randn,
    .dot = cpu_dot,
};

const its_backend_i *its_backend_cpu(void)
{
    return &its_cpu_backend;
}
