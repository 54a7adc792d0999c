/* Sampler front end: creation, validation, and its_generate around the engine. */
#include <math.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "engine/result.h"

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

void its_model_init(its_model *m)
{
    if (!m)
        return;
    memset(m, 0, sizeof(*m));
    m->version = ITS_MODEL_V1;
    its_interp_init(&m->interp, ITS_INTERP_LINEAR);
}

void its_verifier_init(its_verifier *v)
{
    if (!v)
        return;
    memset(v, 0, sizeof(*v));
    v->version = ITS_VERIFIER_V1;
}

its_status its_run_check(its_ctx *ctx, const its_run_params *r)
{
    if (r->version != ITS_RUN_PARAMS_V1)
        return its_error(ctx, ITS_ERR_INVALID, "run.version: expected %d, got %d",
                         ITS_RUN_PARAMS_V1, r->version);
    if (r->steps < 1 || r->steps > ITS_MAX_STEPS)
        return its_error(ctx, ITS_ERR_INVALID, "run.steps: expected integer in [1, %d], got %d",
                         ITS_MAX_STEPS, r->steps);
    if ((unsigned)r->grid >= ITS_GRID_COUNT_)
        return its_error(ctx, ITS_ERR_INVALID, "run.grid: unknown grid %d", (int)r->grid);
    if (r->grid == ITS_GRID_CUSTOM && !r->grid_custom)
        return its_error(ctx, ITS_ERR_INVALID, "run.grid_custom: the custom grid needs %d times",
                         r->steps + 1);
    if (!(r->grid_shift > 0 && r->grid_shift <= 1000))
        return its_error(ctx, ITS_ERR_INVALID, "run.grid_shift: expected (0, 1000], got %g",
                         r->grid_shift);
    if (!(r->t_max > 0 && r->t_max <= 1))
        return its_error(ctx, ITS_ERR_INVALID, "run.t_max: expected (0, 1], got %g", r->t_max);
    if ((unsigned)r->solver >= ITS_SOLVER_COUNT_)
        return its_error(ctx, ITS_ERR_INVALID, "run.solver: unknown solver %d", (int)r->solver);
    if ((unsigned)r->dynamics >= ITS_DYN_COUNT_)
        return its_error(ctx, ITS_ERR_INVALID, "run.dynamics: unknown dynamics %d",
                         (int)r->dynamics);
    if (r->solver == ITS_SOLVER_HEUN && r->dynamics == ITS_DYN_SDE)
        return its_error(ctx, ITS_ERR_UNSUPPORTED,
                         "run.solver: heun is an ODE solver; sde steps use Euler-Maruyama");
    if ((unsigned)r->g_schedule >= ITS_G_COUNT_)
        return its_error(ctx, ITS_ERR_INVALID, "run.g.schedule: unknown schedule %d",
                         (int)r->g_schedule);
    if (!(r->g_scale >= 0 && r->g_scale <= 1000))
        return its_error(ctx, ITS_ERR_INVALID, "run.g.scale: expected [0, 1000], got %g",
                         r->g_scale);
    if (r->convert != 0 && r->convert != 1)
        return its_error(ctx, ITS_ERR_INVALID, "run.convert: expected 0 or 1, got %d", r->convert);
    if (r->convert)
        ITS_TRY(its_interp_check(ctx, &r->target, "run.interp"));
    if (!(r->deadline_ms >= 0 && r->deadline_ms < 1e12))
        return its_error(ctx, ITS_ERR_INVALID, "run.budget.deadline_ms: expected >= 0, got %g",
                         r->deadline_ms);
    if (r->top_k < 1 || r->top_k > ITS_MAX_TOPK)
        return its_error(ctx, ITS_ERR_INVALID, "run.top_k: expected integer in [1, %d], got %d",
                         ITS_MAX_TOPK, r->top_k);
    if ((unsigned)r->on_nonfinite >= ITS_NONFINITE_COUNT_)
        return its_error(ctx, ITS_ERR_INVALID, "run.on_nonfinite: unknown policy %d",
                         (int)r->on_nonfinite);
    return ITS_OK;
}

