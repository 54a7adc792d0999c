/* The flow side of the dynamics against closed forms on the mixture: the score from a velocity,
 * the SDE drift and diffusion for every g(t), one engine SDE step with its keyed noise, the
 * interpolant conversion (a linear model sampled along vp gives the exact vp velocity), the
 * derivatives of t(r) and c(r), SNR matching, and the exp grid. The truth here is computed in
 * double from the mixture's parameters, not by the library. */
#include "its_test.h"

#include <stdlib.h>
#include <string.h>

#include "dynamics/dynamics.h"
#include "engine/engine_internal.h"
#include "samplers/sampler.h"

#define DIM 3
#define K 2
#define ITS_T_PI 3.14159265358979323846

/* A fixed 2-component mixture with unequal weights and per-dimension stds. */
static const double W[K] = {0.3, 0.7};
static const double MU[K][DIM] = {{1.5, -0.5, 0.8}, {-1.0, 0.7, -1.2}};
static const double SD[K][DIM] = {{0.4, 0.6, 0.5}, {0.7, 0.3, 0.5}};

typedef struct exact {
    double score[DIM], vel[DIM], x0[DIM];
} exact;

/* p_t = sum_k w_k N(alpha mu_k, alpha^2 s_k^2 + sigma^2); per component the posterior mean of x0
 * is mu_k + alpha s_k^2 / v_k (x - alpha mu_k), eps_hat_k = (x - alpha x0_k) / sigma, and
 * u_k = alpha' x0_k + sigma' eps_hat_k. Mixed with the responsibilities. */
static void exact_at(const its_interp *ip, double t, const double *x, exact *o)
{
    double v[4];
    ITS_ASSERT_OK(its_interp_eval(ip, t, v));
    double a = v[0], s = v[1], da = v[2], ds = v[3];
    double lr[K], mx = -INFINITY;
    for (int k = 0; k < K; k++) {
        lr[k] = log(W[k]);
        for (int d = 0; d < DIM; d++) {
            double var = a * a * SD[k][d] * SD[k][d] + s * s, r = x[d] - a * MU[k][d];
            lr[k] -= 0.5 * (r * r / var + log(2 * ITS_T_PI * var));
        }
        mx = fmax(mx, lr[k]);
    }
    double z = 0;
    for (int k = 0; k < K; k++)
        z += (lr[k] = exp(lr[k] - mx));
    memset(o, 0, sizeof(*o));
    for (int k = 0; k < K; k++) {
        double g = lr[k] / z;
        for (int d = 0; d < DIM; d++) {
            double var = a * a * SD[k][d] * SD[k][d] + s * s, r = x[d] - a * MU[k][d];
            double x0k = MU[k][d] + a * SD[k][d] * SD[k][d] / var * r;
            double epsk = (x[d] - a * x0k) / s;
            o->score[d] += g * (-r / var);
            o->vel[d] += g * (da * x0k + ds * epsk);
            o->x0[d] += g * x0k;
        }
    }
}

static its_gmm *mk_gmm(its_ctx *ctx)
{
    its_gmm *g = NULL;
    ITS_ASSERT_OK(its_gmm_create(ctx, DIM, K, W, &MU[0][0], &SD[0][0], &g));
    return g;
}

static double rel_err(const double *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return sqrt(num / fmax(den, 1e-300));
}

static uint64_t lcg_next(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s;
}

static double unif(uint64_t *s) { return ((double)(lcg_next(s) >> 11) + 0.5) * 0x1p-53; }

/* A point drawn near the marginal at t: alpha times a mean plus sigma-scaled spread. */
static void point(const its_interp *ip, double t, uint64_t *rs, double *x)
{
    double v[4];
    its_interp_eval(ip, t, v);
    int k = unif(rs) < 0.5 ? 0 : 1;
    for (int d = 0; d < DIM; d++)
        x[d] = v[0] * MU[k][d] + (2 * unif(rs) - 1) * 2 * sqrt(v[1] * v[1] + v[0] * v[0] * 0.25);
}

static const its_interp_kind KINDS[] = {ITS_INTERP_LINEAR, ITS_INTERP_VP, ITS_INTERP_VP_COSINE};

