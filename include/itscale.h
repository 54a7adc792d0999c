/*
 * itscale — inference-time scaling for diffusion and flow models.
 *
 * The host supplies a model-step callback (one network evaluation on a batch of latents) and a
 * verifier callback (scores samples); itscale owns the sampler math, the search, the budget, the
 * batching, deterministic noise and the accounting.
 *
 * Conventions: time t in [0, 1], t = 1 is noise, t = 0 is data; x_t = alpha(t)*x0 + sigma(t)*eps.
 * Latents are float32, row-major, n x dim. NFE = one row of one model evaluation.
 * Every function that can fail returns an its_status; the message is its_ctx_errmsg(ctx).
 * Free functions accept NULL. Nothing here aborts, exits or prints.
 */
#ifndef ITSCALE_H
#define ITSCALE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ITS_VERSION_MAJOR 0
#define ITS_VERSION_MINOR 1
#define ITS_VERSION_PATCH 0
#define ITS_VERSION_STRING "0.1.0"
#define ITS_VERSION_NUMBER (ITS_VERSION_MAJOR * 10000 + ITS_VERSION_MINOR * 100 + ITS_VERSION_PATCH)

#if defined(_WIN32) && defined(ITS_SHARED_BUILD)
#define ITS_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define ITS_API __attribute__((visibility("default")))
#else
#define ITS_API
#endif

/* ---------------------------------------------------------------------------------------------
 * Status codes
 * ------------------------------------------------------------------------------------------- */
typedef enum its_status {
    ITS_OK = 0,
    ITS_ERR_INVALID = -1,     /* a bad argument: NULL, out of range, inconsistent */
    ITS_ERR_NOMEM = -2,       /* an allocation failed */
    ITS_ERR_CALLBACK = -3,    /* a host callback returned non-zero */
    ITS_ERR_NUMERIC = -4,     /* NaN or Inf where a finite number was needed */
    ITS_ERR_BUDGET = -5,      /* the budget cannot pay for the smallest run of the method */
    ITS_ERR_CONFIG = -6,      /* malformed or invalid JSON configuration */
    ITS_ERR_UNSUPPORTED = -7, /* the combination asked for is not supported */
    ITS_ERR_IO = -8,          /* a file could not be read or written */
    ITS_CANCELLED = 1         /* the progress callback or the cancel flag asked to stop; best-so-far is returned */
} its_status;

/* Static name of a status ("ITS_ERR_BUDGET"); never NULL. */
ITS_API const char *its_status_str(its_status s);

ITS_API const char *its_version(void);       /* "0.1.0" */
ITS_API int its_version_number(void);        /* ITS_VERSION_NUMBER of the built library */

/* ---------------------------------------------------------------------------------------------
 * Enumerations. Each has its_<enum>_name() (static string, NULL when out of range) and
 * its_<enum>_parse() (exact, case-sensitive; ITS_ERR_INVALID on an unknown name).
 * ------------------------------------------------------------------------------------------- */
typedef enum its_interp_kind {
    ITS_INTERP_LINEAR = 0, /* rectified flow: alpha = 1 - t, sigma = t */
    ITS_INTERP_VP,         /* VP-SDE, linear beta: alpha = exp(-T/2), sigma = sqrt(1 - exp(-T)) */
    ITS_INTERP_VP_COSINE,  /* cosine schedule, alpha = cos(pi/2 (t+s)/(1+s)) / cos(pi/2 s/(1+s)) */
    ITS_INTERP_VE,         /* alpha = 1, sigma geometric from sigma_min to sigma_max */
    ITS_INTERP_CUSTOM,     /* four host functions */
    ITS_INTERP_COUNT_
} its_interp_kind;

typedef enum its_pred {
    ITS_PRED_VELOCITY = 0, /* u = alpha' x0 + sigma' eps */
    ITS_PRED_EPS,
    ITS_PRED_X0,
    ITS_PRED_SCORE,        /* grad log p_t = -eps / sigma */
    ITS_PRED_COUNT_
} its_pred;

typedef enum its_solver { ITS_SOLVER_EULER = 0, ITS_SOLVER_HEUN, ITS_SOLVER_COUNT_ } its_solver;

typedef enum its_dynamics { ITS_DYN_ODE = 0, ITS_DYN_SDE, ITS_DYN_COUNT_ } its_dynamics;

/* Diffusion coefficient g(t) of the SDE (DESIGN.md §4.2); c = scale. */
typedef enum its_g_schedule {
    ITS_G_CONSTANT = 0, /* c */
    ITS_G_SIGMA,        /* c * sigma(t) */
    ITS_G_LINEAR,       /* c * t */
    ITS_G_SQUARE,       /* c * t^2 */
    ITS_G_SIN,          /* c * sin(pi t / 2) */
    ITS_G_COUNT_
} its_g_schedule;

typedef enum its_grid {
    ITS_GRID_UNIFORM = 0, /* t_i = t_max (1 - i/T) */
    ITS_GRID_SHIFTED,     /* uniform then t' = s t / (1 + (s - 1) t), s = grid_shift */
    ITS_GRID_EXP,         /* uniform tau_i mapped by r = sqrt(1 - (1 - tau)^2) (RBF) */
    ITS_GRID_CUSTOM,      /* host array of steps + 1 decreasing times ending at 0 */
    ITS_GRID_COUNT_
} its_grid;

