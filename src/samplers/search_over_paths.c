/* `search_over_paths` (Ma et al. 2025): N paths from noise, the ODE down to t_start; then, until
 * t = 0: every path gets M copies (lineage children), each re-noised forward by delta_f (clipped
 * at t_max) and integrated back by delta_b (the last leg stops at 0 exactly), the look-ahead
 * x0_hat of the N M candidates is scored and the best N are kept. The finals at t = 0 are the
 * outputs. A backward leg takes ceil(length / h) equal sub-steps with h = t_max / steps, the run's
 * mean grid spacing; the candidates are evaluated once more at the end of a leg (s > 0) for their
 * x0_hat. Every evaluation is charged. When the NFE cap cannot pay for the plan, m and then n are
 * lowered until it fits; ITS_ERR_BUDGET when even n = m = 1 does not. */
#include <math.h>
#include <string.h>

#include "samplers/common.h"

/* times closer than this to t_start or to 0 are taken as equal to them */
#define ITS_SOP_EPS 1e-9

void its_search_over_paths_params_init(its_search_over_paths_params *p)
{
    if (!p)
        return;
    p->size = (uint32_t)sizeof(*p);
    p->method = ITS_METHOD_SEARCH_OVER_PATHS;
    p->n = 2;
    p->m = 5;
    p->t_start = 0.12;
    p->delta_f = 0.78;
    p->delta_b = 0.81;
}

static void sop_init(void *p) { its_search_over_paths_params_init(p); }

static const its_param_desc sop_desc[] = {
    ITS_P_SIZE(its_search_over_paths_params, n, 1, 4096, "paths kept"),
    ITS_P_INT(its_search_over_paths_params, m, 1, 1024, "copies per path per iteration"),
    ITS_P_DBL(its_search_over_paths_params, t_start, 0, 1, "time the search starts at"),
    ITS_P_DBL(its_search_over_paths_params, delta_f, 1e-6, 1, "forward re-noising per iteration"),
    ITS_P_DBL(its_search_over_paths_params, delta_b, 1e-6, 1, "backward ODE per iteration"),
};

static its_status sop_check(its_ctx *ctx, const void *params, const its_run_params *run)
{
    const its_search_over_paths_params *p = params;
    if (!(p->delta_b - p->delta_f >= 1e-3))
        return its_error(ctx, ITS_ERR_INVALID,
                         "params.delta_b: must exceed delta_f by at least 1e-3 for the search to "
                         "reach t = 0 (delta_f %g, delta_b %g)",
                         p->delta_f, p->delta_b);
    if (!(p->t_start < run->t_max))
        return its_error(ctx, ITS_ERR_INVALID, "params.t_start: must be below run.t_max %g, got %g",
                         run->t_max, p->t_start);
    if ((long long)p->n * p->m > (1LL << 24))
        return its_error(ctx, ITS_ERR_INVALID, "params.m: n * m = %lld rows is too many",
                         (long long)p->n * p->m);
    return ITS_OK;
}

/* One iteration's times from level t: forward to tf, back to s (0 once within ITS_SOP_EPS). */
static void sop_next(const its_search_over_paths_params *p, double tmax, double t, double *tf,
                     double *s)
{
    *tf = t + p->delta_f < tmax ? t + p->delta_f : tmax;
    *s = *tf - p->delta_b;
    if (*s < ITS_SOP_EPS)
        *s = 0.0;
}

static int sop_nsub(const its_plan *pl, double tf, double s)
{
    double h = pl->run->t_max / pl->steps;
    double n = ceil((tf - s) / h - 1e-9);
    return n < 1 ? 1 : (int)n;
}

/* Sub-step i of n on the leg tf -> s (i = n gives s exactly). */
static double sop_sub_t(double tf, double s, int i, int n)
{
    return i == n ? s : tf - (tf - s) * (double)i / (double)n;
}

/* Grid index k such that the initial leg runs grid[0 .. k] then grid[k] -> t_start. */
static int sop_initial_k(const its_plan *pl, double ts)
{
    const double *g = pl->grid;
    int k = 0;
    while (k < pl->steps && g[k + 1] > ts + ITS_SOP_EPS)
        k++;
    return k;
}

