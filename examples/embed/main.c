/* Embedding itscale: the host supplies a model callback and a verifier callback; itscale runs
 * best_of_n and hands back the best sample with its accounting.
 *
 * Here the "network" is the library's analytic Gaussian mixture (exact velocities), wrapped in a
 * host callback as a real model would be, and the verifier asks for the rare component. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <itscale.h>
#include <itscale/gmm.h>

#define DIM 2

/* The host's model: a velocity for each row of x at its time t (the mixture stands in for a
 * network forward pass). Returns 0 on success. */
typedef struct host_model {
    its_model exact;   /* the mixture's own callback */
    unsigned calls;
} host_model;

static int host_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    host_model *h = user;
    h->calls++;
    return h->exact.eval(h->exact.user, x, t, n, out);
}

static int check(its_status st, its_ctx *ctx, const char *what)
{
    if (st == ITS_OK)
        return 0;
    fprintf(stderr, "embed: %s failed: %s (%s)\n", what, its_status_str(st), its_ctx_errmsg(ctx));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        int help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");
        fprintf(help ? stdout : stderr,
                "usage: its_embed\nRuns best_of_n on a host-wrapped analytic model and prints the "
                "best sample with its accounting; takes no arguments.\n");
        return help ? 0 : 2;
    }
    its_ctx *ctx = NULL;
    if (check(its_ctx_create(NULL, &ctx), ctx, "its_ctx_create"))
        return 1;

    /* 90% of the mass at (-2, -2), 10% at (+2, +2): the verifier wants the rare one. */
    const double w[2] = {0.9, 0.1};
    const double mu[2 * DIM] = {-2.0, -2.0, 2.0, 2.0};
    const double sd[2 * DIM] = {0.5, 0.5, 0.5, 0.5};
    its_gmm *g = NULL;
    int rc = 1;
    its_sampler *s = NULL;
    its_result *r = NULL;
    if (check(its_gmm_create(ctx, DIM, 2, w, mu, sd, &g), ctx, "its_gmm_create"))
        goto done;

    host_model host = {0};
    its_gmm_bind_model(g, NULL, ITS_PRED_VELOCITY, &host.exact);
    its_model model = host.exact; /* dim, prediction type, interpolant */
    model.eval = host_eval;
    model.user = &host;
    model.max_batch = 4;
    its_verifier ver;
    if (check(its_gmm_bind_logprob(g, 1, &ver), ctx, "its_gmm_bind_logprob"))
        goto done;

    its_run_params run;
    its_run_params_init(&run);
    run.steps = 20;
    run.max_nfe = 200;
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    bp.n = 8;
    if (check(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &bp, &run, &s), ctx,
              "its_sampler_create"))
        goto done;
    if (check(its_generate(s, &model, &ver, 2024, &r), ctx, "its_generate"))
        goto done;

    its_usage u;
    its_result_usage(r, &u);
    const float *x = its_result_sample(r, 0);
    printf("itscale %s: best_of_n n=%d under max_nfe=%llu\n", its_version(), bp.n,
           (unsigned long long)run.max_nfe);
    printf("best sample (%.3f, %.3f), log p(rare | x) = %.4f\n", x[0], x[1],
           its_result_score(r, 0));
    printf("NFE %llu in %llu model calls (host saw %u), verifier rows %llu, stop: %s\n",
           (unsigned long long)u.nfe, (unsigned long long)u.model_calls, host.calls,
           (unsigned long long)u.verifier_rows, its_stop_name(its_result_stop(r)));
    /* 200 NFE pay for 10 trajectories of 20 steps; 8 were asked for */
    rc = (u.nfe == 160 && u.model_calls == host.calls && its_result_count(r) == 1) ? 0 : 1;
    if (rc)
        fprintf(stderr, "embed: unexpected accounting\n");
done:
    its_result_free(r);
    its_sampler_free(s);
    its_gmm_free(g);
    its_ctx_free(ctx);
    return rc;
}
