/*
 * Budget-aware request scheduler (DESIGN.md §8): named profiles ordered light -> heavy, a bounded
 * queue (priority bands, earliest deadline first inside a band), a worker pool (one its_ctx per
 * worker), and a load governor that lowers a request's compute when its deadline or the rolling
 * p95 latency would be missed, sheds sheddable requests (negative priority), and raises compute
 * again, with hysteresis, when load falls. Metrics render in Prometheus text format.
 *
 * Dispatch: when a worker takes a request it allots it NFE: what the time left to its deadline,
 * its share of the SLA target and the queue behind it allow at the measured NFE rate, capped by
 * the governor level's NFE; the hinted profile's method is fitted to that NFE with the public
 * cost model (its_cost_fit), and a lighter profile is taken only when the NFE is below the
 * method's minimum (with fit = 0: whole profiles, min(hint, level), stepped down while the
 * predicted service time exceeds the time left to the deadline). A request runs with its remaining deadline as run.deadline_ms, so a search stops
 * at the deadline with the best so far; the lightest profile runs to its end (a late answer
 * beats none), and a search stopped before it scored anything is rerun at the lightest.
 *
 * Every function here is thread-safe. A done callback may submit, cancel and free jobs, but must
 * not call its_sched_wait, its_sched_shutdown or its_sched_free (they wait for callbacks).
 */
#ifndef ITSCALE_SCHED_H
#define ITSCALE_SCHED_H

#include "itscale.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ITS_SCHED_MAX_PROFILES 8
#define ITS_SCHED_MAX_TASKS 8
#define ITS_SCHED_NAME_CAP 32
#define ITS_SCHED_KEY_CAP 64        /* affinity key bytes, the terminating NUL included */

/* A profile: a named sampler configuration. Either config_json (its_sampler_from_json; copied)
 * or method + method_params + run (its_sampler_create; copied at its_sched_create). */
typedef struct its_sched_profile {
    char name[ITS_SCHED_NAME_CAP];
    const char *config_json;     /* NULL: use method / method_params / run */
    its_method method;
    const void *method_params;   /* NULL = defaults */
    const its_run_params *run;   /* NULL = defaults */
    uint64_t nfe;                /* predicted NFE per request; 0 = derived from the config */
} its_sched_profile;

/* A model/verifier pair. bind is called once per worker (index 0..workers-1, inside
 * its_sched_create) with that worker's context, so callbacks that are not thread-safe get one
 * instance per worker; unbind (may be NULL) releases it at its_sched_free. bind returns 0 on
 * success.
 *
 * Per-key state (optional; all three or none): a request may carry an affinity key (the
 * conditioning or prompt id). prepare builds, on worker instance inst, what requests with that
 * key need (a class-conditional set-up, a verifier's preparation for a target) into *state and
 * returns 0; the worker keeps up to key_cache_cap prepared states in an LRU cache. use makes a
 * state current on inst before a run (state NULL: a request without a key); release frees a
 * state the cache evicts, and the rest at its_sched_free. All three run on the worker thread
 * that owns inst. A failing prepare fails the request. */
typedef struct its_sched_task {
    char name[ITS_SCHED_NAME_CAP];
    int (*bind)(void *user, unsigned worker, its_ctx *wctx, its_model *m, its_verifier *v,
                void **inst);
    void (*unbind)(void *user, void *inst);
    void *user;
    int (*prepare)(void *user, void *inst, const char *key, void **state);
    void (*use)(void *user, void *inst, void *state);
    void (*release)(void *user, void *inst, void *state);
} its_sched_task;

/* Milliseconds on any monotonic scale. */
typedef double (*its_clock_fn)(void *user);

