/* Particle sets: allocation (and the scratch the engine's calls need, sized for the largest
 * set), lineage roots and initial noise, ODE/SDE steps and branching into children, re-noising,
 * gathers and row copies, and the row math and lineage-keyed randomness methods use. */
#include <math.h>
#include <string.h>

#include "engine/engine_internal.h"
#include "engine/par.h"
#include "rng/rng.h"

#define ITS_HOST_LINEAGE UINT64_C(0xA5A5A5A5F00DFACE)

static inline uint32_t its_stream(uint32_t purpose, uint32_t tick)
{
    return (purpose << 24) | (tick & 0xFFFFFFu);
}

/* ------------------------------------------------------------------------------------------
 * memory
 * ---------------------------------------------------------------------------------------- */
/* Host scratch for model times, scores and a gather's repeat counts, and the conversion input
 * buffer, sized for the largest particle set; grown only while sets are being made, never inside
 * a step. */
static its_status its_eng_scratch(its_engine *e, size_t rows)
{
    if (rows <= e->scratch_rows)
        return ITS_OK;
    float *tb = its_eng_hostbuf(e, rows * sizeof(float));
    float *sb = its_eng_hostbuf(e, rows * sizeof(float));
    uint32_t *rb = its_eng_alloc(e, rows * sizeof(uint32_t));
    if (!tb || !sb || !rb)
        return ITS_ERR_NOMEM;
    if (e->convert_to) {
        size_t in_rows = e->model->max_batch ? e->model->max_batch : rows;
        if (in_rows > rows)
            in_rows = rows;
        float *ib = its_eng_latents(e, in_rows);
        if (!ib)
            return ITS_ERR_NOMEM;
        e->in_buf = ib;
    }
    e->tbuf = tb;
    e->sbuf = sb;
    e->rbuf = rb;
    e->scratch_rows = rows;
    return ITS_OK;
}

its_status its_eng_pset(its_engine *e, its_pset *ps, size_t cap, int flags)
{
    memset(ps, 0, sizeof(*ps));
    if (cap == 0 || cap > ((size_t)1 << 24))
        return its_error(e->ctx, ITS_ERR_INVALID, "particle set of %zu rows is out of range", cap);
    size_t bytes;
    if (its_mul_size(cap, e->dim, &bytes) != 0 || its_mul_size(bytes, sizeof(float), &bytes) != 0)
        return its_error(e->ctx, ITS_ERR_NOMEM, "particle set of %zu x %zu overflows", cap, e->dim);
    ps->cap = cap;
    ps->dim = e->dim;
    ps->map_t = NAN;
    if (!(ps->x = its_eng_latents(e, cap)) || !(ps->u = its_eng_latents(e, cap)) ||
        !(ps->x0 = its_eng_latents(e, cap)))
        return ITS_ERR_NOMEM;
    if ((flags & ITS_PSET_WORK) && !(ps->w = its_eng_latents(e, cap)))
        return ITS_ERR_NOMEM;
    if ((flags & ITS_PSET_GRAD) && !(ps->g = its_eng_latents(e, cap)))
        return ITS_ERR_NOMEM;
    if (!(ps->lineage = its_eng_alloc(e, cap * sizeof(uint64_t))) ||
        !(ps->score = its_eng_alloc(e, cap * sizeof(double))) ||
        !(ps->alive = its_eng_alloc(e, cap)))
        return ITS_ERR_NOMEM;
    for (size_t r = 0; r < cap; r++)
        ps->score[r] = -INFINITY;
    memset(ps->alive, 1, cap);
    /* Heun needs a work buffer for its first slope. */
    if (!ps->w && e->run->solver == ITS_SOLVER_HEUN && e->run->dynamics == ITS_DYN_ODE &&
        !(ps->w = its_eng_latents(e, cap)))
        return ITS_ERR_NOMEM;
    return its_eng_scratch(e, cap);
}

/* ------------------------------------------------------------------------------------------
 * particles
 * ---------------------------------------------------------------------------------------- */
float *its_eng_row(const its_pset *ps, float *buf, size_t r)
{
    return buf + r * ps->dim;
}

void its_eng_roots(its_engine *e, its_pset *ps, size_t r0, size_t r1, uint64_t first)
{
    (void)e;
    for (size_t r = r0; r < r1; r++)
        ps->lineage[r] = its_lineage_root(first + (r - r0));
}

