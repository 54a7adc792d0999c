/* Library overhead per NFE, measured side by side in one run:
 *   - each method on a null model (the callback writes zeros) at batch 8: library time per NFE
 *     from the result's time split (library_s / nfe) and wall time per NFE;
 *   - the memory-traffic bound of the step's vector work: a STREAM triad a = b + s*c over the
 *     same rows x dim, with the same number of threads; an Euler step x = A x + B u moves the
 *     same 12 bytes per element, so bound = 12 * dim / triad bandwidth per NFE;
 *   - its_randn's throughput (ns per normal value) for the torch.randn comparison;
 *   - the library's share of the time on a model that does real work (two sgemms through a
 *     dim x hidden matrix per call), with OpenBLAS on the bench's thread count and at its own
 *     default count when that differs.
 * Lines starting with "KV " are read by overhead_torch.py, which prints the ratios.
 * --threads with a list (e.g. 1,2) compares the context's thread counts instead: every method
 * runs with each count in turn, round after round (--rounds), and the medians over the rounds
 * are printed side by side with the median per-round ratio.
 * Usage: bench_overhead [--dims 16384,65536] [--steps 100] [--reps 5] [--threads 1 | 1,2,...]
 *                       [--rounds 5] [--batch 8] [--hidden 256] */
#define _GNU_SOURCE
#include <cblas.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../bench_util.h"
#include "itscale.h"
#include "rng/rng.h"
#include "samplers/sampler.h"

/* OpenBLAS thread control (declared here: the pthread build exports them, whichever cblas.h the
 * system's alternatives chose). */
void openblas_set_num_threads(int n);
int openblas_get_num_threads(void);

/* ---- models and verifier ---------------------------------------------------------------- */
typedef struct null_model {
    size_t dim;
} null_model;

static int null_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    const null_model *m = user;
    (void)x;
    (void)t;
    memset(out, 0, n * m->dim * sizeof(float));
    return 0;
}

/* A model that does real work: out = x W W^T / dim, two sgemms through a dim x hidden W. */
typedef struct gemm_model {
    size_t dim, hidden, max_rows;
    float *w; /* dim x hidden */
    float *h; /* max_rows x hidden */
} gemm_model;

static int gemm_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    gemm_model *m = user;
    (void)t;
    const int d = (int)m->dim, hd = (int)m->hidden, rows = (int)n;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, hd, d, 1.0f, x, d, m->w, hd,
                0.0f, m->h, hd);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, d, hd, 1.0f / (float)d, m->h, hd,
                m->w, hd, 0.0f, out, d);
    return 0;
}

/* The verifier reads one value per row: its cost is the engine's, not the host's. */
static size_t verifier_dim;
static int cheap_score(void *user, const float *x0, size_t n, float *scores)
{
    (void)user;
    for (size_t i = 0; i < n; i++)
        scores[i] = x0[i * verifier_dim];
    return 0;
}

/* The null model over nm and the cheap verifier, as every timed run uses them. */
static void bind_null(null_model *nm, size_t batch, its_model *m, its_verifier *v)
{
    its_model_init(m);
    m->dim = nm->dim;
    m->max_batch = batch;
    m->eval = null_eval;
    m->user = nm;
    its_verifier_init(v);
    v->score = cheap_score;
}

/* ---- STREAM triad with the same thread count ------------------------------------------- */
typedef struct triad_job {
    float *a;
    const float *b, *c;
    size_t lo, hi;
    int reps;
    pthread_barrier_t *bar;
    double best;
} triad_job;

static void triad(float *a, const float *b, const float *c, float s, size_t lo, size_t hi)
{
    for (size_t j = lo; j < hi; j++)
        a[j] = b[j] + s * c[j];
}

static void *triad_worker(void *arg)
{
    triad_job *j = arg;
    j->best = 1e300;
    for (int r = 0; r < j->reps; r++) {
        pthread_barrier_wait(j->bar);
        double t0 = its_bench_now_s();
        triad(j->a, j->b, j->c, 0.5f, j->lo, j->hi);
        pthread_barrier_wait(j->bar);
        double t = its_bench_now_s() - t0;
        if (t < j->best)
            j->best = t;
    }
    return NULL;
}

