/* Verifier calls and what the run returns: scores and gradients batched into calls, the verifier
 * cap, the non-finite policy on scores, the top-k pools of outputs and look-ahead candidates, the
 * anytime trace (the score of what the run would return if stopped now) and per-step records. */
#include <math.h>
#include <string.h>

#include "engine/engine_internal.h"

/* Host callbacks: the _dim forms of a V2 struct when set. */
static int its_score_call(const its_engine *e, const float *x0, size_t n, float *scores)
{
    const its_verifier *v = e->ver;
    if (v->version >= ITS_VERIFIER_V2 && v->score_dim)
        return v->score_dim(v->user, x0, n, e->dim, scores);
    return v->score(v->user, x0, n, scores);
}

static int its_grad_call(const its_engine *e, const float *x0, size_t n, float *g,
                         float *scores)
{
    const its_verifier *v = e->ver;
    if (v->version >= ITS_VERIFIER_V2 && v->grad_dim)
        return v->grad_dim(v->user, x0, n, e->dim, g, scores);
    return v->grad(v->user, x0, n, g, scores);
}

its_status its_eng_pool(its_engine *e, its_pool *p, size_t k)
{
    memset(p, 0, sizeof(*p));
    p->k = k;
    if (!(p->rows = its_eng_latents(e, k)) || !(p->score = its_eng_alloc(e, k * sizeof(double))) ||
        !(p->nfe = its_eng_alloc(e, k * sizeof(uint64_t))))
        return ITS_ERR_NOMEM;
    return ITS_OK;
}

/* ------------------------------------------------------------------------------------------
 * pools, trace and the verifier
 * ---------------------------------------------------------------------------------------- */
static int its_better(double a, double b)
{
    if (isnan(b))
        return !isnan(a);
    return a > b;
}

static void its_pool_offer(its_engine *e, its_pool *p, const float *row, double score)
{
    size_t slot;
    if (p->n < p->k) {
        slot = p->n++;
    } else {
        slot = 0;
        for (size_t i = 1; i < p->n; i++)
            if (its_better(p->score[slot], p->score[i]))
                slot = i;
        if (!its_better(score, p->score[slot]))
            return;
    }
    e->be->copy(e->bs, p->rows + slot * e->dim, row, e->dim);
    p->score[slot] = score;
    p->nfe[slot] = e->usage.nfe;
}

static void its_trace_push(its_engine *e, double best)
{
    if (e->n_trace == ITS_TRACE_CAP) {
        /* thin: keep every other point and the newest */
        size_t w = 0;
        for (size_t i = 0; i < e->n_trace; i += 2)
            e->trace[w++] = e->trace[i];
        e->trace[w - 1] = e->trace[e->n_trace - 1];
        e->n_trace = w;
    }
    if (e->n_trace && e->trace[e->n_trace - 1].nfe == e->usage.nfe) {
        e->trace[e->n_trace - 1].best = best;
        return;
    }
    e->trace[e->n_trace].nfe = e->usage.nfe;
    e->trace[e->n_trace].best = best;
    e->n_trace++;
}

void its_eng_offer(its_engine *e, const its_pset *ps, size_t r0, size_t r1, its_score_what what)
{
    its_pool *pool = what == ITS_SCORE_LOOKAHEAD ? &e->look : &e->final;
    const float *src = what == ITS_SCORE_FINAL ? ps->x : ps->x0;
    double *pool_best = what == ITS_SCORE_LOOKAHEAD ? &e->best_look : &e->best_final;
    for (size_t r = r0; r < r1; r++) {
        double s = ps->score[r];
        its_pool_offer(e, pool, src + r * e->dim, s);
        if (s > *pool_best)
            *pool_best = s;
    }
    /* The trace follows what the run would return if it stopped now: the best output once there
     * is one, the best look-ahead candidate before (its_engine_result). A look-ahead score never
     * enters it once outputs exist, so its last point is the result's best score. */
    double now = e->final.n ? e->best_final : e->best_look;
    if (now != e->best && !isnan(now)) {
        e->best = now;
        its_trace_push(e, now);
    }
}

static its_status its_eng_verifier_rows(its_engine *e, size_t rows)
{
    ITS_TRY(its_eng_check(e));
    if (e->run->max_verifier_rows &&
        e->usage.verifier_rows + e->usage.grad_rows + rows > e->run->max_verifier_rows) {
        e->stop = ITS_STOP_VERIFIER_CAP;
        return ITS_STOP_;
    }
    return ITS_OK;
}

/* Applies the non-finite policy to one verifier score. */
static its_status its_eng_take_score(its_engine *e, its_pset *ps, size_t r, float s,
                                     uint64_t call, const char *what)
{
    if (isnan(s) || s == INFINITY) {
        if (e->run->on_nonfinite == ITS_NONFINITE_ERROR)
            return its_error(e->ctx, ITS_ERR_NUMERIC,
                             "verifier %s callback returned %s on call %llu, row %zu", what,
                             isnan(s) ? "NaN" : "+inf", (unsigned long long)call, r);
        ps->alive[r] = 0;
    }
    ps->score[r] = ps->alive[r] ? (double)s : -INFINITY;
    return ITS_OK;
}

