/* Time and memory against NFE and dim, through a counting allocator on the context:
 *   - NFE sweep (steps 50 .. 5000 at fixed dim): time per NFE stays flat and the number of
 *     allocations of a run does not grow with the number of steps (no per-step allocation);
 *   - dim sweep (2 .. 65,536 at fixed steps): time per NFE grows linearly with dim once the
 *     fixed per-call cost is amortised, and peak memory = a + c * particles * dim, with the
 *     constant c (bytes per particle element) fitted by least squares.
 * With --check it runs a small sweep over every registered method and exits non-zero when the
 * allocation count of a run grows with its steps (registered with ctest; no timing asserted).
 * With --grid it times one method of each family (best_of_n; fk_smc, resampling; beam, look-ahead
 * tree; rbf, budget forcing) over dim 2 .. 1,048,576 and particles 1 .. 4,096 with a null model
 * and a one-float verifier, and splits each run's wall time into the callbacks' time (timed inside
 * them) and the library's (the rest); grid points whose particles x dim exceed --max-elems are
 * left out. The same run measures a single-thread STREAM triad (a = b + s c: 12 bytes per element,
 * the traffic of an Euler step x += h u) in cache and in DRAM, the memory bound the plot draws
 * (bench/scaling/plot_scaling.py). --csv FILE writes one row per grid point.
 * Usage: bench_scaling [--dim 4096] [--batch 8] [--reps 3] | bench_scaling --check
 *        bench_scaling --grid [--steps 8] [--max-elems 16777216] [--target-s 0.15] [--csv F]
 *                             [--method NAME] [--particles P]   (one method, one particle count) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "../bench_util.h"
#include "itscale.h"
#include "itscale/gmm.h"
#include "rng/rng.h"
#include "samplers/sampler.h"

/* ---- counting allocator (its_ctx_params.allocator) -------------------------------------- */
typedef struct counter {
    long calls;
    size_t live, peak;
} counter;

typedef struct block_head {
    size_t size;
    size_t pad;
} block_head;

static void *count_alloc(void *opaque, size_t size, size_t align)
{
    counter *c = opaque;
    /* a header in front of the block records its size; the block keeps the asked alignment */
    size_t off = align < sizeof(block_head) ? sizeof(block_head) : align;
    void *base = NULL;
    if (posix_memalign(&base, align < sizeof(void *) ? sizeof(void *) : align, size + off) != 0)
        return NULL;
    char *p = (char *)base + off;
    block_head *h = (block_head *)(void *)(p - sizeof(block_head));
    h->size = size;
    h->pad = off;
    c->calls++;
    c->live += size;
    if (c->live > c->peak)
        c->peak = c->live;
    return p;
}

static void count_free(void *opaque, void *ptr)
{
    counter *c = opaque;
    if (!ptr)
        return;
    block_head *h = (block_head *)(void *)((char *)ptr - sizeof(block_head));
    c->live -= h->size;
    free((char *)ptr - h->pad);
}

/* ---- models ------------------------------------------------------------------------------- */
static int null_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    (void)x;
    (void)t;
    memset(out, 0, n * *(const size_t *)user * sizeof(float));
    return 0;
}

static size_t score_dim;
static int cheap_score(void *user, const float *x0, size_t n, float *scores)
{
    (void)user;
    for (size_t i = 0; i < n; i++)
        scores[i] = x0[i * score_dim];
    return 0;
}

typedef struct run_stat {
    its_status st;
    double us_per_nfe; /* best of reps, wall clock of its_generate */
    uint64_t nfe;
    long allocs;       /* allocations during one its_generate */
    size_t peak;       /* peak live bytes during it, above what was live before */
} run_stat;