#define ITS_SCHED_PARAMS_V2 2     /* tasks with per-key state, key_cache_cap */
typedef struct its_sched_params {
    int version;                     /* ITS_SCHED_PARAMS_V2 */
    unsigned workers;                /* threads; default 2 */
    size_t queue_cap;                /* waiting requests at most; default 64 */
    its_sched_profile profiles[ITS_SCHED_MAX_PROFILES]; /* light -> heavy */
    int n_profiles;
    its_sched_task tasks[ITS_SCHED_MAX_TASKS];
    int n_tasks;
    const its_ctx_params *ctx_params; /* for the scheduler's own contexts; NULL = defaults. The
                                       * allocator must be thread-safe. Each worker's context
                                       * keeps up to 64 MiB of latent blocks between requests
                                       * (its_ctx_set_latent_cache; a task's bind callback gets
                                       * the worker's context and may change that). */
    /* Governor */
    int governor;                    /* 0: run every request at its hint; default 1 */
    double sla_p95_ms;               /* target p95 end-to-end latency; 0 = none; default 0 */
    double nfe_rate_init;            /* NFE/s of one worker before any measurement; default 0
                                      * (unknown: no deadline prediction until a run finishes) */
    double rate_alpha;               /* EWMA weight of a new rate sample; default 0.2 */
    double window_ms;                /* rolling p95 window; default 10000 */
    double down_cooldown_ms;         /* least time between two step-downs; default 500 */
    double up_ratio;                 /* step up only while pressure < up_ratio; default 0.5 */
    double up_hold_ms;               /* ... for this long per step; default 2000 */
    its_clock_fn clock;              /* NULL: CLOCK_MONOTONIC */
    void *clock_user;
    size_t key_cache_cap;            /* prepared per-key states kept per worker; default 8,
                                      * 1 .. 4096 */
    /* Allotment (governor on, NFE rate known): a request gets the NFE that its deadline, its
     * share of sla_target * sla_p95_ms and the queue behind it allow, capped by the governor's
     * level; its profile's method is fitted to that NFE with its_cost_fit when the profile
     * would spend more, and a lighter profile is taken only when the NFE is below the method's
     * minimum. */
    int fit;                         /* 0: whole profiles only (step down); default 1 */
    double sla_target;               /* fraction of the SLA a request's latency aims at;
                                      * default 0.8, (0, 1] */
} its_sched_params;

ITS_API void its_sched_params_init(its_sched_params *p);

/* Fills profiles, sla_p95_ms and queue_cap of p from a document
 * {"profiles": [{"name": "light", "config": {...}, "nfe": 10}, ...], "sla_p95_ms": 500,
 *  "queue_cap": 64, "workers": 2}. The configs are kept as JSON text owned by `store` (a string
 * buffer the caller frees with its_ctx_mem_free(ctx, *store) after its_sched_create). */
ITS_API its_status its_sched_params_from_json(its_ctx *ctx, const char *json, size_t len,
                                              its_sched_params *p, char **store);

typedef struct its_sched its_sched;
typedef struct its_sched_job its_sched_job;

typedef void (*its_sched_done_fn)(void *user, its_sched_job *job);

#define ITS_SCHED_REQ_V1 1
#define ITS_SCHED_REQ_V2 2       /* adds affinity; a V1 request is read up to `user` */
typedef struct its_sched_req {
    int version;                 /* ITS_SCHED_REQ_V2 (its_sched_req_init) or V1 */
    int profile;                 /* hint, index into profiles; -1 = the heaviest; default -1 */
    int priority;                /* higher first; negative = sheddable; default 0 */
    double deadline_ms;          /* from submission, on the scheduler's clock; 0 = none */
    uint64_t seed;
    int task;                    /* index into tasks; default 0 */
    /* Optional overrides of the task (both or neither): must be thread-safe and outlive the job. */
    const its_model *model;
    const its_verifier *verifier;
    /* Called once when the job ends (done, shed, cancelled, failed), on a worker thread or the
     * cancelling thread, with no lock held. The job stays valid until its_sched_job_free. */
    its_sched_done_fn done;
    void *user;
    /* Affinity key (copied at submit; NULL or "" = none; at most ITS_SCHED_KEY_CAP - 1 bytes,
     * longer is ITS_ADMIT_INVALID): selects the task's prepared per-key state. */
    const char *affinity;
} its_sched_req;

ITS_API void its_sched_req_init(its_sched_req *r);

/* Admission: what its_sched_submit did with a request. */
typedef enum its_sched_admit {
    ITS_ADMIT_OK = 0,         /* queued; *job is set */
    ITS_ADMIT_QUEUE_FULL,     /* rejected: queue_cap requests are waiting */
    ITS_ADMIT_CLOSED,         /* rejected: the scheduler is shutting down */
    ITS_ADMIT_INVALID,        /* rejected: a bad argument (profile or task out of range) */
    ITS_ADMIT_NOMEM,          /* rejected: no memory for the job */
    ITS_ADMIT_COUNT_
} its_sched_admit;

/* How a job ended. */
typedef enum its_sched_outcome {
    ITS_OUTCOME_PENDING = 0,  /* waiting or running */
    ITS_OUTCOME_DONE,         /* a result (possibly anytime: stopped at the deadline) */
    ITS_OUTCOME_SHED,         /* dropped by the governor (negative priority only) */
    ITS_OUTCOME_CANCELLED,    /* cancelled; a result is attached when it was running */
    ITS_OUTCOME_FAILED,       /* the run failed: its_sched_job_error says why */
    ITS_OUTCOME_COUNT_
} its_sched_outcome;

ITS_API const char *its_sched_admit_name(its_sched_admit v);
ITS_API its_status its_sched_admit_parse(const char *s, its_sched_admit *out);
ITS_API const char *its_sched_outcome_name(its_sched_outcome v);
ITS_API its_status its_sched_outcome_parse(const char *s, its_sched_outcome *out);

