#define _POSIX_C_SOURCE 200809L
#include "fuzz.h"

#include <string.h>

/* The offset to the base sits just in front of each block. */
static void *fuzz_alloc(void *opaque, size_t size, size_t align)
{
    its_fuzz_alloc *a = opaque;
    size_t off = align < 16 ? 16 : align;
    void *base = NULL;
    if (size > ((size_t)1 << 40) || posix_memalign(&base, off, size + off) != 0)
        return NULL;
    char *p = (char *)base + off;
    memcpy(p - sizeof(size_t), &off, sizeof(size_t));
    a->live++;
    a->calls++;
    return p;
}

static void fuzz_free(void *opaque, void *ptr)
{
    its_fuzz_alloc *a = opaque;
    if (!ptr)
        return;
    size_t off;
    memcpy(&off, (char *)ptr - sizeof(size_t), sizeof(size_t));
    a->live--;
    free((char *)ptr - off);
}

its_ctx *its_fuzz_ctx(its_fuzz_alloc *a)
{
    its_ctx_params p;
    its_ctx_params_init(&p);
    p.allocator.alloc = fuzz_alloc;
    p.allocator.free = fuzz_free;
    p.allocator.opaque = a;
    its_ctx *ctx = NULL;
    return its_ctx_create(&p, &ctx) == ITS_OK ? ctx : NULL;
}
