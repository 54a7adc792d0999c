/* Dynamics against closed-form truth: interpolant derivatives (finite differences), every
 * prediction conversion (the analytic mixture's exact predictions), Tweedie, step and re-noising
 * coefficients (written out independently), g schedules, time grids, SNR matching and the
 * interpolant conversion of DESIGN.md §4.3. */
#include "its_test.h"

#include <stdlib.h>
#include <string.h>

#include "dynamics/dynamics.h"

#define PI 3.14159265358979323846
#define DIM 3
#define ROWS 16

/* custom interpolant: the trigonometric path alpha = cos(pi t/2), sigma = sin(pi t/2) */
static double c_alpha(void *u, double t) { (void)u; return cos(0.5 * PI * t); }
static double c_sigma(void *u, double t) { (void)u; return sin(0.5 * PI * t); }
static double c_dalpha(void *u, double t) { (void)u; return -0.5 * PI * sin(0.5 * PI * t); }
static double c_dsigma(void *u, double t) { (void)u; return 0.5 * PI * cos(0.5 * PI * t); }
static double c_nan(void *u, double t) { (void)u; (void)t; return NAN; }

static void interp_of(its_interp *ip, its_interp_kind k)
{
    its_interp_init(ip, k);
    if (k == ITS_INTERP_VE) {
        ip->sigma_min = 0.02; /* a narrower range keeps float conversions well conditioned */
        ip->sigma_max = 10.0;
    }
    if (k == ITS_INTERP_CUSTOM) {
        ip->alpha = c_alpha;
        ip->sigma = c_sigma;
        ip->dalpha = c_dalpha;
        ip->dsigma = c_dsigma;
    }
}

static const double TS[] = {0.05, 0.13, 0.3, 0.5, 0.62, 0.8, 0.95};
#define NTS (sizeof(TS) / sizeof(TS[0]))

/* rows of x scattered around the marginal at t, from a fixed stream */
static void make_x(const its_interp *ip, double t, float *x, size_t n, uint64_t seed)
{
    double v[4];
    its_interp_eval(ip, t, v);
    its_noise_key k = {seed, 99, 7};
    its_randn(x, n * DIM, &k, 0);
    for (size_t i = 0; i < n * DIM; i++)
        x[i] = (float)(v[0] * (i % 2 ? 1.5 : -1.0) + (v[1] + 0.3) * x[i]);
}

static its_gmm *mixture(its_ctx *ctx)
{
    const double w[3] = {0.5, 0.3, 0.2};
    const double mu[3 * DIM] = {-1.0, 0.5, 2.0, 1.5, -0.5, 0.0, 0.3, 2.0, -1.2};
    const double sd[3 * DIM] = {0.4, 0.6, 0.3, 0.5, 0.5, 0.8, 0.7, 0.3, 0.4};
    its_gmm *g = NULL;
    ITS_ASSERT_OK(its_gmm_create(ctx, DIM, 3, w, mu, sd, &g));
    return g;
}

/* ------------------------------------------------------------------------------------------ */

