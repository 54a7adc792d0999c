/* Policies: NFE budget ranges -> a measured configuration, parsed as strictly as a sampler
 * config (every error names its JSON path) and written back so the text reads back the same. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auto/auto_internal.h"
#include "config/config.h"

#define ITS_POLICY_VERSION 1
#define ITS_POLICY_MAX_ENTRIES 256

/* ---------------------------------------------------------------------------------------------
 * Helpers
 * ------------------------------------------------------------------------------------------- */
/* Paths are cut at the buffer's end: a message names the start of a very deep path. */
static void pol_join(char *out, size_t cap, const char *prefix, const char *key)
{
    size_t n = strlen(prefix);
    if (n >= cap)
        n = cap - 1;
    memcpy(out, prefix, n);
    size_t o = n;
    if (n && o + 1 < cap)
        out[o++] = '.';
    size_t k = strlen(key);
    if (k > cap - 1 - o)
        k = cap - 1 - o;
    memcpy(out + o, key, k);
    out[o + k] = 0;
}

static its_status pol_bad(its_ctx *ctx, const char *path, const char *expect, const cJSON *it)
{
    char got[64];
    if (!it)
        snprintf(got, sizeof(got), "nothing");
    else if (cJSON_IsNumber(it))
        snprintf(got, sizeof(got), "%.17g", it->valuedouble);
    else if (cJSON_IsString(it))
        snprintf(got, sizeof(got), "\"%.40s\"", it->valuestring);
    else if (cJSON_IsBool(it))
        snprintf(got, sizeof(got), "%s", cJSON_IsTrue(it) ? "true" : "false");
    else if (cJSON_IsNull(it))
        snprintf(got, sizeof(got), "null");
    else
        snprintf(got, sizeof(got), "%s", cJSON_IsArray(it) ? "an array" : "an object");
    return its_error(ctx, ITS_ERR_CONFIG, "%s: expected %s, got %s", path, expect, got);
}

static its_status pol_dup_key(its_ctx *ctx, const cJSON *obj, const cJSON *it, const char *path)
{
    for (const cJSON *c = obj->child; c && c != it; c = c->next)
        if (strcmp(c->string, it->string) == 0)
            return its_error(ctx, ITS_ERR_CONFIG, "%s: duplicate key", path);
    return ITS_OK;
}

/* A whole number in [lo, hi] as uint64. */
static int pol_u64(const cJSON *it, double lo, double hi, uint64_t *out)
{
    if (!cJSON_IsNumber(it))
        return 0;
    double v = it->valuedouble;
    if (!(isfinite(v) && v == floor(v) && v >= lo && v <= hi))
        return 0;
    *out = (uint64_t)v;
    return 1;
}

/* A statistic: a finite number, or null (unmeasured, NaN). */
static int pol_stat(const cJSON *it, double lo, double *out)
{
    if (cJSON_IsNull(it)) {
        *out = NAN;
        return 1;
    }
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < lo)
        return 0;
    *out = it->valuedouble;
    return 1;
}

/* Run fields a policy entry may state: how the method steps, never the request's budget or
 * outputs. */
static int pol_run_field_allowed(const char *path)
{
    return strncmp(path, "budget.", 7) != 0 && strcmp(path, "top_k") != 0 &&
           strcmp(path, "on_nonfinite") != 0 && strcmp(path, "grid_custom") != 0;
}

/* Marks the stated fields of a run object (already validated by the config layer) and rejects
 * the ones a policy may not state. */
static its_status pol_run_mask(its_ctx *ctx, const cJSON *obj, const char *rel, const char *path,
                               uint32_t *mask)
{
    size_t nf;
    const its_param_desc *f = its_run_desc(&nf);
    char sub[160], p[256];
    for (const cJSON *it = obj->child; it; it = it->next) {
        pol_join(sub, sizeof(sub), rel, it->string);
        snprintf(p, sizeof(p), "%s.run.%s", path, sub);
        size_t i;
        for (i = 0; i < nf; i++)
            if (strcmp(f[i].path, sub) == 0)
                break;
        if (i < nf) {
            if (!pol_run_field_allowed(sub))
                return its_error(ctx, ITS_ERR_CONFIG,
                                 "%s: a policy states how a method steps, not the request's "
                                 "budget, outputs or custom grid",
                                 p);
            if (i < 32)
                *mask |= 1u << i;
            continue;
        }
        if (cJSON_IsObject(it))
            ITS_TRY(pol_run_mask(ctx, it, sub, path, mask));
    }
    return ITS_OK;
}

