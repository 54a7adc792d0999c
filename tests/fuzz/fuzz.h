/* Shared pieces of the fuzz targets: the libFuzzer entry point, an invariant check that stops
 * the process (a fuzzer must see a crash), and a counting allocator so every target can check
 * that a call leaves no block behind. */
#ifndef ITS_FUZZ_H
#define ITS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "itscale.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant is a finding: print it and abort so libFuzzer keeps the input. */
#define ITS_FUZZ_CHECK(cond, ...)                                                   \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                           \
            fputc('\n', stderr);                                                    \
            abort();                                                                \
        }                                                                           \
    } while (0)

typedef struct its_fuzz_alloc {
    long live;      /* blocks not yet freed */
    long calls;
} its_fuzz_alloc;

/* A context whose allocator counts live blocks in a (which must outlive it). */
its_ctx *its_fuzz_ctx(its_fuzz_alloc *a);

#endif
