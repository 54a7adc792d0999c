/* `fk_smc`: Feynman-Kac steering (Singhal et al. 2025; official code
 * zacharyhorvitz/Fk-Diffusion-Steering, fkd_class.py). N SDE particles are importance-weighted by
 * potentials built from look-ahead rewards r_k = r(x0_hat at t_k) and resampled, so that the set
 * at t = 0 targets p(x0) exp(lambda r(x0)):
 *     max:  G_k = exp(lambda max_{j<=k} r_j)     add: G_k = exp(lambda sum_{j<=k} r_j)
 *     diff: G_k = exp(lambda (r_k - r_{k-1}))    rt:  G_k = exp(lambda r_k)
 * (j runs over this particle's ancestry at resampling steps; r before the first one is 0 for add
 * and diff, as in the official code, and absent for max).
 * Resampling steps: every `interval` steps among those with t_end <= t_k <= t_start, and always
 * at the end. Weights accumulate in log space between resamplings (the official code drops them
 * when ESS is high, which biases adaptive runs) and reset after one; resampling happens when
 * ESS < ess N (ess = 1: always).
 * Final correction: only diff telescopes, prod_k G_k = exp(lambda r(x0)). For max, add and rt
 * each particle carries Phi, the log of the product of the potentials applied along its
 * ancestry; the last potential is exp(lambda r(x0) - Phi), so every path's product is again
 * exp(lambda r(x0)) (the official `w = exp(lambda r) / product_of_potentials`). The official code
 * applies it to the look-ahead at the last grid time before the final step; here it is applied
 * to the finished samples at t = 0 (their scores are needed anyway), which makes the target
 * exactly the sampler's own t = 0 law tilted by exp(lambda r). The final resampling always
 * happens (a result carries no weights), and the resampled set is the output: top_k = n returns
 * all of it, best first.
 * Budget: under a cap that cannot pay for N trajectories it runs as many particles as it can
 * pay for (ITS_ERR_BUDGET below one). */
#include <math.h>

#include "samplers/guidance.h"
#include "samplers/selection.h"

void its_fk_smc_params_init(its_fk_smc_params *p)
{
    if (!p)
        return;
    p->size = (uint32_t)sizeof(*p);
    p->method = ITS_METHOD_FK_SMC;
    p->n = 8;
    p->lambda = 10.0;
    p->potential = ITS_POT_DIFF;
    p->interval = 1;
    p->t_start = 1.0;
    p->t_end = 0.0;
    p->ess = 0.5;
    p->resampler = ITS_RESAMPLE_MULTINOMIAL;
    p->local_search = 0;
}

static void fk_init(void *p) { its_fk_smc_params_init(p); }

static const its_param_desc fk_desc[] = {
    ITS_P_SIZE(its_fk_smc_params, n, 1, 65536, "particles"),
    ITS_P_DBL(its_fk_smc_params, lambda, 0, 1e6, "potential scale: target p exp(lambda r)"),
    ITS_P_ENUM(its_fk_smc_params, potential, its_potential, ITS_POT_COUNT_,
               "max, add, diff or rt"),
    ITS_P_INT(its_fk_smc_params, interval, 1, 100000, "steps between resampling steps"),
    ITS_P_DBL(its_fk_smc_params, t_start, 0, 1, "resampling window: latest time"),
    ITS_P_DBL(its_fk_smc_params, t_end, 0, 1, "resampling window: earliest time"),
    ITS_P_DBL(its_fk_smc_params, ess, 0, 1, "resample when ESS < ess n (1: always)"),
    ITS_P_ENUM(its_fk_smc_params, resampler, its_resampler, ITS_RESAMPLE_COUNT_,
               "multinomial or systematic"),
    ITS_P_BOOL(its_fk_smc_params, local_search, "a local-search move inside each step"),
};

static its_status fk_check(its_ctx *ctx, const void *params, const its_run_params *run)
{
    const its_fk_smc_params *p = params;
    if (p->t_end > p->t_start)
        return its_error(ctx, ITS_ERR_INVALID,
                         "params.t_end: %g is after params.t_start (%g); the window is "
                         "[t_end, t_start]",
                         p->t_end, p->t_start);
    if (run->dynamics != ITS_DYN_SDE)
        return its_error(ctx, ITS_ERR_INVALID,
                         "run.dynamics: fk_smc resamples SDE particles; set dynamics to sde");
    return ITS_OK;
}

static int fk_wants_grad(const void *params)
{
    return ((const its_fk_smc_params *)params)->local_search != 0;
}

