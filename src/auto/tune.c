/* Tuning: pilot runs of candidate configurations at each budget, on common seeds, and the policy
 * that keeps the best mean per budget with its runner-up. Successive halving spends a quarter of
 * the seeds on every candidate and the rest on the better third. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auto/auto_internal.h"
#include "config/config.h"

/* The built-in grid: every method with its defaults and a few values of its main parameters
 * (the size parameter itself is fitted to each budget). The look-ahead searches steer SDE
 * particles, as in their papers. */
static const char *const its_tune_grid[] = {
    "{\"sampler\": \"none\"}",
    "{\"sampler\": \"best_of_n\"}",
    "{\"sampler\": \"best_of_n\", \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"zero_order\"}",
    "{\"sampler\": \"zero_order\", \"params\": {\"neighbors\": 8, \"tau\": 0.9}}",
    "{\"sampler\": \"search_over_paths\"}",
    "{\"sampler\": \"search_over_paths\", \"params\": {\"m\": 2}}",
    "{\"sampler\": \"beam\", \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"beam\", \"params\": {\"beams\": 4}, \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"beam\", \"params\": {\"beams\": 8}, \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"svdd\", \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"svdd\", \"params\": {\"n\": 4}, \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"code\", \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"code\", \"params\": {\"n\": 4, \"block\": 5}, \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"fk_smc\", \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"fk_smc\", \"params\": {\"lambda\": 1}, \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"fk_smc\", \"params\": {\"lambda\": 100}, \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"bfs\", \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"bfs\", \"params\": {\"temp\": 0.1}, \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"dfs\"}",
    "{\"sampler\": \"local_search\"}",
    "{\"sampler\": \"local_search\", \"params\": {\"rho\": 0.3, \"recur\": 1}}",
    "{\"sampler\": \"local_search\", \"params\": {\"rho\": 0.03}}",
    "{\"sampler\": \"local_search\", \"params\": {\"recur\": 4}}",
    "{\"sampler\": \"rbf\", \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"rbf\", \"params\": {\"chains\": 1}, \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
    "{\"sampler\": \"rbf\", \"params\": {\"chains\": 4}, \"run\": {\"dynamics\": {\"kind\": \"sde\"}}}",
};
#define ITS_TUNE_GRID_N (sizeof(its_tune_grid) / sizeof(its_tune_grid[0]))
#define ITS_TUNE_MAX_BUDGETS 64
#define ITS_TUNE_MAX_CANDIDATES 256

void its_tune_params_init(its_tune_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof(*p));
    p->version = 1;
    p->seeds = 8;
    p->seed = 1000000;
    p->halving = 1;
}

const char *its_tune_candidate(size_t i) { return i < ITS_TUNE_GRID_N ? its_tune_grid[i] : NULL; }

typedef struct tune_cand {
    its_auto_cfg cfg;          /* as parsed (run = defaults + stated) */
    its_run_params run;        /* the base run with the stated fields over it */
    int usable;                /* 0: the verifier cannot drive it */
    double *score;             /* [budget][seed] */
    int *ran;                  /* [budget]: seeds run */
    unsigned char *params_at;  /* [budget][params_size]: fitted parameters */
    int *fit_ok;               /* [budget] */
} tune_cand;

typedef struct tune_state {
    its_ctx *ctx;
    const its_tune_params *p;
    const its_model *m;
    const its_verifier *v;
    tune_cand *c;
    size_t nc, nb;
    int K;
    uint64_t nfe, runs;
    size_t done, total;
    double model_s;
} tune_state;

static void tune_stats(const double *x, int n, double *mean, double *se)
{
    double s = 0, ss = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) {
            s += x[i];
            k++;
        }
    if (k < n || n == 0) { /* a failed seed counts against the candidate: no mean */
        *mean = NAN;
        *se = NAN;
        return;
    }
    *mean = s / k;
    for (int i = 0; i < n; i++)
        ss += (x[i] - *mean) * (x[i] - *mean);
    *se = n > 1 ? sqrt(ss / (n - 1) / n) : NAN;
}

