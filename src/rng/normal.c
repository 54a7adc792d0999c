/* Standard normals from Philox4x32-10 by Box-Muller (DESIGN.md §7; layout in rng.h).
 *
 * Bits do not depend on the SIMD level: the math below uses only IEEE +, -, *, /, sqrt (exactly
 * rounded), int32 -> float conversions of exactly representable values and integer bit
 * operations, in a fixed order, with no FMA contraction (-ffp-contract=off) and no libm. A vector
 * lane therefore computes exactly what the scalar code computes. The same source is compiled
 * for the baseline target and, on x86-64, for AVX2 and AVX-512, chosen at run time.
 *
 * Work is done in batches of at most ITS_RNG_BATCH Philox blocks on the stack: Philox words for
 * ITS_RNG_STEP blocks at a time, then Box-Muller (and the lincomb) over ITS_RNG_CHUNK blocks at
 * a time in loops with a constant trip count and no pointer that may alias a store, which
 * compilers vectorize across blocks even at -O2. */
#include <math.h>
#include <stdatomic.h>
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

__attribute__((target("avx2"))) static inline __m256i its_rng__xor3_avx2(__m256i a, __m256i b,
                                                                         __m256i c)
{
    return _mm256_xor_si256(_mm256_xor_si256(a, b), c);
}

/* Low halves of a, b per 128-bit half: a0 a1 b0 b1 | a2 a3 b2 b3. The lanes are loaded with
 * blocks so that this order is the block order (chain pairs cover 8 consecutive blocks). */
__attribute__((target("avx2"))) static inline __m256i its_rng__pack_lo_avx2(__m256i a, __m256i b)
{
    return _mm256_castps_si256(_mm256_shuffle_ps(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b),
                                                 _MM_SHUFFLE(2, 0, 2, 0)));
}

/* Blocks b0 + i .. b0 + i + 15. */
__attribute__((target("avx2"))) static inline void
its_philox__x16_avx2(uint32_t *w0, uint32_t *w1, uint32_t *w2, uint32_t *w3, its_philox_stream s,
                     uint32_t b0, size_t i)
{
    __m256i x0[ITS_PHILOX_CHAINS], x1[ITS_PHILOX_CHAINS], x2[ITS_PHILOX_CHAINS],
        x3[ITS_PHILOX_CHAINS];
    for (int c = 0; c < ITS_PHILOX_CHAINS; c++) {
        /* chain pair (2h, 2h+1) covers blocks 8h .. 8h+7: even chain {0,1,4,5}, odd {2,3,6,7} */
        uint32_t b = b0 + (uint32_t)i + 8u * (uint32_t)(c / 2) + 2u * (uint32_t)(c % 2);
        x0[c] = _mm256_set1_epi32((int)s.c0);
        x1[c] = _mm256_set1_epi32((int)s.c1);
        x2[c] = _mm256_set1_epi32((int)s.c2);
        x3[c] = _mm256_set_epi32(0, (int)(b + 5u), 0, (int)(b + 4u), 0, (int)(b + 1u), 0, (int)b);
    }
    ITS_PHILOX_LANES_ROUNDS(__m256i, _mm256_set1_epi32, _mm256_mul_epu32, _mm256_srli_epi64,
                            its_rng__xor3_avx2);
    for (int c = 0; c < ITS_PHILOX_CHAINS; c += 2) {
        size_t o = i + 4 * (size_t)c;
        _mm256_storeu_si256((__m256i *)(void *)(w0 + o), its_rng__pack_lo_avx2(x0[c], x0[c + 1]));
        _mm256_storeu_si256((__m256i *)(void *)(w1 + o), its_rng__pack_lo_avx2(x1[c], x1[c + 1]));
        _mm256_storeu_si256((__m256i *)(void *)(w2 + o), its_rng__pack_lo_avx2(x2[c], x2[c + 1]));
        _mm256_storeu_si256((__m256i *)(void *)(w3 + o), its_rng__pack_lo_avx2(x3[c], x3[c + 1]));
    }
}

#define ITS_RNG_AVX512 "avx512f,avx512vl,avx512bw,avx512dq"

__attribute__((target(ITS_RNG_AVX512))) static inline __m512i
its_rng__xor3_avx512(__m512i a, __m512i b, __m512i c)
{
    return _mm512_ternarylogic_epi32(a, b, c, 0x96); /* a ^ b ^ c */
}

