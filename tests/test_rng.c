/* Counter-based RNG: Philox4x32-10 known answers, the documented noise and uniform layouts
 * (rebuilt here from single Philox blocks), accuracy of the Box-Muller math against double
 * precision libm, offset and batch independence, bit-identity of every instruction-set path,
 * the fused lincomb, distribution and independence statistics with tolerances from standard
 * errors, and lineage ids. */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "itscale.h"
#include "rng/rng.h"

#define PI 3.14159265358979323846
#define NSTAT ((size_t)1 << 20) /* values per statistical check */
#define NSE 5.0                 /* tolerance in standard errors */

static const its_noise_key KEY = {.seed = 0x0123456789abcdefu, .lineage = 0xfeedfacecafebeefu,
                                  .stream = 17};

static float *falloc(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

/* First differing element of two float arrays, bit for bit. */
static void assert_same_bits(const float *got, const float *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
            fail_msg("%s: element %zu of %zu is %.9g, expected %.9g", what, i, n, got[i],
                     want[i]);
    }
}

/* ---- Philox4x32-10 ----------------------------------------------------------------------- */

/* Random123 kat_vectors, the three "philox4x32 10" lines: counter[4] key[2] -> output[4]. */
static void test_philox_kat(void **state)
{
    (void)state;
    static const struct {
        uint32_t ctr[4], key[2], out[4];
    } kat[] = {
        {{0x00000000, 0x00000000, 0x00000000, 0x00000000}, {0x00000000, 0x00000000},
         {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
        {{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff},
         {0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
        {{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0},
         {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
    };
    for (size_t v = 0; v < sizeof kat / sizeof kat[0]; v++) {
        uint32_t out[4];
        its_philox4x32_10(kat[v].ctr, kat[v].key, out);
        for (int i = 0; i < 4; i++) {
            if (out[i] != kat[v].out[i])
                fail_msg("vector %zu word %d: %08x, expected %08x", v, i, out[i],
                         kat[v].out[i]);
        }
    }
}

/* ---- layouts ----------------------------------------------------------------------------- */

static void philox_block(const its_noise_key *k, uint32_t b, uint32_t w[4])
{
    const uint32_t key[2] = {(uint32_t)k->seed, (uint32_t)(k->seed >> 32)};
    const uint32_t ctr[4] = {(uint32_t)k->lineage, (uint32_t)(k->lineage >> 32), k->stream, b};
    its_philox4x32_10(ctr, key, w);
}

/* Element j of the stream from the layout in rng.h: block j/4, pairs (w0, w1), (w2, w3). */
static void randn_by_layout(float *out, size_t n, const its_noise_key *k, uint64_t offset)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t j = offset + i;
        uint32_t w[4];
        float z[4];
        philox_block(k, (uint32_t)(j / 4), w);
        its_rng_normal_pair(w[0], w[1], &z[0], &z[1]);
        its_rng_normal_pair(w[2], w[3], &z[2], &z[3]);
        out[i] = z[j % 4];
    }
}

static void test_randn_layout(void **state)
{
    (void)state;
    const size_t n = 3000;
    float *got = falloc(n), *want = falloc(n);
    const uint64_t offsets[] = {0, 4, 1000, (uint64_t)1 << 33, ((uint64_t)1 << 34) - 1000};
    for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++) {
        its_randn(got, n, &KEY, offsets[o]);
        randn_by_layout(want, n, &KEY, offsets[o]);
        assert_same_bits(got, want, n, "its_randn vs layout");
    }
    free(got);
    free(want);
}

/* The pair against r = sqrt(-2 ln u_a), angle 2 pi u in double precision libm, with u_a and u
 * formed as documented. Error bound: a few float ulp of r (8 * 2^-24 r). */
static void check_pair(uint32_t wa, uint32_t wb, double *worst)
{
    float z0, z1;
    its_rng_normal_pair(wa, wb, &z0, &z1);
    double ua = (double)(float)(int32_t)((wa >> 1) | 1u) * 0x1p-31;
    double u = ((double)(wb >> 8) + 0.5) * 0x1p-24;
    double r = sqrt(-2.0 * log(ua));
    double c = r * cos(2.0 * PI * u), s = r * sin(2.0 * PI * u);
    if (!isfinite(z0) || !isfinite(z1))
        fail_msg("pair (%08x, %08x) not finite", wa, wb);
    if (r == 0.0) {
        if (z0 != 0.0f || z1 != 0.0f)
            fail_msg("pair (%08x, %08x): u_a = 1 must give 0, got %g %g", wa, wb, z0, z1);
        return;
    }
    double err = fmax(fabs(z0 - c), fabs(z1 - s)) / r;
    if (err > *worst)
        *worst = err;
    if (err > 8.0 * 0x1p-24)
        fail_msg("pair (%08x, %08x): (%.9g, %.9g) vs (%.9g, %.9g), error %.3g r", wa, wb, z0, z1,
                 c, s, err);
}

static void test_pair_accuracy(void **state)
{
    (void)state;
    double worst = 0.0;
    /* ends of u_a: the smallest (largest r) and around 1 (r -> 0) */
    const uint32_t wa_edges[] = {0, 1, 2, 3, 0x100, 0x1ff, 0x200, 0xffffffffu, 0xfffffffeu,
                                 0xffffff00u, 0xfffffe00u, 0xfffff000u, 0x80000000u,
                                 0x7fffffffu, 0x01000000u, 0x00ffffffu, 0x02000000u};
    for (size_t i = 0; i < sizeof wa_edges / sizeof wa_edges[0]; i++)
        for (uint32_t o = 0; o < 8; o++)
            check_pair(wa_edges[i], o << 29, &worst);
    /* every octant boundary of the angle, from both sides */
    for (uint32_t o = 0; o < 8; o++) {
        for (int d = -3; d <= 3; d++) {
            uint32_t v = (o << 21) + (uint32_t)d;
            check_pair(0x9e3779b9u, (v & 0xffffffu) << 8, &worst);
            check_pair(0x12345678u, ((v & 0xffffffu) << 8) | 0xffu, &worst);
        }
    }
    /* a spread over both words, with low bits varying */
    for (uint32_t i = 0; i < (1u << 20); i++) {
        uint32_t wa = i * 0x9e3779b9u ^ (i >> 7);
        uint32_t wb = i * 0x85ebca6bu + (i << 13);
        check_pair(wa, wb, &worst);
    }
    /* r near 0: u_a just below 1 */
    for (uint32_t i = 0; i < 4096; i++)
        check_pair(0xffffffffu - 64u * i, i * 0x01000193u, &worst);
    print_message("      largest pair error: %.3g r (%.2f x 2^-24 r)\n", worst, worst / 0x1p-24);
    float z0, z1;
    its_rng_normal_pair(0, 0, &z0, &z1);
    double rmax = sqrt(2.0 * 31.0 * log(2.0)); /* u_a = 2^-31 */
    assert_true(fabs(sqrt((double)z0 * z0 + (double)z1 * z1) - rmax) < 1e-5);
}

/* The uniform layout: block j/2, x = w[2h+1] * 2^32 + w[2h], u = ((x >> 12) + 1/2) 2^-52. */
static void test_uniform_layout(void **state)
{
    (void)state;
    const size_t n = 2001;
    double *got = malloc(n * sizeof(double));
    assert_non_null(got);
    const uint64_t offsets[] = {0, 1, 7, (uint64_t)1 << 32};
    for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++) {
        its_rng_uniform(got, n, &KEY, offsets[o]);
        for (size_t i = 0; i < n; i++) {
            uint64_t j = offsets[o] + i;
            uint32_t w[4];
            philox_block(&KEY, (uint32_t)(j / 2), w);
            unsigned h = (unsigned)(j % 2);
            uint64_t x = ((uint64_t)w[2 * h + 1] << 32) | w[2 * h];
            double want = ((double)(x >> 12) + 0.5) * 0x1p-52;
            if (got[i] != want)
                fail_msg("uniform offset %llu + %zu: %.17g, expected %.17g",
                         (unsigned long long)offsets[o], i, got[i], want);
        }
    }
    /* the mapping's ends, x = 0 and x = 2^64 - 1, stay inside (0, 1) */
    const double lo = 0.5 * 0x1p-52, hi = ((double)(UINT64_MAX >> 12) + 0.5) * 0x1p-52;
    assert_true(lo > 0.0 && hi < 1.0);
    free(got);
}

/* ---- offsets, batches, paths ------------------------------------------------------------- */

static void test_randn_offsets(void **state)
{
    (void)state;
    const size_t n = 20011;
    float *all = falloc(n), *part = falloc(n);
    its_randn(all, n, &KEY, 0);
    /* pieces of varied lengths at offsets that are multiples of 4, crossing batch boundaries */
    const size_t lens[] = {4, 1, 252, 260, 3, 1024, 5, 64, 256, 1000, 7, 512, 4096};
    memset(part, 0xff, n * sizeof(float));
    size_t at = 0, li = 0;
    for (;;) {
        size_t len = lens[li++ % (sizeof lens / sizeof lens[0])];
        if (len >= n - at) {
            its_randn(part + at, n - at, &KEY, at);
            break;
        }
        its_randn(part + at, len, &KEY, at);
        at += len & ~(size_t)3; /* the next piece starts at a multiple of 4 at or below the end */
    }
    assert_same_bits(part, all, n, "pieces vs one call");
    /* an offset that is not a multiple of 4 still gives element offset + i */
    its_randn(part, 1000, &KEY, 2);
    assert_same_bits(part, all + 2, 1000, "offset 2");
    /* output alignment does not matter */
    its_randn(part + 1, 999, &KEY, 0);
    assert_same_bits(part + 1, all, 999, "misaligned output");
    free(all);
    free(part);
}

static void test_randn_null_and_empty(void **state)
{
    (void)state;
    float v[4] = {1.0f, 2.0f, 3.0f, 4.0f};
    its_randn(NULL, 4, &KEY, 0);
    its_randn(v, 4, NULL, 0);
    its_randn(v, 0, &KEY, 0);
    assert_true(v[0] == 1.0f && v[3] == 4.0f);
    its_rng_uniform(NULL, 4, &KEY, 0);
}

/* Every path the CPU has against the scalar reference, whatever ITS_SIMD says: lengths around
 * the group sizes (32 and 64 values) and the batch (256), offsets inside a block and across the
 * 2^32 block wrap, every lincomb case, out aliasing x and y. */
static void test_isa_paths_identical(void **state)
{
    (void)state;
    its_rng_isa best = its_rng_isa_best();
    print_message("      best path: %s, in use: %s\n", its_rng_isa_name(best),
                  its_rng_isa_name(its_rng_isa_active()));
    assert_true(its_rng_isa_active() <= best);
    const size_t lens[] = {1,  3,  4,  5,   31,  32,  33,  63,   64,   65,
                           97, 127, 128, 255, 256, 257, 1000, 4099, 65549};
    const uint64_t offsets[] = {0, 3, 8, 4000, ((uint64_t)1 << 34) - 64, ((uint64_t)1 << 34) - 3};
    const size_t nmax = 65549;
    float *ref = falloc(nmax), *got = falloc(nmax), *x = falloc(nmax), *y = falloc(nmax);
    float *lref = falloc(nmax);
    for (size_t i = 0; i < nmax; i++) {
        x[i] = (float)((int)(i % 101) - 50) * 0.037f;
        y[i] = (float)((int)(i % 89) - 44) * -0.051f;
    }
    its_noise_key k = KEY;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        for (size_t oi = 0; oi < sizeof offsets / sizeof offsets[0]; oi++) {
            its_randn_isa(ITS_RNG_ISA_SCALAR, ref, n, &k, offsets[oi]);
            for (int isa = ITS_RNG_ISA_GENERIC; isa <= (int)best; isa++) {
                got[n - 1] = NAN;
                its_randn_isa((its_rng_isa)isa, got, n, &k, offsets[oi]);
                char what[80];
                snprintf(what, sizeof what, "randn %s vs scalar, n %zu, offset %llu",
                         its_rng_isa_name((its_rng_isa)isa), n, (unsigned long long)offsets[oi]);
                assert_same_bits(got, ref, n, what);
            }
        }
        for (int nulls = 0; nulls < 4; nulls++) {
            const float *xa = nulls & 1 ? NULL : x, *ya = nulls & 2 ? NULL : y;
            its_rng_lincomb_randn_isa(ITS_RNG_ISA_SCALAR, lref, n, 0.75f, xa, -1.25f, ya, 0.3f, &k);
            for (int isa = ITS_RNG_ISA_GENERIC; isa <= (int)best; isa++) {
                its_rng_lincomb_randn_isa((its_rng_isa)isa, got, n, 0.75f, xa, -1.25f, ya, 0.3f,
                                          &k);
                char what[80];
                snprintf(what, sizeof what, "lincomb %s vs scalar, n %zu, nulls %d",
                         its_rng_isa_name((its_rng_isa)isa), n, nulls);
                assert_same_bits(got, lref, n, what);
                /* in place: out is x, then y */
                if (xa) {
                    memcpy(got, x, n * sizeof(float));
                    its_rng_lincomb_randn_isa((its_rng_isa)isa, got, n, 0.75f, got, -1.25f, ya,
                                              0.3f, &k);
                    assert_same_bits(got, lref, n, "lincomb in place (x)");
                }
                if (ya) {
                    memcpy(got, y, n * sizeof(float));
                    its_rng_lincomb_randn_isa((its_rng_isa)isa, got, n, 0.75f, xa, -1.25f, got,
                                              0.3f, &k);
                    assert_same_bits(got, lref, n, "lincomb in place (y)");
                }
            }
        }
        /* the masked end of a row neither reads nor writes past it */
        if (n < nmax) {
            got[n] = 1234.5f;
            its_randn_isa(best, got, n, &k, 0);
            assert_true(got[n] == 1234.5f);
            its_rng_lincomb_randn_isa(best, got, n, 0.75f, x, -1.25f, y, 0.3f, &k);
            assert_true(got[n] == 1234.5f);
        }
        k.stream++;
    }
    /* a path above the CPU's runs the best one: same bits */
    its_randn_isa(ITS_RNG_ISA_SCALAR, ref, 100, &KEY, 0);
    its_randn_isa((its_rng_isa)(ITS_RNG_ISA_AVX512 + 1), got, 100, &KEY, 0);
    assert_same_bits(got, ref, 100, "path above the CPU's");
    free(ref);
    free(got);
    free(x);
    free(y);
    free(lref);
}

/* its_rng_lincomb_randn_rows_isa: on every path, for short rows (taken several at a time) and
 * long ones, every count of rows around the group of four, each null pattern, in place and not,
 * and c = 0: each row is bit for bit what its_rng_lincomb_randn_isa gives it alone on the scalar
 * path, and nothing past a row is written. */
static void test_lincomb_rows(void **state)
{
    (void)state;
    its_rng_isa best = its_rng_isa_best();
    const size_t lens[] = {1, 5, 16, 31, 32, 33, 63, 64, 65, 130};
    const size_t counts[] = {1, 2, 3, 4, 5, 7, 8, 9, 13};
    enum { NR = 13, LMAX = 130, STRIDE = LMAX + 3 };
    float *x = falloc(NR * STRIDE), *y = falloc(NR * STRIDE), *ref = falloc(NR * STRIDE);
    float *got = falloc(NR * STRIDE);
    for (size_t i = 0; i < NR * STRIDE; i++) {
        x[i] = (float)((int)(i % 101) - 50) * 0.037f;
        y[i] = (float)((int)(i % 89) - 44) * -0.051f;
    }
    its_rng_row rows[NR];
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        size_t n = lens[li];
        for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
            size_t nr = counts[ci];
            for (int variant = 0; variant < 6; variant++) {
                int nulls = variant & 3, in_place = variant == 4, no_noise = variant == 5;
                float c = no_noise ? 0.0f : 0.3f;
                for (size_t r = 0; r < nr; r++) {
                    const float *xa = nulls & 1 ? NULL : x + r * STRIDE;
                    const float *ya = nulls & 2 ? NULL : y + r * STRIDE;
                    its_noise_key k = {KEY.seed, 1000 + 7 * r, KEY.stream};
                    its_rng_lincomb_randn_isa(ITS_RNG_ISA_SCALAR, ref + r * STRIDE, n, 0.75f, xa,
                                              -1.25f, ya, c, &k);
                }
                for (int isa = ITS_RNG_ISA_SCALAR; isa <= (int)best; isa++) {
                    for (size_t i = 0; i < nr * STRIDE; i++)
                        got[i] = 1234.5f;
                    for (size_t r = 0; r < nr; r++) {
                        rows[r].out = got + r * STRIDE;
                        rows[r].x = nulls & 1 ? NULL : x + r * STRIDE;
                        rows[r].y = nulls & 2 ? NULL : y + r * STRIDE;
                        rows[r].key = (its_noise_key){KEY.seed, 1000 + 7 * r, KEY.stream};
                        if (in_place) { /* out is x */
                            memcpy(got + r * STRIDE, x + r * STRIDE, n * sizeof(float));
                            rows[r].x = got + r * STRIDE;
                        }
                    }
                    its_rng_lincomb_randn_rows_isa((its_rng_isa)isa, rows, nr, n, 0.75f, -1.25f,
                                                   c);
                    for (size_t r = 0; r < nr; r++) {
                        char what[96];
                        snprintf(what, sizeof what, "rows %s, n %zu, %zu rows, row %zu, variant %d",
                                 its_rng_isa_name((its_rng_isa)isa), n, nr, r, variant);
                        assert_same_bits(got + r * STRIDE, ref + r * STRIDE, n, what);
                        assert_true(got[r * STRIDE + n] == 1234.5f);
                    }
                }
            }
        }
    }
    free(x);
    free(y);
    free(ref);
    free(got);
}