/* Runs candidate ci at budget bi on seeds [from, to). */
static its_status tune_run(tune_state *t, size_t ci, size_t bi, int from, int to)
{
    tune_cand *c = &t->c[ci];
    const its_method_vt *vt = c->cfg.vt;
    its_run_params run = c->run;
    run.max_nfe = t->p->budgets[bi];
    const void *params = c->params_at + bi * vt->params_size;
    its_sampler *s = NULL;
    its_status st = its_sampler_create(t->ctx, vt->method, params, &run, &s);
    if (st != ITS_OK)
        return st;
    for (int k = from; k < to; k++) {
        its_result *r = NULL;
        st = its_generate(s, t->m, t->v, t->p->seed + (uint64_t)k, &r);
        double score = -INFINITY;
        if (st == ITS_OK) {
            its_usage u;
            its_result_usage(r, &u);
            t->nfe += u.nfe;
            t->model_s += u.total_s;
            score = its_result_score(r, 0);
        } else if (st == ITS_ERR_NOMEM || st == ITS_ERR_CALLBACK || st == ITS_CANCELLED) {
            its_sampler_free(s);
            return st;
        }
        its_result_free(r);
        c->score[bi * (size_t)t->K + (size_t)k] = isnan(score) ? -INFINITY : score;
        t->runs++;
        t->done++;
        if (t->p->progress) {
            char what[160];
            snprintf(what, sizeof(what), "%s #%zu nfe=%llu seed %llu", its_method_name(vt->method),
                     ci, (unsigned long long)t->p->budgets[bi],
                     (unsigned long long)(t->p->seed + (uint64_t)k));
            if (t->p->progress(t->p->progress_user, t->done, t->total, what)) {
                its_sampler_free(s);
                return its_error(t->ctx, ITS_CANCELLED, "tune: cancelled by the progress callback");
            }
        }
    }
    c->ran[bi] = to;
    its_sampler_free(s);
    return ITS_OK;
}

static double tune_mean_at(const tune_state *t, size_t ci, size_t bi, double *se)
{
    double mean, s;
    tune_stats(t->c[ci].score + bi * (size_t)t->K, t->c[ci].ran[bi], &mean, &s);
    if (se)
        *se = s;
    return mean;
}

static its_status tune_check(its_ctx *ctx, const its_tune_params *p)
{
    if (p->version != 1)
        return its_error(ctx, ITS_ERR_INVALID,
                         "tune.version: expected 1 (use its_tune_params_init), got %d", p->version);
    if (!p->budgets || p->n_budgets < 1 || p->n_budgets > ITS_TUNE_MAX_BUDGETS)
        return its_error(ctx, ITS_ERR_INVALID, "tune.budgets: expected 1 to %d budgets",
                         ITS_TUNE_MAX_BUDGETS);
    for (size_t i = 0; i < p->n_budgets; i++)
        if (p->budgets[i] < 1 || p->budgets[i] > (uint64_t)ITS_CFG_MAX_INT ||
            (i && p->budgets[i] <= p->budgets[i - 1]))
            return its_error(ctx, ITS_ERR_INVALID,
                             "tune.budgets[%zu]: expected increasing whole numbers >= 1, got %llu",
                             i, (unsigned long long)p->budgets[i]);
    if (p->seeds < 2 || p->seeds > 100000)
        return its_error(ctx, ITS_ERR_INVALID,
                         "tune.seeds: expected [2, 100000] (a standard error needs two), got %d",
                         p->seeds);
    if (p->candidates && (p->n_candidates < 1 || p->n_candidates > ITS_TUNE_MAX_CANDIDATES))
        return its_error(ctx, ITS_ERR_INVALID, "tune.candidates: expected 1 to %d",
                         ITS_TUNE_MAX_CANDIDATES);
    if (p->halving != 0 && p->halving != 1)
        return its_error(ctx, ITS_ERR_INVALID, "tune.halving: expected 0 or 1, got %d",
                         p->halving);
    if (p->select != 0 && p->select != 1)
        return its_error(ctx, ITS_ERR_INVALID, "tune.select: expected 0 or 1, got %d",
                         p->select);
    return ITS_OK;
}

static void tune_free(tune_state *t)
{
    for (size_t i = 0; t->c && i < t->nc; i++) {
        its_auto_cfg_free(t->ctx, &t->c[i].cfg);
        its_mfree(t->ctx, t->c[i].score);
        its_mfree(t->ctx, t->c[i].ran);
        its_mfree(t->ctx, t->c[i].params_at);
        its_mfree(t->ctx, t->c[i].fit_ok);
    }
    its_mfree(t->ctx, t->c);
}

