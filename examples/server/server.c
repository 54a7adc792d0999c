/*
 * itscale-server: an HTTP front end (libmicrohttpd) over the budget-aware scheduler.
 *
 *   POST /v1/generate  {"task": "gmm", "profile": "heavy", "priority": 0, "deadline_ms": 500,
 *                       "seed": 1}  -> the result with the profile actually used
 *   GET  /metrics      Prometheus text (itscale_requests_waiting, itscale_outstanding_nfe, ...)
 *   GET  /health       {"status": "ok"} (503 while shutting down)
 *
 * Status codes: 400 malformed request or ambiguous framing (repeated Content-Length,
 * Content-Length with Transfer-Encoding), 404/405 unknown route, 413 body over --max-body,
 * 429 queue full or rate limit, 503 shed by the governor or shutting down, 500 failed run.
 * SIGTERM / SIGINT: stop accepting, finish in-flight work for --grace-ms, cancel the rest
 * (cancelled searches answer with their best so far), exit 0. Binds 127.0.0.1 unless --host.
 *
 * Hostile clients: a request (headers and body) must arrive within --recv-timeout-ms of the
 * connection opening or of the previous answer on it, or the connection is closed; one client
 * address holds at most --max-conn-per-ip connections; a client that hangs up before its answer
 * cancels its job. Every body written is valid JSON (client text is cleaned to UTF-8).
 */
#define _GNU_SOURCE /* POLLRDHUP */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "itscale.h"
#include "request.h"
#include "tasks.h"

/* light -> heavy: one trajectory; best of 4; rollover budget forcing with 500 NFE (DESIGN.md §8) */
static const char *default_profiles =
    "{\"profiles\": ["
    "{\"name\": \"light\", \"config\": {\"sampler\": \"none\", \"run\": {\"steps\": 20}}},"
    "{\"name\": \"standard\", \"config\": {\"sampler\": \"best_of_n\", \"params\": {\"n\": 4},"
    " \"run\": {\"steps\": 20}}},"
    "{\"name\": \"heavy\", \"config\": {\"sampler\": \"rbf\", \"run\": {\"steps\": 10,"
    " \"grid\": \"exp\", \"dynamics\": {\"kind\": \"sde\", \"g\": {\"schedule\": \"square\","
    " \"scale\": 3}}, \"interp\": \"vp\", \"budget\": {\"max_nfe\": 500}}}}"
    "], \"sla_p95_ms\": 1000, \"queue_cap\": 64}";

typedef struct srv_opts {
    const char *host;
    unsigned port;
    const char *profiles_path;
    unsigned workers;        /* 0: from the profiles document */
    long queue_cap;          /* -1: from the profiles document */
    double sla_ms;           /* < 0: from the profiles document */
    int governor;
    int fit;                 /* fit the profile's method to the request's NFE allotment */
    size_t max_body;
    double rate, conn_rate;  /* requests/s on /v1/generate; 0 = unlimited */
    double grace_ms;
    double drain_ms;         /* after SIGTERM: serve on this long, the agent saying "drain" */
    unsigned max_conn, max_conn_per_ip;
    size_t key_cache;        /* prepared affinity keys kept per worker */
    unsigned agent_port;     /* HAProxy agent-check listener; 0 = none */
    int agent_weights;       /* 0: the agent answers only "up 100%" or "drain" */
    double recv_timeout_ms;
    its_srv_task_cfg task;
} srv_opts;

enum { SC_200, SC_400, SC_404, SC_405, SC_413, SC_429, SC_500, SC_503, SC_N };
static const unsigned sc_code[SC_N] = {200, 400, 404, 405, 413, 429, 500, 503};

typedef struct bucket {
    double tokens, last_s;
} bucket;

typedef struct conn_state conn_state;

typedef struct srv {
    srv_opts o;
    its_sched *sched;
    pthread_mutex_t mu;      /* the global bucket */
    bucket global;
    atomic_int closing;
    atomic_int draining;     /* SIGTERM seen: the agent check answers "drain" */
    atomic_int in_flight;    /* generate requests not yet fully answered */
    atomic_ullong responses[SC_N];
    atomic_ullong disconnects;     /* clients gone before their answer (jobs cancelled) */
    atomic_ullong recv_timeouts;   /* connections closed for a request too slow to arrive */
    atomic_ullong bad_framing;     /* requests refused for ambiguous framing headers */
    /* live connections, for the receive-deadline watchdog */
    pthread_mutex_t conn_mu;
    conn_state *conns;
    pthread_t watchdog;
    atomic_int stop_watchdog;
    int agent_fd;
    pthread_t agent;
    double sla_ms;
    int n_profiles;
} srv;