typedef enum its_method {
    ITS_METHOD_NONE = 0,
    ITS_METHOD_BEST_OF_N,
    ITS_METHOD_ZERO_ORDER,
    ITS_METHOD_SEARCH_OVER_PATHS,
    ITS_METHOD_BEAM,
    ITS_METHOD_SVDD,
    ITS_METHOD_CODE,
    ITS_METHOD_FK_SMC,
    ITS_METHOD_BFS,
    ITS_METHOD_DFS,
    ITS_METHOD_LOCAL_SEARCH,
    ITS_METHOD_RBF,
    ITS_METHOD_COUNT_
} its_method;

/* What to do when a callback produces NaN or Inf (a verifier's -inf is always allowed). */
typedef enum its_nonfinite {
    ITS_NONFINITE_ERROR = 0, /* stop with ITS_ERR_NUMERIC naming the callback, call and row */
    ITS_NONFINITE_DROP,      /* drop that particle (score -inf) where the method allows */
    ITS_NONFINITE_COUNT_
} its_nonfinite;

/* Why a run ended. */
typedef enum its_stop {
    ITS_STOP_COMPLETED = 0, /* the method ran to its end */
    ITS_STOP_NFE_CAP,       /* the hard NFE cap was reached; best so far returned */
    ITS_STOP_DEADLINE,      /* deadline_ms passed; best so far returned */
    ITS_STOP_CANCELLED,     /* the progress callback returned non-zero, or the cancel flag was set */
    ITS_STOP_VERIFIER_CAP,  /* the verifier-row cap (max_verifier_rows) was reached; best so far */
    ITS_STOP_COUNT_
} its_stop;

typedef enum its_log_level {
    ITS_LOG_ERROR = 0, ITS_LOG_WARN, ITS_LOG_INFO, ITS_LOG_DEBUG, ITS_LOG_COUNT_
} its_log_level;

ITS_API const char *its_interp_kind_name(its_interp_kind v);
ITS_API its_status its_interp_kind_parse(const char *s, its_interp_kind *out);
ITS_API const char *its_pred_name(its_pred v);
ITS_API its_status its_pred_parse(const char *s, its_pred *out);
ITS_API const char *its_solver_name(its_solver v);
ITS_API its_status its_solver_parse(const char *s, its_solver *out);
ITS_API const char *its_dynamics_name(its_dynamics v);
ITS_API its_status its_dynamics_parse(const char *s, its_dynamics *out);
ITS_API const char *its_g_schedule_name(its_g_schedule v);
ITS_API its_status its_g_schedule_parse(const char *s, its_g_schedule *out);
ITS_API const char *its_grid_name(its_grid v);
ITS_API its_status its_grid_parse(const char *s, its_grid *out);
ITS_API const char *its_method_name(its_method v);
ITS_API its_status its_method_parse(const char *s, its_method *out);
ITS_API const char *its_nonfinite_name(its_nonfinite v);
ITS_API its_status its_nonfinite_parse(const char *s, its_nonfinite *out);
ITS_API const char *its_stop_name(its_stop v);
ITS_API its_status its_stop_parse(const char *s, its_stop *out);
ITS_API const char *its_log_level_name(its_log_level v);
ITS_API its_status its_log_level_parse(const char *s, its_log_level *out);

/* ---------------------------------------------------------------------------------------------
 * Interpolants: x_t = alpha(t) x0 + sigma(t) eps
 * ------------------------------------------------------------------------------------------- */
typedef struct its_interp {
    its_interp_kind kind;
    double beta_min, beta_max;   /* vp: 0.1, 20 */
    double sigma_min, sigma_max; /* ve: 0.002, 80 */
    double cosine_s;             /* vp_cosine offset: 0.008 */
    /* custom: all four required; derivatives with respect to t. */
    double (*alpha)(void *user, double t);
    double (*sigma)(void *user, double t);
    double (*dalpha)(void *user, double t);
    double (*dsigma)(void *user, double t);
    void *user;
} its_interp;

/* Writes the defaults of that kind (custom: function pointers NULL, to be set by the host). */
ITS_API void its_interp_init(its_interp *ip, its_interp_kind kind);

/* out = {alpha, sigma, alpha', sigma'} at t. ITS_ERR_INVALID for a bad interpolant or t outside
 * [0, 1], ITS_ERR_NUMERIC when a custom function returns a non-finite value. */
ITS_API its_status its_interp_eval(const its_interp *ip, double t, double out[4]);

/* Coefficients (cx, cp) such that to = cx * x + cp * from, at time t (DESIGN.md §4.1: every conversion
 * is linear in x and the prediction). ITS_ERR_NUMERIC where it is singular (e.g. x0 from eps at
 * alpha = 0). */
ITS_API its_status its_pred_coeffs(const its_interp *ip, double t, its_pred from, its_pred to,
                                   double *cx, double *cp);

/* ---------------------------------------------------------------------------------------------
 * Context: allocator, logger, backend, last error. A context is used by one thread at a time;
 * distinct contexts are independent.
 * ------------------------------------------------------------------------------------------- */
typedef struct its_allocator {
    /* alloc returns memory aligned to align (a power of two >= sizeof(void*)) or NULL.
     * Both NULL: the C library's aligned allocation. */
    void *(*alloc)(void *opaque, size_t size, size_t align);
    void (*free)(void *opaque, void *ptr);
    void *opaque;
} its_allocator;

typedef void (*its_log_fn)(void *user, its_log_level level, const char *msg);

struct its_backend_i;

