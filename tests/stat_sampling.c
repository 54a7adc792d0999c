/* Statistical checks against the analytic mixture (label "stat"): `none` trajectories reproduce
 * the mixture's mean, per-dimension variance and component weights for ODE (Euler, Heun; linear,
 * vp, vp_cosine, and linear converted to vp) and SDE (every g schedule); Heun beats Euler at few
 * steps; best_of_n's mean score follows the order statistics of single-trajectory scores.
 *
 * Samples are drawn in batches through best_of_n with top_k = n and a constant verifier (all
 * n i.i.d. trajectories come back; trajectory i is `none` on lineage root i, see test_engine),
 * and, for the baseline configuration, by calling `none` once per seed.
 *
 * Tolerances. Each estimate has a standard error from its own samples (fixed seeds); we allow
 * 4 SE. On top comes the discretisation bias, which is O(1/T). Its size is taken from closed
 * form: for one Gaussian component N(mu, s^2) the exact velocity, score and Euler/Heun/
 * Euler-Maruyama steps are affine in x, so the sampler's output law is Gaussian with a mean and
 * variance given by a scalar recursion (gauss_run below, written out independently of the
 * library). The mixture's bias is that of its components plus the coupling where components
 * overlap; with well separated components the coupling is smaller than the per-component bias,
 * so we allow 3x the bias predicted by the recursion. A shift delta of a component moves at most
 * phi(0) delta / s of its mass across any boundary, and a change of its width by a factor
 * (1 + e) at most phi(1) |e| (phi the standard normal density), which bounds the bias of the
 * component weights. Steps: Euler 100, Heun 50, Euler-Maruyama 100, enough that the bias terms
 * stay at or below the 4 SE of 4096 samples. */
#include "its_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DIM 2
#define K 2
#define BATCH 1024

static const double W[K] = {0.65, 0.35};
static const double MU[K * DIM] = {-1.2, 0.8, 1.8, -1.0};
static const double SD[K * DIM] = {0.5, 0.7, 0.4, 0.35};

typedef struct cfg {
    const char *name;
    its_interp_kind interp;   /* the model's interpolant */
    its_solver solver;
    its_dynamics dyn;
    its_g_schedule g;
    double g_scale;
    int convert;              /* 1: sample along vp */
    int steps;
} cfg;

static int zero_score(void *user, const float *x0, size_t n, float *s)
{
    (void)user;
    (void)x0;
    for (size_t i = 0; i < n; i++)
        s[i] = 0.0f;
    return 0;
}

/* n samples (n a multiple of BATCH) of configuration c with seeds seed0, seed0 + 1, ... */
static void draw(its_ctx *ctx, its_gmm *g, const cfg *c, size_t n, uint64_t seed0, int use_none,
                 float *out)
{
    its_interp ip;
    its_interp_init(&ip, c->interp);
    its_model m;
    its_gmm_bind_model(g, &ip, ITS_PRED_VELOCITY, &m);
    its_verifier v;
    its_verifier_init(&v);
    v.score = zero_score;
    its_run_params run;
    its_run_params_init(&run);
    run.steps = c->steps;
    run.solver = c->solver;
    run.dynamics = c->dyn;
    run.g_schedule = c->g;
    run.g_scale = c->g_scale;
    run.convert = c->convert;
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    bp.n = BATCH;
    run.top_k = use_none ? 1 : BATCH;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(ctx, use_none ? ITS_METHOD_NONE : ITS_METHOD_BEST_OF_N,
                                     use_none ? NULL : &bp, &run, &s));
    size_t per = use_none ? 1 : BATCH;
    for (size_t b = 0; b < n / per; b++) {
        its_result *r = NULL;
        its_status st = its_generate(s, &m, use_none ? NULL : &v, seed0 + b, &r);
        if (st != ITS_OK)
            fail_msg("%s: %s", c->name, its_ctx_errmsg(ctx));
        assert_int_equal(its_result_count(r), per);
        for (size_t i = 0; i < per; i++)
            memcpy(out + (b * per + i) * DIM, its_result_sample(r, i), DIM * sizeof(float));
        its_result_free(r);
    }
    its_sampler_free(s);
}

