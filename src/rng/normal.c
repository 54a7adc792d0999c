/* Standard normals from Philox4x32-10 by Box-Muller (DESIGN.md §7; layout in rng.h).
 *
 * Bits do not depend on the SIMD level: the math below uses only IEEE +, -, *, /, sqrt (exactly
 * rounded), int32 -> float conversions of exactly representable values and integer bit
 * operations, in a fixed order, with no FMA contraction (-ffp-contract=off) and no libm. A vector
 * lane therefore computes exactly what the scalar code computes.
 *
 * Paths. scalar: one block per call, the reference. generic: the portable loops compiled for the
 * baseline target (SSE2 Philox on x86-64), in batches of ITS_RNG_BATCH blocks on the stack: Philox
 * words for ITS_RNG_STEP blocks, then Box-Muller and the lincomb over ITS_RNG_CHUNK blocks in loops
 * with a constant trip count, which compilers vectorize even at -O2. avx2 / avx512: a group of 8
 * or 16 blocks goes from counters to normals to the lincomb in registers (no words or normals on
 * the stack, no scalar tail: the last group is stored with masks). The path is chosen once at run
 * time: the best the CPU has, capped by the ITS_SIMD environment variable (rng.h). */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "rng/philox.h"
#include "rng/rng.h"

#define ITS_RNG_BATCH 64                    /* Philox blocks per batch (a multiple of STEP) */
#define ITS_RNG_BATCH_N (4 * ITS_RNG_BATCH) /* normals per batch (1 KiB of floats) */
#define ITS_RNG_STEP 32                     /* blocks per Philox step (the widest path's) */
#define ITS_RNG_CHUNK 16                    /* blocks per Box-Muller / lincomb loop */
#define ITS_RNG_CHUNK_N (4 * ITS_RNG_CHUNK)

#if defined(__GNUC__) || defined(__clang__)
#define ITS_RNG_INLINE static inline __attribute__((always_inline))
#define ITS_RNG_NOINLINE __attribute__((noinline))
#define ITS_RNG_ALIGN __attribute__((aligned(64)))
#else
#define ITS_RNG_INLINE static inline
#define ITS_RNG_NOINLINE
#define ITS_RNG_ALIGN
#endif

/* ITS_RNG_PORTABLE builds only the portable path (to check it against the x86 ones). */
#if (defined(__x86_64__) || defined(_M_X64)) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(ITS_RNG_PORTABLE)
#define ITS_RNG_X86 1
#else
#define ITS_RNG_X86 0
#endif

#if ITS_RNG_X86
#include <immintrin.h>
#endif

static inline uint32_t its_rng__bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float its_rng__float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ln u = e ln2 + ln m with u = 2^e m, m in [sqrt(1/2), sqrt(2)); ln 2 split so that e * hi is
 * exact for |e| < 2^9 (Cody-Waite). */
#define ITS_LN2_HI 0x1.62e4p-1f        /* 0.693145751953125 */
#define ITS_LN2_LO 0x1.7f7d1cp-20f     /* ln 2 - ITS_LN2_HI */
/* ln m = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m - 1)/(m + 1), |s| < 0.1716: through
 * s^9 the dropped terms are below 2e-9 relative. */
#define ITS_ATANH_3 0x1.555556p-2f     /* 1/3 */
#define ITS_ATANH_5 0x1.99999ap-3f     /* 1/5 */
#define ITS_ATANH_7 0x1.24924ap-3f     /* 1/7 */
#define ITS_ATANH_9 0x1.c71c72p-4f     /* 1/9 */

/* r = sqrt(-2 ln u_a), u_a = fl((wa >> 1) | 1) * 2^-31 in [2^-31, 1]: r in [0, 6.56]. */
ITS_RNG_INLINE float its_rng__radius(uint32_t wa)
{
    float ua = (float)(int32_t)((wa >> 1) | 1u) * 0x1p-31f;
    /* Shift the mantissa range to [sqrt(1/2), sqrt(2)) in integers (0x3f3504f3 = sqrt(1/2)). */
    uint32_t ix = its_rng__bits(ua) + (0x3f800000u - 0x3f3504f3u);
    int32_t e = (int32_t)(ix >> 23) - 127; /* -31 .. 0 */
    float m = its_rng__float((ix & 0x007fffffu) + 0x3f3504f3u);
    float f = m - 1.0f; /* exact: m is within a factor 2 of 1 */
    float s = f / (2.0f + f);
    float z = s * s;
    float p = z * (ITS_ATANH_3 + z * (ITS_ATANH_5 + z * (ITS_ATANH_7 + z * ITS_ATANH_9)));
    float s2 = s + s;
    float ln_m = s2 + s2 * p;
    float ne = (float)(-e);
    /* -ln u_a >= 0; for e = 0 it is -ln_m exactly, so u_a = 1 gives r = +0. */
    float nl = ne * ITS_LN2_HI + (ne * ITS_LN2_LO - ln_m);
    return sqrtf(nl + nl);
}

/* Taylor coefficients of sin(g pi/4) and cos(g pi/4) in g: (pi/4)^k / k!, signs alternating.
 * For g in (0, 1) the dropped terms are below 2e-9 (sin) and 2e-10 (cos). */
#define ITS_SIN_1 0x1.921fb6p-1f
#define ITS_SIN_3 -0x1.4abbcep-4f
#define ITS_SIN_5 0x1.466bc6p-9f
#define ITS_SIN_7 -0x1.32d2ccp-15f
#define ITS_SIN_9 0x1.507834p-22f
#define ITS_COS_2 -0x1.3bd3ccp-2f
#define ITS_COS_4 0x1.03c1f0p-6f
#define ITS_COS_6 -0x1.55d3c8p-12f
#define ITS_COS_8 0x1.e1f506p-19f
#define ITS_COS_10 -0x1.a6d1f2p-26f

/* cos and sin of theta = 2 pi u, u = ((wb >> 8) + 1/2) 2^-24. The reduction is exact, in integers:
 * the top 3 of those 24 bits are the octant o, the other 21 give g in (0, 1) on an odd grid, and
 * theta = (o + g) pi/4. In odd octants 1 - g (an integer complement) is used instead, so the
 * polynomials only see phi in (0, pi/4); quadrant symmetries then swap and negate. */
ITS_RNG_INLINE void its_rng__sincos_2pi(uint32_t wb, float *sn, float *cs)
{
    uint32_t v = wb >> 8;
    uint32_t o = v >> 21;
    uint32_t odd = o & 1u;
    uint32_t gi = (v & 0x1fffffu) ^ (0x1fffffu * odd);
    float g = (float)(int32_t)(2u * gi + 1u) * 0x1p-22f;
    float g2 = g * g;
    float sp = g * (ITS_SIN_1 + g2 * (ITS_SIN_3 + g2 * (ITS_SIN_5 + g2 * (ITS_SIN_7 + g2 * ITS_SIN_9))));
    float cp = 1.0f + g2 * (ITS_COS_2 + g2 * (ITS_COS_4 + g2 * (ITS_COS_6 + g2 * (ITS_COS_8 + g2 * ITS_COS_10))));
    /* theta = q pi/2 + alpha, alpha = phi (o even) or pi/2 - phi (o odd). Both the odd octant
     * and an odd quadrant swap sin and cos; sin < 0 for q = 2, 3 and cos < 0 for q = 1, 2. */
    uint32_t q = o >> 1;
    uint32_t swap = 0u - ((odd ^ q) & 1u);
    uint32_t bs = its_rng__bits(sp), bc = its_rng__bits(cp);
    uint32_t s = (bs & ~swap) | (bc & swap);
    uint32_t c = (bc & ~swap) | (bs & swap);
    s ^= (q >> 1) << 31;
    c ^= ((q ^ (q >> 1)) & 1u) << 31;
    *sn = its_rng__float(s);
    *cs = its_rng__float(c);
}

/* One Box-Muller pair from words (wa, wb): z0 = r cos, z1 = r sin. */
ITS_RNG_INLINE void its_rng__box_muller(uint32_t wa, uint32_t wb, float *z0, float *z1)
{
    float r = its_rng__radius(wa);
    float sn, cs;
    its_rng__sincos_2pi(wb, &sn, &cs);
    *z0 = r * cs;
    *z1 = r * sn;
}

#if !ITS_RNG_X86
/* Philox words of blocks b0 + i .. b0 + i + STEP - 1, one block per loop iteration. */
ITS_RNG_INLINE void its_philox__step_c(uint32_t *w0, uint32_t *w1, uint32_t *w2, uint32_t *w3,
                                       its_philox_stream s, uint32_t b0, size_t i)
{
    for (size_t k = i; k < i + ITS_RNG_STEP; k++) {
        uint32_t x0 = s.c0, x1 = s.c1, x2 = s.c2, x3 = b0 + (uint32_t)k;
        its_philox__rounds10(&x0, &x1, &x2, &x3, s.k0, s.k1);
        w0[k] = x0;
        w1[k] = x1;
        w2[k] = x2;
        w3[k] = x3;
    }
}
#endif

/* Normals of the CHUNK blocks whose words start at w0..w3 into z[0 .. CHUNK_N). */
ITS_RNG_INLINE void its_rng__box_muller_chunk(float *z, const uint32_t *w0, const uint32_t *w1,
                                              const uint32_t *w2, const uint32_t *w3)
{
    for (size_t i = 0; i < ITS_RNG_CHUNK; i++) {
        its_rng__box_muller(w0[i], w1[i], &z[4 * i], &z[4 * i + 1]);
        its_rng__box_muller(w2[i], w3[i], &z[4 * i + 2], &z[4 * i + 3]);
    }
}

