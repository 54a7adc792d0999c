/* JSON configuration, parsing: strict parsing of {"sampler", "params", "run"} into a sampler.
 * Method parameters come from each method's descriptor table; run parameters from the run
 * descriptor table. Every error names the JSON path. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "dynamics/dynamics.h"

static const char *cfg_method_name(int v) { return its_method_name((its_method)v); }

const its_cfg_field *its_cfg_run_fields(size_t *n)
{
    return its_run_desc(n);
}

const its_ip_key its_ip_keys[] = {
    {ITS_INTERP_VP, "beta_min", offsetof(its_interp, beta_min)},
    {ITS_INTERP_VP, "beta_max", offsetof(its_interp, beta_max)},
    {ITS_INTERP_VP_COSINE, "s", offsetof(its_interp, cosine_s)},
    {ITS_INTERP_VE, "sigma_min", offsetof(its_interp, sigma_min)},
    {ITS_INTERP_VE, "sigma_max", offsetof(its_interp, sigma_max)},
};
const size_t its_ip_keys_n = ITS_ARRAY_LEN(its_ip_keys);

/* ---------------------------------------------------------------------------------------------
 * Descriptions of what a value must be
 * ------------------------------------------------------------------------------------------- */
void its_cfg_desc_expect(const its_param_desc *d, char *buf, size_t cap)
{
    its_desc_expect(d, buf, cap);
}

void its_cfg_field_expect(const its_cfg_field *f, char *buf, size_t cap)
{
    its_desc_expect(f, buf, cap);
}

void its_cfg_desc_value(const its_param_desc *d, const void *params, char *buf, size_t cap)
{
    const char *base = params;
    if (d->type == ITS_PT_DOUBLE) {
        double v;
        memcpy(&v, base + d->offset, sizeof(v));
        snprintf(buf, cap, "%.15g", v);
        return;
    }
    if (d->type == ITS_PT_U64) {
        uint64_t u;
        memcpy(&u, base + d->offset, sizeof(u));
        snprintf(buf, cap, "%llu", (unsigned long long)u);
        return;
    }
    int v;
    memcpy(&v, base + d->offset, sizeof(v));
    if (d->type == ITS_PT_BOOL)
        snprintf(buf, cap, "%s", v ? "true" : "false");
    else if (d->type == ITS_PT_ENUM)
        snprintf(buf, cap, "\"%s\"", d->ename(v) ? d->ename(v) : "?");
    else
        snprintf(buf, cap, "%d", v);
}

/* ---------------------------------------------------------------------------------------------
 * Strict parsing
 * ------------------------------------------------------------------------------------------- */
/* A short rendering of a JSON value for messages. */
static void cfg_got(const cJSON *it, char *buf, size_t cap)
{
    if (cJSON_IsNumber(it)) {
        snprintf(buf, cap, "%.17g", it->valuedouble);
        return;
    }
    if (cJSON_IsString(it)) {
        snprintf(buf, cap, "\"%.40s%s\"", it->valuestring,
                 strlen(it->valuestring) > 40 ? "..." : "");
        return;
    }
    if (cJSON_IsBool(it)) {
        snprintf(buf, cap, "%s", cJSON_IsTrue(it) ? "true" : "false");
        return;
    }
    if (cJSON_IsNull(it)) {
        snprintf(buf, cap, "null");
        return;
    }
    snprintf(buf, cap, "%s", cJSON_IsArray(it) ? "an array" : "an object");
}

static its_status cfg_bad(its_ctx *ctx, const char *path, const char *expect, const cJSON *it)
{
    char got[96];
    cfg_got(it, got, sizeof(got));
    return its_error(ctx, ITS_ERR_CONFIG, "%s: expected %s, got %s", path, expect, got);
}

static void cfg_join(char *out, size_t cap, const char *prefix, const char *key)
{
    snprintf(out, cap, "%s%s%s", prefix, prefix[0] ? "." : "", key);
}

/* Rejects a key that appeared earlier in the same object. */
static its_status cfg_check_dup(its_ctx *ctx, const cJSON *obj, const cJSON *it, const char *path)
{
    for (const cJSON *c = obj->child; c && c != it; c = c->next)
        if (strcmp(c->string, it->string) == 0)
            return its_error(ctx, ITS_ERR_CONFIG, "%s: duplicate key", path);
    return ITS_OK;
}