/* The sampler's output law for one Gaussian N(mu, s^2) in one dimension: Gaussian with mean *m
 * and variance *P. Under interpolant (a, sg) its marginal is N(a mu, v), v = a^2 s^2 + sg^2, so
 * x0_hat = mu + (a s^2 / v)(x - a mu), eps_hat = (x - a x0_hat)/sg, u = a' x0_hat + sg' eps_hat,
 * score = -(x - a mu)/v: all affine in x. Steps (DESIGN.md §4.2) on a uniform grid from t = 1, start
 * x = sg(1) z. */
typedef struct affine {
    double k, b; /* k x + b */
} affine;

static affine gauss_velocity(const its_interp *ip, double t, double mu, double s)
{
    double q[4];
    its_interp_eval(ip, t, q);
    double a = q[0], sg = q[1], da = q[2], ds = q[3], v = a * a * s * s + sg * sg;
    double kx = a * s * s / v;                       /* x0 = mu + kx (x - a mu) */
    affine x0 = {kx, mu - kx * a * mu};
    affine eps = {(1 - a * x0.k) / sg, -a * x0.b / sg};
    affine u = {da * x0.k + ds * eps.k, da * x0.b + ds * eps.b};
    return u;
}

static void gauss_run(const cfg *c, double mu, double s, double *m, double *P)
{
    its_interp ip;
    its_interp_init(&ip, c->convert ? ITS_INTERP_VP : c->interp);
    double q[4];
    its_interp_eval(&ip, 1.0, q);
    double mm = 0, PP = q[1] * q[1];
    int T = c->steps;
    for (int i = 0; i < T; i++) {
        double t = 1.0 - (double)i / T, sn = 1.0 - (double)(i + 1) / T, d = t - sn;
        if (i == T - 1)
            sn = 0.0;
        affine u = gauss_velocity(&ip, t, mu, s);
        double kk, bb, noise = 0;
        if (c->dyn == ITS_DYN_SDE && sn > 0) {
            its_interp_eval(&ip, t, q);
            double a = q[0], v = a * a * s * s + q[1] * q[1];
            double gt;
            switch (c->g) {
            case ITS_G_CONSTANT: gt = c->g_scale; break;
            case ITS_G_SIGMA: gt = c->g_scale * q[1]; break;
            case ITS_G_LINEAR: gt = c->g_scale * t; break;
            case ITS_G_SQUARE: gt = c->g_scale * t * t; break;
            default: gt = c->g_scale * sin(1.5707963267948966 * t); break;
            }
            affine sc = {-1.0 / v, a * mu / v};
            kk = 1 - d * (u.k - 0.5 * gt * gt * sc.k);
            bb = -d * (u.b - 0.5 * gt * gt * sc.b);
            noise = gt * gt * d;
        } else if (c->solver == ITS_SOLVER_HEUN && sn > 0) {
            /* x_e = x - d u(x); x' = x - d/2 (u(x) + u2(x_e)) */
            affine u2 = gauss_velocity(&ip, sn, mu, s);
            affine xe = {1 - d * u.k, -d * u.b};
            kk = 1 - 0.5 * d * (u.k + u2.k * xe.k);
            bb = -0.5 * d * (u.b + u2.k * xe.b + u2.b);
        } else {
            kk = 1 - d * u.k;
            bb = -d * u.b;
        }
        mm = kk * mm + bb;
        PP = kk * kk * PP + noise;
    }
    *m = mm;
    *P = PP;
}

typedef struct stats {
    double mean[DIM], mean_se[DIM], var[DIM], var_se[DIM], w[K], w_se[K];
} stats;

static void summarise(its_gmm *g, const float *x, size_t n, stats *st, const double *tmean)
{
    double *buf = malloc(n * sizeof(double));
    its_interp ip;
    its_interp_init(&ip, ITS_INTERP_LINEAR);
    for (size_t d = 0; d < DIM; d++) {
        for (size_t i = 0; i < n; i++)
            buf[i] = x[i * DIM + d];
        its_test_mean_se(buf, n, &st->mean[d], &st->mean_se[d]);
        /* E[(x - mean)^2] with the true mean is the variance, without estimation bias */
        for (size_t i = 0; i < n; i++)
            buf[i] = (x[i * DIM + d] - tmean[d]) * (x[i * DIM + d] - tmean[d]);
        its_test_mean_se(buf, n, &st->var[d], &st->var_se[d]);
    }
    /* E_p[p(k | x)] = w_k: the mean responsibility estimates the weight without classifying */
    for (size_t k = 0; k < K; k++) {
        for (size_t i = 0; i < n; i++) {
            double xd[DIM], resp[K];
            for (size_t d = 0; d < DIM; d++)
                xd[d] = x[i * DIM + d];
            its_gmm_responsibilities(g, &ip, 0.0, xd, resp);
            buf[i] = resp[k];
        }
        its_test_mean_se(buf, n, &st->w[k], &st->w_se[k]);
    }
    free(buf);
}