/* Parses the candidates and fits each to each budget. */
static its_status tune_setup(tune_state *t)
{
    const its_tune_params *p = t->p;
    size_t n = p->candidates ? p->n_candidates : ITS_TUNE_GRID_N;
    if (!(t->c = its_calloc(t->ctx, n, sizeof(tune_cand))))
        return ITS_ERR_NOMEM;
    t->nc = n;
    its_run_params base;
    if (p->run)
        base = *p->run;
    else
        its_run_params_init(&base);
    base.progress = NULL;
    base.progress_user = NULL;
    base.grid_custom = base.grid == ITS_GRID_CUSTOM ? base.grid_custom : NULL;
    for (size_t i = 0; i < n; i++) {
        tune_cand *c = &t->c[i];
        const char *txt = p->candidates ? p->candidates[i] : its_tune_grid[i];
        char path[48];
        snprintf(path, sizeof(path), "candidates[%zu]", i);
        if (!txt)
            return its_error(t->ctx, ITS_ERR_INVALID, "tune.%s is NULL", path);
        cJSON *doc = cJSON_Parse(txt);
        if (!doc)
            return its_error(t->ctx, ITS_ERR_CONFIG, "tune.%s: malformed JSON", path);
        its_status st = its_auto_cfg_parse(t->ctx, doc, path, 0,
                                           p->budgets[p->n_budgets - 1], &c->cfg);
        cJSON_Delete(doc);
        if (st != ITS_OK)
            return st;
        const its_method_vt *vt = c->cfg.vt;
        c->run = base;
        its_auto_cfg_apply_run(&c->cfg, &c->run);
        int grad = vt->needs_grad == 1 ||
                   (vt->needs_grad == 2 && vt->wants_grad && vt->wants_grad(c->cfg.params));
        c->usable = !grad || (t->v && t->v->grad);
        if (!(c->score = its_calloc(t->ctx, t->nb * (size_t)t->K, sizeof(double))) ||
            !(c->ran = its_calloc(t->ctx, t->nb, sizeof(int))) ||
            !(c->fit_ok = its_calloc(t->ctx, t->nb, sizeof(int))) ||
            !(c->params_at = its_calloc(t->ctx, t->nb, vt->params_size)))
            return ITS_ERR_NOMEM;
        for (size_t b = 0; b < t->nb && c->usable; b++) {
            unsigned char *pa = c->params_at + b * vt->params_size;
            memcpy(pa, c->cfg.params, vt->params_size);
            its_run_params r = c->run;
            st = its_cost_fit(t->ctx, vt->method, pa, &r, p->budgets[b]);
            if (st == ITS_OK) {
                its_sampler *s = NULL;
                st = its_sampler_create(t->ctx, vt->method, pa, &r, &s);
                its_sampler_free(s);
            }
            if (st == ITS_ERR_NOMEM)
                return st;
            c->fit_ok[b] = st == ITS_OK;
        }
        its_clear_error(t->ctx);
    }
    return ITS_OK;
}

/* Entry b of the policy from the measurements: among the candidates run on every seed, the best
 * by the chosen rule (mean, or mean - SE with select 1), and the runner-up. */