static run_stat measure(its_ctx *ctx, counter *cnt, its_method m, const void *params,
                        const its_run_params *run, const its_model *model,
                        const its_verifier *ver, int reps)
{
    run_stat r = {ITS_OK, 1e300, 0, 0, 0};
    its_sampler *s = NULL;
    if ((r.st = its_sampler_create(ctx, m, params, run, &s)) != ITS_OK)
        return r;
    for (int i = 0; i < reps; i++) {
        long calls0 = cnt->calls;
        size_t live0 = cnt->live;
        cnt->peak = live0;
        its_result *res = NULL;
        double t0 = its_bench_now_s();
        r.st = its_generate(s, model, ver, 7, &res);
        double t = its_bench_now_s() - t0;
        if (r.st != ITS_OK && r.st != ITS_CANCELLED)
            break;
        its_usage u;
        its_result_usage(res, &u);
        its_result_free(res);
        r.nfe = u.nfe;
        r.allocs = cnt->calls - calls0;
        r.peak = cnt->peak - live0;
        if (1e6 * t / (double)u.nfe < r.us_per_nfe)
            r.us_per_nfe = 1e6 * t / (double)u.nfe;
    }
    its_sampler_free(s);
    return r;
}

/* ---- sweeps ------------------------------------------------------------------------------- */
typedef union method_params {
    its_best_of_n_params bon;
    its_fk_smc_params fk;
    its_rbf_params rbf;
    its_beam_params beam;
} method_params;

/* The timed sweeps' methods: batch-sized particle sets. NFE of a run: steps * batch, except rbf
 * whose NFE is its budget (steps fixed at 10, max_nfe = steps_arg * batch). */
static const void *sweep_params(its_method m, size_t batch, int steps, method_params *p,
                                its_run_params *run)
{
    its_run_params_init(run);
    run->steps = steps;
    run->dynamics = ITS_DYN_SDE;
    switch (m) {
    case ITS_METHOD_BEST_OF_N:
        its_best_of_n_params_init(&p->bon);
        p->bon.n = (int)batch;
        return &p->bon;
    case ITS_METHOD_FK_SMC:
        its_fk_smc_params_init(&p->fk);
        p->fk.n = (int)batch;
        return &p->fk;
    case ITS_METHOD_RBF:
        its_rbf_params_init(&p->rbf);
        p->rbf.init = (int)batch / 2;
        p->rbf.speculative = (int)batch;
        run->steps = 10;
        run->max_nfe = (uint64_t)steps * batch;
        run->grid = ITS_GRID_EXP;
        run->convert = 1;
        return &p->rbf;
    default:
        return NULL;
    }
}

static int registered(its_method m)
{
    const its_method_vt *vt = its_method_vt_get(m);
    return vt && vt->run;
}

static void print_machine(void)
{
    printf("machine: %s; library %s; 1 thread\n", its_bench_cpu_model(), its_version());
}