/* t[k] = (a*x[k] + b*y[k]) + c*t[k] for k < m, NULL terms skipped (the lincomb order). */
ITS_RNG_INLINE void its_rng__combine(float *t, size_t m, float a, const float *x, float b,
                                     const float *y, float c)
{
    if (x && y) {
        for (size_t k = 0; k < m; k++)
            t[k] = (a * x[k] + b * y[k]) + c * t[k];
    } else if (x) {
        for (size_t k = 0; k < m; k++)
            t[k] = a * x[k] + c * t[k];
    } else if (y) {
        for (size_t k = 0; k < m; k++)
            t[k] = b * y[k] + c * t[k];
    } else {
        for (size_t k = 0; k < m; k++)
            t[k] = c * t[k];
    }
}

#if ITS_RNG_X86
/* Philox with one block per 64-bit lane. Compilers do not find the 32x32->64 multiply (pmuludq)
 * in the plain C rounds, so the integer part is written with intrinsics (integer arithmetic:
 * the same bits by construction). Each 64-bit lane holds one 32-bit word in its low half;
 * pmuludq reads only low halves and returns the full product, whose low half is the next lo
 * word as it stands and whose high half, shifted down, is hi. Upper halves carry junk that
 * nothing reads. ITS_PHILOX_CHAINS independent groups of lanes hide the multiply latency. */
#define ITS_PHILOX_CHAINS 4

#define ITS_PHILOX_LANES_ROUNDS(T, set1_32, mul, srl, xor3)                                     \
    do {                                                                                        \
        const T m0 = set1_32((int)ITS_PHILOX_M0), m1 = set1_32((int)ITS_PHILOX_M1);             \
        for (uint32_t r = 0; r < 10; r++) {                                                     \
            const T k0 = set1_32((int)(s.k0 + r * ITS_PHILOX_W0));                              \
            const T k1 = set1_32((int)(s.k1 + r * ITS_PHILOX_W1));                              \
            for (int c = 0; c < ITS_PHILOX_CHAINS; c++) {                                       \
                T p0 = mul(x0[c], m0), p1 = mul(x2[c], m1);                                     \
                x0[c] = xor3(srl(p1, 32), x1[c], k0);                                           \
                x1[c] = p1;                                                                     \
                x2[c] = xor3(srl(p0, 32), x3[c], k1);                                           \
                x3[c] = p0;                                                                     \
            }                                                                                   \
        }                                                                                       \
    } while (0)

static inline __m128i its_rng__xor3_sse2(__m128i a, __m128i b, __m128i c)
{
    return _mm_xor_si128(_mm_xor_si128(a, b), c);
}

/* Low halves of the 64-bit lanes of a, b in order: a0 a1 b0 b1. */
static inline __m128i its_rng__pack_lo_sse2(__m128i a, __m128i b)
{
    return _mm_castps_si128(
        _mm_shuffle_ps(_mm_castsi128_ps(a), _mm_castsi128_ps(b), _MM_SHUFFLE(2, 0, 2, 0)));
}

/* Blocks b0 + i .. b0 + i + 7. */
static inline void its_philox__x8_sse2(uint32_t *w0, uint32_t *w1, uint32_t *w2, uint32_t *w3,
                                       its_philox_stream s, uint32_t b0, size_t i)
{
    __m128i x0[ITS_PHILOX_CHAINS], x1[ITS_PHILOX_CHAINS], x2[ITS_PHILOX_CHAINS],
        x3[ITS_PHILOX_CHAINS];
    for (int c = 0; c < ITS_PHILOX_CHAINS; c++) {
        uint32_t b = b0 + (uint32_t)i + 2u * (uint32_t)c;
        x0[c] = _mm_set1_epi32((int)s.c0);
        x1[c] = _mm_set1_epi32((int)s.c1);
        x2[c] = _mm_set1_epi32((int)s.c2);
        x3[c] = _mm_set_epi32(0, (int)(b + 1u), 0, (int)b);
    }
    ITS_PHILOX_LANES_ROUNDS(__m128i, _mm_set1_epi32, _mm_mul_epu32, _mm_srli_epi64,
                            its_rng__xor3_sse2);
    for (int c = 0; c < ITS_PHILOX_CHAINS; c += 2) {
        size_t o = i + 2 * (size_t)c;
        _mm_storeu_si128((__m128i *)(void *)(w0 + o), its_rng__pack_lo_sse2(x0[c], x0[c + 1]));
        _mm_storeu_si128((__m128i *)(void *)(w1 + o), its_rng__pack_lo_sse2(x1[c], x1[c + 1]));
        _mm_storeu_si128((__m128i *)(void *)(w2 + o), its_rng__pack_lo_sse2(x2[c], x2[c + 1]));
        _mm_storeu_si128((__m128i *)(void *)(w3 + o), its_rng__pack_lo_sse2(x3[c], x3[c + 1]));
    }
}

#endif

/* ---- generic path: words and normals in batches on the stack ------------------------------ */

#if ITS_RNG_X86
ITS_RNG_INLINE void its_philox__step_generic(uint32_t *w0, uint32_t *w1, uint32_t *w2,
                                             uint32_t *w3, its_philox_stream s, uint32_t b0,
                                             size_t i)
{
    for (size_t k = 0; k < ITS_RNG_STEP; k += 8)
        its_philox__x8_sse2(w0, w1, w2, w3, s, b0, i + k);
}
#else
#define its_philox__step_generic its_philox__step_c
#endif

/* Kernels of one path. Both take any m; a path with a stack batch splits it. */
typedef struct its_rng_kernels {
    /* z[0 .. m) = the normals from the first element of block b0 on. */
    void (*fill)(float *z, size_t m, its_philox_stream s, uint32_t b0);
    /* out[k] = (a*x[k] + b*y[k]) + c*z[k] for k < m, z the normals from block b0 on. */
    void (*lincomb)(float *out, size_t m, float a, const float *x, float b, const float *y,
                    float c, its_philox_stream s, uint32_t b0);
    /* lincomb on each of nr rows of m values (from block 0 of each row's key). */
    void (*rows)(const its_rng_row *rows, size_t nr, size_t m, float a, float b, float c);
} its_rng_kernels;

/* Normals of blocks b0 .. b0 + nblk - 1 into z[0 .. 4 nblk); nblk <= BATCH. Blocks past the
 * ones asked for are computed by the last Philox step and discarded. */
static void its_rng__fill_batch_generic(float *z, its_philox_stream s, uint32_t b0, size_t nblk)
{
    uint32_t w0[ITS_RNG_BATCH] ITS_RNG_ALIGN, w1[ITS_RNG_BATCH] ITS_RNG_ALIGN;
    uint32_t w2[ITS_RNG_BATCH] ITS_RNG_ALIGN, w3[ITS_RNG_BATCH] ITS_RNG_ALIGN;
    for (size_t i = 0; i < nblk; i += ITS_RNG_STEP)
        its_philox__step_generic(w0, w1, w2, w3, s, b0, i);
    for (size_t c = 0; c < nblk; c += ITS_RNG_CHUNK) {
        if (nblk - c >= ITS_RNG_CHUNK) {
            its_rng__box_muller_chunk(z + 4 * c, w0 + c, w1 + c, w2 + c, w3 + c);
        } else {
            float t[ITS_RNG_CHUNK_N] ITS_RNG_ALIGN;
            its_rng__box_muller_chunk(t, w0 + c, w1 + c, w2 + c, w3 + c);
            memcpy(z + 4 * c, t, 4 * (nblk - c) * sizeof(float));
        }
    }
}

static void its_rng__fill_generic(float *z, size_t m, its_philox_stream s, uint32_t b0)
{
    while (m >= 4) {
        size_t nblk = m / 4 < ITS_RNG_BATCH ? m / 4 : ITS_RNG_BATCH;
        its_rng__fill_batch_generic(z, s, b0, nblk);
        z += 4 * nblk;
        m -= 4 * nblk;
        b0 += (uint32_t)nblk;
    }
    if (m > 0) {
        float t[4];
        its_rng__fill_batch_generic(t, s, b0, 1);
        memcpy(z, t, m * sizeof(float));
    }
}

/* Reads of x and y finish before a chunk is stored, so out may alias them. */
static void its_rng__lincomb_generic(float *out, size_t m, float a, const float *x, float b,
                                     const float *y, float c, its_philox_stream s, uint32_t b0)
{
    while (m > 0) {
        size_t mb = m < ITS_RNG_BATCH_N ? m : ITS_RNG_BATCH_N;
        uint32_t w0[ITS_RNG_BATCH] ITS_RNG_ALIGN, w1[ITS_RNG_BATCH] ITS_RNG_ALIGN;
        uint32_t w2[ITS_RNG_BATCH] ITS_RNG_ALIGN, w3[ITS_RNG_BATCH] ITS_RNG_ALIGN;
        for (size_t i = 0; i < (mb + 3) / 4; i += ITS_RNG_STEP)
            its_philox__step_generic(w0, w1, w2, w3, s, b0, i);
        for (size_t k = 0; k < mb; k += ITS_RNG_CHUNK_N) {
            size_t blk = k / 4;
            float t[ITS_RNG_CHUNK_N] ITS_RNG_ALIGN;
            its_rng__box_muller_chunk(t, w0 + blk, w1 + blk, w2 + blk, w3 + blk);
            const float *xk = x ? x + k : NULL, *yk = y ? y + k : NULL;
            size_t mk = mb - k < ITS_RNG_CHUNK_N ? mb - k : ITS_RNG_CHUNK_N;
            if (mk == ITS_RNG_CHUNK_N)
                its_rng__combine(t, ITS_RNG_CHUNK_N, a, xk, b, yk, c);
            else
                its_rng__combine(t, mk, a, xk, b, yk, c);
            memcpy(out + k, t, mk * sizeof(float));
        }
        out += mb;
        x = x ? x + mb : NULL;
        y = y ? y + mb : NULL;
        m -= mb;
        b0 += ITS_RNG_BATCH;
    }
}

