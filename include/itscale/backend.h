/*
 * itscale compute backend interface.
 *
 * Latent buffers are owned by the backend: the engine never touches latent memory except
 * through these slots, so a device backend can keep latents on the device and hand device
 * pointers to the host callbacks. The CPU/BLAS backend (its_backend_cpu) is the default and the
 * reference: any other backend must reproduce its numbers.
 *
 * Every slot receives `state` (its_ctx_params.backend_state). Slots marked "may be NULL" get the
 * dispatcher's default, which works on host memory.
 */
#ifndef ITSCALE_BACKEND_H
#define ITSCALE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "itscale.h" /* ITS_API; itscale.h includes this header at its end */

#ifdef __cplusplus
extern "C" {
#endif

/* A noise stream: standard normal element j of stream (seed, lineage, stream) is a pure function
 * of those four numbers (Philox4x32-10; DESIGN.md §7). */
typedef struct its_noise_key {
    uint64_t seed;
    uint64_t lineage;
    uint32_t stream;
} its_noise_key;

#define ITS_BACKEND_V1 1
typedef struct its_backend_i {
    int version;            /* ITS_BACKEND_V1 */
    const char *name;
    /* 64-byte aligned latent memory. May be NULL (both): the context's allocator. free may
     * also be called from its_ctx_set_latent_cache and its_ctx_free when the host has turned
     * the context's latent cache on (off by default for a host backend). */
    void *(*alloc)(void *state, size_t bytes);
    void (*free)(void *state, void *ptr);
    /* Copy n floats from backend memory to host memory. May be NULL: memcpy. */
    void (*to_host)(void *state, float *dst, const float *src, size_t n);
    /* Copy n floats within backend memory (regions do not overlap). Required. */
    void (*copy)(void *state, float *dst, const float *src, size_t n);
    /* out = a*x + b*y + c*z over n floats; y and/or z may be NULL (their terms skipped); out may
     * alias x, y or z. Required. */
    void (*lincomb)(void *state, float *out, size_t n, float a, const float *x, float b,
                    const float *y, float c, const float *z);
    /* out = a*x + b*y + c*N(0,1) with the noise of `key`, element j being element j of the stream;
     * x and/or y may be NULL. c == 0 must give lincomb's result bit for bit. Required. */
    void (*lincomb_randn)(void *state, float *out, size_t n, float a, const float *x, float b,
                          const float *y, float c, const its_noise_key *key);
    /* Sum of x[j]*y[j] in double. Required. */
    double (*dot)(void *state, const float *x, const float *y, size_t n);
} its_backend_i;

/* The CPU backend: vector kernels in C (bit-identical across SIMD levels), BLAS from OpenBLAS. */
ITS_API const its_backend_i *its_backend_cpu(void);

/* n standard normals of stream `key` into host memory, starting at element `offset` (a multiple
 * of 4). The reference every backend's noise must match. */
ITS_API void its_randn(float *out, size_t n, const its_noise_key *key, uint64_t offset);

/* One Philox4x32-10 block (Salmon et al., Random123): out = philox(ctr, key). */
ITS_API void its_philox4x32_10(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

#ifdef __cplusplus
}
#endif

#endif /* ITSCALE_BACKEND_H */