static void truth(double *mean, double *var)
{
    for (size_t d = 0; d < DIM; d++) {
        double m = 0, q = 0;
        for (size_t k = 0; k < K; k++) {
            m += W[k] * MU[k * DIM + d];
            q += W[k] * (SD[k * DIM + d] * SD[k * DIM + d] + MU[k * DIM + d] * MU[k * DIM + d]);
        }
        mean[d] = m;
        var[d] = q - m * m;
    }
}

static its_gmm *mixture(its_ctx *ctx)
{
    its_gmm *g = NULL;
    ITS_ASSERT_OK(its_gmm_create(ctx, DIM, K, W, MU, SD, &g));
    return g;
}

static void check_cfg(its_ctx *ctx, its_gmm *g, const cfg *c, size_t n, int use_none,
                      uint64_t seed0)
{
    float *x = malloc(n * DIM * sizeof(float));
    draw(ctx, g, c, n, seed0, use_none, x);
    double tm[DIM], tv[DIM];
    truth(tm, tv);
    stats st;
    summarise(g, x, n, &st, tm);
    /* predicted discretisation bias of the mixture's moments from the per-component recursion */
    double bm[DIM], bv[DIM], bw = 0;
    for (size_t d = 0; d < DIM; d++) {
        double pm = 0, pq = 0;
        for (size_t k = 0; k < K; k++) {
            double m, P, mu = MU[k * DIM + d], s = SD[k * DIM + d];
            gauss_run(c, mu, s, &m, &P);
            pm += W[k] * m;
            pq += W[k] * (P + m * m);
            /* mass of component k moved across any boundary: w_k (phi(0) |dm|/s + phi(1)
             * |sd ratio - 1|), summed over dimensions (a union bound) */
            bw += W[k] * (0.399 * fabs(m - mu) / s + 0.242 * fabs(sqrt(P) / s - 1.0));
        }
        bm[d] = fabs(pm - tm[d]);
        bv[d] = fabs(pq - pm * pm - tv[d]);
    }
    for (size_t d = 0; d < DIM; d++) {
        double tol_m = 4 * st.mean_se[d] + 3 * bm[d];
        double tol_v = 4 * st.var_se[d] + 3 * bv[d];
        printf("  %-22s dim %zu: mean %+.4f (truth %+.4f, tol %.4f)  var %.4f (truth %.4f, tol "
               "%.4f)\n",
               c->name, d, st.mean[d], tm[d], tol_m, st.var[d], tv[d], tol_v);
        if (!(fabs(st.mean[d] - tm[d]) <= tol_m))
            fail_msg("%s: mean[%zu] = %.5f, truth %.5f, tol %.5f", c->name, d, st.mean[d], tm[d],
                     tol_m);
        if (!(fabs(st.var[d] - tv[d]) <= tol_v))
            fail_msg("%s: var[%zu] = %.5f, truth %.5f, tol %.5f", c->name, d, st.var[d], tv[d],
                     tol_v);
    }
    for (size_t k = 0; k < K; k++) {
        double tol = 4 * st.w_se[k] + 3 * bw;
        printf("  %-22s weight %zu: %.4f (truth %.4f, tol %.4f)\n", c->name, k, st.w[k], W[k],
               tol);
        if (!(fabs(st.w[k] - W[k]) <= tol))
            fail_msg("%s: weight[%zu] = %.5f, truth %.5f, tol %.5f", c->name, k, st.w[k], W[k],
                     tol);
    }
    free(x);
}