its_status its_params_check(its_ctx *ctx, const its_method_vt *vt, const void *params)
{
    const char *base = params;
    int version;
    memcpy(&version, base, sizeof(int));
    if (version != 1)
        return its_error(ctx, ITS_ERR_INVALID,
                         "params.version: expected 1 (use its_%s_params_init), got %d",
                         its_method_name(vt->method), version);
    for (size_t i = 0; i < vt->n_desc; i++) {
        const its_param_desc *d = &vt->desc[i];
        if (d->type == ITS_PT_DOUBLE) {
            double v;
            memcpy(&v, base + d->offset, sizeof(v));
            if (!(v >= d->min && v <= d->max))
                return its_error(ctx, ITS_ERR_INVALID, "params.%s: expected number in [%g, %g], got %g",
                                 d->name, d->min, d->max, v);
        } else {
            int v;
            memcpy(&v, base + d->offset, sizeof(v));
            if (!((double)v >= d->min && (double)v <= d->max)) {
                if (d->type == ITS_PT_ENUM)
                    return its_error(ctx, ITS_ERR_INVALID, "params.%s: unknown value %d", d->name, v);
                return its_error(ctx, ITS_ERR_INVALID,
                                 "params.%s: expected integer in [%.0f, %.0f], got %d", d->name,
                                 d->min, d->max, v);
            }
        }
    }
    return ITS_OK;
}

static void its_sampler_release(its_ctx *ctx, its_sampler *s)
{
    its_mfree(ctx, s->params);
    its_mfree(ctx, s->grid_custom_copy);
    its_mfree(ctx, s->json);
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
    if (method_params)
        memcpy(pbuf.bytes, method_params, vt->params_size);
    else
        vt->params_init(pbuf.bytes);
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
    return s ? s->vt->method : ITS_METHOD_COUNT_;
}

static its_status its_model_check(its_ctx *ctx, const its_model *m)
{
    if (m->version != ITS_MODEL_V1)
        return its_error(ctx, ITS_ERR_INVALID, "model.version: expected %d, got %d", ITS_MODEL_V1,
                         m->version);
    if (!m->eval)
        return its_error(ctx, ITS_ERR_INVALID, "model.eval is NULL");
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

its_status its_generate(its_sampler *s, const its_model *m, const its_verifier *v, uint64_t seed,
                        its_result **out)
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
        if (v->version != ITS_VERIFIER_V1)
            return its_error(ctx, ITS_ERR_INVALID, "verifier.version: expected %d, got %d",
                             ITS_VERIFIER_V1, v->version);
        if (!v->score)
            return its_error(ctx, ITS_ERR_INVALID, "verifier.score is NULL");
        if (v->max_batch > ((size_t)1 << 24))
            return its_error(ctx, ITS_ERR_INVALID, "verifier.max_batch: %zu is out of range",
                             v->max_batch);
    }
    if (s->vt->needs_verifier && !v)
        return its_error(ctx, ITS_ERR_INVALID, "%s needs a verifier",
                         its_method_name(s->vt->method));
    int grad = s->vt->needs_grad == 1 ||
               (s->vt->needs_grad == 2 && s->vt->wants_grad && s->vt->wants_grad(s->params));
    if (grad && (!v || !v->grad))
        return its_error(ctx, ITS_ERR_UNSUPPORTED,
                         "%s with these parameters needs a verifier gradient (verifier.grad is NULL)",
                         its_method_name(s->vt->method));

    its_engine *e = its_malloc(ctx, sizeof(*e));
    if (!e)
        return ITS_ERR_NOMEM;
    its_status st = its_engine_setup(e, ctx, s->vt, s->params, &s->run, m, v, seed);
    if (st == ITS_OK) {
        st = s->vt->run(e, s->params);
        if (st == ITS_OK || st == ITS_STOP_) {
            st = its_engine_result(e, st, out);
            if (st == ITS_OK)
                its_clear_error(ctx);
            else if (st == ITS_CANCELLED)
                its_error(ctx, ITS_CANCELLED, "cancelled by the progress callback after %llu NFE",
                          (unsigned long long)e->usage.nfe);
        }
    }
    its_engine_release(e);
    its_mfree(ctx, e);
    return st;
}