static its_status tune_entry(tune_state *t, size_t b, its_policy *pol)
{
    const its_tune_params *p = t->p;
    long best = -1, second = -1;
    double bm = -INFINITY, sm = -INFINITY;
    for (size_t i = 0; i < t->nc; i++) {
        if (t->c[i].ran[b] != t->K)
            continue;
        double se = 0.0;
        double m = tune_mean_at(t, i, b, &se);
        if (p->select == 1)
            m -= isfinite(se) ? se : 0.0;
        if (!isfinite(m))
            continue;
        if (best < 0 || m > bm) {
            second = best;
            sm = bm;
            best = (long)i;
            bm = m;
        } else if (second < 0 || m > sm) {
            second = (long)i;
            sm = m;
        }
    }
    if (best < 0)
        return its_error(t->ctx, ITS_ERR_BUDGET,
                         "tune: no candidate ran on every seed at %llu NFE",
                         (unsigned long long)p->budgets[b]);
    its_auto_entry *e = &pol->entries[b];
    e->tuned_at = p->budgets[b];
    e->lo = b == 0 ? 1 : pol->entries[b - 1].hi + 1;
    if (b + 1 == t->nb)
        e->hi = UINT64_MAX;
    else {
        /* the boundary between two tuned budgets: their geometric mean */
        double g = floor(sqrt((double)p->budgets[b] * (double)p->budgets[b + 1]));
        e->hi = (uint64_t)g < e->lo ? e->lo : (uint64_t)g;
        if (e->hi >= p->budgets[b + 1])
            e->hi = p->budgets[b + 1] - 1;
    }
    for (int k = 0; k < 2; k++) {
        long ci = k == 0 ? best : second;
        if (ci < 0)
            break;
        const tune_cand *c = &t->c[ci];
        its_auto_cfg *dst = k == 0 ? &e->best : &e->runner;
        const its_method_vt *vt = c->cfg.vt;
        dst->vt = vt;
        if (!(dst->params = its_malloc(t->ctx, vt->params_size)))
            return ITS_ERR_NOMEM;
        memcpy(dst->params, c->params_at + b * vt->params_size, vt->params_size);
        dst->run = c->cfg.run;
        dst->run_set = c->cfg.run_set;
        dst->mean = tune_mean_at(t, (size_t)ci, b, &dst->se);
        dst->n = t->K;
        if (k == 1)
            e->has_runner = 1;
    }
    pol->n = b + 1;
    return ITS_OK;
}

static its_status tune_report(tune_state *t, its_policy *pol)
{
    size_t n = t->nc * t->nb;
    if (!(pol->cand_json = its_calloc(t->ctx, t->nc, sizeof(char *))) ||
        !(pol->r_mean = its_calloc(t->ctx, n, sizeof(double))) ||
        !(pol->r_se = its_calloc(t->ctx, n, sizeof(double))) ||
        !(pol->r_count = its_calloc(t->ctx, n, sizeof(int))))
        return ITS_ERR_NOMEM;
    pol->n_cand = t->nc;
    pol->n_bud = t->nb;
    for (size_t i = 0; i < t->nc; i++) {
        cJSON *o = its_auto_cfg_to_cjson(&t->c[i].cfg, 0);
        pol->cand_json[i] = its_cfg_print(t->ctx, o);
        cJSON_Delete(o);
        if (!pol->cand_json[i])
            return ITS_ERR_NOMEM;
        for (size_t b = 0; b < t->nb; b++) {
            size_t k = b * t->nc + i;
            pol->r_count[k] = t->c[i].ran[b];
            pol->r_mean[k] = t->c[i].ran[b] ? tune_mean_at(t, i, b, &pol->r_se[k]) : NAN;
            if (!t->c[i].ran[b])
                pol->r_se[k] = NAN;
        }
    }
    return ITS_OK;
}

