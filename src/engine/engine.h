/* The engine: particles, batched model and verifier calls, budget accounting, lineage-keyed
 * noise, the anytime trace and the result pools. A sampler is a policy over particle sets; it
 * never calls a host callback, draws noise or counts NFE itself.
 *
 * Every engine function returns ITS_OK, an error (message already on the context), or
 * ITS_STOP_ (the run must wind down: NFE cap, deadline or cancellation). Samplers propagate
 * anything that is not ITS_OK with ITS_TRY; the engine then returns the best so far. */
#ifndef ITS_ENGINE_H
#define ITS_ENGINE_H

#include <stdint.h>

#include "core/core.h"
#include "dynamics/dynamics.h"

/* Internal: wind down and return the best so far. Never returned to a host (the engine maps it to
 * ITS_OK or ITS_CANCELLED), and kept well outside the public its_status range (-8..1 today) so a
 * status added to the public enum cannot collide with it. 100 fits any enum representation. */
#define ITS_STOP_VALUE_ 100
#define ITS_STOP_ ((its_status)ITS_STOP_VALUE_)
_Static_assert(ITS_STOP_VALUE_ > ITS_CANCELLED && ITS_STOP_VALUE_ <= 127,
               "ITS_STOP_ must stay outside the public its_status range");

/* Noise purposes: stream = purpose << 24 | tick (tick < 2^24). */
enum {
    ITS_NOISE_INIT = 1,    /* initial noise at t_max */
    ITS_NOISE_STEP = 2,    /* SDE step noise; tick = grid index of the step's start */
    ITS_NOISE_RENOISE = 3, /* forward re-noising */
    ITS_NOISE_DIR = 4,     /* random directions (zero-order search) */
    ITS_NOISE_HOST = 5,    /* host-side uniforms (resampling, selection) */
    ITS_NOISE_METHOD = 6   /* first purpose free for a method's own use */
};

/* A particle set: rows of latents that share one working time t. */
typedef struct its_pset {
    size_t cap, n, dim;
    float *x;                /* cap x dim: current latents (backend memory) */
    float *u;                /* cap x dim: working velocity at t (valid when has_u) */
    float *x0;               /* cap x dim: Tweedie look-ahead at t (valid when has_u) */
    float *w;                /* cap x dim work buffer (ITS_PSET_WORK), else NULL */
    float *g;                /* cap x dim verifier gradient (ITS_PSET_GRAD), else NULL */
    uint64_t *lineage;       /* host */
    double *score;           /* host: last verifier score of each row */
    unsigned char *alive;    /* host: 0 once a row was dropped (on_nonfinite = drop) */
    double t;
    int has_u;
    /* cached evaluation map at map_t */
    double map_t;
    its_evalmap map;
} its_pset;

enum { ITS_PSET_WORK = 1, ITS_PSET_GRAD = 2 };

typedef struct its_pool {
    size_t k, n;
    float *rows;            /* k x dim backend memory */
    double *score;
    uint64_t *nfe;          /* NFE when found */
} its_pool;

typedef struct its_engine its_engine;

/* The plan of a run: what the cost model needs to know (the engine keeps one). */
typedef struct its_plan {
    const its_run_params *run;
    const double *grid;                  /* steps + 1 times */
    int steps;
    uint64_t cap;                        /* run->max_nfe, 0 = none */
} its_plan;

/* NFE of one evaluation of every row from t to s (1, or 2 for a Heun step that does not end at
 * 0), and of one trajectory from grid index k0 to the end. */
int its_plan_nfe_per_step(const its_plan *pl, double t, double s);
uint64_t its_plan_trajectory(const its_plan *pl, int k0);
/* ITS_ERR_BUDGET naming the method when the plan's cap is below need. */
its_status its_plan_require(its_ctx *ctx, const its_plan *pl, its_method m, uint64_t need,
                            const char *what);
/* Builds the plan of run (its grid into gridbuf, steps + 1 doubles). */
its_status its_plan_init(its_ctx *ctx, its_plan *pl, const its_run_params *run, double *gridbuf);


