/* The scheduler: bounded priority/EDF queue, worker pool (one context per worker), job life
 * cycle, and the load governor (DESIGN.md §8). One mutex guards the queue, the governor and the
 * counters; runs happen outside it. */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "samplers/sampler.h"
#include "sched/sched_internal.h"

const double its_sched_bounds[ITS_SCHED_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                    1.0,   2.5,  5.0,   10.0, 30.0, 60.0};

void its_sched_params_init(its_sched_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof(*p));
    p->version = ITS_SCHED_PARAMS_V2;
    p->workers = 2;
    p->queue_cap = 64;
    p->governor = 1;
    p->sla_p95_ms = 0;
    p->nfe_rate_init = 0;
    p->rate_alpha = 0.2;
    p->window_ms = 10000;
    p->down_cooldown_ms = 500;
    p->up_ratio = 0.5;
    p->up_hold_ms = 2000;
    p->key_cache_cap = 8;
    p->fit = 1;
    p->sla_target = 0.8;
}

void its_sched_req_init(its_sched_req *r)
{
    if (!r)
        return;
    memset(r, 0, sizeof(*r));
    r->version = ITS_SCHED_REQ_V2;
    r->profile = -1;
}

double its_sched_now(its_sched *s)
{
    if (s->p.clock)
        return s->p.clock(s->p.clock_user);
    return its_now() * 1e3;
}

/* ------------------------------------------------------------------------------------------
 * queue: binary heap, priority bands first, earliest deadline first inside a band
 * ---------------------------------------------------------------------------------------- */
static int its_job_before(const its_sched_job *a, const its_sched_job *b)
{
    if (a->req.priority != b->req.priority)
        return a->req.priority > b->req.priority;
    if (a->deadline != b->deadline)
        return a->deadline < b->deadline;
    return a->seq < b->seq;
}

static void its_heap_set(its_sched *s, size_t i, its_sched_job *j)
{
    s->heap[i] = j;
    j->heap_pos = i;
}

static void its_heap_up(its_sched *s, size_t i)
{
    its_sched_job *j = s->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!its_job_before(j, s->heap[parent]))
            break;
        its_heap_set(s, i, s->heap[parent]);
        i = parent;
    }
    its_heap_set(s, i, j);
}

static void its_heap_down(its_sched *s, size_t i)
{
    its_sched_job *j = s->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->n_wait)
            break;
        if (c + 1 < s->n_wait && its_job_before(s->heap[c + 1], s->heap[c]))
            c++;
        if (!its_job_before(s->heap[c], j))
            break;
        its_heap_set(s, i, s->heap[c]);
        i = c;
    }
    its_heap_set(s, i, j);
}

static void its_heap_remove(its_sched *s, size_t i)
{
    s->n_wait--;
    if (i == s->n_wait)
        return;
    its_sched_job *moved = s->heap[s->n_wait];
    its_heap_set(s, i, moved);
    its_heap_down(s, i);
    its_heap_up(s, moved->heap_pos);
}

/* ------------------------------------------------------------------------------------------
 * governor
 * ---------------------------------------------------------------------------------------- */
static int its_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* p95 of the latencies that ended inside the window and started at or after the governor's
 * last change: older ones describe a level that no longer holds. */
static double its_sched_p95(its_sched *s, double now)
{
    double v[ITS_SCHED_RING];
    size_t n = 0;
    for (size_t i = 0; i < s->ring_n; i++) {
        if (s->ring_end[i] > now - s->p.window_ms && s->ring_start[i] >= s->last_change)
            v[n++] = s->ring_lat[i];
    }
    if (n == 0)
        return 0;
    qsort(v, n, sizeof(double), its_cmp_double);
    size_t k = (size_t)ceil(0.95 * (double)n); /* nearest-rank percentile */
    return v[k ? k - 1 : 0];
}

double its_sched_outstanding(its_sched *s)
{
    double sum = 0;
    for (size_t i = 0; i < s->n_wait; i++)
        sum += s->heap[i]->predicted_nfe;
    for (unsigned k = 0; k < s->n_workers; k++) {
        its_sched_job *j = s->w[k].job;
        if (j) {
            double left = j->predicted_nfe - (double)atomic_load(&j->nfe_done);
            sum += left > 0 ? left : 0;
        }
    }
    return sum;
}

/* Milliseconds one worker needs for `nfe` at the measured rate (0 when the rate is unknown). */
static double its_sched_service_ms(const its_sched *s, double nfe)
{
    return s->rate > 0 ? 1e3 * nfe / s->rate : 0;
}

void its_sched_govern(its_sched *s, double now)
{
    int top = s->p.n_profiles - 1;
    s->p95_ms = its_sched_p95(s, now);
    double pr = 0;
    if (s->p.sla_p95_ms > 0) {
        double wait = its_sched_service_ms(s, its_sched_outstanding(s)) / (double)s->n_workers;
        pr = fmax(s->p95_ms, wait) / s->p.sla_p95_ms;
    }
    s->pressure = pr;
    if (!s->p.governor)
        return;
    if (pr > 1) {
        s->quiet_since = -1;
        if (s->level > 0 && now - s->last_change >= s->p.down_cooldown_ms) {
            s->level--;
            s->last_change = now;
        }
    } else if (pr < s->p.up_ratio) {
        /* hysteresis: a full quiet hold per step up, and none right after a change */
        if (s->quiet_since < 0)
            s->quiet_since = now;
        if (s->level < top && now - s->quiet_since >= s->p.up_hold_ms &&
            now - s->last_change >= s->p.up_hold_ms) {
            s->level++;
            s->last_change = now;
            s->quiet_since = now;
        }
    } else {
        s->quiet_since = -1;
    }
}