void its_auto_cfg_apply_run(const its_auto_cfg *c, its_run_params *run)
{
    size_t nf;
    const its_param_desc *f = its_run_desc(&nf);
    for (size_t i = 0; i < nf && i < 32; i++) {
        if (!(c->run_set & (1u << i)))
            continue;
        size_t sz = 0;
        switch (f[i].type) {
        case ITS_PT_INT:
        case ITS_PT_BOOL:
        case ITS_PT_ENUM:
            sz = sizeof(int);
            break;
        case ITS_PT_U64:
            sz = sizeof(uint64_t);
            break;
        case ITS_PT_DOUBLE:
            sz = sizeof(double);
            break;
        case ITS_PT_INTERP:
            run->convert = c->run.convert;
            run->target = c->run.target;
            break;
        case ITS_PT_GRID:
            break;
        }
        if (sz)
            memcpy((char *)run + f[i].offset, (const char *)&c->run + f[i].offset, sz);
    }
}

void its_auto_cfg_free(its_ctx *ctx, its_auto_cfg *c)
{
    if (c) {
        its_mfree(ctx, c->params);
        c->params = NULL;
    }
}

its_status its_auto_cfg_parse(its_ctx *ctx, const cJSON *obj, const char *path, int with_stats,
                              uint64_t check_nfe, its_auto_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->mean = c->se = NAN;
    if (!cJSON_IsObject(obj))
        return pol_bad(ctx, path, "an object {\"sampler\", \"params\", \"run\"}", obj);
    cJSON *doc = cJSON_CreateObject();
    if (!doc)
        return ITS_ERR_NOMEM;
    its_status st = ITS_OK;
    char p[256];
    const cJSON *runo = NULL;
    for (const cJSON *it = obj->child; it; it = it->next) {
        pol_join(p, sizeof(p), path, it->string);
        if ((st = pol_dup_key(ctx, obj, it, p)) != ITS_OK)
            goto done;
        const char *k = it->string;
        if (strcmp(k, "sampler") == 0 || strcmp(k, "params") == 0 || strcmp(k, "run") == 0) {
            if (strcmp(k, "sampler") == 0 && cJSON_IsString(it) &&
                strcmp(it->valuestring, "auto") == 0) {
                st = its_error(ctx, ITS_ERR_CONFIG, "%s: a policy names a method, not \"auto\"",
                               p);
                goto done;
            }
            if (strcmp(k, "run") == 0)
                runo = it;
            cJSON *d = cJSON_Duplicate(it, 1);
            if (!d || !cJSON_AddItemToObject(doc, k, d)) {
                cJSON_Delete(d);
                st = ITS_ERR_NOMEM;
                goto done;
            }
        } else if (with_stats && strcmp(k, "mean") == 0) {
            if (!pol_stat(it, -INFINITY, &c->mean)) {
                st = pol_bad(ctx, p, "a finite number or null", it);
                goto done;
            }
        } else if (with_stats && strcmp(k, "se") == 0) {
            if (!pol_stat(it, 0, &c->se)) {
                st = pol_bad(ctx, p, "a number >= 0 or null", it);
                goto done;
            }
        } else if (with_stats && strcmp(k, "n") == 0) {
            uint64_t n;
            if (!pol_u64(it, 0, 1e9, &n)) {
                st = pol_bad(ctx, p, "integer in [0, 1e9]", it);
                goto done;
            }
            c->n = (int)n;
        } else {
            st = its_error(ctx, ITS_ERR_CONFIG, "%s: unknown key (expected one of sampler, "
                                                "params, run%s)",
                           p, with_stats ? ", mean, se, n" : "");
            goto done;
        }
    }
    if (!cJSON_GetObjectItemCaseSensitive(obj, "sampler")) {
        pol_join(p, sizeof(p), path, "sampler");
        st = its_error(ctx, ITS_ERR_CONFIG, "%s: missing (expected a method name)", p);
        goto done;
    }
    if (runo && !cJSON_IsObject(runo)) {
        pol_join(p, sizeof(p), path, "run");
        st = pol_bad(ctx, p, "an object", runo);
        goto done;
    }
    if (runo && (st = pol_run_mask(ctx, runo, "", path, &c->run_set)) != ITS_OK)
        goto done;
    /* the config layer checks sampler, params and run with its own paths; ours go in front */
    char *txt = cJSON_PrintUnformatted(doc);
    if (!txt) {
        st = ITS_ERR_NOMEM;
        goto done;
    }
    const its_method_vt *vt = NULL;
    void *params = NULL;
    its_run_params run;
    st = its_cfg_parse(ctx, txt, strlen(txt), &vt, &params, &run);
    cJSON_free(txt);
    if (st == ITS_OK) {
        /* cross-field checks (rbf needs sde, ...) and the smallest run at the tuned budget */
        its_run_params chk = run;
        chk.max_nfe = check_nfe;
        its_sampler *s = NULL;
        st = its_sampler_create(ctx, vt->method, params, &chk, &s);
        its_sampler_free(s);
        its_cost cost = {0};
        if (st == ITS_OK)
            st = its_cost_plan(ctx, vt->method, params, &chk, &cost);
        if (st == ITS_ERR_BUDGET) /* below the minimum: said below, with the tuned budget */
            st = ITS_OK;
        uint64_t need = cost.minimum;
        if (st == ITS_OK && need > check_nfe)
            st = its_error(ctx, ITS_ERR_BUDGET,
                           "%s needs at least %llu NFE with these settings, more than the %llu "
                           "it was tuned at",
                           its_method_name(vt->method), (unsigned long long)need,
                           (unsigned long long)check_nfe);
    }
    if (st != ITS_OK) {
        its_mfree(ctx, params);
        if (st != ITS_ERR_NOMEM) {
            char msg[ITS_ERRMSG_CAP];
            snprintf(msg, sizeof(msg), "%s", its_ctx_errmsg(ctx));
            /* a message that starts with a path continues ours; others follow a colon */
            int pathlike = strncmp(msg, "params.", 7) == 0 || strncmp(msg, "run.", 4) == 0 ||
                           strncmp(msg, "sampler:", 8) == 0;
            st = its_error(ctx, ITS_ERR_CONFIG, "%s%s%s", path, !path[0] ? "" : pathlike ? "." : ": ", msg);
        }
        goto done;
    }
    c->vt = vt;
    c->params = params;
    c->run = run;
done:
    cJSON_Delete(doc);
    return st;
}