/* An integral number in [lo, hi] (lo excluded when open). */
static int cfg_int_ok(const cJSON *it, double lo, double hi, int open)
{
    if (!cJSON_IsNumber(it))
        return 0;
    double v = it->valuedouble;
    return isfinite(v) && v == floor(v) && (open ? v > lo : v >= lo) && v <= hi;
}

static int cfg_num_ok(const cJSON *it, double lo, double hi, int open)
{
    if (!cJSON_IsNumber(it))
        return 0;
    double v = it->valuedouble;
    return isfinite(v) && (open ? v > lo : v >= lo) && v <= hi;
}

static int cfg_enum_find(const char *(*ename)(int), int emax, const char *s)
{
    for (int i = 0; i < emax; i++)
        if (ename(i) && strcmp(ename(i), s) == 0)
            return i;
    return -1;
}

static its_status cfg_parse_params(its_ctx *ctx, const its_method_vt *vt, const cJSON *obj,
                                   void *params)
{
    char path[160], expect[256];
    if (!cJSON_IsObject(obj))
        return cfg_bad(ctx, "params", "an object", obj);
    for (const cJSON *it = obj->child; it; it = it->next) {
        cfg_join(path, sizeof(path), "params", it->string);
        ITS_TRY(cfg_check_dup(ctx, obj, it, path));
        const its_param_desc *d = NULL;
        for (size_t i = 0; i < vt->n_desc; i++)
            if (strcmp(vt->desc[i].name, it->string) == 0)
                d = &vt->desc[i];
        if (!d) {
            size_t o = 0;
            expect[0] = 0;
            for (size_t i = 0; i < vt->n_desc && o < sizeof(expect); i++)
                o += (size_t)snprintf(expect + o, sizeof(expect) - o, "%s%s", i ? ", " : "",
                                      vt->desc[i].name);
            return its_error(ctx, ITS_ERR_CONFIG, "%s: unknown key (%s takes %s)", path,
                             its_method_name(vt->method), vt->n_desc ? expect : "no parameters");
        }
        its_cfg_desc_expect(d, expect, sizeof(expect));
        char *dst = (char *)params + d->offset;
        int iv;
        switch (d->type) {
        case ITS_PT_INT:
            if (!cfg_int_ok(it, d->min, d->max, 0))
                return cfg_bad(ctx, path, expect, it);
            iv = (int)it->valuedouble;
            memcpy(dst, &iv, sizeof(iv));
            break;
        case ITS_PT_DOUBLE:
            if (!cfg_num_ok(it, d->min, d->max, 0))
                return cfg_bad(ctx, path, expect, it);
            memcpy(dst, &it->valuedouble, sizeof(double));
            break;
        case ITS_PT_BOOL:
            if (!cJSON_IsBool(it))
                return cfg_bad(ctx, path, expect, it);
            iv = cJSON_IsTrue(it) ? 1 : 0;
            memcpy(dst, &iv, sizeof(iv));
            break;
        case ITS_PT_ENUM:
            if (!cJSON_IsString(it) || (iv = cfg_enum_find(d->ename, d->emax, it->valuestring)) < 0)
                return cfg_bad(ctx, path, expect, it);
            memcpy(dst, &iv, sizeof(iv));
            break;
        case ITS_PT_U64: {
            if (!cfg_int_ok(it, d->min, d->max, 0))
                return cfg_bad(ctx, path, expect, it);
            uint64_t u = (uint64_t)it->valuedouble;
            memcpy(dst, &u, sizeof(u));
            break;
        }
        default:
            return cfg_bad(ctx, path, expect, it);
        }
    }
    return ITS_OK;
}