/* Chooses the profile of a job leaving the queue (under mu); -1 with *why set when the job is
 * shed (negative priority only). */
/* The NFE a job leaving the queue may spend (under mu; INFINITY when nothing limits it): the
 * time left to its deadline; its share of the SLA target, from submission; and the share that
 * lets the jobs waiting behind it finish within the target too (W workers, q waiting: each may
 * take W * target / (q + W)); at the measured rate, and at most the governor level's NFE. */
static double its_sched_allot(its_sched *s, const its_sched_job *j, double now)
{
    double ms = INFINITY;
    if (j->deadline < INFINITY)
        ms = j->deadline - now;
    if (s->p.sla_p95_ms > 0) {
        double target = s->p.sla_target * s->p.sla_p95_ms, w = (double)s->n_workers;
        ms = fmin(ms, target - (now - j->t_submit));
        ms = fmin(ms, w * target / ((double)s->n_wait + w));
    }
    double nfe = ms < INFINITY ? fmax(ms, 0) * 1e-3 * s->rate : INFINITY;
    return fmin(nfe, s->cost[s->level]);
}

static int its_sched_choose(its_sched *s, its_sched_job *j, double now, const char **why)
{
    int want = j->requested;
    *why = NULL;
    j->fit_nfe = 0;
    if (!s->p.governor)
        return want;
    if (s->p.fit && s->rate > 0) {
        /* the hinted method, fitted to the allotment; lighter profiles only below its minimum */
        double nfe = its_sched_allot(s, j, now);
        while (want > 0 && nfe < s->cost[want] && nfe < s->fit_min[want])
            want--;
        if (want > 0 && nfe < s->cost[want])
            j->fit_nfe = (uint64_t)floor(nfe);
        if (j->req.priority < 0) {
            double left = j->deadline - now;
            if (j->deadline < INFINITY && its_sched_service_ms(s, s->cost[0]) > left) {
                *why = left > 0 ? "would miss its deadline at the lightest profile"
                                : "its deadline passed while it waited";
                return -1;
            }
            if (s->level == 0 && s->pressure > 1) {
                *why = "p95 latency over the SLA at the lightest profile";
                return -1;
            }
        }
        return want;
    }
    if (want > s->level)
        want = s->level;
    if (j->deadline < INFINITY && s->rate > 0) {
        double left = j->deadline - now;
        while (want > 0 && its_sched_service_ms(s, s->cost[want]) > left)
            want--;
        if (j->req.priority < 0 && its_sched_service_ms(s, s->cost[0]) > left) {
            *why = "would miss its deadline at the lightest profile";
            return -1;
        }
    } else if (j->deadline < INFINITY && j->deadline <= now && j->req.priority < 0) {
        *why = "its deadline passed while it waited";
        return -1;
    }
    if (j->req.priority < 0 && s->level == 0 && s->pressure > 1) {
        *why = "p95 latency over the SLA at the lightest profile";
        return -1;
    }
    return want;
}

/* ------------------------------------------------------------------------------------------
 * job life cycle
 * ---------------------------------------------------------------------------------------- */
static void its_hist_add(its_hist *h, double sec)
{
    size_t b = 0;
    while (b < ITS_SCHED_BUCKETS && sec > its_sched_bounds[b])
        b++;
    h->bucket[b]++;
    h->count++;
    h->sum_s += sec;
}

static void its_sched_destroy(its_sched *s);

/* Drops one reference (under mu); returns 1 when the scheduler itself must now be destroyed. */
static int its_job_unref_locked(its_sched_job *j)
{
    its_sched *s = j->s;
    if (--j->refs > 0)
        return 0;
    its_result_free(j->result);
    its_mfree(s->ctx, j);
    s->live_jobs--;
    return s->freed && s->live_jobs == 0;
}

/* Marks a job ended (under mu). The caller then calls its_job_notify without the lock. */
static void its_job_end_locked(its_sched *s, its_sched_job *j, its_sched_outcome o, double now)
{
    j->state = ITS_JOB_ENDED;
    j->outcome = o;
    j->t_end = now;
    s->n_notify++;
    if (o == ITS_OUTCOME_DONE) {
        s->completed++;
        if (j->profile >= 0)
            s->served[j->profile]++;
        if (j->degraded)
            s->degraded[j->requested]++;
    } else if (o == ITS_OUTCOME_SHED) {
        s->shed[j->requested]++;
    } else if (o == ITS_OUTCOME_CANCELLED) {
        s->cancelled++;
    } else if (o == ITS_OUTCOME_FAILED) {
        s->failed++;
    }
    if (o == ITS_OUTCOME_DONE || o == ITS_OUTCOME_FAILED) {
        double lat = j->t_end - j->t_submit;
        size_t i = s->ring_head;
        s->ring_end[i] = j->t_end;
        s->ring_start[i] = j->t_start;
        s->ring_lat[i] = lat;
        s->ring_head = (i + 1) % ITS_SCHED_RING;
        if (s->ring_n < ITS_SCHED_RING)
            s->ring_n++;
        its_hist_add(&s->lat, lat * 1e-3);
    }
    pthread_cond_broadcast(&s->cv_done);
}