/* Bytes per second of a = b + s c over n floats (12 bytes per element), best of reps. */
static double triad_bandwidth(size_t n, int threads, int reps)
{
    float *a = aligned_alloc(64, (n * 4 + 63) / 64 * 64), *b = aligned_alloc(64, (n * 4 + 63) / 64 * 64),
          *c = aligned_alloc(64, (n * 4 + 63) / 64 * 64);
    for (size_t j = 0; j < n; j++) {
        a[j] = 0.0f;
        b[j] = (float)(j % 13);
        c[j] = (float)(j % 7);
    }
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)threads);
    triad_job jobs[64];
    pthread_t tid[64];
    size_t per = (n / (size_t)threads + 15) / 16 * 16;
    for (int i = 0; i < threads; i++) {
        size_t lo = per * (size_t)i, hi = lo + per;
        jobs[i] = (triad_job){a, b, c, lo > n ? n : lo, hi > n ? n : hi, reps, &bar, 0.0};
        if (i > 0)
            pthread_create(&tid[i], NULL, triad_worker, &jobs[i]);
    }
    triad_worker(&jobs[0]);
    for (int i = 1; i < threads; i++)
        pthread_join(tid[i], NULL);
    pthread_barrier_destroy(&bar);
    free(a);
    free(b);
    free(c);
    /* the slowest thread bounds a parallel step */
    double t = 0.0;
    for (int i = 0; i < threads; i++)
        if (jobs[i].best > t)
            t = jobs[i].best;
    return 12.0 * (double)n / t;
}

/* ---- runs --------------------------------------------------------------------------------- */
typedef struct bench_case {
    const char *label;
    its_method method;
    its_dynamics dyn;
    size_t rows;      /* particles per model call */
    int bound;        /* 1: compare with the triad bound (ODE Euler step) */
} bench_case;

typedef struct run_out {
    its_status st;
    double lib_us, wall_us, model_us; /* per NFE, best of reps */
    uint64_t nfe;
    double faults;                    /* minor page faults per timed run */
} run_out;

static long minor_faults(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_minflt : 0;
}

typedef union method_params {
    its_best_of_n_params bon;
    its_fk_smc_params fk;
    its_rbf_params rbf;
} method_params;

static const void *case_params(const bench_case *c, size_t batch, method_params *p,
                               its_run_params *run, int steps)
{
    its_run_params_init(run);
    run->steps = steps;
    run->dynamics = c->dyn;
    switch (c->method) {
    case ITS_METHOD_BEST_OF_N:
        its_best_of_n_params_init(&p->bon);
        p->bon.n = (int)batch;
        return &p->bon;
    case ITS_METHOD_FK_SMC:
        its_fk_smc_params_init(&p->fk);
        p->fk.n = (int)batch;
        return &p->fk;
    case ITS_METHOD_RBF:
        /* batch-sized speculative proposals; the paper's conversion to vp and exp grid */
        its_rbf_params_init(&p->rbf);
        p->rbf.chains = 2;
        p->rbf.init = (int)batch / 2;
        p->rbf.speculative = (int)batch;
        run->grid = ITS_GRID_EXP;
        run->convert = 1;
        run->max_nfe = (uint64_t)batch * (uint64_t)steps;
        return &p->rbf;
    default:
        return NULL;
    }
}

static run_out run_case(its_ctx *ctx, const bench_case *c, its_model *m, const its_verifier *v,
                        size_t batch, int steps, int reps)
{
    run_out o = {ITS_OK, 1e300, 1e300, 1e300, 0, 0};
    long f0 = 0;
    method_params p;
    its_run_params run;
    const void *mp = case_params(c, batch, &p, &run, steps);
    its_sampler *s = NULL;
    if ((o.st = its_sampler_create(ctx, c->method, mp, &run, &s)) != ITS_OK)
        return o;
    for (int r = 0; r <= reps; r++) { /* r = 0 warms up */
        its_result *res = NULL;
        if (r == 1)
            f0 = minor_faults();
        double t0 = its_bench_now_s();
        o.st = its_generate(s, m, v, 42 + (uint64_t)r, &res);
        double wall = its_bench_now_s() - t0;
        if (o.st != ITS_OK) {
            its_sampler_free(s);
            return o;
        }
        its_usage u;
        its_result_usage(res, &u);
        its_result_free(res);
        if (r == 0)
            continue;
        double n = (double)u.nfe;
        o.nfe = u.nfe;
        if (1e6 * u.library_s / n < o.lib_us)
            o.lib_us = 1e6 * u.library_s / n;
        if (1e6 * wall / n < o.wall_us)
            o.wall_us = 1e6 * wall / n;
        if (1e6 * u.model_s / n < o.model_us)
            o.model_us = 1e6 * u.model_s / n;
    }
    o.faults = reps > 0 ? (double)(minor_faults() - f0) / reps : 0;
    its_sampler_free(s);
    return o;
}