/* Model NFE of the whole plan with n paths and m copies (saturating). */
static uint64_t sop_cost(const its_plan *pl, const its_search_over_paths_params *p, uint64_t n,
                         uint64_t m)
{
    const double *g = pl->grid;
    const double tmax = pl->run->t_max;
    int k0 = sop_initial_k(pl, p->t_start);
    uint64_t per = 0;
    for (int k = 0; k < k0; k++)
        per += (uint64_t)its_plan_nfe_per_step(pl, g[k], g[k + 1]);
    /* t_start < t_max = g[0] and g[T] = 0 <= t_start: k0 < T */
    per += (uint64_t)its_plan_nfe_per_step(pl, g[k0], p->t_start);
    double ts = p->t_start;
    uint64_t total = n * per, nm = n * m;
    double t = ts;
    while (t > 0) {
        double tf, s;
        sop_next(p, tmax, t, &tf, &s);
        int ns = sop_nsub(pl, tf, s);
        uint64_t leg = s > 0 ? 1 : 0;
        for (int i = 0; i < ns; i++)
            leg += (uint64_t)its_plan_nfe_per_step(pl, sop_sub_t(tf, s, i, ns),
                                                  sop_sub_t(tf, s, i + 1, ns));
        if (leg && nm > UINT64_MAX / leg)
            return UINT64_MAX;
        if (total > UINT64_MAX - nm * leg)
            return UINT64_MAX;
        total += nm * leg;
        t = s;
    }
    return total;
}

/* idx[0 .. n) = row indices ordered by score, best first (ties: lower index); stable merge
 * sort with scratch tmp. */
static void sop_order(const double *score, size_t *idx, size_t *tmp, size_t n)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t a = 0; a < n; a += 2 * w) {
            size_t mid = a + w < n ? a + w : n, end = a + 2 * w < n ? a + 2 * w : n;
            size_t i = a, j = mid, o = a;
            while (i < mid && j < end) {
                double si = score[idx[i]], sj = score[idx[j]];
                /* NaN never comes here (an error or a dropped row at -inf) */
                tmp[o++] = sj > si ? idx[j++] : idx[i++];
            }
            while (i < mid)
                tmp[o++] = idx[i++];
            while (j < end)
                tmp[o++] = idx[j++];
        }
        memcpy(idx, tmp, n * sizeof(size_t));
    }
}

/* Under a cap: fewer copies first, then fewer paths. */
static its_status sop_fit(its_ctx *ctx, const its_plan *pl, void *params)
{
    its_search_over_paths_params *p = params;
    const uint64_t cap = pl->cap;
    uint64_t n = (uint64_t)p->n, m = (uint64_t)p->m;
    if (!cap || sop_cost(pl, p, n, m) <= cap)
        return ITS_OK;
    while (m > 1 && sop_cost(pl, p, n, m) > cap)
        m--;
    while (n > 1 && sop_cost(pl, p, n, m) > cap)
        n--;
    uint64_t need = sop_cost(pl, p, 1, 1);
    if (need > cap)
        return its_error(ctx, ITS_ERR_BUDGET,
                         "search_over_paths needs at least %llu NFE (one path, one copy per "
                         "iteration), but budget.max_nfe is %llu",
                         (unsigned long long)need, (unsigned long long)cap);
    p->n = (int)n;
    p->m = (int)m;
    return ITS_OK;
}

static uint64_t sop_plan(const its_plan *pl, const void *params)
{
    const its_search_over_paths_params *p = params;
    return sop_cost(pl, p, (uint64_t)p->n, (uint64_t)p->m);
}

static uint64_t sop_minimum(const its_plan *pl, const void *params)
{
    return sop_cost(pl, params, 1, 1);
}

/* n = floor(NFE / (m T)). */
static void sop_scale(const its_plan *pl, void *params, uint64_t nfe)
{
    its_search_over_paths_params *p = params;
    double per = (double)p->m * (double)its_plan_trajectory(pl, 0);
    p->n = (int)its_size_clamp(&its_vt_search_over_paths, floor((double)nfe / per));
}

