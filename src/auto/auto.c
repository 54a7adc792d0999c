/* The `auto` sampler: for a request's budget, the configuration a policy measured best there
 * (sized to the budget by the cost model), or, without a policy, successive halving over short
 * pilots of a few methods on common seeds and the rest of the budget to the winner. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auto/auto_internal.h"
#include "config/config.h"
#include "engine/result.h"

#define ITS_AUTO_DEFAULT_SHARE 0.2
#define ITS_AUTO_DEFAULT_PILOT_SEEDS 2

/* A method's params struct on the stack, aligned for any of its fields. */
typedef union auto_pbuf {
    unsigned char b[256];
    double d;
    uint64_t u;
    void *p;
} auto_pbuf;

void its_auto_params_init(its_auto_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof(*p));
    p->version = 1;
    p->pilot_share = ITS_AUTO_DEFAULT_SHARE;
    p->pilot_seeds = ITS_AUTO_DEFAULT_PILOT_SEEDS;
}

static its_status auto_generate(its_sampler *s, const its_model *m, const its_verifier *v,
                                uint64_t seed, its_result **out);
static void auto_release(its_sampler *s);
static char *auto_to_json(its_sampler *s);

static const its_sampler_ops its_auto_ops = {auto_generate, auto_release, auto_to_json};

static its_auto *auto_of(const its_sampler *s) { return s->ops_state; }

int its_sampler_is_auto(const its_sampler *s) { return s && s->ops == &its_auto_ops; }

/* ---------------------------------------------------------------------------------------------
 * Configurations at a budget
 * ------------------------------------------------------------------------------------------- */
its_status its_auto_cfg_sampler(its_ctx *ctx, const its_auto_cfg *c, uint64_t at, uint64_t nfe,
                                const its_run_params *req, its_sampler **out)
{
    *out = NULL;
    its_run_params run;
    if (req)
        run = *req;
    else
        its_run_params_init(&run);
    its_auto_cfg_apply_run(c, &run);
    run.max_nfe = nfe;
    auto_pbuf buf;
    if (c->vt->params_size > sizeof(buf))
        return its_error(ctx, ITS_ERR_INVALID, "auto: parameters too large");
    memcpy(buf.b, c->params, c->vt->params_size);
    if (nfe != at)
        ITS_TRY(its_cost_fit(ctx, c->vt->method, buf.b, &run, nfe));
    return its_sampler_create(ctx, c->vt->method, buf.b, &run, out);
}

/* ---------------------------------------------------------------------------------------------
 * Creation, JSON
 * ------------------------------------------------------------------------------------------- */
static its_status auto_check(its_ctx *ctx, const its_auto_params *p)
{
    if (p->version != 1)
        return its_error(ctx, ITS_ERR_INVALID,
                         "params.version: expected 1 (use its_auto_params_init), got %d",
                         p->version);
    if (!(p->pilot_share > 0 && p->pilot_share <= 0.9))
        return its_error(ctx, ITS_ERR_INVALID, "params.pilot_share: expected (0, 0.9], got %g",
                         p->pilot_share);
    if (p->pilot_seeds < 1 || p->pilot_seeds > 16)
        return its_error(ctx, ITS_ERR_INVALID,
                         "params.pilot_seeds: expected integer in [1, 16], got %d",
                         p->pilot_seeds);
    if (p->n_candidates < 0 || p->n_candidates > ITS_AUTO_MAX_CANDIDATES)
        return its_error(ctx, ITS_ERR_INVALID, "params.candidates: expected 0 to %d, got %d",
                         ITS_AUTO_MAX_CANDIDATES, p->n_candidates);
    for (int i = 0; i < p->n_candidates; i++) {
        if (!its_method_vt_get(p->candidates[i]))
            return its_error(ctx, ITS_ERR_INVALID, "params.candidates[%d]: unknown method %d", i,
                             (int)p->candidates[i]);
        for (int j = 0; j < i; j++)
            if (p->candidates[j] == p->candidates[i])
                return its_error(ctx, ITS_ERR_INVALID,
                                 "params.candidates[%d]: %s is listed twice", i,
                                 its_method_name(p->candidates[i]));
    }
    if (!(p->nfe_per_s >= 0 && isfinite(p->nfe_per_s)))
        return its_error(ctx, ITS_ERR_INVALID, "params.nfe_per_s: expected a number >= 0, got %g",
                         p->nfe_per_s);
    return ITS_OK;
}

static void auto_release(its_sampler *s)
{
    its_auto *a = auto_of(s);
    if (!a)
        return;
    its_policy_free(a->policy);
    its_mfree(s->ctx, a);
    s->ops_state = NULL;
}

