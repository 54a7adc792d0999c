/* Public parameter metadata (its_param_info), read from the descriptor tables that validation
 * and the JSON configuration use. */
#include <math.h>
#include <string.h>

#include "samplers/sampler.h"

#define ITS_PARAMS_MAX 256

static its_param_type its_ptype_public(its_ptype t)
{
    switch (t) {
    case ITS_PT_INT:
    case ITS_PT_U64:
        return ITS_PARAM_INT;
    case ITS_PT_DOUBLE:
        return ITS_PARAM_REAL;
    case ITS_PT_BOOL:
        return ITS_PARAM_BOOL;
    case ITS_PT_ENUM:
        return ITS_PARAM_ENUM;
    case ITS_PT_GRID:
        return ITS_PARAM_ARRAY;
    case ITS_PT_INTERP:
    default:
        return ITS_PARAM_INTERP;
    }
}

/* The value of a scalar field at base + d->offset as a double (NaN for array/interp). */
static double its_desc_value(const its_param_desc *d, const void *base)
{
    const char *p = (const char *)base + d->offset;
    switch (d->type) {
    case ITS_PT_DOUBLE: {
        double x;
        memcpy(&x, p, sizeof(x));
        return x;
    }
    case ITS_PT_U64: {
        uint64_t u;
        memcpy(&u, p, sizeof(u));
        return (double)u;
    }
    case ITS_PT_INT:
    case ITS_PT_BOOL:
    case ITS_PT_ENUM: {
        int v;
        memcpy(&v, p, sizeof(v));
        return (double)v;
    }
    default:
        return NAN;
    }
}

static void its_info_fill(const its_param_desc *d, const void *defaults, its_param_info *out)
{
    memset(out, 0, sizeof(*out));
    out->name = d->name;
    out->type = its_ptype_public(d->type);
    int scalar = d->type != ITS_PT_GRID && d->type != ITS_PT_INTERP;
    out->min = scalar ? d->min : NAN;
    out->max = scalar ? d->max : NAN;
    out->min_open = d->min_open;
    out->def = its_desc_value(d, defaults);
    out->n_choices = d->type == ITS_PT_ENUM ? d->emax : 0;
    out->size_param = d->size_param;
    out->doc = d->doc;
    out->impl_ = d;
}

int its_method_param_count(its_method m)
{
    const its_method_vt *vt = its_method_vt_get(m);
    return vt ? (int)vt->n_desc : -1;
}

its_status its_method_param_info(its_method m, int i, its_param_info *out)
{
    const its_method_vt *vt = its_method_vt_get(m);
    if (!vt || !out || i < 0 || (size_t)i >= vt->n_desc)
        return ITS_ERR_INVALID;
    union {
        unsigned char bytes[ITS_PARAMS_MAX];
        double align_d;
        uint64_t align_u;
    } def;
    vt->params_init(def.bytes);
    its_info_fill(&vt->desc[i], def.bytes, out);
    return ITS_OK;
}

int its_method_param_find(its_method m, const char *name)
{
    const its_method_vt *vt = its_method_vt_get(m);
    if (!vt || !name)
        return -1;
    for (size_t i = 0; i < vt->n_desc; i++)
        if (strcmp(vt->desc[i].name, name) == 0)
            return (int)i;
    return -1;
}

const char *its_method_summary(its_method m)
{
    const its_method_vt *vt = its_method_vt_get(m);
    return vt ? (vt->summary ? vt->summary : "") : NULL;
}

const char *its_method_scale_rule(its_method m)
{
    const its_method_vt *vt = its_method_vt_get(m);
    if (!vt)
        return NULL;
    return vt->scale_rule ? vt->scale_rule : "one trajectory; only the cap is set";
}

int its_method_needs_verifier(its_method m)
{
    const its_method_vt *vt = its_method_vt_get(m);
    return vt ? vt->needs_verifier : -1;
}

int its_method_needs_grad(its_method m)
{
    const its_method_vt *vt = its_method_vt_get(m);
    return vt ? vt->needs_grad : -1;
}

int its_run_param_count(void)
{
    size_t n;
    its_run_desc(&n);
    return (int)n;
}

its_status its_run_param_info(int i, its_param_info *out)
{
    size_t n;
    const its_param_desc *d = its_run_desc(&n);
    if (!out || i < 0 || (size_t)i >= n)
        return ITS_ERR_INVALID;
    its_run_params def;
    its_run_params_init(&def);
    its_info_fill(&d[i], &def, out);
    return ITS_OK;
}

int its_run_param_find(const char *path)
{
    size_t n;
    const its_param_desc *d = its_run_desc(&n);
    if (!path)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (strcmp(d[i].name, path) == 0)
            return (int)i;
    return -1;
}

const char *its_param_choice(const its_param_info *p, int j)
{
    if (!p || !p->impl_ || p->type != ITS_PARAM_ENUM || j < 0 || j >= p->n_choices)
        return NULL;
    const its_param_desc *d = p->impl_;
    return d->ename(j);
}