/* The engine's check of model outputs: on every path, every finite value passes (the extremes,
 * subnormals, signed zeros) and one NaN or infinity anywhere is found (in the unrolled body, in
 * the tail, at the edges), for lengths around the vector and unroll widths. */
static void test_finite_paths(void **state)
{
    (void)state;
    const size_t lens[] = {0, 1, 7, 8, 9, 31, 32, 33, 63, 64, 65, 95, 96, 97, 1000, 4099};
    const size_t nmax = 4099;
    const float finite[] = {0.0f, -0.0f, 1.0f, -3.5f, FLT_MAX, -FLT_MAX, FLT_MIN, 1e-45f, -1e-45f};
    const float bad[] = {INFINITY, -INFINITY, NAN, -NAN};
    uint32_t nan_payload = 0x7f800001u; /* a signalling NaN, the smallest payload */
    float snan;
    memcpy(&snan, &nan_payload, sizeof snan);
    float *x = falloc(nmax + 1);
    its_rng_isa best = its_rng_isa_best();
    for (int isa = ITS_RNG_ISA_SCALAR; isa <= (int)best + 1; isa++) {
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            size_t n = lens[li];
            for (size_t i = 0; i < n; i++)
                x[i] = finite[i % (sizeof finite / sizeof finite[0])];
            x[n] = NAN; /* past the end: never read */
            assert_true(its_finite_isa((its_rng_isa)isa, x, n));
            for (size_t p = 0; p < n; p++) {
                if (n > 200 && p >= 40 && p + 40 < n && p % 37 != 0)
                    continue; /* long rows: both ends and every 37th */
                float keep = x[p];
                for (size_t b = 0; b <= sizeof bad / sizeof bad[0]; b++) {
                    x[p] = b < sizeof bad / sizeof bad[0] ? bad[b] : snan;
                    if (its_finite_isa((its_rng_isa)isa, x, n))
                        fail_msg("path %s, n %zu: value %zu at %zu not found",
                                 its_rng_isa_name((its_rng_isa)isa), n, b, p);
                }
                x[p] = keep;
            }
        }
    }
    free(x);
}

