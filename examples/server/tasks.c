/* The server's tasks. gmm: a two-component mixture in `dim` dimensions with a rare target
 * component (weight 0.05) at +mu; the verifier is the log posterior of the target (<= 0). The
 * model can emulate accelerator time (a sleep per NFE row) so load tests see realistic costs
 * without burning the host's cores. */
#define _POSIX_C_SOURCE 200809L
#include "tasks.h"

#include <stdlib.h>
#include <time.h>

#include "itscale/gmm.h"

typedef struct gmm_inst {
    its_gmm *g;
    its_model inner;
    long cost_us;
} gmm_inst;

static int gmm_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    gmm_inst *gi = user;
    if (gi->cost_us > 0) {
        long long us = (long long)gi->cost_us * (long long)n;
        struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
        while (nanosleep(&ts, &ts) != 0) {
        }
    }
    return gi->inner.eval(gi->inner.user, x, t, n, out);
}

static int gmm_bind(void *user, unsigned worker, its_ctx *wctx, its_model *m, its_verifier *v,
                    void **inst)
{
    (void)worker;
    const its_srv_task_cfg *cfg = user;
    size_t dim = (size_t)cfg->dim;
    gmm_inst *gi = calloc(1, sizeof(*gi));
    double *means = calloc(2 * dim, sizeof(double)), *stds = calloc(2 * dim, sizeof(double));
    double w[2] = {0.95, 0.05};
    int rc = 1;
    if (!gi || !means || !stds)
        goto done;
    for (size_t d = 0; d < dim; d++) {
        means[d] = -1.0;
        means[dim + d] = 1.0;
        stds[d] = stds[dim + d] = 0.7;
    }
    if (its_gmm_create(wctx, dim, 2, w, means, stds, &gi->g) != ITS_OK)
        goto done;
    its_gmm_bind_model(gi->g, NULL, ITS_PRED_VELOCITY, &gi->inner);
    if (its_gmm_bind_logprob(gi->g, 1, v) != ITS_OK)
        goto done;
    gi->cost_us = cfg->nfe_cost_us;
    *m = gi->inner;
    m->eval = gmm_eval;
    m->user = gi;
    *inst = gi;
    gi = NULL;
    rc = 0;
done:
    if (gi) {
        its_gmm_free(gi->g);
        free(gi);
    }
    free(means);
    free(stds);
    return rc;
}

static void gmm_unbind(void *user, void *inst)
{
    (void)user;
    gmm_inst *gi = inst;
    if (gi) {
        its_gmm_free(gi->g);
        free(gi);
    }
}

const its_srv_task its_srv_tasks[] = {
    {"gmm", "rare-mode Gaussian mixture; score = log P(target component | x)", gmm_bind,
     gmm_unbind},
};
const int its_srv_n_tasks = (int)(sizeof(its_srv_tasks) / sizeof(its_srv_tasks[0]));