static void test_interp_derivatives(void **state)
{
    (void)state;
    for (int k = 0; k < ITS_INTERP_COUNT_; k++) {
        its_interp ip;
        interp_of(&ip, (its_interp_kind)k);
        for (size_t i = 0; i < NTS; i++) {
            double t = TS[i], h = 1e-6, v[4], p[4], m[4];
            ITS_ASSERT_OK(its_interp_eval(&ip, t, v));
            ITS_ASSERT_OK(its_interp_eval(&ip, t + h, p));
            ITS_ASSERT_OK(its_interp_eval(&ip, t - h, m));
            double fa = (p[0] - m[0]) / (2 * h), fs = (p[1] - m[1]) / (2 * h);
            /* central difference: error h^2 f'''/6 plus rounding 1e-16 |f| / h */
            ITS_ASSERT_NEAR(v[2], fa, 1e-6 * (1 + fabs(fa)));
            ITS_ASSERT_NEAR(v[3], fs, 1e-6 * (1 + fabs(fs)));
            assert_true(v[0] >= 0 && v[1] > 0);
        }
    }
    /* closed forms at t = 0.5 */
    its_interp ip;
    double v[4];
    interp_of(&ip, ITS_INTERP_LINEAR);
    ITS_ASSERT_OK(its_interp_eval(&ip, 0.25, v));
    ITS_ASSERT_NEAR(v[0], 0.75, 1e-15);
    ITS_ASSERT_NEAR(v[1], 0.25, 1e-15);
    interp_of(&ip, ITS_INTERP_VP);
    ITS_ASSERT_OK(its_interp_eval(&ip, 0.5, v));
    double T = 0.5 * 0.25 * (20.0 - 0.1) + 0.5 * 0.1;
    ITS_ASSERT_NEAR(v[0], exp(-T / 2), 1e-14);
    ITS_ASSERT_NEAR(v[1], sqrt(1 - exp(-T)), 1e-14);
    interp_of(&ip, ITS_INTERP_VE);
    ITS_ASSERT_OK(its_interp_eval(&ip, 0.5, v));
    ITS_ASSERT_NEAR(v[1], sqrt(0.02 * 10.0), 1e-14);
    ITS_ASSERT_NEAR(v[0], 1.0, 0);
    interp_of(&ip, ITS_INTERP_VP_COSINE);
    ITS_ASSERT_OK(its_interp_eval(&ip, 0.0, v));
    ITS_ASSERT_NEAR(v[0], 1.0, 1e-15);
    ITS_ASSERT_NEAR(v[0] * v[0] + v[1] * v[1], 1.0, 1e-15);
    ITS_ASSERT_OK(its_interp_eval(&ip, 0.7, v));
    ITS_ASSERT_NEAR(v[0] * v[0] + v[1] * v[1], 1.0, 1e-14);

    /* rejections: t outside [0, 1], NULL, unknown kind, incomplete or non-finite custom */
    assert_int_equal(its_interp_eval(&ip, -0.01, v), ITS_ERR_INVALID);
    assert_int_equal(its_interp_eval(&ip, 1.01, v), ITS_ERR_INVALID);
    assert_int_equal(its_interp_eval(&ip, NAN, v), ITS_ERR_INVALID);
    assert_int_equal(its_interp_eval(NULL, 0.5, v), ITS_ERR_INVALID);
    assert_int_equal(its_interp_eval(&ip, 0.5, NULL), ITS_ERR_INVALID);
    ip.kind = (its_interp_kind)17;
    assert_int_equal(its_interp_eval(&ip, 0.5, v), ITS_ERR_INVALID);
    interp_of(&ip, ITS_INTERP_CUSTOM);
    ip.dsigma = NULL;
    assert_int_equal(its_interp_eval(&ip, 0.5, v), ITS_ERR_INVALID);
    ip.dsigma = c_nan;
    assert_int_equal(its_interp_eval(&ip, 0.5, v), ITS_ERR_NUMERIC);
}

/* Converting one exact prediction must give another exact one. Tolerance: float rounding of the
 * inputs (the mixture writes float) scaled by the size of the terms, 1e-5 relative. */