/* ITS_SIMD names the paths; anything else is no cap. */
static void test_isa_names(void **state)
{
    (void)state;
    for (int i = ITS_RNG_ISA_SCALAR; i <= ITS_RNG_ISA_AVX512; i++) {
        its_rng_isa got = ITS_RNG_ISA_SCALAR;
        assert_int_equal(its_rng_isa_parse(its_rng_isa_name((its_rng_isa)i), &got), 0);
        assert_int_equal((int)got, i);
    }
    its_rng_isa got = ITS_RNG_ISA_AVX2;
    assert_int_equal(its_rng_isa_parse("AVX2", &got), -1);
    assert_int_equal(its_rng_isa_parse("", &got), -1);
    assert_int_equal(its_rng_isa_parse(NULL, &got), -1);
    assert_int_equal(got, ITS_RNG_ISA_AVX2);
    assert_null(its_rng_isa_name((its_rng_isa)99));
    const char *env = getenv("ITS_SIMD");
    its_rng_isa cap;
    if (env && its_rng_isa_parse(env, &cap) == 0 && cap < its_rng_isa_best())
        assert_int_equal(its_rng_isa_active(), cap);
    else
        assert_int_equal(its_rng_isa_active(), its_rng_isa_best());
}

/* ---- fused lincomb ----------------------------------------------------------------------- */

