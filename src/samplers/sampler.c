/* Sampler front end: creation, validation, and its_generate around the engine. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "samplers/sampler.h"

#define ITS_MAX_STEPS 100000
#define ITS_MAX_TOPK 1024
#define ITS_MAX_DIM ((size_t)1 << 28)
#define ITS_PARAMS_MAX 256 /* largest method params struct */

void its_run_params_init(its_run_params *p)
{
    if (!p)
        return;
    memset(p, 0, sizeof(*p));
    p->version = ITS_RUN_PARAMS_V1;
    p->steps = 20;
    p->grid = ITS_GRID_UNIFORM;
    p->grid_shift = 3.0;
    p->t_max = 1.0;
    p->solver = ITS_SOLVER_EULER;
    p->dynamics = ITS_DYN_ODE;
    p->g_schedule = ITS_G_SQUARE;
    p->g_scale = 3.0;
    its_interp_init(&p->target, ITS_INTERP_VP);
    p->top_k = 1;
    p->on_nonfinite = ITS_NONFINITE_ERROR;
}

/* ---------------------------------------------------------------------------------------------
 * The run-parameter table: validation (its_run_check), the JSON layer and the public metadata
 * all read it. Paths are the JSON keys under "run".
 * ------------------------------------------------------------------------------------------- */
static const char *run_grid_name(int v) { return its_grid_name((its_grid)v); }
static const char *run_solver_name(int v) { return its_solver_name((its_solver)v); }
static const char *run_dyn_name(int v) { return its_dynamics_name((its_dynamics)v); }
static const char *run_g_name(int v) { return its_g_schedule_name((its_g_schedule)v); }
static const char *run_nonfinite_name(int v) { return its_nonfinite_name((its_nonfinite)v); }

#define ITS_MAX_JSON_INT 9007199254740992.0 /* 2^53: the largest integer a JSON number keeps */
#define RUN_F(path, type, field, lo, hi, open, doc) \
    {{path}, type, offsetof(its_run_params, field), lo, hi, NULL, 0, doc, open, 0}
#define RUN_E(path, field, fn, count, doc) \
    {{path}, ITS_PT_ENUM, offsetof(its_run_params, field), 0, (count) - 1, fn, count, doc, 0, 0}

static const its_param_desc its_run_table[] = {
    RUN_F("steps", ITS_PT_INT, steps, 1, ITS_MAX_STEPS, 0, "denoising steps T"),
    RUN_E("grid", grid, run_grid_name, ITS_GRID_COUNT_, "time grid"),
    RUN_F("grid_shift", ITS_PT_DOUBLE, grid_shift, 0, 1000, 1, "shift s of the shifted grid"),
    RUN_F("grid_custom", ITS_PT_GRID, grid_custom, 0, 1, 0,
          "steps + 1 decreasing times from t_max to 0 (grid \"custom\" only)"),
    RUN_F("t_max", ITS_PT_DOUBLE, t_max, 0, 1, 1, "first time of the grid"),
    RUN_E("solver", solver, run_solver_name, ITS_SOLVER_COUNT_, "ODE solver"),
    RUN_E("dynamics.kind", dynamics, run_dyn_name, ITS_DYN_COUNT_, "ODE or SDE sampling"),
    RUN_E("dynamics.g.schedule", g_schedule, run_g_name, ITS_G_COUNT_, "SDE diffusion g(t)"),
    RUN_F("dynamics.g.scale", ITS_PT_DOUBLE, g_scale, 0, 1000, 0, "scale c of g(t)"),
    RUN_F("interp", ITS_PT_INTERP, target, 0, 0, 0,
          "\"model\" (no conversion) or the interpolant to sample along: a name or {\"kind\", ...}"),
    RUN_F("budget.max_nfe", ITS_PT_U64, max_nfe, 0, ITS_MAX_JSON_INT, 0,
          "hard cap on model rows (0 = none)"),
    RUN_F("budget.max_verifier_rows", ITS_PT_U64, max_verifier_rows, 0, ITS_MAX_JSON_INT, 0,
          "hard cap on verifier rows (0 = none)"),
    RUN_F("budget.deadline_ms", ITS_PT_DOUBLE, deadline_ms, 0, 1e12, 0,
          "wall-clock deadline in ms (0 = none); the best so far is returned"),
    RUN_F("top_k", ITS_PT_INT, top_k, 1, ITS_MAX_TOPK, 0, "samples returned"),
    RUN_E("on_nonfinite", on_nonfinite, run_nonfinite_name, ITS_NONFINITE_COUNT_,
          "NaN/Inf from a callback: stop with an error, or drop the particle"),
};