/* Runs the done callback (no lock held), then drops the scheduler's reference. */
static void its_job_notify(its_sched_job *j)
{
    its_sched *s = j->s;
    if (j->req.done)
        j->req.done(j->req.user, j);
    pthread_mutex_lock(&s->mu);
    j->notified = 1;
    s->n_notify--;
    pthread_cond_broadcast(&s->cv_done);
    int last = its_job_unref_locked(j);
    pthread_mutex_unlock(&s->mu);
    if (last)
        its_sched_destroy(s);
}

static int its_sched_progress(void *user, const its_progress *p)
{
    its_sched_job *j = user;
    atomic_store(&j->nfe_done, (unsigned long long)p->nfe);
    return atomic_load(&j->cancel) != 0;
}

/* The profile's method fitted to nfe (its_cost_fit on copies of its parameters and run), as a
 * sampler of the worker's own; NULL when the fit or the creation fails (the job then runs the
 * profile as configured). */
static its_sampler *its_worker_fitted(its_sched_worker *w, const its_sampler *base, uint64_t nfe)
{
    its_sampler *out = NULL;
    void *params = its_malloc(w->ctx, base->vt->params_size);
    if (!params)
        return NULL;
    memcpy(params, base->params, base->vt->params_size);
    its_run_params run = base->run;
    run.progress = NULL;
    run.progress_user = NULL;
    if (its_cost_fit(w->ctx, base->vt->method, params, &run, nfe) == ITS_OK)
        its_sampler_create(w->ctx, base->vt->method, params, &run, &out);
    its_mfree(w->ctx, params);
    return out;
}

/* One run outside the lock: the chosen profile (fitted to the job's NFE allotment when it has
 * one) with the remaining deadline (anytime), and a light rerun without a deadline when a
 * deadline-stopped search had nothing to return. */
static its_status its_worker_run(its_sched_worker *w, its_sched_job *j, double now)
{
    its_sched *s = w->s;
    const its_model *m = j->req.model ? j->req.model : &w->model[j->req.task];
    const its_verifier *v = j->req.model ? j->req.verifier : &w->verifier[j->req.task];
    its_sampler *fitted = NULL;
    if (j->fit_nfe > 0 && !(fitted = its_worker_fitted(w, w->smp[j->profile], j->fit_nfe)))
        j->fit_nfe = 0;
    for (;;) {
        its_sampler *smp = fitted ? fitted : w->smp[j->profile];
        /* the lightest profile is the floor: a late answer beats none */
        double left = j->deadline - now;
        its_gen_options opt;
        its_gen_options_init(&opt);
        opt.deadline_ms = (j->deadline < INFINITY && j->profile > 0) ? fmax(left, 1e-3) : 0;
        opt.progress = its_sched_progress;
        opt.progress_user = j;
        its_status st = its_generate_opts(smp, m, v, j->req.seed, &opt, &j->result);
        if (st == ITS_OK || st == ITS_CANCELLED) {
            its_sampler_free(fitted);
            return st;
        }
        if (j->profile > 0 && st == ITS_ERR_BUDGET && opt.deadline_ms > 0 &&
            !atomic_load(&j->cancel)) {
            its_sampler_free(fitted);
            fitted = NULL;
            j->fit_nfe = 0;
            j->profile = 0;
            j->degraded = 1;
            now = its_sched_now(s);
            continue;
        }
        snprintf(j->err, sizeof(j->err), "%s: %s", its_status_str(st), its_ctx_errmsg(w->ctx));
        its_sampler_free(fitted);
        return st;
    }
}

/* What a job did to its worker's key cache (added to the counters under the lock). */
typedef struct its_key_use {
    int hit, miss, evicted, added;
    double prepare_s;
} its_key_use;

/* Makes the job's per-key state current on the worker's task instance (no lock held: the cache
 * is the worker's own). Returns 0, or -1 with j->err set when prepare failed. */
static int its_worker_key(its_sched_worker *w, its_sched_job *j, its_key_use *u)
{
    its_sched *s = w->s;
    int t = j->req.task;
    const its_sched_task *task = &s->p.tasks[t];
    if (!task->prepare || j->req.model)
        return 0;
    if (!j->key[0]) {
        task->use(task->user, w->inst[t], NULL);
        return 0;
    }
    its_sched_cached *slot = NULL, *lru = NULL;
    for (size_t i = 0; i < s->p.key_cache_cap; i++) {
        its_sched_cached *e = &w->cache[i];
        if (e->task == t && strcmp(e->key, j->key) == 0) {
            slot = e;
            break;
        }
        if (!lru || (lru->task >= 0 && (e->task < 0 || e->used < lru->used)))
            lru = e;
    }
    if (slot) {
        u->hit = 1;
    } else {
        u->miss = 1;
        slot = lru;
        if (slot->task >= 0) {
            const its_sched_task *old = &s->p.tasks[slot->task];
            old->release(old->user, w->inst[slot->task], slot->state);
            slot->task = -1;
            u->evicted = 1;
        } else {
            u->added = 1;
        }
        double t0 = its_now();
        void *state = NULL;
        int rc = task->prepare(task->user, w->inst[t], j->key, &state);
        u->prepare_s = its_now() - t0;
        if (rc != 0) {
            u->added -= 1; /* the slot stays empty */
            snprintf(j->err, sizeof(j->err), "task \"%s\": prepare failed for affinity key \"%s\"",
                     task->name, j->key);
            return -1;
        }
        slot->task = t;
        memcpy(slot->key, j->key, sizeof(slot->key));
        slot->state = state;
    }
    slot->used = ++w->tick;
    task->use(task->user, w->inst[t], slot->state);
    return 0;
}

