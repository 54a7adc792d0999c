/* Philox4x32-10 blocks, uniform doubles and lineage ids (DESIGN.md §7; layouts in rng.h). */
#include "rng/rng.h"

#include "rng/philox.h"

ITS_API void its_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t x0 = ctr[0], x1 = ctr[1], x2 = ctr[2], x3 = ctr[3];
    its_philox__rounds10(&x0, &x1, &x2, &x3, key[0], key[1]);
    out[0] = x0;
    out[1] = x1;
    out[2] = x2;
    out[3] = x3;
}

/* (2k + 1) * 2^-53 for the top 52 bits k of x: exact in double, never 0 or 1. */
static inline double its_rng__u01(uint32_t lo, uint32_t hi)
{
    uint64_t x = ((uint64_t)hi << 32) | lo;
    return ((double)(x >> 12) + 0.5) * 0x1p-52;
}

void its_rng_uniform(double *out, size_t n, const its_noise_key *key, uint64_t offset)
{
    if (!out || !key || n == 0)
        return;
    its_philox_stream s = its_philox_stream_of(key);
    uint64_t j = offset;
    size_t i = 0;
    while (i < n) {
        uint32_t w0 = s.c0, w1 = s.c1, w2 = s.c2, w3 = (uint32_t)(j >> 1);
        its_philox__rounds10(&w0, &w1, &w2, &w3, s.k0, s.k1);
        if ((j & 1) == 0)
            out[i++] = its_rng__u01(w0, w1);
        if (i < n)
            out[i++] = its_rng__u01(w2, w3);
        j = (j | 1) + 1;
    }
}

/* SplitMix64 finalizer (Steele, Lea, Flood 2014; Stafford's "Mix13"): a bijection of 2^64. */
static inline uint64_t its_rng__mix_splitmix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* MurmurHash3 fmix64 (Appleby): a different bijection, so roots and children are unrelated. */
static inline uint64_t its_rng__mix_murmur(uint64_t z)
{
    z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdu;
    z = (z ^ (z >> 33)) * 0xc4ceb9fe1a85ec53u;
    return z ^ (z >> 33);
}

uint64_t its_lineage_child(uint64_t parent, uint64_t k)
{
    if (k == 0)
        return parent;
    return its_rng__mix_splitmix(parent + k * 0x9e3779b97f4a7c15u);
}

uint64_t its_lineage_root(uint64_t i)
{
    /* Salt: the first 64 fraction bits of pi; keeps root(0) away from 0. */
    return its_rng__mix_murmur(i ^ 0x243f6a8885a308d3u);
}
