/* Task "fashion": Zalando Research's Fashion-MNIST (MIT licence; examples/fashion/README.md)
 * with an MLP flow model, a verifier and a held-out evaluator trained by the project itself
 * (examples/fashion).
 *
 * The verifier is an MLP on the pixels trained on split A (even training rows); its reward is
 * log p(target | x0), with gradient. The evaluator, an MLP of another depth and width on 2 x 2
 * block means, is trained on split B (odd rows) and never seen by the search: the gap between
 * the two exposes verifier hacking. The Frechet distance is computed in the evaluator's last
 * hidden layer (128 features) against the t10k images of the target class: FID-like, not FID
 * (no Inception network, and a handful of samples per point). Missing weight files are trained
 * on first use (about fifteen minutes on two cores, progress on stderr) and cached in
 * task.weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its_fashion.h"
#include "task.h"

enum { FT_TARGET, FT_WEIGHTS, FT_DATA, FT_BATCH };

static const its_task_setting fashion_settings[] = {
    [FT_TARGET] = {"target", ITS_TASK_INT, "3", 0, 9,
                   "class the verifier rewards (0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, "
                   "4 Coat, 5 Sandal, 6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot)"},
    [FT_WEIGHTS] = {"weights", ITS_TASK_STRING, "", 0, 0,
                    "folder of flow.ifmw, verifier.ifmw, evaluator.ifmw (\"\": the build's "
                    "cache); missing files are trained and written there"},
    [FT_DATA] = {"data", ITS_TASK_STRING, "", 0, 0,
                 "folder of the Fashion-MNIST IDX files (\"\": /usr/share/datasets/fashion-mnist)"},
    [FT_BATCH] = {"max_batch", ITS_TASK_INT, "64", 1, 4096, "rows per model and verifier call"},
};

enum { FM_VER, FM_ACC, FM_EVAL, FM_DIV, FM_FD, FM_COUNT };

static const its_task_metric fashion_metrics[] = {
    [FM_VER] = {"verifier_logp", "verifier log p(target | x)", 0, 0},
    [FM_ACC] = {"heldout_acc", "held-out accuracy (evaluator argmax = target)", 0, 0},
    [FM_EVAL] = {"heldout_logp", "evaluator log p(target | x)", 0, 0},
    [FM_DIV] = {"diversity", "mean pairwise L2 distance (pixels)", 1, 0},
    [FM_FD] = {"fd_eval", "FID-like: Frechet distance in evaluator features to t10k target", 1, 1},
};

typedef struct fashion_task {
    its_fashion_bundle b;
    its_fashion_flow_model fm;
    its_fashion_clf ver, eva;
    float *lp;          /* cap log-probs */
    int *cls;           /* cap classes */
    float *real_feat;   /* evaluator features of the t10k target images */
    size_t cap, fdim;
} fashion_task;

static void ft_free(void *state)
{
    fashion_task *s = state;
    if (!s)
        return;
    its_fashion_flow_model_free(&s->fm);
    its_fashion_clf_free(&s->ver);
    its_fashion_clf_free(&s->eva);
    its_fashion_bundle_free(&s->b);
    free(s->lp);
    free(s->cls);
    free(s->real_feat);
    free(s);
}

static int ft_create(its_ctx *ctx, const its_task_value *v, its_task_inst *inst, char *err,
                     size_t errcap)
{
    (void)ctx;
    fashion_task *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    int target = (int)v[FT_TARGET].num;
    s->cap = (size_t)v[FT_BATCH].num;
    s->lp = malloc(s->cap * sizeof(float));
    s->cls = malloc(s->cap * sizeof(int));
    if (!s->lp || !s->cls) {
        ft_free(s);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    if (its_fashion_bundle_open(v[FT_DATA].str, v[FT_WEIGHTS].str, target, stderr, &s->b, err,
                                errcap) != ITS_OK ||
        its_fashion_flow_model_create(&s->fm, &s->b.flow, s->cap, &inst->model, err, errcap) !=
            ITS_OK ||
        its_fashion_clf_create(&s->ver, &s->b.verifier, s->cap, target, err, errcap) != ITS_OK ||
        its_fashion_clf_create(&s->eva, &s->b.evaluator, s->cap, target, err, errcap) != ITS_OK) {
        ft_free(s);
        return -1;
    }
    s->fdim = (size_t)its_fashion_clf_feat_dim(&s->eva);
    s->real_feat = malloc(s->b.test_target.n * s->fdim * sizeof(float));
    if (!s->real_feat) {
        ft_free(s);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    its_fashion_clf_features(&s->eva, s->b.test_target.x, s->b.test_target.n, s->real_feat);
    its_fashion_clf_bind_verifier(&s->ver, &inst->verifier);
    inst->state = s;
    return 0;
}

static int ft_measure(void *state, const float *samples, size_t n, double *out, char *err,
                      size_t errcap)
{
    fashion_task *s = state;
    double sv = 0, se = 0, hit = 0;
    for (size_t r0 = 0; r0 < n; r0 += s->cap) {
        size_t nb = n - r0 < s->cap ? n - r0 : s->cap;
        const float *x = samples + r0 * ITS_FASHION_DIM;
        its_fashion_clf_logp(&s->ver, x, nb, s->lp, NULL);
        for (size_t i = 0; i < nb; i++)
            sv += s->lp[i];
        its_fashion_clf_logp(&s->eva, x, nb, s->lp, s->cls);
        for (size_t i = 0; i < nb; i++) {
            se += s->lp[i];
            hit += s->cls[i] == s->eva.target;
        }
    }
    double dn = n ? (double)n : NAN;
    out[FM_VER] = sv / dn;
    out[FM_ACC] = hit / dn;
    out[FM_EVAL] = se / dn;
    out[FM_DIV] = its_diversity(samples, n, ITS_FASHION_DIM);
    out[FM_FD] = NAN;
    if (n >= 2) {
        float *feat = malloc(n * s->fdim * sizeof(float));
        if (!feat) {
            snprintf(err, errcap, "out of memory");
            return -1;
        }
        its_fashion_clf_features(&s->eva, samples, n, feat);
        its_status st = its_frechet_samples(feat, n, s->real_feat, s->b.test_target.n, s->fdim,
                                            &out[FM_FD], err, errcap);
        free(feat);
        if (st != ITS_OK)
            return -1;
    }
    return 0;
}

static int ft_write_png(void *state, const float *samples, size_t n, int cols, const char *path,
                        char *err, size_t errcap)
{
    (void)state;
    return its_fashion_write_png(path, samples, n, cols, 2, 1, err, errcap) == ITS_OK ? 0 : -1;
}

const its_task_vt its_task_fashion = {
    .version = ITS_TASK_V1,
    .name = "fashion",
    .summary = "Fashion-MNIST 28x28: MLP flow model, verifier on split A, held-out evaluator on B",
    .settings = fashion_settings,
    .n_settings = sizeof(fashion_settings) / sizeof(fashion_settings[0]),
    .metrics = fashion_metrics,
    .n_metrics = FM_COUNT,
    .create = ft_create,
    .measure = ft_measure,
    .free = ft_free,
    .write_png = ft_write_png,
};
