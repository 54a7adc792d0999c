/* The engine: batched callbacks, accounting, lineage-keyed noise, pools and trace. */
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

/* Host callbacks: the _dim forms of a V2 struct when set. */
static int its_model_call(const its_engine *e, const float *x, const float *t, size_t n,
                          float *out)
{
    const its_model *m = e->model;
    if (m->version >= ITS_MODEL_V2 && m->eval_dim)
        return m->eval_dim(m->user, x, t, n, e->dim, out);
    return m->eval(m->user, x, t, n, out);
}

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
static its_status its_arena_push(its_engine *e, void *p, int latent)
{
    if (e->n_arena == ITS_ARENA_CAP) {
        if (latent)
            its_latent_free(e->ctx, p);
        else
            its_mfree(e->ctx, p);
        return its_error(e->ctx, ITS_ERR_NOMEM, "engine arena full (%d buffers)", ITS_ARENA_CAP);
    }
    e->arena[e->n_arena].p = p;
    e->arena[e->n_arena].latent = latent;
    e->n_arena++;
    return ITS_OK;
}

void *its_eng_alloc(its_engine *e, size_t bytes)
{
    void *p = its_calloc(e->ctx, 1, bytes ? bytes : 1);
    if (!p || its_arena_push(e, p, 0) != ITS_OK)
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
    if (!p || its_arena_push(e, p, 1) != ITS_OK)
        return NULL;
    return p;
}

/* Host scratch for model times and scores, and the conversion input buffer, sized for the
 * largest particle set; grown only while sets are being made, never inside a step. */
static its_status its_eng_scratch(its_engine *e, size_t rows)
{
    if (rows <= e->scratch_rows)
        return ITS_OK;
    float *tb = its_eng_alloc(e, rows * sizeof(float));
    float *sb = its_eng_alloc(e, rows * sizeof(float));
    if (!tb || !sb)
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
 * stops and progress
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

/* 1 when no element of n floats is NaN or Inf: an exponent field of all ones. One read-only
 * pass with an OR of lane masks, compiled per instruction set (the answer is exact on every
 * path); it replaces a double-precision dot product, which cost more than the Euler step. */
#define ITS_FINITE_BODY                                                                 \
    {                                                                                   \
        const uint32_t *b = (const uint32_t *)(const void *)x;                          \
        uint32_t bad = 0;                                                               \
        for (size_t j = 0; j < n; j++)                                                  \
            bad |= (uint32_t)((b[j] & 0x7f800000u) == 0x7f800000u);                     \
        return bad == 0;                                                                \
    }
static int its_finite_base(const float *x, size_t n) ITS_FINITE_BODY
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static int its_finite_avx2(const float *x, size_t n)
    ITS_FINITE_BODY
__attribute__((target("avx512f,avx512bw"))) static int its_finite_avx512(const float *x,
                                                                        size_t n) ITS_FINITE_BODY
#endif

/* Finiteness of n floats of backend memory. Host memory is scanned directly; a backend with
 * its own memory answers through dot (finite in double exactly when every element is). */
static int its_eng_finite(its_engine *e, const float *x, size_t n)
{
    if (e->be != its_backend_cpu())
        return isfinite(e->be->dot(e->bs, x, x, n));
#if defined(__x86_64__) && defined(__GNUC__)
    its_rng_isa isa = its_rng_isa_active(); /* the CPU's best, capped by ITS_SIMD */
    if (isa >= ITS_RNG_ISA_AVX512)
        return its_finite_avx512(x, n);
    if (isa >= ITS_RNG_ISA_AVX2)
        return its_finite_avx2(x, n);
#endif
    return its_finite_base(x, n);
}

/* Locates the first row of a chunk holding a non-finite value. */
static size_t its_first_bad_row(its_engine *e, const float *buf, size_t rows)
{
    for (size_t i = 0; i < rows; i++)
        if (!its_eng_finite(e, buf + i * e->dim, e->dim))
            return i;
    return rows;
}

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
        e->usage.nfe += rows;
        e->usage.model_calls++;
        uint64_t call = ++e->model_call_idx; /* counted from 1 */
        if (rc != 0)
            return its_error(e->ctx, ITS_ERR_CALLBACK,
                             "model eval callback returned %d on call %llu (rows %zu..%zu of %zu, "
                             "t=%g)",
                             rc, (unsigned long long)call, a, a + rows, ps->n, m->t_model);
        if (!its_eng_finite(e, out, rows * dim)) {
            size_t bad = its_first_bad_row(e, out, rows);
            if (e->run->on_nonfinite == ITS_NONFINITE_ERROR)
                return its_error(e->ctx, ITS_ERR_NUMERIC,
                                 "model eval callback returned a non-finite value on call %llu, "
                                 "row %zu (t=%g)",
                                 (unsigned long long)call, a + bad, m->t_model);
            for (size_t i = bad; i < rows; i++) {
                float *ri = out + i * dim;
                if (!its_eng_finite(e, ri, dim)) {
                    e->be->lincomb(e->bs, ri, dim, 0.0f, NULL, 0.0f, NULL, 0.0f, NULL);
                    ps->alive[a + i] = 0;
                    ps->score[a + i] = -INFINITY;
                }
            }
        }
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
    for (size_t j = 0; j < n; j++) {
        if (idx[j] >= src->n)
            return its_error(e->ctx, ITS_ERR_INVALID, "gather index %zu outside a set of %zu",
                             idx[j], src->n);
        /* the k-th repeat of a row: count earlier repeats (n is a particle count, small). */
        uint32_t k = 0;
        for (size_t i = 0; i < j; i++)
            k += idx[i] == idx[j];
        its_eng_copy_rows(e, dst, j, src, idx[j], 1);
        dst->lineage[j] = its_lineage_child(src->lineage[idx[j]], k);
    }
    dst->n = n;
    dst->t = src->t;
    dst->has_u = src->has_u;
    dst->map_t = NAN;
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

void its_eng_record_step(its_engine *e, int step, double t, int64_t quota, int64_t used)
{
    if (e->n_step_rec == e->cap_step_rec)
        return;
    its_step_usage *s = &e->step_rec[e->n_step_rec++];
    s->step = step;
    s->t = t;
    s->quota = quota;
    s->used = used;
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
    for (size_t i = e->n_arena; i-- > 0;) {
        if (e->arena[i].latent)
            its_latent_free(e->ctx, e->arena[i].p);
        else
            its_mfree(e->ctx, e->arena[i].p);
    }
    e->n_arena = 0;
}
