/*
 * its-cluster-load: load and failover checks against a cluster started by
 * examples/server/cluster/run.sh (loopback only; bounded). It reads the cluster from the
 * environment run.sh sets (ITS_CLUSTER_URL, ITS_PROM_URL, ITS_REPLICA_URLS, ITS_REPLICA_PIDS) and
 * takes its cluster figures (served, cache hits and misses, HAProxy retries, cluster p95) from
 * Prometheus' HTTP API, not from the servers.
 *
 *   its-cluster-load load --rate R --seconds S [--keys K] [--profile P] [--deadline-ms D]
 *                         [--sla-ms X] [--seed N]
 *       open loop at R requests/s for S seconds; each request carries one of K affinity keys
 *       (0 = none), drawn uniformly; prints client p50/p95/p99, throughput and refusals, then
 *       the Prometheus figures, then one `RESULT k=v ...` line.
 *   its-cluster-load failover [--requests N] [--concurrency C] [--keys K] [--kill-index I]
 *       N requests (profile standard, seeds 1..N, no deadline) from C clients; once N/4 are
 *       answered and replica I has a request running, replica I is killed with SIGKILL. Every
 *       request must be answered (0 lost) and every answer must be bit-identical to the same
 *       request re-run directly on a surviving replica. Exit 1 otherwise.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#define MAX_REQ 20000
#define MAX_INFLIGHT 256
#define MAX_REPLICAS 16

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    nanosleep(&ts, NULL);
}

/* "http://127.0.0.1:PORT" -> PORT (loopback only), 0 when it is not such a URL. */
static unsigned url_port(const char *url)
{
    const char *p = url ? strstr(url, "://127.0.0.1:") : NULL;
    return p ? (unsigned)atoi(p + 13) : 0;
}

/* One HTTP/1.1 exchange on a fresh loopback connection (Connection: close). Returns the status
 * or -1; the body (malloc'd) in *out. A 300 s receive bound keeps a stuck server from hanging
 * the run. */
static int http(unsigned port, const char *method, const char *path, const char *body,
                char **out)
{
    *out = NULL;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {300, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(s);
        return -1;
    }
    size_t bl = body ? strlen(body) : 0;
    size_t cap = 512 + bl;
    char *req = malloc(cap);
    int n = snprintf(req, cap,
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                     method, path, bl, body ? body : "");
    ssize_t sent = send(s, req, (size_t)n, MSG_NOSIGNAL);
    free(req);
    if (sent != n) {
        close(s);
        return -1;
    }
    size_t len = 0, rcap = 1 << 16;
    char *buf = malloc(rcap + 1);
    for (;;) {
        if (len == rcap)
            buf = realloc(buf, (rcap *= 2) + 1);
        ssize_t k = recv(s, buf + len, rcap - len, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
    }
    close(s);
    buf[len] = 0;
    char *sep = strstr(buf, "\r\n\r\n");
    if (len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || !sep) {
        free(buf);
        return -1;
    }
    int code = atoi(buf + 9);
    memmove(buf, sep + 4, len - (size_t)(sep + 4 - buf) + 1);
    *out = buf;
    return code;
}

/* ---- Prometheus HTTP API ---- */
static unsigned prom_port;

static void url_encode(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && o + 4 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.~", *p))
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", *p);
    }
    out[o] = 0;
}

/* The value of an instant query that returns one sample; NAN when none. */
static double prom_query(const char *q)
{
    if (!prom_port)
        return NAN;
    char enc[2048], path[2200];
    url_encode(q, enc, sizeof(enc));
    snprintf(path, sizeof(path), "/api/v1/query?query=%s", enc);
    char *body = NULL;
    double v = NAN;
    if (http(prom_port, "GET", path, NULL, &body) == 200) {
        cJSON *o = cJSON_Parse(body);
        cJSON *res = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "data"),
                                                      "result");
        cJSON *first = cJSON_GetArrayItem(res, 0);
        cJSON *val = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(first, "value"), 1);
        if (cJSON_IsString(val))
            v = strtod(val->valuestring, NULL);
        cJSON_Delete(o);
    }
    free(body);
    return v;
}

