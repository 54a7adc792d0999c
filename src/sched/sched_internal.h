/* Scheduler internals shared by its files (queue and workers, metrics, JSON). */
#ifndef ITS_SCHED_INTERNAL_H
#define ITS_SCHED_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/core.h"
#include "itscale/sched.h"

#define ITS_SCHED_RING 256  /* latencies kept for the rolling p95 */
#define ITS_SCHED_BUCKETS 13

/* Histogram upper bounds in seconds (Prometheus `le`), +Inf implied. */
extern const double its_sched_bounds[ITS_SCHED_BUCKETS];

typedef enum { ITS_JOB_WAITING = 0, ITS_JOB_RUNNING, ITS_JOB_ENDED } its_job_state;

struct its_sched_job {
    its_sched *s;
    its_sched_req req;
    int refs;                    /* caller + scheduler (under s->mu) */
    its_job_state state;
    its_sched_outcome outcome;
    int notified;                /* the done callback has returned */
    int requested, profile, degraded;
    double t_submit, t_start, t_end, deadline; /* clock ms; deadline INFINITY when none */
    uint64_t seq;
    size_t heap_pos;
    double predicted_nfe;
    uint64_t fit_nfe;            /* > 0: run the profile's method fitted to this NFE */
    atomic_int cancel;
    atomic_ullong nfe_done;
    its_result *result;
    char key[ITS_SCHED_KEY_CAP]; /* affinity key copy; "" = none */
    char err[256];
};

/* One prepared per-key state in a worker's cache. */
typedef struct its_sched_cached {
    int task;                    /* -1: empty slot */
    char key[ITS_SCHED_KEY_CAP];
    void *state;
    uint64_t used;               /* the worker's tick at the last use (LRU) */
} its_sched_cached;

typedef struct its_sched_worker {
    its_sched *s;
    unsigned index;
    pthread_t thread;
    int started;
    its_ctx *ctx;
    its_sampler *smp[ITS_SCHED_MAX_PROFILES];
    its_model model[ITS_SCHED_MAX_TASKS];
    its_verifier verifier[ITS_SCHED_MAX_TASKS];
    void *inst[ITS_SCHED_MAX_TASKS];
    int bound[ITS_SCHED_MAX_TASKS];
    its_sched_job *job;          /* running job (under s->mu) */
    its_sched_cached *cache;     /* key_cache_cap slots; touched only by the worker's thread */
    uint64_t tick;
} its_sched_worker;

typedef struct its_hist {
    uint64_t bucket[ITS_SCHED_BUCKETS + 1]; /* non-cumulative; last = above every bound */
    uint64_t count;
    double sum_s;
} its_hist;

struct its_sched {
    its_sched_params p;
    char *json[ITS_SCHED_MAX_PROFILES];   /* copies of the profiles' config_json */
    its_ctx *ctx;                         /* the scheduler's own allocations (under mu) */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    its_sched_worker *w;
    unsigned n_workers;

    /* queue: binary heap by (priority desc, deadline asc, seq asc) */
    its_sched_job **heap;
    size_t n_wait;
    size_t n_run;
    size_t n_notify;             /* ended jobs whose done callback has not returned */
    uint64_t seq;
    int paused, closed, quit, freed;
    size_t live_jobs;

    /* governor */
    double cost[ITS_SCHED_MAX_PROFILES];  /* predicted NFE per request (EWMA of completed runs) */
    double fit_min[ITS_SCHED_MAX_PROFILES]; /* least NFE a profile's method can be fitted to */
    double rate;                          /* NFE/s of one worker (EWMA), 0 = unknown */
    int level;
    double last_change, quiet_since, pressure, p95_ms;
    double ring_end[ITS_SCHED_RING], ring_start[ITS_SCHED_RING], ring_lat[ITS_SCHED_RING];
    size_t ring_n, ring_head;

    /* counters */
    uint64_t served[ITS_SCHED_MAX_PROFILES], degraded[ITS_SCHED_MAX_PROFILES],
        shed[ITS_SCHED_MAX_PROFILES];
    uint64_t rejected_full, rejected_closed, cancelled, failed, completed, nfe_total;
    uint64_t cache_hits, cache_misses, cache_evictions;
    uint64_t fitted;                      /* requests run fitted below their profile */
    size_t cache_entries;
    double cache_prepare_s;
    its_hist lat, queue;
};

double its_sched_now(its_sched *s);
/* Re-evaluates the governor at `now` (under mu). */
void its_sched_govern(its_sched *s, double now);
double its_sched_outstanding(its_sched *s); /* under mu */

#endif
