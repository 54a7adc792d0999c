/*
 * A benchmark task for the itscale CLI: one file that builds a model and a verifier from a few
 * settings and measures the samples a run returns.
 *
 * A task is a constant its_task_vt. The CLI lists every task in one table (cli_task.c), reads the
 * task's settings from "task.<key>" (config file "task": {...} or --set task.<key>=value),
 * checks each value against the descriptor (type and range), fills in defaults, and calls
 * create() once per process. Runs then share the model and verifier; metrics() is called on
 * the samples of each run (per-run metrics) and, for pooled metrics, on all samples of one
 * bench cell (every seed together).
 */
#ifndef ITSCALE_CLI_TASK_H
#define ITSCALE_CLI_TASK_H

#include <stddef.h>

#include "itscale.h"

#define ITS_TASK_V1 1

typedef enum its_task_stype {
    ITS_TASK_INT = 0, /* a whole number in [min, max] */
    ITS_TASK_DOUBLE,  /* a finite number in [min, max] */
    ITS_TASK_STRING   /* any string (a path, a name); min/max unused */
} its_task_stype;

/* One setting, "task.<key>" on the command line. */
typedef struct its_task_setting {
    const char *key;
    its_task_stype type;
    const char *def;      /* default, written as the value would be ("32", "0.05", "data/x") */
    double min, max;      /* inclusive range for INT and DOUBLE */
    const char *doc;
} its_task_setting;

/* A setting's value as handed to create(): num for INT/DOUBLE, str for STRING (owned by the
 * CLI, valid during create()). */
typedef struct its_task_value {
    double num;
    const char *str;
} its_task_value;

/* One metric a task reports; higher is better unless lower_better. */
typedef struct its_task_metric {
    const char *name;     /* JSON key and CSV column ("hit_rate") */
    const char *label;    /* axis label ("hit rate (target component)") */
    int pooled;           /* 1: a property of a set (diversity, Frechet distance); computed once
                             per bench cell on every seed's samples, without a standard error */
    int lower_better;
} its_task_metric;

/* What create() fills in; model and verifier stay valid until free(state). */
typedef struct its_task_inst {
    void *state;
    its_model model;
    its_verifier verifier;
} its_task_inst;

typedef struct its_task_vt {
    int version;                          /* ITS_TASK_V1 */
    const char *name;                     /* --task NAME */
    const char *summary;                  /* one line for `itscale tasks` and the help text */
    const its_task_setting *settings;
    size_t n_settings;
    const its_task_metric *metrics;
    size_t n_metrics;
    /* Builds the task. vals has n_settings entries in the order of settings, all checked.
     * Returns 0, or non-zero with a one-line reason in err (errcap bytes). ctx outlives inst. */
    int (*create)(its_ctx *ctx, const its_task_value *vals, its_task_inst *inst, char *err,
                  size_t errcap);
    /* Measures n samples (n x dim floats, host memory, best first as returned by a run).
     * Writes n_metrics values in the order of metrics; a metric it cannot compute for these n
     * (a pooled metric on one sample) is NaN. Returns 0, or non-zero with a reason in err. */
    int (*measure)(void *state, const float *samples, size_t n, double *out, char *err,
                   size_t errcap);
    void (*free)(void *state);            /* NULL-safe */
    /* May be NULL (a task without pictures). Writes n samples as an image grid, cols per row,
     * to path (PNG); a sample of NaN is drawn as an empty cell. Returns 0, or non-zero with a
     * reason in err. */
    int (*write_png)(void *state, const float *samples, size_t n, int cols, const char *path,
                     char *err, size_t errcap);
} its_task_vt;

/* The tasks this build knows, defined in their own files. */
extern const its_task_vt its_task_gmm;
#ifdef ITS_HAVE_TASK_DIGITS
extern const its_task_vt its_task_digits;
#endif
#ifdef ITS_HAVE_TASK_FASHION
extern const its_task_vt its_task_fashion;
#endif

#endif
