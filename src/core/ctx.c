#include "core/core.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif
#ifndef VALGRIND_MAKE_MEM_UNDEFINED
#define VALGRIND_MAKE_MEM_UNDEFINED(p, n) ((void)(p), (void)(n))
#endif

static void its_latent_drop(its_ctx *ctx, size_t bytes);

static void *its_default_alloc(void *opaque, size_t size, size_t align)
{
    (void)opaque;
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1) != 0)
        return NULL;
    return p;
}

static void its_default_free(void *opaque, void *ptr)
{
    (void)opaque;
    free(ptr);
}

void its_ctx_params_init(its_ctx_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof(*p));
    p->version = ITS_CTX_PARAMS_V1;
    p->log_level = ITS_LOG_WARN;
    p->n_threads = 1;
}

/* Why the last its_ctx_create on this thread failed (no context holds it): its_ctx_errmsg(NULL). */
static _Thread_local char its_noctx_msg[160];

/* A failed context creation: the reason for its_ctx_errmsg(NULL) and the host's log, if any. */
static its_status its_ctx_fail(const its_ctx_params *p, its_status st, const char *msg)
{
    snprintf(its_noctx_msg, sizeof(its_noctx_msg), "its_ctx_create: %s", msg);
    if (p && p->log && (unsigned)p->log_level < ITS_LOG_COUNT_) /* ERROR passes every level */
        p->log(p->log_user, ITS_LOG_ERROR, its_noctx_msg);
    return st;
}

its_status its_ctx_init(const its_ctx_params *p, const its_backend_i *be, int cpu,
                        its_ctx **out)
{
    its_ctx_params def;
    its_noctx_msg[0] = '\0';
    if (!out)
        return its_ctx_fail(p, ITS_ERR_INVALID, "out is NULL");
    *out = NULL;
    if (!p) {
        its_ctx_params_init(&def);
        p = &def;
    }
    if (p->version != ITS_CTX_PARAMS_V1)
        return its_ctx_fail(NULL, ITS_ERR_INVALID,
                            "params.version is not ITS_CTX_PARAMS_V1 (call its_ctx_params_init)");
    if ((p->allocator.alloc == NULL) != (p->allocator.free == NULL))
        return its_ctx_fail(p, ITS_ERR_INVALID, "allocator: set both alloc and free, or neither");
    if (p->n_threads < 0 || p->n_threads > 1024)
        return its_ctx_fail(p, ITS_ERR_INVALID, "n_threads: expected 0 .. 1024");
    if ((unsigned)p->log_level >= ITS_LOG_COUNT_)
        return its_ctx_fail(NULL, ITS_ERR_INVALID, "log_level: not an its_log_level");
    if (!be || be->version != ITS_BACKEND_V1 || !be->copy || !be->lincomb || !be->lincomb_randn ||
        !be->dot || ((be->alloc == NULL) != (be->free == NULL)))
        return its_ctx_fail(p, ITS_ERR_INVALID,
                            "backend: wrong version, a required function missing, or only one "
                            "of alloc and free");

    its_allocator a = p->allocator;
    if (!a.alloc) {
        a.alloc = its_default_alloc;
        a.free = its_default_free;
        a.opaque = NULL;
    }
    its_ctx *ctx = a.alloc(a.opaque, sizeof(*ctx), ITS_ALIGN);
    if (!ctx)
        return its_ctx_fail(p, ITS_ERR_NOMEM, "out of memory for the context");
    memset(ctx, 0, sizeof(*ctx));
    ctx->alloc = a;
    ctx->log = p->log;
    ctx->log_user = p->log_user;
    ctx->log_level = p->log_level;
    ctx->n_threads = p->n_threads ? p->n_threads : 1;
    ctx->backend = be;
    ctx->backend_state = p->backend_state;
    ctx->keep_cap = cpu ? ITS_LATENT_KEEP_DEFAULT : 0; /* a host backend opts in */
    ctx->keep_min = ITS_LATENT_KEEP_MIN;
    /* Workers only split CPU-backend work (a host backend need not be thread-safe). */
    if (ctx->n_threads > 1 && cpu) {
        its_status st = its_tpool_create(ctx, ctx->n_threads - 1, -1, &ctx->pool);
        if (st != ITS_OK) {
            char why[128];
            snprintf(why, sizeof(why), "%.120s", ctx->errmsg[0] ? ctx->errmsg
                                                            : "cannot start the worker threads");
            a.free(a.opaque, ctx);
            return its_ctx_fail(p, st, why);
        }
    }
    *out = ctx;
    return ITS_OK;
}