its_status its_tune(its_ctx *ctx, const its_tune_params *p, const its_model *m,
                    const its_verifier *v, its_policy **out, its_tune_report *report)
{
    if (!out)
        return its_error(ctx, ITS_ERR_INVALID, "its_tune: out is NULL");
    *out = NULL;
    if (report)
        memset(report, 0, sizeof(*report));
    if (!ctx)
        return ITS_ERR_INVALID;
    its_clear_error(ctx);
    if (!p || !m || !v)
        return its_error(ctx, ITS_ERR_INVALID, "its_tune: params, model and verifier are needed");
    ITS_TRY(tune_check(ctx, p));
    const double t0 = its_now();
    tune_state t = {0};
    t.ctx = ctx;
    t.p = p;
    t.m = m;
    t.v = v;
    t.nb = p->n_budgets;
    t.K = p->seeds;
    its_policy *pol = NULL;
    its_status st = tune_setup(&t);
    if (st != ITS_OK)
        goto done;
    /* stage 0: k0 seeds for every candidate; stage 1: all seeds for the better third */
    int k0 = p->halving ? (t.K + 3) / 4 : t.K;
    if (k0 < 2)
        k0 = 2;
    if (k0 > t.K)
        k0 = t.K;
    size_t usable = 0;
    for (size_t i = 0; i < t.nc; i++)
        usable += t.c[i].usable;
    size_t keep = p->halving ? (usable + 2) / 3 : usable;
    if (keep < 2)
        keep = usable < 2 ? usable : 2;
    t.total = t.nb * (usable * (size_t)k0 + keep * (size_t)(t.K - k0));
    for (size_t b = 0; b < t.nb && st == ITS_OK; b++) {
        for (size_t i = 0; i < t.nc && st == ITS_OK; i++)
            if (t.c[i].usable && t.c[i].fit_ok[b])
                st = tune_run(&t, i, b, 0, k0);
        if (st != ITS_OK || k0 == t.K)
            continue;
        /* the better `keep` by their stage-0 mean go on (ties: the earlier candidate) */
        for (size_t i = 0; i < t.nc && st == ITS_OK; i++) {
            if (t.c[i].ran[b] != k0)
                continue;
            double mi = tune_mean_at(&t, i, b, NULL);
            if (!isfinite(mi))
                continue;
            size_t better = 0;
            for (size_t j = 0; j < t.nc; j++) {
                if (j == i || t.c[j].ran[b] != k0)
                    continue;
                double mj = tune_mean_at(&t, j, b, NULL);
                if (isfinite(mj) && (mj > mi || (mj == mi && j < i)))
                    better++;
            }
            if (better < keep)
                st = tune_run(&t, i, b, k0, t.K);
        }
    }
    if (st != ITS_OK)
        goto done;
    if (!(pol = its_calloc(ctx, 1, sizeof(*pol))) ||
        !(pol->entries = its_calloc(ctx, t.nb, sizeof(its_auto_entry)))) {
        st = ITS_ERR_NOMEM;
        goto done;
    }
    pol->ctx = ctx;
    for (size_t b = 0; b < t.nb && st == ITS_OK; b++)
        st = tune_entry(&t, b, pol);
    if (st != ITS_OK)
        goto done;
    if (p->label && !(pol->label = its_strdup(ctx, p->label))) {
        st = ITS_ERR_NOMEM;
        goto done;
    }
    pol->has_tuning = 1;
    pol->tune_seed = p->seed;
    pol->tune_seeds = t.K;
    pol->tune_nfe = t.nfe;
    pol->tune_runs = t.runs;
    pol->tune_s = its_now() - t0;
    pol->nfe_per_s = t.model_s > 0 ? floor((double)t.nfe / t.model_s) : 0;
    st = tune_report(&t, pol);
    if (st == ITS_OK && report) {
        report->n_budgets = t.nb;
        report->n_candidates = t.nc;
        report->candidate_json = (const char *const *)pol->cand_json;
        report->mean = pol->r_mean;
        report->se = pol->r_se;
        report->count = pol->r_count;
        report->nfe = t.nfe;
        report->runs = t.runs;
        report->seconds = pol->tune_s;
    }
done:
    tune_free(&t);
    if (st != ITS_OK) {
        its_policy_free(pol);
        if (report)
            memset(report, 0, sizeof(*report));
        return st;
    }
    its_clear_error(ctx);
    *out = pol;
    return ITS_OK;
}

its_status its_tune_candidate_sampler(its_ctx *ctx, const char *json, size_t len,
                                      const its_run_params *run, uint64_t nfe, its_sampler **out)
{
    if (!out)
        return its_error(ctx, ITS_ERR_INVALID, "its_tune_candidate_sampler: out is NULL");
    *out = NULL;
    if (!ctx)
        return ITS_ERR_INVALID;
    its_clear_error(ctx);
    if (nfe < 1)
        return its_error(ctx, ITS_ERR_INVALID, "its_tune_candidate_sampler: nfe is 0");
    ITS_TRY(its_cfg_prescan(ctx, json, len));
    cJSON *doc = cJSON_ParseWithLength(json, len);
    if (!doc)
        return its_error(ctx, ITS_ERR_CONFIG, "candidate: malformed JSON");
    its_auto_cfg c;
    its_status st = its_auto_cfg_parse(ctx, doc, "", 0, (uint64_t)ITS_CFG_MAX_INT, &c);
    cJSON_Delete(doc);
    if (st != ITS_OK)
        return st;
    st = its_auto_cfg_sampler(ctx, &c, 0, nfe, run, out);
    its_auto_cfg_free(ctx, &c);
    return st;
}
