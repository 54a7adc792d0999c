/* Task "digits": the UCI optical digits with a flow model, verifier and held-out evaluator
 * trained by the project itself (examples/digits, DESIGN.md §9).
 *
 * The verifier is softmax regression trained on split A (even rows); its reward is
 * log p(target | x0), with gradient. The evaluator is a one-hidden-layer MLP trained on split B
 * (odd rows), never seen by the search: the gap between the two exposes verifier hacking
 * (Ma et al. 2025). The flow model (velocity, linear interpolant) trains on every row.
 * Missing weight files are trained on first use (about two minutes, progress on stderr) and
 * cached in task.weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its_digits.h"
#include "task.h"

enum { DT_TARGET, DT_WEIGHTS, DT_DATA, DT_BATCH };

static const its_task_setting digits_settings[] = {
    [DT_TARGET] = {"target", ITS_TASK_INT, "3", 0, 9, "digit the verifier rewards"},
    [DT_WEIGHTS] = {"weights", ITS_TASK_STRING, "", 0, 0,
                    "folder of flow.itsw, verifier.itsw, evaluator.itsw (\"\": the build's "
                    "cache); missing files are trained and written there"},
    [DT_DATA] = {"data", ITS_TASK_STRING, "", 0, 0,
                 "digits CSV, gzip or plain (\"\": the copy in examples/digits/data)"},
    [DT_BATCH] = {"max_batch", ITS_TASK_INT, "64", 1, 4096, "rows per model and verifier call"},
};

enum { DM_VER, DM_ACC, DM_EVAL, DM_DIV, DM_FD, DM_COUNT };

static const its_task_metric digits_metrics[] = {
    [DM_VER] = {"verifier_logp", "verifier log p(target | x)", 0, 0},
    [DM_ACC] = {"heldout_acc", "held-out accuracy (evaluator argmax = target)", 0, 0},
    [DM_EVAL] = {"heldout_logp", "evaluator log p(target | x)", 0, 0},
    [DM_DIV] = {"diversity", "mean pairwise L2 distance", 1, 0},
    [DM_FD] = {"frechet", "Frechet distance to real digits of the target", 1, 1},
};

typedef struct digits_task {
    its_digits_bundle b;
    its_flow_model fm;
    its_clf ver, eva;
    float *lp;       /* cap log-probs */
    int *cls;        /* cap classes */
    size_t cap;
} digits_task;

static void dt_free(void *state)
{
    digits_task *s = state;
    if (!s)
        return;
    its_flow_model_free(&s->fm);
    its_clf_free(&s->ver);
    its_clf_free(&s->eva);
    its_digits_bundle_free(&s->b);
    free(s->lp);
    free(s->cls);
    free(s);
}

static int dt_create(its_ctx *ctx, const its_task_value *v, its_task_inst *inst, char *err,
                     size_t errcap)
{
    (void)ctx;
    digits_task *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    int target = (int)v[DT_TARGET].num;
    s->cap = (size_t)v[DT_BATCH].num;
    s->lp = malloc(s->cap * sizeof(float));
    s->cls = malloc(s->cap * sizeof(int));
    if (!s->lp || !s->cls) {
        dt_free(s);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    if (its_digits_bundle_open(v[DT_DATA].str, v[DT_WEIGHTS].str, target, stderr, &s->b, err,
                               errcap) != ITS_OK ||
        its_flow_model_create(&s->fm, &s->b.flow, s->cap, &inst->model, err, errcap) != ITS_OK ||
        its_clf_create(&s->ver, &s->b.verifier, s->cap, target, err, errcap) != ITS_OK ||
        its_clf_create(&s->eva, &s->b.evaluator, s->cap, target, err, errcap) != ITS_OK) {
        dt_free(s);
        return -1;
    }
    its_clf_bind_verifier(&s->ver, &inst->verifier);
    inst->state = s;
    return 0;
}

static int dt_measure(void *state, const float *samples, size_t n, double *out, char *err,
                      size_t errcap)
{
    digits_task *s = state;
    double sv = 0, se = 0, hit = 0;
    for (size_t r0 = 0; r0 < n; r0 += s->cap) {
        size_t nb = n - r0 < s->cap ? n - r0 : s->cap;
        const float *x = samples + r0 * ITS_DIGITS_DIM;
        its_clf_logp(&s->ver, x, nb, s->lp, NULL);
        for (size_t i = 0; i < nb; i++)
            sv += s->lp[i];
        its_clf_logp(&s->eva, x, nb, s->lp, s->cls);
        for (size_t i = 0; i < nb; i++) {
            se += s->lp[i];
            hit += s->cls[i] == s->eva.target;
        }
    }
    double dn = n ? (double)n : NAN;
    out[DM_VER] = sv / dn;
    out[DM_ACC] = hit / dn;
    out[DM_EVAL] = se / dn;
    out[DM_DIV] = its_diversity(samples, n, ITS_DIGITS_DIM);
    out[DM_FD] = NAN;
    if (n >= 2 && its_frechet_samples(samples, n, s->b.target_rows.x, s->b.target_rows.n,
                                      ITS_DIGITS_DIM, &out[DM_FD], err, errcap) != ITS_OK)
        return -1;
    return 0;
}

#ifdef ITS_HAVE_TASK_FASHION
#include "its_fashion.h" /* the PNG grid writer (libpng), built with the fashion task */

/* Pictures as the fashion task draws them: dark ink on white, each pixel 7 x 7 (56-pixel
 * cells, as fashion's 28 x 2). */
static int dt_write_png(void *state, const float *samples, size_t n, int cols, const char *path,
                        char *err, size_t errcap)
{
    (void)state;
    return its_png_write_grid(path, samples, n, 8, cols, 7, 1, err, errcap) ==
                   ITS_OK
               ? 0
               : -1;
}
#endif

const its_task_vt its_task_digits = {
    .version = ITS_TASK_V1,
    .name = "digits",
    .summary = "UCI 8x8 digits: MLP flow model, verifier on split A, held-out evaluator on B",
    .settings = digits_settings,
    .n_settings = sizeof(digits_settings) / sizeof(digits_settings[0]),
    .metrics = digits_metrics,
    .n_metrics = DM_COUNT,
    .create = dt_create,
    .measure = dt_measure,
    .free = dt_free,
#ifdef ITS_HAVE_TASK_FASHION
    .write_png = dt_write_png,
#endif
};