static int sweep(its_ctx *ctx, counter *cnt, size_t dim0, size_t batch, int reps)
{
    const its_method methods[] = {ITS_METHOD_BEST_OF_N, ITS_METHOD_FK_SMC, ITS_METHOD_RBF};
    const int steps[] = {50, 100, 200, 500, 1000, 2000, 5000};
    int bad = 0;
    its_verifier v;
    its_verifier_init(&v);
    v.score = cheap_score;

    printf("\nNFE sweep: dim %zu, batch %zu, SDE; best of %d runs (rbf: 10 steps, NFE = its "
           "budget)\n",
           dim0, batch, reps);
    printf("  %-10s %6s %8s %11s %8s %12s\n", "method", "steps", "NFE", "us/NFE", "allocs",
           "peak bytes");
    size_t d = dim0;
    score_dim = dim0;
    its_model m;
    its_model_init(&m);
    m.dim = dim0;
    m.max_batch = batch;
    m.eval = null_eval;
    m.user = &d;
    for (size_t mi = 0; mi < sizeof methods / sizeof methods[0]; mi++) {
        if (!registered(methods[mi])) {
            printf("  %-10s skipped: not registered in this build\n", its_method_name(methods[mi]));
            continue;
        }
        long allocs0 = -1;
        double lo = 1e300, hi = 0;
        for (size_t si = 0; si < sizeof steps / sizeof steps[0]; si++) {
            method_params p;
            its_run_params run;
            const void *mp = sweep_params(methods[mi], batch, steps[si], &p, &run);
            /* NFE 50 .. 5000: steps 50 .. 5000 on one trajectory's worth of rows */
            if (methods[mi] != ITS_METHOD_RBF)
                run.steps = steps[si] / (int)batch > 2 ? steps[si] / (int)batch : 2;
            else
                run.max_nfe = (uint64_t)steps[si];
            run_stat r = measure(ctx, cnt, methods[mi], mp, &run, &m, &v, reps);
            if (r.st != ITS_OK) {
                printf("  %-10s %6d failed: %s\n", its_method_name(methods[mi]), run.steps,
                       its_ctx_errmsg(ctx));
                continue;
            }
            printf("  %-10s %6d %8llu %11.2f %8ld %12zu\n", its_method_name(methods[mi]),
                   run.steps, (unsigned long long)r.nfe, r.us_per_nfe, r.allocs, r.peak);
            if (allocs0 < 0)
                allocs0 = r.allocs;
            else if (r.allocs != allocs0)
                bad = 1;
            if (r.us_per_nfe < lo)
                lo = r.us_per_nfe;
            if (r.us_per_nfe > hi)
                hi = r.us_per_nfe;
        }
        printf("  %-10s time per NFE max/min %.2f; allocations %s with NFE\n",
               its_method_name(methods[mi]), hi / lo, bad ? "GROW" : "constant");
    }

    const size_t dims[] = {2, 16, 256, 4096, 16384, 65536};
    const int dsteps = 20;
    printf("\ndim sweep: %d steps, batch %zu, SDE; best of %d runs\n", dsteps, batch, reps);
    printf("  %-10s %6s %8s %11s %13s %8s %12s %10s\n", "method", "dim", "NFE", "us/NFE",
           "ns/(NFE*dim)", "allocs", "peak bytes", "B/(n*dim)");
    for (size_t mi = 0; mi < sizeof methods / sizeof methods[0]; mi++) {
        if (!registered(methods[mi]))
            continue;
        /* least squares of peak on particles * dim */
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        int k = 0;
        size_t rows = 0;
        for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
            d = dims[di];
            score_dim = d;
            m.dim = d;
            method_params p;
            its_run_params run;
            const void *mp = sweep_params(methods[mi], batch, dsteps, &p, &run);
            run_stat r = measure(ctx, cnt, methods[mi], mp, &run, &m, &v, reps);
            if (r.st != ITS_OK) {
                printf("  %-10s %6zu failed: %s\n", its_method_name(methods[mi]), d,
                       its_ctx_errmsg(ctx));
                continue;
            }
            /* per particle of the batch (each method holds a few sets of batch rows) */
            rows = batch;
            double x = (double)rows * (double)d, y = (double)r.peak;
            sx += x;
            sy += y;
            sxx += x * x;
            sxy += x * y;
            k++;
            printf("  %-10s %6zu %8llu %11.2f %13.3f %8ld %12zu %10.2f\n",
                   its_method_name(methods[mi]), d, (unsigned long long)r.nfe, r.us_per_nfe,
                   1e3 * r.us_per_nfe / (double)d, r.allocs, r.peak, y / x);
        }
        if (k >= 2) {
            double c = (k * sxy - sx * sy) / (k * sxx - sx * sx), a = (sy - c * sx) / k;
            printf("  %-10s peak bytes = %.0f + %.2f * %zu * dim  (%.2f floats per particle "
                   "element)\n",
                   its_method_name(methods[mi]), a, c, rows, c / 4.0);
        }
    }
    return bad;
}

/* ---- cost grid: time per NFE against dim and particles ----------------------------------- */
/* Callbacks that time themselves: the library's time of a run is its wall time less theirs. */
typedef struct timed_cb {
    size_t dim;
    double t;  /* seconds inside the callbacks */
    long calls;
} timed_cb;

static int timed_null_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    (void)x;
    (void)t;
    timed_cb *c = user;
    double t0 = its_bench_now_s();
    memset(out, 0, n * c->dim * sizeof(float));
    c->t += its_bench_now_s() - t0;
    c->calls++;
    return 0;
}

static int timed_score(void *user, const float *x0, size_t n, float *scores)
{
    timed_cb *c = user;
    double t0 = its_bench_now_s();
    for (size_t i = 0; i < n; i++)
        scores[i] = x0[i * c->dim];
    c->t += its_bench_now_s() - t0;
    return 0;
}

/* Single-thread STREAM triad over n floats per array: bytes counted 12 per element (2 reads,
 * 1 write, as STREAM counts them); the best of reps passes, after one untimed pass. */
