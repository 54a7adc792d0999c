/* Vector work of the engine split over the context's threads (core/threads.c). Only work whose
 * bits cannot depend on the split is split: element-wise combinations (contiguous chunks) and
 * per-row noise (whole rows, each keyed by its own lineage). Work is split only on the CPU
 * backend (a host backend need not be thread-safe) and only when it is large enough to pay for
 * waking the workers; otherwise these are the plain backend calls. Host callbacks are never
 * called from here. */
#ifndef ITS_ENGINE_PAR_H
#define ITS_ENGINE_PAR_H

#include "engine/engine_internal.h"

/* out = a x + b y + c z over n floats of backend memory (the backend's lincomb). */
void its_par_lincomb(its_engine *e, float *out, size_t n, float a, const float *x, float b,
                     const float *y, float c, const float *z);
/* Copies n floats of backend memory (regions do not overlap). */
void its_par_copy(its_engine *e, float *dst, const float *src, size_t n);
/* For rows j in [0, rows): out row j = a x[s] + b y[s] + c N(0, I) with the noise of
 * (seed, lineage[j], stream), s = idx ? idx[j] : j. Rows are dim floats; x, y may be NULL;
 * out row j may be x row s or y row s (in place), never another row. */
void its_par_noise_rows(its_engine *e, float *out, size_t rows, float a, const float *x, float b,
                        const float *y, const size_t *idx, float c, const uint64_t *lineage,
                        uint32_t stream);

#endif