its_status its_auto_sampler_create(its_ctx *ctx, const its_auto_params *p,
                                   const its_run_params *run, its_sampler **out)
{
    if (!out)
        return its_error(ctx, ITS_ERR_INVALID, "its_auto_sampler_create: out is NULL");
    *out = NULL;
    if (!ctx)
        return ITS_ERR_INVALID;
    its_clear_error(ctx);
    its_auto_params def;
    if (!p) {
        its_auto_params_init(&def);
        p = &def;
    }
    ITS_TRY(auto_check(ctx, p));
    its_run_params def_run;
    if (!run) {
        its_run_params_init(&def_run);
        run = &def_run;
    }
    ITS_TRY(its_run_check(ctx, run));
    if (run->grid == ITS_GRID_CUSTOM)
        return its_error(ctx, ITS_ERR_UNSUPPORTED,
                         "run.grid: auto sizes each request's run itself; a custom grid is not "
                         "supported");
    its_auto *a = its_calloc(ctx, 1, sizeof(*a));
    its_sampler *s = its_calloc(ctx, 1, sizeof(*s));
    if (!a || !s) {
        its_mfree(ctx, a);
        its_mfree(ctx, s);
        return ITS_ERR_NOMEM;
    }
    a->p = *p;
    if (p->policy) {
        if (!(a->policy = its_policy_dup(ctx, p->policy))) {
            its_mfree(ctx, a);
            its_mfree(ctx, s);
            return ITS_ERR_NOMEM;
        }
    }
    a->p.policy = a->policy;
    s->ctx = ctx;
    s->vt = &its_vt_none; /* never run: its_generate hands auto samplers to its_auto_generate */
    s->run = *run;
    s->run.grid_custom = NULL;
    s->ops = &its_auto_ops;
    s->ops_state = a;
    *out = s;
    return ITS_OK;
}


static its_status auto_parse_params(its_ctx *ctx, const cJSON *obj, its_auto_params *p,
                                    its_policy **policy)
{
    if (!cJSON_IsObject(obj))
        return its_error(ctx, ITS_ERR_CONFIG, "params: expected an object");
    for (const cJSON *it = obj->child; it; it = it->next) {
        char path[160];
        snprintf(path, sizeof(path), "params.%s", it->string);
        for (const cJSON *c = obj->child; c != it; c = c->next)
            if (strcmp(c->string, it->string) == 0)
                return its_error(ctx, ITS_ERR_CONFIG, "%s: duplicate key", path);
        const char *k = it->string;
        if (strcmp(k, "policy") == 0) {
            ITS_TRY(its_policy_from_cjson(ctx, it, path, policy));
        } else if (strcmp(k, "pilot_share") == 0) {
            if (!cJSON_IsNumber(it) || !(it->valuedouble > 0 && it->valuedouble <= 0.9))
                return its_error(ctx, ITS_ERR_CONFIG, "%s: expected number in (0, 0.9]", path);
            p->pilot_share = it->valuedouble;
        } else if (strcmp(k, "pilot_seeds") == 0) {
            double v = cJSON_IsNumber(it) ? it->valuedouble : -1;
            if (!(v >= 1 && v <= 16 && v == floor(v)))
                return its_error(ctx, ITS_ERR_CONFIG, "%s: expected integer in [1, 16]", path);
            p->pilot_seeds = (int)v;
        } else if (strcmp(k, "nfe_per_s") == 0) {
            if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0 && isfinite(it->valuedouble)))
                return its_error(ctx, ITS_ERR_CONFIG, "%s: expected a number >= 0", path);
            p->nfe_per_s = it->valuedouble;
        } else if (strcmp(k, "candidates") == 0) {
            int n = cJSON_IsArray(it) ? cJSON_GetArraySize(it) : -1;
            if (n < 0 || n > ITS_AUTO_MAX_CANDIDATES)
                return its_error(ctx, ITS_ERR_CONFIG,
                                 "%s: expected an array of at most %d method names", path,
                                 ITS_AUTO_MAX_CANDIDATES);
            int i = 0;
            for (const cJSON *c = it->child; c; c = c->next, i++) {
                its_method m;
                if (!cJSON_IsString(c) || its_method_parse(c->valuestring, &m) != ITS_OK ||
                    !its_method_vt_get(m))
                    return its_error(ctx, ITS_ERR_CONFIG,
                                     "%s[%d]: expected a method this build has", path, i);
                for (int j = 0; j < i; j++)
                    if (p->candidates[j] == m)
                        return its_error(ctx, ITS_ERR_CONFIG, "%s[%d]: %s is listed twice",
                                         path, i, c->valuestring);
                p->candidates[i] = m;
            }
            p->n_candidates = n;
        } else {
            return its_error(ctx, ITS_ERR_CONFIG,
                             "%s: unknown key (auto takes policy, pilot_share, pilot_seeds, "
                             "candidates, nfe_per_s)",
                             path);
        }
    }
    return ITS_OK;
}