/* The plain lincomb in the documented order, one rounding per statement. */
static float plain(float a, const float *x, float b, const float *y, float c, const float *z,
                   size_t j)
{
    float t;
    if (x) {
        t = a * x[j];
        if (y) {
            float u = b * y[j];
            t = t + u;
        }
    } else if (y) {
        t = b * y[j];
    } else {
        t = 0.0f;
    }
    if (z) {
        float v = c * z[j];
        t = (x || y) ? t + v : v;
    }
    return t;
}

static void test_lincomb_randn(void **state)
{
    (void)state;
    const size_t n = 4099;
    float *x = falloc(n), *y = falloc(n), *z = falloc(n), *want = falloc(n), *got = falloc(n);
    its_noise_key kx = {7, 1, 0}, ky = {7, 2, 0};
    its_randn(x, n, &kx, 0);
    its_randn(y, n, &ky, 0);
    its_randn(z, n, &KEY, 0);
    const float a = 0.9128709f, b = -0.40824829f, c = 0.0707106781f;
    for (int nulls = 0; nulls < 4; nulls++) {
        const float *xa = nulls & 1 ? NULL : x, *ya = nulls & 2 ? NULL : y;
        for (size_t j = 0; j < n; j++)
            want[j] = plain(a, xa, b, ya, c, z, j);
        its_rng_lincomb_randn(got, n, a, xa, b, ya, c, &KEY);
        assert_same_bits(got, want, n, "fused vs plain");
        /* c == 0: the noise term is skipped, as lincomb with z NULL */
        for (size_t j = 0; j < n; j++)
            want[j] = plain(a, xa, b, ya, 0.0f, NULL, j);
        its_rng_lincomb_randn(got, n, a, xa, b, ya, 0.0f, &KEY);
        assert_same_bits(got, want, n, "c == 0 vs plain without noise");
        if (xa || ya) {
            /* ... which here is also the plain lincomb with the noise and c == 0 */
            for (size_t j = 0; j < n; j++)
                want[j] = plain(a, xa, b, ya, 0.0f, z, j);
            assert_same_bits(got, want, n, "c == 0 vs plain with 0 * z");
        }
    }
    /* x == NULL, y == NULL, c == 1: exactly the noise */
    its_rng_lincomb_randn(got, n, 2.0f, NULL, 3.0f, NULL, 1.0f, &KEY);
    assert_same_bits(got, z, n, "c = 1 alone");
    /* out aliasing x, then y */
    for (size_t j = 0; j < n; j++)
        want[j] = plain(a, x, b, y, c, z, j);
    memcpy(got, x, n * sizeof(float));
    its_rng_lincomb_randn(got, n, a, got, b, y, c, &KEY);
    assert_same_bits(got, want, n, "out aliasing x");
    memcpy(got, y, n * sizeof(float));
    its_rng_lincomb_randn(got, n, a, x, b, got, c, &KEY);
    assert_same_bits(got, want, n, "out aliasing y");
    /* a signed zero survives c == 0 (no 0 * z term is added) */
    float mz = -0.0f, o;
    its_rng_lincomb_randn(&o, 1, 1.0f, &mz, 0.0f, NULL, 0.0f, &KEY);
    assert_true(o == 0.0f && signbit(o));
    free(x);
    free(y);
    free(z);
    free(want);
    free(got);
}

