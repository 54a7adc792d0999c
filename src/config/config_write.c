/* JSON configuration, writing: the effective configuration as JSON (its_sampler_to_json and
 * the writers shared with its_result_to_json and the CLI), and the parameter metadata as one
 * document (its_params_json). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "dynamics/dynamics.h"

/* ---------------------------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------------------------- */
/* The object at the dotted group path of a field (creating it), and the leaf key. */
static cJSON *cfg_group_obj(cJSON *run, const char *path, const char **leaf)
{
    cJSON *o = run;
    const char *p = path, *dot;
    while (o && (dot = strchr(p, '.'))) {
        char key[64];
        snprintf(key, sizeof(key), "%.*s", (int)(dot - p), p);
        cJSON *c = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!c)
            c = cJSON_AddObjectToObject(o, key);
        o = c;
        p = dot + 1;
    }
    *leaf = p;
    return o;
}

static cJSON *cfg_interp_cjson(const its_run_params *run)
{
    if (!run->convert)
        return cJSON_CreateString("model");
    cJSON *o = cJSON_CreateObject();
    const char *name = its_interp_kind_name(run->target.kind);
    if (!o || !cJSON_AddStringToObject(o, "kind", name ? name : "?")) {
        cJSON_Delete(o);
        return NULL;
    }
    for (size_t i = 0; i < its_ip_keys_n; i++) {
        if (its_ip_keys[i].kind != run->target.kind)
            continue;
        double v;
        memcpy(&v, (const char *)&run->target + its_ip_keys[i].offset, sizeof(v));
        if (!cJSON_AddItemToObject(o, its_ip_keys[i].key, its_cfg_number(v))) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

static int cfg_add_params(cJSON *po, const its_method_vt *vt, const void *params)
{
    const char *base = params;
    for (size_t i = 0; i < vt->n_desc; i++) {
        const its_param_desc *d = &vt->desc[i];
        cJSON *v = NULL;
        if (d->type == ITS_PT_DOUBLE) {
            double x;
            memcpy(&x, base + d->offset, sizeof(x));
            v = its_cfg_number(x);
        } else if (d->type == ITS_PT_U64) {
            uint64_t x;
            memcpy(&x, base + d->offset, sizeof(x));
            v = its_cfg_number((double)x);
        } else {
            int x;
            memcpy(&x, base + d->offset, sizeof(x));
            if (d->type == ITS_PT_INT)
                v = its_cfg_number(x);
            else if (d->type == ITS_PT_BOOL)
                v = cJSON_CreateBool(x != 0);
            else
                v = cJSON_CreateString(d->ename(x) ? d->ename(x) : "?");
        }
        if (!v || !cJSON_AddItemToObject(po, d->name, v)) {
            cJSON_Delete(v);
            return -1;
        }
    }
    return 0;
}

cJSON *its_cfg_to_cjson(const its_method_vt *vt, const void *params, const its_run_params *run)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON *po, *ro;
    if (!cJSON_AddStringToObject(root, "sampler", its_method_name(vt->method)) ||
        !(po = cJSON_AddObjectToObject(root, "params")) || cfg_add_params(po, vt, params) != 0 ||
        !(ro = cJSON_AddObjectToObject(root, "run")))
        goto fail;
    for (size_t i = 0; i < its_run_fields_n; i++) {
        const its_cfg_field *f = &its_run_fields[i];
        const char *leaf;
        cJSON *o = cfg_group_obj(ro, f->path, &leaf);
        if (!o)
            goto fail;
        const char *src = (const char *)run + f->offset;
        cJSON *v = NULL;
        switch (f->type) {
        case ITS_CF_INT: {
            int x;
            memcpy(&x, src, sizeof(x));
            v = its_cfg_number(x);
            break;
        }
        case ITS_CF_U64: {
            uint64_t x;
            memcpy(&x, src, sizeof(x));
            v = its_cfg_number((double)x);
            break;
        }
        case ITS_CF_DOUBLE: {
            double x;
            memcpy(&x, src, sizeof(x));
            v = its_cfg_number(x);
            break;
        }
        case ITS_CF_ENUM: {
            int x;
            memcpy(&x, src, sizeof(x));
            v = cJSON_CreateString(f->ename(x) ? f->ename(x) : "?");
            break;
        }
        case ITS_CF_GRID_CUSTOM:
            if (run->grid != ITS_GRID_CUSTOM || !run->grid_custom)
                continue;
            v = cJSON_CreateArray();
            for (int k = 0; v && k <= run->steps; k++) {
                cJSON *x = its_cfg_number(run->grid_custom[k]);
                if (!x || !cJSON_AddItemToArray(v, x)) {
                    cJSON_Delete(x);
                    cJSON_Delete(v);
                    v = NULL;
                }
            }
            break;
        case ITS_CF_INTERP:
            v = cfg_interp_cjson(run);
            break;
        default:
            continue;
        }
        if (!v || !cJSON_AddItemToObject(o, leaf, v)) {
            cJSON_Delete(v);
            goto fail;
        }
    }
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

cJSON *its_cfg_number(double v)
{
    if (!isfinite(v))
        return cJSON_CreateNull();
    char buf[40];
    if (v == floor(v) && fabs(v) <= ITS_CFG_MAX_INT)
        snprintf(buf, sizeof(buf), "%.0f", v);
    else {
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    }
    return cJSON_CreateRaw(buf);
}

char *its_cfg_print(its_ctx *ctx, const cJSON *root)
{
    if (!root)
        return NULL;
    char *txt = cJSON_PrintUnformatted(root);
    if (!txt)
        return NULL;
    char *copy = its_strdup(ctx, txt);
    cJSON_free(txt);
    return copy;
}

const char *its_sampler_to_json(its_sampler *s)
{
    if (!s)
        return NULL;
    char *txt;
    if (s->ops) {
        txt = s->ops->to_json(s);
    } else {
        cJSON *root = its_cfg_to_cjson(s->vt, s->params, &s->run);
        txt = its_cfg_print(s->ctx, root);
        cJSON_Delete(root);
    }
    if (!txt)
        return NULL;
    its_mfree(s->ctx, s->json);
    s->json = txt;
    return s->json;
}

/* ---------------------------------------------------------------------------------------------
 * The parameter metadata as one document (its_params_json)
 * ------------------------------------------------------------------------------------------- */
static cJSON *cfg_info_cjson(const its_param_info *in)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int ok = cJSON_AddStringToObject(o, "name", in->name) &&
             cJSON_AddStringToObject(o, "type", its_param_type_name(in->type)) != NULL;
    cJSON *def = NULL;
    if (in->type == ITS_PARAM_ENUM)
        def = cJSON_CreateString(its_param_choice(in, (int)in->def));
    else if (in->type == ITS_PARAM_BOOL)
        def = cJSON_CreateBool(in->def != 0);
    else if (in->type == ITS_PARAM_INTERP)
        def = cJSON_CreateString("model");
    else
        def = its_cfg_number(in->def); /* null for array */
    ok = ok && def && cJSON_AddItemToObject(o, "default", def);
    if (!ok && def && !cJSON_IsInvalid(def))
        def = NULL;
    int numeric = in->type == ITS_PARAM_INT || in->type == ITS_PARAM_REAL;
    ok = ok && cJSON_AddItemToObject(o, "min", numeric ? its_cfg_number(in->min) : cJSON_CreateNull());
    ok = ok && cJSON_AddItemToObject(o, "max", numeric && in->max < ITS_CFG_MAX_INT
                                                   ? its_cfg_number(in->max)
                                                   : cJSON_CreateNull());
    ok = ok && cJSON_AddBoolToObject(o, "min_open", in->min_open != 0);
    if (ok && in->type == ITS_PARAM_ENUM) {
        cJSON *ch = cJSON_AddArrayToObject(o, "choices");
        for (int j = 0; ok && ch && j < in->n_choices; j++)
            ok = cJSON_AddItemToArray(ch, cJSON_CreateString(its_param_choice(in, j)));
        ok = ok && ch;
    }
    ok = ok && cJSON_AddBoolToObject(o, "size_param", in->size_param != 0);
    ok = ok && cJSON_AddStringToObject(o, "doc", in->doc ? in->doc : "");
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

its_status its_params_json(its_ctx *ctx, char **out)
{
    if (!ctx)
        return ITS_ERR_INVALID;
    its_clear_error(ctx);
    if (!out)
        return its_error(ctx, ITS_ERR_INVALID, "its_params_json: out is NULL");
    *out = NULL;
    cJSON *root = cJSON_CreateObject(), *methods = NULL, *run = NULL;
    int ok = root && cJSON_AddStringToObject(root, "version", its_version()) &&
             (methods = cJSON_AddObjectToObject(root, "methods")) != NULL;
    for (int m = 0; ok && m < ITS_METHOD_COUNT_; m++) {
        cJSON *mo = cJSON_AddObjectToObject(methods, its_method_name((its_method)m));
        ok = mo && cJSON_AddStringToObject(mo, "summary", its_method_summary((its_method)m)) &&
             cJSON_AddBoolToObject(mo, "needs_verifier", its_method_needs_verifier((its_method)m)) &&
             cJSON_AddNumberToObject(mo, "needs_grad", its_method_needs_grad((its_method)m)) &&
             cJSON_AddStringToObject(mo, "scale_rule", its_method_scale_rule((its_method)m));
        const char *size_param = NULL;
        cJSON *pa = ok ? cJSON_AddArrayToObject(mo, "params") : NULL;
        ok = ok && pa;
        for (int i = 0; ok && i < its_method_param_count((its_method)m); i++) {
            its_param_info in;
            its_method_param_info((its_method)m, i, &in);
            if (in.size_param)
                size_param = in.name;
            cJSON *po = cfg_info_cjson(&in);
            ok = po && cJSON_AddItemToArray(pa, po);
        }
        ok = ok && cJSON_AddItemToObject(mo, "size_param", size_param
                                                               ? cJSON_CreateString(size_param)
                                                               : cJSON_CreateNull());
    }
    ok = ok && (run = cJSON_AddArrayToObject(root, "run")) != NULL;
    for (int i = 0; ok && i < its_run_param_count(); i++) {
        its_param_info in;
        its_run_param_info(i, &in);
        cJSON *po = cfg_info_cjson(&in);
        ok = po && cJSON_AddItemToArray(run, po);
    }
    if (!ok) {
        cJSON_Delete(root);
        return its_error(ctx, ITS_ERR_NOMEM, "its_params_json: out of memory");
    }
    *out = its_cfg_print(ctx, root);
    cJSON_Delete(root);
    return *out ? ITS_OK : its_error(ctx, ITS_ERR_NOMEM, "its_params_json: out of memory");
}