/* Copies the leaf at dotted path from src (a full run object) into dst, creating groups. */
static int pol_copy_leaf(cJSON *dst, const cJSON *src, const char *path)
{
    char key[64];
    const char *p = path, *dot;
    while ((dot = strchr(p, '.'))) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - p), p);
        src = cJSON_GetObjectItemCaseSensitive(src, key);
        cJSON *d = cJSON_GetObjectItemCaseSensitive(dst, key);
        if (!d && !(d = cJSON_AddObjectToObject(dst, key)))
            return -1;
        dst = d;
        p = dot + 1;
    }
    const cJSON *leaf = cJSON_GetObjectItemCaseSensitive(src, p);
    cJSON *v = leaf ? cJSON_Duplicate(leaf, 1) : NULL;
    if (!v || !cJSON_AddItemToObject(dst, p, v)) {
        cJSON_Delete(v);
        return -1;
    }
    return 0;
}

cJSON *its_auto_cfg_to_cjson(const its_auto_cfg *c, int with_stats)
{
    cJSON *full = its_cfg_to_cjson(c->vt, c->params, &c->run);
    cJSON *o = cJSON_CreateObject(), *ro = NULL;
    if (!full || !o)
        goto fail;
    cJSON *params = cJSON_DetachItemFromObjectCaseSensitive(full, "params");
    if (!cJSON_AddStringToObject(o, "sampler", its_method_name(c->vt->method)) || !params ||
        !cJSON_AddItemToObject(o, "params", params)) {
        cJSON_Delete(params);
        goto fail;
    }
    if (c->run_set) {
        const cJSON *fr = cJSON_GetObjectItemCaseSensitive(full, "run");
        if (!(ro = cJSON_AddObjectToObject(o, "run")))
            goto fail;
        size_t nf;
        const its_param_desc *f = its_run_desc(&nf);
        for (size_t i = 0; i < nf && i < 32; i++)
            if ((c->run_set & (1u << i)) && pol_copy_leaf(ro, fr, f[i].path) != 0)
                goto fail;
    }
    if (with_stats && (!cJSON_AddItemToObject(o, "mean", its_cfg_number(c->mean)) ||
                       !cJSON_AddItemToObject(o, "se", its_cfg_number(c->se)) ||
                       !cJSON_AddItemToObject(o, "n", its_cfg_number(c->n))))
        goto fail;
    cJSON_Delete(full);
    return o;
fail:
    cJSON_Delete(full);
    cJSON_Delete(o);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Policies
 * ------------------------------------------------------------------------------------------- */
void its_policy_free(its_policy *p)
{
    if (!p)
        return;
    its_ctx *ctx = p->ctx;
    for (size_t i = 0; i < p->n; i++) {
        its_auto_cfg_free(ctx, &p->entries[i].best);
        its_auto_cfg_free(ctx, &p->entries[i].runner);
    }
    for (size_t i = 0; i < p->n_cand && p->cand_json; i++)
        its_mfree(ctx, p->cand_json[i]);
    its_mfree(ctx, p->cand_json);
    for (size_t i = 0; i < p->n && p->prof_json; i++)
        its_mfree(ctx, p->prof_json[i]);
    its_mfree(ctx, p->prof_json);
    its_mfree(ctx, p->r_mean);
    its_mfree(ctx, p->r_se);
    its_mfree(ctx, p->r_count);
    its_mfree(ctx, p->entries);
    its_mfree(ctx, p->label);
    its_mfree(ctx, p->json);
    its_mfree(ctx, p);
}

size_t its_policy_count(const its_policy *p) { return p ? p->n : 0; }

static its_status pol_parse_range(its_ctx *ctx, const cJSON *it, const char *path, int last,
                                  uint64_t *lo, uint64_t *hi)
{
    const char *expect = "[lo, hi]: whole numbers 1 <= lo <= hi (hi null: unbounded, last entry "
                         "only)";
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2)
        return pol_bad(ctx, path, expect, it);
    const cJSON *a = cJSON_GetArrayItem(it, 0), *b = cJSON_GetArrayItem(it, 1);
    char p[300];
    snprintf(p, sizeof(p), "%s[0]", path);
    if (!pol_u64(a, 1, ITS_CFG_MAX_INT, lo))
        return pol_bad(ctx, p, "a whole number >= 1", a);
    snprintf(p, sizeof(p), "%s[1]", path);
    if (cJSON_IsNull(b)) {
        if (!last)
            return its_error(ctx, ITS_ERR_CONFIG,
                             "%s: null (unbounded) is allowed in the last entry only", p);
        *hi = UINT64_MAX;
        return ITS_OK;
    }
    if (!pol_u64(b, (double)*lo, ITS_CFG_MAX_INT, hi))
        return pol_bad(ctx, p, "a whole number >= the range's start, or null", b);
    return ITS_OK;
}

