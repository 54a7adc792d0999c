/* Model calls: rows of a particle set batched into calls of at most max_batch rows (a wave of
 * concurrent calls for thread-safe models), the NFE cap checked before each call, NFE and model
 * time charged, the output scanned for NaN/Inf (the non-finite policy), converted to the working
 * velocity and the Tweedie look-ahead, and the progress callback after each call. */
#include <math.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "engine/par.h"
#include "rng/rng.h"

/* Host callbacks: the _dim forms of a V2 struct when set. */
static int its_model_call(const its_engine *e, const float *x, const float *t, size_t n,
                          float *out)
{
    const its_model *m = e->model;
    if (m->version >= ITS_MODEL_V2 && m->eval_dim)
        return m->eval_dim(m->user, x, t, n, e->dim, out);
    return m->eval(m->user, x, t, n, out);
}

/* ------------------------------------------------------------------------------------------
 * stops and progress
 * ---------------------------------------------------------------------------------------- */
static its_status its_eng_before_model(its_engine *e, size_t rows)
{
    ITS_TRY(its_eng_check(e));
    if (e->run->max_nfe && e->usage.nfe + rows > e->run->max_nfe) {
        e->stop = ITS_STOP_NFE_CAP;
        return ITS_STOP_;
    }
    return ITS_OK;
}

static void its_eng_progress(its_engine *e)
{
    if (!e->run->progress)
        return;
    its_progress p = {
        .nfe = e->usage.nfe,
        .max_nfe = e->run->max_nfe,
        .verifier_rows = e->usage.verifier_rows,
        .best_score = e->best,
        .elapsed_s = its_now() - e->t_start,
    };
    if (e->run->progress(e->run->progress_user, &p) != 0 && e->stop == ITS_STOP_COMPLETED)
        e->stop = ITS_STOP_CANCELLED;
}

/* ------------------------------------------------------------------------------------------
 * the non-finite scan
 * ---------------------------------------------------------------------------------------- */
/* Finiteness of n floats of backend memory. Host memory is scanned directly (backend_cpu.c, on
 * the active SIMD path); a backend with its own memory answers through dot (finite in double
 * exactly when every element is). */
int its_eng_finite(its_engine *e, const float *x, size_t n)
{
    if (e->be != its_backend_cpu())
        return isfinite(e->be->dot(e->bs, x, x, n));
    return its_finite_isa(its_rng_isa_active(), x, n);
}

/* Locates the first row of a chunk holding a non-finite value. */
static size_t its_first_bad_row(its_engine *e, const float *buf, size_t rows)
{
    for (size_t i = 0; i < rows; i++)
        if (!its_eng_finite(e, buf + i * e->dim, e->dim))
            return i;
    return rows;
}

/* ------------------------------------------------------------------------------------------
 * model evaluation
 * ---------------------------------------------------------------------------------------- */
/* One wave of concurrent model calls (thread-safe models): call c evaluates the chunk that
 * starts at row a0 + c * chunk. Results are read back in row order by its_eng_eval. */
typedef struct its_wave {
    its_engine *e;
    its_pset *ps;
    size_t a0, r1, chunk;
    int rc[ITS_WAVE_MAX];
} its_wave;

static void its_wave_call(void *arg, size_t c)
{
    its_wave *w = arg;
    size_t a = w->a0 + c * w->chunk;
    size_t rows = w->r1 - a < w->chunk ? w->r1 - a : w->chunk;
    const size_t dim = w->e->dim;
    w->rc[c] = its_model_call(w->e, w->ps->x + a * dim, w->e->tbuf, rows,
                                 w->ps->u + a * dim);
}

/* After one model call over rows a .. a + rows of ps (outputs in ps->u): the charge, the
 * callback's return code, and the non-finite scan (an error, or the bad rows zeroed and dropped,
 * as run.on_nonfinite says). t: the time the call is reported at; row_t, when not NULL, each
 * row's own time for the non-finite message. */