its_status its_eng_init_noise(its_engine *e, its_pset *ps, size_t r0, size_t r1, double t)
{
    double v[4];
    if (r1 > ps->cap || r0 > r1)
        return its_error(e->ctx, ITS_ERR_INVALID, "rows %zu..%zu outside a set of %zu", r0, r1,
                         ps->cap);
    if (its_interp_eval(e->work_ip, t, v) != ITS_OK)
        return its_error(e->ctx, ITS_ERR_NUMERIC, "interpolant cannot be evaluated at t=%g", t);
    its_par_noise_rows(e, ps->x + r0 * e->dim, r1 - r0, 0.0f, NULL, 0.0f, NULL, NULL,
                       (float)v[1], ps->lineage + r0, its_stream(ITS_NOISE_INIT, 0));
    for (size_t r = r0; r < r1; r++) {
        ps->score[r] = -INFINITY;
        ps->alive[r] = 1;
    }
    if (r1 > ps->n)
        ps->n = r1;
    ps->t = t;
    ps->has_u = 0;
    return ITS_OK;
}

static its_status its_eng_stepc(its_engine *e, double t, double s, its_stepc *c)
{
    if (its_step_coeffs(e->work_ip, e->run->dynamics, e->run->g_schedule, e->run->g_scale, t, s,
                        c) != ITS_OK)
        return its_error(e->ctx, ITS_ERR_NUMERIC, "no step from t=%g to t=%g: singular", t, s);
    return ITS_OK;
}

its_status its_eng_step(its_engine *e, its_pset *ps, double s, uint32_t tick)
{
    if (!ps->has_u)
        return its_error(e->ctx, ITS_ERR_INVALID, "step needs an evaluated particle set");
    const size_t dim = e->dim, n = ps->n;
    double t = ps->t;
    if (!(s < t) || s < 0)
        return its_error(e->ctx, ITS_ERR_INVALID, "step from t=%g to t=%g is not forward", t, s);
    if (its_eng_nfe_per_step(e, t, s) == 2) {
        /* Heun: x_s = x_e + (d/2)(u1 - u2), x_e = x - d u1 the Euler point. */
        float d = (float)(t - s);
        its_par_copy(e, ps->w, ps->u, n * dim);
        its_par_lincomb(e, ps->x, n * dim, 1.0f, ps->x, -d, ps->u, 0.0f, NULL);
        ps->t = s;
        ps->has_u = 0;
        ITS_TRY(its_eng_eval(e, ps, 0, n));
        its_par_lincomb(e, ps->x, n * dim, 1.0f, ps->x, 0.5f * d, ps->w, -0.5f * d, ps->u);
        ps->has_u = 0;
        return ITS_OK;
    }
    its_stepc c;
    ITS_TRY(its_eng_stepc(e, t, s, &c));
    if (c.C == 0.0) {
        its_par_lincomb(e, ps->x, n * dim, (float)c.A, ps->x, (float)c.B, ps->u, 0.0f, NULL);
    } else {
        its_par_noise_rows(e, ps->x, n, (float)c.A, ps->x, (float)c.B, ps->u, NULL, (float)c.C,
                           ps->lineage, its_stream(ITS_NOISE_STEP, tick));
    }
    ps->t = s;
    ps->has_u = 0;
    return ITS_OK;
}

its_status its_eng_branch(its_engine *e, const its_pset *parent, const size_t *pidx,
                          const uint32_t *cidx, its_pset *child, size_t c0, size_t n, double s,
                          uint32_t tick)
{
    if (!parent->has_u)
        return its_error(e->ctx, ITS_ERR_INVALID, "branch needs an evaluated parent set");
    if (c0 + n > child->cap || child == parent)
        return its_error(e->ctx, ITS_ERR_INVALID, "branch into rows %zu..%zu of a set of %zu",
                         c0, c0 + n, child->cap);
    const size_t dim = e->dim;
    its_stepc c;
    ITS_TRY(its_eng_stepc(e, parent->t, s, &c));
    for (size_t j = 0; j < n; j++) {
        size_t p = pidx[j], r = c0 + j;
        child->lineage[r] = its_lineage_child(parent->lineage[p], cidx[j]);
        child->alive[r] = parent->alive[p];
        child->score[r] = parent->score[p];
    }
    its_par_noise_rows(e, child->x + c0 * dim, n, (float)c.A, parent->x, (float)c.B, parent->u,
                       pidx, (float)c.C, child->lineage + c0, its_stream(ITS_NOISE_STEP, tick));
    if (c0 + n > child->n)
        child->n = c0 + n;
    child->t = s;
    child->has_u = 0;
    return ITS_OK;
}