/* Blocks b0 + i .. b0 + i + 31; chain c covers blocks 8c .. 8c+7. */
__attribute__((target(ITS_RNG_AVX512))) static inline void
its_philox__x32_avx512(uint32_t *w0, uint32_t *w1, uint32_t *w2, uint32_t *w3,
                       its_philox_stream s, uint32_t b0, size_t i)
{
    __m512i x0[ITS_PHILOX_CHAINS], x1[ITS_PHILOX_CHAINS], x2[ITS_PHILOX_CHAINS],
        x3[ITS_PHILOX_CHAINS];
    const __m512i iota = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    for (int c = 0; c < ITS_PHILOX_CHAINS; c++) {
        uint32_t b = b0 + (uint32_t)i + 8u * (uint32_t)c;
        x0[c] = _mm512_set1_epi32((int)s.c0);
        x1[c] = _mm512_set1_epi32((int)s.c1);
        x2[c] = _mm512_set1_epi32((int)s.c2);
        x3[c] = _mm512_add_epi64(_mm512_set1_epi64((long long)b), iota); /* low half wraps */
    }
    ITS_PHILOX_LANES_ROUNDS(__m512i, _mm512_set1_epi32, _mm512_mul_epu32, _mm512_srli_epi64,
                            its_rng__xor3_avx512);
    /* even 32-bit elements of a then of b: the low halves of 16 lanes, in order */
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    for (int c = 0; c < ITS_PHILOX_CHAINS; c += 2) {
        size_t o = i + 8 * (size_t)c;
        _mm512_storeu_si512((void *)(w0 + o), _mm512_permutex2var_epi32(x0[c], even, x0[c + 1]));
        _mm512_storeu_si512((void *)(w1 + o), _mm512_permutex2var_epi32(x1[c], even, x1[c + 1]));
        _mm512_storeu_si512((void *)(w2 + o), _mm512_permutex2var_epi32(x2[c], even, x2[c + 1]));
        _mm512_storeu_si512((void *)(w3 + o), _mm512_permutex2var_epi32(x3[c], even, x3[c + 1]));
    }
}
#endif

/* Per-target Philox step: STEP blocks starting at block index i of the batch. */
#if ITS_RNG_X86
ITS_RNG_INLINE void its_philox__step_generic(uint32_t *w0, uint32_t *w1, uint32_t *w2,
                                             uint32_t *w3, its_philox_stream s, uint32_t b0,
                                             size_t i)
{
    for (size_t k = 0; k < ITS_RNG_STEP; k += 8)
        its_philox__x8_sse2(w0, w1, w2, w3, s, b0, i + k);
}
__attribute__((target("avx2"))) ITS_RNG_INLINE void
its_philox__step_avx2(uint32_t *w0, uint32_t *w1, uint32_t *w2, uint32_t *w3,
                      its_philox_stream s, uint32_t b0, size_t i)
{
    for (size_t k = 0; k < ITS_RNG_STEP; k += 16)
        its_philox__x16_avx2(w0, w1, w2, w3, s, b0, i + k);
}
__attribute__((target(ITS_RNG_AVX512))) ITS_RNG_INLINE void
its_philox__step_avx512(uint32_t *w0, uint32_t *w1, uint32_t *w2, uint32_t *w3,
                        its_philox_stream s, uint32_t b0, size_t i)
{
    its_philox__x32_avx512(w0, w1, w2, w3, s, b0, i);
}
#else
#define its_philox__step_generic its_philox__step_c
#endif

typedef struct its_rng_kernels {
    /* Normals of blocks b0 .. b0 + nblk - 1 into z[0 .. 4 nblk); nblk <= BATCH. */
    void (*fill)(float *z, its_philox_stream s, uint32_t b0, size_t nblk);
    /* out[k] = (a*x[k] + b*y[k]) + c*z[k], z the normals from block b0 on; m <= BATCH_N. */
    void (*lincomb)(float *out, size_t m, float a, const float *x, float b, const float *y,
                    float c, its_philox_stream s, uint32_t b0);
} its_rng_kernels;