/* ---- statistics -------------------------------------------------------------------------- */

static int cmp_float(const void *a, const void *b)
{
    float u = *(const float *)a, v = *(const float *)b;
    return (u > v) - (u < v);
}

static int cmp_double(const void *a, const void *b)
{
    double u = *(const double *)a, v = *(const double *)b;
    return (u > v) - (u < v);
}

static double normal_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* Moments against N(0, 1) with standard errors sqrt(1/N), sqrt(2/N), sqrt(6/N), sqrt(24/N) for
 * mean, variance, skewness, excess kurtosis; tail frequencies against binomial errors;
 * Kolmogorov-Smirnov distance against the normal CDF (sqrt(N) D > 2.7 has p ~ 5e-7). */
static void test_normal_distribution(void **state)
{
    (void)state;
    const size_t n = NSTAT;
    float *z = falloc(n);
    its_noise_key k = {.seed = 2024, .lineage = its_lineage_root(3), .stream = 1};
    its_randn(z, n, &k, 0);
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    size_t t3 = 0, t4 = 0;
    float zmax = 0.0f;
    for (size_t i = 0; i < n; i++) {
        double v = z[i];
        s1 += v;
        t3 += fabs(v) > 3.0;
        t4 += fabs(v) > 4.0;
        if (fabsf(z[i]) > zmax)
            zmax = fabsf(z[i]);
    }
    double mean = s1 / (double)n;
    for (size_t i = 0; i < n; i++) {
        double d = z[i] - mean;
        s2 += d * d;
        s3 += d * d * d;
        s4 += d * d * d * d;
    }
    double var = s2 / (double)n;
    double skew = s3 / (double)n / pow(var, 1.5);
    double kurt = s4 / (double)n / (var * var) - 3.0;
    double N = (double)n;
    print_message("      mean %.2e  var-1 %.2e  skew %.2e  exkurt %.2e  max|z| %.3f\n", mean,
                  var - 1.0, skew, kurt, zmax);
    assert_true(fabs(mean) < NSE * sqrt(1.0 / N));
    assert_true(fabs(var - 1.0) < NSE * sqrt(2.0 / N));
    assert_true(fabs(skew) < NSE * sqrt(6.0 / N));
    assert_true(fabs(kurt) < NSE * sqrt(24.0 / N));
    assert_true(zmax < 6.56f);
    const double p3 = erfc(3.0 / sqrt(2.0)), p4 = erfc(4.0 / sqrt(2.0));
    assert_true(fabs((double)t3 - N * p3) < NSE * sqrt(N * p3 * (1.0 - p3)));
    assert_true(fabs((double)t4 - N * p4) < NSE * sqrt(N * p4 * (1.0 - p4)));
    qsort(z, n, sizeof(float), cmp_float);
    double dmax = 0.0;
    for (size_t i = 0; i < n; i++) {
        double f = normal_cdf(z[i]);
        double d = fmax(fabs(f - (double)i / N), fabs(f - (double)(i + 1) / N));
        if (d > dmax)
            dmax = d;
    }
    print_message("      KS sqrt(N) D = %.3f\n", sqrt(N) * dmax);
    assert_true(sqrt(N) * dmax < 2.7);
    free(z);
}

