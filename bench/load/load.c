/*
 * its-load: a bounded open-loop load generator for itscale-server, on loopback only.
 *
 * It starts the server itself (three times: governor fitting each request to its NFE allotment,
 * governor with whole profiles, governor off) on 127.0.0.1 with a free port and
 * offers requests at a rate that ramps from idle to overload and back. Every request asks for
 * the heaviest profile with a deadline; a share is sheddable (priority -1). Per phase it prints
 * p50/p95/p99 latency of served requests, throughput, refusals, the profile mix and the mean
 * verifier score, then the same overall, side by side for the three settings.
 *
 *   its-load --server build/examples/server/itscale-server [--scale 1] [--seed 1]
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REQ 20000
#define MAX_INFLIGHT 96   /* client-side bound on concurrent connections */

typedef struct phase {
    const char *name;
    double seconds, rate; /* requests per second */
} phase;

static phase phases[] = {
    {"idle", 4, 2}, {"ramp", 4, 12}, {"overload", 8, 40}, {"recover", 4, 12}, {"idle", 6, 2},
};
#define N_PHASES (int)(sizeof(phases) / sizeof(phases[0]))

typedef struct rec {
    double t_send, latency_ms, score;
    int phase, code, profile; /* profile: 0 light, 1 standard, 2 heavy, -1 none */
    int degraded;
    int prio;
} rec;

typedef struct run {
    unsigned port;
    rec *r;
    atomic_int next;        /* records handed out */
    atomic_int inflight;
    int dropped[N_PHASES];  /* over MAX_INFLIGHT: not sent */
    double t0;
    double deadline_ms;
    double sheddable;       /* share with priority -1 */
    uint64_t seed;
} run;

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

/* One HTTP exchange on a fresh loopback connection; returns the status or -1; body in out. */
static int http(unsigned port, const char *method, const char *path, const char *body, char *out,
                size_t cap)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(s);
        return -1;
    }
    char req[1024];
    size_t bl = body ? strlen(body) : 0;
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     method, path, bl, body ? body : "");
    if (send(s, req, (size_t)n, MSG_NOSIGNAL) != n) {
        close(s);
        return -1;
    }
    size_t len = 0;
    for (;;) {
        ssize_t k = recv(s, out + len, cap - 1 - len, 0);
        if (k <= 0)
            break;
        len += (size_t)k;
        if (len == cap - 1)
            break;
    }
    close(s);
    out[len] = 0;
    if (len < 12 || strncmp(out, "HTTP/1.", 7) != 0)
        return -1;
    return atoi(out + 9);
}

typedef struct job {
    run *R;
    int idx;
} job;

static void *client(void *arg)
{
    job *j = arg;
    run *R = j->R;
    rec *r = &R->r[j->idx];
    char body[256];
    /* a deterministic share of sheddable requests */
    int prio = ((uint64_t)j->idx * 2654435761u % 1000) < (uint64_t)(R->sheddable * 1000) ? -1 : 0;
    r->prio = prio;
    snprintf(body, sizeof(body),
             "{\"task\": \"gmm\", \"profile\": \"heavy\", \"priority\": %d, \"deadline_ms\": %g,"
             " \"seed\": %llu}",
             prio, R->deadline_ms, (unsigned long long)(R->seed * 1000003u + (uint64_t)j->idx));
    char *buf = malloc(1 << 20);
    double t = mono();
    r->code = buf ? http(R->port, "POST", "/v1/generate", body, buf, 1 << 20) : -1;
    r->latency_ms = (mono() - t) * 1e3;
    r->profile = -1;
    r->score = NAN;
    if (r->code == 200) {
        const char *p = strstr(buf, "\"profile\":\"");
        if (p) {
            p += 11;
            r->profile = !strncmp(p, "light", 5) ? 0 : !strncmp(p, "standard", 8) ? 1 : 2;
        }
        const char *sc = strstr(buf, "\"score\":");
        if (sc)
            r->score = strtod(sc + 8, NULL);
        r->degraded = strstr(buf, "\"degraded\":true") != NULL;
    }
    free(buf);
    atomic_fetch_sub(&R->inflight, 1);
    free(j);
    return NULL;
}