#define ITS_CTX_PARAMS_V1 1
typedef struct its_ctx_params {
    int version;                           /* ITS_CTX_PARAMS_V1 */
    its_allocator allocator;               /* default: C library */
    its_log_fn log;                        /* NULL: silent */
    void *log_user;
    its_log_level log_level;               /* default ITS_LOG_WARN */
    /* Threads for the engine's vector work, 0..1024; default 1, 0 means 1. n > 1 starts n - 1
     * worker threads with the context (its_ctx_free joins them) that, with the calling thread,
     * split the per-row noise of SDE steps, branching and re-noising (whole rows) and large
     * element-wise steps and prediction conversions (contiguous chunks), above about 64 K
     * normals or 256 K floats per pass. CPU backend only: with another backend no worker
     * starts. Results are bit-identical for every n. Model and verifier callbacks are called
     * on the calling thread, except a thread_safe model's (its_model.thread_safe); a single-row
     * noise step stays on one thread. */
    int n_threads;
    const struct its_backend_i *backend;   /* NULL: the CPU/BLAS backend */
    void *backend_state;                   /* passed to every backend slot */
} its_ctx_params;

typedef struct its_ctx its_ctx;

ITS_API void its_ctx_params_init(its_ctx_params *p);
/* Creates a context; *out is set on success, NULL otherwise. p may be NULL (defaults). */
ITS_API its_status its_ctx_create(const its_ctx_params *p, its_ctx **out);
ITS_API void its_ctx_free(its_ctx *ctx);
/* The last error's message with detail ("" after success); owned by ctx, valid until the next
 * call on ctx. NULL ctx: why the last its_ctx_create on this thread failed (also sent to
 * params.log at ITS_LOG_ERROR), else "no context". */
ITS_API const char *its_ctx_errmsg(const its_ctx *ctx);
ITS_API its_status its_ctx_errcode(const its_ctx *ctx);
/* Memory from the context's allocator (for strings the library returns); NULL-safe free. */
ITS_API void its_ctx_mem_free(its_ctx *ctx, void *ptr);
/* Latent buffers of 64 KiB or more that a run frees are kept on the context, up to `bytes` in
 * all (at most 32 blocks, oldest dropped first), and reused by a later run that needs the same
 * size, so repeated runs on one context do not map and fault in fresh pages (outputs are the
 * same either way). Default: 64 MiB on the CPU backend, 0 (off) on a host backend; a host
 * backend that turns it on gets its free slot called from here and from its_ctx_free as well
 * as at the end of a run. What is kept is bounded by `bytes` and the 32 blocks only: runs of
 * different shapes leave blocks of different sizes, which stay until they are the oldest. 0
 * frees the kept blocks and keeps none from then on; its_ctx_free frees them too. */
ITS_API its_status its_ctx_set_latent_cache(its_ctx *ctx, size_t bytes);
/* The smallest block the latent cache keeps, for latent blocks and for the host buffers a run
 * hands to callbacks (model times, verifier scores) alike: 64 KiB by default (the heap serves
 * smaller ones without fresh pages). A host that wraps the memory it is handed (a Python view
 * per address, a pinned-memory registration) sets 0: every such block is then kept, and the
 * next run of the same configuration hands the callbacks the same addresses (within the cap
 * and the 32 blocks). Kept blocks below a new minimum are freed. */
ITS_API its_status its_ctx_set_latent_cache_min(its_ctx *ctx, size_t min_bytes);

/* ---------------------------------------------------------------------------------------------
 * Host callbacks
 * ------------------------------------------------------------------------------------------- */
#define ITS_MODEL_V1 1
#define ITS_MODEL_V2 2 /* adds eval_dim */
typedef struct its_model {
    int version;        /* ITS_MODEL_V2 (its_model_init); ITS_MODEL_V1 structs still work */
    size_t dim;         /* floats per sample */
    its_pred pred;      /* what eval writes */
    its_interp interp;  /* the interpolant the model was trained on */
    size_t max_batch;   /* most rows per eval call; 0 = any */
    int thread_safe;    /* 1: eval may run concurrently on disjoint rows; with n_threads > 1 the
                         * engine then makes up to n_threads calls at once (results, errors and
                         * accounting as if sequential; not while converting interpolants) */
    /* One network evaluation: x and out are n x dim (backend memory), t holds n times in [0,1].
     * Returns 0 on success; anything else aborts the run with ITS_ERR_CALLBACK. */
    int (*eval)(void *user, const float *x, const float *t, size_t n, float *out);
    void *user;
    /* ITS_MODEL_V2: the same evaluation with the row width passed in, so a host need not carry
     * dim through user. Set eval or eval_dim; when both are set eval_dim is called. */
    int (*eval_dim)(void *user, const float *x, const float *t, size_t n, size_t dim,
                    float *out);
} its_model;

#define ITS_VERIFIER_V1 1
#define ITS_VERIFIER_V2 2 /* adds score_dim, grad_dim */
typedef struct its_verifier {
    int version;        /* ITS_VERIFIER_V2 (its_verifier_init); ITS_VERIFIER_V1 structs work */
    size_t max_batch;   /* most rows per call; 0 = any */
    /* Scores n samples (higher is better, -inf rejects, NaN is an error). Returns 0 on success. */
    int (*score)(void *user, const float *x0, size_t n, float *scores);
    /* Optional (NULL): gradient of the score with respect to x0 (n x dim) and the scores. */
    int (*grad)(void *user, const float *x0, size_t n, float *grad, float *scores);
    void *user;
    /* ITS_VERIFIER_V2: score and grad with the row width passed in; each, when set, is called
     * instead of its counterpart above (score or score_dim is required). */
    int (*score_dim)(void *user, const float *x0, size_t n, size_t dim, float *scores);
    int (*grad_dim)(void *user, const float *x0, size_t n, size_t dim, float *grad,
                    float *scores);
} its_verifier;

