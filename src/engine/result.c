/* Results: built from the engine's pools when a run ends; accessors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "engine/result.h"

static void its_pool_sort(its_pool *p, size_t *order)
{
    /* insertion sort of indices, best first (k is small) */
    for (size_t i = 0; i < p->n; i++)
        order[i] = i;
    for (size_t i = 1; i < p->n; i++) {
        size_t v = order[i], j = i;
        while (j > 0) {
            double a = p->score[v], b = p->score[order[j - 1]];
            int better = isnan(b) ? !isnan(a) : a > b;
            if (!better)
                break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
}

its_status its_engine_result(its_engine *e, its_status st, its_result **out)
{
    its_ctx *ctx = e->ctx;
    *out = NULL;
    if (st == ITS_OK)
        e->stop = ITS_STOP_COMPLETED;
    else if (st == ITS_STOP_ && e->stop == ITS_STOP_COMPLETED)
        e->stop = ITS_STOP_NFE_CAP; /* a method asked for more than the cap allows */
    its_pool *pool = e->final.n ? &e->final : &e->look;
    if (pool->n == 0 && e->stop != ITS_STOP_CANCELLED) {
        if (e->stop == ITS_STOP_COMPLETED)
            return its_error(ctx, ITS_ERR_INVALID, "%s finished without a sample",
                             its_method_name(e->vt->method));
        return its_error(ctx, ITS_ERR_BUDGET, "the run stopped (%s) before any sample was scored",
                         its_stop_name(e->stop));
    }

    its_result *r = its_calloc(ctx, 1, sizeof(*r));
    if (!r)
        return ITS_ERR_NOMEM;
    r->ctx = ctx;
    r->vt = e->vt;
    r->dim = e->dim;
    r->count = pool->n;
    r->anytime = pool == &e->look;
    r->seed = e->seed;
    r->stop = e->stop;
    r->status = e->stop == ITS_STOP_CANCELLED ? ITS_CANCELLED : ITS_OK;
    r->run = *e->run;
    size_t n_samples;
    its_status s = ITS_ERR_NOMEM;
    if (its_mul_size(r->count ? r->count : 1, r->dim, &n_samples) != 0)
        goto fail;
    if (!(r->params = its_calloc(ctx, 1, e->vt->params_size)) ||
        !(r->samples = its_calloc(ctx, n_samples, sizeof(float))) ||
        !(r->scores = its_calloc(ctx, r->count + 1, sizeof(double))) ||
        !(r->found_nfe = its_calloc(ctx, r->count + 1, sizeof(uint64_t))) ||
        !(r->trace = its_calloc(ctx, e->n_trace + 1, sizeof(its_trace_point))) ||
        !(r->steps = its_calloc(ctx, e->n_step_rec + 1, sizeof(its_step_usage))))
        goto fail;
    if (e->run->grid == ITS_GRID_CUSTOM && e->run->grid_custom) {
        if (!(r->grid_custom_copy = its_calloc(ctx, (size_t)e->run->steps + 1, sizeof(double))))
            goto fail;
        memcpy(r->grid_custom_copy, e->run->grid_custom,
               ((size_t)e->run->steps + 1) * sizeof(double));
        r->run.grid_custom = r->grid_custom_copy;
    }
    memcpy(r->params, e->params, e->vt->params_size);
    r->run.progress = NULL;
    r->run.progress_user = NULL;

    size_t order[1024];
    its_pool_sort(pool, order);
    for (size_t i = 0; i < r->count; i++) {
        size_t k = order[i];
        const float *src = pool->rows + k * e->dim;
        if (e->be->to_host)
            e->be->to_host(e->bs, r->samples + i * e->dim, src, e->dim);
        else
            memcpy(r->samples + i * e->dim, src, e->dim * sizeof(float));
        r->scores[i] = pool->score[k];
        r->found_nfe[i] = pool->nfe[k];
    }
    memcpy(r->trace, e->trace, e->n_trace * sizeof(its_trace_point));
    r->n_trace = e->n_trace;
    memcpy(r->steps, e->step_rec, e->n_step_rec * sizeof(its_step_usage));
    r->n_steps = e->n_step_rec;

    r->usage = e->usage;
    r->usage.total_s = its_now() - e->t_start;
    r->usage.library_s = r->usage.total_s - r->usage.model_s - r->usage.verifier_s;
    if (r->usage.library_s < 0)
        r->usage.library_s = 0;
    *out = r;
    return r->status;
fail:
    its_result_free(r);
    return s;
}

void its_result_free(its_result *r)
{
    if (!r)
        return;
    its_ctx *ctx = r->ctx;
    its_mfree(ctx, r->params);
    its_mfree(ctx, r->grid_custom_copy);
    its_mfree(ctx, r->samples);
    its_mfree(ctx, r->scores);
    its_mfree(ctx, r->found_nfe);
    its_mfree(ctx, r->trace);
    its_mfree(ctx, r->steps);
    its_mfree(ctx, r->json);
    its_mfree(ctx, r->auto_json);
    its_mfree(ctx, r);
}

size_t its_result_count(const its_result *r) { return r ? r->count : 0; }
size_t its_result_dim(const its_result *r) { return r ? r->dim : 0; }
uint64_t its_result_seed(const its_result *r) { return r ? r->seed : 0; }
its_stop its_result_stop(const its_result *r) { return r ? r->stop : ITS_STOP_COMPLETED; }
its_status its_result_status(const its_result *r) { return r ? r->status : ITS_ERR_INVALID; }
uint64_t its_result_max_nfe(const its_result *r) { return r ? r->run.max_nfe : 0; }

its_method its_result_method(const its_result *r)
{
    return r ? r->vt->method : ITS_METHOD_COUNT_;
}

const float *its_result_sample(const its_result *r, size_t i)
{
    return (r && i < r->count) ? r->samples + i * r->dim : NULL;
}

double its_result_score(const its_result *r, size_t i)
{
    return (r && i < r->count) ? r->scores[i] : NAN;
}

void its_result_usage(const its_result *r, its_usage *u)
{
    if (!u)
        return;
    if (!r) {
        memset(u, 0, sizeof(*u));
        return;
    }
    *u = r->usage;
}

size_t its_result_trace(const its_result *r, const its_trace_point **pts)
{
    if (pts)
        *pts = r ? r->trace : NULL;
    return r ? r->n_trace : 0;
}

size_t its_result_steps(const its_result *r, const its_step_usage **steps)
{
    if (steps)
        *steps = r ? r->steps : NULL;
    return r ? r->n_steps : 0;
}