const its_param_desc *its_run_desc(size_t *n)
{
    if (n)
        *n = ITS_ARRAY_LEN(its_run_table);
    return its_run_table;
}

void its_enum_expect(const char *(*ename)(int), int emax, char *buf, size_t cap)
{
    size_t o = (size_t)snprintf(buf, cap, "one of ");
    for (int i = 0; i < emax && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s\"%s\"", i ? ", " : "", ename(i));
}

static void its_range_expect(const char *what, double lo, double hi, int lo_open, char *buf,
                             size_t cap)
{
    if (hi >= ITS_MAX_JSON_INT)
        snprintf(buf, cap, "%s %s %.17g", what, lo_open ? ">" : ">=", lo);
    else
        snprintf(buf, cap, "%s in %c%.17g, %.17g]", what, lo_open ? '(' : '[', lo, hi);
}

void its_desc_expect(const its_param_desc *d, char *buf, size_t cap)
{
    switch (d->type) {
    case ITS_PT_INT:
    case ITS_PT_U64:
        its_range_expect("integer", d->min, d->max, d->min_open, buf, cap);
        break;
    case ITS_PT_DOUBLE:
        its_range_expect("number", d->min, d->max, d->min_open, buf, cap);
        break;
    case ITS_PT_BOOL:
        snprintf(buf, cap, "true or false");
        break;
    case ITS_PT_ENUM:
        its_enum_expect(d->ename, d->emax, buf, cap);
        break;
    case ITS_PT_GRID:
        snprintf(buf, cap, "array of steps + 1 decreasing numbers from t_max to 0");
        break;
    case ITS_PT_INTERP:
        snprintf(buf, cap, "\"model\", an interpolant name, or {\"kind\": name, parameters}");
        break;
    }
}

/* Range check of one scalar field at base + d->offset; message "<prefix><name>: ...". */
static its_status its_desc_check(its_ctx *ctx, const its_param_desc *d, const void *base,
                                 const char *prefix)
{
    const char *p = (const char *)base + d->offset;
    char expect[256];
    double x;
    switch (d->type) {
    case ITS_PT_DOUBLE:
        memcpy(&x, p, sizeof(x));
        if (x >= d->min && x <= d->max && !(d->min_open && x == d->min))
            return ITS_OK;
        its_desc_expect(d, expect, sizeof(expect));
        return its_error(ctx, ITS_ERR_INVALID, "%s%s: expected %s, got %g", prefix, d->name,
                         expect, x);
    case ITS_PT_U64: {
        uint64_t u;
        memcpy(&u, p, sizeof(u));
        if ((double)u >= d->min && (double)u <= d->max)
            return ITS_OK;
        its_desc_expect(d, expect, sizeof(expect));
        return its_error(ctx, ITS_ERR_INVALID, "%s%s: expected %s, got %llu", prefix, d->name,
                         expect, (unsigned long long)u);
    }
    case ITS_PT_INT:
    case ITS_PT_BOOL:
    case ITS_PT_ENUM: {
        int v;
        memcpy(&v, p, sizeof(v));
        if ((double)v >= d->min && (double)v <= d->max && !(d->min_open && v == d->min))
            return ITS_OK;
        if (d->type == ITS_PT_ENUM)
            return its_error(ctx, ITS_ERR_INVALID, "%s%s: unknown value %d", prefix, d->name, v);
        its_desc_expect(d, expect, sizeof(expect));
        return its_error(ctx, ITS_ERR_INVALID, "%s%s: expected %s, got %d", prefix, d->name,
                         expect, v);
    }
    default:
        return ITS_OK;
    }
}

its_status its_run_check(its_ctx *ctx, const its_run_params *r)
{
    if (r->version != ITS_RUN_PARAMS_V1)
        return its_error(ctx, ITS_ERR_INVALID, "run.version: expected %d, got %d",
                         ITS_RUN_PARAMS_V1, r->version);
    for (size_t i = 0; i < ITS_ARRAY_LEN(its_run_table); i++)
        ITS_TRY(its_desc_check(ctx, &its_run_table[i], r, "run."));
    if (r->grid == ITS_GRID_CUSTOM && !r->grid_custom)
        return its_error(ctx, ITS_ERR_INVALID, "run.grid_custom: the custom grid needs %d times",
                         r->steps + 1);
    if (r->solver == ITS_SOLVER_HEUN && r->dynamics == ITS_DYN_SDE)
        return its_error(ctx, ITS_ERR_UNSUPPORTED,
                         "run.solver: heun is an ODE solver; sde steps use Euler-Maruyama");
    if (r->convert != 0 && r->convert != 1)
        return its_error(ctx, ITS_ERR_INVALID, "run.convert: expected 0 or 1, got %d", r->convert);
    if (r->convert)
        ITS_TRY(its_interp_check(ctx, &r->target, "run.interp"));
    return ITS_OK;
}