ITS_API void its_model_init(its_model *m);       /* version set, everything else zero/linear */
ITS_API void its_verifier_init(its_verifier *v);

/* ---------------------------------------------------------------------------------------------
 * Run parameters (shared by all methods)
 * ------------------------------------------------------------------------------------------- */
typedef struct its_progress {
    uint64_t nfe;           /* model rows evaluated so far */
    uint64_t max_nfe;       /* cap, 0 = none */
    uint64_t verifier_rows;
    double best_score;      /* -inf until something was scored */
    double elapsed_s;
} its_progress;

/* Return non-zero to cancel: the run stops at the next model call and returns ITS_CANCELLED
 * with the best so far. */
typedef int (*its_progress_fn)(void *user, const its_progress *p);

#define ITS_RUN_PARAMS_V1 1
typedef struct its_run_params {
    int version;                 /* ITS_RUN_PARAMS_V1 */
    int steps;                   /* denoising steps T; default 20 */
    its_grid grid;               /* default uniform */
    double grid_shift;           /* shifted grid: s > 0; default 3 */
    const double *grid_custom;   /* custom grid: steps + 1 times, t_0 = t_max > ... > t_T = 0 */
    double t_max;                /* first time; default 1 */
    its_solver solver;           /* ODE solver; default euler */
    its_dynamics dynamics;       /* default ode */
    its_g_schedule g_schedule;   /* SDE diffusion; default square */
    double g_scale;              /* default 3 */
    int convert;                 /* 1: sample along `target` instead of the model's interpolant */
    its_interp target;           /* default vp (beta 0.1 .. 20) */
    uint64_t max_nfe;            /* hard cap on model rows; 0 = none (methods that need one say) */
    uint64_t max_verifier_rows;  /* hard cap on verifier rows; 0 = none */
    double deadline_ms;          /* wall clock; 0 = none. Anytime: the best so far is returned */
    int top_k;                   /* samples returned; default 1 */
    its_nonfinite on_nonfinite;  /* default error */
    its_progress_fn progress;    /* optional */
    void *progress_user;
} its_run_params;

ITS_API void its_run_params_init(its_run_params *p);

/* Per-step NFE allocator policies (include/itscale/budget.h has the allocator and the
 * its_budget_policy_name / _parse functions). */
typedef enum its_budget_policy {
    ITS_BUDGET_UNIFORM = 0,
    ITS_BUDGET_ROLLOVER,
    ITS_BUDGET_DECREASING,
    ITS_BUDGET_DEADLINE,
    ITS_BUDGET_POLICY_COUNT_
} its_budget_policy;

/* ---------------------------------------------------------------------------------------------
 * Method parameters. Each struct has its_<method>_params_init() writing the documented defaults.
 * its_sampler_create takes a pointer to the struct matching the method (NULL = defaults).
 *
 * Every struct starts with the same two fields: `size` (sizeof the struct as the host's header
 * declared it) and `method` (the method it belongs to), both written by _init. The library checks
 * them before it reads anything else: a struct of another method is ITS_ERR_INVALID naming
 * params.method, and a struct from an older header (smaller size) is read only as far as its
 * size, the newer fields keeping their defaults. Always call _init first.
 * ------------------------------------------------------------------------------------------- */
typedef struct its_none_params {
    uint32_t size;         /* sizeof the struct as the host compiled it (set by _init) */
    its_method method;     /* the method the struct belongs to (set by _init) */
} its_none_params;

typedef struct its_best_of_n_params {
    uint32_t size;         /* sizeof the struct as the host compiled it (set by _init) */
    its_method method;     /* the method the struct belongs to (set by _init) */
    int n;                 /* trajectories; default 4 */
} its_best_of_n_params;

typedef enum its_stall { ITS_STALL_KEEP = 0, ITS_STALL_RESTART, ITS_STALL_COUNT_ } its_stall;
ITS_API const char *its_stall_name(its_stall v);
ITS_API its_status its_stall_parse(const char *s, its_stall *out);

typedef struct its_zero_order_params {
    uint32_t size;         /* sizeof the struct as the host compiled it (set by _init) */
    its_method method;     /* the method the struct belongs to (set by _init) */
    int neighbors;         /* K per round; default 4 */
    double tau;            /* cosine similarity of a neighbour to the pivot; default 0.95 */
    int rounds;            /* 0 = as many as the budget pays for */
    its_stall on_stall;    /* default keep */
} its_zero_order_params;

typedef struct its_search_over_paths_params {
    uint32_t size;         /* sizeof the struct as the host compiled it (set by _init) */
    its_method method;     /* the method the struct belongs to (set by _init) */
    int n;                 /* paths; default 2 */
    int m;                 /* copies per path per iteration; default 5 */
    double t_start;        /* default 0.12 */
    double delta_f;        /* forward re-noising; default 0.78 */
    double delta_b;        /* backward ODE; default 0.81 */
} its_search_over_paths_params;

/* beam, svdd and code: with budget_children = 1 the children per particle of each selection
 * round come from an its_budget (include/itscale/budget.h) whose total is run.max_nfe (which must
 * then be set), one budget step per round that costs NFE; `children` becomes the most children
 * per particle in one round, and a round never gets fewer than one child per particle. */
typedef struct its_beam_params {
    uint32_t size;         /* sizeof the struct as the host compiled it (set by _init) */
    its_method method;     /* the method the struct belongs to (set by _init) */
    int beams;             /* default 2 */
    int children;          /* default 4; with budget_children: the most per beam and step */
    int budget_children;   /* 0: `children` every step (default); 1: from the allocator */
    its_budget_policy children_policy; /* allocator policy when budget_children; default rollover */
} its_beam_params;

