/* The internal sampler interface: one table per method, one file per method. */
#ifndef ITS_SAMPLER_H
#define ITS_SAMPLER_H

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

/* The table of method m, or NULL when m is out of range. */
const its_method_vt *its_method_vt_get(its_method m);

/* Validates params against desc (ranges, enum values); message "params.<name>: ...". */
its_status its_params_check(its_ctx *ctx, const its_method_vt *vt, const void *params);
/* Validates run parameters; message "run.<path>: ...". */
its_status its_run_check(its_ctx *ctx, const its_run_params *run);
/* The run-parameter table (every field of its_run_params a JSON document can set). */
const its_param_desc *its_run_desc(size_t *n);
/* "integer in [1, 65536]", "number in (0, 1]", "one of \"euler\", \"heun\"", "true or false". */
void its_desc_expect(const its_param_desc *d, char *buf, size_t cap);
void its_enum_expect(const char *(*ename)(int), int emax, char *buf, size_t cap);
/* Checks the leading size and method of a host's params struct and copies it over the method's
 * defaults into buf (vt->params_size bytes). params NULL: the defaults. */
its_status its_params_load(its_ctx *ctx, const its_method_vt *vt, const void *params, void *buf);
/* The method's fit slot (or: one trajectory must fit). */
its_status its_method_fit(its_ctx *ctx, const its_method_vt *vt, const its_plan *pl,
                          void *params);
/* v clamped to the range of the method's size parameter. */
uint64_t its_size_clamp(const its_method_vt *vt, double v);
/* Fits params (a copy) to the plan's cap and fills the cost. */
its_status its_method_cost(its_ctx *ctx, const its_method_vt *vt, const its_plan *pl,
                           void *params, its_cost *out);

/* int-typed name functions for the enum tables (ITS_PT_ENUM). */
const char *its_stall_name_i(int v);
const char *its_potential_name_i(int v);
const char *its_resampler_name_i(int v);
const char *its_bfs_mode_name_i(int v);
const char *its_dfs_rule_name_i(int v);
const char *its_ls_schedule_name_i(int v);
const char *its_finish_name_i(int v);
const char *its_budget_policy_name_i(int v);

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

/* Every method's table. */
extern const its_method_vt its_vt_none, its_vt_best_of_n, its_vt_zero_order,
    its_vt_search_over_paths, its_vt_beam, its_vt_svdd, its_vt_code, its_vt_fk_smc, its_vt_bfs,
    its_vt_dfs, its_vt_local_search, its_vt_rbf;


/* A sampler that a layer above drives itself (`auto`, src/auto): its_generate, its_sampler_free
 * and its_sampler_to_json hand it to these slots (none may be NULL). */
typedef struct its_sampler_ops {
    its_status (*generate)(its_sampler *s, const its_model *m, const its_verifier *v,
                           uint64_t seed, its_result **out);
    void (*release)(its_sampler *s);  /* frees ops_state */
    char *(*to_json)(its_sampler *s); /* the effective configuration, context memory */
} its_sampler_ops;

/* A sampler: a method with its parameters and run parameters (copies). */
struct its_sampler {
    its_ctx *ctx;
    const its_method_vt *vt;
    void *params;               /* params_size bytes */
    its_run_params run;         /* grid_custom points at grid_custom_copy */
    double *grid_custom_copy;
    char *json;                 /* cached its_sampler_to_json */
    const its_sampler_ops *ops; /* NULL for a method; else the layer that drives it */
    void *ops_state;
};

#endif
