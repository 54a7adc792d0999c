/* Task "gmm": the analytic Gaussian mixture (include/itscale/gmm.h) with an exact velocity
 * model and a rare, narrow target component.
 *
 * The mixture has `modes` common components (std `std`, sharing weight 1 - w_target) and one
 * target component (std `target_std`, weight w_target). Means are sign patterns: coordinate j
 * of a mean is +-sep, drawn once from task.seed, so every pair of components is far apart in
 * high dimension and a sample's component is unambiguous.
 *
 * The default verifier ("quadratic") is r(x) = -a |x - c|^2 with c = mu_T + pull (mu_0 - mu_T),
 * a point 30% of the way from the rare target towards common mode 0: a graded reward whose
 * best attainable value keeps rising with search effort, where the posterior alone
 * ("logprob", log p(target | x)) reaches its ceiling of 0 within a few hundred NFE for every
 * look-ahead method and then orders nothing (DESIGN.md §9). The hit rate (share of outputs whose
 * most likely component is the target) is reported beside it. "graded" is the sum of both.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itscale/gmm.h"
#include "task.h"

#define GT_PI 3.14159265358979323846

enum { GT_DIM, GT_MODES, GT_WT, GT_SEP, GT_STD, GT_TSTD, GT_REWARD, GT_A, GT_PULL, GT_SEED, GT_BATCH };

static const its_task_setting gmm_settings[] = {
    [GT_DIM] = {"dim", ITS_TASK_INT, "64", 1, 4096, "dimension of the latents"},
    [GT_MODES] = {"modes", ITS_TASK_INT, "4", 1, 64, "common components"},
    [GT_WT] = {"w_target", ITS_TASK_DOUBLE, "0.002", 1e-6, 0.5, "weight of the target component"},
    [GT_SEP] = {"sep", ITS_TASK_DOUBLE, "1", 0, 100, "|mean coordinate| of every component"},
    [GT_STD] = {"std", ITS_TASK_DOUBLE, "1", 1e-3, 100, "std of the common components"},
    [GT_TSTD] = {"target_std", ITS_TASK_DOUBLE, "0.3", 1e-3, 100, "std of the target component"},
    [GT_REWARD] = {"reward", ITS_TASK_STRING, "quadratic", 0, 0,
                   "verifier: graded, logprob (log p(target|x)) or quadratic (-a |x - c|^2)"},
    [GT_A] = {"a", ITS_TASK_DOUBLE, "0.2", 0, 100, "weight of the quadratic pull"},
    [GT_PULL] = {"pull", ITS_TASK_DOUBLE, "0.3", 0, 1,
                 "c = mu_T + pull (mu_0 - mu_T): where between target and mode 0 the pull points"},
    [GT_SEED] = {"seed", ITS_TASK_INT, "7", 0, 2147483647, "layout of the means"},
    [GT_BATCH] = {"max_batch", ITS_TASK_INT, "0", 0, 65536,
                  "rows per model call (0: any); a GPU model's limit, for counting calls"},
};

static const its_task_metric gmm_metrics[] = {
    {"hit_rate", "hit rate (target component)", 0, 0},
    {"target_logprob", "log p(target | x)", 0, 0},
};

enum { R_GRADED = 0, R_LOGPROB, R_QUADRATIC };

typedef struct gmm_task {
    its_gmm *g;
    size_t dim, k, target;   /* components 0 .. k-2 common, k-1 the target */
    double *mu;              /* k x dim */
    double *sd;              /* k isotropic stds */
    double *logw;            /* k */
    double *c;               /* dim: centre of the quadratic pull */
    double *lp;              /* k: work (log joint per component) */
    double a;
    int reward;
} gmm_task;

/* log w_k + log N(x; mu_k, sd_k^2 I) for every k; returns log p(x). */
static double gt_log_joint(const gmm_task *s, const float *x, double *lp)
{
    double mx = -INFINITY;
    for (size_t k = 0; k < s->k; k++) {
        const double *mu = s->mu + k * s->dim;
        double d2 = 0;
        for (size_t j = 0; j < s->dim; j++) {
            double d = (double)x[j] - mu[j];
            d2 += d * d;
        }
        double v = s->sd[k] * s->sd[k];
        lp[k] = s->logw[k] - 0.5 * d2 / v - 0.5 * (double)s->dim * log(2 * GT_PI * v);
        if (lp[k] > mx)
            mx = lp[k];
    }
    double sum = 0;
    for (size_t k = 0; k < s->k; k++)
        sum += exp(lp[k] - mx);
    return mx + log(sum);
}

/* r(x) and, if grad is non-NULL, dr/dx. */
static double gt_reward(gmm_task *s, const float *x, float *grad)
{
    double r = 0;
    if (grad)
        memset(grad, 0, s->dim * sizeof(float));
    if (s->reward != R_QUADRATIC) {
        double lse = gt_log_joint(s, x, s->lp);
        r += s->lp[s->target] - lse;
        if (grad) {
            /* d/dx log p(T|x) = -(x - mu_T)/s_T^2 + sum_k p(k|x) (x - mu_k)/s_k^2 */
            for (size_t k = 0; k < s->k; k++) {
                double pk = exp(s->lp[k] - lse);
                double wk = (pk - (k == s->target ? 1.0 : 0.0)) / (s->sd[k] * s->sd[k]);
                if (wk == 0)
                    continue;
                const double *mu = s->mu + k * s->dim;
                for (size_t j = 0; j < s->dim; j++)
                    grad[j] += (float)(wk * ((double)x[j] - mu[j]));
            }
        }
    }
    if (s->reward != R_LOGPROB) {
        double d2 = 0;
        for (size_t j = 0; j < s->dim; j++) {
            double d = (double)x[j] - s->c[j];
            d2 += d * d;
            if (grad)
                grad[j] += (float)(-2.0 * s->a * d);
        }
        r -= s->a * d2;
    }
    return r;
}