/* Pearson correlation of two float arrays. */
static double corr(const float *a, const float *b, size_t n)
{
    double ma = 0, mb = 0;
    for (size_t i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= (double)n;
    mb /= (double)n;
    double sab = 0, saa = 0, sbb = 0;
    for (size_t i = 0; i < n; i++) {
        double u = a[i] - ma, v = b[i] - mb;
        sab += u * v;
        saa += u * u;
        sbb += v * v;
    }
    return sab / sqrt(saa * sbb);
}

/* Streams that differ in one field are uncorrelated (standard error 1/sqrt(N)); lags 1..4 in
 * one stream too; the two values of a Box-Muller pair are independent: E[z0^2 z1^2] = 1 with
 * standard error sqrt(8 / pairs). */
static void test_independence(void **state)
{
    (void)state;
    const size_t n = NSTAT;
    float *a = falloc(n), *b = falloc(n);
    const double tol = NSE / sqrt((double)n);
    const uint64_t root = its_lineage_root(11);
    const its_noise_key base = {.seed = 99, .lineage = root, .stream = 4};
    its_randn(a, n, &base, 0);
    const its_noise_key others[] = {
        {99, its_lineage_child(root, 1), 4}, /* sibling lineage */
        {99, root + 1, 4},                   /* adjacent lineage id */
        {99, root, 5},                       /* next stream */
        {100, root, 4},                      /* next seed */
        {99 + ((uint64_t)1 << 32), root, 4}, /* seed's high word */
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        its_randn(b, n, &others[i], 0);
        double r = corr(a, b, n);
        if (!(fabs(r) < tol))
            fail_msg("stream variant %zu: correlation %.3g, tolerance %.3g", i, r, tol);
    }
    for (size_t lag = 1; lag <= 4; lag++) {
        double r = corr(a, a + lag, n - lag);
        if (!(fabs(r) < NSE / sqrt((double)(n - lag))))
            fail_msg("lag %zu: autocorrelation %.3g", lag, r);
    }
    double s = 0.0;
    size_t pairs = n / 2;
    for (size_t i = 0; i < pairs; i++)
        s += (double)a[2 * i] * a[2 * i] * (double)a[2 * i + 1] * a[2 * i + 1];
    assert_true(fabs(s / (double)pairs - 1.0) < NSE * sqrt(8.0 / (double)pairs));
    free(a);
    free(b);
}

/* Uniforms: inside (0, 1), mean 1/2 (standard error sqrt(1/(12 N))), KS against U(0, 1),
 * and offset consistency. */
static void test_uniform(void **state)
{
    (void)state;
    const size_t n = NSTAT;
    double *u = malloc(n * sizeof(double)), *part = malloc(1001 * sizeof(double));
    assert_non_null(u);
    assert_non_null(part);
    its_noise_key k = {.seed = 5, .lineage = its_lineage_root(1), .stream = 9};
    its_rng_uniform(u, n, &k, 0);
    its_rng_uniform(part, 1001, &k, 333);
    assert_memory_equal(part, u + 333, 1001 * sizeof(double));
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!(u[i] > 0.0 && u[i] < 1.0))
            fail_msg("uniform %zu = %.17g outside (0, 1)", i, u[i]);
        s += u[i];
    }
    double N = (double)n;
    assert_true(fabs(s / N - 0.5) < NSE * sqrt(1.0 / (12.0 * N)));
    qsort(u, n, sizeof(double), cmp_double);
    double dmax = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fmax(fabs(u[i] - (double)i / N), fabs(u[i] - (double)(i + 1) / N));
        if (d > dmax)
            dmax = d;
    }
    assert_true(sqrt(N) * dmax < 2.7);
    free(u);
    free(part);
}