/* Waits for a scrape after now (scrape interval 1 s in run.sh). */
static void prom_settle(void)
{
    sleep_s(2.5);
}

/* ---- requests ---- */
typedef struct rec {
    double t_send, t_end, latency_ms;
    int code;
    char profile[16];
    char *sample; /* the "sample" array as JSON text, with the score */
} rec;

typedef struct run {
    unsigned port;
    rec *r;
    int n;
    atomic_int next, inflight, answered;
    int keys;
    const char *profile;
    double deadline_ms;
    uint64_t seed;
    double t0;
} run;

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void body_of(const run *R, int i, const char *profile, char *out, size_t cap)
{
    char key[48] = "";
    if (R->keys > 0)
        snprintf(key, sizeof(key), ", \"affinity\": \"key-%llu\"",
                 (unsigned long long)(mix64(R->seed * 7919u + (uint64_t)i) % (uint64_t)R->keys));
    char dl[48] = "";
    if (R->deadline_ms > 0)
        snprintf(dl, sizeof(dl), ", \"deadline_ms\": %g", R->deadline_ms);
    snprintf(out, cap, "{\"task\": \"gmm\", \"profile\": \"%s\", \"seed\": %llu%s%s}", profile,
             (unsigned long long)(R->seed * 1000003u + (uint64_t)i), key, dl);
}

/* The sample and score of a 200 answer as one comparable text; the profile used. */
static char *answer_text(const char *body, char *profile, size_t pcap)
{
    cJSON *o = cJSON_Parse(body);
    cJSON *smp = cJSON_GetObjectItemCaseSensitive(o, "sample");
    cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "score");
    cJSON *pr = cJSON_GetObjectItemCaseSensitive(o, "profile");
    char *out = NULL;
    if (smp && sc) {
        char *a = cJSON_PrintUnformatted(smp), *b = cJSON_PrintUnformatted(sc);
        size_t n = strlen(a) + strlen(b) + 4;
        out = malloc(n);
        snprintf(out, n, "%s|%s", a, b);
        free(a);
        free(b);
    }
    if (profile)
        snprintf(profile, pcap, "%s", cJSON_IsString(pr) ? pr->valuestring : "");
    cJSON_Delete(o);
    return out;
}

static void one(run *R, int i)
{
    rec *r = &R->r[i];
    char body[256];
    body_of(R, i, R->profile, body, sizeof(body));
    char *resp = NULL;
    r->t_send = mono() - R->t0;
    r->code = http(R->port, "POST", "/v1/generate", body, &resp);
    r->t_end = mono() - R->t0;
    r->latency_ms = (r->t_end - r->t_send) * 1e3;
    if (r->code == 200)
        r->sample = answer_text(resp, r->profile, sizeof(r->profile));
    free(resp);
    atomic_fetch_add(&R->answered, 1);
}

typedef struct job {
    run *R;
    int i;
} job;

