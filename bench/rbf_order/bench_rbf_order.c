/* Quality at a fixed NFE budget on a rare-target mixture (DESIGN.md §9, gmm task): mean verifier score
 * (log posterior of the target component) with its standard error over seeds, and the hit rate
 * (share of outputs whose most likely component is the target), for
 *   rbf, SDE along vp (run.convert = 1), exp grid, g square 3   (the paper's setting)
 *   rbf, SDE along the model's own linear path, exp grid, g square 3
 *   best_of_n, ODE, uniform grid
 * Then the model calls speculative batching saves (k = 1, 4, 16) at the same sample.
 * Usage: bench_rbf_order [seeds=32] [nfe=500] [dim=16] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itscale.h"
#include "itscale/gmm.h"

#define NCOMP 4

typedef struct task {
    its_ctx *ctx;
    its_gmm *g;
    its_model m;
    its_verifier v;
    size_t dim;
} task;

/* Three common components on the axes and a rare, narrow target between them. */
static int task_open(task *t, size_t dim)
{
    t->dim = dim;
    if (its_ctx_create(NULL, &t->ctx) != ITS_OK)
        return -1;
    double w[NCOMP] = {0.4, 0.3, 0.2999, 0.0001};
    double *mu = calloc(NCOMP * dim, sizeof(double)), *sd = calloc(NCOMP * dim, sizeof(double));
    for (size_t d = 0; d < dim; d++) {
        mu[0 * dim + d] = d % 2 ? 1.0 : -1.0;
        mu[1 * dim + d] = d % 3 ? -1.0 : 1.0;
        mu[2 * dim + d] = -1.0;
        mu[3 * dim + d] = 1.0;
        for (int k = 0; k < NCOMP; k++)
            sd[k * dim + d] = k == 3 ? 0.3 : 0.6;
    }
    its_status st = its_gmm_create(t->ctx, dim, NCOMP, w, mu, sd, &t->g);
    free(mu);
    free(sd);
    if (st != ITS_OK)
        return -1;
    its_interp lin;
    its_interp_init(&lin, ITS_INTERP_LINEAR);
    its_gmm_bind_model(t->g, &lin, ITS_PRED_VELOCITY, &t->m);
    return its_gmm_bind_logprob(t->g, NCOMP - 1, &t->v) == ITS_OK ? 0 : -1;
}

static void task_close(task *t)
{
    its_gmm_free(t->g);
    its_ctx_free(t->ctx);
}

typedef struct stats {
    double mean, se, hit;
    double nfe, calls;
} stats;

static int is_hit(const task *t, const float *x)
{
    double xd[4096], resp[NCOMP];
    its_interp lin;
    its_interp_init(&lin, ITS_INTERP_LINEAR);
    for (size_t d = 0; d < t->dim; d++)
        xd[d] = x[d];
    if (its_gmm_responsibilities(t->g, &lin, 0.0, xd, resp) != ITS_OK)
        return 0;
    int best = 0;
    for (int k = 1; k < NCOMP; k++)
        if (resp[k] > resp[best])
            best = k;
    return best == NCOMP - 1;
}

