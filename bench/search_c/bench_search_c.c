/* Mean verifier score (log posterior of a rare target component) and hit rate at NFE budgets
 * 100 / 500 / 2000 for beam, svdd, code, bfs and fk_smc beside none and best_of_n: mean +-
 * standard error over 16 seeds. With `quad` the reward is graded instead: r = -|x - c|^2 / dim with
 * c = 0.25 (1, ..., 1), between the modes, where no method saturates.
 * Usage: bench_search_c [seeds] [dim] [w_rare] [logprob|quad]. */
#include <string.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "itscale.h"
#include "itscale/gmm.h"

#define MAX_SEEDS 256

static void mean_se(const double *v, int n, double *m, double *se)
{
    double s = 0, q = 0;
    for (int i = 0; i < n; i++)
        s += v[i];
    s /= n;
    for (int i = 0; i < n; i++)
        q += (v[i] - s) * (v[i] - s);
    *m = s;
    *se = n > 1 ? sqrt(q / (n - 1) / n) : 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: bench_search_c [seeds 2..256] [dim >= 1] [w_rare] [logprob|quad]\n");
            printf("beam, svdd, code, bfs and fk_smc beside none and best_of_n at NFE 100, 500, 2000\n");
            return 0;
        }
    int seeds = argc > 1 ? atoi(argv[1]) : 16;
    size_t dim = argc > 2 ? (size_t)atoi(argv[2]) : 8;
    double w_rare = argc > 3 ? atof(argv[3]) : 0.005;
    if (seeds < 2 || seeds > MAX_SEEDS || dim < 1)
        return 2;
    its_ctx *ctx = NULL;
    if (its_ctx_create(NULL, &ctx) != ITS_OK)
        return 1;
    double w[2] = {1 - w_rare, w_rare};
    double *mu = calloc(2 * dim, sizeof(double)), *sd = calloc(2 * dim, sizeof(double));
    for (size_t d = 0; d < dim; d++) {
        mu[d] = -1.0;
        mu[dim + d] = 1.0;
        sd[d] = sd[dim + d] = 0.5;
    }
    its_gmm *g = NULL;
    if (its_gmm_create(ctx, dim, 2, w, mu, sd, &g) != ITS_OK)
        return 1;
    its_interp ip;
    its_interp_init(&ip, ITS_INTERP_LINEAR);
    its_model m;
    its_verifier v;
    its_gmm_bind_model(g, &ip, ITS_PRED_VELOCITY, &m);
    int quad = argc > 4 && strcmp(argv[4], "quad") == 0;
    double *center = calloc(dim, sizeof(double));
    for (size_t d = 0; d < dim; d++)
        center[d] = 0.25;
    if (quad)
        its_gmm_bind_quadratic(g, center, 1.0 / (double)dim, &v);
    else
        its_gmm_bind_logprob(g, 1, &v);
    const int T = 10;
    printf("# mixture dim %zu, target weight %g, %d SDE steps, %d seeds; score = %s\n", dim,
           w_rare, T, seeds, quad ? "-|x - c|^2 / dim" : "log p(target | x)");
    printf("%-10s %6s %6s %18s %8s\n", "method", "budget", "nfe", "score", "hit");
    const int budgets[3] = {100, 500, 2000};
    for (int bi = 0; bi < 3; bi++) {
        int B = budgets[bi];
        int K = (B / 2 - 1) / (T - 1); /* two particles, K children: 2 + 2 K (T - 1) <= B */
        its_none_params np;
        its_none_params_init(&np);
        its_best_of_n_params bp;
        its_best_of_n_params_init(&bp);
        bp.n = B / T;
        its_beam_params mp;
        its_beam_params_init(&mp);
        mp.beams = 2;
        mp.children = K;
        its_svdd_params sp;
        its_svdd_params_init(&sp);
        sp.n = 2;
        sp.children = K;
        its_code_params cp;
        its_code_params_init(&cp);
        cp.n = 2;
        cp.children = K;
        its_bfs_params fp;
        its_bfs_params_init(&fp);
        fp.n = B / T;
        its_fk_smc_params kp;
        its_fk_smc_params_init(&kp);
        kp.n = B / T;
        struct {
            const char *name;
            its_method m;
            const void *p;
        } cases[] = {
            {"none", ITS_METHOD_NONE, &np},   {"best_of_n", ITS_METHOD_BEST_OF_N, &bp},
            {"beam", ITS_METHOD_BEAM, &mp},   {"svdd", ITS_METHOD_SVDD, &sp},
            {"code", ITS_METHOD_CODE, &cp},   {"bfs", ITS_METHOD_BFS, &fp},
            {"fk_smc", ITS_METHOD_FK_SMC, &kp},
        };
        for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
            its_run_params run;
            its_run_params_init(&run);
            run.steps = T;
            run.dynamics = ITS_DYN_SDE;
            run.max_nfe = (uint64_t)B;
            its_sampler *s = NULL;
            if (its_sampler_create(ctx, cases[c].m, cases[c].p, &run, &s) != ITS_OK) {
                fprintf(stderr, "%s: %s\n", cases[c].name, its_ctx_errmsg(ctx));
                return 1;
            }
            double sc[MAX_SEEDS], hit[MAX_SEEDS];
            uint64_t nfe = 0;
            for (int i = 0; i < seeds; i++) {
                its_result *r = NULL;
                if (its_generate(s, &m, &v, 100 + (uint64_t)i, &r) != ITS_OK) {
                    fprintf(stderr, "%s: %s\n", cases[c].name, its_ctx_errmsg(ctx));
                    return 1;
                }
                sc[i] = its_result_score(r, 0);
                double resp[2], *x = calloc(dim, sizeof(double));
                for (size_t d = 0; d < dim; d++)
                    x[d] = its_result_sample(r, 0)[d];
                its_gmm_responsibilities(g, &ip, 0.0, x, resp);
                free(x);
                hit[i] = resp[1] > resp[0]; /* most likely component is the target */
                its_usage u;
                its_result_usage(r, &u);
                nfe = u.nfe;
                its_result_free(r);
            }
            its_sampler_free(s);
            double ms, ss, mh, sh;
            mean_se(sc, seeds, &ms, &ss);
            mean_se(hit, seeds, &mh, &sh);
            printf("%-10s %6d %6llu %9.3f +- %6.3f %8.2f\n", cases[c].name, B,
                   (unsigned long long)nfe, ms, ss, mh);
        }
    }
    its_gmm_free(g);
    its_ctx_free(ctx);
    free(mu);
    free(sd);
    free(center);
    return 0;
}
