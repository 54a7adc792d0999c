/* The engine's run: setup and release, the facts of a run that methods read, the memory arena
 * that frees everything a run allocated, and the stop check between phases. The rest of the
 * engine is split by what it does: particle sets (pset.c), model calls with the non-finite scan
 * (model_eval.c), verifier calls with the result pools, the anytime trace and per-step records
 * (score.c). */
#include <math.h>
#include <string.h>

#include "engine/engine_internal.h"

/* ------------------------------------------------------------------------------------------
 * run facts
 * ---------------------------------------------------------------------------------------- */
its_ctx *its_eng_ctx(its_engine *e) { return e->ctx; }
size_t its_eng_dim(const its_engine *e) { return e->dim; }
int its_eng_steps(const its_engine *e) { return e->steps; }
const double *its_eng_grid(const its_engine *e) { return e->grid; }
const its_run_params *its_eng_run(const its_engine *e) { return e->run; }
uint64_t its_eng_seed(const its_engine *e) { return e->seed; }
uint64_t its_eng_nfe(const its_engine *e) { return e->usage.nfe; }
uint64_t its_eng_max_nfe(const its_engine *e) { return e->run->max_nfe; }
int its_eng_has_grad(const its_engine *e)
{
    return e->ver && (e->ver->grad || (e->ver->version >= ITS_VERIFIER_V2 && e->ver->grad_dim));
}
int its_eng_has_verifier(const its_engine *e) { return e->ver != NULL; }
const its_interp *its_eng_interp(const its_engine *e) { return e->work_ip; }

uint64_t its_eng_nfe_left(const its_engine *e)
{
    if (!e->run->max_nfe)
        return UINT64_MAX;
    return e->usage.nfe >= e->run->max_nfe ? 0 : e->run->max_nfe - e->usage.nfe;
}

int its_eng_nfe_per_step(const its_engine *e, double t, double s)
{
    return its_plan_nfe_per_step(&e->plan, t, s);
}

uint64_t its_eng_trajectory_nfe(const its_engine *e, int k0)
{
    return its_plan_trajectory(&e->plan, k0);
}

const its_plan *its_eng_plan(const its_engine *e) { return &e->plan; }

its_method its_eng_method(const its_engine *e) { return e->vt->method; }

its_status its_eng_require_nfe(its_engine *e, uint64_t need, const char *what)
{
    if (e->run->max_nfe && need > e->run->max_nfe)
        return its_error(e->ctx, ITS_ERR_BUDGET,
                         "%s needs at least %llu NFE (%s), but budget.max_nfe is %llu",
                         its_method_name(e->vt->method), (unsigned long long)need, what,
                         (unsigned long long)e->run->max_nfe);
    return ITS_OK;
}

/* ------------------------------------------------------------------------------------------
 * memory
 * ---------------------------------------------------------------------------------------- */
static void its_arena_free(its_ctx *ctx, its_arena_item it)
{
    if (it.kind == ITS_ARENA_LATENT)
        its_latent_free(ctx, it.p, it.n);
    else if (it.kind == ITS_ARENA_SCRATCH)
        its_scratch_free(ctx, it.p, it.n);
    else
        its_mfree(ctx, it.p);
}

static its_status its_arena_push(its_engine *e, void *p, size_t n, its_arena_kind kind)
{
    its_arena_item it = {p, n, kind};
    if (e->n_arena == ITS_ARENA_CAP) {
        its_arena_free(e->ctx, it);
        return its_error(e->ctx, ITS_ERR_NOMEM, "engine arena full (%d buffers)", ITS_ARENA_CAP);
    }
    e->arena[e->n_arena++] = it;
    return ITS_OK;
}

void *its_eng_alloc(its_engine *e, size_t bytes)
{
    void *p = its_calloc(e->ctx, 1, bytes ? bytes : 1);
    if (!p || its_arena_push(e, p, 0, ITS_ARENA_HEAP) != ITS_OK)
        return NULL;
    return p;
}