/* score = (alpha u - alpha' x) / (sigma (alpha' sigma - alpha sigma')) (DESIGN.md §4.1). */
static void test_score_from_velocity(void **state)
{
    (void)state;
    uint64_t rs = 1;
    for (size_t ki = 0; ki < 3; ki++) {
        its_interp ip;
        its_interp_init(&ip, KINDS[ki]);
        for (int it = 0; it < 50; it++) {
            double t = 0.02 + 0.96 * unif(&rs), x[DIM], sc[DIM];
            point(&ip, t, &rs, x);
            exact e;
            exact_at(&ip, t, x, &e);
            double cx, cp;
            ITS_ASSERT_OK(its_pred_coeffs(&ip, t, ITS_PRED_VELOCITY, ITS_PRED_SCORE, &cx, &cp));
            for (int d = 0; d < DIM; d++)
                sc[d] = cx * x[d] + cp * e.vel[d];
            double err = rel_err(sc, e.score, DIM);
            if (!(err < 1e-9))
                fail_msg("%s t=%g: score relative error %g", its_interp_kind_name(KINDS[ki]), t,
                         err);
            /* and the Tweedie estimate from the velocity */
            ITS_ASSERT_OK(its_pred_coeffs(&ip, t, ITS_PRED_VELOCITY, ITS_PRED_X0, &cx, &cp));
            for (int d = 0; d < DIM; d++)
                sc[d] = cx * x[d] + cp * e.vel[d];
            assert_true(rel_err(sc, e.x0, DIM) < 1e-9);
        }
    }
}

/* g(t) of each schedule, written out from DESIGN.md §4.2. */
static double g_ref(its_g_schedule g, double c, double t, double sigma)
{
    switch (g) {
    case ITS_G_CONSTANT: return c;
    case ITS_G_SIGMA: return c * sigma;
    case ITS_G_LINEAR: return c * t;
    case ITS_G_SQUARE: return c * t * t;
    default: return c * sin(ITS_T_PI * t / 2);
    }
}

/* x_s = x - D (u - g^2/2 score) + g sqrt(D) z: the step coefficients reproduce the drift with the
 * exact score, and C = g(t) sqrt(D). The last step (s = 0) is the ODE step. */
static void test_sde_drift(void **state)
{
    (void)state;
    uint64_t rs = 2;
    for (size_t ki = 0; ki < 3; ki++) {
        its_interp ip;
        its_interp_init(&ip, KINDS[ki]);
        for (int g = 0; g < ITS_G_COUNT_; g++) {
            for (int it = 0; it < 20; it++) {
                double t = 0.05 + 0.9 * unif(&rs), s = t * unif(&rs), c = 0.5 + 3 * unif(&rs);
                double x[DIM], v[4];
                point(&ip, t, &rs, x);
                its_interp_eval(&ip, t, v);
                exact e;
                exact_at(&ip, t, x, &e);
                its_stepc sc;
                ITS_ASSERT_OK(its_step_coeffs(&ip, ITS_DYN_SDE, (its_g_schedule)g, c, t, s, &sc));
                double gt = g_ref((its_g_schedule)g, c, t, v[1]), D = t - s;
                double got[DIM], want[DIM];
                for (int d = 0; d < DIM; d++) {
                    got[d] = sc.A * x[d] + sc.B * e.vel[d];
                    want[d] = x[d] - D * (e.vel[d] - 0.5 * gt * gt * e.score[d]);
                }
                assert_true(rel_err(got, want, DIM) < 1e-10);
                ITS_ASSERT_NEAR(sc.C, gt * sqrt(D), 1e-12 * (1 + sc.C));
                ITS_ASSERT_OK(its_step_coeffs(&ip, ITS_DYN_SDE, (its_g_schedule)g, c, t, 0.0, &sc));
                assert_true(sc.A == 1.0 && sc.B == -t && sc.C == 0.0);
                ITS_ASSERT_OK(its_step_coeffs(&ip, ITS_DYN_ODE, (its_g_schedule)g, c, t, s, &sc));
                assert_true(sc.A == 1.0 && sc.B == -D && sc.C == 0.0);
            }
        }
    }
}

/* An engine set up around the `none` method, for driving single steps. */
typedef struct eng_fix {
    its_ctx *ctx;
    its_gmm *g;
    its_model m;
    its_run_params run;
    its_engine *e;
} eng_fix;