static its_status cfg_parse_interp(its_ctx *ctx, const cJSON *it, its_run_params *run)
{
    const char *expect = "\"model\", an interpolant name (linear, vp, vp_cosine, ve), or "
                         "{\"kind\": name, parameters}";
    its_interp_kind kind;
    if (cJSON_IsString(it)) {
        if (strcmp(it->valuestring, "model") == 0) {
            run->convert = 0;
            return ITS_OK;
        }
        if (its_interp_kind_parse(it->valuestring, &kind) != ITS_OK || kind == ITS_INTERP_CUSTOM)
            return cfg_bad(ctx, "run.interp", expect, it);
        run->convert = 1;
        its_interp_init(&run->target, kind);
        return ITS_OK;
    }
    if (!cJSON_IsObject(it))
        return cfg_bad(ctx, "run.interp", expect, it);
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "kind");
    if (!k)
        return its_error(ctx, ITS_ERR_CONFIG, "run.interp.kind: missing (expected one of "
                                              "\"linear\", \"vp\", \"vp_cosine\", \"ve\")");
    if (!cJSON_IsString(k) || its_interp_kind_parse(k->valuestring, &kind) != ITS_OK ||
        kind == ITS_INTERP_CUSTOM)
        return cfg_bad(ctx, "run.interp.kind", "one of \"linear\", \"vp\", \"vp_cosine\", \"ve\"",
                       k);
    run->convert = 1;
    its_interp_init(&run->target, kind);
    char path[160];
    for (const cJSON *c = it->child; c; c = c->next) {
        cfg_join(path, sizeof(path), "run.interp", c->string);
        ITS_TRY(cfg_check_dup(ctx, it, c, path));
        if (strcmp(c->string, "kind") == 0)
            continue;
        const its_ip_key *key = NULL;
        for (size_t i = 0; i < ITS_ARRAY_LEN(its_ip_keys); i++)
            if (its_ip_keys[i].kind == kind && strcmp(its_ip_keys[i].key, c->string) == 0)
                key = &its_ip_keys[i];
        if (!key)
            return its_error(ctx, ITS_ERR_CONFIG, "%s: unknown key for interpolant \"%s\"", path,
                             its_interp_kind_name(kind));
        if (!cfg_num_ok(c, 0, 1e6, 1))
            return cfg_bad(ctx, path, "number in (0, 1e6]", c);
        memcpy((char *)&run->target + key->offset, &c->valuedouble, sizeof(double));
    }
    return ITS_OK;
}

/* The grid array is checked once steps and t_max are known. */
static its_status cfg_parse_grid(its_ctx *ctx, const cJSON *arr, its_run_params *run,
                                 double **grid_out)
{
    const char *expect = "an array of steps + 1 decreasing numbers from t_max in (0, 1] to 0";
    if (!cJSON_IsArray(arr))
        return cfg_bad(ctx, "run.grid_custom", expect, arr);
    if (run->grid != ITS_GRID_CUSTOM)
        return its_error(ctx, ITS_ERR_CONFIG,
                         "run.grid_custom: only with \"grid\": \"custom\" (grid is \"%s\")",
                         its_grid_name(run->grid));
    int n = cJSON_GetArraySize(arr);
    if (n != run->steps + 1)
        return its_error(ctx, ITS_ERR_CONFIG,
                         "run.grid_custom: expected steps + 1 = %d times, got %d", run->steps + 1,
                         n);
    double *g = its_calloc(ctx, (size_t)n, sizeof(double));
    if (!g)
        return ITS_ERR_NOMEM;
    int i = 0;
    char path[64];
    for (const cJSON *c = arr->child; c; c = c->next, i++) {
        snprintf(path, sizeof(path), "run.grid_custom[%d]", i);
        double lo = 0, hi = i ? g[i - 1] : 1.0;
        int ok = i == n - 1 ? (cJSON_IsNumber(c) && c->valuedouble == 0.0)
                            : cfg_num_ok(c, lo, hi, 1) && (i == 0 || c->valuedouble < hi);
        if (!ok) {
            char exp2[96];
            if (i == n - 1)
                snprintf(exp2, sizeof(exp2), "0 (the grid ends at t = 0)");
            else if (i == 0)
                snprintf(exp2, sizeof(exp2), "number in (0, 1]");
            else
                snprintf(exp2, sizeof(exp2), "number in (0, %.17g) (decreasing)", hi);
            its_mfree(ctx, g);
            return cfg_bad(ctx, path, exp2, c);
        }
        g[i] = c->valuedouble;
    }
    *grid_out = g;
    return ITS_OK;
}

static const its_cfg_field *cfg_field_find(const char *rel)
{
    for (size_t i = 0; i < its_run_fields_n; i++)
        if (strcmp(its_run_fields[i].path, rel) == 0)
            return &its_run_fields[i];
    return NULL;
}

/* 1 when some field's path starts with "rel." */
static int cfg_field_group(const char *rel)
{
    size_t n = strlen(rel);
    for (size_t i = 0; i < its_run_fields_n; i++)
        if (strncmp(its_run_fields[i].path, rel, n) == 0 && its_run_fields[i].path[n] == '.')
            return 1;
    return 0;
}