static void test_ode_marginals(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = mixture(ctx);
    const cfg cs[] = {
        {"euler linear", ITS_INTERP_LINEAR, ITS_SOLVER_EULER, ITS_DYN_ODE, 0, 0, 0, 100},
        {"euler vp", ITS_INTERP_VP, ITS_SOLVER_EULER, ITS_DYN_ODE, 0, 0, 0, 100},
        {"euler vp_cosine", ITS_INTERP_VP_COSINE, ITS_SOLVER_EULER, ITS_DYN_ODE, 0, 0, 0, 100},
        {"heun linear", ITS_INTERP_LINEAR, ITS_SOLVER_HEUN, ITS_DYN_ODE, 0, 0, 0, 50},
        {"heun vp", ITS_INTERP_VP, ITS_SOLVER_HEUN, ITS_DYN_ODE, 0, 0, 0, 50},
        {"heun vp_cosine", ITS_INTERP_VP_COSINE, ITS_SOLVER_HEUN, ITS_DYN_ODE, 0, 0, 0, 50},
        {"euler linear->vp", ITS_INTERP_LINEAR, ITS_SOLVER_EULER, ITS_DYN_ODE, 0, 0, 1, 100},
        {"heun linear->vp", ITS_INTERP_LINEAR, ITS_SOLVER_HEUN, ITS_DYN_ODE, 0, 0, 1, 50},
    };
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++)
        check_cfg(ctx, g, &cs[i], 4 * BATCH, 0, 1000 + 10 * i);
    /* the baseline once more with `none`, one seed per sample */
    check_cfg(ctx, g, &cs[0], 2 * BATCH, 1, 50000);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