/* The words of a batch: whole Philox steps (blocks past the ones asked for are discarded). */
#define ITS_RNG_WORDS(sfx, nblk)                                                               \
    uint32_t w0[ITS_RNG_BATCH] ITS_RNG_ALIGN, w1[ITS_RNG_BATCH] ITS_RNG_ALIGN;                 \
    uint32_t w2[ITS_RNG_BATCH] ITS_RNG_ALIGN, w3[ITS_RNG_BATCH] ITS_RNG_ALIGN;                 \
    for (size_t i_ = 0; i_ < (nblk); i_ += ITS_RNG_STEP)                                       \
        its_philox__step_##sfx(w0, w1, w2, w3, s, b0, i_)

/* One kernel pair per target; everything they call is inlined, so each is compiled for it.
 * Reads of x and y finish before the chunk is stored, so out may alias them. */
#define ITS_RNG_DEFINE_KERNELS(sfx, attr)                                                      \
    attr static void its_rng__fill_##sfx(float *z, its_philox_stream s, uint32_t b0,          \
                                         size_t nblk)                                          \
    {                                                                                          \
        ITS_RNG_WORDS(sfx, nblk);                                                              \
        for (size_t c = 0; c < nblk; c += ITS_RNG_CHUNK) {                                     \
            if (nblk - c >= ITS_RNG_CHUNK) {                                                   \
                its_rng__box_muller_chunk(z + 4 * c, w0 + c, w1 + c, w2 + c, w3 + c);          \
            } else {                                                                           \
                float t[ITS_RNG_CHUNK_N] ITS_RNG_ALIGN;                                        \
                its_rng__box_muller_chunk(t, w0 + c, w1 + c, w2 + c, w3 + c);                  \
                memcpy(z + 4 * c, t, 4 * (nblk - c) * sizeof(float));                         \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    attr static void its_rng__lincomb_##sfx(float *out, size_t m, float a, const float *x,    \
                                            float b, const float *y, float c,                  \
                                            its_philox_stream s, uint32_t b0)                  \
    {                                                                                          \
        ITS_RNG_WORDS(sfx, (m + 3) / 4);                                                       \
        for (size_t k = 0; k < m; k += ITS_RNG_CHUNK_N) {                                      \
            size_t blk = k / 4;                                                                \
            float t[ITS_RNG_CHUNK_N] ITS_RNG_ALIGN;                                            \
            its_rng__box_muller_chunk(t, w0 + blk, w1 + blk, w2 + blk, w3 + blk);              \
            const float *xk = x ? x + k : NULL, *yk = y ? y + k : NULL;                        \
            size_t mk = m - k < ITS_RNG_CHUNK_N ? m - k : ITS_RNG_CHUNK_N;                     \
            if (mk == ITS_RNG_CHUNK_N)                                                         \
                its_rng__combine(t, ITS_RNG_CHUNK_N, a, xk, b, yk, c);                         \
            else                                                                               \
                its_rng__combine(t, mk, a, xk, b, yk, c);                                      \
            memcpy(out + k, t, mk * sizeof(float));                                            \
        }                                                                                      \
    }

ITS_RNG_DEFINE_KERNELS(generic, )
#if ITS_RNG_X86
ITS_RNG_DEFINE_KERNELS(avx2, __attribute__((target("avx2"))))
ITS_RNG_DEFINE_KERNELS(avx512, __attribute__((target(ITS_RNG_AVX512))))
#endif

void its_rng_normal_pair(uint32_t wa, uint32_t wb, float *z0, float *z1)
{
    its_rng__box_muller(wa, wb, z0, z1);
}

/* The reference: one Philox block per call, nothing for a vectorizer to work across. */
static ITS_RNG_NOINLINE void its_rng__block_scalar(float z[4], its_philox_stream s, uint32_t blk)
{
    uint32_t x0 = s.c0, x1 = s.c1, x2 = s.c2, x3 = blk;
    its_philox__rounds10(&x0, &x1, &x2, &x3, s.k0, s.k1);
    its_rng__box_muller(x0, x1, &z[0], &z[1]);
    its_rng__box_muller(x2, x3, &z[2], &z[3]);
}

static void its_rng__fill_scalar(float *z, its_philox_stream s, uint32_t b0, size_t nblk)
{
    for (size_t i = 0; i < nblk; i++) {
        float t[4];
        its_rng__block_scalar(t, s, b0 + (uint32_t)i);
        memcpy(z + 4 * i, t, sizeof t);
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
    float t[ITS_RNG_BATCH_N];
    its_rng__fill_scalar(t, s, b0, (m + 3) / 4);
    for (size_t k = 0; k < m; k++)
        its_rng__combine_one(t + k, a, x ? x + k : NULL, b, y ? y + k : NULL, c);
    memcpy(out, t, m * sizeof(float));
}

static const its_rng_kernels its_rng__table[] = {
    [ITS_RNG_ISA_SCALAR] = {its_rng__fill_scalar, its_rng__lincomb_scalar},
    [ITS_RNG_ISA_GENERIC] = {its_rng__fill_generic, its_rng__lincomb_generic},
#if ITS_RNG_X86
    [ITS_RNG_ISA_AVX2] = {its_rng__fill_avx2, its_rng__lincomb_avx2},
    [ITS_RNG_ISA_AVX512] = {its_rng__fill_avx512, its_rng__lincomb_avx512},
#endif
};

static _Atomic int its_rng__cap_level = ITS_RNG_ISA_AVX512;
static _Atomic int its_rng__best_level = -1; /* found on first use; every thread finds the same */

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
    else if (__builtin_cpu_supports("avx2"))
        best = ITS_RNG_ISA_AVX2;
#endif
    atomic_store_explicit(&its_rng__best_level, best, memory_order_relaxed);
    return (its_rng_isa)best;
}

its_rng_isa its_rng_isa_active(void)
{
    int cap = atomic_load_explicit(&its_rng__cap_level, memory_order_relaxed);
    its_rng_isa best = its_rng_isa_best();
    return (int)best < cap ? best : (its_rng_isa)cap;
}

its_rng_isa its_rng_isa_cap(its_rng_isa cap)
{
    if ((int)cap < ITS_RNG_ISA_SCALAR)
        cap = ITS_RNG_ISA_SCALAR;
    if ((int)cap > ITS_RNG_ISA_AVX512)
        cap = ITS_RNG_ISA_AVX512;
    return (its_rng_isa)atomic_exchange_explicit(&its_rng__cap_level, (int)cap,
                                                 memory_order_relaxed);
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

static const its_rng_kernels *its_rng__kernels(void)
{
    return &its_rng__table[its_rng_isa_active()];
}

ITS_API void its_randn(float *out, size_t n, const its_noise_key *key, uint64_t offset)
{
    if (!out || !key || n == 0)
        return;
    const its_rng_kernels *kern = its_rng__kernels();
    its_philox_stream s = its_philox_stream_of(key);
    uint32_t blk = (uint32_t)(offset >> 2);
    size_t skip = (size_t)(offset & 3); /* the header asks for a multiple of 4; cope anyway */
    float zbuf[ITS_RNG_BATCH_N] ITS_RNG_ALIGN;
    while (n > 0) {
        if (skip == 0 && n >= ITS_RNG_BATCH_N) {
            kern->fill(out, s, blk, ITS_RNG_BATCH);
            out += ITS_RNG_BATCH_N;
            n -= ITS_RNG_BATCH_N;
            blk += ITS_RNG_BATCH;
            continue;
        }
        size_t want = skip + n < ITS_RNG_BATCH_N ? skip + n : ITS_RNG_BATCH_N;
        size_t nblk = (want + 3) / 4;
        kern->fill(zbuf, s, blk, nblk);
        size_t m = want - skip;
        memcpy(out, zbuf + skip, m * sizeof(float));
        out += m;
        n -= m;
        blk += (uint32_t)nblk;
        skip = 0;
    }
}

void its_rng_lincomb_randn(float *out, size_t n, float a, const float *x, float b,
                           const float *y, float c, const its_noise_key *key)
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
    const its_rng_kernels *kern = its_rng__kernels();
    its_philox_stream s = its_philox_stream_of(key);
    uint32_t blk = 0;
    while (n > 0) {
        size_t m = n < ITS_RNG_BATCH_N ? n : ITS_RNG_BATCH_N;
        kern->lincomb(out, m, a, x, b, y, c, s, blk);
        out += m;
        x = x ? x + m : NULL;
        y = y ? y + m : NULL;
        n -= m;
        blk += ITS_RNG_BATCH;
    }
}
