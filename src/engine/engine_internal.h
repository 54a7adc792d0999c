/* Engine layout, shared by the engine's files (engine.c, pset.c, model_eval.c, score.c, par.c,
 * result.c). */
#ifndef ITS_ENGINE_INTERNAL_H
#define ITS_ENGINE_INTERNAL_H

#include "engine/engine.h"
#include "engine/method.h"

#define ITS_ARENA_CAP 512
#define ITS_TRACE_CAP 1024
#define ITS_WAVE_MAX 64 /* most concurrent model calls (thread-safe models) */

typedef enum its_arena_kind {
    ITS_ARENA_HEAP,    /* its_calloc */
    ITS_ARENA_LATENT,  /* its_latent_alloc; n: floats */
    ITS_ARENA_SCRATCH, /* its_scratch_alloc; n: bytes */
} its_arena_kind;

typedef struct its_arena_item {
    void *p;
    size_t n; /* the size its free function needs */
    its_arena_kind kind;
} its_arena_item;

struct its_engine {
    its_ctx *ctx;
    const its_backend_i *be;
    void *bs;
    const its_model *model;
    const its_verifier *ver;
    const its_run_params *run;
    const its_method_vt *vt;
    const void *params;
    uint64_t seed;
    size_t dim;
    const its_interp *work_ip;      /* the interpolant steps are taken in */
    const its_interp *convert_to;   /* NULL: no interpolant conversion */
    double *grid;
    int steps;
    its_plan plan;                  /* run, grid, steps and cap for the cost model */

    its_usage usage;
    double t_start;
    double deadline_s;              /* absolute, 0 = none */
    its_stop stop;
    uint64_t model_call_idx, ver_call_idx;

    /* scratch sized for the largest particle set */
    size_t scratch_rows;
    float *tbuf;                    /* host: model times */
    float *sbuf;                    /* host: verifier scores */
    uint32_t *rbuf;                 /* host: repeats per source row in a gather */
    float *in_buf;                  /* backend: scaled model input (conversion only) */
    size_t model_chunk;             /* rows per model call */
    int wave_rc[ITS_WAVE_MAX];      /* return codes of the current wave of model calls */
    size_t wave_n;
    size_t ver_chunk;

    its_pool final, look;
    double best;                    /* the trace's current value (see its_eng_offer) */
    double best_final, best_look;   /* best score offered to each pool */
    its_trace_point *trace;
    size_t n_trace;
    its_step_usage *step_rec;
    size_t n_step_rec, cap_step_rec;
    its_step_usage step_cur;        /* the open step (its_eng_step_begin), when step_open */
    uint64_t step_nfe0;             /* NFE count when it opened */
    int step_open;

    its_arena_item arena[ITS_ARENA_CAP];
    size_t n_arena;
};

/* 1 when none of n floats of backend memory is NaN or Inf (model_eval.c: a SIMD scan on the CPU
 * backend, a dot product on a backend with its own memory). */
int its_eng_finite(its_engine *e, const float *x, size_t n);

its_status its_engine_setup(its_engine *e, its_ctx *ctx, const its_method_vt *vt,
                            const void *params, const its_run_params *run, const its_model *m, const its_verifier *v,
                            uint64_t seed);
void its_engine_release(its_engine *e);

#endif