static its_status pol_parse_entry(its_ctx *ctx, const cJSON *obj, const char *path, int last,
                                  its_auto_entry *e)
{
    if (!cJSON_IsObject(obj))
        return pol_bad(ctx, path, "an object", obj);
    char p[256];
    const cJSON *nfe = NULL, *tuned = NULL, *runner = NULL;
    cJSON *cfg = cJSON_CreateObject();
    if (!cfg)
        return ITS_ERR_NOMEM;
    its_status st = ITS_OK;
    for (const cJSON *it = obj->child; it; it = it->next) {
        pol_join(p, sizeof(p), path, it->string);
        if ((st = pol_dup_key(ctx, obj, it, p)) != ITS_OK)
            goto done;
        const char *k = it->string;
        if (strcmp(k, "nfe") == 0)
            nfe = it;
        else if (strcmp(k, "tuned_at") == 0)
            tuned = it;
        else if (strcmp(k, "runner_up") == 0)
            runner = it;
        else if (strcmp(k, "sampler") == 0 || strcmp(k, "params") == 0 ||
                 strcmp(k, "run") == 0 || strcmp(k, "mean") == 0 || strcmp(k, "se") == 0 ||
                 strcmp(k, "n") == 0) {
            cJSON *d = cJSON_Duplicate(it, 1);
            if (!d || !cJSON_AddItemToObject(cfg, k, d)) {
                cJSON_Delete(d);
                st = ITS_ERR_NOMEM;
                goto done;
            }
        } else {
            st = its_error(ctx, ITS_ERR_CONFIG,
                           "%s: unknown key (expected one of nfe, tuned_at, sampler, params, run, "
                           "mean, se, n, runner_up)",
                           p);
            goto done;
        }
    }
    pol_join(p, sizeof(p), path, "nfe");
    if (!nfe) {
        st = its_error(ctx, ITS_ERR_CONFIG, "%s: missing (expected [lo, hi])", p);
        goto done;
    }
    if ((st = pol_parse_range(ctx, nfe, p, last, &e->lo, &e->hi)) != ITS_OK)
        goto done;
    pol_join(p, sizeof(p), path, "tuned_at");
    if (!tuned) {
        st = its_error(ctx, ITS_ERR_CONFIG, "%s: missing (expected the budget it was measured "
                                            "at)",
                       p);
        goto done;
    }
    if (!pol_u64(tuned, 1, ITS_CFG_MAX_INT, &e->tuned_at)) {
        st = pol_bad(ctx, p, "a whole number >= 1", tuned);
        goto done;
    }
    if ((st = its_auto_cfg_parse(ctx, cfg, path, 1, e->tuned_at, &e->best)) != ITS_OK)
        goto done;
    if (runner) {
        pol_join(p, sizeof(p), path, "runner_up");
        if ((st = its_auto_cfg_parse(ctx, runner, p, 1, e->tuned_at, &e->runner)) != ITS_OK)
            goto done;
        e->has_runner = 1;
    }
done:
    cJSON_Delete(cfg);
    return st;
}

