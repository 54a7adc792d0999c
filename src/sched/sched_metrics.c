/* Metrics in Prometheus text exposition format 0.0.4, named as Prometheus asks (`itscale_`
 * prefix, base units in the name, counters ending in `_total`; colons are left to recording
 * rules). The three gauges an endpoint picker reads (itscale_requests_waiting,
 * itscale_requests_running, itscale_outstanding_nfe) come first. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sched/sched_internal.h"

typedef struct its_out {
    char *buf;
    size_t cap, len;
} its_out;

__attribute__((format(printf, 2, 3))) static void its_out_printf(its_out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static void its_out_head(its_out *o, const char *name, const char *type, const char *help)
{
    its_out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void its_out_hist(its_out *o, const char *name, const char *help, const its_hist *h)
{
    its_out_head(o, name, "histogram", help);
    uint64_t cum = 0;
    for (size_t b = 0; b < ITS_SCHED_BUCKETS; b++) {
        cum += h->bucket[b];
        its_out_printf(o, "%s_bucket{le=\"%g\"} %llu\n", name, its_sched_bounds[b],
                       (unsigned long long)cum);
    }
    its_out_printf(o, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
    its_out_printf(o, "%s_sum %.6f\n%s_count %llu\n", name, h->sum_s, name,
                   (unsigned long long)h->count);
}

static void its_out_by_profile(its_out *o, its_sched *s, const char *name, const char *help,
                               const uint64_t *v)
{
    its_out_head(o, name, "counter", help);
    for (int i = 0; i < s->p.n_profiles; i++)
        its_out_printf(o, "%s{profile=\"%s\"} %llu\n", name, s->p.profiles[i].name,
                       (unsigned long long)v[i]);
}

size_t its_sched_metrics(its_sched *s, char *buf, size_t cap)
{
    its_out o = {buf, cap, 0};
    if (cap)
        buf[0] = 0;
    if (!s)
        return 0;
    pthread_mutex_lock(&s->mu);
    its_sched_govern(s, its_sched_now(s));
    its_out_head(&o, "itscale_requests_waiting", "gauge", "Requests in the queue.");
    its_out_printf(&o, "itscale_requests_waiting %zu\n", s->n_wait);
    its_out_head(&o, "itscale_requests_running", "gauge", "Requests being generated.");
    its_out_printf(&o, "itscale_requests_running %zu\n", s->n_run);
    its_out_head(&o, "itscale_outstanding_nfe", "gauge",
                 "Predicted model evaluations (NFE) of waiting and running requests.");
    its_out_printf(&o, "itscale_outstanding_nfe %.0f\n", its_sched_outstanding(s));
    its_out_head(&o, "itscale_nfe_per_second", "gauge",
                 "Measured NFE rate of the worker pool (per-worker EWMA times workers).");
    its_out_printf(&o, "itscale_nfe_per_second %.3f\n", s->rate * (double)s->n_workers);
    its_out_head(&o, "itscale_nfe_total", "counter", "Model evaluations (NFE) spent.");
    its_out_printf(&o, "itscale_nfe_total %llu\n", (unsigned long long)s->nfe_total);
    its_out_head(&o, "itscale_governor_level", "gauge",
                 "Index of the heaviest profile the governor allows now (0 = lightest).");
    its_out_printf(&o, "itscale_governor_level %d\n", s->level);
    its_out_head(&o, "itscale_governor_pressure_ratio", "gauge",
                 "max(rolling p95 latency, predicted queue wait) / SLA.");
    its_out_printf(&o, "itscale_governor_pressure_ratio %.4f\n", s->pressure);
    its_out_head(&o, "itscale_latency_p95_seconds", "gauge", "Rolling p95 end-to-end latency.");
    its_out_printf(&o, "itscale_latency_p95_seconds %.6f\n", s->p95_ms * 1e-3);
    its_out_hist(&o, "itscale_request_duration_seconds", "End-to-end latency, submission to result.",
                 &s->lat);
    its_out_hist(&o, "itscale_queue_duration_seconds", "Time from submission to dispatch.", &s->queue);
    its_out_by_profile(&o, s, "itscale_requests_served_total", "Requests served, by profile used.",
                       s->served);
    its_out_by_profile(&o, s, "itscale_requests_degraded_total",
                       "Requests run lighter than asked, by profile asked.", s->degraded);
    its_out_by_profile(&o, s, "itscale_requests_shed_total",
                       "Sheddable requests dropped by the governor, by profile asked.", s->shed);
    its_out_head(&o, "itscale_requests_rejected_total", "counter", "Requests refused at admission.");
    its_out_printf(&o, "itscale_requests_rejected_total{reason=\"queue_full\"} %llu\n",
                   (unsigned long long)s->rejected_full);
    its_out_printf(&o, "itscale_requests_rejected_total{reason=\"closed\"} %llu\n",
                   (unsigned long long)s->rejected_closed);
    its_out_head(&o, "itscale_requests_cancelled_total", "counter", "Requests cancelled.");
    its_out_printf(&o, "itscale_requests_cancelled_total %llu\n", (unsigned long long)s->cancelled);
    its_out_head(&o, "itscale_requests_failed_total", "counter", "Requests whose run failed.");
    its_out_printf(&o, "itscale_requests_failed_total %llu\n", (unsigned long long)s->failed);
    its_out_head(&o, "itscale_requests_fitted_total", "counter",
                 "Requests whose profile's method was fitted to a smaller NFE allotment.");
    its_out_printf(&o, "itscale_requests_fitted_total %llu\n", (unsigned long long)s->fitted);
    its_out_head(&o, "itscale_key_cache_hits_total", "counter",
                 "Requests whose affinity key found its prepared state in the worker's cache.");
    its_out_printf(&o, "itscale_key_cache_hits_total %llu\n", (unsigned long long)s->cache_hits);
    its_out_head(&o, "itscale_key_cache_misses_total", "counter",
                 "Requests whose affinity key had to be prepared.");
    its_out_printf(&o, "itscale_key_cache_misses_total %llu\n",
                   (unsigned long long)s->cache_misses);
    its_out_head(&o, "itscale_key_cache_evictions_total", "counter",
                 "Prepared per-key states dropped to make room (least recently used).");
    its_out_printf(&o, "itscale_key_cache_evictions_total %llu\n",
                   (unsigned long long)s->cache_evictions);
    its_out_head(&o, "itscale_key_cache_entries", "gauge", "Prepared per-key states held.");
    its_out_printf(&o, "itscale_key_cache_entries %zu\n", s->cache_entries);
    its_out_head(&o, "itscale_key_cache_prepare_seconds_total", "counter",
                 "Time spent preparing per-key states.");
    its_out_printf(&o, "itscale_key_cache_prepare_seconds_total %.6f\n", s->cache_prepare_s);
    pthread_mutex_unlock(&s->mu);
    return o.len;
}
