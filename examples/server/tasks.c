/* The server's tasks. gmm: a two-component mixture in `dim` dimensions with a rare target
 * component (weight 0.05); the verifier is the log posterior of the target (<= 0). Without an
 * affinity key the target sits at +1 in every coordinate and the common component at -1. An
 * affinity key (a conditioning id) reflects the problem: the key's hash picks the sign of each
 * coordinate, so every key is as hard as the others but its target lies elsewhere. Preparing a
 * key is real work done once per worker and cached (LRU): the key's mixture, its model and
 * verifier, and a Monte-Carlo estimate of how often the prior alone lands in the target (the
 * baseline a search is measured against), from `prep_draws` exact samples scored by the
 * verifier. The model can emulate accelerator time (a sleep per NFE row) so load tests see
 * realistic costs without burning the host's cores. */
#define _POSIX_C_SOURCE 200809L
#include "tasks.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "itscale/gmm.h"

/* One mixture with its model and verifier bindings. */
typedef struct gmm_prob {
    its_gmm *g;
    its_model m;
    its_verifier v;
    double prior_hit; /* P(log posterior of the target > log 1/2) under the prior (estimate) */
} gmm_prob;

typedef struct gmm_inst {
    its_ctx *ctx;
    gmm_prob base;
    const gmm_prob *cur;  /* the problem of the running request */
    long cost_us;
    long prep_draws;
} gmm_inst;

/* FNV-1a, 64 bits: the same key gives the same problem on every replica. */
static uint64_t key_hash(const char *key)
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

/* The mixture whose target lies at sign[d] in each coordinate (the other component at -sign). */
static int prob_make(its_ctx *ctx, size_t dim, uint64_t signs, gmm_prob *pb)
{
    double *means = calloc(2 * dim, sizeof(double)), *stds = calloc(2 * dim, sizeof(double));
    double w[2] = {0.95, 0.05};
    int rc = 1;
    memset(pb, 0, sizeof(*pb));
    if (!means || !stds)
        goto done;
    for (size_t d = 0; d < dim; d++) {
        double sg = (signs >> (d % 64)) & 1 ? -1.0 : 1.0;
        means[d] = -sg;
        means[dim + d] = sg;
        stds[d] = stds[dim + d] = 0.7;
    }
    if (its_gmm_create(ctx, dim, 2, w, means, stds, &pb->g) != ITS_OK)
        goto done;
    its_gmm_bind_model(pb->g, NULL, ITS_PRED_VELOCITY, &pb->m);
    if (its_gmm_bind_logprob(pb->g, 1, &pb->v) != ITS_OK) {
        its_gmm_free(pb->g);
        pb->g = NULL;
        goto done;
    }
    pb->prior_hit = NAN;
    rc = 0;
done:
    free(means);
    free(stds);
    return rc;
}

/* The prior's hit rate, from n exact samples (seeded by the key) scored by the verifier. */
static int prob_calibrate(gmm_prob *pb, size_t dim, uint64_t seed, size_t n)
{
    enum { CHUNK = 1024 };
    float *x = malloc(sizeof(float) * CHUNK * dim), *sc = malloc(sizeof(float) * CHUNK);
    size_t hits = 0, done = 0;
    int rc = 1;
    if (!x || !sc)
        goto out;
    for (uint64_t c = 0; done < n; c++) {
        size_t k = n - done < CHUNK ? n - done : CHUNK;
        if (its_gmm_sample(pb->g, seed + c, k, x, NULL) != ITS_OK ||
            pb->v.score(pb->v.user, x, k, sc) != 0)
            goto out;
        for (size_t i = 0; i < k; i++)
            hits += sc[i] > (float)log(0.5);
        done += k;
    }
    pb->prior_hit = n ? (double)hits / (double)n : NAN;
    rc = 0;
out:
    free(x);
    free(sc);
    return rc;
}

static int gmm_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    gmm_inst *gi = user;
    if (gi->cost_us > 0) {
        long long us = (long long)gi->cost_us * (long long)n;
        struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
        while (nanosleep(&ts, &ts) != 0) {
        }
    }
    return gi->cur->m.eval(gi->cur->m.user, x, t, n, out);
}

static int gmm_score(void *user, const float *x0, size_t n, float *scores)
{
    gmm_inst *gi = user;
    return gi->cur->v.score(gi->cur->v.user, x0, n, scores);
}

static int gmm_grad(void *user, const float *x0, size_t n, float *grad, float *scores)
{
    gmm_inst *gi = user;
    return gi->cur->v.grad(gi->cur->v.user, x0, n, grad, scores);
}

static int gmm_bind(void *user, unsigned worker, its_ctx *wctx, its_model *m, its_verifier *v,
                    void **inst)
{
    (void)worker;
    const its_srv_task_cfg *cfg = user;
    gmm_inst *gi = calloc(1, sizeof(*gi));
    if (!gi)
        return 1;
    gi->ctx = wctx;
    if (prob_make(wctx, (size_t)cfg->dim, 0, &gi->base) != 0) {
        free(gi);
        return 1;
    }
    gi->cur = &gi->base;
    gi->cost_us = cfg->nfe_cost_us;
    gi->prep_draws = cfg->prep_draws;
    *m = gi->base.m;
    m->eval = gmm_eval;
    m->user = gi;
    *v = gi->base.v;
    v->score = gmm_score;
    v->grad = gi->base.v.grad ? gmm_grad : NULL;
    v->user = gi;
    *inst = gi;
    return 0;
}

static void gmm_unbind(void *user, void *inst)
{
    (void)user;
    gmm_inst *gi = inst;
    if (gi) {
        its_gmm_free(gi->base.g);
        free(gi);
    }
}

static int gmm_prepare(void *user, void *inst, const char *key, void **state)
{
    const its_srv_task_cfg *cfg = user;
    gmm_inst *gi = inst;
    gmm_prob *pb = malloc(sizeof(*pb));
    if (!pb)
        return 1;
    uint64_t h = key_hash(key);
    size_t dim = (size_t)cfg->dim;
    if (prob_make(gi->ctx, dim, h, pb) != 0) {
        free(pb);
        return 1;
    }
    if (prob_calibrate(pb, dim, h, (size_t)gi->prep_draws) != 0) {
        its_gmm_free(pb->g);
        free(pb);
        return 1;
    }
    *state = pb;
    return 0;
}

static void gmm_use(void *user, void *inst, void *state)
{
    (void)user;
    gmm_inst *gi = inst;
    gi->cur = state ? (const gmm_prob *)state : &gi->base;
}

static void gmm_release(void *user, void *inst, void *state)
{
    (void)user;
    gmm_inst *gi = inst;
    gmm_prob *pb = state;
    if (gi->cur == pb)
        gi->cur = &gi->base;
    if (pb) {
        its_gmm_free(pb->g);
        free(pb);
    }
}

const its_srv_task its_srv_tasks[] = {
    {"gmm", "rare-mode Gaussian mixture; score = log P(target component | x); an affinity key "
            "places the target (prepared once per worker, cached)",
     gmm_bind, gmm_unbind, gmm_prepare, gmm_use, gmm_release},
};
const int its_srv_n_tasks = (int)(sizeof(its_srv_tasks) / sizeof(its_srv_tasks[0]));
