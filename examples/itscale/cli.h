/* Pieces of the itscale command-line tool shared between its files. */
#ifndef ITSCALE_CLI_H
#define ITSCALE_CLI_H

#include <stdio.h>

#include <cjson/cJSON.h>

#include "task.h"

/* One line on stderr, "itscale: ..." */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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
    const double *x;                  /* n_points NFE budgets, increasing */
    const double *mean, *se;          /* n_panels * n_series * n_points */
} cli_plot;

int cli_plot_svg(FILE *f, const cli_plot *p);

#endif
