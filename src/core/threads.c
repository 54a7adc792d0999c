/* The context's thread pool: n_threads - 1 persistent workers plus the calling thread run the
 * tasks of one its_parallel_for at a time.
 *
 * One 64-bit word `claim` carries the job generation (high 40 bits) and the next task index (low
 * 24 bits). The caller publishes a job by storing (gen, 0); every thread, the caller included,
 * takes tasks by compare-and-swap on that word, so a task runs exactly once and the caller alone
 * finishes a job when no worker shows up (a worker is a helper, never a requirement). The caller
 * then waits for the tasks that were taken, not for the workers, and closes the job by setting
 * the index to ITS_POOL_CLOSED before it writes the next job's fields. Idle workers spin briefly
 * (back-to-back kernels of one step), then sleep on a condition variable. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

#include "core/core.h"

#define ITS_POOL_IDX_BITS 24
#define ITS_POOL_CLOSED ((UINT64_C(1) << ITS_POOL_IDX_BITS) - 1)
#define ITS_POOL_MAX_TASKS ((size_t)ITS_POOL_CLOSED) /* tasks per round; larger jobs take rounds */
/* Busy-wait this long before sleeping: covers the gap between the kernels of one step, and is
 * short next to a model call, when the workers should not compete with the host for cores. */
#define ITS_POOL_SPIN_S 50e-6

typedef struct its_tpool_worker {
    pthread_t tid;
    its_tpool *pool;
} its_tpool_worker;

struct its_tpool {
    its_ctx *ctx;
    int n_workers, started;
    its_tpool_worker *workers;
    uint64_t gen;   /* caller thread only */
    uint64_t jobs;  /* calls that used the workers; caller thread only */
    pthread_mutex_t mu;
    pthread_cond_t wake; /* workers: a new job or quit */
    pthread_cond_t done; /* caller: the last taken task finished */
    /* job fields: atomics, since a late worker may read them while the caller writes the next
     * job's; its claim then fails and the values are dropped */
    _Atomic(its_task_fn) fn;
    _Atomic(void *) arg;
    _Atomic size_t n_tasks;
    _Atomic int quit;
    _Atomic int sleepers;
    _Atomic int caller_waits;
    _Alignas(64) _Atomic uint64_t claim;
    _Alignas(64) _Atomic size_t n_done;
};

static inline void its_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Takes the next task of generation gen: 1 and *task on success, 0 when the job is not gen's or
 * every task is taken. */
static int its_tpool_take(its_tpool *p, uint64_t gen, size_t *task)
{
    uint64_t c = atomic_load(&p->claim);
    for (;;) {
        if ((c >> ITS_POOL_IDX_BITS) != gen)
            return 0;
        uint64_t i = c & ITS_POOL_CLOSED;
        if (i >= atomic_load(&p->n_tasks))
            return 0;
        if (atomic_compare_exchange_weak(&p->claim, &c, c + 1)) {
            *task = (size_t)i;
            return 1;
        }
    }
}

/* Runs tasks of generation gen until none is left. A taken task pins the job: the caller does
 * not close it (nor touch fn, arg) before that task is counted done. */
