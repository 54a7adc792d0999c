/*
 * itscale: `auto`, the method chosen for a budget from measurements (included by itscale.h).
 *
 * A policy maps NFE budget ranges to a configuration (method, parameters, the run fields the
 * method was measured with), each with the mean and standard error measured when it was tuned and
 * the runner-up. `its_tune` measures one from pilot runs on the host's model and verifier; the
 * CLI's `itscale tune` does the same on a task. An `auto` sampler reads a policy and, for each
 * request's budget, runs the entry whose range holds it, sized to that budget by the cost model.
 * Without a policy it spends a stated share of the budget on short pilots of a few methods with
 * the same seeds (successive halving) and gives the rest to the best (DESIGN.md §6).
 *
 * Thread-safety as for samplers: a policy is used by one thread at a time (its JSON is cached);
 * an `auto` sampler keeps a pointer to its own copy of the policy.
 */
#ifndef ITSCALE_AUTO_H
#define ITSCALE_AUTO_H

#include <stddef.h>
#include <stdint.h>

#include "itscale.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Policies
 * ------------------------------------------------------------------------------------------- */
typedef struct its_policy its_policy;

/* Parses and validates a policy document (README, "auto"): unknown keys, unsorted or overlapping
 * ranges, a method this build lacks or a parameter out of range are ITS_ERR_CONFIG naming the
 * JSON path ("entries[1].params.n: ..."). *out is owned by the caller (its_policy_free). */
ITS_API its_status its_policy_from_json(its_ctx *ctx, const char *json, size_t len,
                                        its_policy **out);
/* The policy as JSON (every parameter written out, so the text reads back to the same policy);
 * owned by p, valid until the next call on p or its_policy_free. NULL on allocation failure. */
ITS_API const char *its_policy_to_json(its_policy *p);
ITS_API void its_policy_free(its_policy *p);
ITS_API size_t its_policy_count(const its_policy *p); /* entries, 0 for NULL */

/* One entry, for hosts and the scheduler (strings and pointers owned by the policy). */
typedef struct its_policy_entry {
    uint64_t nfe_lo, nfe_hi;  /* the budget range, inclusive; nfe_hi = UINT64_MAX: unbounded */
    uint64_t tuned_at;        /* the budget it was measured at */
    its_method method;
    double mean, se;          /* measured score (higher is better) and its standard error */
    int n;                    /* seeds behind mean and se */
    int has_runner_up;
    its_method runner_up;
    double runner_up_mean, runner_up_se;
} its_policy_entry;

ITS_API its_status its_policy_entry_get(const its_policy *p, size_t i, its_policy_entry *out);
/* Index of the entry for a budget: the last whose nfe_lo <= budget, the first below every range.
 * ITS_ERR_INVALID for an empty policy or budget 0. */
ITS_API its_status its_policy_choose(const its_policy *p, uint64_t budget, size_t *index);
/* A sampler running entry i at `budget` NFE: the entry's method and parameters sized to the
 * budget by the cost model, run = the request's run parameters (NULL = defaults) with the
 * entry's run fields over them and max_nfe = budget. ITS_ERR_BUDGET when the budget cannot pay
 * for the entry's smallest run. */
ITS_API its_status its_policy_sampler(const its_policy *p, size_t i, uint64_t budget,
                                      const its_run_params *run, its_sampler **out);

/* Scheduler profiles from a policy, light to heavy: profile i runs entry i at its tuned budget
 * (name "auto_<NFE>", config_json the entry's configuration with run = the request's run
 * parameters under the entry's fields and max_nfe = the tuned budget, nfe = that budget). Writes
 * at most cap profiles and the count to *n; the JSON texts belong to p (valid until the next
 * call on p or its_policy_free). ITS_ERR_INVALID when cap < its_policy_count(p). */
struct its_sched_profile; /* include/itscale/sched.h */
ITS_API its_status its_policy_profiles(its_policy *p, const its_run_params *run,
                                       struct its_sched_profile *out, size_t cap, size_t *n);

/* ---------------------------------------------------------------------------------------------
 * The auto sampler
 * ------------------------------------------------------------------------------------------- */
#define ITS_AUTO_MAX_CANDIDATES 12

typedef struct its_auto_params {
    int version;                 /* 1, written by its_auto_params_init */
    /* The policy to follow (copied by its_auto_sampler_create); NULL: the online mode. */
    const its_policy *policy;
    /* Online mode: share of the budget spent on pilots, (0, 0.9]; default 0.2. */
    double pilot_share;
    /* Online mode: seeds each pilot runs (common to every candidate), 1..16; default 2. */
    int pilot_seeds;
    /* Online mode: candidate methods (sized by the cost model), 0 = the default set
     * (fk_smc, beam, best_of_n, and local_search when the verifier has a gradient). */
    int n_candidates;
    its_method candidates[ITS_AUTO_MAX_CANDIDATES];
    /* NFE per second used to turn run.deadline_ms into a budget when run.max_nfe is 0; 0 = the
     * policy's measured rate, then the rate this sampler measured on its earlier runs. */
    double nfe_per_s;
} its_auto_params;

