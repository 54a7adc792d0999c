/*
 * Cross-request batching with the CPU models: is one model call over the rows of k requests
 * cheaper than k calls of their own rows? The scheduler could gather several requests' rows
 * into one host call; on a GPU a call costs about the same up to its batch limit, so that pays.
 * This measures it for the CLI's task models (gmm: the analytic mixture's velocity; digits: the
 * MLP flow model; fashion: the pixel flow network), one thread, the models' own code.
 *
 * For rows per request b and requests k: "separate" is k calls of b rows, "joined" one call of
 * k*b rows; each is the least of 7 repeats of about 20 ms of calls, in microseconds per row.
 * A ratio separate / joined well above 1 means joining pays. "same bits": whether the joined
 * call's output rows equal the separate calls' bit for bit (a batch that changes a request's
 * numbers makes its run depend on who else was in the batch).
 *
 * Usage: bench_batch [--digits-weights DIR] [--fashion-weights DIR] [--task NAME]
 * (a task whose weights are missing is trained on first use, as the CLI does; OPENBLAS_NUM_THREADS=1
 * keeps the models on one core, as each of the scheduler's workers is.)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../bench_util.h"
#include "itscale.h"
#include "task.h"

static int eval(const its_model *m, const float *x, const float *t, size_t n, float *out)
{
    if (m->eval_dim)
        return m->eval_dim(m->user, x, t, n, m->dim, out);
    return m->eval(m->user, x, t, n, out);
}

/* Seconds per call of calls calls of n rows each at x, the least of 7 repeats. */
static double time_calls(const its_model *m, const float *x, const float *t, float *out,
                         size_t n, size_t calls)
{
    size_t reps = 1;
    for (;;) { /* calibrate to about 20 ms */
        double t0 = its_bench_now_s();
        for (size_t r = 0; r < reps; r++)
            for (size_t c = 0; c < calls; c++)
                if (eval(m, x + c * n * m->dim, t + c * n, n, out + c * n * m->dim) != 0)
                    return -1.0;
        double dt = its_bench_now_s() - t0;
        if (dt > 0.02 || reps > (1u << 20))
            break;
        reps *= 2;
    }
    double best = INFINITY;
    for (int k = 0; k < 7; k++) {
        double t0 = its_bench_now_s();
        for (size_t r = 0; r < reps; r++)
            for (size_t c = 0; c < calls; c++)
                eval(m, x + c * n * m->dim, t + c * n, n, out + c * n * m->dim);
        double dt = (its_bench_now_s() - t0) / (double)reps;
        if (dt < best)
            best = dt;
    }
    return best;
}