static void test_pred_conversions(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = mixture(ctx);
    float x[ROWS * DIM], pred[ITS_PRED_COUNT_][ROWS * DIM];
    int checked = 0;
    for (int k = 0; k < ITS_INTERP_COUNT_; k++) {
        its_interp ip;
        interp_of(&ip, (its_interp_kind)k);
        for (size_t ti = 0; ti < NTS; ti++) {
            double t = TS[ti];
            make_x(&ip, t, x, ROWS, 11 + ti);
            for (int p = 0; p < ITS_PRED_COUNT_; p++)
                ITS_ASSERT_OK(its_gmm_predict(g, &ip, (its_pred)p, t, x, ROWS, pred[p]));
            for (int from = 0; from < ITS_PRED_COUNT_; from++) {
                for (int to = 0; to < ITS_PRED_COUNT_; to++) {
                    double cx, cp;
                    ITS_ASSERT_OK(its_pred_coeffs(&ip, t, (its_pred)from, (its_pred)to, &cx, &cp));
                    for (size_t i = 0; i < ROWS * DIM; i++) {
                        double got = cx * x[i] + cp * pred[from][i], want = pred[to][i];
                        double scale = fabs(cx * x[i]) + fabs(cp * pred[from][i]) + fabs(want);
                        if (!(fabs(got - want) <= 1e-5 * scale + 1e-6))
                            fail_msg("%s t=%g %s->%s elem %zu: %.9g vs %.9g",
                                     its_interp_kind_name(ip.kind), t, its_pred_name(from),
                                     its_pred_name(to), i, got, want);
                    }
                    checked++;
                }
            }
        }
    }
    assert_int_equal(checked, ITS_INTERP_COUNT_ * (int)NTS * 16);

    /* the identity and a few closed forms (DESIGN.md §4.1) */
    its_interp ip;
    interp_of(&ip, ITS_INTERP_LINEAR);
    double cx, cp;
    ITS_ASSERT_OK(its_pred_coeffs(&ip, 0.4, ITS_PRED_EPS, ITS_PRED_EPS, &cx, &cp));
    assert_true(cx == 0.0 && cp == 1.0);
    /* linear: x0 = x - t u, eps = x + (1 - t) u */
    ITS_ASSERT_OK(its_pred_coeffs(&ip, 0.4, ITS_PRED_VELOCITY, ITS_PRED_X0, &cx, &cp));
    ITS_ASSERT_NEAR(cx, 1.0, 1e-15);
    ITS_ASSERT_NEAR(cp, -0.4, 1e-15);
    ITS_ASSERT_OK(its_pred_coeffs(&ip, 0.4, ITS_PRED_VELOCITY, ITS_PRED_EPS, &cx, &cp));
    ITS_ASSERT_NEAR(cx, 1.0, 1e-15);
    ITS_ASSERT_NEAR(cp, 0.6, 1e-15);
    /* singular: x0 from eps where alpha = 0, score where sigma = 0, bad enums, NULL outputs */
    assert_int_equal(its_pred_coeffs(&ip, 1.0, ITS_PRED_EPS, ITS_PRED_X0, &cx, &cp),
                     ITS_ERR_NUMERIC);
    assert_int_equal(its_pred_coeffs(&ip, 0.0, ITS_PRED_X0, ITS_PRED_SCORE, &cx, &cp),
                     ITS_ERR_NUMERIC);
    assert_int_equal(its_pred_coeffs(&ip, 0.5, (its_pred)9, ITS_PRED_X0, &cx, &cp),
                     ITS_ERR_INVALID);
    assert_int_equal(its_pred_coeffs(&ip, 0.5, ITS_PRED_X0, (its_pred)-1, &cx, &cp),
                     ITS_ERR_INVALID);
    assert_int_equal(its_pred_coeffs(&ip, 0.5, ITS_PRED_X0, ITS_PRED_EPS, NULL, &cp),
                     ITS_ERR_INVALID);
    assert_int_equal(its_pred_coeffs(&ip, 1.5, ITS_PRED_X0, ITS_PRED_EPS, &cx, &cp),
                     ITS_ERR_INVALID);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

/* Tweedie: E[x0 | x_t] = (x + sigma^2 score) / alpha, and the evaluation map's look-ahead
 * x0x x + x0u u built from the exact velocity equals it. */
static void test_tweedie(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = mixture(ctx);
    float x[ROWS * DIM], u[ROWS * DIM], sc[ROWS * DIM], x0[ROWS * DIM], pr[ROWS * DIM];
    for (int k = 0; k < ITS_INTERP_COUNT_; k++) {
        its_interp ip;
        interp_of(&ip, (its_interp_kind)k);
        for (size_t ti = 0; ti < NTS; ti++) {
            double t = TS[ti], v[4];
            ITS_ASSERT_OK(its_interp_eval(&ip, t, v));
            make_x(&ip, t, x, ROWS, 40 + ti);
            ITS_ASSERT_OK(its_gmm_predict(g, &ip, ITS_PRED_VELOCITY, t, x, ROWS, u));
            ITS_ASSERT_OK(its_gmm_predict(g, &ip, ITS_PRED_SCORE, t, x, ROWS, sc));
            ITS_ASSERT_OK(its_gmm_predict(g, &ip, ITS_PRED_X0, t, x, ROWS, x0));
            for (int p = 0; p < ITS_PRED_COUNT_; p++) {
                its_evalmap m;
                ITS_ASSERT_OK(its_evalmap_at(&ip, (its_pred)p, NULL, t, &m));
                ITS_ASSERT_NEAR(m.t_model, t, 0);
                ITS_ASSERT_NEAR(m.in_scale, 1.0, 0);
                ITS_ASSERT_OK(its_gmm_predict(g, &ip, (its_pred)p, t, x, ROWS, pr));
                for (size_t i = 0; i < ROWS * DIM; i++) {
                    double tw = ((double)x[i] + v[1] * v[1] * sc[i]) / v[0];
                    double scale = (fabs(x[i]) + v[1] * v[1] * fabs(sc[i])) / v[0];
                    ITS_ASSERT_NEAR(tw, x0[i], 1e-5 * scale + 1e-6);
                    double uw = m.ux * x[i] + m.up * pr[i];
                    ITS_ASSERT_NEAR(uw, u[i], 1e-5 * (fabs(m.ux * x[i]) + fabs(m.up * pr[i])) + 1e-6);
                    double xm = m.x0x * x[i] + m.x0u * uw;
                    /* the velocity's own rounding propagates through x0u */
                    double su = fabs(m.ux * x[i]) + fabs(m.up * pr[i]);
                    ITS_ASSERT_NEAR(xm, x0[i], 1e-5 * (fabs(m.x0x * x[i]) + fabs(m.x0u) * su) + 1e-6);
                }
            }
        }
    }
    its_gmm_free(g);
    its_ctx_free(ctx);
}

static double g_formula(its_g_schedule gs, double c, double t, double sigma)
{
    switch (gs) {
    case ITS_G_CONSTANT: return c;
    case ITS_G_SIGMA: return c * sigma;
    case ITS_G_LINEAR: return c * t;
    case ITS_G_SQUARE: return c * t * t;
    case ITS_G_SIN: return c * sin(PI * t / 2);
    default: return NAN;
    }
}

static void test_g_schedules(void **state)
{
    (void)state;
    for (int gs = 0; gs < ITS_G_COUNT_; gs++)
        for (size_t i = 0; i < NTS; i++)
            ITS_ASSERT_NEAR(its_g_eval((its_g_schedule)gs, 2.5, TS[i], 0.7),
                            g_formula((its_g_schedule)gs, 2.5, TS[i], 0.7), 1e-14);
    ITS_ASSERT_NEAR(its_g_eval(ITS_G_SIN, 3.0, 1.0, 0.0), 3.0, 1e-15);
    ITS_ASSERT_NEAR(its_g_eval(ITS_G_SQUARE, 3.0, 0.0, 0.0), 0.0, 0);
}

/* x_s = x - d (u - g^2/2 score) + g sqrt(d) z with the mixture's exact u and score (DESIGN.md §4.2),
 * against A x + B u + C z from the library. */
static void test_step_coeffs(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = mixture(ctx);
    float x[ROWS * DIM], u[ROWS * DIM], sc[ROWS * DIM];
    float z[ROWS * DIM];
    its_noise_key kz = {5, 6, 7};
    its_randn(z, ROWS * DIM, &kz, 0);
    for (int k = 0; k < ITS_INTERP_COUNT_; k++) {
        its_interp ip;
        interp_of(&ip, (its_interp_kind)k);
        for (size_t ti = 0; ti < NTS; ti++) {
            double t = TS[ti], s = t * 0.8, d = t - s, v[4];
            ITS_ASSERT_OK(its_interp_eval(&ip, t, v));
            make_x(&ip, t, x, ROWS, 70 + ti);
            ITS_ASSERT_OK(its_gmm_predict(g, &ip, ITS_PRED_VELOCITY, t, x, ROWS, u));
            ITS_ASSERT_OK(its_gmm_predict(g, &ip, ITS_PRED_SCORE, t, x, ROWS, sc));
            its_stepc c;
            ITS_ASSERT_OK(its_step_coeffs(&ip, ITS_DYN_ODE, ITS_G_SQUARE, 3.0, t, s, &c));
            ITS_ASSERT_NEAR(c.A, 1.0, 0);
            ITS_ASSERT_NEAR(c.B, -d, 1e-15);
            ITS_ASSERT_NEAR(c.C, 0.0, 0);
            for (int gs = 0; gs < ITS_G_COUNT_; gs++) {
                double gt = g_formula((its_g_schedule)gs, 1.7, t, v[1]);
                ITS_ASSERT_OK(its_step_coeffs(&ip, ITS_DYN_SDE, (its_g_schedule)gs, 1.7, t, s, &c));
                ITS_ASSERT_NEAR(c.C, gt * sqrt(d), 1e-14);
                for (size_t i = 0; i < ROWS * DIM; i++) {
                    double want = x[i] - d * (u[i] - 0.5 * gt * gt * sc[i]) + gt * sqrt(d) * z[i];
                    double got = c.A * x[i] + c.B * u[i] + c.C * z[i];
                    double scale = fabs(x[i]) + d * (fabs(u[i]) + 0.5 * gt * gt * fabs(sc[i])) +
                                   fabs(c.B * u[i]) + fabs(c.A * x[i]);
                    if (!(fabs(got - want) <= 1e-5 * scale + 1e-6))
                        fail_msg("%s g=%s t=%g: %.9g vs %.9g", its_interp_kind_name(ip.kind),
                                 its_g_schedule_name(gs), t, got, want);
                }
            }
            /* the last step to t = 0 is the ODE step for every g */
            ITS_ASSERT_OK(its_step_coeffs(&ip, ITS_DYN_SDE, ITS_G_CONSTANT, 2.0, t, 0.0, &c));
            assert_true(c.A == 1.0 && c.B == -t && c.C == 0.0);
        }
    }
    its_stepc c;
    its_interp ip;
    interp_of(&ip, ITS_INTERP_LINEAR);
    assert_int_equal(its_step_coeffs(&ip, ITS_DYN_ODE, ITS_G_SQUARE, 3.0, 0.5, 0.5, &c),
                     ITS_ERR_INVALID);
    assert_int_equal(its_step_coeffs(&ip, ITS_DYN_SDE, ITS_G_SQUARE, 3.0, 0.4, 0.5, &c),
                     ITS_ERR_INVALID);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

/* x_f = (alpha_f/alpha_c) x_c + sqrt(sigma_f^2 - (alpha_f/alpha_c)^2 sigma_c^2) eps maps the
 * marginal at tc onto the marginal at tf: a alpha_c = alpha_f and a^2 sigma_c^2 + b^2 = sigma_f^2. */
static void test_renoise_coeffs(void **state)
{
    (void)state;
    for (int k = 0; k < ITS_INTERP_COUNT_; k++) {
        its_interp ip;
        interp_of(&ip, (its_interp_kind)k);
        for (size_t i = 0; i < NTS; i++) {
            double tc = TS[i] * 0.5, tf = TS[i], a, b, vc[4], vf[4];
            ITS_ASSERT_OK(its_renoise_coeffs(&ip, tc, tf, &a, &b));
            ITS_ASSERT_OK(its_interp_eval(&ip, tc, vc));
            ITS_ASSERT_OK(its_interp_eval(&ip, tf, vf));
            ITS_ASSERT_NEAR(a * vc[0], vf[0], 1e-13);
            ITS_ASSERT_NEAR(a * a * vc[1] * vc[1] + b * b, vf[1] * vf[1], 1e-12 * (1 + vf[1] * vf[1]));
            assert_true(b >= 0);
        }
        double a, b;
        ITS_ASSERT_OK(its_renoise_coeffs(&ip, 0.3, 0.3, &a, &b));
        ITS_ASSERT_NEAR(a, 1.0, 1e-15);
        ITS_ASSERT_NEAR(b, 0.0, 1e-7);
        assert_int_equal(its_renoise_coeffs(&ip, 0.5, 0.4, &a, &b), ITS_ERR_INVALID);
    }
    /* from data (tc = 0) to t: the forward process itself */
    its_interp ip;
    interp_of(&ip, ITS_INTERP_LINEAR);
    double a, b;
    ITS_ASSERT_OK(its_renoise_coeffs(&ip, 0.0, 0.7, &a, &b));
    ITS_ASSERT_NEAR(a, 0.3, 1e-15);
    ITS_ASSERT_NEAR(b, 0.7, 1e-15);
}

static void test_grids(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_run_params run;
    its_run_params_init(&run);
    double t[65];
    const int steps[] = {1, 2, 7, 64};
    for (size_t si = 0; si < 4; si++) {
        int T = steps[si];
        run.steps = T;
        for (int gk = ITS_GRID_UNIFORM; gk <= ITS_GRID_EXP; gk++) {
            for (int m = 0; m < 2; m++) {
                run.grid = (its_grid)gk;
                run.t_max = m ? 0.8 : 1.0;
                run.grid_shift = 3.0;
                ITS_ASSERT_OK(its_grid_build(ctx, &run, t));
                for (int i = 0; i <= T; i++) {
                    double uu = 1.0 - (double)i / T, want;
                    if (gk == ITS_GRID_UNIFORM)
                        want = uu;
                    else if (gk == ITS_GRID_SHIFTED)
                        want = 3.0 * uu / (1.0 + 2.0 * uu);
                    else
                        want = sqrt(1.0 - (1.0 - uu) * (1.0 - uu));
                    ITS_ASSERT_NEAR(t[i], run.t_max * want, 1e-15);
                    if (i > 0)
                        assert_true(t[i] < t[i - 1]);
                }
                assert_true(t[T] == 0.0);
                assert_true(t[0] == run.t_max);
            }
        }
    }
    /* custom grid: copied exactly; rejected when not decreasing, outside [0, 1] or not ending at 0 */
    run.grid = ITS_GRID_CUSTOM;
    run.steps = 4;
    const double good[5] = {1.0, 0.6, 0.35, 0.1, 0.0};
    run.grid_custom = good;
    ITS_ASSERT_OK(its_grid_build(ctx, &run, t));
    for (int i = 0; i < 5; i++)
        assert_true(t[i] == good[i]);
    const double bad[4][5] = {
        {1.0, 0.6, 0.6, 0.1, 0.0},  /* not strictly decreasing */
        {1.2, 0.6, 0.35, 0.1, 0.0}, /* above 1 */
        {1.0, 0.6, 0.35, 0.1, 0.05},/* does not end at 0 */
        {1.0, 0.6, NAN, 0.1, 0.0},  /* not a number */
    };
    for (int b = 0; b < 4; b++) {
        run.grid_custom = bad[b];
        assert_int_equal(its_grid_build(ctx, &run, t), ITS_ERR_INVALID);
        assert_non_null(strstr(its_ctx_errmsg(ctx), "run.grid_custom["));
    }
    run.grid_custom = NULL;
    assert_int_equal(its_grid_build(ctx, &run, t), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "grid_custom"));

    /* a rejected custom grid stops sampler creation with the same message */
    its_gmm *g = mixture(ctx);
    its_model m;
    its_gmm_bind_model(g, NULL, ITS_PRED_VELOCITY, &m);
    run.grid_custom = bad[0];
    its_sampler *s = (its_sampler *)&s;
    assert_int_equal(its_sampler_create(ctx, ITS_METHOD_NONE, NULL, &run, &s), ITS_ERR_INVALID);
    assert_null(s);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "run.grid_custom[2]"));
    its_result *r = NULL;
    /* a good one runs on exactly those times */
    run.grid_custom = good;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_NONE, NULL, &run, &s));
    ITS_ASSERT_OK(its_generate(s, &m, NULL, 1, &r));
    its_usage us;
    its_result_usage(r, &us);
    assert_int_equal(us.nfe, 4);
    its_result_free(r);
    its_sampler_free(s);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

