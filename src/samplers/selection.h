/* Particle selection shared by the search samplers: importance weights, resampling from host
 * uniforms, softmax allocation, ranking and the index maps of a k-way branch. These are pure
 * functions of their inputs (no engine, no allocation), so the same scores and uniforms always
 * give the same indices. */
#ifndef ITS_SAMPLERS_SELECTION_H
#define ITS_SAMPLERS_SELECTION_H

#include <stddef.h>
#include <stdint.h>

/* Normalised weights w from log-weights lw (n >= 1): w_i = exp(lw_i - max) / sum. A -inf or NaN
 * log-weight gives weight 0; when every weight is 0 the weights are uniform. Returns the
 * effective sample size 1 / sum w_i^2 (in [1, n]). w may alias lw. */
double its_weights_normalize(const double *lw, size_t n, double *w);

/* Multinomial resampling: counts[i] = how many of the m draws picked i, each draw inverting the
 * cumulative weights at one uniform u[j] in (0, 1). w sums to 1; cdf is n doubles of scratch. */
void its_resample_multinomial(const double *w, size_t n, const double *u, size_t m, double *cdf,
                              size_t *counts);
/* Systematic resampling: draw j takes the position (j + u0) / m (Kitagawa 1996): one uniform,
 * lower variance; counts[i] is within 1 of m w_i. */
void its_resample_systematic(const double *w, size_t n, double u0, size_t m, size_t *counts);

/* Softmax allocation (BFS, Zhang et al. 2025): counts[i] = round(N softmax(temp r)_i), then a
 * deterministic fix-up so the counts sum to N: surplus is taken from the rows rounded up the most,
 * shortfall given to the rows rounded down the most (ties: lower index). Rows with r = -inf get
 * 0 unless every row is -inf (then uniform). temp = 0 gives the uniform share. work: n doubles. */
void its_alloc_softmax(const double *r, size_t n, double temp, size_t N, double *work,
                       size_t *counts);

/* idx = each i repeated counts[i] times, in increasing i; returns the length. */
size_t its_counts_to_index(const size_t *counts, size_t n, size_t *idx);

/* order[0..n) = row indices sorted by score, best first (NaN last; ties: lower index first). */
void its_rank_desc(const double *score, size_t n, size_t *order);

/* pidx / cidx of a k-way branch of n parents: child i*k + j from parent i, child index j. */
void its_smp_fanout_index(size_t n, size_t k, size_t *pidx, uint32_t *cidx);

#endif