/* governor: 0 off, 1 whole profiles (--no-fit), 2 fitted to the allotment (the default) */
static pid_t start_server(const char *path, int governor, double sla_ms, unsigned *port)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    char sla[32];
    snprintf(sla, sizeof(sla), "%g", sla_ms);
    const char *argv[] = {path, "--port", "0", "--workers", "2", "--queue", "64", "--nfe-cost-us",
                          "100", "--sla-ms", sla,
                          governor == 0 ? "--no-governor" : governor == 1 ? "--no-fit" : NULL,
                          NULL};
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    FILE *f = fdopen(fd[0], "r");
    char line[512] = "";
    if (!fgets(line, sizeof(line), f)) {
        fclose(f);
        return -1;
    }
    fclose(f);
    const char *p = strstr(line, "http://127.0.0.1:");
    if (!p)
        return -1;
    *port = (unsigned)atoi(p + 17);
    return pid;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double pct(double *v, int n, double q)
{
    if (n == 0)
        return NAN;
    int k = (int)ceil(q * n);
    return v[k > 0 ? k - 1 : 0];
}

typedef struct summary {
    int sent, ok, r429, r503, other, mix[3], degraded, dropped, refused_firm;
    double p50, p95, p99, thr, score, score_se, hit;
} summary;

static summary summarise(run *R, int n, int ph, double seconds)
{
    summary s = {0};
    double *lat = malloc(sizeof(double) * (size_t)(n + 1)), sum = 0, sq = 0;
    int nl = 0, ns = 0, hits = 0;
    for (int i = 0; i < n; i++) {
        rec *r = &R->r[i];
        if (ph >= 0 && r->phase != ph)
            continue;
        s.sent++;
        s.refused_firm += r->code != 200 && r->prio >= 0;
        if (r->code == 200) {
            s.ok++;
            lat[nl++] = r->latency_ms;
            if (r->profile >= 0)
                s.mix[r->profile]++;
            s.degraded += r->degraded;
            if (isfinite(r->score)) {
                sum += r->score;
                sq += r->score * r->score;
                ns++;
                hits += r->score > log(0.5); /* the target is the most likely component */
            }
        } else if (r->code == 429) {
            s.r429++;
        } else if (r->code == 503) {
            s.r503++;
        } else {
            s.other++;
        }
    }
    for (int p = 0; p < N_PHASES; p++)
        if (ph < 0 || p == ph)
            s.dropped += R->dropped[p];
    qsort(lat, (size_t)nl, sizeof(double), cmp_d);
    s.p50 = pct(lat, nl, 0.50);
    s.p95 = pct(lat, nl, 0.95);
    s.p99 = pct(lat, nl, 0.99);
    s.thr = s.ok / seconds;
    s.score = ns ? sum / ns : NAN;
    s.score_se = ns > 1 ? sqrt(fmax(0, (sq / ns - s.score * s.score)) / (ns - 1)) : NAN;
    s.hit = ns ? (double)hits / ns : NAN;
    free(lat);
    return s;
}

static void print_row(const char *name, double rate, const summary *s)
{
    int tot = s->mix[0] + s->mix[1] + s->mix[2];
    printf("%-9s %5.0f %5d %7.1f %5d %5d %8.1f %8.1f %8.1f   %3.0f/%3.0f/%3.0f %5d %8.3f %5.2f\n", name,
           rate, s->sent, s->thr, s->r429, s->r503 + s->other + s->dropped, s->p50, s->p95, s->p99,
           tot ? 100.0 * s->mix[0] / tot : 0, tot ? 100.0 * s->mix[1] / tot : 0,
           tot ? 100.0 * s->mix[2] / tot : 0, s->degraded, s->score, s->hit);
}