/* ---- lineage ----------------------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t u = *(const uint64_t *)a, v = *(const uint64_t *)b;
    return (u > v) - (u < v);
}

static void assert_distinct(uint64_t *v, size_t n, const char *what)
{
    qsort(v, n, sizeof(uint64_t), cmp_u64);
    for (size_t i = 1; i < n; i++) {
        if (v[i] == v[i - 1])
            fail_msg("%s: id %016llx appears twice", what, (unsigned long long)v[i]);
    }
}

static void test_lineage(void **state)
{
    (void)state;
    const uint64_t parents[] = {0, 1, 0x243f6a8885a308d3u, UINT64_MAX, its_lineage_root(0)};
    for (size_t i = 0; i < sizeof parents / sizeof parents[0]; i++)
        assert_true(its_lineage_child(parents[i], 0) == parents[i]);
    assert_true(its_lineage_child(5, 3) == its_lineage_child(5, 3)); /* pure */
    assert_true(its_lineage_root(0) != 0);

    const size_t n = 100000;
    uint64_t *v = malloc((n + 1) * sizeof(uint64_t));
    assert_non_null(v);
    /* 100k children of one parent, plus the parent */
    const uint64_t p = its_lineage_root(42);
    for (size_t k = 0; k <= n; k++)
        v[k] = its_lineage_child(p, k);
    assert_distinct(v, n + 1, "children of one parent");
    /* 100k roots */
    for (size_t i = 0; i < n; i++)
        v[i] = its_lineage_root(i);
    assert_distinct(v, n, "roots");
    /* a small tree: 1000 roots x 50 children x 2 grandchildren (index 0 keeps the parent's id,
     * so only distinct nodes are counted) */
    size_t m = 0;
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t r = its_lineage_root(i);
        v[m++] = r;
        for (uint64_t k = 1; k <= 49; k++) {
            uint64_t c = its_lineage_child(r, k);
            v[m++] = c;
            v[m++] = its_lineage_child(c, 1);
        }
    }
    assert_distinct(v, m, "roots, children and grandchildren");
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_philox_kat),
        cmocka_unit_test(test_randn_layout),
        cmocka_unit_test(test_pair_accuracy),
        cmocka_unit_test(test_uniform_layout),
        cmocka_unit_test(test_randn_offsets),
        cmocka_unit_test(test_randn_null_and_empty),
        cmocka_unit_test(test_isa_paths_identical),
        cmocka_unit_test(test_lincomb_rows),
        cmocka_unit_test(test_finite_paths),
        cmocka_unit_test(test_isa_names),
        cmocka_unit_test(test_lincomb_randn),
        cmocka_unit_test(test_normal_distribution),
        cmocka_unit_test(test_independence),
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_lineage),
    };
    return cmocka_run_group_tests_name("rng", tests, NULL, NULL);
}