its_status its_params_check(its_ctx *ctx, const its_method_vt *vt, const void *params)
{
    for (size_t i = 0; i < vt->n_desc; i++)
        ITS_TRY(its_desc_check(ctx, &vt->desc[i], params, "params."));
    return ITS_OK;
}

/* The leading fields every params struct shares. */
typedef struct its_params_head {
    uint32_t size;
    its_method method;
} its_params_head;

static size_t its_params_min_size(const its_method_vt *vt)
{
    return vt->params_size_v1 ? vt->params_size_v1 : vt->params_size;
}

its_status its_params_load(its_ctx *ctx, const its_method_vt *vt, const void *params, void *buf)
{
    vt->params_init(buf);
    if (!params)
        return ITS_OK;
    /* the header first: nothing past it is read before it checks out */
    its_params_head h;
    memcpy(&h, params, sizeof(h));
    const char *name = its_method_name(vt->method);
    if (h.method != vt->method) {
        const char *other = its_method_name(h.method);
        if (other)
            return its_error(ctx, ITS_ERR_INVALID,
                             "params.method: the struct is its_%s_params, but the method is %s "
                             "(pass its_%s_params written by its_%s_params_init)",
                             other, name, name, name);
        return its_error(ctx, ITS_ERR_INVALID,
                         "params.method: %d is no method; the struct was not written by "
                         "its_%s_params_init",
                         (int)h.method, name);
    }
    if (h.size < its_params_min_size(vt) || h.size > vt->params_size)
        return its_error(ctx, ITS_ERR_INVALID,
                         "params.size: %u is not the size of an its_%s_params (%zu to %zu bytes); "
                         "write the struct with its_%s_params_init",
                         (unsigned)h.size, name, its_params_min_size(vt), vt->params_size, name);
    memcpy(buf, params, h.size);
    h.size = (uint32_t)vt->params_size;
    memcpy(buf, &h, sizeof(h));
    return ITS_OK;
}

its_status its_method_params_init(its_method m, void *params, size_t size)
{
    const its_method_vt *vt = its_method_vt_get(m);
    if (!vt || !params || size < its_params_min_size(vt) || size > vt->params_size)
        return ITS_ERR_INVALID;
    union {
        unsigned char bytes[ITS_PARAMS_MAX];
        double align_d;
        uint64_t align_u;
    } buf;
    vt->params_init(buf.bytes);
    memcpy(params, buf.bytes, size);
    its_params_head h = {(uint32_t)size, m};
    memcpy(params, &h, sizeof(h));
    return ITS_OK;
}

static void its_sampler_release(its_ctx *ctx, its_sampler *s)
{
    its_mfree(ctx, s->params);
    its_mfree(ctx, s->grid_custom_copy);
    its_mfree(ctx, s->json);
    if (s->ops)
        s->ops->release(s);
    its_mfree(ctx, s);
}

its_status its_sampler_create(its_ctx *ctx, its_method m, const void *method_params,
                              const its_run_params *run, its_sampler **out)
{
    if (!out)
        return its_error(ctx, ITS_ERR_INVALID, "its_sampler_create: out is NULL");
    *out = NULL;
    if (!ctx)
        return ITS_ERR_INVALID;
    its_clear_error(ctx);
    const its_method_vt *vt = its_method_vt_get(m);
    if (!vt)
        return its_error(ctx, ITS_ERR_INVALID, "unknown method %d", (int)m);
    its_run_params def_run;
    if (!run) {
        its_run_params_init(&def_run);
        run = &def_run;
    }
    ITS_TRY(its_run_check(ctx, run));

    /* Method parameters are checked in a stack copy, so a rejected call allocates nothing
     * (only a custom grid needs memory before it can be checked). */
    union {
        unsigned char bytes[ITS_PARAMS_MAX];
        double align_d;
        void *align_p;
    } pbuf;
    if (vt->params_size > sizeof(pbuf))
        return its_error(ctx, ITS_ERR_INVALID, "%s parameters are larger than %d bytes",
                         its_method_name(m), ITS_PARAMS_MAX);
    memset(&pbuf, 0, sizeof(pbuf));
    ITS_TRY(its_params_load(ctx, vt, method_params, pbuf.bytes));
    ITS_TRY(its_params_check(ctx, vt, pbuf.bytes));
    if (vt->check)
        ITS_TRY(vt->check(ctx, pbuf.bytes, run));

    its_sampler *s = its_calloc(ctx, 1, sizeof(*s));
    if (!s)
        return ITS_ERR_NOMEM;
    s->ctx = ctx;
    s->vt = vt;
    s->run = *run;
    s->run.grid_custom = NULL;
    if (!(s->params = its_calloc(ctx, 1, vt->params_size))) {
        its_sampler_release(ctx, s);
        return ITS_ERR_NOMEM;
    }
    memcpy(s->params, pbuf.bytes, vt->params_size);
    if (run->grid == ITS_GRID_CUSTOM) {
        size_t n = (size_t)run->steps + 1;
        if (!(s->grid_custom_copy = its_calloc(ctx, n, sizeof(double)))) {
            its_sampler_release(ctx, s);
            return ITS_ERR_NOMEM;
        }
        memcpy(s->grid_custom_copy, run->grid_custom, n * sizeof(double));
        s->run.grid_custom = s->grid_custom_copy;
        /* checked at creation like every other value (in place: the same numbers) */
        its_status st = its_grid_build(ctx, &s->run, s->grid_custom_copy);
        if (st != ITS_OK) {
            its_sampler_release(ctx, s);
            return st;
        }
    }
    *out = s;
    return ITS_OK;
}