its_status its_eng_score(its_engine *e, its_pset *ps, size_t r0, size_t r1, its_score_what what)
{
    if (r1 > ps->n || r0 > r1)
        return its_error(e->ctx, ITS_ERR_INVALID, "score rows %zu..%zu outside a set of %zu", r0,
                         r1, ps->n);
    if (what != ITS_SCORE_FINAL && (!ps->has_u || e->vt->no_lookahead))
        return its_error(e->ctx, ITS_ERR_INVALID, "look-ahead scores need an evaluated set");
    if (!its_eng_has_verifier(e)) {
        if (what == ITS_SCORE_LOOKAHEAD)
            return its_error(e->ctx, ITS_ERR_INVALID, "%s needs a verifier",
                             its_method_name(e->vt->method));
        for (size_t r = r0; r < r1; r++)
            ps->score[r] = NAN;
        its_eng_offer(e, ps, r0, r1, what);
        return ITS_OK;
    }
    const float *src = what == ITS_SCORE_FINAL ? ps->x : ps->x0;
    size_t chunk = e->ver->max_batch ? e->ver->max_batch : r1 - r0;
    for (size_t a = r0; a < r1; a += chunk) {
        size_t rows = r1 - a < chunk ? r1 - a : chunk;
        ITS_TRY(its_eng_verifier_rows(e, rows));
        double t0 = its_now();
        int rc = its_score_call(e, src + a * e->dim, rows, e->sbuf);
        e->usage.verifier_s += its_now() - t0;
        e->usage.verifier_rows += rows;
        e->usage.verifier_calls++;
        uint64_t call = ++e->ver_call_idx; /* counted from 1 */
        if (rc != 0)
            return its_error(e->ctx, ITS_ERR_CALLBACK,
                             "verifier score callback returned %d on call %llu (rows %zu..%zu)",
                             rc, (unsigned long long)call, a, a + rows);
        for (size_t i = 0; i < rows; i++)
            ITS_TRY(its_eng_take_score(e, ps, a + i, e->sbuf[i], call, "score"));
        its_eng_offer(e, ps, a, a + rows, what);
    }
    return ITS_OK;
}

its_status its_eng_grad(its_engine *e, its_pset *ps, size_t r0, size_t r1)
{
    if (!its_eng_has_grad(e))
        return its_error(e->ctx, ITS_ERR_UNSUPPORTED, "%s needs verifier.grad",
                         its_method_name(e->vt->method));
    if (!ps->g || !ps->has_u || r1 > ps->n || r0 > r1)
        return its_error(e->ctx, ITS_ERR_INVALID, "gradient rows %zu..%zu: bad particle set", r0,
                         r1);
    size_t chunk = e->ver->max_batch ? e->ver->max_batch : r1 - r0;
    for (size_t a = r0; a < r1; a += chunk) {
        size_t rows = r1 - a < chunk ? r1 - a : chunk;
        ITS_TRY(its_eng_verifier_rows(e, rows));
        float *g = ps->g + a * e->dim;
        double t0 = its_now();
        int rc = its_grad_call(e, ps->x0 + a * e->dim, rows, g, e->sbuf);
        e->usage.verifier_s += its_now() - t0;
        e->usage.grad_rows += rows;
        e->usage.grad_calls++;
        uint64_t call = ++e->ver_call_idx; /* counted from 1 */
        if (rc != 0)
            return its_error(e->ctx, ITS_ERR_CALLBACK,
                             "verifier grad callback returned %d on call %llu (rows %zu..%zu)", rc,
                             (unsigned long long)call, a, a + rows);
        for (size_t i = 0; i < rows; i++) {
            float *gi = g + i * e->dim;
            if (!its_eng_finite(e, gi, e->dim)) {
                if (e->run->on_nonfinite == ITS_NONFINITE_ERROR)
                    return its_error(e->ctx, ITS_ERR_NUMERIC,
                                     "verifier grad callback returned a non-finite gradient on "
                                     "call %llu, row %zu",
                                     (unsigned long long)call, a + i);
                e->be->lincomb(e->bs, gi, e->dim, 0.0f, NULL, 0.0f, NULL, 0.0f, NULL);
                ps->alive[a + i] = 0;
            }
            ITS_TRY(its_eng_take_score(e, ps, a + i, e->sbuf[i], call, "grad"));
        }
        its_eng_offer(e, ps, a, a + rows, ITS_SCORE_LOOKAHEAD);
    }
    return ITS_OK;
}

/* ------------------------------------------------------------------------------------------
 * records
 * ---------------------------------------------------------------------------------------- */
void its_eng_step_begin(its_engine *e, int step, double t, int64_t quota)
{
    e->step_open = 1;
    e->step_cur.step = step;
    e->step_cur.t = t;
    e->step_cur.quota = quota;
    e->step_cur.used = 0;
    e->step_nfe0 = e->usage.nfe;
}

uint64_t its_eng_step_end(its_engine *e)
{
    if (!e->step_open)
        return 0;
    e->step_open = 0;
    uint64_t used = e->usage.nfe - e->step_nfe0;
    /* a step opened again (a search that backs up) adds to its first record */
    for (size_t i = e->n_step_rec; i-- > 0;)
        if (e->step_rec[i].step == e->step_cur.step) {
            e->step_rec[i].used += (int64_t)used;
            return used;
        }
    if (e->n_step_rec < e->cap_step_rec) {
        its_step_usage *s = &e->step_rec[e->n_step_rec++];
        *s = e->step_cur;
        s->used = (int64_t)used;
    }
    return used;
}

void its_eng_step_add(its_engine *e, int step, double t, int64_t quota, int64_t used)
{
    for (size_t i = e->n_step_rec; i-- > 0;)
        if (e->step_rec[i].step == step) {
            e->step_rec[i].quota += quota;
            e->step_rec[i].used += used;
            return;
        }
    if (e->n_step_rec < e->cap_step_rec) {
        its_step_usage *s = &e->step_rec[e->n_step_rec++];
        s->step = step;
        s->t = t;
        s->quota = quota;
        s->used = used;
    }
}
