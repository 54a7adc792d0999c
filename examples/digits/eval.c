/* itscale-digits-eval: `none` against `best_of_n` on the digits task at one NFE budget, over
 * seeds: verifier score, held-out evaluator accuracy and log-probability (mean +- standard
 * error), and pooled diversity and Frechet distance to the real digits of the target class.
 *
 *   itscale-digits-eval [--dir DIR] [--data PATH] [--target D] [--seeds N] [--nfe N]
 *                       [--steps N] [--pgm PREFIX]
 *
 * Missing weight files in DIR are trained first (see itscale-digits-train). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its_digits.h"

static void mean_se(const double *v, int n, double *m, double *se)
{
    double s = 0, q = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    *m = s / n;
    for (int i = 0; i < n; i++)
        q += (v[i] - *m) * (v[i] - *m);
    *se = n > 1 ? sqrt(q / (n - 1) / n) : NAN;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: itscale-digits-eval [--dir DIR] [--data PATH] [--target D] [--seeds N]\n"
            "       [--nfe N] [--steps N] [--pgm PREFIX]\n"
            "none against best_of_n on the digits task at one NFE budget: verifier score,\n"
            "held-out accuracy and log p (mean +- standard error over seeds), diversity and\n"
            "Frechet distance to the real digits of the target.\n"
            "  --dir DIR      weight files (default %s); missing ones are trained first\n"
            "  --data PATH    digits CSV, gzip or plain (default %s)\n"
            "  --target D     the digit the verifier rewards (default 3)\n"
            "  --seeds N      seeds 0 .. N-1 (default 16, at least 2)\n"
            "  --nfe N        best_of_n's budget: n = N / steps (default 500)\n"
            "  --steps N      Euler steps per trajectory (default 20)\n"
            "  --pgm PREFIX   also write each method's samples as PREFIX-METHOD.pgm\n",
            its_digits_default_cache_dir(), its_digits_default_data_path());
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *data = NULL, *pgm = NULL;
    int target = 3, seeds = 16, nfe = 500, steps = 20;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--dir"))
            dir = v;
        else if (!strcmp(a, "--data"))
            data = v;
        else if (!strcmp(a, "--pgm"))
            pgm = v;
        else if (!strcmp(a, "--target"))
            target = atoi(v);
        else if (!strcmp(a, "--seeds"))
            seeds = atoi(v);
        else if (!strcmp(a, "--nfe"))
            nfe = atoi(v);
        else if (!strcmp(a, "--steps"))
            steps = atoi(v);
        else {
            usage(stderr);
            return 2;
        }
    }
    if ((argc - 1) % 2 || seeds < 2 || seeds > 4096 || steps < 1 || nfe < steps) {
        fprintf(stderr, "itscale-digits-eval: bad arguments (seeds >= 2, nfe >= steps >= 1)\n");
        return 2;
    }
    char err[512];
    its_digits_bundle b;
    if (its_digits_bundle_open(data, dir, target, stderr, &b, err, sizeof(err)) != ITS_OK) {
        fprintf(stderr, "itscale-digits-eval: %s\n", err);
        return 1;
    }
    printf("verifier accuracy on split B %.4f, evaluator accuracy on split A %.4f\n",
           b.acc_verifier_b, b.acc_evaluator_a);
    its_ctx *ctx = NULL;
    its_flow_model fm;
    its_model model;
    its_clf ver, eva;
    if (its_ctx_create(NULL, &ctx) != ITS_OK ||
        its_flow_model_create(&fm, &b.flow, 64, &model, err, sizeof(err)) != ITS_OK ||
        its_clf_create(&ver, &b.verifier, 64, target, err, sizeof(err)) != ITS_OK ||
        its_clf_create(&eva, &b.evaluator, 64, target, err, sizeof(err)) != ITS_OK) {
        fprintf(stderr, "itscale-digits-eval: setup failed: %s\n", err);
        return 1;
    }
    its_verifier vf;
    its_clf_bind_verifier(&ver, &vf);
    its_run_params run;
    its_run_params_init(&run);
    run.steps = steps;
    run.max_nfe = (uint64_t)nfe;
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    bp.n = nfe / steps;
    const char *names[2] = {"none", "best_of_n"};
    its_method methods[2] = {ITS_METHOD_NONE, ITS_METHOD_BEST_OF_N};
    const void *params[2] = {NULL, &bp};
    double *score = malloc(sizeof(double) * (size_t)seeds * 3);
    float *outs = malloc(sizeof(float) * (size_t)seeds * ITS_DIGITS_DIM);
    if (!score || !outs)
        return 1;
    printf("target digit %d, %d seeds, %d steps, best_of_n n = %d (%d NFE)\n", target, seeds,
           steps, bp.n, bp.n * steps);
    printf("%-10s %6s  %-18s %-18s %-18s %9s %9s\n", "method", "NFE", "verifier log p",
           "evaluator acc", "evaluator log p", "diversity", "frechet");
    for (int k = 0; k < 2; k++) {
        its_sampler *s = NULL;
        if (its_sampler_create(ctx, methods[k], params[k], &run, &s) != ITS_OK) {
            fprintf(stderr, "itscale-digits-eval: %s\n", its_ctx_errmsg(ctx));
            return 1;
        }
        uint64_t used = 0;
        for (int i = 0; i < seeds; i++) {
            its_result *r = NULL;
            if (its_generate(s, &model, &vf, (uint64_t)i, &r) != ITS_OK) {
                fprintf(stderr, "itscale-digits-eval: %s\n", its_ctx_errmsg(ctx));
                return 1;
            }
            its_usage u;
            its_result_usage(r, &u);
            used = u.nfe;
            const float *x = its_result_sample(r, 0);
            memcpy(outs + (size_t)i * ITS_DIGITS_DIM, x, ITS_DIGITS_DIM * sizeof(float));
            float lp;
            int cls;
            its_clf_logp(&eva, x, 1, &lp, &cls);
            score[i] = its_result_score(r, 0);
            score[seeds + i] = cls == target;
            score[2 * seeds + i] = lp;
            its_result_free(r);
        }
        double m[3], se[3], fd = NAN;
        for (int j = 0; j < 3; j++)
            mean_se(score + (size_t)j * seeds, seeds, &m[j], &se[j]);
        if (its_frechet_samples(outs, (size_t)seeds, b.target_rows.x, b.target_rows.n,
                                ITS_DIGITS_DIM, &fd, err, sizeof(err)) != ITS_OK)
            fprintf(stderr, "itscale-digits-eval: %s\n", err);
        printf("%-10s %6llu  %7.3f +- %-7.3f %7.3f +- %-7.3f %7.3f +- %-7.3f %9.3f %9.2f\n",
               names[k], (unsigned long long)used, m[0], se[0], m[1], se[1], m[2], se[2],
               its_diversity(outs, (size_t)seeds, ITS_DIGITS_DIM), fd);
        if (pgm) {
            char path[4096];
            snprintf(path, sizeof(path), "%s-%s.pgm", pgm, names[k]);
            if (its_digits_write_pgm(path, outs, (size_t)seeds, 8, 4, err, sizeof(err)) != ITS_OK)
                fprintf(stderr, "itscale-digits-eval: %s\n", err);
        }
        its_sampler_free(s);
    }
    free(score);
    free(outs);
    its_clf_free(&ver);
    its_clf_free(&eva);
    its_flow_model_free(&fm);
    its_ctx_free(ctx);
    its_digits_bundle_free(&b);
    return 0;
}