void its_sampler_free(its_sampler *s)
{
    if (s)
        its_sampler_release(s->ctx, s);
}

its_method its_sampler_method(const its_sampler *s)
{
    return s && !s->ops ? s->vt->method : ITS_METHOD_COUNT_;
}

static its_status its_model_check(its_ctx *ctx, const its_model *m)
{
    if (m->version != ITS_MODEL_V1 && m->version != ITS_MODEL_V2)
        return its_error(ctx, ITS_ERR_INVALID, "model.version: expected %d or %d, got %d",
                         ITS_MODEL_V1, ITS_MODEL_V2, m->version);
    if (!m->eval && !(m->version >= ITS_MODEL_V2 && m->eval_dim))
        return its_error(ctx, ITS_ERR_INVALID, "model.eval is NULL (and so is model.eval_dim)");
    if (m->dim < 1 || m->dim > ITS_MAX_DIM)
        return its_error(ctx, ITS_ERR_INVALID, "model.dim: expected [1, %zu], got %zu",
                         ITS_MAX_DIM, m->dim);
    if ((unsigned)m->pred >= ITS_PRED_COUNT_)
        return its_error(ctx, ITS_ERR_INVALID, "model.pred: unknown prediction type %d",
                         (int)m->pred);
    if (m->max_batch > ((size_t)1 << 24))
        return its_error(ctx, ITS_ERR_INVALID, "model.max_batch: %zu is out of range",
                         m->max_batch);
    return its_interp_check(ctx, &m->interp, "model.interp");
}

void its_gen_options_init_sized(its_gen_options *o, size_t size)
{
    if (!o || size < offsetof(its_gen_options, deadline_ms) + sizeof(double))
        return;
    if (size > sizeof(*o))
        size = sizeof(*o);
    its_gen_options d;
    memset(&d, 0, sizeof(d));
    d.size = (uint32_t)size;
    d.deadline_ms = -1.0;
    memcpy(o, &d, size);
}

void(its_gen_options_init)(its_gen_options *o)
{
    its_gen_options_init_sized(o, offsetof(its_gen_options, cancel));
}

/* A run's progress callback when the options give a cancel flag: the flag, then the host's
 * own callback if any. */
typedef struct its_cancel_progress {
    its_progress_fn fn;
    void *user;
    const volatile int *cancel;
} its_cancel_progress;

static int its_cancel_set(const volatile int *flag)
{
    return __atomic_load_n(flag, __ATOMIC_RELAXED) != 0;
}

static int its_cancel_check(void *user, const its_progress *p)
{
    its_cancel_progress *c = user;
    if (its_cancel_set(c->cancel))
        return 1;
    return c->fn ? c->fn(c->user, p) : 0;
}

its_status its_generate(its_sampler *s, const its_model *m, const its_verifier *v, uint64_t seed,
                        its_result **out)
{
    return its_generate_opts(s, m, v, seed, NULL, out);
}