/* ---- scalar reference --------------------------------------------------------------------- */

/* One Philox block per call, nothing for a vectorizer to work across. */
static ITS_RNG_NOINLINE void its_rng__block_scalar(float z[4], its_philox_stream s, uint32_t blk)
{
    uint32_t x0 = s.c0, x1 = s.c1, x2 = s.c2, x3 = blk;
    its_philox__rounds10(&x0, &x1, &x2, &x3, s.k0, s.k1);
    its_rng__box_muller(x0, x1, &z[0], &z[1]);
    its_rng__box_muller(x2, x3, &z[2], &z[3]);
}

static void its_rng__fill_scalar(float *z, size_t m, its_philox_stream s, uint32_t b0)
{
    for (size_t k = 0; k < m; k += 4) {
        float t[4];
        its_rng__block_scalar(t, s, b0 + (uint32_t)(k / 4));
        memcpy(z + k, t, (m - k < 4 ? m - k : 4) * sizeof(float));
    }
}

static ITS_RNG_NOINLINE void its_rng__combine_one(float *t, float a, const float *x, float b,
                                                  const float *y, float c)
{
    its_rng__combine(t, 1, a, x, b, y, c);
}

static void its_rng__lincomb_scalar(float *out, size_t m, float a, const float *x, float b,
                                    const float *y, float c, its_philox_stream s, uint32_t b0)
{
    for (size_t k = 0; k < m; k += 4) {
        float t[4];
        size_t mk = m - k < 4 ? m - k : 4;
        its_rng__block_scalar(t, s, b0 + (uint32_t)(k / 4));
        for (size_t i = 0; i < mk; i++)
            its_rng__combine_one(t + i, a, x ? x + k + i : NULL, b, y ? y + k + i : NULL, c);
        memcpy(out + k, t, mk * sizeof(float));
    }
}

/* Rows of m values, one lincomb call each (from block 0 of each row's key). */
typedef void (*its_rng_lincomb_fn)(float *out, size_t m, float a, const float *x, float b,
                                   const float *y, float c, its_philox_stream s, uint32_t b0);

static void its_rng__rows_each(its_rng_lincomb_fn lincomb, const its_rng_row *rows, size_t nr,
                               size_t m, float a, float b, float c)
{
    for (size_t r = 0; r < nr; r++)
        lincomb(rows[r].out, m, a, rows[r].x, b, rows[r].y, c, its_philox_stream_of(&rows[r].key),
                0);
}

/* ---- avx2 / avx512: a group of blocks in registers ---------------------------------------- */

#if ITS_RNG_X86
/* The avx2 path also uses FMA, which every AVX2 CPU has, where a product is exact (see
 * ITS_RNG_DEFINE_BM): rounding once or twice then gives the same bits. */
#define ITS_RNG_AVX2 "avx2,fma"
#define ITS_RNG_AVX512 "avx512f,avx512vl,avx512bw,avx512dq"

/* Low halves of the 64-bit lanes of a, b per 128-bit half: a0 a1 b0 b1 | a2 a3 b2 b3. */
__attribute__((target(ITS_RNG_AVX2))) static inline __m256i its_rng__pack_lo_avx2(__m256i a, __m256i b)
{
    return _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b),
                                                 _MM_SHUFFLE(2, 0, 2, 0)));
}

/* High halves of the 64-bit lanes of a, b per 128-bit half, in the same order. */
__attribute__((target(ITS_RNG_AVX2))) static inline __m256i its_rng__pack_hi_avx2(__m256i a, __m256i b)
{
    return _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b),
                                                 _MM_SHUFFLE(3, 1, 3, 1)));
}

/* Only word 3 of the counter varies along a stream, so the first rounds are partly constant:
 * round 1 leaves x0, x1, x3 fixed (x2 = ctr ^ r1); round 2 multiplies only x2 and leaves x2, x3
 * fixed; round 3 multiplies only x0 and leaves x1 fixed. Those words are computed once per call
 * in scalars (integer arithmetic: the same bits), and the vector rounds start from them. */
typedef struct its_philox_pre {
    uint32_t r1;          /* round 1: x2 = ctr ^ r1 */
    uint32_t r2;          /* round 2: x0 = hi(M1 x2) ^ r2, x1 = lo(M1 x2) */
    uint32_t r3a, r3b;    /* round 3: x0 = x1 ^ r3a, x2 = hi(M0 x0) ^ r3b, x3 = lo(M0 x0) */
    uint32_t r4;          /* round 4: x0 = hi(M1 x2) ^ r4 (the constant x1 folded in) */
    uint32_t k0[10], k1[10];
} its_philox_pre;

/* Inlined: called, it built the struct in its own frame with narrow stores and copied it out
 * with wide loads, a store-forwarding stall per 16 bytes (a quarter of a short row's time). */
ITS_RNG_INLINE its_philox_pre its_philox_pre_of(its_philox_stream s)
{
    its_philox_pre p;
    for (uint32_t r = 0; r < 10; r++) {
        p.k0[r] = s.k0 + r * ITS_PHILOX_W0;
        p.k1[r] = s.k1 + r * ITS_PHILOX_W1;
    }
    uint64_t a = (uint64_t)ITS_PHILOX_M0 * s.c0, b = (uint64_t)ITS_PHILOX_M1 * s.c2;
    uint32_t x0 = (uint32_t)(b >> 32) ^ s.c1 ^ p.k0[0], x1 = (uint32_t)b, x3 = (uint32_t)a;
    p.r1 = (uint32_t)(a >> 32) ^ p.k1[0];
    a = (uint64_t)ITS_PHILOX_M0 * x0;
    p.r2 = x1 ^ p.k0[1];
    uint32_t y2 = (uint32_t)(a >> 32) ^ x3 ^ p.k1[1], y3 = (uint32_t)a;
    b = (uint64_t)ITS_PHILOX_M1 * y2;
    p.r3a = (uint32_t)(b >> 32) ^ p.k0[2];
    p.r3b = y3 ^ p.k1[2];
    p.r4 = (uint32_t)b ^ p.k0[3];
    return p;
}

/* M1 ((b ^ r1) & ~15) of the run from block b, b a multiple of 16. */
static inline uint64_t its_philox_p1_base(const its_philox_pre *pre, uint32_t b)
{
    return (uint64_t)ITS_PHILOX_M1 * (uint64_t)((b ^ pre->r1) & ~15u);
}

/* The constants of its_philox_pre broadcast to vectors once per kernel call. */
#define ITS_PHILOX_KV_R1 0
#define ITS_PHILOX_KV_R2 1
#define ITS_PHILOX_KV_R3A 2
#define ITS_PHILOX_KV_R3B 3
#define ITS_PHILOX_KV_R4 4
#define ITS_PHILOX_KV_K0 5  /* k0[r] at 5 + r - 4, r = 4 .. 9 */
#define ITS_PHILOX_KV_K1 11 /* k1[r] at 11 + r - 3, r = 3 .. 9 */
#define ITS_PHILOX_KV_N 18

#define ITS_PHILOX_KV_FILL(kv, set1, pre)                                                      \
    do {                                                                                       \
        kv[ITS_PHILOX_KV_R1] = set1((int)(pre).r1);                                            \
        kv[ITS_PHILOX_KV_R2] = set1((int)(pre).r2);                                            \
        kv[ITS_PHILOX_KV_R3A] = set1((int)(pre).r3a);                                          \
        kv[ITS_PHILOX_KV_R3B] = set1((int)(pre).r3b);                                          \
        kv[ITS_PHILOX_KV_R4] = set1((int)(pre).r4);                                            \
        for (int r_ = 4; r_ < 10; r_++)                                                        \
            kv[ITS_PHILOX_KV_K0 + r_ - 4] = set1((int)(pre).k0[r_]);                           \
        for (int r_ = 3; r_ < 10; r_++)                                                        \
            kv[ITS_PHILOX_KV_K1 + r_ - 3] = set1((int)(pre).k1[r_]);                           \
    } while (0)

/* Ten rounds on 64-bit lanes (one block each, word in the low half, as in the generic path) from
 * counters ctr; V the vector type, kv the broadcast constants. x1 and x3 keep the whole product;
 * nothing reads a high half. */