static its_status pol_parse_tuning(its_ctx *ctx, const cJSON *obj, const char *path,
                                   its_policy *pol)
{
    if (!cJSON_IsObject(obj))
        return pol_bad(ctx, path, "an object", obj);
    char p[256];
    for (const cJSON *it = obj->child; it; it = it->next) {
        pol_join(p, sizeof(p), path, it->string);
        ITS_TRY(pol_dup_key(ctx, obj, it, p));
        uint64_t u;
        if (strcmp(it->string, "seed") == 0) {
            if (!pol_u64(it, 0, ITS_CFG_MAX_INT, &pol->tune_seed))
                return pol_bad(ctx, p, "a whole number >= 0", it);
        } else if (strcmp(it->string, "seeds") == 0) {
            if (!pol_u64(it, 1, 1e6, &u))
                return pol_bad(ctx, p, "integer in [1, 1e6]", it);
            pol->tune_seeds = (int)u;
        } else if (strcmp(it->string, "nfe") == 0) {
            if (!pol_u64(it, 0, ITS_CFG_MAX_INT, &pol->tune_nfe))
                return pol_bad(ctx, p, "a whole number >= 0", it);
        } else if (strcmp(it->string, "runs") == 0) {
            if (!pol_u64(it, 0, ITS_CFG_MAX_INT, &pol->tune_runs))
                return pol_bad(ctx, p, "a whole number >= 0", it);
        } else if (strcmp(it->string, "seconds") == 0) {
            if (!pol_stat(it, 0, &pol->tune_s) || isnan(pol->tune_s))
                return pol_bad(ctx, p, "a number >= 0", it);
        } else {
            return its_error(ctx, ITS_ERR_CONFIG,
                             "%s: unknown key (expected one of seed, seeds, nfe, runs, seconds)",
                             p);
        }
    }
    pol->has_tuning = 1;
    return ITS_OK;
}

