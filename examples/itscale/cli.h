/* Pieces of the itscale command-line tool shared between its files.
 *
 *   main.c          the command table, usage and dispatch
 *   cli_args.c      flags and their values (one table for every command)
 *   cli_io.c        messages, files, progress
 *   cli_config.c    the configuration document from --config, --sampler, --nfe and --set
 *   cli_scale.c     a method sized to an NFE budget (the library's cost model)
 *   cli_task.c      the task table and a task's settings, creation and metrics
 *   cmd_samplers.c  `itscale samplers` (text listing)
 *   cmd_docs.c      `itscale samplers --markdown` (the README's parameter tables)
 *   cmd_tasks.c     `itscale tasks`
 *   cmd_run.c       `itscale run`
 *   cmd_bench.c     `itscale bench`
 *   cmd_tune.c      `itscale tune` (the policy of `auto`)
 *   cli_plot.c      the SVG figure of `bench`
 *
 * A new command is one cmd_*.c file and one line in the command table of main.c; a new task is
 * one task_*.c file and one line in the task table of cli_task.c. */
#ifndef ITSCALE_CLI_H
#define ITSCALE_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "task.h"

/* The largest whole number a JSON number keeps exactly (2^53), and the largest file the CLI
 * reads as a configuration (the library takes documents up to 16 MiB). */
#define CLI_MAX_JSON_INT 9007199254740992ULL
#define CLI_MAX_FILE ((size_t)1 << 24)

/* ---- options (cli_args.c) ------------------------------------------------------------------ */

/* Every flag a command may accept; a command lists the ones it takes as a bit mask. */
enum {
    CLI_F_TASK = 1u << 0,
    CLI_F_SAMPLER = 1u << 1,
    CLI_F_SAMPLERS = 1u << 2,
    CLI_F_NFE = 1u << 3,
    CLI_F_SEED = 1u << 4,
    CLI_F_SEEDS = 1u << 5,
    CLI_F_SET = 1u << 6,
    CLI_F_CONFIG = 1u << 7,
    CLI_F_OUT = 1u << 8,
    CLI_F_JSON = 1u << 9,
    CLI_F_MARKDOWN = 1u << 10,
    CLI_F_CAP_ONLY = 1u << 11,
    CLI_F_PNG = 1u << 12,
    CLI_F_EVAL_SEEDS = 1u << 13,
    CLI_F_EVAL_SEED = 1u << 14,
    CLI_F_SELECT = 1u << 15,
};

typedef struct cli_opts {
    const its_task_vt *task;
    const char *task_name;  /* --task, "gmm" unless given */
    const char *sampler;
    const char *config_file;
    const char **sets;      /* argc entries, n_sets used */
    size_t n_sets;
    const char *nfe;        /* run: one number; bench: a list */
    const char *samplers;   /* bench */
    uint64_t seed;
    uint64_t seeds;         /* bench */
    int json, markdown;
    int cap_only;           /* --cap-only: --nfe caps the run, the method keeps its size */
    uint64_t eval_seeds;    /* tune: held-out seeds (0 = no evaluation) */
    uint64_t eval_seed;
    int select;             /* tune: 0 best mean, 1 best mean - SE (--select lcb) */
    const char *out;
    const char *png;        /* run: the returned samples as an image grid */
} cli_opts;

/* Reads argv[first..argc) into *o for command `cmd`, which accepts the flags in `accepted`.
 * Returns 0; -1 for --help or -h; or 2 after one line on stderr. o->sets must hold argc
 * entries. */
int cli_parse_args(int argc, char **argv, int first, const char *cmd, unsigned accepted,
                   cli_opts *o);

/* A whole number in [0, max] without sign; 0 or -1. */
int cli_parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Splits s in place at commas into at most max parts; returns how many. */
size_t cli_split(char *s, char **parts, size_t max);

/* 0 after a message naming opt when the comma-separated list s has an empty entry ("50,,100",
 * a leading or trailing comma), else 1. */
int cli_list_ok(const char *opt, const char *s);

/* ---- messages and files (cli_io.c) --------------------------------------------------------- */

/* One line on stderr, "itscale: ..." */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* msg without a leading "word: " that the caller's own prefix already says ("config: ..." after
 * "config: "), so a message is not prefixed twice. */
const char *cli_unprefix(const char *msg, const char *word);

/* "itscale: warning: ..." on stderr, on a line of its own even while a progress bar is drawn. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Fails (after a message) unless a file can be created in dir: checked before work whose
 * results go there. */
int cli_check_writable(const char *dir);

/* The whole file (at most the configuration size limit); NULL after a message. */
char *cli_read_file(const char *path, size_t *len);

/* path, or stdout when path is NULL; NULL after a message. */
FILE *cli_open_out(const char *path);

/* Closes what cli_open_out opened; -1 after a message when a write failed. */
int cli_close_out(FILE *f, const char *path);

/* Creates dir (or accepts an existing directory); -1 after a message. */
int cli_mkdir(const char *dir);

/* A progress bar on a terminal, a line per seed-0 run otherwise. */
void cli_progress(size_t done, size_t total, const char *what);

/* ---- the configuration document (cli_config.c) --------------------------------------------- */