its_status its_eng_renoise(its_engine *e, its_pset *ps, double tf, uint32_t tick)
{
    double a, b;
    if (its_renoise_coeffs(e->work_ip, ps->t, tf, &a, &b) != ITS_OK)
        return its_error(e->ctx, ITS_ERR_INVALID, "cannot re-noise from t=%g up to t=%g", ps->t,
                         tf);
    its_par_noise_rows(e, ps->x, ps->n, (float)a, ps->x, 0.0f, NULL, NULL, (float)b, ps->lineage,
                       its_stream(ITS_NOISE_RENOISE, tick));
    ps->t = tf;
    ps->has_u = 0;
    return ITS_OK;
}

void its_eng_copy_rows(its_engine *e, its_pset *dst, size_t dr, const its_pset *src, size_t sr,
                       size_t n)
{
    const size_t dim = e->dim;
    e->be->copy(e->bs, dst->x + dr * dim, src->x + sr * dim, n * dim);
    e->be->copy(e->bs, dst->u + dr * dim, src->u + sr * dim, n * dim);
    e->be->copy(e->bs, dst->x0 + dr * dim, src->x0 + sr * dim, n * dim);
    memcpy(dst->lineage + dr, src->lineage + sr, n * sizeof(uint64_t));
    memcpy(dst->score + dr, src->score + sr, n * sizeof(double));
    memcpy(dst->alive + dr, src->alive + sr, n);
    if (dr + n > dst->n)
        dst->n = dr + n;
}

its_status its_eng_gather(its_engine *e, its_pset *dst, const its_pset *src, const size_t *idx,
                          size_t n)
{
    if (dst == src || n > dst->cap)
        return its_error(e->ctx, ITS_ERR_INVALID, "gather of %zu rows into a set of %zu", n,
                         dst->cap);
    for (size_t j = 0; j < n; j++)
        if (idx[j] >= src->n)
            return its_error(e->ctx, ITS_ERR_INVALID, "gather index %zu outside a set of %zu",
                             idx[j], src->n);
    /* The k-th repeat of a source row gets child lineage k: one counter per source row (every
     * set's rows fit the scratch, see its_eng_scratch), so a gather is linear in its rows. */
    uint32_t *rep = e->rbuf;
    memset(rep, 0, src->n * sizeof(uint32_t));
    for (size_t j = 0; j < n; j++) {
        its_eng_copy_rows(e, dst, j, src, idx[j], 1);
        dst->lineage[j] = its_lineage_child(src->lineage[idx[j]], rep[idx[j]]++);
    }
    dst->n = n;
    dst->t = src->t;
    dst->has_u = src->has_u;
    dst->map_t = NAN;
    return ITS_OK;
}

/* ------------------------------------------------------------------------------------------
 * row math and host randomness
 * ---------------------------------------------------------------------------------------- */
void its_eng_lincomb(its_engine *e, float *out, float a, const float *x, float b, const float *y,
                     float c, const float *z)
{
    e->be->lincomb(e->bs, out, e->dim, a, x, b, y, c, z);
}

void its_eng_noise(its_engine *e, float *out, float a, const float *x, float c, uint64_t lineage,
                   uint32_t purpose, uint32_t tick)
{
    its_noise_key key = {e->seed, lineage, its_stream(purpose, tick)};
    e->be->lincomb_randn(e->bs, out, e->dim, a, x, 0.0f, NULL, c, &key);
}

double its_eng_dot(its_engine *e, const float *x, const float *y)
{
    return e->be->dot(e->bs, x, y, e->dim);
}

void its_eng_uniform(its_engine *e, double *out, size_t n, uint32_t purpose, uint32_t tick)
{
    its_noise_key key = {e->seed, ITS_HOST_LINEAGE, its_stream(purpose, tick)};
    its_rng_uniform(out, n, &key, 0);
}