ITS_API void its_auto_params_init(its_auto_params *p);

/* Creates an `auto` sampler. Its runs need a budget: run.max_nfe, or run.deadline_ms with an NFE
 * rate (above); ITS_ERR_BUDGET otherwise. Each result names the method that ran
 * (its_result_method, "sampler" and "config" in its JSON) and says why under "auto". With a
 * one-entry policy tuned at the request's budget the run is bit-identical to that entry's
 * sampler. JSON: {"sampler": "auto", "params": {"policy": {...}} or the online keys, "run"}. */
ITS_API its_status its_auto_sampler_create(its_ctx *ctx, const its_auto_params *p,
                                           const its_run_params *run, its_sampler **out);
/* 1 for a sampler made by its_auto_sampler_create (or from "sampler": "auto"), else 0. */
ITS_API int its_sampler_is_auto(const its_sampler *s);

/* ---------------------------------------------------------------------------------------------
 * Tuning
 * ------------------------------------------------------------------------------------------- */
/* Called after each pilot run; non-zero cancels the tuning (ITS_CANCELLED, no policy). */
typedef int (*its_tune_progress_fn)(void *user, size_t done, size_t total, const char *what);

typedef struct its_tune_params {
    int version;                  /* 1, written by its_tune_params_init */
    const uint64_t *budgets;      /* increasing NFE budgets to tune at (required) */
    size_t n_budgets;
    int seeds;                    /* seeds per finalist (K); default 8 */
    uint64_t seed;                /* tuning seeds seed .. seed + K - 1; default 1000000 */
    /* Candidate configurations as JSON documents {"sampler", "params", "run"} (no budget keys);
     * NULL: the built-in grid over every method and its main parameters. */
    const char *const *candidates;
    size_t n_candidates;
    /* Run parameters every candidate starts from (NULL = defaults); max_nfe is set per budget. */
    const its_run_params *run;
    /* 1: successive halving over the candidates (a quarter of the seeds, then the better half
     * with all of them); 0: every candidate on every seed. Default 1. */
    int halving;
    const char *label;            /* stored in the policy ("task gmm dim=256"); may be NULL */
    its_tune_progress_fn progress;
    void *progress_user;
    /* How each budget's entry is chosen among the candidates run on every seed: 0 (default) the
     * best mean; 1 the best lower bound mean - SE, which prefers a steadier candidate when two
     * means differ by less than their noise. The runner-up is ranked the same way. */
    int select;
} its_tune_params;

ITS_API void its_tune_params_init(its_tune_params *p);
/* Candidate i of the built-in grid as a JSON document (static), NULL past the last one. */
ITS_API const char *its_tune_candidate(size_t i);

/* A sampler of one candidate document {"sampler", "params", "run"} sized to nfe NFE by the cost
 * model (run = the request's run parameters under the document's, NULL = defaults), as its_tune
 * runs it. ITS_ERR_CONFIG names the document's path; ITS_ERR_BUDGET below its smallest run. */
ITS_API its_status its_tune_candidate_sampler(its_ctx *ctx, const char *json, size_t len,
                                              const its_run_params *run, uint64_t nfe,
                                              its_sampler **out);

/* What a tuning measured: per budget and candidate the mean and standard error over the seeds it
 * ran (count 0: not run at that budget, or its smallest run costs more). */
typedef struct its_tune_report {
    size_t n_budgets, n_candidates;
    const char *const *candidate_json; /* n_candidates effective configs (no budget) */
    const double *mean, *se;           /* [budget * n_candidates + candidate] */
    const int *count;
    uint64_t nfe, runs;                /* the tuning's own cost */
    double seconds;
} its_tune_report;

/* Measures the candidates at each budget on the host's model and verifier and returns the
 * policy (*out, caller frees) whose entry per budget is the best by p->select (mean, or mean -
 * SE), with the runner-up.
 * report (may be NULL) receives the measurements; they live until its_policy_free(*out). */
ITS_API its_status its_tune(its_ctx *ctx, const its_tune_params *p, const its_model *m,
                            const its_verifier *v, its_policy **out, its_tune_report *report);

#ifdef __cplusplus
}
#endif

#endif /* ITSCALE_AUTO_H */