#define ITS_PHILOX_PRE_ROUNDS(V, set1, mul, srl, xor, kv, ctr, x0, x1, x2, x3)                 \
    do {                                                                                       \
        const V m1c_ = set1((int)ITS_PHILOX_M1);                                               \
        V p1in_ = mul(xor(ctr, kv[ITS_PHILOX_KV_R1]), m1c_);                                   \
        ITS_PHILOX_ROUNDS_FROM_P1(V, set1, mul, srl, xor, kv, p1in_, x0, x1, x2, x3);          \
    } while (0)

/* The same from round 2's product p1 = M1 (ctr ^ r1), 64-bit lanes. Both stop before the last
 * round's xors, with x0 = M0 x0 and x2 = M1 x2 (the full products) and x1, x3 the round's
 * inputs: the words are then hi(x2) ^ x1 ^ k0[9], lo(x2), hi(x0) ^ x3 ^ k1[9], lo(x0), and
 * packing the halves of two vectors first (the high halves for hi) leaves the two xors to
 * full-width vectors instead of a shift and two xors per 64-bit lane vector. For a run of 16 blocks
 * from a multiple of 16, ctr ^ r1 = ((b ^ r1) & ~15) + (i ^ (r1 & 15)), i = ctr - b, and as
 * both products fit 64 bits, p1 = M1 ((b ^ r1) & ~15) + M1 (i ^ (r1 & 15)): one broadcast and
 * one 64-bit add per vector (the second terms are constants of the call, d1: M1 (i ^ (r1 & 15))
 * for the block i (0 .. 15) that each 64-bit lane of a group's counter vectors holds)
 * instead of the counter add, the xor and the multiply. */
#define ITS_PHILOX_ROUNDS_FROM_P1(V, set1, mul, srl, xor, kv, p1in, x0, x1, x2, x3)            \
    do {                                                                                       \
        const V m0_ = set1((int)ITS_PHILOX_M0), m1_ = set1((int)ITS_PHILOX_M1);                \
        V p0_, p1_ = (p1in);                                                                   \
        x0 = xor(srl(p1_, 32), kv[ITS_PHILOX_KV_R2]);                                          \
        x1 = p1_;                                                                              \
        p0_ = mul(x0, m0_);                                                                    \
        x0 = xor(x1, kv[ITS_PHILOX_KV_R3A]);                                                   \
        x2 = xor(srl(p0_, 32), kv[ITS_PHILOX_KV_R3B]);                                         \
        x3 = p0_;                                                                              \
        p0_ = mul(x0, m0_);                                                                    \
        p1_ = mul(x2, m1_);                                                                    \
        x0 = xor(srl(p1_, 32), kv[ITS_PHILOX_KV_R4]);                                          \
        x1 = p1_;                                                                              \
        x2 = xor(xor(srl(p0_, 32), x3), kv[ITS_PHILOX_KV_K1]);                                 \
        x3 = p0_;                                                                              \
        ITS_PHILOX_FULL_ROUND(V, mul, srl, xor, kv, 4, x0, x1, x2, x3);                        \
        ITS_PHILOX_FULL_ROUND(V, mul, srl, xor, kv, 5, x0, x1, x2, x3);                        \
        ITS_PHILOX_FULL_ROUND(V, mul, srl, xor, kv, 6, x0, x1, x2, x3);                        \
        ITS_PHILOX_FULL_ROUND(V, mul, srl, xor, kv, 7, x0, x1, x2, x3);                        \
        ITS_PHILOX_FULL_ROUND(V, mul, srl, xor, kv, 8, x0, x1, x2, x3);                        \
        x0 = mul(x0, m0_);                                                                     \
        x2 = mul(x2, m1_);                                                                     \
    } while (0)

#define ITS_PHILOX_FULL_ROUND(V, mul, srl, xor, kv, r, x0, x1, x2, x3)                         \
    do {                                                                                       \
        V q0_ = mul(x0, m0_), q1_ = mul(x2, m1_);                                              \
        x0 = xor(xor(srl(q1_, 32), x1), kv[ITS_PHILOX_KV_K0 + (r) - 4]);                       \
        x1 = q1_;                                                                              \
        x2 = xor(xor(srl(q0_, 32), x3), kv[ITS_PHILOX_KV_K1 + (r) - 3]);                       \
        x3 = q0_;                                                                              \
    } while (0)

/* Box-Muller on a vector of pairs (wa, wb): the scalar its_rng__radius and its_rng__sincos_2pi,
 * operation for operation in the float parts; the integer parts reach the same values with
 * fewer operations. Written once over an operation table O_* (one per path): F = float vector,
 * U = 32-bit integer vector. */
#define ITS_RNG_DEFINE_BM(sfx, attr, F, U)                                                     \
    attr ITS_RNG_INLINE void its_rng__bm_##sfx(U wa, U wb, F *zc, F *zs)                       \
    {                                                                                          \
        /* radius: r = sqrt(-2 ln u_a), u_a = ((wa >> 1) | 1) 2^-31; the scaling by 2^-31 is  \
         * exact and only the bits of u_a are read, so it goes into the exponent's offset */    \
        F fa = O_CVT(O_OR(O_SRL(wa, 1), O_IC(1)));                                             \
        U ix = O_IADD(O_F2U(fa), O_IC(0x3f800000 - 0x3f3504f3 - (31 << 23)));                  \
        F m = O_U2F(O_IADD(O_AND(ix, O_IC(0x007fffff)), O_IC(0x3f3504f3)));                    \
        F f = O_SUB(m, O_FC(1.0f));                                                            \
        F s = O_DIV(f, O_ADD(O_FC(2.0f), f));                                                  \
        F z = O_MUL(s, s);                                                                     \
        F p = O_MUL(z, O_ADD(O_FC(ITS_ATANH_3),                                                \
                             O_MUL(z, O_ADD(O_FC(ITS_ATANH_5),                                 \
                                            O_MUL(z, O_ADD(O_FC(ITS_ATANH_7),                  \
                                                           O_MUL(z, O_FC(ITS_ATANH_9))))))));  \
        /* 2 nl directly: with s4 = 4 s and the ln 2 halves doubled every operand and every   \
         * rounding is the scalar one times 2 (powers of 2, no underflow), so the scalar's     \
         * nl + nl needs no operation; ne (2 ln2_hi) is exact (Cody-Waite), so the FMA rounds   \
         * the sum as the scalar's add does. */                                                 \
        F s4 = O_MUL(s, O_FC(4.0f));                                                           \
        F ln_m2 = O_ADD(s4, O_MUL(s4, p));                                                     \
        F ne = O_CVT(O_ISUB(O_IC(127), O_SRL(ix, 23))); /* -e */                               \
        F nl2 = O_FMA(ne, O_FC(2.0f * ITS_LN2_HI),                                             \
                      O_SUB(O_MUL(ne, O_FC(2.0f * ITS_LN2_LO)), ln_m2));                      \
        F r = O_SQRT(nl2);                                                                     \
        /* angle: an odd octant (bit 29 of wb) complements g. In t2 = wb << 2 the octant bit   \
         * is the sign and g's 21 bits sit at 10..30: t2 ^ (t2 >> 31, arithmetic) complements \
         * them and clears the sign, and >> 9 puts them at 1..21, so 2 gi + 1 needs no mask */  \
        U t2 = O_SLL(wb, 2);                                                                   \
        U gi2 = O_OR(O_SRL(O_XOR(t2, O_SRA(t2, 31)), 9), O_IC(1));                             \
        F g = O_MUL(O_CVT(gi2), O_FC(0x1p-22f));                                               \
        F g2 = O_MUL(g, g);                                                                    \
        F sp = O_MUL(g, O_ADD(O_FC(ITS_SIN_1), O_MUL(g2, O_ADD(O_FC(ITS_SIN_3), O_MUL(g2,        \
                     O_ADD(O_FC(ITS_SIN_5), O_MUL(g2, O_ADD(O_FC(ITS_SIN_7),                   \
                     O_MUL(g2, O_FC(ITS_SIN_9))))))))));                                       \
        F cp = O_ADD(O_FC(1.0f), O_MUL(g2, O_ADD(O_FC(ITS_COS_2), O_MUL(g2,                    \
                     O_ADD(O_FC(ITS_COS_4), O_MUL(g2, O_ADD(O_FC(ITS_COS_6), O_MUL(g2,         \
                     O_ADD(O_FC(ITS_COS_8), O_MUL(g2, O_FC(ITS_COS_10)))))))))));              \
        /* sign of sw: octant ^ quadrant parity (swap); sign of t: the cosine's (q = 1, 2) */  \
        U w1 = O_SLL(wb, 1);                                                                   \
        U t = O_XOR(wb, w1);                                                                   \
        U sw = O_XOR(w1, t2);                                                                  \
        F sn = O_BLENDV(sp, cp, sw), cs = O_BLENDV(cp, sp, sw);                                \
        sn = O_U2F(O_XOR(O_F2U(sn), O_AND(wb, O_IC((int)0x80000000u))));                      \
        cs = O_U2F(O_XOR(O_F2U(cs), O_AND(t, O_IC((int)0x80000000u))));                       \
        *zc = O_MUL(r, cs);                                                                    \
        *zs = O_MUL(r, sn);                                                                    \
    }

/* AVX2 runs every operation on two ymm registers side by side: two independent chains
 * interleaved instruction by instruction, as AVX-512 on 256-bit units does in hardware. One
 * chain alone leaves the core waiting on div, sqrt and the polynomial latencies: a group is
 * longer than the reorder window, which cannot reach the next one. */