static void *its_worker_main(void *arg)
{
    its_sched_worker *w = arg;
    its_sched *s = w->s;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->quit && (s->paused || s->n_wait == 0))
            pthread_cond_wait(&s->cv_work, &s->mu);
        if (s->quit && (s->paused || s->n_wait == 0))
            break;
        its_sched_job *j = s->heap[0];
        its_heap_remove(s, 0);
        double now = its_sched_now(s);
        its_sched_govern(s, now);
        j->t_start = now;
        its_hist_add(&s->queue, (now - j->t_submit) * 1e-3);
        const char *why;
        int prof = its_sched_choose(s, j, now, &why);
        if (prof < 0) {
            snprintf(j->err, sizeof(j->err), "shed: %s", why);
            its_job_end_locked(s, j, ITS_OUTCOME_SHED, now);
            pthread_mutex_unlock(&s->mu);
            its_job_notify(j);
            pthread_mutex_lock(&s->mu);
            continue;
        }
        j->profile = prof;
        j->degraded = prof < j->requested || j->fit_nfe > 0;
        j->predicted_nfe = j->fit_nfe > 0 ? (double)j->fit_nfe : s->cost[prof];
        s->fitted += j->fit_nfe > 0;
        j->state = ITS_JOB_RUNNING;
        w->job = j;
        s->n_run++;
        pthread_mutex_unlock(&s->mu);

        its_key_use ku = {0, 0, 0, 0, 0};
        its_status st = its_worker_key(w, j, &ku) == 0 ? its_worker_run(w, j, now)
                                                        : ITS_ERR_CALLBACK;
        double end = its_sched_now(s);

        pthread_mutex_lock(&s->mu);
        w->job = NULL;
        s->n_run--;
        s->cache_hits += (uint64_t)ku.hit;
        s->cache_misses += (uint64_t)ku.miss;
        s->cache_evictions += (uint64_t)ku.evicted;
        s->cache_entries = (size_t)((long)s->cache_entries + ku.added);
        s->cache_prepare_s += ku.prepare_s;
        its_sched_outcome o = ITS_OUTCOME_FAILED;
        if (st == ITS_OK)
            o = ITS_OUTCOME_DONE;
        else if (st == ITS_CANCELLED)
            o = ITS_OUTCOME_CANCELLED;
        if (j->result) {
            its_usage u;
            its_result_usage(j->result, &u);
            s->nfe_total += u.nfe;
            double dt = end - now;
            if (u.nfe > 0 && dt > 0) {
                double inst = 1e3 * (double)u.nfe / dt;
                s->rate = s->rate > 0 ? s->rate + s->p.rate_alpha * (inst - s->rate) : inst;
            }
            /* only runs that were not cut short say what the profile costs */
            its_stop stop = its_result_stop(j->result);
            if (u.nfe > 0 && j->fit_nfe == 0 &&
                (stop == ITS_STOP_COMPLETED || stop == ITS_STOP_NFE_CAP))
                s->cost[j->profile] += s->p.rate_alpha * ((double)u.nfe - s->cost[j->profile]);
        }
        its_job_end_locked(s, j, o, end);
        its_sched_govern(s, end);
        pthread_mutex_unlock(&s->mu);
        its_job_notify(j);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * creation
 * ---------------------------------------------------------------------------------------- */
/* The NFE a profile is expected to spend, before any run has been measured. */
static its_status its_profile_prior(its_sampler *smp, uint64_t declared, double *out)
{
    if (declared) {
        *out = (double)declared;
        return ITS_OK;
    }
    /* the method's own plan (the same cost model the engine fits with) */
    its_cost c;
    its_status st = its_sampler_cost(smp, &c);
    if (st == ITS_ERR_NOMEM)
        return st;
    *out = (double)(st == ITS_OK && c.planned ? c.planned : c.trajectory);
    return ITS_OK;
}