its_status its_policy_from_cjson(its_ctx *ctx, const cJSON *root, const char *path,
                                 its_policy **out)
{
    *out = NULL;
    if (!cJSON_IsObject(root))
        return pol_bad(ctx, path[0] ? path : "policy",
                       "an object {\"version\", \"entries\", ...}", root);
    its_policy *pol = its_calloc(ctx, 1, sizeof(*pol));
    if (!pol)
        return ITS_ERR_NOMEM;
    pol->ctx = ctx;
    its_status st = ITS_OK;
    char p[256];
    const cJSON *entries = NULL;
    int have_version = 0;
    for (const cJSON *it = root->child; it; it = it->next) {
        pol_join(p, sizeof(p), path, it->string);
        if ((st = pol_dup_key(ctx, root, it, p)) != ITS_OK)
            goto fail;
        const char *k = it->string;
        uint64_t u;
        if (strcmp(k, "version") == 0) {
            if (!pol_u64(it, ITS_POLICY_VERSION, ITS_POLICY_VERSION, &u)) {
                st = pol_bad(ctx, p, "1", it);
                goto fail;
            }
            have_version = 1;
        } else if (strcmp(k, "label") == 0) {
            if (!cJSON_IsString(it)) {
                st = pol_bad(ctx, p, "a string", it);
                goto fail;
            }
            if (!(pol->label = its_strdup(ctx, it->valuestring))) {
                st = ITS_ERR_NOMEM;
                goto fail;
            }
        } else if (strcmp(k, "nfe_per_s") == 0) {
            if (!pol_stat(it, 0, &pol->nfe_per_s) || isnan(pol->nfe_per_s)) {
                st = pol_bad(ctx, p, "a number >= 0", it);
                goto fail;
            }
        } else if (strcmp(k, "tuning") == 0) {
            if ((st = pol_parse_tuning(ctx, it, p, pol)) != ITS_OK)
                goto fail;
        } else if (strcmp(k, "entries") == 0) {
            entries = it;
        } else {
            st = its_error(ctx, ITS_ERR_CONFIG,
                           "%s: unknown key (expected one of version, label, nfe_per_s, tuning, "
                           "entries)",
                           p);
            goto fail;
        }
    }
    if (!have_version) {
        pol_join(p, sizeof(p), path, "version");
        st = its_error(ctx, ITS_ERR_CONFIG, "%s: missing (expected 1)", p);
        goto fail;
    }
    pol_join(p, sizeof(p), path, "entries");
    if (!entries) {
        st = its_error(ctx, ITS_ERR_CONFIG, "%s: missing (expected an array of entries)", p);
        goto fail;
    }
    int n = cJSON_IsArray(entries) ? cJSON_GetArraySize(entries) : -1;
    if (n < 1 || n > ITS_POLICY_MAX_ENTRIES) {
        st = pol_bad(ctx, p, "an array of 1 to 256 entries", entries);
        goto fail;
    }
    if (!(pol->entries = its_calloc(ctx, (size_t)n, sizeof(its_auto_entry)))) {
        st = ITS_ERR_NOMEM;
        goto fail;
    }
    size_t i = 0;
    for (const cJSON *it = entries->child; it; it = it->next, i++) {
        char ep[300];
        snprintf(ep, sizeof(ep), "%s[%zu]", p, i);
        its_auto_entry *e = &pol->entries[i];
        st = pol_parse_entry(ctx, it, ep, i + 1 == (size_t)n, e);
        pol->n = i + 1; /* freed from here on */
        if (st != ITS_OK)
            goto fail;
        if (i > 0) {
            const its_auto_entry *prev = &pol->entries[i - 1];
            if (e->lo <= prev->lo) {
                st = its_error(ctx, ITS_ERR_CONFIG,
                               "%s.nfe: ranges must be sorted by budget (starts at %llu, the "
                               "entry before starts at %llu)",
                               ep, (unsigned long long)e->lo, (unsigned long long)prev->lo);
                goto fail;
            }
            if (e->lo <= prev->hi) {
                st = its_error(ctx, ITS_ERR_CONFIG,
                               "%s.nfe: range starts at %llu, inside the entry before (which "
                               "ends at %llu): ranges must not overlap",
                               ep, (unsigned long long)e->lo, (unsigned long long)prev->hi);
                goto fail;
            }
        }
    }
    *out = pol;
    return ITS_OK;
fail:
    its_policy_free(pol);
    return st;
}