static void eng_open(eng_fix *f, its_interp_kind model_kind, int convert, its_g_schedule g)
{
    f->ctx = its_test_ctx(NULL);
    f->g = mk_gmm(f->ctx);
    its_interp ip;
    its_interp_init(&ip, model_kind);
    its_gmm_bind_model(f->g, &ip, ITS_PRED_VELOCITY, &f->m);
    its_run_params_init(&f->run);
    f->run.steps = 8;
    f->run.dynamics = ITS_DYN_SDE;
    f->run.g_schedule = g;
    f->run.g_scale = 1.7;
    f->run.convert = convert;
    f->e = malloc(sizeof(its_engine));
    ITS_ASSERT_OK(its_engine_setup(f->e, f->ctx, &its_vt_none, NULL, &f->run, &f->m, NULL, 99));
}

static void eng_close(eng_fix *f)
{
    its_engine_release(f->e);
    free(f->e);
    its_gmm_free(f->g);
    its_ctx_free(f->ctx);
}

/* One engine SDE step from exact-model velocities: x_s = x - D (u - g^2/2 s) + g sqrt(D) z with
 * z the row's keyed stream (seed, lineage, purpose STEP, tick). */
static void test_engine_sde_step(void **state)
{
    (void)state;
    for (int g = 0; g < ITS_G_COUNT_; g++) {
        for (int model_kind = 0; model_kind < 2; model_kind++) {
            eng_fix f;
            eng_open(&f, model_kind ? ITS_INTERP_VP : ITS_INTERP_LINEAR, 0, (its_g_schedule)g);
            const size_t n = 6;
            its_pset ps;
            ITS_ASSERT_OK(its_eng_pset(f.e, &ps, n, 0));
            its_eng_roots(f.e, &ps, 0, n, 0);
            double t = 0.7, s = 0.55;
            ITS_ASSERT_OK(its_eng_init_noise(f.e, &ps, 0, n, t));
            ITS_ASSERT_OK(its_eng_eval(f.e, &ps, 0, n));
            float x[6 * DIM];
            memcpy(x, ps.x, sizeof(x));
            ITS_ASSERT_OK(its_eng_step(f.e, &ps, s, 3));
            double v[4];
            its_interp_eval(&f.m.interp, t, v);
            double gt = g_ref((its_g_schedule)g, 1.7, t, v[1]), D = t - s;
            for (size_t r = 0; r < n; r++) {
                double xr[DIM], got[DIM], want[DIM];
                float z[DIM + 4];
                its_noise_key key = {99, ps.lineage[r], (uint32_t)(ITS_NOISE_STEP << 24) | 3u};
                its_randn(z, DIM, &key, 0);
                for (int d = 0; d < DIM; d++)
                    xr[d] = x[r * DIM + d];
                exact e;
                exact_at(&f.m.interp, t, xr, &e);
                for (int d = 0; d < DIM; d++) {
                    got[d] = ps.x[r * DIM + d];
                    want[d] = xr[d] - D * (e.vel[d] - 0.5 * gt * gt * e.score[d]) +
                              gt * sqrt(D) * z[d];
                }
                double err = rel_err(got, want, DIM);
                if (!(err < 2e-6))
                    fail_msg("g %s, %s: row %zu relative error %g",
                             its_g_schedule_name((its_g_schedule)g), model_kind ? "vp" : "linear",
                             r, err);
            }
            assert_true(ps.t == s && !ps.has_u);
            eng_close(&f);
        }
    }
}

/* The engine's per-step records: a closed step records the NFE spent since its begin, a step
 * closed again adds to its first record, a step never closed leaves none. */