/* ---- run facts ---- */
its_ctx *its_eng_ctx(its_engine *e);
size_t its_eng_dim(const its_engine *e);
int its_eng_steps(const its_engine *e);
const double *its_eng_grid(const its_engine *e);        /* steps + 1 times, t_0 = t_max, t_T = 0 */
const its_run_params *its_eng_run(const its_engine *e);
uint64_t its_eng_seed(const its_engine *e);
uint64_t its_eng_nfe(const its_engine *e);
uint64_t its_eng_max_nfe(const its_engine *e);          /* 0 = none */
uint64_t its_eng_nfe_left(const its_engine *e);         /* UINT64_MAX when no cap */
/* NFE of one evaluation of every row at one time (1, or 2 for a Heun step). */
int its_eng_nfe_per_step(const its_engine *e, double t, double s);
/* NFE one trajectory of `rows` particles costs from grid index k0 to the end. */
uint64_t its_eng_trajectory_nfe(const its_engine *e, int k0);
int its_eng_has_grad(const its_engine *e);
int its_eng_has_verifier(const its_engine *e);
/* The interpolant steps are taken in (the conversion target when run.convert is set). */
const its_interp *its_eng_interp(const its_engine *e);

/* The plan (run, grid, cap) the cost model reads, and the method being run. */
const its_plan *its_eng_plan(const its_engine *e);
its_method its_eng_method(const its_engine *e);

/* ITS_ERR_BUDGET with a message when need > max_nfe. */
its_status its_eng_require_nfe(its_engine *e, uint64_t need, const char *what);

/* ---- memory (freed when the run ends; never call these inside a per-step loop) ---- */
void *its_eng_alloc(its_engine *e, size_t bytes);           /* zeroed host memory */
/* Zeroed host memory handed to callbacks (times, scores): handed to the context's keep list
 * after the run (kept within its cap and minimum, its_ctx_set_latent_cache_min), so that the
 * next run of the same shape can hand the host the same addresses. */
void *its_eng_hostbuf(its_engine *e, size_t bytes);
float *its_eng_latents(its_engine *e, size_t rows);         /* rows x dim backend memory */
its_status its_eng_pset(its_engine *e, its_pset *ps, size_t cap, int flags);
its_status its_eng_pool(its_engine *e, its_pool *p, size_t k);

/* ---- particles ---- */
/* Sets lineage[r] = its_lineage_root(first + r - r0) for rows [r0, r1). */
void its_eng_roots(its_engine *e, its_pset *ps, size_t r0, size_t r1, uint64_t first);
/* x = sigma(t) * N(0, I) keyed by each row's lineage; sets ps->t (all rows share it). */
its_status its_eng_init_noise(its_engine *e, its_pset *ps, size_t r0, size_t r1, double t);
/* Model evaluation of rows [r0, r1) at ps->t: u and x0 of those rows. Charges NFE. */
its_status its_eng_eval(its_engine *e, its_pset *ps, size_t r0, size_t r1);
/* The same with row r at time row_t[r] instead of ps->t (rows of different times in one call). */
its_status its_eng_eval_at(its_engine *e, its_pset *ps, size_t r0, size_t r1, const double *row_t);
/* Advances every row from ps->t to s with the run's solver and dynamics; needs has_u. Heun
 * evaluates the model again (charged). The SDE noise of row r is keyed by (lineage[r], tick). */
its_status its_eng_step(its_engine *e, its_pset *ps, double s, uint32_t tick);
/* Child row j of `child` (rows c0 + j) = one step from parent row pidx[j] to s with the noise of
 * lineage its_lineage_child(parent lineage, cidx[j]). Parent needs has_u. child->t = s. */
its_status its_eng_branch(its_engine *e, const its_pset *parent, const size_t *pidx,
                          const uint32_t *cidx, its_pset *child, size_t c0, size_t n, double s,
                          uint32_t tick);