typedef struct its_m256x2 {
    __m256 a, b;
} its_m256x2;
typedef struct its_m256i2 {
    __m256i a, b;
} its_m256i2;

#define ITS_X2_BIN(name, T, op)                                                                \
    __attribute__((target(ITS_RNG_AVX2))) ITS_RNG_INLINE T name(T x, T y)                            \
    {                                                                                          \
        return (T){op(x.a, y.a), op(x.b, y.b)};                                                \
    }
#define ITS_X2_SHIFT(name, op)                                                                 \
    __attribute__((target(ITS_RNG_AVX2))) ITS_RNG_INLINE its_m256i2 name(its_m256i2 x, int n)        \
    {                                                                                          \
        return (its_m256i2){op(x.a, n), op(x.b, n)};                                           \
    }
ITS_X2_BIN(its_x2_add, its_m256x2, _mm256_add_ps)
ITS_X2_BIN(its_x2_sub, its_m256x2, _mm256_sub_ps)
ITS_X2_BIN(its_x2_mul, its_m256x2, _mm256_mul_ps)
ITS_X2_BIN(its_x2_div, its_m256x2, _mm256_div_ps)
__attribute__((target(ITS_RNG_AVX2))) ITS_RNG_INLINE its_m256x2 its_x2_fma(its_m256x2 x,
                                                                         its_m256x2 y,
                                                                         its_m256x2 z)
{
    return (its_m256x2){_mm256_fmadd_ps(x.a, y.a, z.a), _mm256_fmadd_ps(x.b, y.b, z.b)};
}
ITS_X2_BIN(its_x2_iadd, its_m256i2, _mm256_add_epi32)
ITS_X2_BIN(its_x2_isub, its_m256i2, _mm256_sub_epi32)
ITS_X2_BIN(its_x2_and, its_m256i2, _mm256_and_si256)
ITS_X2_BIN(its_x2_or, its_m256i2, _mm256_or_si256)
ITS_X2_BIN(its_x2_xor, its_m256i2, _mm256_xor_si256)
ITS_X2_BIN(its_x2_mulu, its_m256i2, _mm256_mul_epu32)
ITS_X2_SHIFT(its_x2_srl, _mm256_srli_epi32)
ITS_X2_SHIFT(its_x2_sll, _mm256_slli_epi32)
ITS_X2_SHIFT(its_x2_sra, _mm256_srai_epi32)
ITS_X2_SHIFT(its_x2_srl64, _mm256_srli_epi64)

__attribute__((target(ITS_RNG_AVX2))) ITS_RNG_INLINE its_m256x2 its_x2_fc(float c)
{
    return (its_m256x2){_mm256_set1_ps(c), _mm256_set1_ps(c)};
}
__attribute__((target(ITS_RNG_AVX2))) ITS_RNG_INLINE its_m256i2 its_x2_ic(int c)
{
    return (its_m256i2){_mm256_set1_epi32(c), _mm256_set1_epi32(c)};
}
__attribute__((target(ITS_RNG_AVX2))) ITS_RNG_INLINE its_m256x2 its_x2_cvt(its_m256i2 x)
{
    return (its_m256x2){_mm256_cvtepi32_ps(x.a), _mm256_cvtepi32_ps(x.b)};
}
__attribute__((target(ITS_RNG_AVX2))) ITS_RNG_INLINE its_m256i2 its_x2_f2u(its_m256x2 x)
{
    return (its_m256i2){_mm256_castps_si256(x.a), _mm256_castps_si256(x.b)};
}
__attribute__((target(ITS_RNG_AVX2))) ITS_RNG_INLINE its_m256x2 its_x2_u2f(its_m256i2 x)
{
    return (its_m256x2){_mm256_castsi256_ps(x.a), _mm256_castsi256_ps(x.b)};
}
__attribute__((target(ITS_RNG_AVX2))) ITS_RNG_INLINE its_m256x2 its_x2_sqrt(its_m256x2 x)
{
    return (its_m256x2){_mm256_sqrt_ps(x.a), _mm256_sqrt_ps(x.b)};
}
/* b where the sign bit of m is set, else a */
__attribute__((target(ITS_RNG_AVX2))) ITS_RNG_INLINE its_m256x2 its_x2_blendv(its_m256x2 a,
                                                                       its_m256x2 b,
                                                                       its_m256i2 m)
{
    return (its_m256x2){_mm256_blendv_ps(a.a, b.a, _mm256_castsi256_ps(m.a)),
                        _mm256_blendv_ps(a.b, b.b, _mm256_castsi256_ps(m.b))};
}

#define O_ADD its_x2_add
#define O_SUB its_x2_sub
#define O_MUL its_x2_mul
#define O_DIV its_x2_div
#define O_FMA its_x2_fma
#define O_IADD its_x2_iadd
#define O_ISUB its_x2_isub
#define O_AND its_x2_and
#define O_OR its_x2_or
#define O_XOR its_x2_xor
#define O_SRL its_x2_srl
#define O_SLL its_x2_sll
#define O_SRA its_x2_sra
#define O_FC its_x2_fc
#define O_IC its_x2_ic
#define O_CVT its_x2_cvt
#define O_F2U its_x2_f2u
#define O_U2F its_x2_u2f
#define O_SQRT its_x2_sqrt
#define O_BLENDV its_x2_blendv
ITS_RNG_DEFINE_BM(avx2, __attribute__((target(ITS_RNG_AVX2))), its_m256x2, its_m256i2)
#undef O_ADD
#undef O_SUB
#undef O_MUL
#undef O_DIV
#undef O_FMA
#undef O_IADD
#undef O_ISUB
#undef O_AND
#undef O_OR
#undef O_XOR
#undef O_SRL
#undef O_SLL
#undef O_SRA
#undef O_FC
#undef O_IC
#undef O_CVT
#undef O_F2U
#undef O_U2F
#undef O_SQRT
#undef O_BLENDV

#define O_ADD _mm512_add_ps
#define O_SUB _mm512_sub_ps
#define O_MUL _mm512_mul_ps
#define O_DIV _mm512_div_ps
#define O_FMA _mm512_fmadd_ps
#define O_IADD _mm512_add_epi32
#define O_ISUB _mm512_sub_epi32
#define O_AND _mm512_and_si512
#define O_OR _mm512_or_si512
#define O_XOR _mm512_xor_si512
#define O_SRL _mm512_srli_epi32
#define O_SLL _mm512_slli_epi32
#define O_SRA _mm512_srai_epi32
#define O_FC _mm512_set1_ps
#define O_IC _mm512_set1_epi32
#define O_CVT _mm512_cvtepi32_ps
#define O_F2U _mm512_castps_si512
#define O_U2F _mm512_castsi512_ps
#define O_SQRT _mm512_sqrt_ps
#define O_BLENDV(a, b, m) _mm512_mask_blend_ps(_mm512_movepi32_mask(m), (a), (b))
ITS_RNG_DEFINE_BM(avx512, __attribute__((target(ITS_RNG_AVX512))), __m512, __m512i)
#undef O_ADD
#undef O_SUB
#undef O_MUL
#undef O_DIV
#undef O_FMA
#undef O_IADD
#undef O_ISUB
#undef O_AND
#undef O_OR
#undef O_XOR
#undef O_SRL
#undef O_SLL
#undef O_SRA
#undef O_FC
#undef O_IC
#undef O_CVT
#undef O_F2U
#undef O_U2F
#undef O_SQRT
#undef O_BLENDV

/* Group layout. After Box-Muller, lane l of (A, B, C, D) holds z[4k], z[4k+1], z[4k+2], z[4k+3]
 * of some block k; an in-lane 4x4 transpose (unpack, no lane crossing) turns them into four
 * vectors in memory order when 32-bit lane 4j + i holds block i L + j (L = 128-bit lanes per
 * vector). The counters are loaded so: a lane's block is free to choose. */
#define ITS_RNG_TRANSPOSE(PS, PD, unlo, unhi, unlo_pd, unhi_pd, cps, cpd, A, B, C, D, o)       \
    do {                                                                                       \
        PS t0_ = unlo((PS)(A), (PS)(B)), t1_ = unhi((PS)(A), (PS)(B));                         \
        PS t2_ = unlo((PS)(C), (PS)(D)), t3_ = unhi((PS)(C), (PS)(D));                         \
        o[0] = cps(unlo_pd(cpd(t0_), cpd(t2_)));                                               \
        o[1] = cps(unhi_pd(cpd(t0_), cpd(t2_)));                                               \
        o[2] = cps(unlo_pd(cpd(t1_), cpd(t3_)));                                               \
        o[3] = cps(unhi_pd(cpd(t1_), cpd(t3_)));                                               \
    } while (0)

__attribute__((target(ITS_RNG_AVX2))) ITS_RNG_INLINE its_m256i2 its_rng__set1_avx2(int v)
{
    return its_x2_ic(v);
}

/* Words of 16 blocks from block b, as two sets of 8 (the low and high halves of w[k]). In a
 * set, 64-bit lanes of P hold blocks (0, 2, 1, 3), of Q (4, 6, 5, 7); packing their low halves
 * gives the lane order 0 2 4 6 | 1 3 5 7 that the transpose needs (W = 8, L = 2). With d1 (b a
 * multiple of 16) round 2 starts from M1 ((b ^ r1) & ~15) + d1 (ITS_PHILOX_ROUNDS_FROM_P1). */