static void test_engine_step_records(void **state)
{
    (void)state;
    eng_fix f;
    eng_open(&f, ITS_INTERP_LINEAR, 0, ITS_G_SQUARE);
    const size_t n = 3;
    its_pset ps;
    ITS_ASSERT_OK(its_eng_pset(f.e, &ps, n, 0));
    its_eng_roots(f.e, &ps, 0, n, 0);
    ITS_ASSERT_OK(its_eng_init_noise(f.e, &ps, 0, n, 1.0));
    assert_int_equal(its_eng_step_end(f.e), 0); /* none open */
    its_eng_step_begin(f.e, 0, 1.0, 7);
    ITS_ASSERT_OK(its_eng_eval(f.e, &ps, 0, n));
    assert_int_equal(its_eng_step_end(f.e), n);
    its_eng_step_begin(f.e, 1, 0.875, -1);
    ITS_ASSERT_OK(its_eng_eval(f.e, &ps, 0, 2));
    assert_int_equal(its_eng_step_end(f.e), 2);
    its_eng_step_begin(f.e, 0, 1.0, -1); /* visited again: adds to step 0 */
    ITS_ASSERT_OK(its_eng_eval(f.e, &ps, 0, 1));
    assert_int_equal(its_eng_step_end(f.e), 1);
    its_eng_step_begin(f.e, 2, 0.75, -1); /* never closed */
    ITS_ASSERT_OK(its_eng_eval(f.e, &ps, 0, n));
    assert_int_equal(f.e->n_step_rec, 2);
    const its_step_usage *r = f.e->step_rec;
    assert_true(r[0].step == 0 && r[0].t == 1.0 && r[0].quota == 7 && r[0].used == (int64_t)n + 1);
    assert_true(r[1].step == 1 && r[1].t == 0.875 && r[1].quota == -1 && r[1].used == 2);
    eng_close(&f);
}

/* A linear-trained model sampled along vp (DESIGN.md §4.3): u_bar(x) = (c'/c) x + t' c u(x / c) at
 * t(r) equals the exact vp velocity of the mixture. In double through the evaluation map, and in
 * float through the engine. */
static void test_converted_velocity(void **state)
{
    (void)state;
    its_interp lin, vp;
    its_interp_init(&lin, ITS_INTERP_LINEAR);
    its_interp_init(&vp, ITS_INTERP_VP);
    uint64_t rs = 3;
    double worst = 0;
    for (int it = 0; it < 200; it++) {
        double r = 0.01 + 0.99 * unif(&rs), x[DIM], xm[DIM], ub[DIM];
        point(&vp, r, &rs, x);
        its_evalmap m;
        ITS_ASSERT_OK(its_evalmap_at(&lin, ITS_PRED_VELOCITY, &vp, r, &m));
        for (int d = 0; d < DIM; d++)
            xm[d] = m.in_scale * x[d];
        exact el, ev;
        exact_at(&lin, m.t_model, xm, &el);
        exact_at(&vp, r, x, &ev);
        for (int d = 0; d < DIM; d++)
            ub[d] = m.ux * x[d] + m.up * el.vel[d];
        double err = rel_err(ub, ev.vel, DIM);
        worst = fmax(worst, err);
        /* and the look-ahead from it is the exact vp posterior mean */
        double x0[DIM];
        for (int d = 0; d < DIM; d++)
            x0[d] = m.x0x * x[d] + m.x0u * ub[d];
        assert_true(rel_err(x0, ev.x0, DIM) < 1e-5);
    }
    if (!(worst < 1e-5))
        fail_msg("converted velocity: worst relative error %g", worst);

    /* through the engine, float latents and model outputs */
    eng_fix f;
    eng_open(&f, ITS_INTERP_LINEAR, 1, ITS_G_SQUARE);
    const size_t n = 16;
    its_pset ps;
    ITS_ASSERT_OK(its_eng_pset(f.e, &ps, n, 0));
    its_eng_roots(f.e, &ps, 0, n, 0);
    const double rr[] = {1.0, 0.9, 0.6, 0.3, 0.1, 0.03};
    for (size_t i = 0; i < sizeof(rr) / sizeof(rr[0]); i++) {
        ITS_ASSERT_OK(its_eng_init_noise(f.e, &ps, 0, n, rr[i]));
        ITS_ASSERT_OK(its_eng_eval(f.e, &ps, 0, n));
        for (size_t r = 0; r < n; r++) {
            double x[DIM], u[DIM];
            for (int d = 0; d < DIM; d++) {
                x[d] = ps.x[r * DIM + d];
                u[d] = ps.u[r * DIM + d];
            }
            exact ev;
            exact_at(&vp, rr[i], x, &ev);
            double err = rel_err(u, ev.vel, DIM);
            if (!(err < 1e-5))
                fail_msg("engine conversion at r=%g row %zu: relative error %g", rr[i], r, err);
        }
    }
    eng_close(&f);
}

