/* Counter-based random numbers (DESIGN.md §7): Philox4x32-10 blocks turned into normals and uniforms.
 * Every value is a pure function of (seed, lineage, stream, element index), so results never
 * depend on batch size, thread count or the order in which rows are evaluated.
 *
 * Noise layout (fixed: every backend must reproduce it bit for bit).
 *   Element j of stream (seed, lineage, stream) comes from Philox block b = floor(j / 4) with
 *       key = {lo32(seed), hi32(seed)},  ctr = {lo32(lineage), hi32(lineage), stream, (uint32_t)b}
 *   whose words w0..w3 give two Box-Muller pairs: (w0, w1) -> z[4b], z[4b+1] and
 *   (w2, w3) -> z[4b+2], z[4b+3]. For a pair (wa, wb), in float arithmetic:
 *       u_a = (float)(int32_t)((wa >> 1) | 1) * 2^-31        in [2^-31, 1], never 0
 *       u   = ((wb >> 8) + 1/2) * 2^-24                       in (0, 1), never 0 or 1
 *       r   = sqrt(-2 ln u_a),  z[even] = r cos(2 pi u),  z[odd] = r sin(2 pi u)
 *   u_a is an odd 31-bit integer rounded to float (round to nearest even), so |z| <= 6.56.
 *   ln, cos and sin are the library's own approximations (normal.c: range reduction and Taylor
 *   polynomials, within a few ulp of the exact functions) built from IEEE +, -, *, /, sqrt and
 *   integer bit operations only, never libm, with no FMA contraction: the bits do not depend on
 *   the SIMD level, the compiler's vector width or the C library. The angle is reduced exactly
 *   in integers (octant = top 3 bits of wb >> 8).
 *   Block indices wrap at 2^32: elements at or beyond 2^34 repeat the stream from its start.
 *   A target whose float arithmetic carries excess precision (x87, FLT_EVAL_METHOD != 0) does
 *   not reproduce these bits.
 *
 * Uniform layout (host-side decisions: resampling, random directions).
 *   Element j comes from block b = floor(j / 2) of the same (key, ctr) scheme, half h = j mod 2:
 *       x = w[2h+1] * 2^32 + w[2h],  u = ((x >> 12) + 1/2) * 2^-52     in [2^-53, 1 - 2^-53]
 *   computed exactly in double: 52 random bits, never 0 or 1, symmetric (u and 1 - u are
 *   equally likely). Block indices wrap at 2^32 (elements at or beyond 2^33 repeat). Uniforms
 *   and normals share the counter space: give them different stream ids, never the same one.
 */
#ifndef ITS_RNG_H
#define ITS_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "itscale.h"

/* out[j] = (a*x[j] + b*y[j]) + c*z[j] with z[j] element j of `key`'s stream (offset 0).
 * Evaluation order, each step rounded to float: t = a*x; t = t + b*y; t = t + c*z, a term being
 * skipped when its pointer is NULL (x NULL: t = b*y + c*z; both NULL: t = c*z). This is the CPU
 * backend's plain lincomb order, so the result equals lincomb(out, n, a, x, b, y, c, z) with
 * z = its_randn(key, 0) bit for bit. c == 0 generates no noise and gives lincomb with z NULL
 * (a*x + b*y; zero where both are NULL; key may then be NULL): the same bits as adding c*z,
 * except that a -0 from a*x + b*y stays -0. out may alias x or y. Noise is made in small
 * blocks on the stack: no temporary of length n, no heap allocation. */
void its_rng_lincomb_randn(float *out, size_t n, float a, const float *x, float b,
                           const float *y, float c, const its_noise_key *key);

/* its_rng_lincomb_randn on nr rows of n values, each with its own pointers and key: row r gets
 * exactly what its_rng_lincomb_randn(rows[r].out, n, a, rows[r].x, b, rows[r].y, c,
 * &rows[r].key) gives. x (and y) must be NULL in every row or in none. Short rows (one vector
 * group: 64 values on the AVX-512 and AVX2 paths) go several at a time, so that their
 * generation chains overlap; longer rows go one by one. */