static its_status auto_from_cjson(its_ctx *ctx, const cJSON *root, its_sampler **out)
{
    *out = NULL;
    its_auto_params p;
    its_auto_params_init(&p);
    its_policy *policy = NULL;
    const cJSON *params = NULL, *runo = NULL;
    for (const cJSON *it = root->child; it; it = it->next) {
        for (const cJSON *c = root->child; c != it; c = c->next)
            if (strcmp(c->string, it->string) == 0)
                return its_error(ctx, ITS_ERR_CONFIG, "%s: duplicate key", it->string);
        if (strcmp(it->string, "params") == 0)
            params = it;
        else if (strcmp(it->string, "run") == 0)
            runo = it;
        else if (strcmp(it->string, "sampler") != 0)
            return its_error(ctx, ITS_ERR_CONFIG,
                             "%s: unknown key (expected one of sampler, params, run)",
                             it->string);
    }
    /* the run object through the config layer (a method without parameters carries it) */
    its_run_params run;
    its_run_params_init(&run);
    if (runo) {
        cJSON *doc = cJSON_CreateObject();
        cJSON *d = cJSON_Duplicate(runo, 1);
        if (!doc || !cJSON_AddStringToObject(doc, "sampler", "none") || !d ||
            !cJSON_AddItemToObject(doc, "run", d)) {
            cJSON_Delete(doc);
            if (!doc)
                cJSON_Delete(d);
            return ITS_ERR_NOMEM;
        }
        char *txt = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
        if (!txt)
            return ITS_ERR_NOMEM;
        const its_method_vt *vt;
        void *pb;
        its_status st = its_cfg_parse(ctx, txt, strlen(txt), &vt, &pb, &run);
        cJSON_free(txt);
        if (st != ITS_OK)
            return st;
        its_mfree(ctx, pb);
        if (run.grid_custom) {
            its_mfree(ctx, (void *)run.grid_custom);
            return its_error(ctx, ITS_ERR_CONFIG,
                             "run.grid: auto sizes each request's run itself; a custom grid is "
                             "not supported");
        }
    }
    if (params)
        ITS_TRY(auto_parse_params(ctx, params, &p, &policy));
    p.policy = policy;
    its_status st = its_auto_sampler_create(ctx, &p, &run, out);
    its_policy_free(policy);
    if (st == ITS_ERR_INVALID || st == ITS_ERR_UNSUPPORTED) {
        char msg[ITS_ERRMSG_CAP];
        snprintf(msg, sizeof(msg), "%s", its_ctx_errmsg(ctx));
        st = its_error(ctx, ITS_ERR_CONFIG, "%s", msg);
    }
    return st;
}

/* "sampler": "auto" in a well-formed document: 1 and the status in *st; 0 for every other text
 * (the config layer parses it and reports its errors). */
static int auto_from_json(its_ctx *ctx, const char *json, size_t len, its_sampler **out,
                          its_status *st)
{
    if (!json || len == 0 || its_cfg_prescan(ctx, json, len) != ITS_OK) {
        its_clear_error(ctx);
        return 0;
    }
    const char *end = NULL;
    cJSON *doc = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    int clean = doc != NULL;
    for (const char *q = end; clean && q && q < json + len; q++)
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r')
            clean = 0;
    const cJSON *smp = clean && cJSON_IsObject(doc) ? cJSON_GetObjectItemCaseSensitive(doc, "sampler")
                                                    : NULL;
    if (!cJSON_IsString(smp) || strcmp(smp->valuestring, "auto") != 0) {
        cJSON_Delete(doc);
        return 0;
    }
    *st = auto_from_cjson(ctx, doc, out);
    cJSON_Delete(doc);
    return 1;
}

its_status its_sampler_from_json(its_ctx *ctx, const char *json, size_t len, its_sampler **out)
{
    if (!out)
        return its_error(ctx, ITS_ERR_INVALID, "its_sampler_from_json: out is NULL");
    *out = NULL;
    if (!ctx)
        return ITS_ERR_INVALID;
    its_clear_error(ctx);
    its_status st;
    if (auto_from_json(ctx, json, len, out, &st))
        return st;
    st = its_cfg_sampler_from_json(ctx, json, len, out);
    /* "auto" is read here, above the parser that lists the methods: its message offers it */
    const char *m = its_ctx_errmsg(ctx), *got = strstr(m, ", got ");
    if (st == ITS_ERR_CONFIG && strncmp(m, "sampler: expected one of ", 25) == 0 && got) {
        char msg[ITS_ERRMSG_CAP];
        snprintf(msg, sizeof(msg), "%.*s, or \"auto\"%s", (int)(got - m), m, got);
        its_error(ctx, ITS_ERR_CONFIG, "%s", msg);
    }
    return st;
}

static char *auto_to_json(its_sampler *s)
{
    cJSON *root = its_auto_sampler_to_cjson(s);
    char *txt = its_cfg_print(s->ctx, root);
    cJSON_Delete(root);
    return txt;
}