static int measure(task *t, its_method m, const void *params, const its_run_params *run,
                   int seeds, stats *out)
{
    its_sampler *s = NULL;
    if (its_sampler_create(t->ctx, m, params, run, &s) != ITS_OK) {
        fprintf(stderr, "%s: %s\n", its_method_name(m), its_ctx_errmsg(t->ctx));
        return -1;
    }
    double sum = 0, sq = 0, hits = 0, nfe = 0, calls = 0;
    for (int i = 0; i < seeds; i++) {
        its_result *r = NULL;
        if (its_generate(s, &t->m, &t->v, 7000 + (uint64_t)i, &r) != ITS_OK) {
            fprintf(stderr, "%s: %s\n", its_method_name(m), its_ctx_errmsg(t->ctx));
            its_sampler_free(s);
            return -1;
        }
        /* score the output itself (for rbf's Tweedie output this is the same verifier) */
        float sc;
        t->v.score(t->v.user, its_result_sample(r, 0), 1, &sc);
        sum += sc;
        sq += (double)sc * sc;
        hits += is_hit(t, its_result_sample(r, 0));
        its_usage u;
        its_result_usage(r, &u);
        nfe += (double)u.nfe;
        calls += (double)u.model_calls;
        its_result_free(r);
    }
    its_sampler_free(s);
    out->mean = sum / seeds;
    double var = seeds > 1 ? (sq - seeds * out->mean * out->mean) / (seeds - 1) : 0;
    out->se = sqrt(var > 0 ? var / seeds : 0);
    out->hit = hits / seeds;
    out->nfe = nfe / seeds;
    out->calls = calls / seeds;
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bench_rbf_order [seeds>=2] [nfe>=100] [dim 2..4096]\n");
            printf("rbf along the linear and the VP path against best_of_n on a rare-target mixture\n");
            return 0;
        }
    int seeds = argc > 1 ? atoi(argv[1]) : 32;
    uint64_t nfe = argc > 2 ? (uint64_t)atoll(argv[2]) : 500;
    size_t dim = argc > 3 ? (size_t)atol(argv[3]) : 16;
    if (seeds < 2 || nfe < 100 || dim < 2 || dim > 4096) {
        fprintf(stderr, "usage: bench_rbf_order [seeds>=2] [nfe>=100] [dim 2..4096]\n");
        return 2;
    }
    task t;
    if (task_open(&t, dim) != 0) {
        fprintf(stderr, "cannot build the mixture task\n");
        return 1;
    }
    printf("rare-target mixture: dim %zu, %d components, target weight 1e-4, std 0.3 (others "
           "0.6); verifier log p(target | x); %d seeds; NFE %llu\n\n",
           dim, NCOMP, seeds, (unsigned long long)nfe);
    printf("%-28s %12s %8s %8s %8s %10s\n", "method", "mean score", "se", "hit", "nfe",
           "calls");

    its_rbf_params rp;
    its_rbf_params_init(&rp);
    its_run_params run;
    its_run_params_init(&run);
    run.steps = 10;
    run.dynamics = ITS_DYN_SDE;
    run.g_schedule = ITS_G_SQUARE;
    run.g_scale = 3;
    run.grid = ITS_GRID_EXP;
    run.max_nfe = nfe;
    stats s[3];
    const char *names[3] = {"rbf (vp-sde, converted)", "rbf (linear-sde)", "best_of_n (ode)"};
    run.convert = 1;
    if (measure(&t, ITS_METHOD_RBF, &rp, &run, seeds, &s[0]) != 0)
        return 1;
    run.convert = 0;
    if (measure(&t, ITS_METHOD_RBF, &rp, &run, seeds, &s[1]) != 0)
        return 1;
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    its_run_params br;
    its_run_params_init(&br);
    br.steps = 10;
    br.max_nfe = nfe;
    bp.n = (int)(nfe / 10);
    if (measure(&t, ITS_METHOD_BEST_OF_N, &bp, &br, seeds, &s[2]) != 0)
        return 1;
    for (int i = 0; i < 3; i++)
        printf("%-28s %12.4f %8.4f %8.3f %8.1f %10.1f\n", names[i], s[i].mean, s[i].se, s[i].hit,
               s[i].nfe, s[i].calls);
    printf("\nordering rbf(vp) >= rbf(linear) >= best_of_n: %s (differences in standard errors: "
           "%.1f, %.1f)\n",
           s[0].mean >= s[1].mean && s[1].mean >= s[2].mean ? "holds" : "does not hold",
           (s[0].mean - s[1].mean) / sqrt(s[0].se * s[0].se + s[1].se * s[1].se + 1e-300),
           (s[1].mean - s[2].mean) / sqrt(s[1].se * s[1].se + s[2].se * s[2].se + 1e-300));

    /* speculative batching: same samples, fewer model calls; under the hard cap and without */
    printf("\nspeculative batching, rbf (vp): model calls per run (mean over seeds)\n");
    printf("%-10s %-6s %10s %10s %10s %12s\n", "cap", "k", "calls", "ratio", "nfe", "mean score");
    run.convert = 1;
    for (int capped = 1; capped >= 0; capped--) {
        double base = 0;
        for (int k = 1; k <= 16; k *= 4) {
            rp.speculative = k;
            run.max_nfe = capped ? nfe : 0;
            stats q;
            if (measure(&t, ITS_METHOD_RBF, &rp, &run, seeds, &q) != 0)
                return 1;
            if (k == 1)
                base = q.calls;
            printf("%-10s %-6d %10.1f %10.3f %10.1f %12.4f\n",
                   capped ? "max_nfe" : "none (500)", k, q.calls, q.calls / base, q.nfe, q.mean);
        }
    }
    task_close(&t);
    return 0;
}