typedef struct its_rng_d1_avx2 {
    __m256i v[4]; /* lanes of P low, P high, Q low, Q high */
} its_rng_d1_avx2;
static const unsigned its_rng__lane_blk_avx2[16] = {0, 2, 1, 3, 8, 10, 9, 11,
                                                   4, 6, 5, 7, 12, 14, 13, 15};

/* d1 in vector lanes from each lane's block number: the same 32 x 32 -> 64 products as scalars,
 * without a wide load of narrow stores (a store-forwarding stall on every call). */
__attribute__((target(ITS_RNG_AVX2))) ITS_RNG_INLINE void
its_rng__d1_avx2(const its_philox_pre *pre, its_rng_d1_avx2 *d)
{
    const __m256i r = _mm256_set1_epi64x((long long)(pre->r1 & 15u));
    const __m256i m1 = _mm256_set1_epi64x((long long)ITS_PHILOX_M1);
    for (int k = 0; k < 4; k++) {
        const unsigned *l = its_rng__lane_blk_avx2 + 4 * k;
        const __m256i blk = _mm256_setr_epi64x(l[0], l[1], l[2], l[3]);
        d->v[k] = _mm256_mul_epu32(_mm256_xor_si256(blk, r), m1);
    }
}

__attribute__((target(ITS_RNG_AVX2))) ITS_RNG_INLINE void
its_rng__words_avx2(const its_m256i2 *kv, const its_philox_pre *pre, const its_rng_d1_avx2 *d1,
                    uint32_t b, its_m256i2 w[4])
{
    its_m256i2 p[4], q[4];
    if (d1) {
        const __m256i vp = _mm256_set1_epi64x((long long)its_philox_p1_base(pre, b));
        its_m256i2 p1p = {_mm256_add_epi64(vp, d1->v[0]), _mm256_add_epi64(vp, d1->v[1])};
        its_m256i2 p1q = {_mm256_add_epi64(vp, d1->v[2]), _mm256_add_epi64(vp, d1->v[3])};
        ITS_PHILOX_ROUNDS_FROM_P1(its_m256i2, its_x2_ic, its_x2_mulu, its_x2_srl64, its_x2_xor,
                                  kv, p1p, p[0], p[1], p[2], p[3]);
        ITS_PHILOX_ROUNDS_FROM_P1(its_m256i2, its_x2_ic, its_x2_mulu, its_x2_srl64, its_x2_xor,
                                  kv, p1q, q[0], q[1], q[2], q[3]);
    } else {
        const __m256i vb = _mm256_set1_epi64x((long long)b);
        const __m256i vb8 = _mm256_set1_epi64x((long long)(uint32_t)(b + 8u));
        const __m256i ip = _mm256_setr_epi32(0, 0, 2, 0, 1, 0, 3, 0);
        const __m256i iq = _mm256_setr_epi32(4, 0, 6, 0, 5, 0, 7, 0);
        its_m256i2 ctr_p = {_mm256_add_epi32(vb, ip), _mm256_add_epi32(vb8, ip)};
        its_m256i2 ctr_q = {_mm256_add_epi32(vb, iq), _mm256_add_epi32(vb8, iq)};
        ITS_PHILOX_PRE_ROUNDS(its_m256i2, its_x2_ic, its_x2_mulu, its_x2_srl64, its_x2_xor, kv,
                              ctr_p, p[0], p[1], p[2], p[3]);
        ITS_PHILOX_PRE_ROUNDS(its_m256i2, its_x2_ic, its_x2_mulu, its_x2_srl64, its_x2_xor, kv,
                              ctr_q, q[0], q[1], q[2], q[3]);
    }
    const its_m256i2 k0 = kv[ITS_PHILOX_KV_K0 + 9 - 4], k1 = kv[ITS_PHILOX_KV_K1 + 9 - 3];
#define ITS_RNG_PACK_AVX2(h)                                                                   \
    do {                                                                                       \
        w[0].h = _mm256_xor_si256(_mm256_xor_si256(its_rng__pack_hi_avx2(p[2].h, q[2].h),       \
                                                   its_rng__pack_lo_avx2(p[1].h, q[1].h)),      \
                                  k0.h);                                                       \
        w[1].h = its_rng__pack_lo_avx2(p[2].h, q[2].h);                                        \
        w[2].h = _mm256_xor_si256(_mm256_xor_si256(its_rng__pack_hi_avx2(p[0].h, q[0].h),       \
                                                   its_rng__pack_lo_avx2(p[3].h, q[3].h)),      \
                                  k1.h);                                                       \
        w[3].h = its_rng__pack_lo_avx2(p[0].h, q[0].h);                                        \
    } while (0)
    ITS_RNG_PACK_AVX2(a);
    ITS_RNG_PACK_AVX2(b);
#undef ITS_RNG_PACK_AVX2
}

/* The 64 normals of a group's words into o[0..7], in memory order. */
__attribute__((target(ITS_RNG_AVX2))) ITS_RNG_INLINE void its_rng__normals_avx2(const its_m256i2 w[4],
                                                                          __m256 o[8])
{
    its_m256x2 A, B, C, D;
    its_rng__bm_avx2(w[0], w[1], &A, &B);
    its_rng__bm_avx2(w[2], w[3], &C, &D);
    ITS_RNG_TRANSPOSE(__m256, __m256d, _mm256_unpacklo_ps, _mm256_unpackhi_ps,
                      _mm256_unpacklo_pd, _mm256_unpackhi_pd, _mm256_castpd_ps,
                      _mm256_castps_pd, A.a, B.a, C.a, D.a, o);
    ITS_RNG_TRANSPOSE(__m256, __m256d, _mm256_unpacklo_ps, _mm256_unpackhi_ps,
                      _mm256_unpacklo_pd, _mm256_unpackhi_pd, _mm256_castpd_ps,
                      _mm256_castps_pd, A.b, B.b, C.b, D.b, (o + 4));
}

__attribute__((target(ITS_RNG_AVX512))) static inline __m512i its_rng__xor_avx512(__m512i a,
                                                                                  __m512i b)
{
    return _mm512_xor_si512(a, b);
}

/* Words of 16 blocks from block b: lane l = 4j + i holds block 4i + j. d1 as for avx2. */
typedef struct its_rng_d1_avx512 {
    __m512i v[2]; /* lanes of P, Q */
} its_rng_d1_avx512;
static const unsigned its_rng__lane_blk_avx512[16] = {0, 4, 8, 12, 1, 5, 9, 13,
                                                     2, 6, 10, 14, 3, 7, 11, 15};

__attribute__((target(ITS_RNG_AVX512))) ITS_RNG_INLINE void
its_rng__d1_avx512(const its_philox_pre *pre, its_rng_d1_avx512 *d)
{
    const __m512i r = _mm512_set1_epi64((long long)(pre->r1 & 15u));
    const __m512i m1 = _mm512_set1_epi64((long long)ITS_PHILOX_M1);
    for (int k = 0; k < 2; k++) {
        const unsigned *l = its_rng__lane_blk_avx512 + 8 * k;
        const __m512i blk = _mm512_setr_epi64(l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7]);
        d->v[k] = _mm512_mul_epu32(_mm512_xor_si512(blk, r), m1);
    }
}

__attribute__((target(ITS_RNG_AVX512))) ITS_RNG_INLINE void
its_rng__words_avx512(const __m512i *kv, const its_philox_pre *pre, const its_rng_d1_avx512 *d1,
                      uint32_t b, __m512i w[4])
{
    __m512i p0, p1, p2, p3, q0, q1, q2, q3;
    if (d1) {
        const __m512i vp = _mm512_set1_epi64((long long)its_philox_p1_base(pre, b));
        __m512i p1p = _mm512_add_epi64(vp, d1->v[0]), p1q = _mm512_add_epi64(vp, d1->v[1]);
        ITS_PHILOX_ROUNDS_FROM_P1(__m512i, _mm512_set1_epi32, _mm512_mul_epu32,
                                  _mm512_srli_epi64, its_rng__xor_avx512, kv, p1p, p0, p1, p2,
                                  p3);
        ITS_PHILOX_ROUNDS_FROM_P1(__m512i, _mm512_set1_epi32, _mm512_mul_epu32,
                                  _mm512_srli_epi64, its_rng__xor_avx512, kv, p1q, q0, q1, q2,
                                  q3);
    } else {
        const __m512i vb = _mm512_set1_epi64((long long)b);
        __m512i ctr_p = _mm512_add_epi32(
            vb, _mm512_setr_epi32(0, 0, 4, 0, 8, 0, 12, 0, 1, 0, 5, 0, 9, 0, 13, 0));
        __m512i ctr_q = _mm512_add_epi32(
            vb, _mm512_setr_epi32(2, 0, 6, 0, 10, 0, 14, 0, 3, 0, 7, 0, 11, 0, 15, 0));
        ITS_PHILOX_PRE_ROUNDS(__m512i, _mm512_set1_epi32, _mm512_mul_epu32, _mm512_srli_epi64,
                              its_rng__xor_avx512, kv, ctr_p, p0, p1, p2, p3);
        ITS_PHILOX_PRE_ROUNDS(__m512i, _mm512_set1_epi32, _mm512_mul_epu32, _mm512_srli_epi64,
                              its_rng__xor_avx512, kv, ctr_q, q0, q1, q2, q3);
    }
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    w[0] = _mm512_xor_si512(_mm512_xor_si512(_mm512_permutex2var_epi32(p2, odd, q2),
                                             _mm512_permutex2var_epi32(p1, even, q1)),
                            kv[ITS_PHILOX_KV_K0 + 9 - 4]);
    w[1] = _mm512_permutex2var_epi32(p2, even, q2);
    w[2] = _mm512_xor_si512(_mm512_xor_si512(_mm512_permutex2var_epi32(p0, odd, q0),
                                             _mm512_permutex2var_epi32(p3, even, q3)),
                            kv[ITS_PHILOX_KV_K1 + 9 - 3]);
    w[3] = _mm512_permutex2var_epi32(p0, even, q0);
}