static double triad_gbs(size_t n, int reps)
{
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *c = malloc(n * sizeof *c);
    if (!a || !b || !c) {
        free(a);
        free(b);
        free(c);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        a[i] = 0;
        b[i] = (float)(i & 1023);
        c[i] = 1.0f;
    }
    double best = 1e300;
    for (int r = -1; r < reps; r++) {
        double t0 = its_bench_now_s();
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] + 0.5f * c[i];
        double t = its_bench_now_s() - t0;
        __asm__ __volatile__("" : : "r"(a) : "memory");
        if (r >= 0 && t < best)
            best = t;
    }
    free(a);
    free(b);
    free(c);
    return 12.0 * (double)n / best * 1e-9;
}

/* Rows per model call P for every method: best_of_n and fk_smc n = P; beam P/4 beams x 4
 * children (1 x 1 at P = 1, 1 x 2 at P = 2); rbf P chains in lockstep, one initial noise, one
 * proposal per round, a budget of 1 + 2 steps per chain (quota Q = 2). */
static const void *grid_params(its_method m, int P, int steps, method_params *p,
                               its_run_params *run)
{
    its_run_params_init(run);
    run->steps = steps;
    run->dynamics = ITS_DYN_SDE;
    switch (m) {
    case ITS_METHOD_BEST_OF_N:
        its_best_of_n_params_init(&p->bon);
        p->bon.n = P;
        return &p->bon;
    case ITS_METHOD_FK_SMC:
        its_fk_smc_params_init(&p->fk);
        p->fk.n = P;
        return &p->fk;
    case ITS_METHOD_BEAM:
        its_beam_params_init(&p->beam);
        p->beam.children = P >= 4 ? 4 : P;
        p->beam.beams = P >= 4 ? P / 4 : 1;
        return &p->beam;
    case ITS_METHOD_RBF:
        its_rbf_params_init(&p->rbf);
        p->rbf.chains = P;
        p->rbf.init = 1;
        p->rbf.speculative = 1;
        run->max_nfe = (uint64_t)P * (1 + 2 * (uint64_t)steps);
        return &p->rbf;
    default:
        return NULL;
    }
}

typedef struct grid_stat {
    its_status st;
    double total_s, lib_s, cb_s; /* of the fastest run */
    uint64_t nfe;
    long calls, reps;
    size_t peak;
} grid_stat;

/* Runs until about target_s has passed (at least 3 runs after a warm-up, at most 400) and keeps
 * the run with the least library time. */
static grid_stat grid_measure(its_ctx *ctx, counter *cnt, its_method m, const void *params,
                              const its_run_params *run, const its_model *model,
                              const its_verifier *ver, timed_cb *cb, double target_s)
{
    grid_stat g = {ITS_OK, 0, 1e300, 0, 0, 0, 0, 0};
    its_sampler *s = NULL;
    if ((g.st = its_sampler_create(ctx, m, params, run, &s)) != ITS_OK)
        return g;
    double spent = 0;
    for (int i = -1; i < 400; i++) {
        size_t live0 = cnt->live;
        cnt->peak = live0;
        cb->t = 0;
        cb->calls = 0;
        its_result *res = NULL;
        double t0 = its_bench_now_s();
        g.st = its_generate(s, model, ver, 11, &res);
        double t = its_bench_now_s() - t0;
        if (g.st != ITS_OK) {
            its_result_free(res);
            break;
        }
        its_usage u;
        its_result_usage(res, &u);
        its_result_free(res);
        spent += t;
        if (i < 0)
            continue; /* warm-up: first touch of the sampler's memory */
        g.reps = i + 1;
        if (t - cb->t < g.lib_s) {
            g.total_s = t;
            g.cb_s = cb->t;
            g.lib_s = t - cb->t;
            g.nfe = u.nfe;
            g.calls = cb->calls;
            g.peak = cnt->peak - live0;
        }
        if (i >= 2 && spent >= target_s)
            break;
    }
    its_sampler_free(s);
    return g;
}

/* "family F model M" from /proc/cpuinfo (the model name alone may not tell the generation) */
static void cpu_family_model(char *buf, size_t len)
{
    int fam = -1, mod = -1;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f) && (fam < 0 || mod < 0)) {
            char *p = strchr(line, ':');
            if (!p)
                continue;
            if (strncmp(line, "cpu family", 10) == 0)
                fam = atoi(p + 1);
            else if (strncmp(line, "model", 5) == 0 && (line[5] == '\t' || line[5] == ' '))
                mod = atoi(p + 1);
        }
        fclose(f);
    }
    snprintf(buf, len, "family %d model %d", fam, mod);
}

