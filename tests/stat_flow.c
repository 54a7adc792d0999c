/* Statistical checks of the flow dynamics on the exact mixture model.
 *
 * 1. SDE sampling with every g(t) schedule reproduces the mixture (Kim et al. 2025, Prop. 1: the
 *    marginals do not depend on g): per-dimension mean and second moment, and the weight of
 *    component 0 estimated without bias as the mean posterior responsibility E_p[p(0 | x)] = w_0.
 * 2. A linear-trained model sampled along vp (run.convert = 1, ODE and SDE) reproduces
 *    the linear ODE's marginals: at t = 0 the mixture (uniform grid), and at an intermediate level r
 *    of the exp grid the
 *    rescaled x / c(r) has the exact linear marginal at t(r).
 *
 * Tolerance of each statistic: 4 standard errors (from the samples themselves; fixed seeds) plus a
 * discretisation allowance. Euler and Euler-Maruyama are weak order 1 (bias C / T). At T = 100 the
 * largest deviation measured over all these runs with N = 40000 was 0.038 (the linear ODE's second
 * moment in dimension 0; 0.015 at T = 400), so the allowance is 0.05 on means and second moments
 * and 0.01 on the weight. */
#include "its_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dynamics/dynamics.h"
#include "engine/engine_internal.h"
#include "samplers/sampler.h"

#define DIM 2
#define K 2
#ifndef N
#define N 5000
#endif
#ifndef T
#define T 100
#endif

static const double W[K] = {0.3, 0.7};
static const double MU[K][DIM] = {{1.5, -0.5}, {-1.0, 0.7}};
static const double SD[K][DIM] = {{0.4, 0.6}, {0.7, 0.3}};

#define BIAS_MOMENT 0.05
#define BIAS_WEIGHT 0.01

typedef struct run_out {
    float *x;   /* N x DIM */
    double r;   /* level reached */
} run_out;