void *its_eng_hostbuf(its_engine *e, size_t bytes)
{
    bytes = bytes ? bytes : 1;
    void *p = its_scratch_alloc(e->ctx, bytes);
    if (!p || its_arena_push(e, p, bytes, ITS_ARENA_SCRATCH) != ITS_OK)
        return NULL;
    return p;
}

float *its_eng_latents(its_engine *e, size_t rows)
{
    size_t n;
    if (its_mul_size(rows ? rows : 1, e->dim, &n) != 0) {
        its_error(e->ctx, ITS_ERR_NOMEM, "latent buffer of %zu x %zu floats overflows", rows,
                  e->dim);
        return NULL;
    }
    float *p = its_latent_alloc(e->ctx, n);
    if (!p || its_arena_push(e, p, n, ITS_ARENA_LATENT) != ITS_OK)
        return NULL;
    return p;
}

/* ------------------------------------------------------------------------------------------
 * stops
 * ---------------------------------------------------------------------------------------- */
its_status its_eng_check(its_engine *e)
{
    if (e->stop != ITS_STOP_COMPLETED)
        return ITS_STOP_;
    if (e->deadline_s > 0 && its_now() >= e->deadline_s) {
        e->stop = ITS_STOP_DEADLINE;
        return ITS_STOP_;
    }
    return ITS_OK;
}

/* ------------------------------------------------------------------------------------------
 * setup and release
 * ---------------------------------------------------------------------------------------- */
its_status its_engine_setup(its_engine *e, its_ctx *ctx, const its_method_vt *vt,
                            const void *params, const its_run_params *run, const its_model *m, const its_verifier *v,
                            uint64_t seed)
{
    memset(e, 0, sizeof(*e));
    e->ctx = ctx;
    e->be = ctx->backend;
    e->bs = ctx->backend_state;
    e->vt = vt;
    e->params = params;
    e->run = run;
    e->model = m;
    e->ver = v;
    e->seed = seed;
    e->dim = m->dim;
    e->steps = run->steps;
    e->plan.run = run;
    e->plan.steps = run->steps;
    e->plan.cap = run->max_nfe;
    e->convert_to = run->convert ? &run->target : NULL;
    e->work_ip = run->convert ? &run->target : &m->interp;
    e->best = e->best_final = e->best_look = -INFINITY;
    e->t_start = its_now();
    e->deadline_s = run->deadline_ms > 0 ? e->t_start + run->deadline_ms * 1e-3 : 0.0;
    e->cap_step_rec = 4 * ((size_t)run->steps + 2);
    if (!(e->grid = its_eng_alloc(e, ((size_t)run->steps + 1) * sizeof(double))) ||
        !(e->trace = its_eng_alloc(e, ITS_TRACE_CAP * sizeof(its_trace_point))) ||
        !(e->step_rec = its_eng_alloc(e, e->cap_step_rec * sizeof(its_step_usage))))
        return ITS_ERR_NOMEM;
    ITS_TRY(its_grid_build(ctx, run, e->grid));
    e->plan.grid = e->grid;
    ITS_TRY(its_eng_pool(e, &e->final, (size_t)run->top_k));
    ITS_TRY(its_eng_pool(e, &e->look, (size_t)run->top_k));
    return ITS_OK;
}

void its_engine_release(its_engine *e)
{
    for (size_t i = e->n_arena; i-- > 0;)
        its_arena_free(e->ctx, e->arena[i]);
    e->n_arena = 0;
}

its_status its_engine_create(its_ctx *ctx, const its_method_vt *vt, const void *params,
                             const its_run_params *run, const its_model *m,
                             const its_verifier *v, uint64_t seed, its_engine **out)
{
    *out = NULL;
    its_engine *e = its_malloc(ctx, sizeof(*e));
    if (!e)
        return ITS_ERR_NOMEM;
    its_status st = its_engine_setup(e, ctx, vt, params, run, m, v, seed);
    if (st != ITS_OK) {
        its_engine_free(e);
        return st;
    }
    *out = e;
    return ITS_OK;
}

void its_engine_free(its_engine *e)
{
    if (!e)
        return;
    its_engine_release(e);
    its_mfree(e->ctx, e);
}