typedef struct its_svdd_params {
    uint32_t size;         /* sizeof the struct as the host compiled it (set by _init) */
    its_method method;     /* the method the struct belongs to (set by _init) */
    int n;                 /* particles; default 2 */
    int children;          /* default 25; with budget_children: the most per particle and step */
    int budget_children;   /* 0: `children` every step (default); 1: from the allocator */
    its_budget_policy children_policy; /* allocator policy when budget_children; default rollover */
} its_svdd_params;

typedef struct its_code_params {
    uint32_t size;         /* sizeof the struct as the host compiled it (set by _init) */
    its_method method;     /* the method the struct belongs to (set by _init) */
    int n;                 /* default 2 */
    int children;          /* default 25; with budget_children: the most per particle and block */
    int block;             /* steps a child runs before selection; default 2 */
    int budget_children;   /* 0: `children` every block (default); 1: from the allocator */
    its_budget_policy children_policy; /* allocator policy when budget_children; default rollover */
} its_code_params;

typedef enum its_potential {
    ITS_POT_MAX = 0, ITS_POT_ADD, ITS_POT_DIFF, ITS_POT_RT, ITS_POT_COUNT_
} its_potential;
ITS_API const char *its_potential_name(its_potential v);
ITS_API its_status its_potential_parse(const char *s, its_potential *out);

typedef enum its_resampler {
    ITS_RESAMPLE_MULTINOMIAL = 0, ITS_RESAMPLE_SYSTEMATIC, ITS_RESAMPLE_COUNT_
} its_resampler;
ITS_API const char *its_resampler_name(its_resampler v);
ITS_API its_status its_resampler_parse(const char *s, its_resampler *out);

typedef struct its_fk_smc_params {
    uint32_t size;         /* sizeof the struct as the host compiled it (set by _init) */
    its_method method;     /* the method the struct belongs to (set by _init) */
    int n;                      /* particles; default 8 */
    double lambda;              /* default 10 */
    its_potential potential;    /* default diff */
    int interval;               /* resample every `interval` steps; default 1 */
    double t_start, t_end;      /* resampling window in t; default 1, 0 */
    double ess;                 /* resample when ESS < ess * n; 1 = always; default 0.5 */
    its_resampler resampler;    /* default multinomial */
    int local_search;           /* 1: a local_search move inside each step (needs verifier.grad) */
} its_fk_smc_params;

typedef enum its_bfs_mode { ITS_BFS_RESAMPLE = 0, ITS_BFS_PRUNE, ITS_BFS_COUNT_ } its_bfs_mode;
ITS_API const char *its_bfs_mode_name(its_bfs_mode v);
ITS_API its_status its_bfs_mode_parse(const char *s, its_bfs_mode *out);

typedef struct its_bfs_params {
    uint32_t size;         /* sizeof the struct as the host compiled it (set by _init) */
    its_method method;     /* the method the struct belongs to (set by _init) */
    int n;                  /* default 8 */
    double temp;            /* softmax temperature; default 1 */
    int start;              /* first evaluation step; default 0 */
    int every;              /* evaluate every k steps; default 1 */
    its_bfs_mode mode;      /* default resample */
    int local_search;       /* 1: local_search move inside each step */
} its_bfs_params;

typedef enum its_dfs_rule {
    ITS_DFS_RELATIVE = 0, /* bar at step k: the look-ahead score at step k-1 of the same path,
                           * less threshold * |that score| (any reward scale) */
    ITS_DFS_ABSOLUTE,     /* bar: threshold - t |threshold| at time t */
    ITS_DFS_RULE_COUNT_
} its_dfs_rule;
ITS_API const char *its_dfs_rule_name(its_dfs_rule v);
ITS_API its_status its_dfs_rule_parse(const char *s, its_dfs_rule *out);

typedef struct its_dfs_params {
    uint32_t size;         /* sizeof the struct as the host compiled it (set by _init) */
    its_method method;     /* the method the struct belongs to (set by _init) */
    double threshold;       /* absolute: the bar at t = 0; relative: the fraction of |score| a
                             * step may lose before it backtracks; default 0 */
    int depth;              /* steps to back up on a backtrack; default 2 */
    int backtracks;         /* most backtracks; default 4 */
    its_dfs_rule rule;      /* default relative (added after the first release: an older struct
                             * gets relative) */
} its_dfs_params;

typedef enum its_ls_schedule {
    ITS_LS_CONSTANT = 0, ITS_LS_LINEAR, ITS_LS_SIGMA, ITS_LS_COUNT_
} its_ls_schedule;
ITS_API const char *its_ls_schedule_name(its_ls_schedule v);
ITS_API its_status its_ls_schedule_parse(const char *s, its_ls_schedule *out);

typedef struct its_local_search_params {
    uint32_t size;         /* sizeof the struct as the host compiled it (set by _init) */
    its_method method;     /* the method the struct belongs to (set by _init) */
    double rho;              /* gradient step on x; default 0.1 */
    double mu;               /* x0_hat refinement step; default 0 */
    int recur;               /* recurrences per step; default 2 */
    its_ls_schedule schedule;/* how rho scales with t; default sigma */
    int n;                   /* particles when used on its own (best of n); default 1 */
} its_local_search_params;