static int run_once(const char *path, int governor, double scale, double sla, uint64_t seed,
                    summary *total, summary *over)
{
    unsigned port = 0;
    pid_t pid = start_server(path, governor, sla, &port);
    if (pid <= 0) {
        fprintf(stderr, "its-load: cannot start %s\n", path);
        return -1;
    }
    run R = {.port = port, .deadline_ms = 2000, .sheddable = 0.25, .seed = seed};
    R.r = calloc(MAX_REQ, sizeof(rec));
    atomic_init(&R.next, 0);
    atomic_init(&R.inflight, 0);
    /* one warm-up request measures the NFE rate before the clock starts */
    char *buf = malloc(1 << 20);
    http(port, "POST", "/v1/generate", "{\"profile\": \"light\"}", buf, 1 << 20);
    R.t0 = mono();
    double t_phase = 0;
    char metrics_sample[4096] = "";
    static const char *const gname[3] = {"off", "on, whole profiles", "on, fitted"};
    printf("\ngovernor %s (sla_p95_ms %g; 2 workers; heavy = rbf 500 NFE, 100 us per NFE)\n",
           gname[governor], sla);
    printf("%-9s %5s %5s %7s %5s %5s %8s %8s %8s   %11s %5s %8s %5s\n", "phase", "req/s", "sent",
           "ok/s", "429", "503", "p50 ms", "p95 ms", "p99 ms", "mix l/s/h %", "degr", "score",
           "hit");
    for (int ph = 0; ph < N_PHASES; ph++) {
        double dur = phases[ph].seconds * scale, gap = 1.0 / phases[ph].rate;
        int start_idx = atomic_load(&R.next);
        for (double t = 0; t < dur; t += gap) {
            sleep_s(R.t0 + t_phase + t - mono());
            int idx = atomic_load(&R.next);
            if (idx >= MAX_REQ)
                break;
            if (atomic_load(&R.inflight) >= MAX_INFLIGHT) {
                R.dropped[ph]++;
                continue;
            }
            atomic_store(&R.next, idx + 1);
            R.r[idx].phase = ph;
            R.r[idx].t_send = mono() - R.t0;
            atomic_fetch_add(&R.inflight, 1);
            job *j = malloc(sizeof(*j));
            j->R = &R;
            j->idx = idx;
            pthread_t th;
            pthread_attr_t at;
            pthread_attr_init(&at);
            pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
            pthread_attr_setstacksize(&at, 256 * 1024);
            if (pthread_create(&th, &at, client, j) != 0) {
                atomic_fetch_sub(&R.inflight, 1);
                R.r[idx].code = -1;
                free(j);
            }
            pthread_attr_destroy(&at);
        }
        if (!strcmp(phases[ph].name, "overload")) {
            /* the gauges an endpoint picker reads, at the height of the overload */
            if (http(port, "GET", "/metrics", NULL, buf, 1 << 20) == 200) {
                char *b = strstr(buf, "\r\n\r\n");
                size_t off = 0;
                for (char *line = b ? strtok(b + 4, "\n") : NULL; line; line = strtok(NULL, "\n"))
                    if (line[0] != '#' && (strstr(line, "waiting") || strstr(line, "running") ||
                                           strstr(line, "outstanding") ||
                                           strstr(line, "governor") ||
                                           strstr(line, "nfe_per_second") ||
                                           strstr(line, "p95")))
                        off += (size_t)snprintf(metrics_sample + off, sizeof(metrics_sample) - off,
                                                "    %s\n", line);
            }
        }
        t_phase += dur;
        (void)start_idx;
    }
    /* let the last requests finish (bounded) */
    for (int i = 0; i < 3000 && atomic_load(&R.inflight) > 0; i++)
        sleep_s(0.01);
    int n = atomic_load(&R.next);
    for (int ph = 0; ph < N_PHASES; ph++) {
        summary s = summarise(&R, n, ph, phases[ph].seconds * scale);
        print_row(phases[ph].name, phases[ph].rate, &s);
        if (!strcmp(phases[ph].name, "overload"))
            *over = s;
    }
    *total = summarise(&R, n, -1, t_phase);
    print_row("all", (double)n / t_phase, total);
    printf("  metrics at the end of the overload phase:\n%s", metrics_sample);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(buf);
    free(R.r);
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = NULL;
    double scale = 1, sla = 500;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: its-load --server PATH [--scale X (0, 10]] [--sla-ms X] [--seed N]\n"
                   "Starts the server at PATH on a loopback port and drives it through idle, ramp,\n"
                   "overload and recovery phases with the governor fitted, with whole profiles and\n"
                   "off; prints latency, refusals and score per phase side by side.\n");
            return 0;
        }
        if (!strcmp(argv[i], "--server") && i + 1 < argc)
            path = argv[++i];
        else if (!strcmp(argv[i], "--scale") && i + 1 < argc)
            scale = atof(argv[++i]);
        else if (!strcmp(argv[i], "--sla-ms") && i + 1 < argc)
            sla = atof(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = (uint64_t)atoll(argv[++i]);
        else {
            fprintf(stderr, "usage: its-load --server PATH [--scale X] [--sla-ms X] [--seed N]\n");
            return 2;
        }
    }
    if (!path || !(scale > 0 && scale <= 10)) {
        fprintf(stderr, "usage: its-load --server PATH [--scale X (0, 10]] [--sla-ms X]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    printf("its-load: phases");
    for (int p = 0; p < N_PHASES; p++)
        printf(" %s %.0fs@%.0f/s", phases[p].name, phases[p].seconds * scale, phases[p].rate);
    printf("; every request asks for heavy with a 2000 ms deadline, 25%% sheddable\n");
    /* three servers in turn: governor fitting each request to its allotment (the default),
     * governor with whole profiles only (--no-fit), governor off */
    summary t[3], o[3];
    const int order[3] = {2, 1, 0};
    for (int k = 0; k < 3; k++)
        if (run_once(path, order[k], scale, sla, seed, &t[k], &o[k]))
            return 1;
    printf("\nsummary (served requests)        fitted     whole profiles     off\n");
    printf("  p95 latency ms (SLA %5.0f) %12.1f %14.1f %12.1f\n", sla, t[0].p95, t[1].p95, t[2].p95);
    printf("  p99 latency ms             %12.1f %14.1f %12.1f\n", t[0].p99, t[1].p99, t[2].p99);
    printf("  p95 / SLA                  %12.2f %14.2f %12.2f\n", t[0].p95 / sla, t[1].p95 / sla,
           t[2].p95 / sla);
    printf("  served / sent              %6d/%-5d %8d/%-5d %6d/%-5d\n", t[0].ok, t[0].sent, t[1].ok,
           t[1].sent, t[2].ok, t[2].sent);
    printf("  refused non-sheddable      %12d %14d %12d\n", t[0].refused_firm, t[1].refused_firm,
           t[2].refused_firm);
    printf("  mean score (+- s.e.)    %7.2f+-%.2f %9.2f+-%.2f %7.2f+-%.2f\n", t[0].score,
           t[0].score_se, t[1].score, t[1].score_se, t[2].score, t[2].score_se);
    printf("  overload: p95 ms           %12.1f %14.1f %12.1f\n", o[0].p95, o[1].p95, o[2].p95);
    printf("  overload: mean score    %7.2f+-%.2f %9.2f+-%.2f %7.2f+-%.2f\n", o[0].score,
           o[0].score_se, o[1].score, o[1].score_se, o[2].score, o[2].score_se);
    printf("  overload: hit rate         %12.3f %14.3f %12.3f\n", o[0].hit, o[1].hit, o[2].hit);
    double gap = o[2].score - o[1].score;
    printf("  overload: share of the whole-profiles -> off score gap recovered by fitting: %.2f\n",
           gap != 0 ? (o[0].score - o[1].score) / gap : NAN);
    return 0;
}
