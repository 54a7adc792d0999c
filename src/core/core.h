/* Internal platform layer: context internals, errors, allocation, logging, clocks. */
#ifndef ITS_CORE_H
#define ITS_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "itscale.h"

#define ITS_ERRMSG_CAP 512
#define ITS_ALIGN 64

typedef struct its_tpool its_tpool;

/* Blocks a run freed, kept for the next run that asks for the same size and kind (ctx.c):
 * latent blocks, and the host scratch a run hands to callbacks (times, scores). */
#define ITS_LATENT_KEEP_SLOTS 32
#define ITS_LATENT_KEEP_MIN ((size_t)64 << 10) /* default: smaller blocks go back to the heap */
#define ITS_LATENT_KEEP_DEFAULT ((size_t)64 << 20)
typedef struct its_latent_block {
    void *p;
    size_t bytes;
    int host; /* 1: host scratch from the context allocator; 0: a latent block */
} its_latent_block;

struct its_ctx {
    its_allocator alloc;
    its_log_fn log;
    void *log_user;
    its_log_level log_level;
    int n_threads;
    const its_backend_i *backend;
    void *backend_state;
    its_status last_status;
    char errmsg[ITS_ERRMSG_CAP];
    its_tpool *pool;         /* n_threads - 1 workers; NULL with 1 thread or a host backend */
    its_latent_block kept[ITS_LATENT_KEEP_SLOTS]; /* oldest first */
    int n_kept;
    size_t kept_bytes, keep_cap, keep_min;
};

/* Creates a context on backend be, which its_ctx_create (src/backend/, the layer that knows the
 * default) resolved from p->backend; p->backend itself is not read. cpu: be is the CPU backend,
 * whose vector work the n_threads - 1 workers split (a host backend need not be thread-safe, so
 * with it no worker starts). Validates p and be as its_ctx_create documents. */
its_status its_ctx_init(const its_ctx_params *p, const its_backend_i *be, int cpu,
                        its_ctx **out);

/* Records status and a formatted message on ctx (if non-NULL) and returns status. */
its_status its_error(its_ctx *ctx, its_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void its_clear_error(its_ctx *ctx);
void its_log(its_ctx *ctx, its_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Host memory from the context's allocator, ITS_ALIGN aligned. its_malloc records
 * ITS_ERR_NOMEM on ctx when it fails. */
void *its_malloc(its_ctx *ctx, size_t size);
void *its_calloc(its_ctx *ctx, size_t n, size_t size);
void its_mfree(its_ctx *ctx, void *p);
char *its_strdup(its_ctx *ctx, const char *s);

/* Overflow-checked size arithmetic: 0 on success, -1 on overflow. */
static inline int its_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}

/* Latent memory through the backend (or the context allocator when the backend has no alloc).
 * its_latent_free takes the size its_latent_alloc was given: a block of at least the context's
 * keep_min bytes is kept on the context (up to its keep cap and ITS_LATENT_KEEP_SLOTS blocks,
 * oldest dropped first)
 * and handed back by the next its_latent_alloc of the same size, so a context that runs again
 * neither maps and faults in fresh pages nor hands its callbacks new addresses. Its contents
 * are then whatever the last user left. */
float *its_latent_alloc(its_ctx *ctx, size_t nfloats);
void its_latent_free(its_ctx *ctx, float *p, size_t nfloats);
/* Zeroed host memory that a run hands to callbacks (model times, verifier scores), kept on the
 * context like a latent block (same list, cap, minimum and size match), so that a host which
 * sets the minimum to 0 because it wraps the
 * memory it is given (a Python view, a pinned registration) finds the same addresses on the
 * next run of the same shape. its_scratch_free takes the size its_scratch_alloc was given. */
void *its_scratch_alloc(its_ctx *ctx, size_t bytes);
void its_scratch_free(its_ctx *ctx, void *p, size_t bytes);

double its_now(void); /* monotonic seconds */

/* ---- threads (threads.c) ----
 * A context owns a pool of n_threads - 1 workers, started by its_ctx_create and joined by
 * its_ctx_free. its_parallel_for runs fn(arg, i) for every i in [0, n_tasks) exactly once, on
 * the workers and the calling thread, and returns when all are done. One call at a time per
 * context (a context is used by one thread at a time); fn must not call its_parallel_for on the
 * same context. Without a pool, or with n_tasks <= 1, the tasks run in order on the caller.
 * No allocation per call. */
typedef void (*its_task_fn)(void *arg, size_t task);
void its_parallel_for(its_ctx *ctx, size_t n_tasks, its_task_fn fn, void *arg);
int its_parallel_threads(const its_ctx *ctx); /* threads its_parallel_for uses (1: no pool) */
uint64_t its_parallel_jobs(const its_ctx *ctx); /* calls that went to the workers so far */
/* Starts n_workers threads with memory from ctx. fail_spawn >= 0 fails the start of that worker
 * (fault injection in tests); -1 never. On failure nothing is left running or allocated. */
its_status its_tpool_create(its_ctx *ctx, int n_workers, int fail_spawn, its_tpool **out);
void its_tpool_free(its_ctx *ctx, its_tpool *p); /* joins the workers; NULL is a no-op */

#define ITS_TRY(expr)                  \
    do {                               \
        its_status its_try_s_ = (expr); \
        if (its_try_s_ != ITS_OK)      \
            return its_try_s_;         \
    } while (0)

#define ITS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