static int grid(its_ctx *ctx, counter *cnt, int steps, double max_elems, double target_s,
                const char *csv_path, const char *only_method, int only_p)
{
    const its_method methods[] = {ITS_METHOD_BEST_OF_N, ITS_METHOD_FK_SMC, ITS_METHOD_BEAM,
                                  ITS_METHOD_RBF};
    const int parts[] = {1, 4, 16, 64, 256, 1024, 4096};
    const size_t dims[] = {2, 8, 32, 128, 512, 2048, 8192, 32768, 131072, 524288, 1048576};
    enum { NM = sizeof methods / sizeof methods[0], NP = sizeof parts / sizeof parts[0],
           ND = sizeof dims / sizeof dims[0] };
    static double lib_ns[NM][NP][ND]; /* library ns per NFE and element; 0: not measured */

    /* memory bound: the triad in L1/L2 and in DRAM (3 arrays of 64 MiB) */
    double bw_cache = triad_gbs((size_t)1 << 12, 2000), bw_l2 = triad_gbs((size_t)1 << 15, 400),
           bw_dram = triad_gbs((size_t)1 << 24, 8);
    char fm[64];
    cpu_family_model(fm, sizeof fm);
    printf("cpu %s; simd: best path %s, in use %s (ITS_SIMD caps it)\n", fm,
           its_rng_isa_name(its_rng_isa_best()), its_rng_isa_name(its_rng_isa_active()));
    printf("triad, 1 thread, 12 B per element: %.1f GB/s at 3 x 16 KiB (L1), %.1f GB/s at "
           "3 x 128 KiB (L2), %.1f GB/s at 3 x 64 MiB (DRAM) -> %.3f / %.3f / %.3f ns per "
           "element\n",
           bw_cache, bw_l2, bw_dram, 12.0 / bw_cache, 12.0 / bw_l2, 12.0 / bw_dram);
    printf("\ncost grid: SDE, %d steps, null model (memset of its output) and a one-float "
           "verifier, both timed\ninside and taken out; library = wall - callbacks; the run with "
           "the least library time of\nabout %.2f s of runs; particles x dim <= %.0f\n",
           steps, target_s, max_elems);
    FILE *csv = NULL;
    if (csv_path) {
        csv = fopen(csv_path, "w");
        if (!csv) {
            fprintf(stderr, "bench_scaling: cannot write %s\n", csv_path);
            return 2;
        }
        fprintf(csv, "# machine: %s, %s\n", its_bench_cpu_model(), fm);
        fprintf(csv, "# simd_best=%s simd_used=%s triad_l1_gbs=%.3f triad_l2_gbs=%.3f "
                     "triad_dram_gbs=%.3f steps=%d\n",
                its_rng_isa_name(its_rng_isa_best()), its_rng_isa_name(its_rng_isa_active()),
                bw_cache, bw_l2, bw_dram, steps);
        fprintf(csv, "method,particles,dim,nfe,calls,reps,total_us_per_nfe,lib_us_per_nfe,"
                     "lib_ns_per_elem,cb_ns_per_elem,peak_bytes\n");
    }
    printf("  %-10s %5s %8s %7s %6s %12s %12s %11s %10s %12s\n", "method", "P", "dim", "NFE",
           "calls", "total us/NFE", "lib us/NFE", "lib ns/elem", "cb ns/elem", "peak bytes");
    double t_all = its_bench_now_s();
    int bad = 0;
    timed_cb cb = {0, 0, 0};
    its_verifier v;
    its_verifier_init(&v);
    v.score = timed_score;
    v.user = &cb;
    for (int mi = 0; mi < NM; mi++) {
        if (!registered(methods[mi])) {
            printf("  %-10s skipped: not registered in this build\n", its_method_name(methods[mi]));
            continue;
        }
        for (int pi = 0; pi < NP; pi++)
            for (int di = 0; di < ND; di++) {
                lib_ns[mi][pi][di] = 0;
                if ((double)parts[pi] * (double)dims[di] > max_elems ||
                    (only_method && strcmp(only_method, its_method_name(methods[mi]))) ||
                    (only_p && only_p != parts[pi]))
                    continue;
                cb.dim = dims[di];
                its_model m;
                its_model_init(&m);
                m.dim = dims[di];
                m.eval = timed_null_eval;
                m.user = &cb;
                method_params p;
                its_run_params run;
                const void *mp = grid_params(methods[mi], parts[pi], steps, &p, &run);
                grid_stat g = grid_measure(ctx, cnt, methods[mi], mp, &run, &m, &v, &cb,
                                           target_s);
                if (g.st != ITS_OK) {
                    printf("  %-10s %5d %8zu failed: %s\n", its_method_name(methods[mi]),
                           parts[pi], dims[di], its_ctx_errmsg(ctx));
                    bad = 1;
                    continue;
                }
                double nfe = (double)g.nfe, el = nfe * (double)dims[di];
                lib_ns[mi][pi][di] = 1e9 * g.lib_s / el;
                printf("  %-10s %5d %8zu %7llu %6ld %12.3f %12.3f %11.3f %10.3f %12zu\n",
                       its_method_name(methods[mi]), parts[pi], dims[di],
                       (unsigned long long)g.nfe, g.calls, 1e6 * g.total_s / nfe,
                       1e6 * g.lib_s / nfe, 1e9 * g.lib_s / el, 1e9 * g.cb_s / el, g.peak);
                if (csv)
                    fprintf(csv, "%s,%d,%zu,%llu,%ld,%ld,%.6g,%.6g,%.6g,%.6g,%zu\n",
                            its_method_name(methods[mi]), parts[pi], dims[di],
                            (unsigned long long)g.nfe, g.calls, g.reps, 1e6 * g.total_s / nfe,
                            1e6 * g.lib_s / nfe, 1e9 * g.lib_s / el, 1e9 * g.cb_s / el, g.peak);
                fflush(stdout);
            }
    }
    if (csv)
        fclose(csv);
    /* library ns per NFE and element, dim down, particles across */
    for (int mi = 0; mi < NM; mi++) {
        if (!registered(methods[mi]))
            continue;
        printf("\n%s: library ns per NFE per element (rows: dim; columns: particles; DRAM "
               "triad bound %.3f)\n  %8s", its_method_name(methods[mi]), 12.0 / bw_dram, "dim");
        for (int pi = 0; pi < NP; pi++)
            printf(" %8d", parts[pi]);
        printf("\n");
        for (int di = 0; di < ND; di++) {
            printf("  %8zu", dims[di]);
            for (int pi = 0; pi < NP; pi++)
                if (lib_ns[mi][pi][di] > 0)
                    printf(" %8.3f", lib_ns[mi][pi][di]);
                else
                    printf(" %8s", "-");
            printf("\n");
        }
    }
    printf("\ngrid wall time %.1f s\n", its_bench_now_s() - t_all);
    return bad;
}

