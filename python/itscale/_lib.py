"""Loading libitscale.so through cffi in ABI mode (no compiler at install or import time).

Only the structs a host fills in (its_ctx_params, its_model, its_interp, its_verifier,
its_tune_params) and the plain records the library hands back (usage, trace points, per-step
records, progress, the tuning report) are declared here. Method and run parameters cross the
boundary as JSON, so they are never mirrored.
"""
from __future__ import annotations

import ctypes.util
import os
import sys
from pathlib import Path
from typing import List, Optional

import cffi

#: The library version this package is written against: major must match, minor at least this.
LIB_MAJOR = 0
LIB_MINOR = 1
#: The newest struct versions declared here; a library whose _init writes a newer one has
#: grown the struct past what this package allocates, and is refused.
MODEL_VERSION = 2
VERIFIER_VERSION = 2
TUNE_PARAMS_VERSION = 1

CDEF = r"""
typedef int its_status;
typedef int its_interp_kind;
typedef int its_pred;
typedef int its_method;
typedef int its_stop;
typedef int its_log_level;

const char *its_status_str(its_status s);
const char *its_version(void);
int its_version_number(void);

const char *its_method_name(its_method v);
its_status its_method_parse(const char *s, its_method *out);
const char *its_pred_name(its_pred v);
its_status its_pred_parse(const char *s, its_pred *out);
const char *its_interp_kind_name(its_interp_kind v);
its_status its_interp_kind_parse(const char *s, its_interp_kind *out);
const char *its_stop_name(its_stop v);

typedef struct its_interp {
    its_interp_kind kind;
    double beta_min, beta_max;
    double sigma_min, sigma_max;
    double cosine_s;
    double (*alpha)(void *user, double t);
    double (*sigma)(void *user, double t);
    double (*dalpha)(void *user, double t);
    double (*dsigma)(void *user, double t);
    void *user;
} its_interp;
void its_interp_init(its_interp *ip, its_interp_kind kind);
its_status its_interp_eval(const its_interp *ip, double t, double out[4]);

typedef struct its_allocator {
    void *(*alloc)(void *opaque, size_t size, size_t align);
    void (*free)(void *opaque, void *ptr);
    void *opaque;
} its_allocator;
typedef void (*its_log_fn)(void *user, its_log_level level, const char *msg);
typedef struct its_ctx_params {
    int version;
    its_allocator allocator;
    its_log_fn log;
    void *log_user;
    its_log_level log_level;
    int n_threads;
    const void *backend;
    void *backend_state;
} its_ctx_params;
typedef struct its_ctx its_ctx;
void its_ctx_params_init(its_ctx_params *p);
its_status its_ctx_create(const its_ctx_params *p, its_ctx **out);
its_status its_ctx_set_latent_cache(its_ctx *ctx, size_t bytes);
its_status its_ctx_set_latent_cache_min(its_ctx *ctx, size_t min_bytes);
void its_ctx_free(its_ctx *ctx);
const char *its_ctx_errmsg(const its_ctx *ctx);
its_status its_ctx_errcode(const its_ctx *ctx);

typedef struct its_model {
    int version;
    size_t dim;
    its_pred pred;
    its_interp interp;
    size_t max_batch;
    int thread_safe;
    int (*eval)(void *user, const float *x, const float *t, size_t n, float *out);
    void *user;
    int (*eval_dim)(void *user, const float *x, const float *t, size_t n, size_t dim,
                    float *out);
} its_model;
typedef struct its_verifier {
    int version;
    size_t max_batch;
    int (*score)(void *user, const float *x0, size_t n, float *scores);
    int (*grad)(void *user, const float *x0, size_t n, float *grad, float *scores);
    void *user;
    int (*score_dim)(void *user, const float *x0, size_t n, size_t dim, float *scores);
    int (*grad_dim)(void *user, const float *x0, size_t n, size_t dim, float *grad,
                    float *scores);
} its_verifier;
void its_model_init(its_model *m);
void its_verifier_init(its_verifier *v);

typedef struct its_progress {
    uint64_t nfe, max_nfe, verifier_rows;
    double best_score, elapsed_s;
} its_progress;
typedef int (*its_progress_fn)(void *user, const its_progress *p);
typedef struct its_gen_options {
    uint32_t size;
    double deadline_ms;
    its_progress_fn progress;
    void *progress_user;
    const volatile int *cancel;
} its_gen_options;
void its_gen_options_init_sized(its_gen_options *o, size_t size);
void its_ctx_mem_free(its_ctx *ctx, void *ptr);
its_status its_params_json(its_ctx *ctx, char **out);
typedef struct its_cost {
    uint64_t trajectory, minimum, planned;
    int needs_cap;
} its_cost;

typedef struct its_sampler its_sampler;
typedef struct its_result its_result;
void its_sampler_free(its_sampler *s);
its_status its_generate(its_sampler *s, const its_model *m, const its_verifier *v,
                        uint64_t seed, its_result **out);
its_status its_generate_opts(its_sampler *s, const its_model *m, const its_verifier *v,
                             uint64_t seed, const its_gen_options *opt, its_result **out);
its_status its_sampler_cost(its_sampler *s, its_cost *out);
its_status its_cost_fit_json(its_ctx *ctx, const char *json, size_t len, uint64_t nfe,
                             char **out);
its_status its_sampler_from_json(its_ctx *ctx, const char *json, size_t len, its_sampler **out);
const char *its_sampler_to_json(its_sampler *s);

typedef struct its_usage {
    uint64_t nfe, model_calls, verifier_rows, verifier_calls, grad_rows, grad_calls;
    double total_s, model_s, verifier_s, library_s;
} its_usage;
typedef struct its_trace_point { uint64_t nfe; double best; } its_trace_point;
typedef struct its_step_usage { int step; double t; int64_t quota; int64_t used; } its_step_usage;

void its_result_free(its_result *r);
size_t its_result_count(const its_result *r);
size_t its_result_dim(const its_result *r);
const float *its_result_sample(const its_result *r, size_t i);
double its_result_score(const its_result *r, size_t i);
void its_result_usage(const its_result *r, its_usage *u);
uint64_t its_result_seed(const its_result *r);
its_stop its_result_stop(const its_result *r);
its_status its_result_status(const its_result *r);
size_t its_result_trace(const its_result *r, const its_trace_point **pts);
size_t its_result_steps(const its_result *r, const its_step_usage **steps);
const char *its_result_to_json(its_result *r);

typedef struct its_gmm its_gmm;
its_status its_gmm_create(its_ctx *ctx, size_t dim, size_t k, const double *weights,
                          const double *means, const double *stds, its_gmm **out);
void its_gmm_free(its_gmm *g);
size_t its_gmm_dim(const its_gmm *g);
size_t its_gmm_components(const its_gmm *g);
double its_gmm_weight(const its_gmm *g, size_t k);
const double *its_gmm_mean(const its_gmm *g, size_t k);
const double *its_gmm_std(const its_gmm *g, size_t k);
its_status its_gmm_responsibilities(const its_gmm *g, const its_interp *ip, double t,
                                    const double *x, double *resp);
its_status its_gmm_predict(const its_gmm *g, const its_interp *ip, its_pred pred,
                           double t, const float *x, size_t n, float *out);
its_status its_gmm_logpdf(const its_gmm *g, const its_interp *ip, double t,
                          const double *x, double *out);
void its_gmm_bind_model(its_gmm *g, const its_interp *ip, its_pred pred, its_model *m);
its_status its_gmm_bind_logprob(its_gmm *g, size_t target, its_verifier *v);
its_status its_gmm_bind_quadratic(its_gmm *g, const double *center, double a, its_verifier *v);
its_status its_gmm_tilt_quadratic(const its_gmm *g, const double *center, double a,
                                  double lambda, its_gmm **out);
its_status its_gmm_sample(const its_gmm *g, uint64_t seed, size_t n, float *out, size_t *comp);

typedef struct its_run_params its_run_params;
typedef struct its_policy its_policy;
its_status its_policy_from_json(its_ctx *ctx, const char *json, size_t len, its_policy **out);
const char *its_policy_to_json(its_policy *p);
void its_policy_free(its_policy *p);
size_t its_policy_count(const its_policy *p);
typedef int (*its_tune_progress_fn)(void *user, size_t done, size_t total, const char *what);
typedef struct its_tune_params {
    int version;
    const uint64_t *budgets;
    size_t n_budgets;
    int seeds;
    uint64_t seed;
    const char *const *candidates;
    size_t n_candidates;
    const its_run_params *run;
    int halving;
    const char *label;
    its_tune_progress_fn progress;
    void *progress_user;
    int select;
} its_tune_params;
void its_tune_params_init(its_tune_params *p);
const char *its_tune_candidate(size_t i);
typedef struct its_tune_report {
    size_t n_budgets, n_candidates;
    const char *const *candidate_json;
    const double *mean, *se;
    const int *count;
    uint64_t nfe, runs;
    double seconds;
} its_tune_report;
its_status its_tune(its_ctx *ctx, const its_tune_params *p, const its_model *m,
                    const its_verifier *v, its_policy **out, its_tune_report *report);
"""