static its_status its_eng_model_done(its_engine *e, its_pset *ps, size_t a, size_t rows, int rc,
                                     double t, const double *row_t)
{
    const size_t dim = e->dim;
    float *out = ps->u + a * dim;
    e->usage.nfe += rows;
    e->usage.model_calls++;
    uint64_t call = ++e->model_call_idx; /* counted from 1 */
    if (rc != 0)
        return its_error(e->ctx, ITS_ERR_CALLBACK,
                         "model eval callback returned %d on call %llu (rows %zu..%zu of %zu, "
                         "t=%g)",
                         rc, (unsigned long long)call, a, a + rows, ps->n, t);
    if (its_eng_finite(e, out, rows * dim))
        return ITS_OK;
    size_t bad = its_first_bad_row(e, out, rows);
    if (e->run->on_nonfinite == ITS_NONFINITE_ERROR)
        return its_error(e->ctx, ITS_ERR_NUMERIC,
                         "model eval callback returned a non-finite value on call %llu, row %zu "
                         "(t=%g)",
                         (unsigned long long)call, a + bad, row_t ? row_t[a + bad] : t);
    for (size_t i = bad; i < rows; i++) {
        float *ri = out + i * dim;
        if (!its_eng_finite(e, ri, dim)) {
            e->be->lincomb(e->bs, ri, dim, 0.0f, NULL, 0.0f, NULL, 0.0f, NULL);
            ps->alive[a + i] = 0;
            ps->score[a + i] = -INFINITY;
        }
    }
    return ITS_OK;
}

its_status its_eng_eval(its_engine *e, its_pset *ps, size_t r0, size_t r1)
{
    if (r1 > ps->n || r0 > r1)
        return its_error(e->ctx, ITS_ERR_INVALID, "eval rows %zu..%zu outside a set of %zu", r0,
                         r1, ps->n);
    if (r0 == r1)
        return ITS_OK;
    if (ps->map_t != ps->t) {
        if (its_evalmap_at(&e->model->interp, e->model->pred, e->convert_to, ps->t, &ps->map) !=
            ITS_OK)
            return its_error(e->ctx, ITS_ERR_NUMERIC,
                             "the model cannot be evaluated at t=%g: the conversion from %s "
                             "predictions is singular there",
                             ps->t, its_pred_name(e->model->pred));
        ps->map_t = ps->t;
    }
    const its_evalmap *m = &ps->map;
    const size_t dim = e->dim;
    size_t chunk = e->model->max_batch ? e->model->max_batch : r1 - r0;
    /* A thread-safe model gets up to one call per pool thread at once ("a wave"); the calls'
     * results are then taken in row order, so errors, counters and outputs are those of the
     * sequential loop. Conversion runs scale the input through one buffer: one call at a time. */
    size_t wave_max = 1;
    if (e->model->thread_safe && m->in_scale == 1.0) {
        int th = its_parallel_threads(e->ctx);
        wave_max = th > 1 ? (size_t)th : 1;
        if (wave_max > ITS_WAVE_MAX)
            wave_max = ITS_WAVE_MAX;
    }
    for (size_t i = 0; i < (r1 - r0 < chunk ? r1 - r0 : chunk); i++)
        e->tbuf[i] = (float)m->t_model;
    size_t wave_left = 0;
    for (size_t a = r0; a < r1; a += chunk) {
        size_t rows = r1 - a < chunk ? r1 - a : chunk;
        float *out = ps->u + a * dim;
        int rc;
        if (wave_left == 0) {
            /* start a wave: as many calls as fit the pool and the NFE cap */
            size_t calls = (r1 - a + chunk - 1) / chunk, wrows = 0;
            if (calls > wave_max)
                calls = wave_max;
            for (size_t c = 0; c < calls; c++)
                wrows += (r1 - (a + c * chunk) < chunk ? r1 - (a + c * chunk) : chunk);
            if (calls > 1 && e->run->max_nfe && e->usage.nfe + wrows > e->run->max_nfe)
                calls = 1;
            if (calls > 1) {
                ITS_TRY(its_eng_before_model(e, wrows));
                its_wave wv = {e, ps, a, r1, chunk, {0}};
                double t0 = its_now();
                its_parallel_for(e->ctx, calls, its_wave_call, &wv);
                e->usage.model_s += its_now() - t0;
                memcpy(e->wave_rc, wv.rc, calls * sizeof(int));
                e->wave_n = calls;
                wave_left = calls;
            }
        }
        if (wave_left > 0) {
            rc = e->wave_rc[e->wave_n - wave_left];
            wave_left--;
        } else {
            ITS_TRY(its_eng_before_model(e, rows));
            const float *in = ps->x + a * dim;
            if (m->in_scale != 1.0) {
                its_par_lincomb(e, e->in_buf, rows * dim, (float)m->in_scale, in, 0.0f, NULL,
                                0.0f, NULL);
                in = e->in_buf;
            }
            double t0 = its_now();
            rc = its_model_call(e, in, e->tbuf, rows, out);
            e->usage.model_s += its_now() - t0;
        }
        ITS_TRY(its_eng_model_done(e, ps, a, rows, rc, m->t_model, NULL));
        const float *x = ps->x + a * dim;
        /* velocity models sampled along their own interpolant need no conversion */
        if (m->ux != 0.0 || m->up != 1.0)
            its_par_lincomb(e, out, rows * dim, (float)m->ux, x, (float)m->up, out, 0.0f, NULL);
        if (!e->vt->no_lookahead)
            its_par_lincomb(e, ps->x0 + a * dim, rows * dim, (float)m->x0x, x, (float)m->x0u, out,
                            0.0f, NULL);
        its_eng_progress(e);
    }
    ps->has_u = 1;
    return ITS_OK;
}