struct conn_state {
    bucket b;                /* per connection; touched only by its own thread */
    int fd;
    double recv_since;       /* mono_s() when the request being received began; 0 = none
                              * (under conn_mu) */
    conn_state *prev, *next; /* under conn_mu */
};

typedef struct req_state {
    srv *S;
    char *body;
    size_t len, cap;
    int too_large;
    int counted;             /* in S->in_flight until the response has gone out */
} req_state;

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Token bucket: `rate` tokens per second, burst max(1, rate). */
static int bucket_take(bucket *b, double rate)
{
    if (rate <= 0)
        return 1;
    double now = mono_s(), burst = rate < 1 ? 1 : rate;
    if (b->last_s == 0)
        b->tokens = burst;
    else
        b->tokens = fmin(burst, b->tokens + (now - b->last_s) * rate);
    b->last_s = now;
    if (b->tokens < 1)
        return 0;
    b->tokens -= 1;
    return 1;
}

static enum MHD_Result reply_ex(srv *S, struct MHD_Connection *c, unsigned code,
                                const char *type, char *body, int close_after)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (close_after)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    for (int i = 0; i < SC_N; i++)
        if (sc_code[i] == code)
            atomic_fetch_add(&S->responses[i], 1);
    return ret;
}

static enum MHD_Result reply(srv *S, struct MHD_Connection *c, unsigned code, const char *type,
                             char *body)
{
    return reply_ex(S, c, code, type, body, 0);
}

static enum MHD_Result vreply_error(srv *S, struct MHD_Connection *c, unsigned code,
                                    int close_after, const char *fmt, va_list ap)
{
    char raw[512], msg[512];
    vsnprintf(raw, sizeof(raw), fmt, ap);
    /* the text may quote client bytes: valid UTF-8 so that the body is valid JSON */
    its_srv_text_clean(msg, sizeof(msg), raw);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s)
        return MHD_NO;
    /* cJSON's allocator is malloc (the default hooks), so MHD may free() it */
    return reply_ex(S, c, code, "application/json", s, close_after);
}