/* p: the caller's parameters (the profiles' params and run pointers are only valid here). */
static its_status its_worker_setup(its_sched *s, const its_sched_params *p, its_ctx *ctx,
                                   its_sched_worker *w)
{
    if (its_ctx_create(p->ctx_params, &w->ctx) != ITS_OK)
        return its_error(ctx, ITS_ERR_NOMEM, "sched: cannot create the context of worker %u",
                         w->index);
    for (int i = 0; i < p->n_profiles; i++) {
        const its_sched_profile *pr = &p->profiles[i];
        its_status st = s->json[i]
                            ? its_sampler_from_json(w->ctx, s->json[i], strlen(s->json[i]), &w->smp[i])
                            : its_sampler_create(w->ctx, pr->method, pr->method_params, pr->run,
                                                 &w->smp[i]);
        if (st != ITS_OK)
            return its_error(ctx, st == ITS_ERR_NOMEM ? st : ITS_ERR_CONFIG,
                             "sched: profile \"%s\": %s", pr->name, its_ctx_errmsg(w->ctx));
    }
    if (!(w->cache = its_calloc(s->ctx, p->key_cache_cap, sizeof(*w->cache))))
        return its_error(ctx, ITS_ERR_NOMEM, "sched: out of memory for worker %u's key cache",
                         w->index);
    for (size_t i = 0; i < p->key_cache_cap; i++)
        w->cache[i].task = -1;
    for (int k = 0; k < p->n_tasks; k++) {
        const its_sched_task *t = &p->tasks[k];
        if (t->bind(t->user, w->index, w->ctx, &w->model[k], &w->verifier[k], &w->inst[k]) != 0)
            return its_error(ctx, ITS_ERR_CALLBACK, "sched: task \"%s\": bind failed for worker %u",
                             t->name, w->index);
        w->bound[k] = 1;
    }
    return ITS_OK;
}

static its_status its_sched_check(its_ctx *ctx, const its_sched_params *p)
{
    if (!p || p->version != ITS_SCHED_PARAMS_V2)
        return its_error(ctx, ITS_ERR_INVALID, "sched: params missing or of another version");
    if (p->workers < 1 || p->workers > 256)
        return its_error(ctx, ITS_ERR_INVALID, "sched.workers: expected 1 .. 256, got %u",
                         p->workers);
    if (p->queue_cap < 1 || p->queue_cap > (1u << 20))
        return its_error(ctx, ITS_ERR_INVALID, "sched.queue_cap: expected 1 .. 1048576, got %zu",
                         p->queue_cap);
    if (p->n_profiles < 1 || p->n_profiles > ITS_SCHED_MAX_PROFILES)
        return its_error(ctx, ITS_ERR_INVALID, "sched.profiles: expected 1 .. %d, got %d",
                         ITS_SCHED_MAX_PROFILES, p->n_profiles);
    if (p->n_tasks < 1 || p->n_tasks > ITS_SCHED_MAX_TASKS)
        return its_error(ctx, ITS_ERR_INVALID, "sched.tasks: expected 1 .. %d, got %d",
                         ITS_SCHED_MAX_TASKS, p->n_tasks);
    for (int i = 0; i < p->n_profiles; i++) {
        const char *n = p->profiles[i].name;
        if (!n[0] || memchr(n, 0, ITS_SCHED_NAME_CAP) == NULL || strpbrk(n, "\"\\\n"))
            return its_error(ctx, ITS_ERR_INVALID,
                             "sched.profiles[%d].name: expected 1 .. %d plain characters", i,
                             ITS_SCHED_NAME_CAP - 1);
        for (int k = 0; k < i; k++)
            if (strcmp(p->profiles[k].name, n) == 0)
                return its_error(ctx, ITS_ERR_INVALID, "sched.profiles[%d].name: \"%s\" repeats",
                                 i, n);
    }
    for (int k = 0; k < p->n_tasks; k++) {
        const its_sched_task *t = &p->tasks[k];
        if (!t->bind || memchr(t->name, 0, ITS_SCHED_NAME_CAP) == NULL)
            return its_error(ctx, ITS_ERR_INVALID, "sched.tasks[%d]: bind is NULL or name too long",
                             k);
        int hooks = (t->prepare != NULL) + (t->use != NULL) + (t->release != NULL);
        if (hooks != 0 && hooks != 3)
            return its_error(ctx, ITS_ERR_INVALID,
                             "sched.tasks[%d]: prepare, use and release go together (%d of 3 set)",
                             k, hooks);
    }
    if (p->key_cache_cap < 1 || p->key_cache_cap > 4096)
        return its_error(ctx, ITS_ERR_INVALID, "sched.key_cache_cap: expected 1 .. 4096, got %zu",
                         p->key_cache_cap);
    if (!(p->sla_p95_ms >= 0) || !(p->nfe_rate_init >= 0) ||
        !(p->rate_alpha > 0 && p->rate_alpha <= 1) || !(p->window_ms > 0) ||
        !(p->down_cooldown_ms >= 0) || !(p->up_ratio > 0 && p->up_ratio <= 1) ||
        !(p->up_hold_ms >= 0) || !(p->sla_target > 0 && p->sla_target <= 1))
        return its_error(ctx, ITS_ERR_INVALID,
                         "sched: governor settings out of range (sla_p95_ms, nfe_rate_init >= 0; "
                         "rate_alpha, up_ratio, sla_target in (0, 1]; window_ms > 0; cooldown, "
                         "hold >= 0)");
    return ITS_OK;
}