typedef struct its_rng_row {
    float *out;
    const float *x, *y;
    its_noise_key key;
} its_rng_row;
void its_rng_lincomb_randn_rows(const its_rng_row *rows, size_t nr, size_t n, float a, float b,
                                float c);

/* One Box-Muller pair from Philox words (wa, wb) as in the layout above: *z0 = r cos, *z1 = r sin.
 * The scalar definition every path reproduces. */
void its_rng_normal_pair(uint32_t wa, uint32_t wb, float *z0, float *z1);

/* n uniform doubles in (0, 1) of `key`'s stream, starting at element `offset` (any value);
 * layout above. */
void its_rng_uniform(double *out, size_t n, const its_noise_key *key, uint64_t offset);

/* Lineage ids. A child's id depends only on its parent's id and its child index:
 * child(p, 0) = p (the particle that continues keeps its noise), child(p, k >= 1) = the k-th
 * output of SplitMix64 seeded with p, that is mix64(p + k * 0x9e3779b97f4a7c15) with the
 * SplitMix64 finalizer. For a fixed parent the children are distinct (the finalizer is a
 * bijection); across parents they collide only by chance (about 2^-64 per pair). */
uint64_t its_lineage_child(uint64_t parent, uint64_t k);
/* Root id of initial particle i: a different salt and finalizer (MurmurHash3 fmix64) from the
 * children's, so roots do not line up with any child sequence. */
uint64_t its_lineage_root(uint64_t i);

/* Instruction-set paths for the normal kernels and the CPU backend's vector loops. All give the
 * same bits. The library uses the highest one the CPU supports, capped by the environment
 * variable ITS_SIMD (scalar, generic, avx2 or avx512), read once on first use, like
 * OPENBLAS_CORETYPE: ITS_SIMD=avx2 runs an AVX-512 machine on the AVX2 path, for comparisons.
 * Any other value means no cap. The choice is made once per process; nothing changes it later. */
typedef enum its_rng_isa {
    ITS_RNG_ISA_SCALAR = 0,  /* one Philox block at a time, no vector loops (the reference) */
    ITS_RNG_ISA_GENERIC = 1, /* the portable loops compiled for the baseline target */
    ITS_RNG_ISA_AVX2 = 2,    /* 8 blocks per group in registers */
    ITS_RNG_ISA_AVX512 = 3   /* 16 blocks per group in registers */
} its_rng_isa;

/* Highest path this build and CPU can run (ITS_SIMD ignored). */
its_rng_isa its_rng_isa_best(void);
/* Path in use: min(best, ITS_SIMD). */
its_rng_isa its_rng_isa_active(void);
const char *its_rng_isa_name(its_rng_isa isa);
/* 0 and *isa set when name is one of the names above, else -1. */
int its_rng_isa_parse(const char *name, its_rng_isa *isa);

/* its_randn and its_rng_lincomb_randn on an explicit path (lowered to the best the CPU has),
 * for tests and benchmarks that compare paths in one process. */
void its_randn_isa(its_rng_isa isa, float *out, size_t n, const its_noise_key *key,
                   uint64_t offset);
void its_rng_lincomb_randn_isa(its_rng_isa isa, float *out, size_t n, float a, const float *x,
                               float b, const float *y, float c, const its_noise_key *key);
void its_rng_lincomb_randn_rows_isa(its_rng_isa isa, const its_rng_row *rows, size_t nr,
                                    size_t n, float a, float b, float c);
/* 1 when no element of x[0 .. n) is NaN or Inf (an exponent field of all ones), on an explicit
 * path (lowered to the best the CPU has); the engine's check of every model output
 * (backend_cpu.c). */
int its_finite_isa(its_rng_isa isa, const float *x, size_t n);

#endif /* ITS_RNG_H */
