/* Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel random numbers: as easy as 1, 2, 3",
 * SC 2011; constants from Random123). Written on plain scalars so that a loop over counters
 * vectorizes: every operation is a 32-bit integer op or a 32x32->64 multiply. */
#ifndef ITS_RNG_PHILOX_H
#define ITS_RNG_PHILOX_H

#include <stdint.h>

#include "itscale.h"

#define ITS_PHILOX_M0 0xD2511F53u
#define ITS_PHILOX_M1 0xCD9E8D57u
#define ITS_PHILOX_W0 0x9E3779B9u /* golden ratio */
#define ITS_PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

/* One round with key (k0, k1); the key is bumped before every round but the first. */
#define ITS_PHILOX_ROUND(x0, x1, x2, x3, k0, k1)                      \
    do {                                                              \
        uint64_t its_p0_ = (uint64_t)ITS_PHILOX_M0 * (x0);            \
        uint64_t its_p1_ = (uint64_t)ITS_PHILOX_M1 * (x2);            \
        uint32_t its_y0_ = (uint32_t)(its_p1_ >> 32) ^ (x1) ^ (k0);   \
        uint32_t its_y2_ = (uint32_t)(its_p0_ >> 32) ^ (x3) ^ (k1);   \
        (x1) = (uint32_t)its_p1_;                                     \
        (x3) = (uint32_t)its_p0_;                                     \
        (x0) = its_y0_;                                               \
        (x2) = its_y2_;                                               \
    } while (0)

/* The ten rounds on (x0..x3) in place with key (k0, k1). */
static inline void its_philox__rounds10(uint32_t *x0, uint32_t *x1, uint32_t *x2, uint32_t *x3,
                                        uint32_t k0, uint32_t k1)
{
    uint32_t a = *x0, b = *x1, c = *x2, d = *x3;
    ITS_PHILOX_ROUND(a, b, c, d, k0, k1);
    ITS_PHILOX_ROUND(a, b, c, d, k0 + 1u * ITS_PHILOX_W0, k1 + 1u * ITS_PHILOX_W1);
    ITS_PHILOX_ROUND(a, b, c, d, k0 + 2u * ITS_PHILOX_W0, k1 + 2u * ITS_PHILOX_W1);
    ITS_PHILOX_ROUND(a, b, c, d, k0 + 3u * ITS_PHILOX_W0, k1 + 3u * ITS_PHILOX_W1);
    ITS_PHILOX_ROUND(a, b, c, d, k0 + 4u * ITS_PHILOX_W0, k1 + 4u * ITS_PHILOX_W1);
    ITS_PHILOX_ROUND(a, b, c, d, k0 + 5u * ITS_PHILOX_W0, k1 + 5u * ITS_PHILOX_W1);
    ITS_PHILOX_ROUND(a, b, c, d, k0 + 6u * ITS_PHILOX_W0, k1 + 6u * ITS_PHILOX_W1);
    ITS_PHILOX_ROUND(a, b, c, d, k0 + 7u * ITS_PHILOX_W0, k1 + 7u * ITS_PHILOX_W1);
    ITS_PHILOX_ROUND(a, b, c, d, k0 + 8u * ITS_PHILOX_W0, k1 + 8u * ITS_PHILOX_W1);
    ITS_PHILOX_ROUND(a, b, c, d, k0 + 9u * ITS_PHILOX_W0, k1 + 9u * ITS_PHILOX_W1);
    *x0 = a;
    *x1 = b;
    *x2 = c;
    *x3 = d;
}

/* Philox key and the three fixed counter words of a noise stream (DESIGN.md §7 layout, rng.h). */
typedef struct its_philox_stream {
    uint32_t k0, k1;
    uint32_t c0, c1, c2;
} its_philox_stream;

static inline its_philox_stream its_philox_stream_of(const its_noise_key *key)
{
    its_philox_stream s;
    s.k0 = (uint32_t)key->seed;
    s.k1 = (uint32_t)(key->seed >> 32);
    s.c0 = (uint32_t)key->lineage;
    s.c1 = (uint32_t)(key->lineage >> 32);
    s.c2 = key->stream;
    return s;
}

#endif /* ITS_RNG_PHILOX_H */