static void its_sched_destroy(its_sched *s)
{
    for (unsigned i = 0; s->w && i < s->n_workers; i++)
        its_ctx_free(s->w[i].ctx);
    its_ctx *ctx = s->ctx;
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv_work);
    pthread_cond_destroy(&s->cv_done);
    for (unsigned i = 0; s->w && i < s->n_workers; i++)
        its_mfree(ctx, s->w[i].cache);
    its_mfree(ctx, s->w);
    its_mfree(ctx, s->heap);
    for (int i = 0; i < ITS_SCHED_MAX_PROFILES; i++)
        its_mfree(ctx, s->json[i]);
    its_mfree(ctx, s);
    its_ctx_free(ctx);
}

/* Joins the workers and releases what only they use (samplers, task instances). */
static void its_sched_stop_workers(its_sched *s)
{
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_cond_broadcast(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
    for (unsigned i = 0; i < s->n_workers; i++) {
        its_sched_worker *w = &s->w[i];
        if (w->started)
            pthread_join(w->thread, NULL);
        w->started = 0;
        for (size_t c = 0; w->cache && c < s->p.key_cache_cap; c++) {
            its_sched_cached *e = &w->cache[c];
            if (e->task >= 0 && w->bound[e->task])
                s->p.tasks[e->task].release(s->p.tasks[e->task].user, w->inst[e->task], e->state);
            e->task = -1;
        }
        for (int k = 0; k < s->p.n_tasks; k++) {
            if (w->bound[k] && s->p.tasks[k].unbind)
                s->p.tasks[k].unbind(s->p.tasks[k].user, w->inst[k]);
            w->bound[k] = 0;
        }
        for (int k = 0; k < s->p.n_profiles; k++) {
            its_sampler_free(w->smp[k]);
            w->smp[k] = NULL;
        }
    }
}

its_status its_sched_create(its_ctx *ctx, const its_sched_params *p, its_sched **out)
{
    if (!out)
        return its_error(ctx, ITS_ERR_INVALID, "sched: out is NULL");
    *out = NULL;
    ITS_TRY(its_sched_check(ctx, p));
    its_ctx *own = NULL;
    its_status cst = its_ctx_create(p->ctx_params, &own);
    if (cst != ITS_OK)
        return its_error(ctx, cst == ITS_ERR_NOMEM ? ITS_ERR_NOMEM : ITS_ERR_INVALID,
                         cst == ITS_ERR_NOMEM ? "sched: out of memory creating its context"
                                              : "sched: ctx_params rejected by its_ctx_create");
    its_sched *s = its_calloc(own, 1, sizeof(*s));
    if (!s) {
        its_ctx_free(own);
        return its_error(ctx, ITS_ERR_NOMEM, "sched: out of memory");
    }
    s->ctx = own;
    s->p = *p;
    s->n_workers = p->workers;
    s->level = p->n_profiles - 1;
    s->quiet_since = -1;
    s->rate = p->nfe_rate_init;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv_work, &ca);
    pthread_cond_init(&s->cv_done, &ca);
    pthread_condattr_destroy(&ca);
    s->last_change = its_sched_now(s);

    its_status st = ITS_ERR_NOMEM;
    if (!(s->heap = its_calloc(own, p->queue_cap, sizeof(*s->heap))) ||
        !(s->w = its_calloc(own, p->workers, sizeof(*s->w))))
        goto fail;
    for (int i = 0; i < p->n_profiles; i++) {
        s->p.profiles[i].config_json = NULL;
        s->p.profiles[i].method_params = NULL;
        s->p.profiles[i].run = NULL;
        if (p->profiles[i].config_json && !(s->json[i] = its_strdup(own, p->profiles[i].config_json)))
            goto fail;
    }
    for (unsigned i = 0; i < p->workers; i++) {
        s->w[i].s = s;
        s->w[i].index = i;
        if ((st = its_worker_setup(s, p, ctx, &s->w[i])) != ITS_OK)
            goto fail;
    }
    for (int i = 0; i < p->n_profiles; i++) {
        if (its_profile_prior(s->w[0].smp[i], p->profiles[i].nfe, &s->cost[i]) != ITS_OK) {
            st = its_error(ctx, ITS_ERR_NOMEM, "sched: out of memory planning profile %d", i);
            goto fail;
        }
        /* the least NFE the method can be fitted to: its minimum, and one trajectory */
        its_cost c;
        its_status cs = its_sampler_cost(s->w[0].smp[i], &c);
        if (cs == ITS_ERR_NOMEM) {
            st = ITS_ERR_NOMEM;
            goto fail;
        }
        s->fit_min[i] = cs != ITS_OK ? INFINITY
                        : (double)(c.minimum > c.trajectory ? c.minimum : c.trajectory);
    }
    for (unsigned i = 0; i < p->workers; i++) {
        if (pthread_create(&s->w[i].thread, NULL, its_worker_main, &s->w[i]) != 0) {
            st = its_error(ctx, ITS_ERR_NOMEM, "sched: cannot start worker thread %u", i);
            goto fail;
        }
        s->w[i].started = 1;
    }
    s->p.ctx_params = NULL; /* the caller's; only create reads it */
    *out = s;
    return ITS_OK;
fail:
    if (st == ITS_ERR_NOMEM && its_ctx_errcode(ctx) != ITS_ERR_NOMEM)
        its_error(ctx, ITS_ERR_NOMEM, "sched: out of memory");
    if (s->w)
        its_sched_stop_workers(s);
    its_sched_destroy(s);
    return st;
}