typedef struct fk_state {
    const its_fk_smc_params *p;
    size_t N;
    double *lw;     /* log importance weights since the last resampling */
    double *phi;    /* log product of the potentials applied along the ancestry */
    double *rprev;  /* the reward state the next potential compares with */
    double *w, *cdf, *u, *tmp;
    size_t *counts, *idx;
} fk_state;

static double fk_add(double a, double b)
{
    /* -inf absorbs (a rejected particle stays rejected); NaN from inf - inf is a rejection too */
    double s = a + b;
    return (a == -INFINITY || b == -INFINITY || isnan(s)) ? -INFINITY : s;
}

/* log G for one particle with reward r; updates rprev. */
static double fk_potential(const fk_state *s, size_t i, double r)
{
    const double lam = s->p->lambda;
    double prev = s->rprev[i], v;
    switch (s->p->potential) {
    case ITS_POT_MAX:
        v = (isnan(prev) || r > prev) ? r : prev;
        s->rprev[i] = v;
        return lam * v;
    case ITS_POT_ADD:
        v = fk_add(prev, r);
        s->rprev[i] = v;
        return lam * v;
    case ITS_POT_DIFF:
        s->rprev[i] = r;
        return lam * (r - prev);
    default: /* rt */
        s->rprev[i] = r;
        return lam * r;
    }
}

static void fk_permute(double *a, double *tmp, const size_t *idx, size_t n)
{
    for (size_t j = 0; j < n; j++)
        tmp[j] = a[idx[j]];
    for (size_t j = 0; j < n; j++)
        a[j] = tmp[j];
}

/* Draws N ancestors from the current weights into Q; host state follows, weights reset. */
static its_status fk_resample(its_engine *e, fk_state *s, its_pset *P, its_pset *Q, uint32_t tick)
{
    const size_t N = s->N;
    if (s->p->resampler == ITS_RESAMPLE_SYSTEMATIC) {
        its_eng_uniform(e, s->u, 1, ITS_NOISE_HOST, tick);
        its_resample_systematic(s->w, N, s->u[0], N, s->counts);
    } else {
        its_eng_uniform(e, s->u, N, ITS_NOISE_HOST, tick);
        its_resample_multinomial(s->w, N, s->u, N, s->cdf, s->counts);
    }
    size_t m = its_counts_to_index(s->counts, N, s->idx);
    ITS_TRY(its_eng_gather(e, Q, P, s->idx, m));
    fk_permute(s->phi, s->tmp, s->idx, N);
    fk_permute(s->rprev, s->tmp, s->idx, N);
    for (size_t i = 0; i < N; i++)
        s->lw[i] = 0.0;
    return ITS_OK;
}

/* NFE of one particle's trajectory (with the local-search move when asked). */
static uint64_t fk_per(const its_plan *pl, const its_fk_smc_params *p)
{
    its_local_search_params lp;
    its_local_search_params_init(&lp);
    uint64_t per = 0;
    for (int k = 0; k < pl->steps; k++)
        per += p->local_search ? its_smp_local_step_nfe_plan(pl, k, &lp)
                               : (uint64_t)its_plan_nfe_per_step(pl, pl->grid[k], pl->grid[k + 1]);
    return per;
}

static its_status fk_fit(its_ctx *ctx, const its_plan *pl, void *params)
{
    its_fk_smc_params *p = params;
    uint64_t per = fk_per(pl, p);
    ITS_TRY(its_plan_require(ctx, pl, ITS_METHOD_FK_SMC, per, "one trajectory"));
    if (pl->cap && (uint64_t)p->n > pl->cap / per)
        p->n = (int)(pl->cap / per);
    return ITS_OK;
}

static uint64_t fk_plan(const its_plan *pl, const void *params)
{
    const its_fk_smc_params *p = params;
    return (uint64_t)p->n * fk_per(pl, p);
}

static uint64_t fk_minimum(const its_plan *pl, const void *params)
{
    return fk_per(pl, params);
}

static void fk_scale(const its_plan *pl, void *params, uint64_t nfe)
{
    its_fk_smc_params *p = params;
    p->n = (int)its_size_clamp(&its_vt_fk_smc, (double)(nfe / fk_per(pl, p)));
}

