/* The internal sampler interface: one table per method, one file per method. */
#ifndef ITS_SAMPLER_H
#define ITS_SAMPLER_H

#include <stddef.h>

#include "engine/engine.h"

/* One parameter of a method's params struct: the single source for validation, JSON, the CLI's
 * listing and the README's tables. */
typedef enum { ITS_PT_INT = 0, ITS_PT_DOUBLE, ITS_PT_BOOL, ITS_PT_ENUM } its_ptype;

typedef struct its_param_desc {
    const char *name;
    its_ptype type;
    size_t offset;                       /* in the params struct */
    double min, max;                     /* inclusive range (int, double) */
    const char *(*ename)(int v);         /* ITS_PT_ENUM: names of 0 .. emax-1 */
    int emax;
    const char *doc;
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
} its_method_vt;

/* The table of method m, or NULL when m is out of range. */
const its_method_vt *its_method_vt_get(its_method m);

/* Validates params against desc (ranges, enum values); message "params.<name>: ...". */
its_status its_params_check(its_ctx *ctx, const its_method_vt *vt, const void *params);
/* Validates run parameters; message "run.<field>: ...". */
its_status its_run_check(its_ctx *ctx, const its_run_params *run);

/* int-typed name functions for the enum tables (ITS_PT_ENUM). */
const char *its_stall_name_i(int v);
const char *its_potential_name_i(int v);
const char *its_resampler_name_i(int v);
const char *its_bfs_mode_name_i(int v);
const char *its_ls_schedule_name_i(int v);
const char *its_finish_name_i(int v);
const char *its_budget_policy_name_i(int v);

#define ITS_P_INT(type, field, lo, hi, doc) \
    {#field, ITS_PT_INT, offsetof(type, field), lo, hi, NULL, 0, doc}
#define ITS_P_DBL(type, field, lo, hi, doc) \
    {#field, ITS_PT_DOUBLE, offsetof(type, field), lo, hi, NULL, 0, doc}
#define ITS_P_BOOL(type, field, doc) {#field, ITS_PT_BOOL, offsetof(type, field), 0, 1, NULL, 0, doc}
#define ITS_P_ENUM(type, field, enm, count, doc) \
    {#field, ITS_PT_ENUM, offsetof(type, field), 0, (count) - 1, enm##_name_i, count, doc}

/* Every method's table. */
extern const its_method_vt its_vt_none, its_vt_best_of_n, its_vt_zero_order,
    its_vt_search_over_paths, its_vt_beam, its_vt_svdd, its_vt_code, its_vt_fk_smc, its_vt_bfs,
    its_vt_dfs, its_vt_local_search, its_vt_rbf;


/* A sampler: a method with its parameters and run parameters (copies). */
struct its_sampler {
    its_ctx *ctx;
    const its_method_vt *vt;
    void *params;               /* params_size bytes */
    its_run_params run;         /* grid_custom points at grid_custom_copy */
    double *grid_custom_copy;
    char *json;                 /* cached its_sampler_to_json */
};

#endif