/* Runs N particles from grid[0] for `ksteps` steps; x copied to out. */
static void run_particles(const its_run_params *run, int ksteps, uint64_t seed, run_out *out)
{
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = NULL;
    ITS_ASSERT_OK(its_gmm_create(ctx, DIM, K, W, &MU[0][0], &SD[0][0], &g));
    its_interp lin;
    its_interp_init(&lin, ITS_INTERP_LINEAR);
    its_model m;
    its_gmm_bind_model(g, &lin, ITS_PRED_VELOCITY, &m);
    its_engine *e = malloc(sizeof(*e));
    ITS_ASSERT_OK(its_engine_setup(e, ctx, &its_vt_none, NULL, run, &m, NULL, seed));
    its_pset ps;
    ITS_ASSERT_OK(its_eng_pset(e, &ps, N, 0));
    its_eng_roots(e, &ps, 0, N, 0);
    const double *grid = its_eng_grid(e);
    ITS_ASSERT_OK(its_eng_init_noise(e, &ps, 0, N, grid[0]));
    for (int k = 0; k < ksteps; k++) {
        ITS_ASSERT_OK(its_eng_eval(e, &ps, 0, N));
        ITS_ASSERT_OK(its_eng_step(e, &ps, grid[k + 1], (uint32_t)k));
    }
    out->x = malloc(sizeof(float) * N * DIM);
    memcpy(out->x, ps.x, sizeof(float) * N * DIM);
    out->r = grid[ksteps];
    its_engine_release(e);
    free(e);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

static int check(const char *what, const double *v, double truth, double bias)
{
    double mean, se;
    its_test_mean_se(v, N, &mean, &se);
    double tol = 4 * se + bias;
    int ok = fabs(mean - truth) <= tol;
    printf("  %-34s %9.5f  truth %9.5f  |d| %.5f  se %.5f  tol %.5f %s\n", what, mean, truth,
           fabs(mean - truth), se, tol, ok ? "" : "FAIL");
    return ok;
}

/* Mean, second moment per dimension, and the component-0 weight of samples x / scale against the
 * exact marginal (alpha, sigma) of the mixture. */
static int check_marginal(const float *x, double scale, double a, double s, const char *label)
{
    double *v = malloc(sizeof(double) * N);
    int ok = 1;
    char name[64];
    for (int d = 0; d < DIM; d++) {
        double m1 = 0, m2 = 0;
        for (int k = 0; k < K; k++) {
            double mk = a * MU[k][d], vk = a * a * SD[k][d] * SD[k][d] + s * s;
            m1 += W[k] * mk;
            m2 += W[k] * (mk * mk + vk);
        }
        for (int i = 0; i < N; i++)
            v[i] = x[i * DIM + d] / scale;
        snprintf(name, sizeof(name), "%s mean[%d]", label, d);
        ok &= check(name, v, m1, BIAS_MOMENT);
        for (int i = 0; i < N; i++)
            v[i] = v[i] * v[i];
        snprintf(name, sizeof(name), "%s m2[%d]", label, d);
        ok &= check(name, v, m2, BIAS_MOMENT);
    }
    /* E_p[p(0 | x)] = w_0 */
    for (int i = 0; i < N; i++) {
        double l[K];
        for (int k = 0; k < K; k++) {
            l[k] = log(W[k]);
            for (int d = 0; d < DIM; d++) {
                double vk = a * a * SD[k][d] * SD[k][d] + s * s;
                double r = x[i * DIM + d] / scale - a * MU[k][d];
                l[k] -= 0.5 * (r * r / vk + log(vk));
            }
        }
        v[i] = 1.0 / (1.0 + exp(l[1] - l[0]));
    }
    snprintf(name, sizeof(name), "%s weight[0]", label);
    ok &= check(name, v, W[0], BIAS_WEIGHT);
    free(v);
    return ok;
}

static void test_sde_every_g(void **state)
{
    (void)state;
    const double scale[ITS_G_COUNT_] = {1.0, 1.5, 2.0, 3.0, 1.5};
    int ok = 1;
    for (int g = -1; g < ITS_G_COUNT_; g++) {
        its_run_params run;
        its_run_params_init(&run);
        run.steps = T;
        run.dynamics = g < 0 ? ITS_DYN_ODE : ITS_DYN_SDE;
        run.g_schedule = g < 0 ? ITS_G_SQUARE : (its_g_schedule)g;
        run.g_scale = g < 0 ? 0 : scale[g];
        run_out o;
        run_particles(&run, T, 1000 + (uint64_t)(g + 1), &o);
        char label[48];
        snprintf(label, sizeof(label), "%s", g < 0 ? "ode" : its_g_schedule_name((its_g_schedule)g));
        printf("linear, %s (c = %g), T = %d, N = %d\n", label, run.g_scale, T, N);
        ok &= check_marginal(o.x, 1.0, 1.0, 0.0, label);
        free(o.x);
    }
    assert_true(ok);
}

static void test_converted_vp(void **state)
{
    (void)state;
    its_interp lin, vp;
    its_interp_init(&lin, ITS_INTERP_LINEAR);
    its_interp_init(&vp, ITS_INTERP_VP);
    int ok = 1;
    for (int dyn = 0; dyn < 2; dyn++) {
        its_run_params run;
        its_run_params_init(&run);
        run.steps = T;
        run.grid = ITS_GRID_EXP;
        run.convert = 1;
        run.dynamics = dyn ? ITS_DYN_SDE : ITS_DYN_ODE;
        run.g_schedule = ITS_G_SQUARE;
        run.g_scale = 3;
        const char *dn = dyn ? "sde square 3" : "ode";
        /* an intermediate level: x_bar_r / c(r) ~ the linear marginal at t(r) */
        run_out o;
        run_particles(&run, T / 2, 2000 + (uint64_t)dyn, &o);
        double t, w[4], v[4];
        ITS_ASSERT_OK(its_snr_match(&lin, &vp, o.r, &t));
        its_interp_eval(&vp, o.r, w);
        its_interp_eval(&lin, t, v);
        double c = w[1] / v[1];
        printf("vp from linear, %s, r = %.4f -> t = %.4f, c = %.4f\n", dn, o.r, t, c);
        char label[48];
        snprintf(label, sizeof(label), "%s r=%.3f", dyn ? "sde" : "ode", o.r);
        ok &= check_marginal(o.x, c, v[0], v[1], label);
        free(o.x);
        /* the end: the mixture itself. On the uniform grid: the exp grid's last step (from
         * r = sqrt(1 - (1 - 1/T)^2) straight to 0) is long and curved along vp, the reason rbf
         * returns the Tweedie estimate one level early. */
        run.grid = ITS_GRID_UNIFORM;
        run_particles(&run, T, 3000 + (uint64_t)dyn, &o);
        printf("vp from linear, %s, t = 0\n", dn);
        snprintf(label, sizeof(label), "%s t=0", dyn ? "sde" : "ode");
        ok &= check_marginal(o.x, 1.0, 1.0, 0.0, label);
        free(o.x);
    }
    assert_true(ok);
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sde_every_g),
        cmocka_unit_test(test_converted_vp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