static its_status sop_run(its_engine *e, const void *params)
{
    const its_search_over_paths_params *p = params;
    const double *g = its_eng_grid(e);
    const int T = its_eng_steps(e);
    const double tmax = its_eng_run(e)->t_max;
    /* n and m come fitted to the cap (sop_fit) */
    uint64_t n = (uint64_t)p->n, m = (uint64_t)p->m;
    const size_t N = (size_t)n, NM = (size_t)(n * m), M = (size_t)m;
    its_pset P, C;
    ITS_TRY(its_eng_pset(e, &P, N, 0));
    ITS_TRY(its_eng_pset(e, &C, NM, 0));
    size_t *idx = its_eng_alloc(e, NM * sizeof(size_t));
    size_t *tmp = its_eng_alloc(e, NM * sizeof(size_t));
    if (!idx || !tmp)
        return ITS_ERR_NOMEM;

    /* N paths from noise down to t_start along the run's grid */
    its_eng_step_begin(e, 0, g[0], -1);
    its_eng_roots(e, &P, 0, N, 0);
    ITS_TRY(its_eng_init_noise(e, &P, 0, N, g[0]));
    int k0 = sop_initial_k(its_eng_plan(e), p->t_start);
    for (int k = 0; k < k0; k++) {
        ITS_TRY(its_eng_eval(e, &P, 0, N));
        ITS_TRY(its_eng_step(e, &P, g[k + 1], (uint32_t)k));
    }
    ITS_TRY(its_eng_eval(e, &P, 0, N));
    ITS_TRY(its_eng_step(e, &P, p->t_start, (uint32_t)k0));
    its_eng_step_end(e);
    if (p->t_start == 0.0)
        return its_eng_score(e, &P, 0, N, ITS_SCORE_FINAL);

    /* ticks of the legs' sub-steps continue after the initial leg's grid indices */
    uint32_t tick = (uint32_t)T;
    double t = p->t_start;
    for (int it = 1; t > 0; it++) {
        its_eng_step_begin(e, it, t, -1);
        double tf, s;
        sop_next(p, tmax, t, &tf, &s);
        for (size_t j = 0; j < NM; j++)
            idx[j] = j / M;
        ITS_TRY(its_eng_gather(e, &C, &P, idx, NM));
        ITS_TRY(its_eng_renoise(e, &C, tf, (uint32_t)it));
        int ns = sop_nsub(its_eng_plan(e), tf, s);
        for (int i = 0; i < ns; i++) {
            ITS_TRY(its_eng_eval(e, &C, 0, NM));
            ITS_TRY(its_eng_step(e, &C, sop_sub_t(tf, s, i + 1, ns), tick++));
        }
        if (s == 0.0) {
            its_eng_step_end(e);
            return its_eng_score(e, &C, 0, NM, ITS_SCORE_FINAL);
        }
        ITS_TRY(its_eng_eval(e, &C, 0, NM));
        ITS_TRY(its_eng_score(e, &C, 0, NM, ITS_SCORE_LOOKAHEAD));
        sop_order(C.score, idx, tmp, NM);
        ITS_TRY(its_eng_gather(e, &P, &C, idx, N));
        its_eng_step_end(e);
        t = s;
    }
    return ITS_OK;
}

const its_method_vt its_vt_search_over_paths = {
    .method = ITS_METHOD_SEARCH_OVER_PATHS,
    .params_size = sizeof(its_search_over_paths_params),
    .params_init = sop_init,
    .desc = sop_desc,
    .n_desc = ITS_ARRAY_LEN(sop_desc),
    .check = sop_check,
    .needs_verifier = 1,
    .run = sop_run,
    .fit = sop_fit,
    .plan = sop_plan,
    .minimum = sop_minimum,
    .scale = sop_scale,
    .scale_rule = "n = floor(NFE / (m T))",
    .summary = "search over paths: re-noise forward, integrate back, keep the best N "
               "(Ma et al. 2025)",
};