typedef enum its_finish { ITS_FINISH_TWEEDIE = 0, ITS_FINISH_STEP, ITS_FINISH_COUNT_ } its_finish;
ITS_API const char *its_finish_name(its_finish v);
ITS_API its_status its_finish_parse(const char *s, its_finish *out);

typedef struct its_rbf_params {
    uint32_t size;         /* sizeof the struct as the host compiled it (set by _init) */
    its_method method;     /* the method the struct belongs to (set by _init) */
    int chains;              /* B; default 2 */
    int init;                /* initial noises per chain; default 25 */
    int speculative;         /* proposals drawn per model call; default 1 */
    its_finish finish;       /* default tweedie (the official behaviour) */
    /* The NFE budget when run.max_nfe is 0 (no cap); with a cap, the cap is the budget.
     * Default 500 (the paper's budget). Added after the first release: an older struct without
     * it gets the default. */
    uint64_t nfe;
} its_rbf_params;

ITS_API void its_none_params_init(its_none_params *p);
ITS_API void its_best_of_n_params_init(its_best_of_n_params *p);
ITS_API void its_zero_order_params_init(its_zero_order_params *p);
ITS_API void its_search_over_paths_params_init(its_search_over_paths_params *p);
ITS_API void its_beam_params_init(its_beam_params *p);
ITS_API void its_svdd_params_init(its_svdd_params *p);
ITS_API void its_code_params_init(its_code_params *p);
ITS_API void its_fk_smc_params_init(its_fk_smc_params *p);
ITS_API void its_bfs_params_init(its_bfs_params *p);
ITS_API void its_dfs_params_init(its_dfs_params *p);
ITS_API void its_local_search_params_init(its_local_search_params *p);
ITS_API void its_rbf_params_init(its_rbf_params *p);
/* The defaults of method m into a params struct of `size` bytes (sizeof as the host compiled it,
 * from the first published size of that struct to the current one): size and method set, each
 * field the struct holds at its default. For hosts built against an older header, and for hosts
 * that hold the struct as bytes (language bindings). ITS_ERR_INVALID for a bad m, NULL or a size
 * no version of the struct had. */
ITS_API its_status its_method_params_init(its_method m, void *params, size_t size);

/* ---------------------------------------------------------------------------------------------
 * Samplers and runs. Thread safety: a sampler, like its context, is used by one thread at a
 * time (its_generate* leave errors on the sampler's context; its_sampler_to_json caches its text
 * in the sampler). Give each thread its own context and samplers, as the scheduler does.
 * A result is owned by one thread: its_result_to_json caches its text in the result; the other
 * its_result_* readers do not write and may run concurrently on one result.
 * ------------------------------------------------------------------------------------------- */
typedef struct its_sampler its_sampler;
typedef struct its_result its_result;

/* Creates a sampler for method m. method_params points to the method's params struct (NULL =
 * defaults), run to run parameters (NULL = defaults); both are copied. Values are validated
 * here: ITS_ERR_INVALID names the field; ITS_ERR_UNSUPPORTED for a combination the method
 * does not take (rbf under ODE dynamics); ITS_ERR_BUDGET where the method checks its budget
 * when built (rbf: chains x (init + steps)). Other methods report a budget below one
 * trajectory from its_generate (its_sampler_cost gives the minimum beforehand). The sampler
 * keeps ctx (which must outlive it). */
ITS_API its_status its_sampler_create(its_ctx *ctx, its_method m, const void *method_params,
                                      const its_run_params *run, its_sampler **out);
ITS_API void its_sampler_free(its_sampler *s);
ITS_API its_method its_sampler_method(const its_sampler *s);

/* Runs the method once. The model is required; the verifier is required by every method but
 * `none` (which scores its output when one is given). Noise is a pure function of seed, so a run
 * is bit-identical for any max_batch. On ITS_OK or ITS_CANCELLED *out is a new result the caller
 * frees with its_result_free; on an error *out is NULL and its_ctx_errmsg says why.
 * A run stopped early returns what it has scored. Cancelled (flag or progress callback), that
 * is ITS_CANCELLED with a result of the best so far, which has no sample (count 0) when
 * nothing was scored yet. Stopped by the deadline or max_verifier_rows before anything was
 * scored, it is ITS_ERR_BUDGET with the stop named in the message ("the run stopped
 * (deadline) before any sample was scored"), as a budget too small for one output is. */
ITS_API its_status its_generate(its_sampler *s, const its_model *m, const its_verifier *v,
                                uint64_t seed, its_result **out);

/* Per-call options of its_generate_opts: what belongs to one request rather than to the
 * sampler (a deadline, a progress callback, a cancel flag). The sampler is not modified. The
 * struct grows at its end; `size` tells the library which fields the host's header had. */
typedef struct its_gen_options {
    uint32_t size;              /* sizeof(its_gen_options), set by its_gen_options_init */
    double deadline_ms;         /* < 0 (default): the sampler's run.deadline_ms; 0: none; > 0 */
    its_progress_fn progress;   /* NULL (default): the sampler's run.progress */
    void *progress_user;
    /* NULL (default): none. The library reads *cancel (an atomic load) after every model call,
     * or after every wave of concurrent calls of a thread-safe model, and once it is non-zero
     * the run stops there, as if the progress callback had returned non-zero (ITS_CANCELLED,
     * best so far), without a callback per model call. Set it from another thread with an
     * atomic store, or from a signal handler (declare it volatile sig_atomic_t, an int on the
     * platforms the library builds for). Stretches with verifier calls only do not read it. */
    const volatile int *cancel;
} its_gen_options;