static double randn_ns(size_t n, int reps)
{
    float *out = aligned_alloc(64, (n * 4 + 63) / 64 * 64);
    its_noise_key key = {7, its_lineage_root(3), 5};
    double best = 1e300;
    for (int r = 0; r < reps + 1; r++) {
        double t0 = its_bench_now_s();
        its_randn(out, n, &key, 0);
        double t = its_bench_now_s() - t0;
        if (r > 0 && t < best)
            best = t;
    }
    free(out);
    return 1e9 * best / (double)n;
}

static void print_machine(int threads)
{
    printf("machine: %s, %ld online cpus; rng path %s; library %s; threads %d\n",
           its_bench_cpu_model(),
           sysconf(_SC_NPROCESSORS_ONLN), its_rng_isa_name(its_rng_isa_active()), its_version(),
           threads);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

#define MAX_ROUNDS 64

/* Thread counts side by side: for each dim and method, `rounds` rounds; a round runs the method
 * with every thread count in turn (best of reps each), so load on a shared machine hits all
 * counts alike. Prints the median library and wall time per NFE of each count over the rounds,
 * and the median of the per-round ratios time(first count) / time(count). */
static int compare_threads(const size_t *dims, size_t n_dims, const int *tl, size_t n_tl,
                           size_t batch, int steps, int reps, int rounds)
{
    its_ctx *ctx[8] = {NULL};
    for (size_t k = 0; k < n_tl; k++) {
        its_ctx_params cp;
        its_ctx_params_init(&cp);
        cp.n_threads = tl[k];
        if (its_ctx_create(&cp, &ctx[k]) != ITS_OK) {
            fprintf(stderr, "cannot create a context with %d threads\n", tl[k]);
            return 1;
        }
    }
    const bench_case cases[] = {
        {"none ode", ITS_METHOD_NONE, ITS_DYN_ODE, 1, 1},
        {"none sde", ITS_METHOD_NONE, ITS_DYN_SDE, 1, 0},
        {"best_of_n ode", ITS_METHOD_BEST_OF_N, ITS_DYN_ODE, batch, 1},
        {"best_of_n sde", ITS_METHOD_BEST_OF_N, ITS_DYN_SDE, batch, 0},
        {"fk_smc sde", ITS_METHOD_FK_SMC, ITS_DYN_SDE, batch, 0},
        {"rbf sde", ITS_METHOD_RBF, ITS_DYN_SDE, batch, 0},
    };
    printf("thread counts side by side: median of %d rounds, each the best of %d runs per count\n",
           rounds, reps);
    for (size_t di = 0; di < n_dims; di++) {
        size_t dim = dims[di];
        verifier_dim = dim;
        printf("\ndim %zu\n  %-14s %5s", dim, "method", "rows");
        for (size_t k = 0; k < n_tl; k++)
            printf("   lib t=%-3d", tl[k]);
        for (size_t k = 1; k < n_tl; k++)
            printf("  lib t%d/t%-2d", tl[0], tl[k]);
        for (size_t k = 1; k < n_tl; k++)
            printf(" wall t%d/t%-2d", tl[0], tl[k]);
        printf("   (us/NFE)\n");
        null_model nm = {dim};
        its_model m;
        its_verifier v;
        bind_null(&nm, batch, &m, &v);
        for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
            const bench_case *c = &cases[ci];
            const its_method_vt *vt = its_method_vt_get(c->method);
            if (!vt || !vt->run)
                continue;
            double lib[8][MAX_ROUNDS], wall[8][MAX_ROUNDS], rl[8][MAX_ROUNDS], rw[8][MAX_ROUNDS];
            int failed = 0;
            for (int r = 0; r < rounds && !failed; r++)
                for (size_t k = 0; k < n_tl; k++) {
                    run_out o = run_case(ctx[k], c, &m, &v, batch, steps, reps);
                    if (o.st != ITS_OK) {
                        printf("  %-14s skipped: %s (%s)\n", c->label, its_status_str(o.st),
                               its_ctx_errmsg(ctx[k]));
                        failed = 1;
                        break;
                    }
                    lib[k][r] = o.lib_us;
                    wall[k][r] = o.wall_us - o.model_us;
                }
            if (failed)
                continue;
            for (size_t k = 1; k < n_tl; k++)
                for (int r = 0; r < rounds; r++) {
                    rl[k][r] = lib[0][r] / lib[k][r];
                    rw[k][r] = wall[0][r] / wall[k][r];
                }
            char kname[64];
            snprintf(kname, sizeof kname, "%s", c->label);
            for (char *q = kname; *q; q++)
                if (*q == ' ')
                    *q = '_';
            double ml[8], mrl[8], mrw[8];
            printf("  %-14s %5zu", c->label, c->rows);
            for (size_t k = 0; k < n_tl; k++)
                printf(" %11.2f", ml[k] = median(lib[k], rounds));
            for (size_t k = 1; k < n_tl; k++)
                printf(" %11.2fx", mrl[k] = median(rl[k], rounds));
            for (size_t k = 1; k < n_tl; k++)
                printf(" %11.2fx", mrw[k] = median(rw[k], rounds));
            printf("\n");
            for (size_t k = 0; k < n_tl; k++)
                printf("KV dim%zu.%s.t%d.lib_us %.4f\n", dim, kname, tl[k], ml[k]);
            for (size_t k = 1; k < n_tl; k++)
                printf("KV dim%zu.%s.t%d_over_t%d.lib %.4f\nKV dim%zu.%s.t%d_over_t%d.wall %.4f\n",
                       dim, kname, tl[0], tl[k], mrl[k], dim, kname, tl[0], tl[k], mrw[k]);
        }
    }
    for (size_t k = 0; k < n_tl; k++)
        its_ctx_free(ctx[k]);
    return 0;
}

