/* Statistical tests of the search samplers on the analytic mixture, with fixed seeds:
 * - every search beats `none` on a rare target at its own NFE (difference of means over seeds
 *   larger than 3 standard errors);
 * - fk_smc with an exact model samples the reward-tilted mixture p exp(lambda r) for a quadratic
 *   reward, whose component weights and mean are known in closed form. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its_test.h"

/* ---------------------------------------------------------------------------------------------
 * Search beats the baseline
 * ------------------------------------------------------------------------------------------- */
#define SEEDS 16

typedef struct search_case {
    const char *name;
    its_method m;
    const void *params;
} search_case;

/* Mean and standard error over SEEDS of the best verifier score. */
static void score_over_seeds(its_ctx *ctx, const search_case *c, const its_run_params *run,
                             const its_model *m, const its_verifier *v, double *mean, double *se,
                             uint64_t *nfe)
{
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(ctx, c->m, c->params, run, &s));
    double sc[SEEDS];
    for (int i = 0; i < SEEDS; i++) {
        its_result *r = NULL;
        ITS_ASSERT_OK(its_generate(s, m, v, 5000 + (uint64_t)i, &r));
        sc[i] = its_result_score(r, 0);
        its_usage u;
        its_result_usage(r, &u);
        *nfe = u.nfe;
        its_result_free(r);
    }
    its_sampler_free(s);
    its_test_mean_se(sc, SEEDS, mean, se);
}

static void test_search_beats_none(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    /* rare target (5%) in 4 dimensions: `none` lands in it about once in 20 runs */
    its_gmm *g = its_test_gmm2(ctx, 4, 1.0, 0.5, 0.05);
    its_interp ip;
    its_interp_init(&ip, ITS_INTERP_LINEAR);
    its_model m;
    its_verifier v;
    its_gmm_bind_model(g, &ip, ITS_PRED_VELOCITY, &m);
    ITS_ASSERT_OK(its_gmm_bind_logprob(g, 1, &v));
    its_run_params run;
    its_run_params_init(&run);
    run.steps = 10;
    run.dynamics = ITS_DYN_SDE;

    /* each search at about 100 NFE */
    its_beam_params bp;
    its_beam_params_init(&bp);
    bp.beams = 2;
    bp.children = 5; /* 2 + 2 * 5 * 9 = 92 */
    its_svdd_params sp;
    its_svdd_params_init(&sp);
    sp.n = 2;
    sp.children = 5; /* 92 */
    its_code_params cp;
    its_code_params_init(&cp);
    cp.n = 2;
    cp.children = 5; /* 92 */
    its_bfs_params fp;
    its_bfs_params_init(&fp);
    fp.n = 10; /* 100 */
    its_fk_smc_params kp;
    its_fk_smc_params_init(&kp);
    kp.n = 10; /* 100 */
    kp.lambda = 1.0;
    const search_case cases[] = {
        {"beam", ITS_METHOD_BEAM, &bp}, {"svdd", ITS_METHOD_SVDD, &sp},
        {"code", ITS_METHOD_CODE, &cp}, {"bfs", ITS_METHOD_BFS, &fp},
        {"fk_smc", ITS_METHOD_FK_SMC, &kp},
    };
    search_case none = {"none", ITS_METHOD_NONE, NULL};
    double m0, s0;
    uint64_t nfe0;
    score_over_seeds(ctx, &none, &run, &m, &v, &m0, &s0, &nfe0);
    printf("# none: %.3f +- %.3f at %llu NFE\n", m0, s0, (unsigned long long)nfe0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        double m1, s1;
        uint64_t nfe1;
        score_over_seeds(ctx, &cases[i], &run, &m, &v, &m1, &s1, &nfe1);
        double se = sqrt(s0 * s0 + s1 * s1);
        printf("# %s: %.3f +- %.3f at %llu NFE (difference %.1f standard errors)\n",
               cases[i].name, m1, s1, (unsigned long long)nfe1, (m1 - m0) / se);
        assert_true(nfe1 <= 100);
        if (!(m1 - m0 > 3.0 * se))
            fail_msg("%s: %.3f vs none %.3f, difference under 3 standard errors (%.3f)",
                     cases[i].name, m1, m0, se);
    }
    its_gmm_free(g);
    its_ctx_free(ctx);
}

/* ---------------------------------------------------------------------------------------------
 * FK steering samples the tilted mixture
 * ------------------------------------------------------------------------------------------- */
#define TILT_N 1024
#define TILT_RUNS 16

/* Target: p(x) exp(lambda r(x)) with r(x) = -a |x - c|^2; for a mixture p this is again a
 * mixture (its_gmm_tilt_quadratic). The components sit 8.5 standard deviations apart, so "most
 * likely tilted component" equals "drawn from that component" up to ~1e-5: the share of samples
 * classified as component 1 estimates its tilted weight w'_1.
 * Tolerance. Runs are independent, particles within a run are not (resampling copies them), so
 * the error bar is the standard error over runs of the per-run share (mean), which accounts for
 * the correlation; we allow 4 of them. SMC estimates are also biased, by O(1/N) (self-normalised
 * weights; Del Moral 2004): we add 4/N for the share (a probability) and 4 (mu_1 - mu_0)/N for the
 * mean (the spread of the values it averages), about 0.004 and 0.012 at N = 1024. The SDE's own
 * discretisation error at 40 steps is below 0.01 on this mixture (checked untilted: weight
 * 0.201 +- 0.004 for 0.2). */