static int gt_score(void *user, const float *x0, size_t n, float *scores)
{
    gmm_task *s = user;
    for (size_t i = 0; i < n; i++)
        scores[i] = (float)gt_reward(s, x0 + i * s->dim, NULL);
    return 0;
}

static int gt_grad(void *user, const float *x0, size_t n, float *grad, float *scores)
{
    gmm_task *s = user;
    for (size_t i = 0; i < n; i++)
        scores[i] = (float)gt_reward(s, x0 + i * s->dim, grad + i * s->dim);
    return 0;
}

static void gt_free(void *state)
{
    gmm_task *s = state;
    if (!s)
        return;
    its_gmm_free(s->g);
    free(s->mu);
    free(s->sd);
    free(s->logw);
    free(s->c);
    free(s->lp);
    free(s);
}

/* splitmix64: the layout of the means only (not the sampler's noise) */
static uint64_t gt_mix(uint64_t *st)
{
    uint64_t z = (*st += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int gt_create(its_ctx *ctx, const its_task_value *v, its_task_inst *inst, char *err,
                     size_t errcap)
{
    int reward;
    if (strcmp(v[GT_REWARD].str, "graded") == 0)
        reward = R_GRADED;
    else if (strcmp(v[GT_REWARD].str, "logprob") == 0)
        reward = R_LOGPROB;
    else if (strcmp(v[GT_REWARD].str, "quadratic") == 0)
        reward = R_QUADRATIC;
    else {
        snprintf(err, errcap, "task.reward: expected one of \"graded\", \"logprob\", "
                              "\"quadratic\", got \"%s\"", v[GT_REWARD].str);
        return -1;
    }
    gmm_task *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    s->dim = (size_t)v[GT_DIM].num;
    s->k = (size_t)v[GT_MODES].num + 1;
    s->target = s->k - 1;
    s->a = v[GT_A].num;
    s->reward = reward;
    double *w = calloc(s->k, sizeof(double)), *sdm = calloc(s->k * s->dim, sizeof(double));
    s->mu = calloc(s->k * s->dim, sizeof(double));
    s->sd = calloc(s->k, sizeof(double));
    s->logw = calloc(s->k, sizeof(double));
    s->c = calloc(s->dim, sizeof(double));
    s->lp = calloc(s->k, sizeof(double));
    if (!w || !sdm || !s->mu || !s->sd || !s->logw || !s->c || !s->lp) {
        free(w);
        free(sdm);
        gt_free(s);
        snprintf(err, errcap, "out of memory");
        return -1;
    }
    uint64_t st = (uint64_t)v[GT_SEED].num;
    double sep = v[GT_SEP].num, wt = v[GT_WT].num;
    for (size_t k = 0; k < s->k; k++) {
        int is_t = k == s->target;
        w[k] = is_t ? wt : (1.0 - wt) / (double)(s->k - 1);
        s->sd[k] = is_t ? v[GT_TSTD].num : v[GT_STD].num;
        s->logw[k] = log(w[k]);
        for (size_t j = 0; j < s->dim; j++) {
            s->mu[k * s->dim + j] = (gt_mix(&st) >> 63) ? sep : -sep;
            sdm[k * s->dim + j] = s->sd[k];
        }
    }
    const double *mu_t = s->mu + s->target * s->dim;
    for (size_t j = 0; j < s->dim; j++)
        s->c[j] = mu_t[j] + v[GT_PULL].num * (s->mu[j] - mu_t[j]);
    its_status rc = its_gmm_create(ctx, s->dim, s->k, w, s->mu, sdm, &s->g);
    free(w);
    free(sdm);
    if (rc != ITS_OK) {
        snprintf(err, errcap, "gmm: %s", its_ctx_errmsg(ctx));
        gt_free(s);
        return -1;
    }
    its_interp lin;
    its_interp_init(&lin, ITS_INTERP_LINEAR);
    its_gmm_bind_model(s->g, &lin, ITS_PRED_VELOCITY, &inst->model);
    inst->model.max_batch = (size_t)v[GT_BATCH].num;
    its_verifier_init(&inst->verifier);
    inst->verifier.score = gt_score;
    inst->verifier.grad = gt_grad;
    inst->verifier.user = s;
    inst->state = s;
    return 0;
}

static int gt_measure(void *state, const float *x, size_t n, double *out, char *err,
                      size_t errcap)
{
    gmm_task *s = state;
    (void)err;
    (void)errcap;
    double hits = 0, lpt = 0;
    for (size_t i = 0; i < n; i++) {
        const float *row = x + i * s->dim;
        double lse = gt_log_joint(s, row, s->lp);
        size_t best = 0;
        for (size_t k = 1; k < s->k; k++)
            if (s->lp[k] > s->lp[best])
                best = k;
        hits += best == s->target;
        lpt += s->lp[s->target] - lse;
    }
    out[0] = n ? hits / (double)n : NAN;
    out[1] = n ? lpt / (double)n : NAN;
    return 0;
}

const its_task_vt its_task_gmm = {
    .version = ITS_TASK_V1,
    .name = "gmm",
    .summary = "analytic Gaussian mixture: exact model, rare narrow target, quadratic reward",
    .settings = gmm_settings,
    .n_settings = sizeof(gmm_settings) / sizeof(gmm_settings[0]),
    .metrics = gmm_metrics,
    .n_metrics = sizeof(gmm_metrics) / sizeof(gmm_metrics[0]),
    .create = gt_create,
    .measure = gt_measure,
    .free = gt_free,
};