/* Keys allowed in the run object at rel ("" = run itself), for messages. */
static void cfg_group_keys(const char *rel, char *buf, size_t cap)
{
    size_t n = strlen(rel), o = 0;
    buf[0] = 0;
    for (size_t i = 0; i < its_run_fields_n && o < cap; i++) {
        const char *p = its_run_fields[i].path;
        if (n && (strncmp(p, rel, n) != 0 || p[n] != '.'))
            continue;
        const char *k = n ? p + n + 1 : p;
        size_t kl = strcspn(k, ".");
        /* skip a key already listed (several fields under one group) */
        int seen = 0;
        for (size_t j = 0; j < i; j++) {
            const char *q = its_run_fields[j].path;
            if (n && (strncmp(q, rel, n) != 0 || q[n] != '.'))
                continue;
            const char *kq = n ? q + n + 1 : q;
            if (strcspn(kq, ".") == kl && strncmp(kq, k, kl) == 0)
                seen = 1;
        }
        if (!seen)
            o += (size_t)snprintf(buf + o, cap - o, "%s%.*s", o ? ", " : "", (int)kl, k);
    }
}

static its_status cfg_parse_run_obj(its_ctx *ctx, const cJSON *obj, const char *rel,
                                    its_run_params *run, const cJSON **grid_arr)
{
    char path[200], sub[160], expect[256];
    snprintf(path, sizeof(path), "run%s%s", rel[0] ? "." : "", rel);
    if (!cJSON_IsObject(obj))
        return cfg_bad(ctx, path, "an object", obj);
    for (const cJSON *it = obj->child; it; it = it->next) {
        cfg_join(sub, sizeof(sub), rel, it->string);
        snprintf(path, sizeof(path), "run.%s", sub);
        ITS_TRY(cfg_check_dup(ctx, obj, it, path));
        const its_cfg_field *f = cfg_field_find(sub);
        if (!f) {
            if (cfg_field_group(sub)) {
                ITS_TRY(cfg_parse_run_obj(ctx, it, sub, run, grid_arr));
                continue;
            }
            cfg_group_keys(rel, expect, sizeof(expect));
            return its_error(ctx, ITS_ERR_CONFIG, "%s: unknown key (expected one of %s)", path,
                             expect);
        }
        its_cfg_field_expect(f, expect, sizeof(expect));
        char *dst = (char *)run + f->offset;
        int iv;
        switch (f->type) {
        case ITS_CF_INT:
            if (!cfg_int_ok(it, f->min, f->max, f->min_open))
                return cfg_bad(ctx, path, expect, it);
            iv = (int)it->valuedouble;
            memcpy(dst, &iv, sizeof(iv));
            break;
        case ITS_CF_U64: {
            if (!cfg_int_ok(it, f->min, f->max, f->min_open))
                return cfg_bad(ctx, path, expect, it);
            uint64_t u = (uint64_t)it->valuedouble;
            memcpy(dst, &u, sizeof(u));
            break;
        }
        case ITS_CF_DOUBLE:
            if (!cfg_num_ok(it, f->min, f->max, f->min_open))
                return cfg_bad(ctx, path, expect, it);
            memcpy(dst, &it->valuedouble, sizeof(double));
            break;
        case ITS_CF_ENUM:
            if (!cJSON_IsString(it) || (iv = cfg_enum_find(f->ename, f->emax, it->valuestring)) < 0)
                return cfg_bad(ctx, path, expect, it);
            memcpy(dst, &iv, sizeof(iv));
            break;
        case ITS_CF_GRID_CUSTOM:
            *grid_arr = it; /* checked after the whole object (needs steps and grid) */
            break;
        case ITS_CF_INTERP:
            ITS_TRY(cfg_parse_interp(ctx, it, run));
            break;
        default:
            return cfg_bad(ctx, path, expect, it);
        }
    }
    return ITS_OK;
}