ffi = cffi.FFI()
ffi.cdef(CDEF)


def _places() -> List[Path]:
    """The folders searched for libitscale.so.0 when ITSCALE_LIBRARY is not set, in order."""
    out: List[Path] = []
    # A source checkout: python/itscale/_lib.py -> the repository's build trees.
    repo = Path(__file__).resolve().parent.parent.parent
    if (repo / "include" / "itscale.h").is_file():
        out += [repo / sub for sub in ("build/dev", "build/test", "build/release", "build")]
    # An installed prefix: this Python's prefix, /usr/local, /usr.
    for prefix in (sys.prefix, "/usr/local", "/usr"):
        out += [Path(prefix) / libdir for libdir in ("lib", "lib64", "lib/x86_64-linux-gnu")]
    return list(dict.fromkeys(out))  # sys.prefix is often /usr itself


def _candidates() -> List[str]:
    """Where the library is looked for, in order: ITSCALE_LIBRARY alone when it is set, else
    the folders of _places() that hold it, then the loader's search path."""
    env = os.environ.get("ITSCALE_LIBRARY")
    if env:
        return [env]
    out = [str(d / "libitscale.so.0") for d in _places() if (d / "libitscale.so.0").is_file()]
    found = ctypes.util.find_library("itscale")
    if found:
        out.append(found)
    out.append("libitscale.so.0")
    return out