its_status its_generate_opts(its_sampler *s, const its_model *m, const its_verifier *v,
                             uint64_t seed, const its_gen_options *opt, its_result **out)
{
    if (out)
        *out = NULL;
    if (!s)
        return ITS_ERR_INVALID;
    its_ctx *ctx = s->ctx;
    its_clear_error(ctx);
    if (!out)
        return its_error(ctx, ITS_ERR_INVALID, "its_generate: out is NULL");
    if (!m)
        return its_error(ctx, ITS_ERR_INVALID, "its_generate: model is NULL");
    ITS_TRY(its_model_check(ctx, m));
    if (v) {
        if (v->version != ITS_VERIFIER_V1 && v->version != ITS_VERIFIER_V2)
            return its_error(ctx, ITS_ERR_INVALID, "verifier.version: expected %d or %d, got %d",
                             ITS_VERIFIER_V1, ITS_VERIFIER_V2, v->version);
        if (!v->score && !(v->version >= ITS_VERIFIER_V2 && v->score_dim))
            return its_error(ctx, ITS_ERR_INVALID,
                             "verifier.score is NULL (and so is verifier.score_dim)");
        if (v->max_batch > ((size_t)1 << 24))
            return its_error(ctx, ITS_ERR_INVALID, "verifier.max_batch: %zu is out of range",
                             v->max_batch);
    }
    /* this call's run parameters: the sampler's, with the request's deadline and progress */
    its_run_params run = s->run;
    its_cancel_progress cancel = {0};
    if (opt) {
        if (opt->size < offsetof(its_gen_options, deadline_ms) + sizeof(double) ||
            opt->size > sizeof(*opt))
            return its_error(ctx, ITS_ERR_INVALID,
                             "options.size: %u; write the options with its_gen_options_init",
                             (unsigned)opt->size);
        its_gen_options o;
        its_gen_options_init(&o);
        memcpy(&o, opt, opt->size);
        if (!(o.deadline_ms < 1e12) || (o.deadline_ms != o.deadline_ms))
            return its_error(ctx, ITS_ERR_INVALID, "options.deadline_ms: expected < 1e12, got %g",
                             o.deadline_ms);
        if (o.deadline_ms >= 0)
            run.deadline_ms = o.deadline_ms;
        if (o.progress) {
            run.progress = o.progress;
            run.progress_user = o.progress_user;
        }
        if (o.cancel) {
            cancel = (its_cancel_progress){run.progress, run.progress_user, o.cancel};
            run.progress = its_cancel_check;
            run.progress_user = &cancel;
        }
    }
    if (s->ops) {
        /* an auto sampler runs inner samplers from its run parameters: it gets this call's */
        its_sampler call = *s;
        call.run = run;
        its_status st = s->ops->generate(&call, m, v, seed, out);
        if (st == ITS_CANCELLED && cancel.cancel && its_cancel_set(cancel.cancel) && *out) {
            its_usage u;
            its_result_usage(*out, &u);
            its_error(ctx, ITS_CANCELLED, "cancelled by the cancel flag after %llu NFE",
                      (unsigned long long)u.nfe);
        }
        return st;
    }
    if (s->vt->needs_verifier && !v)
        return its_error(ctx, ITS_ERR_INVALID, "%s needs a verifier",
                         its_method_name(s->vt->method));
    int grad = s->vt->needs_grad == 1 ||
               (s->vt->needs_grad == 2 && s->vt->wants_grad && s->vt->wants_grad(s->params));
    if (grad && (!v || !(v->grad || (v->version >= ITS_VERIFIER_V2 && v->grad_dim))))
        return its_error(ctx, ITS_ERR_UNSUPPORTED,
                         "%s with these parameters needs a verifier gradient (verifier.grad is NULL)",
                         its_method_name(s->vt->method));

    /* the method's parameters fitted to the cap once, here (the result keeps the configured
     * ones) */
    union {
        unsigned char bytes[ITS_PARAMS_MAX];
        double align_d;
        uint64_t align_u;
    } fitted;
    memcpy(fitted.bytes, s->params, s->vt->params_size);

    its_engine *e;
    its_status st = its_engine_create(ctx, s->vt, s->params, &run, m, v, seed, &e);
    if (st != ITS_OK)
        return st;
    st = its_method_fit(ctx, s->vt, its_eng_plan(e), fitted.bytes);
    if (st == ITS_OK) {
        st = s->vt->run(e, fitted.bytes);
        if (st == ITS_OK || st == ITS_STOP_) {
            st = its_engine_result(e, st, out);
            if (st == ITS_OK)
                its_clear_error(ctx);
            else if (st == ITS_CANCELLED)
                its_error(ctx, ITS_CANCELLED, "cancelled by the %s after %llu NFE",
                          cancel.cancel && its_cancel_set(cancel.cancel) ? "cancel flag"
                                                                        : "progress callback",
                          (unsigned long long)its_eng_nfe(e));
        }
    }
    its_engine_free(e);
    return st;
}