/* Sets doc[path] = value (dotted path; objects created on the way). Takes value. */
int cli_doc_set(cJSON *doc, const char *path, cJSON *value, const char *what);

/* The configuration from --config, --sampler, --nfe (with_nfe) and --set; task settings split
 * off into *task_set. NULL after printing the reason. */
cJSON *cli_build_doc(const cli_opts *o, int with_nfe, cJSON **task_set);

/* Methods that steer SDE particles get run.dynamics.kind = "sde" unless the document names
 * the dynamics itself. */
int cli_method_defaults(cJSON *doc);

/* A sampler from a document; cli_sampler prints the library's message on failure,
 * cli_sampler_quiet does not (for a first try that has a fallback). */
its_sampler *cli_sampler(its_ctx *ctx, const cJSON *doc);
its_sampler *cli_sampler_quiet(its_ctx *ctx, const cJSON *doc);

/* ---- scale to budget (cli_scale.c) --------------------------------------------------------- */

/* 1 for a method that steers SDE particles (the CLI's default dynamics is "sde" for it). */
int cli_method_wants_sde(const char *method);

/* What cli_scale_doc did: the value it set (or that only the cap is set), and whether the size
 * parameter stopped at the top of its range with part of the budget unspent (clamp says so). */
typedef struct cli_scaled {
    char what[192];
    int clamped;
    char clamp[160];
} cli_scaled;

/* Sizes the document's method for nfe NFE by the library's cost model (its_cost_fit_json): the
 * document becomes the fitted effective configuration; out (may be NULL) says what was set. A
 * budget below the method's minimum is left for the sampler to report. -1 after a message. */
int cli_scale_doc(its_ctx *ctx, cJSON *doc, const char *method, uint64_t nfe, cli_scaled *out);

/* ---- tasks (cli_task.c) -------------------------------------------------------------------- */

extern const its_task_vt *const cli_tasks[];
extern const size_t cli_n_tasks;

const its_task_vt *cli_task_find(const char *name);

typedef struct cli_task {
    const its_task_vt *vt;
    its_task_inst inst;
    its_task_value *vals;
    cJSON *settings;   /* the effective settings, for reports */
    int live;
} cli_task;

/* Checks the settings in `set` against the task's descriptors and creates it; -1 after a
 * message. */
int cli_task_create(its_ctx *ctx, const its_task_vt *vt, const cJSON *set, cli_task *t);
void cli_task_free(cli_task *t);

/* The task's metrics of a result's samples (NaN each when it has none); -1 after a message. */
int cli_measure(cli_task *t, const its_result *r, double *out);

/* A result's samples, best first, as the task's image grid at path (at most 8 per row); -1
 * after a message (also for a task without pictures). */
int cli_write_png(cli_task *t, const its_result *r, const char *path);

/* ---- commands (cmd_*.c) -------------------------------------------------------------------- */

int cli_cmd_samplers(const cli_opts *o);
int cli_cmd_docs(const cli_opts *o);
int cli_cmd_tasks(const cli_opts *o);
int cli_cmd_run(its_ctx *ctx, const cli_opts *o);
int cli_cmd_bench(its_ctx *ctx, const cli_opts *o);
int cli_cmd_tune(its_ctx *ctx, const cli_opts *o);

/* Shared by the listing and the Markdown tables (cmd_samplers.c): the library's parameter
 * metadata as cJSON (its_params_json; NULL after a message); a parameter's default and range as
 * text; the least NFE of method m at `steps` steps and what it spends with its defaults (0 when
 * the cap sizes it), from the cost model; the steps of --set run.steps (NULL when bad). */
cJSON *cli_params_doc(void);
void cli_param_text(const cJSON *p, char *def, size_t defcap, char *range, size_t rcap);
void cli_param_expect(const cJSON *p, char *buf, size_t cap); /* "integer in [1, 1024]" */
int cli_method_minimum(its_method m, const char *steps, unsigned long long *minimum,
                       unsigned long long *planned);
const char *cli_minimum_steps(const cli_opts *o, char *buf, size_t cap);

/* ---- statistics and the figure (cmd_bench.c, cli_plot.c) ----------------------------------- */

/* Mean and standard error of the finite values among n; *k = how many were finite. */
void cli_mean_se(const double *v, size_t n, double *mean, double *se, size_t *k);

/* The quality-vs-compute picture: one panel per metric, one line per series, mean +- standard
 * error (band and bars) against NFE on a log axis. mean/se are [panel][series][point], NaN =
 * missing. Returns 0, or -1 when the file could not be written. */
typedef struct cli_plot {
    const char *title;
    const char *subtitle;
    size_t n_panels, n_series, n_points;
    const char *const *panel_title;   /* n_panels */
    const char *const *panel_ylabel;  /* n_panels */
    const char *const *series;        /* n_series */
    const double *x;                  /* n_points NFE budgets, increasing: the ticks */
    const double *px;                 /* n_series * n_points: where each point stands (the NFE
                                         spent); NULL: at x. A non-finite or zero px is missing */
    const double *mean, *se;          /* n_panels * n_series * n_points */
} cli_plot;

int cli_plot_svg(FILE *f, const cli_plot *p);

#endif