/* x = a x + b eps: re-noise every row from ps->t up to tf (DESIGN.md §4.2). */
its_status its_eng_renoise(its_engine *e, its_pset *ps, double tf, uint32_t tick);
/* dst rows [0, n) = src rows idx[j] (x, u, x0, score, alive); the k-th repeat of a source row
 * gets lineage its_lineage_child(lineage, k). dst takes src's t and has_u. dst != src. */
its_status its_eng_gather(its_engine *e, its_pset *dst, const its_pset *src, const size_t *idx,
                          size_t n);
/* Plain row copy, lineage kept. */
void its_eng_copy_rows(its_engine *e, its_pset *dst, size_t dr, const its_pset *src, size_t sr,
                       size_t n);

/* ---- verifier ---- */
typedef enum {
    ITS_SCORE_LOOKAHEAD = 0, /* x0 rows: Tweedie estimates along the way (anytime candidates) */
    ITS_SCORE_FINAL = 1,     /* x rows: samples at t = 0, the method's outputs */
    ITS_SCORE_FINAL_X0 = 2   /* x0 rows taken as the method's outputs (finish = tweedie) */
} its_score_what;
/* Scores rows [r0, r1) of x0 (LOOKAHEAD, FINAL_X0) or x (FINAL) and offers them to the result:
 * LOOKAHEAD rows are candidates only when the run stops before any output, FINAL and FINAL_X0
 * rows are outputs. Writes ps->score. Charges verifier rows. Without a verifier, outputs get NaN
 * scores. */
its_status its_eng_score(its_engine *e, its_pset *ps, size_t r0, size_t r1, its_score_what what);
/* Offers rows of ps->x0 (LOOKAHEAD, FINAL_X0) or ps->x (FINAL) with their current scores to the result,
 * without calling the verifier. */
void its_eng_offer(its_engine *e, const its_pset *ps, size_t r0, size_t r1, its_score_what what);
/* Verifier gradient at x0 of rows [r0, r1) into ps->g (needs ITS_PSET_GRAD) and ps->score. */
its_status its_eng_grad(its_engine *e, its_pset *ps, size_t r0, size_t r1);

/* ---- row vector math and randomness for methods ---- */
float *its_eng_row(const its_pset *ps, float *buf, size_t r); /* buf + r * dim */
void its_eng_lincomb(its_engine *e, float *out, float a, const float *x, float b, const float *y,
                     float c, const float *z);               /* one row (dim floats) */
void its_eng_noise(its_engine *e, float *out, float a, const float *x, float c, uint64_t lineage,
                   uint32_t purpose, uint32_t tick);          /* out = a x + c N(0,I) */
double its_eng_dot(its_engine *e, const float *x, const float *y);
/* n uniforms in (0, 1) for host decisions, keyed by (purpose, tick). */
void its_eng_uniform(its_engine *e, double *out, size_t n, uint32_t purpose, uint32_t tick);

/* ---- per-step records (the result's steps) ----
 * A method brackets each step of its own schedule (a grid step, a selection round, a search
 * iteration) with begin and end; the engine counts the NFE spent in between. quota: what an
 * allocator granted the step, -1 when none did. A step that is opened and never closed (the run
 * stopped inside it) leaves no record; opening a step closes none (its NFE so far are dropped). */
void its_eng_step_begin(its_engine *e, int step, double t, int64_t quota);
/* Closes the open step and returns the NFE spent since its begin (0 when none is open). The
 * first close of a step number appends its record; closing it again (a search that backs up to
 * a step it already left) adds the NFE to that record. */
uint64_t its_eng_step_end(its_engine *e);
/* Adds quota and used NFE to the record of step (appended when it has none yet), for a method
 * whose model calls mix rows of several steps, so that no begin/end pair can separate them
 * (rbf's chains out of step count each chain's rows per step). Every other method uses the
 * pair. */
void its_eng_step_add(its_engine *e, int step, double t, int64_t quota, int64_t used);
its_status its_eng_check(its_engine *e); /* deadline and cancellation between phases */

#endif