/* t'(r) and c'(r) of DESIGN.md §4.3 against central differences of t(r) and c(r) = sigma_bar/sigma. */
static void test_conversion_derivatives(void **state)
{
    (void)state;
    const its_interp_kind src_kinds[] = {ITS_INTERP_LINEAR, ITS_INTERP_VP_COSINE};
    its_interp vp;
    its_interp_init(&vp, ITS_INTERP_VP);
    for (size_t si = 0; si < 2; si++) {
        its_interp src;
        its_interp_init(&src, src_kinds[si]);
        for (double r = 0.1; r < 0.95; r += 0.1) {
            const double h = 1e-5;
            double tp, tm, t0, vp_[4], vm_[4], sp[4], sm[4], w[4], v0[4];
            ITS_ASSERT_OK(its_snr_match(&src, &vp, r + h, &tp));
            ITS_ASSERT_OK(its_snr_match(&src, &vp, r - h, &tm));
            ITS_ASSERT_OK(its_snr_match(&src, &vp, r, &t0));
            its_interp_eval(&vp, r + h, vp_);
            its_interp_eval(&vp, r - h, vm_);
            its_interp_eval(&src, tp, sp);
            its_interp_eval(&src, tm, sm);
            its_interp_eval(&vp, r, w);
            its_interp_eval(&src, t0, v0);
            /* SNR matched */
            ITS_ASSERT_NEAR(v0[1] / v0[0], w[1] / w[0], 1e-9 * w[1] / w[0]);
            double dt_fd = (tp - tm) / (2 * h);
            double c0 = w[1] / v0[1];
            double dc_fd = (vp_[1] / sp[1] - vm_[1] / sm[1]) / (2 * h);
            /* DESIGN.md §4.3 formulas, written out */
            double dt = v0[1] * v0[1] * (w[1] * w[2] - w[0] * w[3]) /
                        (w[1] * w[1] * (v0[1] * v0[2] - v0[0] * v0[3]));
            double dc = (v0[1] * w[3] - w[1] * v0[3] * dt) / (v0[1] * v0[1]);
            ITS_ASSERT_NEAR(dt, dt_fd, 1e-5 * fabs(dt_fd) + 1e-8);
            ITS_ASSERT_NEAR(dc, dc_fd, 1e-5 * fabs(dc_fd) + 1e-8);
            /* the evaluation map carries them: in_scale = 1/c, ux = c'/c + t' cx */
            its_evalmap m;
            ITS_ASSERT_OK(its_evalmap_at(&src, ITS_PRED_VELOCITY, &vp, r, &m));
            ITS_ASSERT_NEAR(m.t_model, t0, 1e-12);
            ITS_ASSERT_NEAR(m.in_scale, 1.0 / c0, 1e-9 / c0);
            ITS_ASSERT_NEAR(m.up, dt * c0, 1e-9 * fabs(dt * c0));
            if (src_kinds[si] == ITS_INTERP_LINEAR)
                ITS_ASSERT_NEAR(t0, (w[1] / w[0]) / (1 + w[1] / w[0]), 1e-14);
        }
    }
}

/* The exp grid: uniform tau mapped by r = sqrt(1 - (1 - tau)^2), ending at 0. */
static void test_exp_grid(void **state)
{
    (void)state;
    its_run_params run;
    its_run_params_init(&run);
    run.grid = ITS_GRID_EXP;
    run.steps = 10;
    double t[11];
    ITS_ASSERT_OK(its_grid_build(NULL, &run, t));
    for (int i = 0; i <= 10; i++) {
        double tau = 1.0 - i / 10.0;
        ITS_ASSERT_NEAR(t[i], sqrt(1 - (1 - tau) * (1 - tau)), 1e-15);
        if (i)
            assert_true(t[i] < t[i - 1]);
    }
    assert_true(t[0] == 1.0 && t[10] == 0.0);
    ITS_ASSERT_NEAR(t[9], sqrt(0.19), 1e-15); /* the last searched level of rbf */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_score_from_velocity),
        cmocka_unit_test(test_sde_drift),
        cmocka_unit_test(test_engine_sde_step),
        cmocka_unit_test(test_engine_step_records),
        cmocka_unit_test(test_converted_velocity),
        cmocka_unit_test(test_conversion_derivatives),
        cmocka_unit_test(test_exp_grid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