/* Every registered method, steps T and 4T: the allocation count must not change. */
static int check(its_ctx *ctx, counter *cnt)
{
    const size_t dim = 24;
    double w[2] = {0.7, 0.3};
    double mu[2 * 24], sd[2 * 24];
    for (size_t j = 0; j < dim; j++) {
        mu[j] = -1.0;
        mu[dim + j] = 1.0;
        sd[j] = sd[dim + j] = 0.5;
    }
    its_gmm *g;
    if (its_gmm_create(ctx, dim, 2, w, mu, sd, &g) != ITS_OK)
        return 2;
    its_interp lin;
    its_interp_init(&lin, ITS_INTERP_LINEAR);
    its_model m;
    its_gmm_bind_model(g, &lin, ITS_PRED_VELOCITY, &m);
    its_verifier v;
    its_gmm_bind_logprob(g, 1, &v);
    int bad = 0, ran = 0;
    for (int mi = 0; mi < ITS_METHOD_COUNT_; mi++) {
        if (!registered((its_method)mi))
            continue;
        run_stat r[2];
        int steps[2] = {6, 24};
        for (int k = 0; k < 2; k++) {
            its_run_params run;
            its_run_params_init(&run);
            run.steps = steps[k];
            run.dynamics = ITS_DYN_SDE;
            run.max_nfe = (uint64_t)steps[k] * 64; /* budget-driven methods scale with steps */
            r[k] = measure(ctx, cnt, (its_method)mi, NULL, &run, &m, &v, 1);
        }
        if (r[0].st != ITS_OK || r[1].st != ITS_OK) {
            printf("%-18s skipped: %s\n", its_method_name((its_method)mi), its_ctx_errmsg(ctx));
            continue;
        }
        ran++;
        int grows = r[1].allocs != r[0].allocs;
        bad |= grows;
        printf("%-18s steps %2d: %4llu NFE %4ld allocs; steps %2d: %5llu NFE %4ld allocs  %s\n",
               its_method_name((its_method)mi), steps[0], (unsigned long long)r[0].nfe,
               r[0].allocs, steps[1], (unsigned long long)r[1].nfe, r[1].allocs,
               grows ? "GROWS WITH STEPS" : "ok");
    }
    its_gmm_free(g);
    if (ran == 0) {
        printf("no method ran\n");
        return 1;
    }
    return bad;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bench_scaling [--dim d] [--batch b >= 2] [--reps r] | bench_scaling --check |\n");
            printf("       bench_scaling --grid [--steps s >= 2] [--max-elems e] [--target-s t] [--csv file]\n");
            printf("                            [--method m] [--particles p]\n");
            return 0;
        }
    size_t dim = 4096, batch = 8;
    int reps = 3, do_check = 0, do_grid = 0, steps = 8;
    double max_elems = 16777216, target_s = 0.15;
    const char *csv = NULL, *only_method = NULL;
    int only_p = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check"))
            do_check = 1;
        else if (!strcmp(argv[i], "--grid"))
            do_grid = 1;
        else if (i + 1 < argc && !strcmp(argv[i], "--steps"))
            steps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--max-elems"))
            max_elems = strtod(argv[++i], NULL);
        else if (i + 1 < argc && !strcmp(argv[i], "--target-s"))
            target_s = strtod(argv[++i], NULL);
        else if (i + 1 < argc && !strcmp(argv[i], "--csv"))
            csv = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--method"))
            only_method = argv[++i];
        else if (i + 1 < argc && !strcmp(argv[i], "--particles"))
            only_p = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(argv[i], "--dim"))
            dim = (size_t)strtoull(argv[++i], NULL, 10);
        else if (i + 1 < argc && !strcmp(argv[i], "--batch"))
            batch = (size_t)strtoull(argv[++i], NULL, 10);
        else if (i + 1 < argc && !strcmp(argv[i], "--reps"))
            reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_scaling [--dim d] [--batch b >= 2] [--reps r] | "
                            "bench_scaling --check | bench_scaling --grid [--steps s >= 2] "
                            "[--max-elems e] [--target-s t] [--csv file] [--method m] "
                            "[--particles p]\n");
            return 2;
        }
    }
    if (dim == 0 || batch < 2 || reps < 1 || steps < 2 || max_elems < 1 || target_s < 0) {
        fprintf(stderr, "bench_scaling: dim, reps, max-elems positive, batch and steps >= 2\n");
        return 2;
    }
    counter cnt = {0, 0, 0};
    its_ctx_params cp;
    its_ctx_params_init(&cp);
    cp.allocator.alloc = count_alloc;
    cp.allocator.free = count_free;
    cp.allocator.opaque = &cnt;
    its_ctx *ctx;
    if (its_ctx_create(&cp, &ctx) != ITS_OK)
        return 1;
    int rc;
    if (do_check) {
        rc = check(ctx, &cnt);
    } else if (do_grid) {
#ifdef __GLIBC__
        /* steady state of a long-running host: freed blocks stay mapped and are reused, so a
         * run's time is not its first touch of fresh pages (glibc would mmap and unmap every
         * block above 128 KiB, and each run allocates its particle sets anew) */
        mallopt(M_MMAP_THRESHOLD, 1 << 30);
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
        print_machine();
        rc = grid(ctx, &cnt, steps, max_elems, target_s, csv, only_method, only_p);
    } else {
        print_machine();
        rc = sweep(ctx, &cnt, dim, batch, reps);
    }
    its_ctx_free(ctx);
    return rc;
}