/* ------------------------------------------------------------------------------------------
 * requests
 * ---------------------------------------------------------------------------------------- */
int its_sched_profile_index(const its_sched *s, const char *name)
{
    if (!s || !name)
        return -1;
    for (int i = 0; i < s->p.n_profiles; i++)
        if (strcmp(s->p.profiles[i].name, name) == 0)
            return i;
    return -1;
}

const char *its_sched_profile_name(const its_sched *s, int i)
{
    return (s && i >= 0 && i < s->p.n_profiles) ? s->p.profiles[i].name : NULL;
}

int its_sched_profile_count(const its_sched *s)
{
    return s ? s->p.n_profiles : 0;
}

int its_sched_task_index(const its_sched *s, const char *name)
{
    if (!s || !name)
        return -1;
    for (int i = 0; i < s->p.n_tasks; i++)
        if (strcmp(s->p.tasks[i].name, name) == 0)
            return i;
    return -1;
}

its_sched_admit its_sched_submit(its_sched *s, const its_sched_req *req, its_sched_job **job)
{
    if (!job)
        return ITS_ADMIT_INVALID;
    *job = NULL;
    if (!s || !req || (req->version != ITS_SCHED_REQ_V1 && req->version != ITS_SCHED_REQ_V2))
        return ITS_ADMIT_INVALID;
    /* a V1 request ends before `affinity`: read only what the host wrote */
    its_sched_req rq;
    memset(&rq, 0, sizeof(rq));
    memcpy(&rq, req, req->version == ITS_SCHED_REQ_V1 ? offsetof(its_sched_req, affinity)
                                                       : sizeof(rq));
    req = &rq;
    if (req->affinity && strlen(req->affinity) >= ITS_SCHED_KEY_CAP)
        return ITS_ADMIT_INVALID;
    if (req->profile < -1 ||
        req->profile >= s->p.n_profiles || req->task < 0 || req->task >= s->p.n_tasks ||
        !(req->deadline_ms >= 0) || (req->model == NULL) != (req->verifier == NULL))
        return ITS_ADMIT_INVALID;
    pthread_mutex_lock(&s->mu);
    if (s->closed) {
        s->rejected_closed++;
        pthread_mutex_unlock(&s->mu);
        return ITS_ADMIT_CLOSED;
    }
    if (s->n_wait >= s->p.queue_cap) {
        s->rejected_full++;
        pthread_mutex_unlock(&s->mu);
        return ITS_ADMIT_QUEUE_FULL;
    }
    its_sched_job *j = its_calloc(s->ctx, 1, sizeof(*j));
    if (!j) {
        pthread_mutex_unlock(&s->mu);
        return ITS_ADMIT_NOMEM;
    }
    double now = its_sched_now(s);
    j->s = s;
    j->req = *req;
    if (req->affinity)
        memcpy(j->key, req->affinity, strlen(req->affinity) + 1);
    j->req.affinity = NULL; /* the caller's pointer: only submit reads it */
    j->refs = 2;
    j->state = ITS_JOB_WAITING;
    j->outcome = ITS_OUTCOME_PENDING;
    j->requested = req->profile < 0 ? s->p.n_profiles - 1 : req->profile;
    j->profile = -1;
    j->t_submit = now;
    j->t_start = NAN;
    j->deadline = req->deadline_ms > 0 ? now + req->deadline_ms : INFINITY;
    j->seq = s->seq++;
    atomic_init(&j->cancel, 0);
    atomic_init(&j->nfe_done, 0);
    int lvl = j->requested < s->level ? j->requested : s->level;
    j->predicted_nfe = s->cost[lvl];
    s->live_jobs++;
    s->heap[s->n_wait] = j;
    j->heap_pos = s->n_wait++;
    its_heap_up(s, j->heap_pos);
    its_sched_govern(s, now);
    pthread_cond_signal(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
    *job = j;
    return ITS_ADMIT_OK;
}

/* Under mu; returns 1 when the job was waiting and is now ended (notify it after unlocking). */
static int its_job_cancel_locked(its_sched_job *j)
{
    its_sched *s = j->s;
    if (j->state == ITS_JOB_WAITING) {
        its_heap_remove(s, j->heap_pos);
        its_job_end_locked(s, j, ITS_OUTCOME_CANCELLED, its_sched_now(s));
        return 1;
    }
    if (j->state == ITS_JOB_RUNNING)
        atomic_store(&j->cancel, 1);
    return 0;
}

int its_sched_cancel(its_sched_job *j)
{
    if (!j)
        return 0;
    its_sched *s = j->s;
    pthread_mutex_lock(&s->mu);
    int pending = j->state != ITS_JOB_ENDED;
    int ended = its_job_cancel_locked(j);
    pthread_mutex_unlock(&s->mu);
    if (ended)
        its_job_notify(j);
    return pending;
}

its_sched_outcome its_sched_wait(its_sched_job *j, double timeout_ms)
{
    if (!j)
        return ITS_OUTCOME_PENDING;
    its_sched *s = j->s;
    struct timespec until;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        double ns = (double)until.tv_nsec + timeout_ms * 1e6;
        until.tv_sec += (time_t)(ns / 1e9);
        until.tv_nsec = (long)fmod(ns, 1e9);
    }
    pthread_mutex_lock(&s->mu);
    while (!j->notified) {
        if (timeout_ms < 0)
            pthread_cond_wait(&s->cv_done, &s->mu);
        else if (pthread_cond_timedwait(&s->cv_done, &s->mu, &until) == ETIMEDOUT)
            break;
    }
    its_sched_outcome o = j->notified ? j->outcome : ITS_OUTCOME_PENDING;
    pthread_mutex_unlock(&s->mu);
    return o;
}