its_status its_policy_from_json(its_ctx *ctx, const char *json, size_t len, its_policy **out)
{
    if (!out)
        return its_error(ctx, ITS_ERR_INVALID, "its_policy_from_json: out is NULL");
    *out = NULL;
    if (!ctx)
        return ITS_ERR_INVALID;
    its_clear_error(ctx);
    ITS_TRY(its_cfg_prescan(ctx, json, len));
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t off = (end && end >= json && end <= json + len) ? (size_t)(end - json) : 0;
        return its_error(ctx, ITS_ERR_CONFIG, "policy: malformed JSON at offset %zu", off);
    }
    for (const char *q = end; q && q < json + len; q++) {
        if (*q != ' ' && *q != '\t' && *q != '\n' && *q != '\r') {
            cJSON_Delete(root);
            return its_error(ctx, ITS_ERR_CONFIG, "policy: trailing characters at offset %zu",
                             (size_t)(q - json));
        }
    }
    its_status st = its_policy_from_cjson(ctx, root, "", out);
    cJSON_Delete(root);
    if (st == ITS_OK)
        its_clear_error(ctx);
    return st;
}

cJSON *its_policy_to_cjson(const its_policy *p)
{
    cJSON *root = cJSON_CreateObject(), *arr, *o;
    if (!root || !cJSON_AddItemToObject(root, "version", its_cfg_number(ITS_POLICY_VERSION)))
        goto fail;
    if (p->label && !cJSON_AddStringToObject(root, "label", p->label))
        goto fail;
    if (p->nfe_per_s > 0 && !cJSON_AddItemToObject(root, "nfe_per_s", its_cfg_number(p->nfe_per_s)))
        goto fail;
    if (p->has_tuning) {
        if (!(o = cJSON_AddObjectToObject(root, "tuning")) ||
            !cJSON_AddItemToObject(o, "seed", its_cfg_number((double)p->tune_seed)) ||
            (p->tune_seeds > 0 &&
             !cJSON_AddItemToObject(o, "seeds", its_cfg_number(p->tune_seeds))) ||
            !cJSON_AddItemToObject(o, "nfe", its_cfg_number((double)p->tune_nfe)) ||
            !cJSON_AddItemToObject(o, "runs", its_cfg_number((double)p->tune_runs)) ||
            !cJSON_AddItemToObject(o, "seconds", its_cfg_number(p->tune_s)))
            goto fail;
    }
    if (!(arr = cJSON_AddArrayToObject(root, "entries")))
        goto fail;
    for (size_t i = 0; i < p->n; i++) {
        const its_auto_entry *e = &p->entries[i];
        cJSON *eo = cJSON_CreateObject(), *range = cJSON_CreateArray();
        if (!eo || !cJSON_AddItemToArray(arr, eo)) {
            cJSON_Delete(eo);
            cJSON_Delete(range);
            goto fail;
        }
        if (!range || !cJSON_AddItemToObject(eo, "nfe", range)) {
            cJSON_Delete(range);
            goto fail;
        }
        if (!cJSON_AddItemToArray(range, its_cfg_number((double)e->lo)) ||
            !cJSON_AddItemToArray(range, e->hi == UINT64_MAX ? cJSON_CreateNull()
                                                             : its_cfg_number((double)e->hi)) ||
            !cJSON_AddItemToObject(eo, "tuned_at", its_cfg_number((double)e->tuned_at)))
            goto fail;
        cJSON *c = its_auto_cfg_to_cjson(&e->best, 1);
        if (!c)
            goto fail;
        /* flatten: the entry's own keys come after nfe and tuned_at */
        while (c->child) {
            cJSON *k = cJSON_DetachItemViaPointer(c, c->child);
            cJSON_AddItemToObject(eo, k->string, k);
        }
        cJSON_Delete(c);
        if (e->has_runner) {
            cJSON *r = its_auto_cfg_to_cjson(&e->runner, 1);
            if (!r || !cJSON_AddItemToObject(eo, "runner_up", r)) {
                cJSON_Delete(r);
                goto fail;
            }
        }
    }
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

const char *its_policy_to_json(its_policy *p)
{
    if (!p)
        return NULL;
    cJSON *root = its_policy_to_cjson(p);
    if (!root)
        return NULL;
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    if (!txt)
        return NULL;
    char *copy = its_strdup(p->ctx, txt);
    cJSON_free(txt);
    if (!copy)
        return NULL;
    its_mfree(p->ctx, p->json);
    p->json = copy;
    return p->json;
}

its_policy *its_policy_dup(its_ctx *ctx, const its_policy *p)
{
    /* through text: the writer's numbers are raw JSON tokens, which only a parse turns back
     * into numbers */
    cJSON *root = its_policy_to_cjson(p);
    char *txt = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!txt)
        return NULL;
    cJSON *back = cJSON_Parse(txt);
    cJSON_free(txt);
    its_policy *q = NULL;
    its_status st = back ? its_policy_from_cjson(ctx, back, "", &q) : ITS_ERR_NOMEM;
    cJSON_Delete(back);
    if (st != ITS_OK)
        return NULL;
    if (q->ctx != ctx)
        q->ctx = ctx;
    return q;
}