def _not_found(errors: List[str]) -> str:
    msg = ("itscale: libitscale.so not found; set ITSCALE_LIBRARY to its path, or install the "
           "library (cmake --install BUILD --prefix /usr/local). Tried:\n  " + "\n  ".join(errors))
    if not os.environ.get("ITSCALE_LIBRARY"):
        msg += ("\nNo libitscale.so.0 in: " + ", ".join(str(d) for d in _places())
                + " (nor on the loader's search path)")
    return msg


def _load():
    errors = []
    for path in _candidates():
        try:
            lib = ffi.dlopen(path)
        except OSError as e:
            errors.append(f"{path}: {e}")
            continue
        return lib, path
    raise ImportError(_not_found(errors))


lib, library_path = _load()

_num = lib.its_version_number()
library_version: str = ffi.string(lib.its_version()).decode()
if _num // 10000 != LIB_MAJOR or (_num // 100) % 100 < LIB_MINOR:
    raise ImportError(
        f"itscale: {library_path} is version {library_version}; this package needs "
        f"{LIB_MAJOR}.{LIB_MINOR} or a later {LIB_MAJOR}.x")


def _check_structs() -> None:
    try:
        _check_structs_of(lib)
    except AttributeError as e:  # a function this package declares is missing from the library
        raise ImportError(
            f"itscale: {library_path} is older than this package ({e}): rebuild or update the "
            "library") from None


def _check_structs_of(lib) -> None:
    # _init functions write the whole struct as the library knows it: give them room to spare
    # and read the version they write.
    buf = ffi.new("char[]", 4096)
    lib.its_model_init(ffi.cast("its_model *", buf))
    mv = ffi.cast("its_model *", buf).version
    buf = ffi.new("char[]", 4096)
    lib.its_verifier_init(ffi.cast("its_verifier *", buf))
    vv = ffi.cast("its_verifier *", buf).version
    buf = ffi.new("char[]", 4096)
    lib.its_gen_options_init_sized(ffi.cast("its_gen_options *", buf), 4096)
    gs = ffi.cast("its_gen_options *", buf).size
    buf = ffi.new("char[]", 4096)
    lib.its_tune_params_init(ffi.cast("its_tune_params *", buf))
    tv = ffi.cast("its_tune_params *", buf).version
    if tv != TUNE_PARAMS_VERSION:
        raise ImportError(
            f"itscale: {library_path} has its_tune_params version {tv}; this package declares "
            f"{TUNE_PARAMS_VERSION}: update the package")
    if mv != MODEL_VERSION or vv != VERIFIER_VERSION or gs != ffi.sizeof("its_gen_options"):
        raise ImportError(
            f"itscale: {library_path} has its_model version {mv}, its_verifier version {vv}, "
            f"its_gen_options of {gs} bytes; this package declares {MODEL_VERSION}, "
            f"{VERIFIER_VERSION} and {ffi.sizeof('its_gen_options')}: update the package")


_check_structs()


def cstr(p) -> Optional[str]:
    """A C string as str (None for NULL)."""
    return None if p == ffi.NULL else ffi.string(p).decode("utf-8", "replace")