static void *one_main(void *arg)
{
    job *j = arg;
    one(j->R, j->i);
    atomic_fetch_sub(&j->R->inflight, 1);
    free(j);
    return NULL;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(const double *v, int n, double q)
{
    if (n == 0)
        return NAN;
    int k = (int)ceil(q * n);
    return v[k > 0 ? k - 1 : 0];
}

/* ---- load ---- */
static int cmd_load(double rate, double seconds, int keys, const char *profile, double deadline,
                    double sla, uint64_t seed)
{
    run R = {.port = url_port(getenv("ITS_CLUSTER_URL")), .keys = keys, .profile = profile,
             .deadline_ms = deadline, .seed = seed};
    if (!R.port) {
        fprintf(stderr, "its-cluster-load: ITS_CLUSTER_URL is not a loopback URL\n");
        return 2;
    }
    /* baselines: counters of a previous run in the same cluster are subtracted */
    double hits0 = prom_query("sum(itscale_key_cache_hits_total{job=\"itscale\"})"),
           miss0 = prom_query("sum(itscale_key_cache_misses_total{job=\"itscale\"})"),
           served0 = prom_query("sum(itscale_requests_served_total{job=\"itscale\"})");
    R.n = (int)(rate * seconds);
    if (R.n > MAX_REQ)
        R.n = MAX_REQ;
    R.r = calloc((size_t)R.n, sizeof(rec));
    int dropped = 0;
    R.t0 = mono();
    for (int i = 0; i < R.n; i++) {
        sleep_s(R.t0 + i / rate - mono());
        if (atomic_load(&R.inflight) >= MAX_INFLIGHT) {
            R.r[i].code = -2; /* not sent: the client's own bound */
            dropped++;
            continue;
        }
        atomic_fetch_add(&R.inflight, 1);
        job *j = malloc(sizeof(*j));
        *j = (job){&R, i};
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 256 * 1024);
        if (pthread_create(&th, &at, one_main, j) != 0) {
            atomic_fetch_sub(&R.inflight, 1);
            R.r[i].code = -1;
            free(j);
        }
        pthread_attr_destroy(&at);
    }
    for (int k = 0; k < 30000 && atomic_load(&R.inflight) > 0; k++)
        sleep_s(0.01);
    double span = mono() - R.t0;
    double *lat = malloc(sizeof(double) * (size_t)R.n);
    int ok = 0, r429 = 0, r503 = 0, other = 0;
    for (int i = 0; i < R.n; i++) {
        if (R.r[i].code == 200)
            lat[ok++] = R.r[i].latency_ms;
        else if (R.r[i].code == 429)
            r429++;
        else if (R.r[i].code == 503)
            r503++;
        else
            other++;
    }
    qsort(lat, (size_t)ok, sizeof(double), cmp_d);
    double p50 = pct(lat, ok, 0.5), p95 = pct(lat, ok, 0.95), p99 = pct(lat, ok, 0.99);
    prom_settle();
    double hits = prom_query("sum(itscale_key_cache_hits_total{job=\"itscale\"})") - hits0,
           miss = prom_query("sum(itscale_key_cache_misses_total{job=\"itscale\"})") - miss0,
           served = prom_query("sum(itscale_requests_served_total{job=\"itscale\"})") - served0,
           p95c = prom_query("itscale:request_duration_seconds:p95_30s");
    printf("offered %.1f req/s for %.1f s (%d requests, %d keys, profile %s, deadline %g ms)\n",
           rate, seconds, R.n, keys, profile, deadline);
    printf("  client: served %d (%.1f/s), 429 %d, 503 %d, other %d; p50 %.1f p95 %.1f p99 %.1f ms"
           " (SLA %g)\n", ok, ok / span, r429, r503, other + dropped, p50, p95, p99, sla);
    printf("  prometheus: served %.0f, key cache hits %.0f misses %.0f (hit ratio %.3f), "
           "cluster p95 (histogram, 30 s) %.3f s\n",
           served, hits, miss, hits + miss > 0 ? hits / (hits + miss) : NAN, p95c);
    printf("RESULT rate=%.2f seconds=%.1f sent=%d served=%d thr=%.3f p50=%.2f p95=%.2f p99=%.2f "
           "r429=%d r503=%d other=%d prom_served=%.0f hits=%.0f misses=%.0f hit_ratio=%.4f "
           "cluster_p95_s=%.4f\n",
           rate, seconds, R.n, ok, ok / span, p50, p95, p99, r429, r503, other + dropped, served,
           hits, miss, hits + miss > 0 ? hits / (hits + miss) : NAN, p95c);
    for (int i = 0; i < R.n; i++)
        free(R.r[i].sample);
    free(R.r);
    free(lat);
    return 0;
}

/* ---- failover ---- */
typedef struct closed_loop {
    run *R;
} closed_loop;

static void *closed_main(void *arg)
{
    run *R = arg;
    for (;;) {
        int i = atomic_fetch_add(&R->next, 1);
        if (i >= R->n)
            break;
        one(R, i);
    }
    return NULL;
}