__attribute__((target(ITS_RNG_AVX512))) ITS_RNG_INLINE void
its_rng__normals_avx512(const __m512i w[4], __m512 o[4])
{
    __m512 A, B, C, D;
    its_rng__bm_avx512(w[0], w[1], &A, &B);
    its_rng__bm_avx512(w[2], w[3], &C, &D);
    ITS_RNG_TRANSPOSE(__m512, __m512d, _mm512_unpacklo_ps, _mm512_unpackhi_ps,
                      _mm512_unpacklo_pd, _mm512_unpackhi_pd, _mm512_castpd_ps,
                      _mm512_castps_pd, A, B, C, D, o);
}

/* Per-ISA loads and stores of vector k of a group: whole, or the first `cnt` lanes (masked lanes
 * are neither read nor written, so a row's end needs no scalar tail). */
__attribute__((target(ITS_RNG_AVX2))) static inline __m256i its_rng__mask_avx2(size_t cnt)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)cnt), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#define ITS_RNG_LOAD_AVX2(p, cnt, W)                                                           \
    ((cnt) == (W) ? _mm256_loadu_ps(p) : _mm256_maskload_ps((p), its_rng__mask_avx2(cnt)))
#define ITS_RNG_STORE_AVX2(p, v, cnt, W)                                                       \
    do {                                                                                       \
        if ((cnt) == (W))                                                                      \
            _mm256_storeu_ps((p), (v));                                                        \
        else                                                                                   \
            _mm256_maskstore_ps((p), its_rng__mask_avx2(cnt), (v));                            \
    } while (0)
#define ITS_RNG_LOAD_AVX512(p, cnt, W)                                                         \
    ((cnt) == (W) ? _mm512_loadu_ps(p)                                                         \
                  : _mm512_maskz_loadu_ps((__mmask16)((1u << (cnt)) - 1u), (p)))
#define ITS_RNG_STORE_AVX512(p, v, cnt, W)                                                     \
    do {                                                                                       \
        if ((cnt) == (W))                                                                      \
            _mm512_storeu_ps((p), (v));                                                        \
        else                                                                                   \
            _mm512_mask_storeu_ps((p), (__mmask16)((1u << (cnt)) - 1u), (v));                  \
    } while (0)

/* fill and lincomb of one register path. Work goes in steps of G groups of W blocks (4W values
 * each): first the Philox words of the G groups (independent chains; 4G vectors on the stack),
 * then Box-Muller, the transpose and the lincomb of each group straight from registers. A group's
 * Philox rounds and Box-Muller are one long dependency chain each, and a whole group is longer
 * than the core's reorder window: the split lets it overlap G groups' chains. The last vectors
 * of a row are loaded and stored with masks. The lincomb's four cases are separate loops (mode
 * is a constant in each call). Every load of x and y at an offset precedes the store there, so
 * out may alias x or y. */