static void check_tilt(its_ctx *ctx, its_gmm *g, const its_model *m, const its_verifier *v,
                       const its_gmm *tg, const its_fk_smc_params *p, const char *what)
{
    its_run_params run;
    its_run_params_init(&run);
    run.steps = 40;
    run.dynamics = ITS_DYN_SDE;
    run.top_k = TILT_N;
    its_interp ip;
    its_interp_init(&ip, ITS_INTERP_LINEAR);
    (void)g;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_FK_SMC, p, &run, &s));
    double share[TILT_RUNS], mean[TILT_RUNS];
    for (int i = 0; i < TILT_RUNS; i++) {
        its_result *r = NULL;
        ITS_ASSERT_OK(its_generate(s, m, v, 700 + (uint64_t)i, &r));
        size_t n = its_result_count(r);
        assert_int_equal(n, TILT_N);
        double k1 = 0, mm = 0;
        for (size_t j = 0; j < n; j++) {
            const float *x = its_result_sample(r, j);
            double xd[2] = {x[0], x[1]}, resp[2];
            ITS_ASSERT_OK(its_gmm_responsibilities(tg, &ip, 0.0, xd, resp));
            k1 += resp[1] > resp[0];
            mm += 0.5 * (xd[0] + xd[1]);
        }
        share[i] = k1 / (double)n;
        mean[i] = mm / (double)n;
        its_result_free(r);
    }
    its_sampler_free(s);
    double w1 = its_gmm_weight(tg, 1);
    double mu = w1 * its_gmm_mean(tg, 1)[0] + (1.0 - w1) * its_gmm_mean(tg, 0)[0];
    double spread = its_gmm_mean(tg, 1)[0] - its_gmm_mean(tg, 0)[0];
    double ms, ss, mm, sm;
    its_test_mean_se(share, TILT_RUNS, &ms, &ss);
    its_test_mean_se(mean, TILT_RUNS, &mm, &sm);
    printf("# fk_smc %s: tilted weight %.4f +- %.4f (exact %.4f), mean %.4f +- %.4f (exact "
           "%.4f)\n",
           what, ms, ss, w1, mm, sm, mu);
    ITS_ASSERT_NEAR(ms, w1, 4.0 * ss + 4.0 / TILT_N);
    ITS_ASSERT_NEAR(mm, mu, 4.0 * sm + 4.0 * fabs(spread) / TILT_N);
}

static void test_fk_tilted_mixture(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    /* p: 0.8 N(-1.5, 0.25 I) + 0.2 N(1.5, 0.25 I) in 2-D; r = -0.5 |x - (0.5, 0.5)|^2, lambda 1:
     * the tilt moves the rare component's weight from 0.2 to about 0.73. */
    its_gmm *g = its_test_gmm2(ctx, 2, 1.5, 0.5, 0.2);
    its_interp ip;
    its_interp_init(&ip, ITS_INTERP_LINEAR);
    its_model m;
    its_verifier v;
    its_gmm_bind_model(g, &ip, ITS_PRED_VELOCITY, &m);
    const double c[2] = {0.5, 0.5}, a = 0.5, lambda = 1.0;
    ITS_ASSERT_OK(its_gmm_bind_quadratic(g, c, a, &v));
    its_gmm *tg = NULL;
    ITS_ASSERT_OK(its_gmm_tilt_quadratic(g, c, a, lambda, &tg));
    assert_true(its_gmm_weight(tg, 1) > 0.7);

    /* rt: G = exp(lambda r_t) at t = 0.5 and 0.25 (window [0, 0.5], every 10 of 40 steps), then
     * the final correction exp(lambda r) / prod G; adaptive (ESS < n/2), systematic. Few
     * intermediate potentials: their product is undone only by the final weights, so many of
     * them make those weights degenerate. */
    its_fk_smc_params p;
    its_fk_smc_params_init(&p);
    p.n = TILT_N;
    p.lambda = lambda;
    p.potential = ITS_POT_RT;
    p.t_start = 0.5;
    p.interval = 10;
    p.resampler = ITS_RESAMPLE_SYSTEMATIC;
    check_tilt(ctx, g, &m, &v, tg, &p, "rt");

    /* diff at every step (the default): the product telescopes, no final correction. */
    its_fk_smc_params_init(&p);
    p.n = TILT_N;
    p.lambda = lambda;
    check_tilt(ctx, g, &m, &v, tg, &p, "diff");

    its_gmm_free(tg);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_beats_none),
        cmocka_unit_test(test_fk_tilted_mixture),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