its_status its_policy_entry_get(const its_policy *p, size_t i, its_policy_entry *out)
{
    if (!p || !out || i >= p->n)
        return ITS_ERR_INVALID;
    const its_auto_entry *e = &p->entries[i];
    memset(out, 0, sizeof(*out));
    out->nfe_lo = e->lo;
    out->nfe_hi = e->hi;
    out->tuned_at = e->tuned_at;
    out->method = e->best.vt->method;
    out->mean = e->best.mean;
    out->se = e->best.se;
    out->n = e->best.n;
    out->has_runner_up = e->has_runner;
    out->runner_up = e->has_runner ? e->runner.vt->method : ITS_METHOD_COUNT_;
    out->runner_up_mean = e->has_runner ? e->runner.mean : NAN;
    out->runner_up_se = e->has_runner ? e->runner.se : NAN;
    return ITS_OK;
}

its_status its_policy_choose(const its_policy *p, uint64_t budget, size_t *index)
{
    if (!p || !index || p->n == 0 || budget == 0)
        return ITS_ERR_INVALID;
    size_t k = 0;
    for (size_t i = 0; i < p->n; i++)
        if (p->entries[i].lo <= budget)
            k = i;
    *index = k;
    return ITS_OK;
}

its_status its_policy_sampler(const its_policy *p, size_t i, uint64_t budget,
                              const its_run_params *run, its_sampler **out)
{
    if (!out)
        return ITS_ERR_INVALID;
    *out = NULL;
    if (!p)
        return ITS_ERR_INVALID;
    if (i >= p->n || budget == 0)
        return its_error(p->ctx, ITS_ERR_INVALID,
                         "its_policy_sampler: entry %zu of %zu, budget %llu", i, p->n,
                         (unsigned long long)budget);
    const its_auto_entry *e = &p->entries[i];
    return its_auto_cfg_sampler(p->ctx, &e->best, e->tuned_at, budget, run, out);
}

its_status its_policy_profiles(its_policy *p, const its_run_params *run,
                               struct its_sched_profile *out, size_t cap, size_t *n)
{
    if (n)
        *n = 0;
    if (!p || !out || !n)
        return ITS_ERR_INVALID;
    if (cap < p->n)
        return its_error(p->ctx, ITS_ERR_INVALID,
                         "its_policy_profiles: room for %zu profiles, the policy has %zu", cap,
                         p->n);
    its_ctx *ctx = p->ctx;
    if (!p->prof_json && !(p->prof_json = its_calloc(ctx, p->n, sizeof(char *))))
        return ITS_ERR_NOMEM;
    for (size_t i = 0; i < p->n; i++) {
        const its_auto_entry *e = &p->entries[i];
        its_run_params r;
        if (run)
            r = *run;
        else
            its_run_params_init(&r);
        r.grid_custom = NULL;
        if (r.grid == ITS_GRID_CUSTOM)
            return its_error(ctx, ITS_ERR_UNSUPPORTED,
                             "its_policy_profiles: a custom grid is not supported");
        its_auto_cfg_apply_run(&e->best, &r);
        r.max_nfe = e->tuned_at;
        cJSON *doc = its_cfg_to_cjson(e->best.vt, e->best.params, &r);
        char *txt = its_cfg_print(ctx, doc);
        cJSON_Delete(doc);
        if (!txt)
            return ITS_ERR_NOMEM;
        its_mfree(ctx, p->prof_json[i]);
        p->prof_json[i] = txt;
        its_sched_profile *pr = &out[i];
        memset(pr, 0, sizeof(*pr));
        snprintf(pr->name, sizeof(pr->name), "auto_%llu", (unsigned long long)e->tuned_at);
        pr->config_json = txt;
        pr->method = e->best.vt->method;
        pr->nfe = e->tuned_at;
    }
    *n = p->n;
    return ITS_OK;
}