its_status its_cfg_parse(its_ctx *ctx, const char *json, size_t len, const its_method_vt **vt_out,
                         void **params_out, its_run_params *run)
{
    *vt_out = NULL;
    *params_out = NULL;
    its_run_params_init(run);
    ITS_TRY(its_cfg_prescan(ctx, json, len));
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t off = (end && end >= json && end <= json + len) ? (size_t)(end - json) : 0;
        int open;
        its_cfg_scan(ctx, json, len, &open);
        if (off + 1 >= len || open)
            return its_error(ctx, ITS_ERR_CONFIG,
                             "config: truncated JSON (the document ends at offset %zu)", len);
        return its_error(ctx, ITS_ERR_CONFIG, "config: malformed JSON at offset %zu", off);
    }
    its_status st = ITS_OK;
    for (const char *p = end; p && p < json + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            st = its_error(ctx, ITS_ERR_CONFIG, "config: trailing characters at offset %zu",
                           (size_t)(p - json));
            goto done;
        }
    }
    if (!cJSON_IsObject(root)) {
        st = cfg_bad(ctx, "config", "an object {\"sampler\", \"params\", \"run\"}", root);
        goto done;
    }
    const cJSON *sampler = NULL, *params = NULL, *runo = NULL;
    for (const cJSON *it = root->child; it; it = it->next) {
        if ((st = cfg_check_dup(ctx, root, it, it->string)) != ITS_OK)
            goto done;
        if (strcmp(it->string, "sampler") == 0)
            sampler = it;
        else if (strcmp(it->string, "params") == 0)
            params = it;
        else if (strcmp(it->string, "run") == 0)
            runo = it;
        else {
            st = its_error(ctx, ITS_ERR_CONFIG,
                           "%s: unknown key (expected one of sampler, params, run)", it->string);
            goto done;
        }
    }
    if (!sampler) {
        st = its_error(ctx, ITS_ERR_CONFIG, "sampler: missing (expected a method name)");
        goto done;
    }
    its_method m;
    if (!cJSON_IsString(sampler) || its_method_parse(sampler->valuestring, &m) != ITS_OK) {
        char expect[512];
        its_enum_expect(cfg_method_name, ITS_METHOD_COUNT_, expect,
                      sizeof(expect));
        st = cfg_bad(ctx, "sampler", expect, sampler);
        goto done;
    }
    const its_method_vt *vt = its_method_vt_get(m);
    if (!vt) {
        st = its_error(ctx, ITS_ERR_CONFIG, "sampler: \"%s\" is not available in this build",
                       its_method_name(m));
        goto done;
    }
    void *pbuf = its_calloc(ctx, 1, vt->params_size);
    if (!pbuf) {
        st = ITS_ERR_NOMEM;
        goto done;
    }
    vt->params_init(pbuf);
    const cJSON *grid_arr = NULL;
    double *grid = NULL;
    if (params)
        st = cfg_parse_params(ctx, vt, params, pbuf);
    if (st == ITS_OK && runo)
        st = cfg_parse_run_obj(ctx, runo, "", run, &grid_arr);
    if (st == ITS_OK && grid_arr)
        st = cfg_parse_grid(ctx, grid_arr, run, &grid);
    if (st == ITS_OK && run->grid == ITS_GRID_CUSTOM && !grid)
        st = its_error(ctx, ITS_ERR_CONFIG,
                       "run.grid_custom: missing (grid \"custom\" needs %d times)", run->steps + 1);
    if (st != ITS_OK) {
        its_mfree(ctx, pbuf);
        its_mfree(ctx, grid);
        goto done;
    }
    run->grid_custom = grid;
    *vt_out = vt;
    *params_out = pbuf;
done:
    cJSON_Delete(root);
    return st;
}

its_status its_cfg_sampler_from_json(its_ctx *ctx, const char *json, size_t len, its_sampler **out)
{
    if (!out)
        return its_error(ctx, ITS_ERR_INVALID, "its_sampler_from_json: out is NULL");
    *out = NULL;
    if (!ctx)
        return ITS_ERR_INVALID;
    its_clear_error(ctx);
    const its_method_vt *vt;
    void *params;
    its_run_params run;
    ITS_TRY(its_cfg_parse(ctx, json, len, &vt, &params, &run));
    double *grid = (double *)run.grid_custom;
    its_status st = its_sampler_create(ctx, vt->method, params, &run, out);
    its_mfree(ctx, params);
    its_mfree(ctx, grid);
    /* cross-field checks (method check, interpolant ranges) speak in paths already; a budget
     * too small for the method stays ITS_ERR_BUDGET, as its_sampler_create and its_generate
     * report it (the message names run.budget.max_nfe or the budget) */
    if (st == ITS_ERR_INVALID || st == ITS_ERR_UNSUPPORTED) {
        char msg[ITS_ERRMSG_CAP];
        snprintf(msg, sizeof(msg), "%s", its_ctx_errmsg(ctx));
        st = its_error(ctx, ITS_ERR_CONFIG, "%s", msg);
    }
    return st;
}
