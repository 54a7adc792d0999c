/* `auto` (internal): policies, the auto sampler's state and the hooks the sampler front end,
 * the config layer and results call. */
#ifndef ITS_AUTO_INTERNAL_H
#define ITS_AUTO_INTERNAL_H

#include <cjson/cJSON.h>

#include "samplers/sampler.h"

/* One configuration: a method, its parameters and the run fields it was measured with. */
typedef struct its_auto_cfg {
    const its_method_vt *vt;
    void *params;            /* vt->params_size bytes, context memory */
    its_run_params run;      /* defaults with the stated fields set (grid_custom never) */
    uint32_t run_set;        /* bit i: its_run_desc()[i] is stated */
    double mean, se;         /* NaN when unmeasured */
    int n;
} its_auto_cfg;

typedef struct its_auto_entry {
    uint64_t lo, hi, tuned_at; /* hi = UINT64_MAX: unbounded */
    its_auto_cfg best, runner;
    int has_runner;
} its_auto_entry;

struct its_policy {
    its_ctx *ctx;
    char *label;             /* NULL when absent */
    double nfe_per_s;        /* 0 when absent */
    int has_tuning;
    uint64_t tune_seed, tune_nfe, tune_runs;
    int tune_seeds;
    double tune_s;
    its_auto_entry *entries;
    size_t n;
    char *json;
    /* its_tune's measurements (its_tune_report), NULL otherwise */
    char **cand_json;
    size_t n_cand, n_bud;
    double *r_mean, *r_se;
    int *r_count;
    char **prof_json;        /* its_policy_profiles' texts (n of them), NULL before */
};

/* The auto sampler's state, hung on its its_sampler. */
typedef struct its_auto {
    its_auto_params p;       /* p.policy points at `policy` */
    its_policy *policy;      /* own copy; NULL in the online mode */
    double measured_rate;    /* NFE per second of the earlier runs (0: none yet) */
    uint64_t rate_nfe;
    double rate_s;
} its_auto;

/* Applies the stated run fields of c over run (the request's). */
void its_auto_cfg_apply_run(const its_auto_cfg *c, its_run_params *run);
/* A policy copy (context memory); NULL on allocation failure. */
its_policy *its_policy_dup(its_ctx *ctx, const its_policy *p);
/* A policy as a cJSON tree (cJSON allocator); NULL on failure. */
cJSON *its_policy_to_cjson(const its_policy *p);
/* Parses a policy from a cJSON tree; path = prefix of error paths ("params.policy" or ""). */
its_status its_policy_from_cjson(its_ctx *ctx, const cJSON *root, const char *path,
                                 its_policy **out);
/* Parses one configuration {"sampler", "params", "run", "mean", "se", "n"} (with_stats: the last
 * three allowed); path names it in errors. */
its_status its_auto_cfg_parse(its_ctx *ctx, const cJSON *obj, const char *path, int with_stats,
                              uint64_t check_nfe, its_auto_cfg *c);
void its_auto_cfg_free(its_ctx *ctx, its_auto_cfg *c);
/* The configuration as {"sampler", "params", "run"} (stats when with_stats). */
cJSON *its_auto_cfg_to_cjson(const its_auto_cfg *c, int with_stats);
/* A sampler of the configuration at budget nfe, sized by the cost model (unless nfe == at, the
 * budget it was sized for), with the request's run under its stated fields. */
its_status its_auto_cfg_sampler(its_ctx *ctx, const its_auto_cfg *c, uint64_t at, uint64_t nfe,
                                const its_run_params *req, its_sampler **out);

/* ---- hooks ---- */
cJSON *its_auto_sampler_to_cjson(const its_sampler *s);



#endif