/* Writes the defaults into the first `size` bytes of *o (the size of the struct in the header
 * the host was built with; at least through deadline_ms, else nothing is written) and stores
 * that size, capped at this library's. its_gen_options_init(o) passes sizeof(*(o)). */
ITS_API void its_gen_options_init_sized(its_gen_options *o, size_t size);
#define its_gen_options_init(o) its_gen_options_init_sized((o), sizeof(*(o)))
/* The function that hosts built against a header without `cancel` call: it writes only the
 * fields before `cancel` and stores that size, so a cancel flag set afterwards is not read.
 * A binding that calls the library by symbol (an FFI, dlsym) calls its_gen_options_init_sized
 * with its own struct's size instead. */
ITS_API void(its_gen_options_init)(its_gen_options *o);
/* its_generate with per-call options (opt NULL = its_generate). */
ITS_API its_status its_generate_opts(its_sampler *s, const its_model *m, const its_verifier *v,
                                     uint64_t seed, const its_gen_options *opt,
                                     its_result **out);

/* Builds a sampler from a JSON document (see README, "Configuration"). ITS_ERR_CONFIG names the
 * JSON path of the first problem; ITS_ERR_BUDGET where its_sampler_create would give it (a
 * budget the method checks when built is below what it needs; the message says how much). */
ITS_API its_status its_sampler_from_json(its_ctx *ctx, const char *json, size_t len,
                                         its_sampler **out);
/* The full effective configuration (defaults filled in) as JSON; owned by s, valid until the next
 * call on s or its_sampler_free. NULL on allocation failure. */
ITS_API const char *its_sampler_to_json(its_sampler *s);

/* ---------------------------------------------------------------------------------------------
 * Parameter metadata (as zstd's ZSTD_cParam_getBounds): every method parameter and every run
 * parameter with its type, default, bounds and meaning, from the same tables that validation and
 * the JSON configuration use. Method parameters are named as in "params" ("n"); run parameters
 * by their JSON path under "run" ("steps", "budget.max_nfe", "dynamics.g.scale").
 * ------------------------------------------------------------------------------------------- */
typedef enum its_param_type {
    ITS_PARAM_INT = 0,    /* integer (an int field; run.budget.* are uint64_t) */
    ITS_PARAM_REAL,       /* double */
    ITS_PARAM_BOOL,       /* int 0 or 1; JSON true/false */
    ITS_PARAM_ENUM,       /* int-sized enum; JSON one of the choices' names */
    ITS_PARAM_ARRAY,      /* run.grid_custom: steps + 1 numbers */
    ITS_PARAM_INTERP,     /* run.interp: "model", an interpolant name or {"kind", ...} */
    ITS_PARAM_TYPE_COUNT_
} its_param_type;

typedef struct its_param_info {
    const char *name;     /* "n"; run parameters: the path under "run" */
    its_param_type type;
    double min, max;      /* bounds, inclusive (min excluded when min_open); enum: 0 .. choices-1 */
    int min_open;
    double def;           /* default (bool 0/1, enum: the choice's index); NaN for array/interp */
    int n_choices;        /* enum: the number of choices (names through its_param_choice) */
    int size_param;       /* 1: the method's size parameter, the one its_cost_fit scales */
    const char *doc;      /* one line */
    const void *impl_;    /* private */
} its_param_info;

ITS_API const char *its_param_type_name(its_param_type v);
ITS_API its_status its_param_type_parse(const char *s, its_param_type *out);

/* Number of parameters of method m (0 for none); -1 when m is out of range. */
ITS_API int its_method_param_count(its_method m);
/* Parameter i (0 .. count-1) of method m. ITS_ERR_INVALID when m or i is out of range. */
ITS_API its_status its_method_param_info(its_method m, int i, its_param_info *out);
/* Index of the parameter called name, or -1. */
ITS_API int its_method_param_find(its_method m, const char *name);
/* One-line description of the method (static string; NULL when m is out of range). */
ITS_API const char *its_method_summary(its_method m);
/* How its_cost_fit sizes the method for a budget, in words ("n = floor(NFE / T)"). Static. */
ITS_API const char *its_method_scale_rule(its_method m);
/* Whether the method needs a verifier (1) and a verifier gradient (1 always, 2 with some
 * parameters, 0 never); -1 when m is out of range. */
ITS_API int its_method_needs_verifier(its_method m);
ITS_API int its_method_needs_grad(its_method m);

ITS_API int its_run_param_count(void);
ITS_API its_status its_run_param_info(int i, its_param_info *out);
ITS_API int its_run_param_find(const char *path);

/* Name of choice j of an enum parameter (static string), NULL when out of range. */
ITS_API const char *its_param_choice(const its_param_info *p, int j);

/* Everything above as one JSON document (context memory: free with its_ctx_mem_free):
 * {"version", "methods": {name: {"summary", "needs_verifier", "needs_grad", "scale_rule",
 *  "size_param", "params": [param...]}}, "run": [param...]} where a param is {"name", "type",
 * "default", "min", "max", "min_open", "choices" (enum), "size_param", "doc"}; min/max are
 * null where unbounded or not numeric. */
ITS_API its_status its_params_json(its_ctx *ctx, char **out);

/* ---------------------------------------------------------------------------------------------
 * Cost model: what a configuration will spend, the least it can run with, and how to size it for
 * a budget. The engine uses the same functions (a sampler under a cap smaller than its plan is
 * fitted once before it runs), and so do the scheduler and the CLI.
 * method_params: the method's struct or NULL (defaults); run: NULL for defaults.
 * ------------------------------------------------------------------------------------------- */