#define ITS_RNG_G 4
#define ITS_RNG_DEFINE_REG_KERNELS(sfx, attr, W, NV, PS, PI, PW, set1, set1i, add, mul, LOAD, \
                                   STORE)                                                      \
    /* The values of one group (NV vectors of W from words w) at out + k .. as mode says: the  \
     * normals (mode < 0), or (a x + b y) + c z with the terms mode names (3: x and y, 1: x, 2: \
     * y, 0: none), up to m; the last vectors of a row loaded and stored with masks. Every load \
     * of x and y at an offset precedes the store there, so out may alias x or y. */            \
    attr ITS_RNG_INLINE void its_rng__emit_##sfx(float *out, size_t m, PS va, const float *x,  \
                                                 PS vb, const float *y, PS vc, PW *w, size_t k, \
                                                 int mode)                                     \
    {                                                                                          \
        PS o[NV];                                                                              \
        its_rng__normals_##sfx(w, o);                                                          \
        for (size_t v = 0; v < (NV); v++) {                                                    \
            size_t at = k + v * (W);                                                           \
            if (at >= m)                                                                       \
                break;                                                                         \
            size_t cnt = m - at < (W) ? m - at : (W);                                          \
            PS t;                                                                              \
            if (mode < 0) {                                                                    \
                t = o[v];                                                                      \
            } else {                                                                           \
                PS cz = mul(vc, o[v]);                                                         \
                if (mode == 3)                                                                 \
                    t = add(add(mul(va, LOAD(x + at, cnt, (W))), mul(vb, LOAD(y + at, cnt, (W)))), \
                            cz);                                                               \
                else if (mode == 1)                                                            \
                    t = add(mul(va, LOAD(x + at, cnt, (W))), cz);                              \
                else if (mode == 2)                                                            \
                    t = add(mul(vb, LOAD(y + at, cnt, (W))), cz);                              \
                else                                                                           \
                    t = cz;                                                                    \
            }                                                                                  \
            STORE(out + at, t, cnt, (W));                                                      \
        }                                                                                      \
    }                                                                                          \
    attr ITS_RNG_INLINE void its_rng__run_##sfx(float *out, size_t m, float a, const float *x, \
                                                float b, const float *y, float c,              \
                                                its_philox_stream s, uint32_t b0, int mode)    \
    {                                                                                          \
        const its_philox_pre pre = its_philox_pre_of(s);                                       \
        PI kv[ITS_PHILOX_KV_N];                                                                \
        ITS_PHILOX_KV_FILL(kv, set1i, pre);                                                    \
        its_rng_d1_##sfx d1v;                                                                  \
        const its_rng_d1_##sfx *d1 = NULL; /* groups start at b0 + 16 j */                     \
        if ((b0 & 15u) == 0) {                                                                 \
            its_rng__d1_##sfx(&pre, &d1v);                                                     \
            d1 = &d1v;                                                                         \
        }                                                                                      \
        const PS va = set1(a), vb = set1(b), vc = set1(c);                                     \
        for (size_t k0 = 0; k0 < m; k0 += ITS_RNG_G * (NV) * (W)) {                            \
            size_t ng = (m - k0 + (NV) * (W)-1) / ((NV) * (W));                                \
            if (ng > ITS_RNG_G)                                                                \
                ng = ITS_RNG_G;                                                                \
            PW w[ITS_RNG_G][4];                                                                \
            for (size_t g = 0; g < ng; g++)                                                    \
                its_rng__words_##sfx(kv, &pre, d1, b0 + (uint32_t)((k0 + g * (NV) * (W)) / 4),  \
                                     w[g]);                                            \
            for (size_t g = 0; g < ng; g++)                                                    \
                its_rng__emit_##sfx(out, m, va, x, vb, y, vc, w[g], k0 + g * (NV) * (W), mode);  \
        }                                                                                      \
    }                                                                                          \
    /* Rows of at most NV W values (one group each), G rows at a time: their Philox and        \
     * Box-Muller chains overlap as the groups of one long row do in run, and each row gets     \
     * the bits run gives it alone (the same words, normals and lincomb, from block 0). */      \
    attr ITS_RNG_INLINE void its_rng__rows_run_##sfx(const its_rng_row *rows, size_t nr,       \
                                                     size_t m, float a, float b, float c,      \
                                                     int mode)                                 \
    {                                                                                          \
        const PS va = set1(a), vb = set1(b), vc = set1(c);                                     \
        for (size_t r0 = 0; r0 < nr; r0 += ITS_RNG_G) {                                        \
            size_t ng = nr - r0 < ITS_RNG_G ? nr - r0 : ITS_RNG_G;                             \
            PW w[ITS_RNG_G][4];                                                                \
            for (size_t g = 0; g < ng; g++) {                                                  \
                const its_philox_pre pre =                                                     \
                    its_philox_pre_of(its_philox_stream_of(&rows[r0 + g].key));                \
                PI kv[ITS_PHILOX_KV_N];                                                        \
                ITS_PHILOX_KV_FILL(kv, set1i, pre);                                            \
                its_rng_d1_##sfx d1v;                                                          \
                its_rng__d1_##sfx(&pre, &d1v);                                                 \
                its_rng__words_##sfx(kv, &pre, &d1v, 0, w[g]);                                 \
            }                                                                                  \
            for (size_t g = 0; g < ng; g++) {                                                  \
                const its_rng_row *r = &rows[r0 + g];                                          \
                its_rng__emit_##sfx(r->out, m, va, r->x, vb, r->y, vc, w[g], 0, mode);         \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    attr static void its_rng__fill_##sfx(float *z, size_t m, its_philox_stream s, uint32_t b0) \
    {                                                                                          \
        its_rng__run_##sfx(z, m, 1.0f, NULL, 0.0f, NULL, 1.0f, s, b0, -1);                     \
    }                                                                                          \
    attr static void its_rng__lincomb_##sfx(float *out, size_t m, float a, const float *x,     \
                                            float b, const float *y, float c,                  \
                                            its_philox_stream s, uint32_t b0)                  \
    {                                                                                          \
        if (x && y)                                                                            \
            its_rng__run_##sfx(out, m, a, x, b, y, c, s, b0, 3);                               \
        else if (x)                                                                            \
            its_rng__run_##sfx(out, m, a, x, b, y, c, s, b0, 1);                               \
        else if (y)                                                                            \
            its_rng__run_##sfx(out, m, a, x, b, y, c, s, b0, 2);                               \
        else                                                                                   \
            its_rng__run_##sfx(out, m, a, x, b, y, c, s, b0, 0);                               \
    }                                                                                          \
    attr static void its_rng__rows_##sfx(const its_rng_row *rows, size_t nr, size_t m,         \
                                         float a, float b, float c)                            \
    {                                                                                          \
        if (m > (size_t)(NV) * (W)) {                                                          \
            its_rng__rows_each(its_rng__lincomb_##sfx, rows, nr, m, a, b, c);                  \
            return;                                                                            \
        }                                                                                      \
        int mode = (rows[0].x ? 1 : 0) | (rows[0].y ? 2 : 0);                                  \
        if (mode == 3)                                                                         \
            its_rng__rows_run_##sfx(rows, nr, m, a, b, c, 3);                                  \
        else if (mode == 1)                                                                    \
            its_rng__rows_run_##sfx(rows, nr, m, a, b, c, 1);                                  \
        else if (mode == 2)                                                                    \
            its_rng__rows_run_##sfx(rows, nr, m, a, b, c, 2);                                  \
        else                                                                                   \
            its_rng__rows_run_##sfx(rows, nr, m, a, b, c, 0);                                  \
    }

ITS_RNG_DEFINE_REG_KERNELS(avx2, __attribute__((target(ITS_RNG_AVX2))), 8, 8, __m256, its_m256i2,
                           its_m256i2, _mm256_set1_ps, its_rng__set1_avx2, _mm256_add_ps,
                           _mm256_mul_ps, ITS_RNG_LOAD_AVX2, ITS_RNG_STORE_AVX2)
ITS_RNG_DEFINE_REG_KERNELS(avx512, __attribute__((target(ITS_RNG_AVX512))), 16, 4, __m512,
                           __m512i, __m512i, _mm512_set1_ps, _mm512_set1_epi32, _mm512_add_ps,
                           _mm512_mul_ps, ITS_RNG_LOAD_AVX512, ITS_RNG_STORE_AVX512)
#endif

void its_rng_normal_pair(uint32_t wa, uint32_t wb, float *z0, float *z1)
{
    its_rng__box_muller(wa, wb, z0, z1);
}

/* The scalar and generic paths' rows: one lincomb call per row (no chains to overlap). */
static void its_rng__rows_scalar(const its_rng_row *rows, size_t nr, size_t m, float a, float b,
                                 float c)
{
    its_rng__rows_each(its_rng__lincomb_scalar, rows, nr, m, a, b, c);
}

static void its_rng__rows_generic(const its_rng_row *rows, size_t nr, size_t m, float a, float b,
                                  float c)
{
    its_rng__rows_each(its_rng__lincomb_generic, rows, nr, m, a, b, c);
}

static const its_rng_kernels its_rng__table[] = {
    [ITS_RNG_ISA_SCALAR] = {its_rng__fill_scalar, its_rng__lincomb_scalar, its_rng__rows_scalar},
    [ITS_RNG_ISA_GENERIC] = {its_rng__fill_generic, its_rng__lincomb_generic,
                             its_rng__rows_generic},
#if ITS_RNG_X86
    [ITS_RNG_ISA_AVX2] = {its_rng__fill_avx2, its_rng__lincomb_avx2, its_rng__rows_avx2},
    [ITS_RNG_ISA_AVX512] = {its_rng__fill_avx512, its_rng__lincomb_avx512, its_rng__rows_avx512},
#endif
};

/* ---- path selection: the CPU's best, capped once by ITS_SIMD ------------------------------ */

static _Atomic int its_rng__best_level = -1;   /* found on first use; every thread finds the same */
static _Atomic int its_rng__active_level = -1; /* idem: min(best, ITS_SIMD) */

its_rng_isa its_rng_isa_best(void)
{
    int best = atomic_load_explicit(&its_rng__best_level, memory_order_relaxed);
    if (best >= 0)
        return (its_rng_isa)best;
    best = ITS_RNG_ISA_GENERIC;
#if ITS_RNG_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq"))
        best = ITS_RNG_ISA_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best = ITS_RNG_ISA_AVX2;
#endif
    atomic_store_explicit(&its_rng__best_level, best, memory_order_relaxed);
    return (its_rng_isa)best;
}

int its_rng_isa_parse(const char *name, its_rng_isa *isa)
{
    for (int i = ITS_RNG_ISA_SCALAR; i <= ITS_RNG_ISA_AVX512; i++)
        if (name && strcmp(name, its_rng_isa_name((its_rng_isa)i)) == 0) {
            *isa = (its_rng_isa)i;
            return 0;
        }
    return -1;
}

its_rng_isa its_rng_isa_active(void)
{
    int act = atomic_load_explicit(&its_rng__active_level, memory_order_relaxed);
    if (act >= 0)
        return (its_rng_isa)act;
    its_rng_isa best = its_rng_isa_best(), cap;
    act = (int)best;
    if (its_rng_isa_parse(getenv("ITS_SIMD"), &cap) == 0 && (int)cap < act)
        act = (int)cap;
    atomic_store_explicit(&its_rng__active_level, act, memory_order_relaxed);
    return (its_rng_isa)act;
}

const char *its_rng_isa_name(its_rng_isa isa)
{
    switch (isa) {
    case ITS_RNG_ISA_SCALAR: return "scalar";
    case ITS_RNG_ISA_GENERIC: return "generic";
    case ITS_RNG_ISA_AVX2: return "avx2";
    case ITS_RNG_ISA_AVX512: return "avx512";
    }
    return NULL;
}

/* The kernels of `isa`, lowered to what the CPU runs. */
static const its_rng_kernels *its_rng__kernels(its_rng_isa isa)
{
    its_rng_isa best = its_rng_isa_best();
    if ((int)isa > (int)best)
        isa = best;
    if ((int)isa < ITS_RNG_ISA_SCALAR)
        isa = ITS_RNG_ISA_SCALAR;
    return &its_rng__table[isa];
}

void its_randn_isa(its_rng_isa isa, float *out, size_t n, const its_noise_key *key,
                   uint64_t offset)
{
    if (!out || !key || n == 0)
        return;
    const its_rng_kernels *kern = its_rng__kernels(isa);
    its_philox_stream s = its_philox_stream_of(key);
    uint32_t blk = (uint32_t)(offset >> 2);
    size_t skip = (size_t)(offset & 3); /* the header asks for a multiple of 4; cope anyway */
    if (skip) {
        float t[4];
        kern->fill(t, 4, s, blk);
        size_t m = 4 - skip < n ? 4 - skip : n;
        memcpy(out, t + skip, m * sizeof(float));
        out += m;
        n -= m;
        blk++;
    }
    if (n > 0)
        kern->fill(out, n, s, blk);
}

ITS_API void its_randn(float *out, size_t n, const its_noise_key *key, uint64_t offset)
{
    its_randn_isa(its_rng_isa_active(), out, n, key, offset);
}

void its_rng_lincomb_randn_isa(its_rng_isa isa, float *out, size_t n, float a, const float *x,
                               float b, const float *y, float c, const its_noise_key *key)
{
    if (!out || n == 0)
        return;
    if (c == 0.0f || !key) {
        /* No noise term: the plain lincomb with z NULL, same order. */
        if (x && y) {
            for (size_t j = 0; j < n; j++)
                out[j] = a * x[j] + b * y[j];
        } else if (x) {
            for (size_t j = 0; j < n; j++)
                out[j] = a * x[j];
        } else if (y) {
            for (size_t j = 0; j < n; j++)
                out[j] = b * y[j];
        } else {
            memset(out, 0, n * sizeof(float));
        }
        return;
    }
    its_rng__kernels(isa)->lincomb(out, n, a, x, b, y, c, its_philox_stream_of(key), 0);
}

void its_rng_lincomb_randn_rows_isa(its_rng_isa isa, const its_rng_row *rows, size_t nr,
                                    size_t n, float a, float b, float c)
{
    if (!rows || nr == 0 || n == 0)
        return;
    if (c == 0.0f) {
        for (size_t r = 0; r < nr; r++)
            its_rng_lincomb_randn_isa(isa, rows[r].out, n, a, rows[r].x, b, rows[r].y, 0.0f,
                                      NULL);
        return;
    }
    its_rng__kernels(isa)->rows(rows, nr, n, a, b, c);
}

void its_rng_lincomb_randn_rows(const its_rng_row *rows, size_t nr, size_t n, float a, float b,
                                float c)
{
    its_rng_lincomb_randn_rows_isa(its_rng_isa_active(), rows, nr, n, a, b, c);
}

void its_rng_lincomb_randn(float *out, size_t n, float a, const float *x, float b,
                           const float *y, float c, const its_noise_key *key)
{
    its_rng_lincomb_randn_isa(its_rng_isa_active(), out, n, a, x, b, y, c, key);
}
