/* The method interface: the table through which the engine drives a method (one per method,
 * defined in src/samplers/), the descriptors of a method's parameters, and the engine entry
 * points the layer that runs methods (its_generate) calls. It lives with the engine that
 * drives it; the samplers implement it. */
#ifndef ITS_ENGINE_METHOD_H
#define ITS_ENGINE_METHOD_H

#include <stddef.h>

#include "engine/engine.h"
#include "itscale.h"

/* One parameter: of a method's params struct, or of its_run_params (name = the JSON path under
 * "run"). The single source for validation, JSON, the public metadata (its_param_info), the
 * CLI's listing and the README's tables. */
typedef enum {
    ITS_PT_INT = 0,   /* int field */
    ITS_PT_DOUBLE,
    ITS_PT_BOOL,      /* int 0/1 */
    ITS_PT_ENUM,      /* int-sized enum, names through ename */
    ITS_PT_U64,       /* uint64_t field (run budgets) */
    ITS_PT_GRID,      /* run.grid_custom: steps + 1 times */
    ITS_PT_INTERP     /* run.interp: "model", a kind name, or {"kind", parameters} */
} its_ptype;

typedef struct its_param_desc {
    union {
        const char *name;
        const char *path; /* the same, for run parameters */
    };
    its_ptype type;
    size_t offset;                       /* in the params struct or its_run_params */
    double min, max;                     /* inclusive range, min excluded when min_open */
    const char *(*ename)(int v);         /* ITS_PT_ENUM: names of 0 .. emax-1 */
    int emax;
    const char *doc;
    int min_open;
    int size_param;                      /* the parameter its_cost_fit scales */
} its_param_desc;

typedef struct its_method_vt {
    its_method method;
    size_t params_size;
    void (*params_init)(void *p);
    const its_param_desc *desc;
    size_t n_desc;
    /* Cross-field checks beyond the ranges of desc (may be NULL); message names the field. */
    its_status (*check)(its_ctx *ctx, const void *params, const its_run_params *run);
    int needs_verifier;
    int needs_grad;      /* 1: always; 2: only when the params ask for local search */
    int (*wants_grad)(const void *params); /* with needs_grad == 2 */
    its_status (*run)(its_engine *e, const void *params);
    const char *summary;
    int no_lookahead;    /* 1: the method never reads x0, so the engine skips computing it */
    size_t params_size_v1; /* size of the first published struct (older hosts); 0 = params_size */
    /* Cost model (each may be NULL: the method runs one trajectory of one particle and has no
     * size to fit).
     * fit: shrinks params to pl->cap as the method does under a small cap (idempotent);
     *      ITS_ERR_BUDGET with a message below the minimum. The engine calls it before run.
     * plan: the most NFE the fitted params spend.
     * minimum: the least cap the params run with (0: needs none).
     * scale: sets the size parameter for a budget of nfe NFE (clamped to its range). */
    its_status (*fit)(its_ctx *ctx, const its_plan *pl, void *params);
    uint64_t (*plan)(const its_plan *pl, const void *params);
    uint64_t (*minimum)(const its_plan *pl, const void *params);
    void (*scale)(const its_plan *pl, void *params, uint64_t nfe);
    int needs_cap;       /* 1 or via needs_cap_fn: sizes itself from run.max_nfe */
    int (*needs_cap_fn)(const void *params);
    const char *scale_rule;
} its_method_vt;

#define ITS_P_INT(type, field, lo, hi, doc) \
    {{#field}, ITS_PT_INT, offsetof(type, field), lo, hi, NULL, 0, doc, 0, 0}
/* The method's size parameter (what its_cost_fit scales). */
#define ITS_P_SIZE(type, field, lo, hi, doc) \
    {{#field}, ITS_PT_INT, offsetof(type, field), lo, hi, NULL, 0, doc, 0, 1}
#define ITS_P_DBL(type, field, lo, hi, doc) \
    {{#field}, ITS_PT_DOUBLE, offsetof(type, field), lo, hi, NULL, 0, doc, 0, 0}
#define ITS_P_BOOL(type, field, doc) \
    {{#field}, ITS_PT_BOOL, offsetof(type, field), 0, 1, NULL, 0, doc, 0, 0}
#define ITS_P_ENUM(type, field, enm, count, doc) \
    {{#field}, ITS_PT_ENUM, offsetof(type, field), 0, (count) - 1, enm##_name_i, count, doc, 0, 0}
#define ITS_P_U64(type, field, lo, hi, doc) \
    {{#field}, ITS_PT_U64, offsetof(type, field), lo, hi, NULL, 0, doc, 0, 0}

/* ---- running a method ---- */
/* An engine for one run of vt with params and run (kept by pointer, they must outlive it) on m
 * and v. Free with its_engine_free. */
its_status its_engine_create(its_ctx *ctx, const its_method_vt *vt, const void *params,
                             const its_run_params *run, const its_model *m,
                             const its_verifier *v, uint64_t seed, its_engine **out);
void its_engine_free(its_engine *e);
/* Builds the result after the method returned st (ITS_OK, ITS_STOP_ or ITS_CANCELLED). */
its_status its_engine_result(its_engine *e, its_status st, its_result **out);

#endif