static long metric_of(unsigned port, const char *name)
{
    char *body = NULL;
    long v = -1;
    if (http(port, "GET", "/metrics", NULL, &body) == 200) {
        char key[128];
        snprintf(key, sizeof(key), "\n%s ", name);
        const char *p = strstr(body, key);
        if (p)
            v = atol(p + strlen(key));
    }
    free(body);
    return v;
}

static int cmd_failover(int n, int conc, int keys, int kill_index)
{
    run R = {.port = url_port(getenv("ITS_CLUSTER_URL")), .n = n, .keys = keys,
             .profile = "standard", .seed = 1};
    const char *pids_env = getenv("ITS_REPLICA_PIDS"), *urls_env = getenv("ITS_REPLICA_URLS");
    pid_t pids[MAX_REPLICAS];
    unsigned ports[MAX_REPLICAS];
    int np = 0, nu = 0;
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", pids_env ? pids_env : "");
    for (char *t = strtok(buf, " "); t && np < MAX_REPLICAS; t = strtok(NULL, " "))
        pids[np++] = (pid_t)atol(t);
    snprintf(buf, sizeof(buf), "%s", urls_env ? urls_env : "");
    for (char *t = strtok(buf, " "); t && nu < MAX_REPLICAS; t = strtok(NULL, " "))
        ports[nu++] = url_port(t);
    if (!R.port || np < 2 || np != nu || kill_index < 0 || kill_index >= np) {
        fprintf(stderr, "its-cluster-load failover: needs run.sh's environment with >= 2 "
                        "replicas and --kill-index in range\n");
        return 2;
    }
    double retr0 = prom_query("sum(haproxy_backend_retry_warnings_total{proxy=\"replicas\"})"),
           redis0 = prom_query("sum(haproxy_backend_redispatch_warnings_total{proxy=\"replicas\"})");
    R.r = calloc((size_t)n, sizeof(rec));
    R.t0 = mono();
    pthread_t th[64];
    if (conc > 64)
        conc = 64;
    for (int c = 0; c < conc; c++)
        pthread_create(&th[c], NULL, closed_main, &R);
    /* a quarter answered, and the victim busy: then SIGKILL */
    double t_kill = NAN;
    for (int k = 0; k < 60000; k++) {
        if (atomic_load(&R.answered) >= n / 4 &&
            metric_of(ports[kill_index], "itscale_requests_running") > 0) {
            t_kill = mono() - R.t0;
            kill(pids[kill_index], SIGKILL);
            break;
        }
        if (atomic_load(&R.answered) >= n)
            break;
        sleep_s(0.002);
    }
    for (int c = 0; c < conc; c++)
        pthread_join(th[c], NULL);
    double span = mono() - R.t0;
    /* the reference: each request again, directly on a surviving replica, at the profile the
     * cluster's answer used */
    unsigned ref = ports[kill_index == 0 ? 1 : 0];
    int answered = 0, lost = 0, same = 0, differ = 0;
    double before[MAX_REQ], across[MAX_REQ];
    int nb = 0, na = 0;
    for (int i = 0; i < n; i++) {
        rec *r = &R.r[i];
        if (r->code != 200) {
            lost++;
            fprintf(stderr, "request %d: status %d\n", i, r->code);
            continue;
        }
        answered++;
        if (r->t_end < t_kill || isnan(t_kill))
            before[nb++] = r->latency_ms;
        else if (r->t_send <= t_kill)
            across[na++] = r->latency_ms;
        char body[256], *resp = NULL, prof[16];
        body_of(&R, i, r->profile, body, sizeof(body));
        int code = http(ref, "POST", "/v1/generate", body, &resp);
        char *txt = code == 200 ? answer_text(resp, prof, sizeof(prof)) : NULL;
        if (txt && r->sample && !strcmp(txt, r->sample) && !strcmp(prof, r->profile)) {
            same++;
        } else {
            differ++;
            fprintf(stderr, "request %d: the cluster's answer (profile %s) differs from the "
                            "reference (status %d, profile %s)\n",
                    i, r->profile, code, txt ? prof : "-");
        }
        free(txt);
        free(resp);
    }
    prom_settle();
    double retr = prom_query("sum(haproxy_backend_retry_warnings_total{proxy=\"replicas\"})") - retr0,
           redis = prom_query("sum(haproxy_backend_redispatch_warnings_total{proxy=\"replicas\"})") -
                   redis0;
    qsort(before, (size_t)nb, sizeof(double), cmp_d);
    qsort(across, (size_t)na, sizeof(double), cmp_d);
    printf("failover: %d requests from %d clients in %.1f s; replica %d (pid %d) killed with "
           "SIGKILL at %.2f s\n", n, conc, span, kill_index, (int)pids[kill_index], t_kill);
    printf("  answered %d, lost %d; bit-identical to a direct re-run %d, different %d\n",
           answered, lost, same, differ);
    printf("  HAProxy (from Prometheus): retries %.0f, redispatches %.0f\n", retr, redis);
    printf("  latency ms: before the kill p50 %.1f max %.1f; in flight across it (%d) p50 %.1f "
           "max %.1f\n", pct(before, nb, 0.5), nb ? before[nb - 1] : NAN, na, pct(across, na, 0.5),
           na ? across[na - 1] : NAN);
    printf("RESULT requests=%d answered=%d lost=%d identical=%d different=%d retries=%.0f "
           "redispatches=%.0f killed=%d\n", n, answered, lost, same, differ, retr, redis,
           !isnan(t_kill));
    for (int i = 0; i < n; i++)
        free(R.r[i].sample);
    free(R.r);
    return lost == 0 && differ == 0 && !isnan(t_kill) ? 0 : 1;
}