static void its_tpool_drain(its_tpool *p, uint64_t gen)
{
    size_t task;
    while (its_tpool_take(p, gen, &task)) {
        its_task_fn fn = atomic_load(&p->fn);
        fn(atomic_load(&p->arg), task);
        size_t n = atomic_load(&p->n_tasks);
        if (atomic_fetch_add(&p->n_done, 1) + 1 == n && atomic_load(&p->caller_waits)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

/* Waits until the generation in `claim` differs from seen; returns the new one. */
static uint64_t its_tpool_wait(its_tpool *p, uint64_t seen)
{
    double t0 = its_now();
    for (unsigned k = 1;; k++) {
        uint64_t g = atomic_load_explicit(&p->claim, memory_order_acquire) >> ITS_POOL_IDX_BITS;
        if (g != seen)
            return g;
        its_cpu_relax();
        if ((k & 63) == 0 && its_now() - t0 > ITS_POOL_SPIN_S)
            break;
    }
    /* Sleep. sleepers is raised under the mutex before the last look at claim; the caller
     * stores claim, then reads sleepers (both sequentially consistent): one of the two sees the
     * other, and the caller's signal, sent under the mutex, cannot fall between look and wait. */
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleepers, 1);
    uint64_t g;
    while ((g = atomic_load(&p->claim) >> ITS_POOL_IDX_BITS) == seen)
        pthread_cond_wait(&p->wake, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *its_tpool_main(void *vp)
{
    its_tpool *p = ((its_tpool_worker *)vp)->pool;
    uint64_t seen = 0;
    for (;;) {
        seen = its_tpool_wait(p, seen);
        if (atomic_load(&p->quit))
            return NULL;
        its_tpool_drain(p, seen);
    }
}

/* Publishes a new generation with the index at idx, and wakes up to `want` sleeping workers. */
static void its_tpool_publish(its_tpool *p, uint64_t idx, size_t want)
{
    p->gen = (p->gen + 1) & ((UINT64_C(1) << (64 - ITS_POOL_IDX_BITS)) - 1);
    atomic_store(&p->claim, (p->gen << ITS_POOL_IDX_BITS) | idx);
    int sleeping = atomic_load(&p->sleepers);
    if (sleeping > 0) {
        pthread_mutex_lock(&p->mu);
        if (want >= (size_t)sleeping)
            pthread_cond_broadcast(&p->wake);
        else
            for (size_t k = 0; k < want; k++)
                pthread_cond_signal(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
}

static void its_tpool_stop(its_tpool *p)
{
    atomic_store(&p->quit, 1);
    its_tpool_publish(p, ITS_POOL_CLOSED, (size_t)p->n_workers);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->workers[i].tid, NULL);
    p->started = 0;
}

its_status its_tpool_create(its_ctx *ctx, int n_workers, int fail_spawn, its_tpool **out)
{
    *out = NULL;
    if (n_workers < 1)
        return its_error(ctx, ITS_ERR_INVALID, "thread pool of %d workers", n_workers);
    its_tpool *p = its_calloc(ctx, 1, sizeof(*p));
    if (!p)
        return ITS_ERR_NOMEM;
    p->ctx = ctx;
    p->n_workers = n_workers;
    atomic_init(&p->fn, NULL);
    atomic_init(&p->arg, NULL);
    atomic_init(&p->n_tasks, 0);
    atomic_init(&p->quit, 0);
    atomic_init(&p->sleepers, 0);
    atomic_init(&p->caller_waits, 0);
    atomic_init(&p->claim, ITS_POOL_CLOSED); /* generation 0, closed */
    atomic_init(&p->n_done, 0);
    if (!(p->workers = its_calloc(ctx, (size_t)n_workers, sizeof(*p->workers)))) {
        its_mfree(ctx, p);
        return ITS_ERR_NOMEM;
    }
    int rc = pthread_mutex_init(&p->mu, NULL);
    if (rc == 0 && (rc = pthread_cond_init(&p->wake, NULL)) != 0)
        pthread_mutex_destroy(&p->mu);
    if (rc == 0 && (rc = pthread_cond_init(&p->done, NULL)) != 0) {
        pthread_cond_destroy(&p->wake);
        pthread_mutex_destroy(&p->mu);
    }
    if (rc != 0) {
        its_mfree(ctx, p->workers);
        its_mfree(ctx, p);
        return its_error(ctx, rc == ENOMEM || rc == EAGAIN ? ITS_ERR_NOMEM : ITS_ERR_INVALID,
                         "thread pool: cannot create its lock (%s)", strerror(rc));
    }
    /* Workers block every signal: the host's handlers run on the host's threads. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < n_workers; i++) {
        p->workers[i].pool = p;
        rc = i == fail_spawn ? EAGAIN
                             : pthread_create(&p->workers[i].tid, NULL, its_tpool_main,
                                              &p->workers[i]);
        if (rc != 0)
            break;
        p->started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        int failed = p->started + 1;
        its_tpool_free(ctx, p);
        return its_error(ctx, rc == EAGAIN || rc == ENOMEM ? ITS_ERR_NOMEM : ITS_ERR_INVALID,
                         "thread pool: cannot start worker thread %d of %d (%s)", failed,
                         n_workers, strerror(rc));
    }
    *out = p;
    return ITS_OK;
}

void its_tpool_free(its_ctx *ctx, its_tpool *p)
{
    if (!p)
        return;
    its_tpool_stop(p);
    pthread_cond_destroy(&p->done);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    its_mfree(ctx, p->workers);
    its_mfree(ctx, p);
}

static void its_tpool_run(its_tpool *p, size_t n_tasks, its_task_fn fn, void *arg)
{
    atomic_store(&p->fn, fn);
    atomic_store(&p->arg, arg);
    atomic_store(&p->n_tasks, n_tasks);
    atomic_store(&p->n_done, 0);
    its_tpool_publish(p, 0, n_tasks - 1);
    its_tpool_drain(p, p->gen);
    /* Every task is taken; wait for the ones workers still run. */
    double t0 = its_now();
    for (unsigned k = 1; atomic_load_explicit(&p->n_done, memory_order_acquire) != n_tasks; k++) {
        its_cpu_relax();
        if ((k & 63) == 0 && its_now() - t0 > ITS_POOL_SPIN_S) {
            pthread_mutex_lock(&p->mu);
            atomic_store(&p->caller_waits, 1);
            while (atomic_load(&p->n_done) != n_tasks)
                pthread_cond_wait(&p->done, &p->mu);
            atomic_store(&p->caller_waits, 0);
            pthread_mutex_unlock(&p->mu);
            break;
        }
    }
    /* Close the job before the next one's fields are written (see its_tpool_take). */
    atomic_store(&p->claim, (p->gen << ITS_POOL_IDX_BITS) | ITS_POOL_CLOSED);
    p->jobs++;
}

/* Task ids beyond one round's range: a round runs tasks base + i. */
typedef struct its_tpool_round {
    its_task_fn fn;
    void *arg;
    size_t base;
} its_tpool_round;

static void its_tpool_round_task(void *vp, size_t i)
{
    const its_tpool_round *r = vp;
    r->fn(r->arg, r->base + i);
}

void its_parallel_for(its_ctx *ctx, size_t n_tasks, its_task_fn fn, void *arg)
{
    its_tpool *p = ctx ? ctx->pool : NULL;
    if (!p || n_tasks <= 1) {
        for (size_t i = 0; i < n_tasks; i++)
            fn(arg, i);
        return;
    }
    if (n_tasks <= ITS_POOL_MAX_TASKS) {
        its_tpool_run(p, n_tasks, fn, arg);
        return;
    }
    for (size_t base = 0; base < n_tasks; base += ITS_POOL_MAX_TASKS) {
        its_tpool_round r = {fn, arg, base};
        size_t m = n_tasks - base < ITS_POOL_MAX_TASKS ? n_tasks - base : ITS_POOL_MAX_TASKS;
        if (m == 1)
            fn(arg, base);
        else
            its_tpool_run(p, m, its_tpool_round_task, &r);
    }
}

int its_parallel_threads(const its_ctx *ctx)
{
    return ctx && ctx->pool ? ctx->pool->n_workers + 1 : 1;
}

uint64_t its_parallel_jobs(const its_ctx *ctx)
{
    return ctx && ctx->pool ? ctx->pool->jobs : 0;
}
