/* The samplers: the method tables (one file per method), parameter validation, the cost model's
 * front end and the sampler object. The table's layout, its_method_vt, is the engine's
 * (engine/method.h). */
#ifndef ITS_SAMPLER_H
#define ITS_SAMPLER_H

#include <stddef.h>

#include "engine/method.h"
#include "itscale.h"

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