/* sigma(t)/alpha(t) = sigma_w(r)/alpha_w(r); linear source in closed form t = rho/(1 + rho). */
static void test_snr_match(void **state)
{
    (void)state;
    const its_interp_kind src_k[] = {ITS_INTERP_LINEAR, ITS_INTERP_VP_COSINE, ITS_INTERP_VP,
                                     ITS_INTERP_CUSTOM};
    const its_interp_kind dst_k[] = {ITS_INTERP_VP, ITS_INTERP_VP_COSINE, ITS_INTERP_LINEAR};
    for (size_t a = 0; a < 4; a++) {
        for (size_t b = 0; b < 3; b++) {
            its_interp src, dst;
            interp_of(&src, src_k[a]);
            interp_of(&dst, dst_k[b]);
            for (size_t i = 0; i < NTS; i++) {
                double r = TS[i], t, vs[4], vw[4];
                ITS_ASSERT_OK(its_snr_match(&src, &dst, r, &t));
                ITS_ASSERT_OK(its_interp_eval(&src, t, vs));
                ITS_ASSERT_OK(its_interp_eval(&dst, r, vw));
                double rho = vw[1] / vw[0];
                ITS_ASSERT_NEAR(vs[1] / vs[0], rho, 1e-9 * (1 + rho));
                if (src_k[a] == ITS_INTERP_LINEAR)
                    ITS_ASSERT_NEAR(t, rho / (1 + rho), 1e-15);
                if (src_k[a] == dst_k[b])
                    ITS_ASSERT_NEAR(t, r, 1e-12);
            }
        }
    }
}