/* Creates the scheduler and starts its workers (each builds its samplers and binds each task).
 * ctx receives the error message; the scheduler keeps its own contexts, made from
 * p->ctx_params. p and everything it points to are copied or used only here. */
ITS_API its_status its_sched_create(its_ctx *ctx, const its_sched_params *p, its_sched **out);
/* Shuts down (cancelling what is left), joins the workers and releases the scheduler. Jobs not
 * yet freed stay valid; the last its_sched_job_free releases what they share. NULL: no-op. */
ITS_API void its_sched_free(its_sched *s);

/* Index of the profile named `name`, -1 when there is none. */
ITS_API int its_sched_profile_index(const its_sched *s, const char *name);
ITS_API const char *its_sched_profile_name(const its_sched *s, int i); /* NULL when out of range */
ITS_API int its_sched_profile_count(const its_sched *s);
ITS_API int its_sched_task_index(const its_sched *s, const char *name);

/* Queues a request. On ITS_ADMIT_OK *job is a handle the caller releases with
 * its_sched_job_free; otherwise *job is NULL and req->done is not called. */
ITS_API its_sched_admit its_sched_submit(its_sched *s, const its_sched_req *req,
                                         its_sched_job **job);

/* Cancels a job: a waiting one ends at once (CANCELLED, done called here); a running one stops at
 * its next model call with the best so far. Returns 1 when the job was still pending. */
ITS_API int its_sched_cancel(its_sched_job *job);

/* Blocks until the job has ended and its done callback has returned, or timeout_ms (real time;
 * < 0 = forever) passes; returns the outcome (PENDING on timeout). Not from the job's own done
 * callback. */
ITS_API its_sched_outcome its_sched_wait(its_sched_job *job, double timeout_ms);

/* Releases the caller's handle; a pending job is cancelled first. NULL: no-op. */
ITS_API void its_sched_job_free(its_sched_job *job);

/* Job facts; valid once the job has ended (done callback or wait). */
ITS_API its_sched_outcome its_sched_job_outcome(its_sched_job *job);
ITS_API its_result *its_sched_job_result(its_sched_job *job);  /* owned by the job; may be NULL */
ITS_API int its_sched_job_profile(its_sched_job *job);  /* profile used; -1 when none ran */
ITS_API int its_sched_job_requested(its_sched_job *job); /* the resolved hint */
ITS_API int its_sched_job_degraded(its_sched_job *job);  /* 1: ran lighter than the hint */
/* The NFE cap the profile's method was fitted to (its_cost_fit), 0 when it ran as configured. */
ITS_API uint64_t its_sched_job_nfe_budget(its_sched_job *job);
ITS_API const char *its_sched_job_error(its_sched_job *job); /* why it failed or was shed; "" */
ITS_API double its_sched_job_queue_ms(its_sched_job *job);
ITS_API double its_sched_job_latency_ms(its_sched_job *job); /* submission to end */

/* Stops or restarts dispatching (queued requests wait; running ones go on). */
ITS_API void its_sched_pause(its_sched *s, int paused);

typedef enum its_sched_stop_mode {
    ITS_SCHED_DRAIN = 0,      /* run everything already queued, then stop */
    ITS_SCHED_CANCEL          /* cancel waiting and running jobs */
} its_sched_stop_mode;

/* Refuses new requests (ITS_ADMIT_CLOSED) and winds down; returns 1 once no job is waiting,
 * running or in its done callback, or 0 after timeout_ms real time (< 0 = forever) with work
 * still in flight. Not from a done callback. */
ITS_API int its_sched_shutdown(its_sched *s, its_sched_stop_mode mode, double timeout_ms);

typedef struct its_sched_stats {
    size_t waiting, running;
    double outstanding_nfe;       /* predicted NFE of waiting and running requests */
    int level;                    /* governor: heaviest profile allowed now */
    double nfe_rate;              /* measured NFE/s of one worker (EWMA) */
    double p95_ms;                /* rolling p95 end-to-end latency; 0 when none in the window */
    double pressure;              /* max(p95, predicted queue wait) / SLA */
    uint64_t served[ITS_SCHED_MAX_PROFILES]; /* done, by profile used */
    uint64_t degraded, shed, rejected, cancelled, failed, completed, nfe_total;
} its_sched_stats;

/* Re-evaluates the governor at the clock's current time and copies the counters. */
ITS_API void its_sched_stats_get(its_sched *s, its_sched_stats *st);

/* Renders the metrics in Prometheus text exposition format (0.0.4) into buf (cap bytes, always
 * NUL-terminated when cap > 0); returns the length the full text needs (as snprintf). */
ITS_API size_t its_sched_metrics(its_sched *s, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* ITSCALE_SCHED_H */