static size_t parse_dims(const char *s, size_t *dims, size_t cap)
{
    size_t n = 0;
    while (*s && n < cap) {
        char *end;
        dims[n++] = (size_t)strtoull(s, &end, 10);
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s)
            break;
    }
    return n;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bench_overhead [--dims 16384,65536] [--steps 100] [--reps 5] [--threads 1 | 1,2,...]\n");
            printf("                      [--rounds 5] [--batch 8] [--hidden 256]\n");
            printf("Library time per NFE on a null model against the memory bound of the step\n");
            printf("(bench/overhead/run_overhead.sh adds the PyTorch comparison).\n");
            return 0;
        }
    size_t dims[8] = {16384, 65536};
    size_t n_dims = 2, batch = 8, hidden = 256;
    int steps = 100, reps = 5, threads = 1, rounds = 5;
    size_t tlist_raw[8] = {1};
    size_t n_tl = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dims"))
            n_dims = parse_dims(argv[i + 1], dims, 8);
        else if (!strcmp(argv[i], "--steps"))
            steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads"))
            n_tl = parse_dims(argv[i + 1], tlist_raw, 8);
        else if (!strcmp(argv[i], "--rounds"))
            rounds = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch"))
            batch = (size_t)strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--hidden"))
            hidden = (size_t)strtoull(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    int tl[8];
    int bad_threads = n_tl == 0;
    for (size_t k = 0; k < n_tl; k++) {
        bad_threads |= tlist_raw[k] < 1 || tlist_raw[k] > 64;
        tl[k] = (int)tlist_raw[k];
    }
    threads = n_tl ? tl[0] : 1;
    if (n_dims == 0 || steps < 2 || reps < 1 || bad_threads || batch < 2 || rounds < 1 ||
        rounds > MAX_ROUNDS) {
        fprintf(stderr, "usage: bench_overhead [--dims d1,d2] [--steps >= 2] [--reps >= 1] "
                        "[--threads 1..64 or a list n1,n2,...] [--rounds 1..64] [--batch >= 2] "
                        "[--hidden h]\n");
        return 2;
    }
    if (n_tl > 1) {
        print_machine(threads);
        printf("null model (writes zeros), batch %zu, %d steps\n", batch, steps);
        return compare_threads(dims, n_dims, tl, n_tl, batch, steps, reps, rounds);
    }
    print_machine(threads);
    const int blas_default = openblas_get_num_threads();
    printf("null model (writes zeros), batch %zu, %d steps, best of %d runs after a warm-up; "
           "OpenBLAS (the sgemm model's) defaults to %d thread%s here\n",
           batch, steps, reps, blas_default, blas_default == 1 ? "" : "s");
    printf("KV threads %d\nKV batch %zu\nKV steps %d\n", threads, batch, steps);

    its_ctx_params cp;
    its_ctx_params_init(&cp);
    cp.n_threads = threads;
    its_ctx *ctx;
    if (its_ctx_create(&cp, &ctx) != ITS_OK)
        return 1;

    const bench_case cases[] = {
        {"none ode", ITS_METHOD_NONE, ITS_DYN_ODE, 1, 1},
        {"none sde", ITS_METHOD_NONE, ITS_DYN_SDE, 1, 0},
        {"best_of_n ode", ITS_METHOD_BEST_OF_N, ITS_DYN_ODE, batch, 1},
        {"best_of_n sde", ITS_METHOD_BEST_OF_N, ITS_DYN_SDE, batch, 0},
        {"fk_smc sde", ITS_METHOD_FK_SMC, ITS_DYN_SDE, batch, 0},
        {"rbf sde", ITS_METHOD_RBF, ITS_DYN_SDE, batch, 0},
    };
    for (size_t di = 0; di < n_dims; di++) {
        size_t dim = dims[di];
        verifier_dim = dim;
        double bw1 = triad_bandwidth(dim, threads, 200);
        double bwb = triad_bandwidth(dim * batch, threads, 200);
        double rn = randn_ns(dim * batch, 50);
        printf("\ndim %zu: triad %.1f GB/s (1 x dim), %.1f GB/s (%zu x dim); its_randn %.3f "
               "ns/value (1 thread)\n",
               dim, bw1 * 1e-9, bwb * 1e-9, batch, rn);
        printf("KV dim%zu.triad1_GBs %.3f\nKV dim%zu.triadB_GBs %.3f\nKV dim%zu.its_randn_ns %.4f\n",
               dim, bw1 * 1e-9, dim, bwb * 1e-9, dim, rn);
        printf("  %-14s %5s %7s %11s %11s %11s %11s\n", "method", "rows", "nfe", "lib us/NFE",
               "wall us/NFE", "bound us", "lib/bound");

        null_model nm = {dim};
        its_model m;
        its_verifier v;
        bind_null(&nm, batch, &m, &v);
        for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
            const bench_case *c = &cases[ci];
            const char *key = c->label;
            char kname[64];
            snprintf(kname, sizeof kname, "%s", key);
            for (char *q = kname; *q; q++)
                if (*q == ' ')
                    *q = '_';
            const its_method_vt *vt = its_method_vt_get(c->method);
            if (!vt || !vt->run) {
                printf("  %-14s skipped: method not registered in this build\n", c->label);
                continue;
            }
            run_out o = run_case(ctx, c, &m, &v, batch, steps, reps);
            if (o.st != ITS_OK) {
                printf("  %-14s skipped: %s (%s)\n", c->label, its_status_str(o.st),
                       its_ctx_errmsg(ctx));
                continue;
            }
            double bound_us = 1e6 * 12.0 * (double)dim / (c->rows == 1 ? bw1 : bwb);
            if (c->bound)
                printf("  %-14s %5zu %7llu %11.2f %11.2f %11.2f %10.2fx\n", c->label, c->rows,
                       (unsigned long long)o.nfe, o.lib_us, o.wall_us - o.model_us, bound_us,
                       o.lib_us / bound_us);
            else
                printf("  %-14s %5zu %7llu %11.2f %11.2f %11s %11s\n", c->label, c->rows,
                       (unsigned long long)o.nfe, o.lib_us, o.wall_us - o.model_us, "-", "-");
            printf("KV dim%zu.%s.lib_us %.4f\nKV dim%zu.%s.wall_us %.4f\nKV dim%zu.%s.bound_us "
                   "%.4f\n",
                   dim, kname, o.lib_us, dim, kname, o.wall_us - o.model_us, dim, kname,
                   bound_us);
        }

        /* Latent blocks kept between runs (its_ctx_set_latent_cache) against none, on the same
         * context, side by side: repeated runs then reuse their particle sets instead of
         * faulting in fresh pages. */
        const bench_case *kept[] = {&cases[2], &cases[4]}; /* best_of_n ode, fk_smc sde */
        for (size_t ki = 0; ki < sizeof kept / sizeof kept[0]; ki++) {
            const bench_case *c = kept[ki];
            const its_method_vt *vt = its_method_vt_get(c->method);
            if (!vt || !vt->run)
                continue;
            its_ctx_set_latent_cache(ctx, 0);
            run_out off = run_case(ctx, c, &m, &v, batch, steps, reps);
            its_ctx_set_latent_cache(ctx, (size_t)64 << 20);
            run_out on = run_case(ctx, c, &m, &v, batch, steps, reps);
            if (off.st == ITS_OK && on.st == ITS_OK)
                printf("  latent cache, %-14s off %8.2f us/NFE %7.0f faults/run | on %8.2f "
                       "us/NFE %7.0f faults/run | on/off %.2fx\n",
                       c->label, off.lib_us, off.faults, on.lib_us, on.faults,
                       on.lib_us / off.lib_us);
        }

        /* a model with real work: the library's share of the run */
        gemm_model gm = {dim, hidden, batch, NULL, NULL};
        gm.w = malloc(dim * hidden * sizeof(float));
        gm.h = malloc(batch * hidden * sizeof(float));
        for (size_t j = 0; j < dim * hidden; j++)
            gm.w[j] = (float)((int)(j % 17) - 8) * 0.01f;
        its_model gmod = m;
        gmod.eval = gemm_eval;
        gmod.user = &gm;
        const bench_case work[] = {cases[2], cases[3]};
        /* The model's OpenBLAS threads: the bench's count first (one thread means one for the
         * model too), then OpenBLAS's own default where that differs. Each setting runs as a
         * block, back to back as a host would run it: a warm-up run, then three whose medians
         * are printed (the run with the smallest share would favour a run whose model happened
         * to be slow). OpenBLAS's workers keep spinning for about 0.13 s after their last
         * product (here; also after the count is lowered), so a block starts after 0.25 s of
         * busy waiting on this thread: the workers of the block before are asleep by then, and
         * the core is busy up to the run, as in a block, not idle. */
        int blas_n[2] = {threads, blas_default};
        size_t n_blas = blas_default != threads ? 2 : 1;
        for (size_t ci = 0; ci < 2; ci++) {
            method_params p;
            its_run_params run;
            const void *mp = case_params(&work[ci], batch, &p, &run, steps / 2);
            its_sampler *s;
            if (its_sampler_create(ctx, work[ci].method, mp, &run, &s) != ITS_OK) {
                printf("  gemm model: %s failed: %s\n", work[ci].label, its_ctx_errmsg(ctx));
                return 1;
            }
            double share[2][3], model_us[2][3], lib_us[2][3];
            for (size_t b = 0; b < n_blas; b++) {
                openblas_set_num_threads(blas_n[b]);
                for (double t_end = its_bench_now_s() + 0.25; its_bench_now_s() < t_end;)
                    ;
                for (int r = 0; r < 4; r++) {
                    its_result *res = NULL;
                    if (its_generate(s, &gmod, &v, 5, &res) != ITS_OK) {
                        printf("  gemm model: %s failed: %s\n", work[ci].label,
                               its_ctx_errmsg(ctx));
                        return 1;
                    }
                    its_usage u;
                    its_result_usage(res, &u);
                    its_result_free(res);
                    if (r > 0) {
                        share[b][r - 1] = 100.0 * u.library_s / u.total_s;
                        model_us[b][r - 1] = 1e6 * u.model_s / (double)u.nfe;
                        lib_us[b][r - 1] = 1e6 * u.library_s / (double)u.nfe;
                    }
                }
            }
            for (size_t b = 0; b < n_blas; b++)
                printf("  sgemm model (hidden %zu, OpenBLAS %d thread%s%s), %s: model %.1f us/NFE, "
                       "library %.2f us/NFE, library share %.2f%% (< 2%%; medians of 3)\n",
                       hidden, blas_n[b], blas_n[b] == 1 ? "" : "s",
                       blas_n[b] == blas_default ? ", its default" : "", work[ci].label,
                       median(model_us[b], 3), median(lib_us[b], 3), median(share[b], 3));
            its_sampler_free(s);
        }
        openblas_set_num_threads(blas_default);
        free(gm.w);
        free(gm.h);
    }
    its_ctx_free(ctx);
    return 0;
}