cJSON *its_auto_sampler_to_cjson(const its_sampler *s)
{
    const its_auto *a = auto_of(s);
    cJSON *root = cJSON_CreateObject(), *po;
    cJSON *full = its_cfg_to_cjson(&its_vt_none, NULL, &s->run);
    cJSON *run = full ? cJSON_DetachItemFromObjectCaseSensitive(full, "run") : NULL;
    cJSON_Delete(full);
    if (!root || !run || !cJSON_AddStringToObject(root, "sampler", "auto") ||
        !(po = cJSON_AddObjectToObject(root, "params")))
        goto fail;
    if (a->policy) {
        cJSON *pol = its_policy_to_cjson(a->policy);
        if (!pol || !cJSON_AddItemToObject(po, "policy", pol)) {
            cJSON_Delete(pol);
            goto fail;
        }
    } else {
        cJSON *c = cJSON_AddArrayToObject(po, "candidates");
        if (!c || !cJSON_AddItemToObject(po, "pilot_share", its_cfg_number(a->p.pilot_share)) ||
            !cJSON_AddItemToObject(po, "pilot_seeds", its_cfg_number(a->p.pilot_seeds)))
            goto fail;
        for (int i = 0; i < a->p.n_candidates; i++)
            if (!cJSON_AddItemToArray(c, cJSON_CreateString(its_method_name(a->p.candidates[i]))))
                goto fail;
    }
    if (a->p.nfe_per_s > 0 && !cJSON_AddItemToObject(po, "nfe_per_s", its_cfg_number(a->p.nfe_per_s)))
        goto fail;
    cJSON_AddItemToObject(root, "run", run);
    return root;
fail:
    cJSON_Delete(run);
    cJSON_Delete(root);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Runs
 * ------------------------------------------------------------------------------------------- */
/* The request's budget: max_nfe, or the deadline through an NFE rate (the lower of the two when
 * both are set and a rate is known). *from names the source for the result. */
static its_status auto_budget(its_sampler *s, uint64_t *budget, const char **from)
{
    const its_auto *a = auto_of(s);
    const its_run_params *run = &s->run;
    double rate = a->p.nfe_per_s;
    const char *rate_from = "params.nfe_per_s";
    if (!(rate > 0) && a->policy && a->policy->nfe_per_s > 0) {
        rate = a->policy->nfe_per_s;
        rate_from = "the policy's nfe_per_s";
    }
    if (!(rate > 0) && a->measured_rate > 0) {
        rate = a->measured_rate;
        rate_from = "the rate measured on earlier runs";
    }
    uint64_t by_deadline = 0;
    if (run->deadline_ms > 0 && rate > 0) {
        double b = floor(rate * run->deadline_ms / 1000.0);
        by_deadline = b < 1 ? 1 : (b > 9e15 ? (uint64_t)9e15 : (uint64_t)b);
    }
    if (run->max_nfe && (!by_deadline || run->max_nfe <= by_deadline)) {
        *budget = run->max_nfe;
        *from = "run.budget.max_nfe";
        return ITS_OK;
    }
    if (by_deadline) {
        *budget = by_deadline;
        *from = rate_from;
        return ITS_OK;
    }
    return its_error(s->ctx, ITS_ERR_BUDGET,
                     "auto needs a budget: run.budget.max_nfe, or run.budget.deadline_ms with an "
                     "NFE rate (params.nfe_per_s, the policy's nfe_per_s, or an earlier run of "
                     "this sampler)%s",
                     run->deadline_ms > 0 ? "; no rate is known yet" : "");
}

static void auto_note_rate(its_auto *a, const its_result *r)
{
    if (!r || r->usage.nfe == 0 || !(r->usage.total_s > 0))
        return;
    a->rate_nfe += r->usage.nfe;
    a->rate_s += r->usage.total_s;
    a->measured_rate = (double)a->rate_nfe / a->rate_s;
}

static its_status auto_attach(its_ctx *ctx, its_result *r, cJSON *info)
{
    if (!info)
        return ITS_ERR_NOMEM;
    char *txt = its_cfg_print(ctx, info);
    cJSON_Delete(info);
    if (!txt)
        return ITS_ERR_NOMEM;
    its_mfree(ctx, r->auto_json);
    r->auto_json = txt;
    return ITS_OK;
}

static its_status auto_policy_run(its_sampler *s, const its_model *m, const its_verifier *v,
                                  uint64_t seed, uint64_t budget, const char *from,
                                  its_result **out)
{
    its_ctx *ctx = s->ctx;
    its_auto *a = auto_of(s);
    size_t k;
    ITS_TRY(its_policy_choose(a->policy, budget, &k));
    const its_auto_entry *e = &a->policy->entries[k];
    its_run_params req = s->run;
    its_sampler *inner = NULL;
    its_status st = its_auto_cfg_sampler(ctx, &e->best, e->tuned_at, budget, &req, &inner);
    if (st != ITS_OK) {
        char msg[ITS_ERRMSG_CAP];
        snprintf(msg, sizeof(msg), "%s", its_ctx_errmsg(ctx));
        return its_error(ctx, st, "auto: policy entry %zu (%s) at %llu NFE: %s", k,
                         its_method_name(e->best.vt->method), (unsigned long long)budget, msg);
    }
    st = its_generate(inner, m, v, seed, out);
    its_sampler_free(inner);
    if (st != ITS_OK && st != ITS_CANCELLED)
        return st;
    auto_note_rate(a, *out);
    cJSON *info = cJSON_CreateObject();
    if (info) {
        cJSON_AddStringToObject(info, "mode", "policy");
        cJSON_AddItemToObject(info, "budget", its_cfg_number((double)budget));
        cJSON_AddStringToObject(info, "budget_from", from);
        cJSON_AddItemToObject(info, "entry", its_cfg_number((double)k));
        cJSON_AddItemToObject(info, "tuned_at", its_cfg_number((double)e->tuned_at));
        cJSON_AddItemToObject(info, "sized", cJSON_CreateBool(budget != e->tuned_at));
        cJSON_AddItemToObject(info, "expected_mean", its_cfg_number(e->best.mean));
        cJSON_AddItemToObject(info, "expected_se", its_cfg_number(e->best.se));
    }
    its_status st2 = auto_attach(ctx, *out, info);
    if (st2 != ITS_OK) {
        its_result_free(*out);
        *out = NULL;
        return st2;
    }
    return st;
}

/* ---- online mode ---- */
/* The methods' usual dynamics: the look-ahead searches steer SDE particles (DESIGN.md §5). */
static int auto_wants_sde(its_method m)
{
    return m == ITS_METHOD_BEAM || m == ITS_METHOD_SVDD || m == ITS_METHOD_CODE ||
           m == ITS_METHOD_FK_SMC || m == ITS_METHOD_BFS || m == ITS_METHOD_RBF;
}

typedef struct auto_prog {
    its_progress_fn fn;
    void *user;
    uint64_t off, max;
    double best;
} auto_prog;

static int auto_progress(void *user, const its_progress *p)
{
    auto_prog *ap = user;
    its_progress q = *p;
    q.nfe += ap->off;
    q.max_nfe = ap->max;
    if (ap->best > q.best_score)
        q.best_score = ap->best;
    return ap->fn(ap->user, &q);
}

/* A pilot seed: splitmix64 of the request seed and the pilot index, so pilots never reuse the
 * final run's noise and every candidate sees the same seeds. */
static uint64_t auto_pilot_seed(uint64_t seed, uint64_t j)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (j + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct auto_cand {
    its_method m;
    auto_pbuf params;
    its_run_params run;
    uint64_t minimum;        /* smallest run at this request's settings */
    double score;            /* mean pilot score of the last round it ran */
    int alive;
} auto_cand;

/* Merged result state: every sub-run's samples and trace, in run order. */
typedef struct auto_merge {
    its_result *runs[64];
    uint64_t off[64];
    size_t n;
    uint64_t nfe;            /* NFE spent so far */
    uint64_t vrows;
} auto_merge;

static its_status auto_sub_run(its_sampler *s, const its_model *m, const its_verifier *v,
                               auto_cand *c, uint64_t cap, uint64_t seed, double t0,
                               auto_merge *mg, its_result **res)
{
    its_ctx *ctx = s->ctx;
    *res = NULL;
    its_run_params run = c->run;
    run.max_nfe = cap;
    if (s->run.max_verifier_rows)
        run.max_verifier_rows = s->run.max_verifier_rows > mg->vrows
                                    ? s->run.max_verifier_rows - mg->vrows
                                    : 1;
    if (s->run.deadline_ms > 0) {
        double left = s->run.deadline_ms - (its_now() - t0) * 1000.0;
        run.deadline_ms = left > 1e-3 ? left : 1e-3;
    }
    auto_prog ap = {s->run.progress, s->run.progress_user, mg->nfe, s->run.max_nfe, -INFINITY};
    for (size_t i = 0; i < mg->n; i++)
        if (mg->runs[i]->count && mg->runs[i]->scores[0] > ap.best)
            ap.best = mg->runs[i]->scores[0];
    if (s->run.progress) {
        run.progress = auto_progress;
        run.progress_user = &ap;
    }
    auto_pbuf buf = c->params;
    ITS_TRY(its_cost_fit(ctx, c->m, buf.b, &run, cap));
    its_sampler *inner = NULL;
    ITS_TRY(its_sampler_create(ctx, c->m, buf.b, &run, &inner));
    its_status st = its_generate(inner, m, v, seed, res);
    its_sampler_free(inner);
    if ((st == ITS_OK || st == ITS_CANCELLED) && *res) {
        if (mg->n == 64) {
            its_result_free(*res);
            *res = NULL;
            return its_error(ctx, ITS_ERR_INVALID, "auto: more than 64 pilot runs");
        }
        mg->runs[mg->n] = *res;
        mg->off[mg->n] = mg->nfe;
        mg->n++;
        mg->nfe += (*res)->usage.nfe;
        mg->vrows += (*res)->usage.verifier_rows;
    }
    return st;
}

/* Folds every sub-run into the last one: top-k over all samples, summed usage, one trace. */
static its_status auto_merge_into(its_ctx *ctx, auto_merge *mg, const its_run_params *req,
                                  double t0, its_result *r)
{
    size_t K = (size_t)req->top_k, dim = r->dim, total = 0, nt = 0;
    for (size_t i = 0; i < mg->n; i++) {
        total += mg->runs[i]->count;
        nt += mg->runs[i]->n_trace;
    }
    size_t cnt = total < K ? total : K;
    float *samples = its_calloc(ctx, (cnt ? cnt : 1) * dim, sizeof(float));
    double *scores = its_calloc(ctx, cnt + 1, sizeof(double));
    uint64_t *found = its_calloc(ctx, cnt + 1, sizeof(uint64_t));
    its_trace_point *trace = its_calloc(ctx, nt + 1, sizeof(its_trace_point));
    size_t *cur = its_calloc(ctx, mg->n + 1, sizeof(size_t));
    if (!samples || !scores || !found || !trace || !cur) {
        its_mfree(ctx, samples);
        its_mfree(ctx, scores);
        its_mfree(ctx, found);
        its_mfree(ctx, trace);
        its_mfree(ctx, cur);
        return ITS_ERR_NOMEM;
    }
    /* each run's samples are sorted best first: merge them (ties: the earlier run) */
    for (size_t k = 0; k < cnt; k++) {
        size_t bi = SIZE_MAX;
        for (size_t i = 0; i < mg->n; i++) {
            const its_result *ri = mg->runs[i];
            if (cur[i] >= ri->count)
                continue;
            double a = ri->scores[cur[i]];
            if (bi == SIZE_MAX) {
                bi = i;
                continue;
            }
            double b = mg->runs[bi]->scores[cur[bi]];
            if (isnan(b) ? !isnan(a) : a > b)
                bi = i;
        }
        const its_result *rb = mg->runs[bi];
        memcpy(samples + k * dim, rb->samples + cur[bi] * dim, dim * sizeof(float));
        scores[k] = rb->scores[cur[bi]];
        found[k] = rb->found_nfe[cur[bi]] + mg->off[bi];
        cur[bi]++;
    }
    size_t n_tr = 0;
    double best = -INFINITY;
    for (size_t i = 0; i < mg->n; i++)
        for (size_t j = 0; j < mg->runs[i]->n_trace; j++) {
            const its_trace_point *tp = &mg->runs[i]->trace[j];
            if (n_tr == 0 || tp->best > best) {
                trace[n_tr].nfe = tp->nfe + mg->off[i];
                trace[n_tr].best = tp->best;
                best = tp->best;
                n_tr++;
            }
        }
    its_usage u = {0};
    for (size_t i = 0; i < mg->n; i++) {
        const its_usage *x = &mg->runs[i]->usage;
        u.nfe += x->nfe;
        u.model_calls += x->model_calls;
        u.verifier_rows += x->verifier_rows;
        u.verifier_calls += x->verifier_calls;
        u.grad_rows += x->grad_rows;
        u.grad_calls += x->grad_calls;
        u.model_s += x->model_s;
        u.verifier_s += x->verifier_s;
    }
    u.total_s = its_now() - t0;
    u.library_s = u.total_s - u.model_s - u.verifier_s;
    if (u.library_s < 0)
        u.library_s = 0;
    its_mfree(ctx, cur);
    its_mfree(ctx, r->samples);
    its_mfree(ctx, r->scores);
    its_mfree(ctx, r->found_nfe);
    its_mfree(ctx, r->trace);
    r->samples = samples;
    r->scores = scores;
    r->found_nfe = found;
    r->count = cnt;
    r->trace = trace;
    r->n_trace = n_tr;
    r->usage = u;
    r->run.max_nfe = req->max_nfe;
    r->run.max_verifier_rows = req->max_verifier_rows;
    r->run.deadline_ms = req->deadline_ms;
    return ITS_OK;
}

static int auto_default_candidates(const its_verifier *v, its_method *out)
{
    int n = 0;
    if (v && v->grad)
        out[n++] = ITS_METHOD_LOCAL_SEARCH;
    out[n++] = ITS_METHOD_FK_SMC;
    out[n++] = ITS_METHOD_SVDD;
    out[n++] = ITS_METHOD_BEST_OF_N;
    return n;
}

static its_status auto_online_run(its_sampler *s, const its_model *m, const its_verifier *v,
                                  uint64_t seed, uint64_t budget, const char *from,
                                  its_result **out)
{
    its_ctx *ctx = s->ctx;
    its_auto *a = auto_of(s);
    const double t0 = its_now();
    its_method list[ITS_AUTO_MAX_CANDIDATES];
    int C = a->p.n_candidates;
    if (C > 0)
        memcpy(list, a->p.candidates, (size_t)C * sizeof(its_method));
    else
        C = auto_default_candidates(v, list);
    auto_cand cand[ITS_AUTO_MAX_CANDIDATES];
    int live = 0;
    for (int i = 0; i < C; i++) {
        auto_cand *c = &cand[i];
        memset(c, 0, sizeof(*c));
        c->m = list[i];
        const its_method_vt *vt = its_method_vt_get(c->m);
        vt->params_init(c->params.b);
        c->run = s->run;
        c->run.progress = NULL;
        c->run.progress_user = NULL;
        if (auto_wants_sde(c->m))
            c->run.dynamics = ITS_DYN_SDE;
        c->score = -INFINITY;
        int grad = vt->needs_grad == 1 ||
                   (vt->needs_grad == 2 && vt->wants_grad && vt->wants_grad(c->params.b));
        if (grad && !(v && v->grad))
            continue; /* this verifier cannot drive it */
        its_cost cost;
        c->run.max_nfe = 0;
        if (its_cost_plan(ctx, c->m, c->params.b, &c->run, &cost) != ITS_OK)
            continue;
        c->minimum = cost.minimum ? cost.minimum : cost.trajectory;
        c->alive = 1;
        live++;
    }
    its_clear_error(ctx);
    if (live == 0)
        return its_error(ctx, ITS_ERR_UNSUPPORTED,
                         "auto: none of the %d candidate methods can run with this verifier", C);

    /* successive halving: R rounds, each with an equal share of the pilot budget P; a round's
     * candidates each get b = P / (R n s) per seed and the better half goes on. A pilot is never
     * shorter than the largest minimum of the candidates (every candidate runs at its smallest
     * size or more, on the same seeds): where P cannot pay for that with s seeds, fewer seeds;
     * where it cannot pay for one, the pilots stop and the order of the candidates decides. */
    const uint64_t P = (uint64_t)floor(a->p.pilot_share * (double)budget);
    int R = 0;
    while ((1 << R) < live)
        R++;
    auto_merge mg = {0};
    cJSON *info = cJSON_CreateObject(), *rounds = info ? cJSON_AddArrayToObject(info, "rounds") : NULL;
    its_status st = ITS_OK;
    int cancelled = 0;
    its_result *res = NULL;
    for (int r = 0; r < R && st == ITS_OK; r++) {
        int n_alive = 0;
        uint64_t need = 0;
        for (int i = 0; i < C; i++)
            if (cand[i].alive) {
                n_alive++;
                if (cand[i].minimum > need)
                    need = cand[i].minimum;
            }
        if (n_alive <= 1)
            break;
        uint64_t p_left = P > mg.nfe ? P - mg.nfe : 0;
        int seeds = a->p.pilot_seeds;
        uint64_t b = P / ((uint64_t)(R - r) * (uint64_t)n_alive * (uint64_t)seeds);
        if (r > 0) /* the rounds left share what is left */
            b = p_left / ((uint64_t)(R - r) * (uint64_t)n_alive * (uint64_t)seeds);
        if (b < need)
            b = need;
        while (seeds > 1 && (uint64_t)n_alive * (uint64_t)seeds * b > p_left)
            seeds--;
        if ((uint64_t)n_alive * (uint64_t)seeds * b > p_left)
            break; /* pilots too short for some candidate: no evidence, keep the order */
        cJSON *ro = cJSON_CreateObject(), *ca = ro ? cJSON_AddArrayToObject(ro, "candidates") : NULL;
        if (ro) {
            cJSON_AddItemToObject(ro, "nfe_each", its_cfg_number((double)b));
            cJSON_AddItemToObject(ro, "seeds", its_cfg_number(seeds));
            cJSON_AddItemToArray(rounds, ro);
        }
        for (int i = 0; i < C && st == ITS_OK; i++) {
            auto_cand *c = &cand[i];
            if (!c->alive)
                continue;
            double sum = 0;
            int got = 0;
            for (int j = 0; j < seeds && st == ITS_OK; j++) {
                st = auto_sub_run(s, m, v, c, b, auto_pilot_seed(seed, (uint64_t)(r * 16 + j)),
                                  t0, &mg, &res);
                if (st == ITS_CANCELLED) {
                    cancelled = 1;
                    break;
                }
                if (st == ITS_ERR_BUDGET) {
                    st = ITS_OK; /* the run stopped before a sample: a failed pilot */
                    its_clear_error(ctx);
                    continue;
                }
                if (st == ITS_OK && res && res->count && isfinite(res->scores[0])) {
                    sum += res->scores[0];
                    got++;
                }
            }
            c->score = got == seeds ? sum / got : -INFINITY;
            cJSON *co = cJSON_CreateObject();
            if (co && ca) {
                cJSON_AddStringToObject(co, "sampler", its_method_name(c->m));
                cJSON_AddItemToObject(co, "mean", its_cfg_number(c->score));
                cJSON_AddItemToArray(ca, co);
            } else
                cJSON_Delete(co);
            if (cancelled)
                break;
        }
        if (cancelled || st != ITS_OK)
            break;
        /* keep the better half (ties: the earlier candidate) */
        int keep = (n_alive + 1) / 2;
        for (int i = 0; i < C; i++) {
            if (!cand[i].alive)
                continue;
            int better = 0;
            for (int j = 0; j < C; j++)
                if (j != i && cand[j].alive &&
                    (cand[j].score > cand[i].score || (cand[j].score == cand[i].score && j < i)))
                    better++;
            if (better >= keep)
                cand[i].alive = 0;
        }
    }
    /* the final run: the best survivor that the rest of the budget pays for (without pilots:
     * the first candidate that fits) */
    uint64_t left = budget > mg.nfe ? budget - mg.nfe : 0;
    int win = -1;
    for (int pass = 0; pass < 2 && win < 0; pass++)
        for (int i = 0; i < C; i++) {
            /* pass 0: survivors; pass 1: anything that runs at all */
            int ok = (pass == 0 ? cand[i].alive : cand[i].minimum > 0) && cand[i].minimum <= left;
            if (ok && (win < 0 || cand[i].score > cand[win].score))
                win = i;
        }
    const uint64_t pilot_nfe = mg.nfe;
    int final_ran = 0;
    if (st == ITS_OK && !cancelled && win >= 0) {
        st = auto_sub_run(s, m, v, &cand[win], left, seed, t0, &mg, &res);
        if (st == ITS_CANCELLED)
            cancelled = 1;
        if (st == ITS_OK || st == ITS_CANCELLED)
            final_ran = 1;
    }
    if (st != ITS_OK && st != ITS_CANCELLED) {
        for (size_t i = 0; i < mg.n; i++)
            its_result_free(mg.runs[i]);
        cJSON_Delete(info);
        return st;
    }
    if (mg.n == 0) {
        cJSON_Delete(info);
        return its_error(ctx, ITS_ERR_BUDGET,
                         "auto: %llu NFE cannot pay for the smallest run of any candidate",
                         (unsigned long long)budget);
    }
    /* the merged result is the last run's (what ran last is what it names) */
    its_result *r = mg.runs[mg.n - 1];
    its_run_params req = s->run;
    req.max_nfe = budget;
    st = auto_merge_into(ctx, &mg, &req, t0, r);
    for (size_t i = 0; i + 1 < mg.n; i++)
        its_result_free(mg.runs[i]);
    if (st == ITS_OK && info) {
        cJSON_AddStringToObject(info, "mode", "online");
        cJSON_AddItemToObject(info, "budget", its_cfg_number((double)budget));
        cJSON_AddStringToObject(info, "budget_from", from);
        cJSON_AddItemToObject(info, "pilot_share", its_cfg_number(a->p.pilot_share));
        cJSON_AddItemToObject(info, "pilot_nfe", its_cfg_number((double)pilot_nfe));
        cJSON_AddStringToObject(info, "winner", win >= 0 ? its_method_name(cand[win].m) : "");
        cJSON_AddItemToObject(info, "final_ran", cJSON_CreateBool(final_ran));
    }
    if (st == ITS_OK)
        st = auto_attach(ctx, r, info);
    else
        cJSON_Delete(info);
    if (st != ITS_OK) {
        its_result_free(r);
        return st;
    }
    if (cancelled) {
        r->status = ITS_CANCELLED;
        r->stop = ITS_STOP_CANCELLED;
    }
    auto_note_rate(a, r);
    *out = r;
    return cancelled ? ITS_CANCELLED : ITS_OK;
}

static its_status auto_generate(its_sampler *s, const its_model *m, const its_verifier *v,
                                uint64_t seed, its_result **out)
{
    its_ctx *ctx = s->ctx;
    uint64_t budget = 0;
    const char *from = "";
    ITS_TRY(auto_budget(s, &budget, &from));
    its_status st = auto_of(s)->policy ? auto_policy_run(s, m, v, seed, budget, from, out)
                                     : auto_online_run(s, m, v, seed, budget, from, out);
    if (st == ITS_OK)
        its_clear_error(ctx);
    return st;
}