typedef struct its_cost {
    uint64_t trajectory;  /* NFE of one trajectory of one particle (steps; 2 steps - 1 for heun) */
    uint64_t minimum;     /* the least run.max_nfe the configuration runs with (smaller:
                           * ITS_ERR_BUDGET); 0 when it needs no cap (it then runs with none) */
    uint64_t planned;     /* the most NFE it spends, after fitting under run.max_nfe; equal to
                           * the NFE spent for every method but dfs (an upper bound: backtracks
                           * are taken on demand) and runs stopped early */
    int needs_cap;        /* 1: the configuration sizes itself from run.max_nfe, which must be set
                           * (zero_order rounds = 0, budget_children) */
} its_cost;

/* The cost of a configuration. ITS_ERR_INVALID / ITS_ERR_UNSUPPORTED for a configuration that
 * its_sampler_create would reject, with the same message; ITS_ERR_BUDGET when run.max_nfe is
 * set and below the minimum (*out is filled all the same). */
ITS_API its_status its_cost_plan(its_ctx *ctx, its_method m, const void *method_params,
                                 const its_run_params *run, its_cost *out);
/* The same for a sampler's configuration. */
ITS_API its_status its_sampler_cost(its_sampler *s, its_cost *out);

/* Sizes a configuration for a budget of nfe NFE: sets run->max_nfe = nfe and the method's size
 * parameter (its_method_scale_rule; clamped to its bounds) in *method_params, which must be the
 * method's struct written by its _init. A method without a size parameter only gets the cap.
 * ITS_ERR_BUDGET (with the minimum in the message) when nfe is below the minimum after
 * fitting; the structs are written all the same. */
ITS_API its_status its_cost_fit(its_ctx *ctx, its_method m, void *method_params,
                                its_run_params *run, uint64_t nfe);
/* its_cost_fit on a JSON configuration (the document its_sampler_from_json reads): *out is the
 * effective configuration with run.budget.max_nfe = nfe and the size parameter scaled, in context
 * memory (free with its_ctx_mem_free). ITS_ERR_CONFIG names the JSON path of a bad document;
 * ITS_ERR_BUDGET as its_cost_fit, with *out written all the same. */
ITS_API its_status its_cost_fit_json(its_ctx *ctx, const char *json, size_t len, uint64_t nfe,
                                     char **out);

/* ---------------------------------------------------------------------------------------------
 * Results: top-k samples (host memory, best first) and accounting
 * ------------------------------------------------------------------------------------------- */
typedef struct its_usage {
    uint64_t nfe;              /* model rows */
    uint64_t model_calls;
    uint64_t verifier_rows;
    uint64_t verifier_calls;
    uint64_t grad_rows;
    uint64_t grad_calls;
    double total_s, model_s, verifier_s, library_s; /* library = total - model - verifier */
} its_usage;

/* The anytime trace: each point is the score of what the run would return had it stopped at
 * that NFE (the best output once there is one, before that the best look-ahead candidate), so
 * the last point equals its_result_score(r, 0). It may fall when the first outputs replace
 * look-ahead candidates. A score of -inf is not a point: a run whose every score is -inf has an
 * empty trace. */
typedef struct its_trace_point {
    uint64_t nfe;       /* NFE spent when the returned score changed to `best` */
    double best;        /* score of the sample the run would return from here on */
} its_trace_point;

typedef struct its_step_usage {
    int step;           /* step index (0 = the initial draw where the method has one) */
    double t;           /* time at the start of the step */
    int64_t quota;      /* NFE the allocator granted this step (-1 where the method has none) */
    int64_t used;       /* NFE spent in this step */
} its_step_usage;

/* The readers take NULL: counts, seeds, NFE and usage 0, samples NULL, scores NaN,
 * its_result_trace and its_result_steps 0 with *pts / *steps NULL, its_result_status
 * ITS_ERR_INVALID, its_result_method ITS_METHOD_COUNT_ and its_result_stop ITS_STOP_COMPLETED
 * (check the result first: that value is not a stop reason then). */
ITS_API void its_result_free(its_result *r);
ITS_API size_t its_result_count(const its_result *r);         /* <= top_k */
ITS_API size_t its_result_dim(const its_result *r);
ITS_API const float *its_result_sample(const its_result *r, size_t i); /* NULL if i >= count */
ITS_API double its_result_score(const its_result *r, size_t i);   /* NaN when unscored */
ITS_API void its_result_usage(const its_result *r, its_usage *u);
ITS_API uint64_t its_result_seed(const its_result *r);
ITS_API its_method its_result_method(const its_result *r);
ITS_API its_stop its_result_stop(const its_result *r);
ITS_API its_status its_result_status(const its_result *r);
ITS_API uint64_t its_result_max_nfe(const its_result *r);
/* The anytime trace: points in increasing NFE; *pts owned by r. */
ITS_API size_t its_result_trace(const its_result *r, const its_trace_point **pts);
/* Per-step budget use; *steps owned by r. Zero where the method has no steps of its own to
 * record (none, best_of_n). */
ITS_API size_t its_result_steps(const its_result *r, const its_step_usage **steps);
/* The result as JSON (keys: sampler, config, seed, status, stop, anytime, dim, count, usage,
 * budget, best, topk, time, trace, steps). Owned by r; NULL on allocation failure. */
ITS_API const char *its_result_to_json(its_result *r);

#ifdef __cplusplus
}
#endif

#include "itscale/backend.h"
#include "itscale/sched.h"
#include "itscale/budget.h"
#include "itscale/auto.h"

#endif /* ITSCALE_H */