void its_ctx_free(its_ctx *ctx)
{
    if (!ctx)
        return;
    its_tpool_free(ctx, ctx->pool);
    its_latent_drop(ctx, 0);
    its_allocator a = ctx->alloc;
    a.free(a.opaque, ctx);
}

const char *its_ctx_errmsg(const its_ctx *ctx)
{
    if (ctx)
        return ctx->errmsg;
    return its_noctx_msg[0] ? its_noctx_msg : "no context";
}

its_status its_ctx_errcode(const its_ctx *ctx)
{
    return ctx ? ctx->last_status : ITS_ERR_INVALID;
}

void its_ctx_mem_free(its_ctx *ctx, void *ptr)
{
    its_mfree(ctx, ptr);
}

its_status its_error(its_ctx *ctx, its_status status, const char *fmt, ...)
{
    if (!ctx)
        return status;
    ctx->last_status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->errmsg, sizeof(ctx->errmsg), fmt, ap);
    va_end(ap);
    if (status < 0 && ctx->log && ctx->log_level >= ITS_LOG_DEBUG)
        ctx->log(ctx->log_user, ITS_LOG_DEBUG, ctx->errmsg);
    return status;
}

void its_clear_error(its_ctx *ctx)
{
    if (!ctx)
        return;
    ctx->last_status = ITS_OK;
    ctx->errmsg[0] = '\0';
}

void its_log(its_ctx *ctx, its_log_level level, const char *fmt, ...)
{
    if (!ctx || !ctx->log || level > ctx->log_level)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_user, level, buf);
}

void *its_malloc(its_ctx *ctx, size_t size)
{
    void *p = ctx->alloc.alloc(ctx->alloc.opaque, size ? size : 1, ITS_ALIGN);
    if (!p)
        its_error(ctx, ITS_ERR_NOMEM, "out of memory allocating %zu bytes", size);
    return p;
}

void *its_calloc(its_ctx *ctx, size_t n, size_t size)
{
    size_t total;
    if (its_mul_size(n, size, &total) != 0) {
        its_error(ctx, ITS_ERR_NOMEM, "allocation size overflows (%zu x %zu)", n, size);
        return NULL;
    }
    void *p = its_malloc(ctx, total);
    if (p)
        memset(p, 0, total);
    return p;
}

void its_mfree(its_ctx *ctx, void *p)
{
    if (ctx && p)
        ctx->alloc.free(ctx->alloc.opaque, p);
}