static void test_sde_marginals(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = mixture(ctx);
    const cfg cs[] = {
        {"sde constant 1", ITS_INTERP_LINEAR, 0, ITS_DYN_SDE, ITS_G_CONSTANT, 1.0, 0, 100},
        {"sde sigma 2", ITS_INTERP_LINEAR, 0, ITS_DYN_SDE, ITS_G_SIGMA, 2.0, 0, 100},
        {"sde linear 2", ITS_INTERP_LINEAR, 0, ITS_DYN_SDE, ITS_G_LINEAR, 2.0, 0, 100},
        {"sde square 3", ITS_INTERP_LINEAR, 0, ITS_DYN_SDE, ITS_G_SQUARE, 3.0, 0, 100},
        {"sde sin 1.5", ITS_INTERP_LINEAR, 0, ITS_DYN_SDE, ITS_G_SIN, 1.5, 0, 100},
        {"sde vp sigma 1", ITS_INTERP_VP, 0, ITS_DYN_SDE, ITS_G_SIGMA, 1.0, 0, 100},
        {"sde linear->vp square 3", ITS_INTERP_LINEAR, 0, ITS_DYN_SDE, ITS_G_SQUARE, 3.0, 1, 100},
    };
    for (size_t i = 0; i < sizeof(cs) / sizeof(cs[0]); i++)
        check_cfg(ctx, g, &cs[i], 4 * BATCH, 0, 2000 + 10 * i);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

/* At 8 steps Euler's bias on narrow components is several standard errors; Heun's error is
 * smaller. Error = sum over dimensions of |mean - truth| + |var - truth|. */
static void test_heun_beats_euler(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = mixture(ctx);
    const cfg ce = {"euler 8", ITS_INTERP_LINEAR, ITS_SOLVER_EULER, ITS_DYN_ODE, 0, 0, 0, 8};
    const cfg ch = {"heun 8", ITS_INTERP_LINEAR, ITS_SOLVER_HEUN, ITS_DYN_ODE, 0, 0, 0, 8};
    size_t n = 8 * BATCH;
    float *x = malloc(n * DIM * sizeof(float));
    double tm[DIM], tv[DIM], err[2], se[2];
    truth(tm, tv);
    for (int h = 0; h < 2; h++) {
        draw(ctx, g, h ? &ch : &ce, n, 3000, 0, x);
        stats st;
        summarise(g, x, n, &st, tm);
        err[h] = 0;
        double v = 0;
        for (size_t d = 0; d < DIM; d++) {
            err[h] += fabs(st.mean[d] - tm[d]) + fabs(st.var[d] - tv[d]);
            v += st.mean_se[d] * st.mean_se[d] + st.var_se[d] * st.var_se[d];
        }
        se[h] = sqrt(v);
        printf("  %s: error %.4f (se %.4f)\n", h ? "heun 8" : "euler 8", err[h], se[h]);
    }
    /* Euler's bias is clearly visible, and Heun's error is smaller by more than the noise */
    assert_true(err[0] > 6 * se[0]);
    assert_true(err[1] + 3 * sqrt(se[0] * se[0] + se[1] * se[1]) < err[0]);
    free(x);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

/* E[max of N i.i.d. scores] from the empirical distribution of M single-trajectory scores:
 * sum_i x_(i) [(i/M)^N - ((i-1)/M)^N]. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double expected_max(double *v, size_t M, int N)
{
    qsort(v, M, sizeof(double), cmp_double);
    double e = 0;
    for (size_t i = 1; i <= M; i++)
        e += v[i - 1] * (pow((double)i / M, N) - pow((double)(i - 1) / M, N));
    return e;
}

static void test_best_of_n_order_statistics(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    its_gmm *g = mixture(ctx);
    its_model m;
    its_gmm_bind_model(g, NULL, ITS_PRED_VELOCITY, &m);
    its_verifier v;
    const double center[DIM] = {0.5, 0.0};
    ITS_ASSERT_OK(its_gmm_bind_quadratic(g, center, 0.5, &v));
    its_run_params run;
    its_run_params_init(&run);
    run.steps = 16;
    run.dynamics = ITS_DYN_SDE;
    run.g_schedule = ITS_G_SIGMA;
    run.g_scale = 1.0;

    /* M single-trajectory scores: best_of_n with top_k = n returns every trajectory's score */
    enum { MB = 8, M = MB * BATCH };
    double *emp = malloc(M * sizeof(double));
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    bp.n = BATCH;
    run.top_k = BATCH;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &bp, &run, &s));
    for (int b = 0; b < MB; b++) {
        its_result *r = NULL;
        ITS_ASSERT_OK(its_generate(s, &m, &v, 900000 + b, &r));
        for (size_t i = 0; i < BATCH; i++)
            emp[b * BATCH + i] = its_result_score(r, i);
        its_result_free(r);
    }
    its_sampler_free(s);

    /* best_of_n over S seeds for each N */
    enum { S = 600 };
    const int Ns[] = {1, 2, 4, 8};
    double *sc = malloc(S * sizeof(double));
    double prev = -INFINITY;
    run.top_k = 1;
    for (size_t ni = 0; ni < 4; ni++) {
        int N = Ns[ni];
        /* the predicted value and its standard error from MB independent blocks */
        double blk[MB], pred = 0, pred_se = 0;
        double *tmp = malloc(BATCH * sizeof(double));
        for (int b = 0; b < MB; b++) {
            memcpy(tmp, emp + b * BATCH, BATCH * sizeof(double));
            blk[b] = expected_max(tmp, BATCH, N);
        }
        free(tmp);
        its_test_mean_se(blk, MB, &pred, &pred_se);
        double *all = malloc(M * sizeof(double));
        memcpy(all, emp, M * sizeof(double));
        pred = expected_max(all, M, N);
        free(all);

        bp.n = N;
        ITS_ASSERT_OK(its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &bp, &run, &s));
        for (int k = 0; k < S; k++) {
            its_result *r = NULL;
            ITS_ASSERT_OK(its_generate(s, &m, &v, 1 + (uint64_t)k, &r));
            sc[k] = its_result_score(r, 0);
            its_usage u;
            its_result_usage(r, &u);
            assert_int_equal(u.nfe, (uint64_t)N * 16);
            its_result_free(r);
        }
        its_sampler_free(s);
        double mean, se;
        its_test_mean_se(sc, S, &mean, &se);
        double tol = 4 * sqrt(se * se + pred_se * pred_se);
        printf("  best_of_n N=%d: mean score %.4f (se %.4f), order statistics %.4f (se %.4f)\n",
               N, mean, se, pred, pred_se);
        if (!(fabs(mean - pred) <= tol))
            fail_msg("N=%d: mean %.5f, predicted %.5f, tol %.5f", N, mean, pred, tol);
        assert_true(mean > prev);
        prev = mean;
    }
    free(sc);
    free(emp);
    its_gmm_free(g);
    its_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ode_marginals),
        cmocka_unit_test(test_sde_marginals),
        cmocka_unit_test(test_heun_beats_euler),
        cmocka_unit_test(test_best_of_n_order_statistics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