static int bench_task(const its_task_vt *vt, const char *weights)
{
    its_ctx *ctx = NULL;
    if (its_ctx_create(NULL, &ctx) != ITS_OK) {
        fprintf(stderr, "bench_batch: no context\n");
        return 1;
    }
    its_task_value vals[32];
    if (vt->n_settings > 32)
        return 1;
    for (size_t i = 0; i < vt->n_settings; i++) {
        const its_task_setting *s = &vt->settings[i];
        vals[i].str = s->def;
        vals[i].num = s->type == ITS_TASK_STRING ? 0.0 : atof(s->def);
        if (strcmp(s->key, "weights") == 0 && weights)
            vals[i].str = weights;
        if (strcmp(s->key, "max_batch") == 0)
            vals[i].num = 0.0 < s->min ? s->max : 0.0; /* no limit, or the largest allowed */
    }
    its_task_inst inst;
    memset(&inst, 0, sizeof(inst));
    char err[512] = "";
    if (vt->create(ctx, vals, &inst, err, sizeof err) != 0) {
        fprintf(stderr, "bench_batch: task %s: %s\n", vt->name, err);
        its_ctx_free(ctx);
        return 1;
    }
    const its_model *m = &inst.model;
    const size_t max_rows = 256, dim = m->dim;
    float *x = malloc(max_rows * dim * sizeof(float)), *out = malloc(max_rows * dim * sizeof(float));
    float *t = malloc(max_rows * sizeof(float));
    int rc = 0;
    if (!x || !out || !t) {
        rc = 1;
        goto done;
    }
    uint64_t s = 12345;
    for (size_t i = 0; i < max_rows * dim; i++) { /* uniform in [-1.5, 1.5): latents' range */
        s = s * 6364136223846793005u + 1442695040888963407u;
        x[i] = (float)((double)(s >> 11) * 0x1p-53 * 3.0 - 1.5);
    }
    for (size_t i = 0; i < max_rows; i++)
        t[i] = (float)((double)(i % 97) / 97.0);
    printf("\ntask %s: dim %zu\n", vt->name, dim);
    printf("  rows/request  requests  separate us/row  joined us/row  separate/joined  same bits\n");
    const size_t bs[] = {1, 4, 16, 64};
    const size_t ks[] = {2, 4};
    for (size_t bi = 0; bi < sizeof bs / sizeof bs[0]; bi++)
        for (size_t ki = 0; ki < sizeof ks / sizeof ks[0]; ki++) {
            size_t b = bs[bi], k = ks[ki];
            if (b * k > max_rows)
                continue;
            double sep = time_calls(m, x, t, out, b, k), joined = time_calls(m, x, t, out, b * k, 1);
            if (sep < 0 || joined < 0) {
                fprintf(stderr, "bench_batch: the %s model failed\n", vt->name);
                rc = 1;
                goto done;
            }
            /* do the joined call's rows equal the separate calls' bit for bit? */
            float *o2 = malloc(b * k * dim * sizeof(float));
            if (!o2) {
                rc = 1;
                goto done;
            }
            for (size_t c = 0; c < k; c++)
                eval(m, x + c * b * dim, t + c * b, b, out + c * b * dim);
            eval(m, x, t, b * k, o2);
            int same = memcmp(out, o2, b * k * dim * sizeof(float)) == 0;
            free(o2);
            double rows = (double)(b * k);
            printf("  %12zu  %8zu  %15.3f  %13.3f  %15.2f  %s\n", b, k, 1e6 * sep / rows,
                   1e6 * joined / rows, sep / joined, same ? "yes" : "no");
        }
done:
    free(x);
    free(out);
    free(t);
    vt->free(inst.state);
    its_ctx_free(ctx);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dw = NULL, *fw = NULL, *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--digits-weights") == 0 && i + 1 < argc)
            dw = argv[++i];
        else if (strcmp(argv[i], "--fashion-weights") == 0 && i + 1 < argc)
            fw = argv[++i];
        else if (strcmp(argv[i], "--task") == 0 && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: bench_batch [--digits-weights DIR] [--fashion-weights DIR] "
                            "[--task NAME]\n");
            return 2;
        }
    }
    const char *threads = getenv("OPENBLAS_NUM_THREADS");
    printf("machine: %s; library %s; OPENBLAS_NUM_THREADS=%s\n", its_bench_cpu_model(), its_version(),
           threads ? threads : "(unset)");
    const struct {
        const its_task_vt *vt;
        const char *weights;
    } tasks[] = {
        {&its_task_gmm, NULL},
#ifdef ITS_HAVE_TASK_DIGITS
        {&its_task_digits, NULL},
#endif
#ifdef ITS_HAVE_TASK_FASHION
        {&its_task_fashion, NULL},
#endif
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof tasks / sizeof tasks[0]; i++) {
        const its_task_vt *vt = tasks[i].vt;
        if (only && strcmp(only, vt->name) != 0)
            continue;
        const char *w = strcmp(vt->name, "digits") == 0 ? dw
                        : strcmp(vt->name, "fashion") == 0 ? fw : NULL;
        rc |= bench_task(vt, w);
    }
    return rc;
}