char *its_strdup(its_ctx *ctx, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = its_malloc(ctx, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static void *its_latent_alloc_raw(its_ctx *ctx, size_t bytes)
{
    if (ctx->backend->alloc)
        return ctx->backend->alloc(ctx->backend_state, bytes);
    return ctx->alloc.alloc(ctx->alloc.opaque, bytes, ITS_ALIGN);
}

static void its_latent_free_raw(its_ctx *ctx, void *p)
{
    if (ctx->backend->free)
        ctx->backend->free(ctx->backend_state, p);
    else
        ctx->alloc.free(ctx->alloc.opaque, p);
}

static void its_kept_free_raw(its_ctx *ctx, const its_latent_block *b)
{
    if (b->host)
        ctx->alloc.free(ctx->alloc.opaque, b->p);
    else
        its_latent_free_raw(ctx, b->p);
}

/* Frees kept blocks, oldest first, until at most `bytes` stay kept. */
static void its_latent_drop(its_ctx *ctx, size_t bytes)
{
    int k = 0;
    while (k < ctx->n_kept && ctx->kept_bytes > bytes) {
        ctx->kept_bytes -= ctx->kept[k].bytes;
        its_kept_free_raw(ctx, &ctx->kept[k]);
        k++;
    }
    if (k > 0) {
        memmove(ctx->kept, ctx->kept + k, (size_t)(ctx->n_kept - k) * sizeof(ctx->kept[0]));
        ctx->n_kept -= k;
    }
}

/* Bytes of a latent block of nfloats floats (at least one); -1 on overflow. */
static int its_latent_bytes(size_t nfloats, size_t *bytes)
{
    return its_mul_size(nfloats ? nfloats : 1, sizeof(float), bytes);
}

/* The newest kept block of this size and kind, taken off the list; NULL if none. */
static void *its_kept_take(its_ctx *ctx, size_t bytes, int host)
{
    for (int k = ctx->n_kept; k-- > 0;) { /* newest first: the block most likely still cached */
        if (ctx->kept[k].bytes == bytes && ctx->kept[k].host == host) {
            void *p = ctx->kept[k].p;
            memmove(ctx->kept + k, ctx->kept + k + 1,
                    (size_t)(ctx->n_kept - k - 1) * sizeof(ctx->kept[0]));
            ctx->n_kept--;
            ctx->kept_bytes -= bytes;
            return p;
        }
    }
    return NULL;
}

/* Keeps a block a run freed (within the cap and the slots, oldest dropped first), or frees it. */
static void its_kept_put(its_ctx *ctx, void *p, size_t bytes, int host)
{
    its_latent_block b = {p, bytes, host};
    if (bytes < ctx->keep_min || bytes > ctx->keep_cap) {
        its_kept_free_raw(ctx, &b);
        return;
    }
    if (ctx->n_kept == ITS_LATENT_KEEP_SLOTS)
        its_latent_drop(ctx, ctx->kept_bytes - ctx->kept[0].bytes);
    its_latent_drop(ctx, ctx->keep_cap - bytes);
    ctx->kept[ctx->n_kept++] = b;
    ctx->kept_bytes += bytes;
}

static void *its_kept_alloc_raw(its_ctx *ctx, size_t bytes, int host)
{
    return host ? ctx->alloc.alloc(ctx->alloc.opaque, bytes, ITS_ALIGN)
                : its_latent_alloc_raw(ctx, bytes);
}

/* A block of this size and kind: the newest kept one (*reused = 1), else a fresh one; when that
 * fails with blocks kept, they are given back and it tries once more. NULL when both fail
 * (nothing recorded). */
static void *its_kept_alloc(its_ctx *ctx, size_t bytes, int host, int *reused)
{
    void *p = its_kept_take(ctx, bytes, host);
    *reused = p != NULL;
    if (!p)
        p = its_kept_alloc_raw(ctx, bytes, host);
    if (!p && ctx->n_kept > 0) {
        its_latent_drop(ctx, 0);
        p = its_kept_alloc_raw(ctx, bytes, host);
    }
    return p;
}

float *its_latent_alloc(its_ctx *ctx, size_t nfloats)
{
    size_t bytes;
    if (its_latent_bytes(nfloats, &bytes) != 0) {
        its_error(ctx, ITS_ERR_NOMEM, "latent buffer size overflows (%zu floats)", nfloats);
        return NULL;
    }
    int reused;
    void *p = its_kept_alloc(ctx, bytes, 0, &reused);
    /* Under memcheck a reused block reads as uninitialised, as a fresh one would, so a run that
     * reads a latent before writing it is caught (a no-op otherwise). */
    if (reused && !ctx->backend->alloc)
        VALGRIND_MAKE_MEM_UNDEFINED(p, bytes);
    if (!p) {
        if (ctx->backend->alloc)
            its_error(ctx, ITS_ERR_NOMEM, "backend '%s' out of memory allocating %zu bytes",
                      ctx->backend->name ? ctx->backend->name : "?", bytes);
        else
            its_error(ctx, ITS_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    }
    return p;
}

void its_latent_free(its_ctx *ctx, float *p, size_t nfloats)
{
    if (!ctx || !p)
        return;
    size_t bytes = 0;
    if (its_latent_bytes(nfloats, &bytes) != 0) {
        its_latent_free_raw(ctx, p);
        return;
    }
    its_kept_put(ctx, p, bytes, 0);
}

void *its_scratch_alloc(its_ctx *ctx, size_t bytes)
{
    if (bytes == 0)
        bytes = 1;
    int reused;
    void *p = its_kept_alloc(ctx, bytes, 1, &reused);
    if (!p) {
        its_error(ctx, ITS_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    memset(p, 0, bytes); /* zeroed, as its_calloc's memory is */
    return p;
}

void its_scratch_free(its_ctx *ctx, void *p, size_t bytes)
{
    if (!ctx || !p)
        return;
    its_kept_put(ctx, p, bytes ? bytes : 1, 1);
}

its_status its_ctx_set_latent_cache(its_ctx *ctx, size_t bytes)
{
    if (!ctx)
        return ITS_ERR_INVALID;
    ctx->keep_cap = bytes;
    its_latent_drop(ctx, bytes);
    return ITS_OK;
}

its_status its_ctx_set_latent_cache_min(its_ctx *ctx, size_t min_bytes)
{
    if (!ctx)
        return ITS_ERR_INVALID;
    ctx->keep_min = min_bytes;
    /* kept blocks now below the minimum are freed; the others keep their order */
    int j = 0;
    for (int k = 0; k < ctx->n_kept; k++) {
        if (ctx->kept[k].bytes < min_bytes) {
            ctx->kept_bytes -= ctx->kept[k].bytes;
            its_kept_free_raw(ctx, &ctx->kept[k]);
        } else {
            ctx->kept[j++] = ctx->kept[k];
        }
    }
    ctx->n_kept = j;
    return ITS_OK;
}

double its_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