static its_status fk_run(its_engine *e, const void *params)
{
    const its_fk_smc_params *p = params;
    const int T = its_eng_steps(e);
    const double *t = its_eng_grid(e);
    its_local_search_params lp;
    its_local_search_params_init(&lp);
    size_t N = (size_t)p->n; /* fitted to the cap by fk_fit */

    its_pset P, Q;
    int flags = p->local_search ? ITS_PSET_GRAD : 0;
    ITS_TRY(its_eng_pset(e, &P, N, flags));
    ITS_TRY(its_eng_pset(e, &Q, N, flags));
    fk_state s = {.p = p, .N = N};
    s.lw = its_eng_alloc(e, N * sizeof(double));
    s.phi = its_eng_alloc(e, N * sizeof(double));
    s.rprev = its_eng_alloc(e, N * sizeof(double));
    s.w = its_eng_alloc(e, N * sizeof(double));
    s.cdf = its_eng_alloc(e, N * sizeof(double));
    s.u = its_eng_alloc(e, N * sizeof(double));
    s.tmp = its_eng_alloc(e, N * sizeof(double));
    s.counts = its_eng_alloc(e, N * sizeof(size_t));
    s.idx = its_eng_alloc(e, N * sizeof(size_t));
    if (!s.lw || !s.phi || !s.rprev || !s.w || !s.cdf || !s.u || !s.tmp || !s.counts || !s.idx)
        return ITS_ERR_NOMEM;
    for (size_t i = 0; i < N; i++)
        s.rprev[i] = p->potential == ITS_POT_MAX ? NAN : 0.0; /* NaN: no reward seen yet */

    /* first grid index inside the window: resampling steps count from it */
    int kfirst = -1;
    for (int k = 0; k < T && kfirst < 0; k++)
        if (t[k] <= p->t_start && t[k] >= p->t_end)
            kfirst = k;

    its_eng_roots(e, &P, 0, N, 0);
    ITS_TRY(its_eng_init_noise(e, &P, 0, N, t[0]));
    for (int k = 0; k < T; k++) {
        its_eng_step_begin(e, k, t[k], -1);
        ITS_TRY(its_eng_eval(e, &P, 0, N));
        if (kfirst >= 0 && k >= kfirst && t[k] >= p->t_end &&
            (k - kfirst) % p->interval == 0) {
            ITS_TRY(its_eng_score(e, &P, 0, N, ITS_SCORE_LOOKAHEAD));
            for (size_t i = 0; i < N; i++) {
                double lg = fk_potential(&s, i, P.score[i]);
                s.lw[i] = fk_add(s.lw[i], lg);
                s.phi[i] = fk_add(s.phi[i], lg);
            }
            double ess = its_weights_normalize(s.lw, N, s.w);
            if (p->ess >= 1.0 || ess < p->ess * (double)N) {
                ITS_TRY(fk_resample(e, &s, &P, &Q, (uint32_t)k));
                its_pset tmp = P;
                P = Q;
                Q = tmp;
            }
        }
        if (p->local_search)
            ITS_TRY(its_smp_local_step(e, &P, k, &lp));
        else
            ITS_TRY(its_eng_step(e, &P, t[k + 1], (uint32_t)k));
        its_eng_step_end(e);
    }

    /* Final potential on the samples at t = 0, where the look-ahead is the sample itself: score
     * the rows as look-aheads (x0 = x) so that only the resampled set becomes the output. */
    for (size_t i = 0; i < N; i++)
        its_eng_lincomb(e, its_eng_row(&P, P.x0, i), 1.0f, its_eng_row(&P, P.x, i), 0.0f, NULL,
                        0.0f, NULL);
    P.has_u = 1; /* x0 is valid (u is not needed past here) */
    ITS_TRY(its_eng_score(e, &P, 0, N, ITS_SCORE_LOOKAHEAD));
    for (size_t i = 0; i < N; i++) {
        double r = P.score[i], lg;
        if (p->potential == ITS_POT_DIFF)
            lg = p->lambda * (r - s.rprev[i]);
        else
            lg = fk_add(p->lambda * r, -s.phi[i]);
        s.lw[i] = fk_add(s.lw[i], lg);
    }
    its_weights_normalize(s.lw, N, s.w);
    ITS_TRY(fk_resample(e, &s, &P, &Q, (uint32_t)T));
    its_eng_offer(e, &Q, 0, N, ITS_SCORE_FINAL);
    return ITS_OK;
}

const its_method_vt its_vt_fk_smc = {
    .method = ITS_METHOD_FK_SMC,
    .params_size = sizeof(its_fk_smc_params),
    .params_init = fk_init,
    .desc = fk_desc,
    .n_desc = ITS_ARRAY_LEN(fk_desc),
    .check = fk_check,
    .needs_verifier = 1,
    .needs_grad = 2,
    .wants_grad = fk_wants_grad,
    .run = fk_run,
    .fit = fk_fit,
    .plan = fk_plan,
    .minimum = fk_minimum,
    .scale = fk_scale,
    .scale_rule = "n = floor(NFE / T), T the NFE of one particle's trajectory",
    .summary = "Feynman-Kac steering: potentials on look-ahead rewards, ESS-triggered "
               "resampling, final correction (Singhal et al. 2025)",
};