/* DESIGN.md §4.3: with the model's interpolant and a target one, the transformed velocity
 * u_bar = ux x + up pred(in_scale x, t_model) is the exact velocity of the mixture along the
 * target path, for every prediction type the model may write. */
static void test_evalmap_conversion(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = mixture(ctx);
    float x[ROWS * DIM], xin[ROWS * DIM], pr[ROWS * DIM], ue[ROWS * DIM], x0e[ROWS * DIM];
    const its_interp_kind src_k[] = {ITS_INTERP_LINEAR, ITS_INTERP_LINEAR, ITS_INTERP_VP_COSINE};
    const its_interp_kind dst_k[] = {ITS_INTERP_VP, ITS_INTERP_VP_COSINE, ITS_INTERP_VP};
    for (size_t c = 0; c < 3; c++) {
        its_interp src, dst;
        interp_of(&src, src_k[c]);
        interp_of(&dst, dst_k[c]);
        for (size_t ti = 0; ti < NTS; ti++) {
            double r = TS[ti];
            make_x(&dst, r, x, ROWS, 100 + ti);
            ITS_ASSERT_OK(its_gmm_predict(g, &dst, ITS_PRED_VELOCITY, r, x, ROWS, ue));
            ITS_ASSERT_OK(its_gmm_predict(g, &dst, ITS_PRED_X0, r, x, ROWS, x0e));
            for (int p = 0; p < ITS_PRED_COUNT_; p++) {
                its_evalmap m;
                ITS_ASSERT_OK(its_evalmap_at(&src, (its_pred)p, &dst, r, &m));
                double tt;
                ITS_ASSERT_OK(its_snr_match(&src, &dst, r, &tt));
                ITS_ASSERT_NEAR(m.t_model, tt, 1e-15);
                double vw[4], vs[4];
                its_interp_eval(&dst, r, vw);
                its_interp_eval(&src, tt, vs);
                ITS_ASSERT_NEAR(1.0 / m.in_scale, vw[1] / vs[1], 1e-9 * vw[1] / vs[1]);
                for (size_t i = 0; i < ROWS * DIM; i++)
                    xin[i] = (float)(m.in_scale * x[i]);
                ITS_ASSERT_OK(its_gmm_predict(g, &src, (its_pred)p, m.t_model, xin, ROWS, pr));
                double num = 0, den = 0, num0 = 0, den0 = 0;
                for (size_t i = 0; i < ROWS * DIM; i++) {
                    double ub = m.ux * x[i] + m.up * pr[i];
                    double x0 = m.x0x * x[i] + m.x0u * ub;
                    num += (ub - ue[i]) * (ub - ue[i]);
                    den += (double)ue[i] * ue[i];
                    num0 += (x0 - x0e[i]) * (x0 - x0e[i]);
                    den0 += (double)x0e[i] * x0e[i];
                }
                double rel = sqrt(num / den), rel0 = sqrt(num0 / den0);
                if (!(rel <= 1e-5 && rel0 <= 1e-5))
                    fail_msg("%s->%s pred %s r=%g: velocity rel err %.3g, x0 rel err %.3g",
                             its_interp_kind_name(src.kind), its_interp_kind_name(dst.kind),
                             its_pred_name(p), r, rel, rel0);
            }
        }
    }
    its_gmm_free(g);
    its_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_interp_derivatives),
        cmocka_unit_test(test_pred_conversions),
        cmocka_unit_test(test_tweedie),
        cmocka_unit_test(test_g_schedules),
        cmocka_unit_test(test_step_coeffs),
        cmocka_unit_test(test_renoise_coeffs),
        cmocka_unit_test(test_grids),
        cmocka_unit_test(test_snr_match),
        cmocka_unit_test(test_evalmap_conversion),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