/* Rows r0 .. r1 of ps, row r at time row_t[r] (runs of equal times share one map): one model
 * call per max_batch rows whatever their times, as its_eng_eval makes for one time, with the
 * same checks, charges and conversions per row. Calls are made one at a time. */
its_status its_eng_eval_at(its_engine *e, its_pset *ps, size_t r0, size_t r1, const double *row_t)
{
    if (r1 > ps->n || r0 > r1)
        return its_error(e->ctx, ITS_ERR_INVALID, "eval rows %zu..%zu outside a set of %zu", r0,
                         r1, ps->n);
    const size_t dim = e->dim;
    const size_t chunk = e->model->max_batch ? e->model->max_batch : r1 - r0;
    for (size_t a = r0; a < r1; a += chunk) {
        size_t rows = r1 - a < chunk ? r1 - a : chunk;
        float *out = ps->u + a * dim;
        const float *in = ps->x + a * dim;
        its_evalmap m;
        int scaled = 0;
        for (size_t i = a; i < a + rows;) {
            size_t j = i + 1;
            while (j < a + rows && row_t[j] == row_t[i])
                j++;
            if (its_evalmap_at(&e->model->interp, e->model->pred, e->convert_to, row_t[i], &m) !=
                ITS_OK)
                return its_error(e->ctx, ITS_ERR_NUMERIC,
                                 "the model cannot be evaluated at t=%g: the conversion from %s "
                                 "predictions is singular there",
                                 row_t[i], its_pred_name(e->model->pred));
            for (size_t q = i; q < j; q++)
                e->tbuf[q - a] = (float)m.t_model;
            scaled |= m.in_scale != 1.0;
            i = j;
        }
        ITS_TRY(its_eng_before_model(e, rows));
        if (scaled) {
            for (size_t i = a; i < a + rows;) {
                size_t j = i + 1;
                while (j < a + rows && row_t[j] == row_t[i])
                    j++;
                ITS_TRY(its_evalmap_at(&e->model->interp, e->model->pred, e->convert_to,
                                       row_t[i], &m));
                its_par_lincomb(e, e->in_buf + (i - a) * dim, (j - i) * dim, (float)m.in_scale,
                                ps->x + i * dim, 0.0f, NULL, 0.0f, NULL);
                i = j;
            }
            in = e->in_buf;
        }
        double t0 = its_now();
        int rc = its_model_call(e, in, e->tbuf, rows, out);
        e->usage.model_s += its_now() - t0;
        ITS_TRY(its_eng_model_done(e, ps, a, rows, rc, row_t[a], row_t));
        for (size_t i = a; i < a + rows;) {
            size_t j = i + 1;
            while (j < a + rows && row_t[j] == row_t[i])
                j++;
            ITS_TRY(its_evalmap_at(&e->model->interp, e->model->pred, e->convert_to, row_t[i],
                                   &m));
            const float *x = ps->x + i * dim;
            float *o = ps->u + i * dim;
            if (m.ux != 0.0 || m.up != 1.0)
                its_par_lincomb(e, o, (j - i) * dim, (float)m.ux, x, (float)m.up, o, 0.0f, NULL);
            if (!e->vt->no_lookahead)
                its_par_lincomb(e, ps->x0 + i * dim, (j - i) * dim, (float)m.x0x, x,
                                (float)m.x0u, o, 0.0f, NULL);
            i = j;
        }
        its_eng_progress(e);
    }
    ps->has_u = 1;
    return ITS_OK;
}