static enum MHD_Result reply_error(srv *S, struct MHD_Connection *c, unsigned code,
                                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result reply_error(srv *S, struct MHD_Connection *c, unsigned code,
                                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum MHD_Result r = vreply_error(S, c, code, 0, fmt, ap);
    va_end(ap);
    return r;
}

/* An error after which the connection closes: the rest of what the client sent cannot be
 * trusted to start a new request (framing in doubt, body left unread). */
static enum MHD_Result reply_error_close(srv *S, struct MHD_Connection *c, unsigned code,
                                         const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result reply_error_close(srv *S, struct MHD_Connection *c, unsigned code,
                                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum MHD_Result r = vreply_error(S, c, code, 1, fmt, ap);
    va_end(ap);
    return r;
}

static conn_state *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void conn_recv_mark(srv *S, conn_state *cs, double since)
{
    if (!cs)
        return;
    pthread_mutex_lock(&S->conn_mu);
    cs->recv_since = since;
    pthread_mutex_unlock(&S->conn_mu);
}

/* Closes the connections whose request has not fully arrived within --recv-timeout-ms (a
 * slow-loris client holds a connection slot and its thread for as long as it trickles bytes:
 * MHD's own timeout counts only silence). shutdown() wakes the connection's thread, which then
 * closes it; MHD reports the close (on_connection) before the descriptor is released, and that
 * report takes conn_mu, so the descriptor shut here is always the connection's own. */
static void *watchdog_main(void *arg)
{
    srv *S = arg;
    while (!atomic_load(&S->stop_watchdog)) {
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
        double now = mono_s(), limit = S->o.recv_timeout_ms * 1e-3;
        pthread_mutex_lock(&S->conn_mu);
        for (conn_state *cs = S->conns; cs; cs = cs->next)
            if (cs->recv_since > 0 && now - cs->recv_since > limit && cs->fd >= 0) {
                shutdown(cs->fd, SHUT_RDWR);
                cs->recv_since = 0;
                atomic_fetch_add(&S->recv_timeouts, 1);
            }
        pthread_mutex_unlock(&S->conn_mu);
    }
    return NULL;
}

/* HAProxy's agent check: one line per connection. "drain" while shutting down (no new work,
 * in-flight requests finish); otherwise "up N%", the weight HAProxy gives this server relative
 * to its configured one: 100% when idle, falling as the predicted wait for a new request
 * (outstanding NFE over the measured pool rate) grows against the SLA, and halved while the
 * governor is holding requests below their profile (pressure over 1, or a lowered level), so
 * new work goes where the predicted wait is shortest. */
static int agent_weight(srv *S)
{
    its_sched_stats st;
    its_sched_stats_get(S->sched, &st);
    double target = S->sla_ms > 0 ? S->sla_ms : 1000;
    double rate = st.nfe_rate * (double)(S->o.workers ? S->o.workers : 1);
    double wait_ms = rate > 0 ? 1e3 * st.outstanding_nfe / rate : 0;
    double w = 100.0 / (1.0 + wait_ms / target);
    if (st.pressure > 1 || st.level < S->n_profiles - 1)
        w *= 0.5;
    int pct = (int)lround(w);
    return pct < 1 ? 1 : pct > 100 ? 100 : pct;
}

static void *agent_main(void *arg)
{
    srv *S = arg;
    while (!atomic_load(&S->stop_watchdog)) {
        struct pollfd pf = {S->agent_fd, POLLIN, 0};
        if (poll(&pf, 1, 100) != 1)
            continue;
        int c = accept(S->agent_fd, NULL, NULL);
        if (c < 0)
            continue;
        char line[32];
        int n = atomic_load(&S->draining) ? snprintf(line, sizeof(line), "drain\n")
                                         : snprintf(line, sizeof(line), "up %d%%\n",
                                                    S->o.agent_weights ? agent_weight(S) : 100);
        send(c, line, (size_t)n, MSG_NOSIGNAL);
        close(c);
    }
    return NULL;
}

static int agent_listen(const char *host, unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(fd, 16) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Framing headers a proxy and this server could read differently are refused: more than one
 * Content-Length or Transfer-Encoding, both together, or a Content-Length that is not plain
 * digits (request smuggling, RFC 9112 6.3). */
typedef struct framing {
    int n_cl, n_te, bad_cl;
} framing;

static enum MHD_Result framing_count(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    framing *f = cls;
    if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
        f->n_cl++;
        if (!value || !value[0] || strspn(value, "0123456789") != strlen(value) ||
            strlen(value) > 18)
            f->bad_cl = 1;
    } else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
        f->n_te++;
    }
    return MHD_YES;
}

static enum MHD_Result handle_metrics(srv *S, struct MHD_Connection *c)
{
    size_t need = its_sched_metrics(S->sched, NULL, 0);
    size_t extra = 1024 + SC_N * 80;
    char *buf = malloc(need + extra + 1);
    if (!buf)
        return MHD_NO;
    size_t n = its_sched_metrics(S->sched, buf, need + 1);
    if (n > need)
        n = need; /* the text grew between the two calls: keep what fitted */
    n += (size_t)snprintf(buf + n, extra + 1,
                          "# HELP itscale_http_responses_total HTTP responses by status code.\n"
                          "# TYPE itscale_http_responses_total counter\n");
    for (int i = 0; i < SC_N && n < need + extra; i++)
        n += (size_t)snprintf(buf + n, need + extra + 1 - n,
                              "itscale_http_responses_total{code=\"%u\"} %llu\n", sc_code[i],
                              (unsigned long long)atomic_load(&S->responses[i]));
    const struct {
        const char *name, *help;
        atomic_ullong *v;
    } ctr[] = {
        {"itscale_http_client_disconnects_total",
         "Clients that hung up before their answer (their jobs are cancelled).", &S->disconnects},
        {"itscale_http_receive_timeouts_total",
         "Connections closed because a request did not arrive within the receive timeout.",
         &S->recv_timeouts},
        {"itscale_http_bad_framing_total",
         "Requests refused for repeated or conflicting framing headers.", &S->bad_framing},
    };
    for (size_t i = 0; i < sizeof(ctr) / sizeof(ctr[0]) && n < need + extra; i++)
        n += (size_t)snprintf(buf + n, need + extra + 1 - n,
                              "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", ctr[i].name,
                              ctr[i].help, ctr[i].name, ctr[i].name,
                              (unsigned long long)atomic_load(ctr[i].v));
    return reply(S, c, 200, "text/plain; version=0.0.4; charset=utf-8", buf);
}

static enum MHD_Result handle_generate(srv *S, struct MHD_Connection *c, req_state *rs)
{
    rs->counted = 1;
    atomic_fetch_add(&S->in_flight, 1);
    if (atomic_load(&S->closing))
        return reply_error(S, c, 503, "shutting down");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    conn_state *cs = ci ? ci->socket_context : NULL;
    if (cs && !bucket_take(&cs->b, S->o.conn_rate))
        return reply_error(S, c, 429, "rate limit: over %g requests/s on this connection",
                           S->o.conn_rate);
    pthread_mutex_lock(&S->mu);
    int ok = bucket_take(&S->global, S->o.rate);
    pthread_mutex_unlock(&S->mu);
    if (!ok)
        return reply_error(S, c, 429, "rate limit: over %g requests/s", S->o.rate);

    its_sched_req r;
    char err[256], key[ITS_SCHED_KEY_CAP];
    if (!its_srv_parse_generate(S->sched, rs->body ? rs->body : "", rs->len, &r, key, err,
                                sizeof(err)))
        return reply_error(S, c, 400, "%s", err);
    its_sched_job *job = NULL;
    its_sched_admit a = its_sched_submit(S->sched, &r, &job);
    if (a == ITS_ADMIT_QUEUE_FULL)
        return reply_error(S, c, 429, "queue full");
    if (a == ITS_ADMIT_CLOSED)
        return reply_error(S, c, 503, "shutting down");
    if (a != ITS_ADMIT_OK)
        return reply_error(S, c, 500, "admission failed: %s", its_sched_admit_name(a));
    /* wait, and cancel the job when the client hangs up: nobody would read the answer */
    const union MHD_ConnectionInfo *fi =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    int fd = fi ? fi->connect_fd : -1;
    its_sched_outcome o;
    while ((o = its_sched_wait(job, 50)) == ITS_OUTCOME_PENDING) {
        struct pollfd pf = {fd, POLLRDHUP, 0};
        if (fd >= 0 && poll(&pf, 1, 0) == 1 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
            atomic_fetch_add(&S->disconnects, 1);
            its_sched_cancel(job);
            o = its_sched_wait(job, -1);
            break;
        }
    }
    its_result *res = its_sched_job_result(job);
    enum MHD_Result ret;
    if (o == ITS_OUTCOME_SHED) {
        ret = reply_error(S, c, 503, "overloaded: %s", its_sched_job_error(job));
    } else if (o == ITS_OUTCOME_FAILED) {
        ret = reply_error(S, c, 500, "%s", its_sched_job_error(job));
    } else if (!res || its_result_count(res) == 0) {
        ret = reply_error(S, c, 503, "cancelled before a sample was ready (shutting down)");
    } else {
        cJSON *out = cJSON_CreateObject();
        int prof = its_sched_job_profile(job);
        cJSON_AddStringToObject(out, "profile", its_sched_profile_name(S->sched, prof));
        cJSON_AddStringToObject(out, "requested",
                                its_sched_profile_name(S->sched, its_sched_job_requested(job)));
        cJSON_AddBoolToObject(out, "degraded", its_sched_job_degraded(job));
        /* the NFE the profile's method was fitted to (0: as configured) */
        cJSON_AddNumberToObject(out, "nfe_budget", (double)its_sched_job_nfe_budget(job));
        cJSON_AddBoolToObject(out, "cancelled", o == ITS_OUTCOME_CANCELLED);
        cJSON_AddNumberToObject(out, "queue_ms", its_sched_job_queue_ms(job));
        cJSON_AddNumberToObject(out, "latency_ms", its_sched_job_latency_ms(job));
        double sc = its_result_score(res, 0);
        if (isfinite(sc))
            cJSON_AddNumberToObject(out, "score", sc);
        else
            cJSON_AddNullToObject(out, "score");
        cJSON *smp = cJSON_AddArrayToObject(out, "sample");
        const float *x = its_result_sample(res, 0);
        for (size_t d = 0; d < its_result_dim(res); d++)
            cJSON_AddItemToArray(smp, cJSON_CreateNumber((double)x[d]));
        const char *rj = its_result_to_json(res);
        cJSON *rjo = rj ? cJSON_Parse(rj) : NULL;
        if (rjo)
            cJSON_AddItemToObject(out, "result", rjo);
        char *s = cJSON_PrintUnformatted(out);
        cJSON_Delete(out);
        ret = s ? reply(S, c, 200, "application/json", s) : MHD_NO;
    }
    its_sched_job_free(job);
    return ret;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls)
{
    (void)version;
    srv *S = cls;
    req_state *rs = *con_cls;
    if (!rs) {
        if (!(rs = calloc(1, sizeof(*rs))))
            return MHD_NO;
        rs->S = S;
        *con_cls = rs;
        framing f = {0, 0, 0};
        MHD_get_connection_values(c, MHD_HEADER_KIND, framing_count, &f);
        if (f.n_cl > 1 || f.n_te > 1 || (f.n_cl && f.n_te) || f.bad_cl) {
            atomic_fetch_add(&S->bad_framing, 1);
            return reply_error_close(
                S, c, 400, "framing: %s",
                f.n_cl > 1   ? "Content-Length given more than once"
                : f.n_te > 1 ? "Transfer-Encoding given more than once"
                : f.bad_cl   ? "Content-Length is not a plain decimal number"
                             : "both Content-Length and Transfer-Encoding");
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > S->o.max_body) {
            rs->too_large = 1;
            return reply_error_close(S, c, 413, "body over %zu bytes", S->o.max_body);
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        if (!rs->too_large && rs->len + n > S->o.max_body)
            rs->too_large = 1;
        if (!rs->too_large) {
            if (rs->len + n + 1 > rs->cap) {
                size_t cap = rs->cap ? rs->cap : 1024;
                while (cap < rs->len + n + 1)
                    cap *= 2;
                char *b = realloc(rs->body, cap);
                if (!b)
                    return MHD_NO;
                rs->body = b;
                rs->cap = cap;
            }
            memcpy(rs->body + rs->len, upload_data, n);
            rs->len += n;
            rs->body[rs->len] = 0;
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (rs->too_large)
        return reply_error(S, c, 413, "body over %zu bytes", S->o.max_body);
    conn_recv_mark(S, conn_of(c), 0); /* the request has arrived */
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    if (!strcmp(url, "/v1/generate")) {
        if (!post)
            return reply_error(S, c, 405, "/v1/generate takes POST");
        return handle_generate(S, c, rs);
    }
    if (!strcmp(url, "/metrics")) {
        if (!get)
            return reply_error(S, c, 405, "/metrics takes GET");
        return handle_metrics(S, c);
    }
    if (!strcmp(url, "/health")) {
        if (!get)
            return reply_error(S, c, 405, "/health takes GET");
        int closing = atomic_load(&S->closing);
        char *b = strdup(closing ? "{\"status\":\"shutting_down\"}" : "{\"status\":\"ok\"}");
        return b ? reply(S, c, closing ? 503 : 200, "application/json", b) : MHD_NO;
    }
    return reply_error(S, c, 404, "no route %.64s", url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    srv *S = cls;
    /* the next request on a kept-alive connection gets its own receive deadline */
    conn_recv_mark(S, conn_of(c), mono_s());
    req_state *rs = *con_cls;
    if (rs) {
        if (rs->counted)
            atomic_fetch_sub(&rs->S->in_flight, 1);
        free(rs->body);
        free(rs);
        *con_cls = NULL;
    }
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    srv *S = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        conn_state *cs = calloc(1, sizeof(conn_state));
        *socket_context = cs;
        if (!cs)
            return;
        const union MHD_ConnectionInfo *fi =
            MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        cs->fd = fi ? fi->connect_fd : -1;
        pthread_mutex_lock(&S->conn_mu);
        cs->recv_since = mono_s();
        cs->next = S->conns;
        if (S->conns)
            S->conns->prev = cs;
        S->conns = cs;
        pthread_mutex_unlock(&S->conn_mu);
    } else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_state *cs = *socket_context;
        if (cs) {
            pthread_mutex_lock(&S->conn_mu);
            if (cs->prev)
                cs->prev->next = cs->next;
            else
                S->conns = cs->next;
            if (cs->next)
                cs->next->prev = cs->prev;
            pthread_mutex_unlock(&S->conn_mu);
        }
        free(cs);
        *socket_context = NULL;
    }
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: itscale-server [options]\n"
            "  --port N          TCP port on --host (default 8080; 0 = any free port, printed)\n"
            "  --host ADDR       IPv4 address to bind (default 127.0.0.1)\n"
            "  --profiles FILE   scheduler JSON (profiles, sla_p95_ms, queue_cap, workers)\n"
            "  --workers N       worker threads (default: the profiles file, else 2)\n"
            "  --queue N         queue capacity (default: the profiles file, else 64)\n"
            "  --sla-ms X        p95 latency target (default: the profiles file; 0 = none)\n"
            "  --no-governor     run every request at its profile hint\n"
            "  --no-fit          governor with whole profiles only (no fitting to the allotment)\n"
            "  --max-body N      request body limit in bytes (default 16384)\n"
            "  --rate X          requests/s accepted on /v1/generate, all clients (0 = no limit)\n"
            "  --conn-rate X     requests/s accepted per connection (0 = no limit)\n"
            "  --grace-ms X      on SIGTERM, time to finish in-flight work (default 10000)\n"
            "  --max-conn N      concurrent connections (default 512)\n"
            "  --max-conn-per-ip N  concurrent connections from one client address (default 32)\n"
            "  --recv-timeout-ms X  time for a request's headers and body to arrive (default 10000)\n"
            "  --dim N           gmm task dimension (default 8)\n"
            "  --nfe-cost-us N   emulated accelerator time per model row (default 0)\n"
            "  --key-cache N     prepared affinity keys kept per worker, LRU (default 8)\n"
            "  --agent-port N    answer HAProxy's agent check on this port (default: off)\n"
            "  --agent-weights on|off  weights from the load (on, default) or a fixed 100%%: under\n"
            "                    consistent hashing a changing weight moves keys between replicas\n"
            "  --drain-ms X      on SIGTERM, keep serving this long while the agent check says\n"
            "                    \"drain\" (default 0), then stop accepting and drain\n"
            "  --prep-draws N    samples that calibrate a key's verifier when prepared (default 20000)\n");
}

static int parse_args(int argc, char **argv, srv_opts *o)
{
    *o = (srv_opts){.host = "127.0.0.1", .port = 8080, .workers = 0, .queue_cap = -1,
                    .sla_ms = -1, .governor = 1, .fit = 1, .max_body = 16384, .grace_ms = 10000,
                    .max_conn = 512, .max_conn_per_ip = 32, .recv_timeout_ms = 10000,
                    .key_cache = 8, .agent_weights = 1, .task = {.dim = 8, .nfe_cost_us = 0, .prep_draws = 20000}};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
#define NUM(dst, lo, hi)                                                      \
    do {                                                                      \
        if (!v)                                                               \
            goto missing;                                                     \
        double x_ = strtod(v, &end);                                          \
        if (end == v || *end || !(x_ >= (lo) && x_ <= (hi))) {                \
            fprintf(stderr, "itscale-server: %s: expected a number in [%g, %g], got %s\n", a, \
                    (double)(lo), (double)(hi), v);                           \
            return -1;                                                        \
        }                                                                     \
        dst = x_;                                                             \
        i++;                                                                  \
    } while (0)
        double x;
        if (!strcmp(a, "--port")) { NUM(x, 0, 65535); o->port = (unsigned)x; }
        else if (!strcmp(a, "--host")) { if (!v) goto missing; o->host = v; i++; }
        else if (!strcmp(a, "--profiles")) { if (!v) goto missing; o->profiles_path = v; i++; }
        else if (!strcmp(a, "--workers")) { NUM(x, 1, 256); o->workers = (unsigned)x; }
        else if (!strcmp(a, "--queue")) { NUM(x, 1, 1 << 20); o->queue_cap = (long)x; }
        else if (!strcmp(a, "--sla-ms")) { NUM(o->sla_ms, 0, 1e9); }
        else if (!strcmp(a, "--no-governor")) { o->governor = 0; }
        else if (!strcmp(a, "--no-fit")) { o->fit = 0; }
        else if (!strcmp(a, "--max-body")) { NUM(x, 64, 1 << 26); o->max_body = (size_t)x; }
        else if (!strcmp(a, "--rate")) { NUM(o->rate, 0, 1e9); }
        else if (!strcmp(a, "--conn-rate")) { NUM(o->conn_rate, 0, 1e9); }
        else if (!strcmp(a, "--grace-ms")) { NUM(o->grace_ms, 0, 1e9); }
        else if (!strcmp(a, "--max-conn")) { NUM(x, 1, 65536); o->max_conn = (unsigned)x; }
        else if (!strcmp(a, "--max-conn-per-ip")) { NUM(x, 1, 65536); o->max_conn_per_ip = (unsigned)x; }
        else if (!strcmp(a, "--recv-timeout-ms")) { NUM(o->recv_timeout_ms, 100, 3.6e6); }
        else if (!strcmp(a, "--dim")) { NUM(x, 1, 4096); o->task.dim = (int)x; }
        else if (!strcmp(a, "--nfe-cost-us")) { NUM(x, 0, 1e7); o->task.nfe_cost_us = (long)x; }
        else if (!strcmp(a, "--drain-ms")) { NUM(o->drain_ms, 0, 600000); }
        else if (!strcmp(a, "--agent-weights")) {
            if (!v || (strcmp(v, "on") && strcmp(v, "off"))) {
                fprintf(stderr, "itscale-server: --agent-weights: expected on or off\n");
                return -1;
            }
            o->agent_weights = !strcmp(v, "on");
            i++;
        }
        else if (!strcmp(a, "--agent-port")) { NUM(x, 1, 65535); o->agent_port = (unsigned)x; }
        else if (!strcmp(a, "--key-cache")) { NUM(x, 1, 4096); o->key_cache = (size_t)x; }
        else if (!strcmp(a, "--prep-draws")) { NUM(x, 0, 1e8); o->task.prep_draws = (long)x; }
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) { usage(stdout); exit(0); }
        else {
            fprintf(stderr, "itscale-server: unknown option %s\n", a);
            usage(stderr);
            return -1;
        }
#undef NUM
        continue;
    missing:
        fprintf(stderr, "itscale-server: %s needs a value\n", a);
        return -1;
    }
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 > cap) {
            char *b = realloc(buf, cap = cap ? 2 * cap : 8192);
            if (!b) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = b;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    static srv S;
    if (parse_args(argc, argv, &S.o) != 0)
        return 2;
    /* signals go to sigwait in main; every thread started below inherits the mask */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    its_ctx *ctx = NULL;
    if (its_ctx_create(NULL, &ctx) != ITS_OK) {
        fprintf(stderr, "itscale-server: cannot create a context\n");
        return 1;
    }
    char *doc = NULL;
    size_t doc_len = strlen(default_profiles);
    if (S.o.profiles_path && !(doc = read_file(S.o.profiles_path, &doc_len))) {
        fprintf(stderr, "itscale-server: cannot read %s: %s\n", S.o.profiles_path,
                strerror(errno));
        return 1;
    }
    its_sched_params sp;
    its_sched_params_init(&sp);
    char *store = NULL;
    if (its_sched_params_from_json(ctx, doc ? doc : default_profiles, doc_len, &sp, &store) !=
        ITS_OK) {
        fprintf(stderr, "itscale-server: %s: %s\n",
                S.o.profiles_path ? S.o.profiles_path : "built-in profiles", its_ctx_errmsg(ctx));
        return 1;
    }
    free(doc);
    if (S.o.queue_cap > 0)
        sp.queue_cap = (size_t)S.o.queue_cap;
    if (S.o.sla_ms >= 0)
        sp.sla_p95_ms = S.o.sla_ms;
    if (S.o.workers > 0)
        sp.workers = S.o.workers;
    sp.key_cache_cap = S.o.key_cache;
    sp.governor = S.o.governor;
    sp.fit = S.o.fit;
    sp.n_tasks = its_srv_n_tasks;
    for (int i = 0; i < its_srv_n_tasks; i++) {
        snprintf(sp.tasks[i].name, sizeof(sp.tasks[i].name), "%s", its_srv_tasks[i].name);
        sp.tasks[i].bind = its_srv_tasks[i].bind;
        sp.tasks[i].unbind = its_srv_tasks[i].unbind;
        sp.tasks[i].user = &S.o.task;
        sp.tasks[i].prepare = its_srv_tasks[i].prepare;
        sp.tasks[i].use = its_srv_tasks[i].use;
        sp.tasks[i].release = its_srv_tasks[i].release;
    }
    if (its_sched_create(ctx, &sp, &S.sched) != ITS_OK) {
        fprintf(stderr, "itscale-server: %s\n", its_ctx_errmsg(ctx));
        return 1;
    }
    its_ctx_mem_free(ctx, store);
    pthread_mutex_init(&S.mu, NULL);
    pthread_mutex_init(&S.conn_mu, NULL);

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)S.o.port);
    if (inet_pton(AF_INET, S.o.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "itscale-server: --host %s: expected an IPv4 address\n", S.o.host);
        return 2;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC,
        (uint16_t)S.o.port, NULL, NULL, handler, &S, MHD_OPTION_SOCK_ADDR,
        (const struct sockaddr *)&addr, MHD_OPTION_CONNECTION_LIMIT, S.o.max_conn,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, S.o.max_conn_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
        60u, MHD_OPTION_NOTIFY_COMPLETED, on_completed, &S, MHD_OPTION_NOTIFY_CONNECTION,
        on_connection, &S, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "itscale-server: cannot listen on %s:%u\n", S.o.host, S.o.port);
        its_sched_free(S.sched);
        return 1;
    }
    S.sla_ms = sp.sla_p95_ms;
    S.n_profiles = its_sched_profile_count(S.sched);
    S.o.workers = sp.workers;
    S.agent_fd = -1;
    if (S.o.agent_port) {
        if ((S.agent_fd = agent_listen(S.o.host, S.o.agent_port)) < 0 ||
            pthread_create(&S.agent, NULL, agent_main, &S) != 0) {
            fprintf(stderr, "itscale-server: cannot listen for the agent check on %s:%u\n",
                    S.o.host, S.o.agent_port);
            MHD_stop_daemon(d);
            its_sched_free(S.sched);
            return 1;
        }
    }
    if (pthread_create(&S.watchdog, NULL, watchdog_main, &S) != 0) {
        fprintf(stderr, "itscale-server: cannot start the receive watchdog\n");
        MHD_stop_daemon(d);
        its_sched_free(S.sched);
        return 1;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = di ? di->port : S.o.port;
    printf("itscale-server listening on http://%s:%u (profiles:", S.o.host, port);
    for (int i = 0; i < its_sched_profile_count(S.sched); i++)
        printf(" %s", its_sched_profile_name(S.sched, i));
    printf("; sla_p95_ms %g; governor %s)\n", sp.sla_p95_ms, S.o.governor ? "on" : "off");
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "itscale-server: signal %d: draining (grace %g ms)\n", sig, S.o.grace_ms);
    atomic_store(&S.draining, 1);
    if (S.o.drain_ms > 0) {
        /* keep serving while the balancer reads "drain" from the agent check and stops sending */
        struct timespec ts = {(time_t)(S.o.drain_ms / 1e3),
                              (long)fmod(S.o.drain_ms * 1e6, 1e9)};
        nanosleep(&ts, NULL);
    }
    atomic_store(&S.closing, 1);
    MHD_socket lfd = MHD_quiesce_daemon(d);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    if (!its_sched_shutdown(S.sched, ITS_SCHED_DRAIN, S.o.grace_ms)) {
        fprintf(stderr, "itscale-server: grace period over: cancelling in-flight work\n");
        its_sched_shutdown(S.sched, ITS_SCHED_CANCEL, -1);
    }
    /* every job has ended; let the connection threads write their answers before closing */
    for (int i = 0; i < 5000 && atomic_load(&S.in_flight) > 0; i++) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    MHD_stop_daemon(d);
    atomic_store(&S.stop_watchdog, 1);
    pthread_join(S.watchdog, NULL);
    if (S.agent_fd >= 0) {
        pthread_join(S.agent, NULL);
        close(S.agent_fd);
    }
    its_sched_stats st;
    its_sched_stats_get(S.sched, &st);
    fprintf(stderr,
            "itscale-server: stopped: %llu done, %llu degraded, %llu shed, %llu cancelled, "
            "%llu rejected, %llu failed\n",
            (unsigned long long)st.completed, (unsigned long long)st.degraded,
            (unsigned long long)st.shed, (unsigned long long)st.cancelled,
            (unsigned long long)st.rejected, (unsigned long long)st.failed);
    its_sched_free(S.sched);
    its_ctx_free(ctx);
    return 0;
}
