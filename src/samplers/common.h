/* Small pieces several methods share. */
#ifndef ITS_SAMPLERS_COMMON_H
#define ITS_SAMPLERS_COMMON_H

#include "samplers/sampler.h"

/* Runs every row of ps from grid index k0 (ps->t == grid[k0]) to t = 0: evaluate, step. */
its_status its_smp_rollout(its_engine *e, its_pset *ps, int k0);

/* A parent set of n rows and a child set of n*k rows with the index maps of a k-way branch:
 * child i*k + j comes from parent i with child index j (child 0 keeps the parent's lineage). */
its_status its_smp_fanout(its_engine *e, its_pset *parent, its_pset *child, size_t n, size_t k,
                          size_t **pidx, uint32_t **cidx);

/* Index of the largest score among rows [r0, r1) (ties: the first); r0 when all are NaN. */
size_t its_smp_argmax(const double *score, size_t r0, size_t r1);

#endif