static void usage_to(FILE *f)
{
    fprintf(f,
            "usage: its-cluster-load load --rate R --seconds S [--keys K] [--profile P]\n"
            "                             [--deadline-ms D] [--sla-ms X] [--seed N]\n"
            "       its-cluster-load failover [--requests N] [--concurrency C] [--keys K]\n"
            "                                 [--kill-index I]\n"
            "(inside examples/server/cluster/run.sh, which sets ITS_CLUSTER_URL and the rest)\n");
}

static void usage(void) { usage_to(stderr); }

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage_to(stdout);
            return 0;
        }
    if (argc < 2) {
        usage();
        return 2;
    }
    prom_port = url_port(getenv("ITS_PROM_URL"));
    double rate = 10, seconds = 5, deadline = 0, sla = 500;
    int keys = 0, requests = 60, conc = 6, kill_index = 1;
    uint64_t seed = 1;
    const char *profile = "light";
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            usage();
            return 2;
        }
        if (!strcmp(a, "--rate")) rate = atof(v);
        else if (!strcmp(a, "--seconds")) seconds = atof(v);
        else if (!strcmp(a, "--keys")) keys = atoi(v);
        else if (!strcmp(a, "--profile")) profile = v;
        else if (!strcmp(a, "--deadline-ms")) deadline = atof(v);
        else if (!strcmp(a, "--sla-ms")) sla = atof(v);
        else if (!strcmp(a, "--seed")) seed = (uint64_t)atoll(v);
        else if (!strcmp(a, "--requests")) requests = atoi(v);
        else if (!strcmp(a, "--concurrency")) conc = atoi(v);
        else if (!strcmp(a, "--kill-index")) kill_index = atoi(v);
        else {
            usage();
            return 2;
        }
        i++;
    }
    if (!strcmp(argv[1], "load")) {
        if (!(rate > 0 && rate <= 2000 && seconds > 0 && seconds <= 600 && keys >= 0)) {
            fprintf(stderr, "its-cluster-load: --rate in (0, 2000], --seconds in (0, 600]\n");
            return 2;
        }
        return cmd_load(rate, seconds, keys, profile, deadline, sla, seed);
    }
    if (!strcmp(argv[1], "failover")) {
        if (!(requests >= 4 && requests <= MAX_REQ && conc >= 1)) {
            fprintf(stderr, "its-cluster-load: --requests in [4, %d], --concurrency >= 1\n",
                    MAX_REQ);
            return 2;
        }
        return cmd_failover(requests, conc, keys, kill_index);
    }
    usage();
    return 2;
}