void its_sched_job_free(its_sched_job *j)
{
    if (!j)
        return;
    its_sched *s = j->s;
    pthread_mutex_lock(&s->mu);
    int ended = its_job_cancel_locked(j);
    /* the caller's reference; the scheduler's goes with the notification */
    int last = its_job_unref_locked(j);
    pthread_mutex_unlock(&s->mu);
    if (ended)
        its_job_notify(j);
    else if (last)
        its_sched_destroy(s);
}

its_sched_outcome its_sched_job_outcome(its_sched_job *j) { return j ? j->outcome : ITS_OUTCOME_PENDING; }
its_result *its_sched_job_result(its_sched_job *j) { return j ? j->result : NULL; }
int its_sched_job_profile(its_sched_job *j) { return j ? j->profile : -1; }
int its_sched_job_requested(its_sched_job *j) { return j ? j->requested : -1; }
int its_sched_job_degraded(its_sched_job *j) { return j ? j->degraded : 0; }
uint64_t its_sched_job_nfe_budget(its_sched_job *j) { return j ? j->fit_nfe : 0; }
const char *its_sched_job_error(its_sched_job *j) { return j ? j->err : ""; }
double its_sched_job_queue_ms(its_sched_job *j)
{
    if (!j || j->state == ITS_JOB_WAITING)
        return 0;
    return (isnan(j->t_start) ? j->t_end : j->t_start) - j->t_submit;
}
double its_sched_job_latency_ms(its_sched_job *j)
{
    return j && j->state == ITS_JOB_ENDED ? j->t_end - j->t_submit : 0;
}

void its_sched_pause(its_sched *s, int paused)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->paused = paused != 0;
    pthread_cond_broadcast(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
}

int its_sched_shutdown(its_sched *s, its_sched_stop_mode mode, double timeout_ms)
{
    if (!s)
        return 1;
    pthread_mutex_lock(&s->mu);
    s->closed = 1;
    s->paused = 0;
    pthread_cond_broadcast(&s->cv_work);
    if (mode == ITS_SCHED_CANCEL) {
        /* end the waiting ones one at a time: each notification runs without the lock */
        while (s->n_wait > 0) {
            its_sched_job *j = s->heap[s->n_wait - 1];
            its_job_cancel_locked(j);
            pthread_mutex_unlock(&s->mu);
            its_job_notify(j);
            pthread_mutex_lock(&s->mu);
        }
        for (unsigned i = 0; i < s->n_workers; i++)
            if (s->w[i].job)
                atomic_store(&s->w[i].job->cancel, 1);
    }
    struct timespec until;
    if (timeout_ms >= 0) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        double ns = (double)until.tv_nsec + timeout_ms * 1e6;
        until.tv_sec += (time_t)(ns / 1e9);
        until.tv_nsec = (long)fmod(ns, 1e9);
    }
    while (s->n_wait > 0 || s->n_run > 0 || s->n_notify > 0) {
        if (timeout_ms < 0)
            pthread_cond_wait(&s->cv_done, &s->mu);
        else if (pthread_cond_timedwait(&s->cv_done, &s->mu, &until) == ETIMEDOUT)
            break;
    }
    int idle = s->n_wait == 0 && s->n_run == 0 && s->n_notify == 0;
    pthread_mutex_unlock(&s->mu);
    return idle;
}

void its_sched_free(its_sched *s)
{
    if (!s)
        return;
    its_sched_shutdown(s, ITS_SCHED_CANCEL, -1);
    its_sched_stop_workers(s);
    pthread_mutex_lock(&s->mu);
    s->freed = 1;
    int last = s->live_jobs == 0;
    pthread_mutex_unlock(&s->mu);
    if (last)
        its_sched_destroy(s);
}

void its_sched_stats_get(its_sched *s, its_sched_stats *st)
{
    if (!s || !st)
        return;
    memset(st, 0, sizeof(*st));
    pthread_mutex_lock(&s->mu);
    its_sched_govern(s, its_sched_now(s));
    st->waiting = s->n_wait;
    st->running = s->n_run;
    st->outstanding_nfe = its_sched_outstanding(s);
    st->level = s->level;
    st->nfe_rate = s->rate;
    st->p95_ms = s->p95_ms;
    st->pressure = s->pressure;
    for (int i = 0; i < s->p.n_profiles; i++) {
        st->served[i] = s->served[i];
        st->degraded += s->degraded[i];
        st->shed += s->shed[i];
    }
    st->rejected = s->rejected_full + s->rejected_closed;
    st->cancelled = s->cancelled;
    st->failed = s->failed;
    st->completed = s->completed;
    st->nfe_total = s->nfe_total;
    pthread_mutex_unlock(&s->mu);
}
