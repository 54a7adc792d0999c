/* Result layout (internal). */
#ifndef ITS_RESULT_H
#define ITS_RESULT_H

#include "engine/method.h"

struct its_result {
    its_ctx *ctx;
    const its_method_vt *vt;
    void *params;              /* copy of the method params */
    its_run_params run;        /* copy; grid_custom points at grid_custom_copy */
    double *grid_custom_copy;
    size_t count, dim;
    float *samples;            /* count x dim, host */
    double *scores;
    uint64_t *found_nfe;       /* NFE when each sample was found */
    int anytime;               /* 1: samples are look-ahead estimates (the run stopped early) */
    its_usage usage;
    uint64_t seed;
    its_stop stop;
    its_status status;
    its_trace_point *trace;
    size_t n_trace;
    its_step_usage *steps;
    size_t n_steps;
    char *json;                /* cached its_result_to_json */
    char *auto_json;           /* `auto`: what it chose and why (JSON text), else NULL */
};

#endif
