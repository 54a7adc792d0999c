/* Shared test support: contexts with counting/failing allocators, mixture fixtures, and small
 * statistics helpers. */
#ifndef ITS_TEST_H
#define ITS_TEST_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "itscale.h"
#include <pthread.h>

#include "itscale/gmm.h"

/* An allocator that counts, tracks live bytes, can fail the k-th allocation and can refuse
 * single blocks above a size (so huge in-range requests fail alike on every machine). */
typedef struct its_test_alloc {
    long calls;          /* allocations so far */
    long live;           /* blocks not yet freed */
    long fail_at;        /* fail the allocation with this 1-based index; 0 = never */
    long failures;       /* allocations failed through fail_at */
    size_t max_block;    /* refuse blocks larger than this; 0 = no limit */
    long refused;        /* allocations refused through max_block */
    size_t peak_bytes, live_bytes;
} its_test_alloc;

/* The same allocator behind a mutex, for contexts that allocate from several threads (the
 * scheduler's). Zero it and init mu; read inner's counters with its_test_alloc_mt_get, or
 * under mu. */
typedef struct its_test_alloc_mt {
    pthread_mutex_t mu;
    its_test_alloc inner;
    its_allocator base; /* the counting allocator over inner */
} its_test_alloc_mt;
void its_test_ctx_params_mt(its_test_alloc_mt *l, its_ctx_params *p);
long its_test_alloc_mt_get(its_test_alloc_mt *l, long *field);

its_ctx *its_test_ctx(its_test_alloc *a); /* a may be NULL: default allocator */
/* Context parameters with the counting allocator a (for tests that call its_ctx_create). */
void its_test_ctx_params(its_test_alloc *a, its_ctx_params *p);

/* A 2-component mixture in `dim` dimensions: a common component at -mu*1 (weight 1-w_rare)
 * and a rare one at +mu*1 (weight w_rare), std s. Component 1 is the rare target. */
its_gmm *its_test_gmm2(its_ctx *ctx, size_t dim, double mu, double s, double w_rare);

#define ITS_ASSERT_OK(expr)                                                      \
    do {                                                                         \
        its_status s_ = (expr);                                                  \
        if (s_ != ITS_OK)                                                        \
            fail_msg("%s -> %s", #expr, its_status_str(s_));                     \
    } while (0)

/* |a - b| <= tol, with a message. */
#define ITS_ASSERT_NEAR(a, b, tol)                                                         \
    do {                                                                                   \
        double a_ = (a), b_ = (b), t_ = (tol);                                             \
        if (!(fabs(a_ - b_) <= t_))                                                        \
            fail_msg("%s = %.9g, expected %.9g within %.3g", #a, a_, b_, t_);              \
    } while (0)

/* A context with the counting allocator, the 2-component mixture (means -+1.5, std 0.5, rare
 * weight 0.1) in `dim` dimensions, its exact velocity model (linear interpolant) and the
 * log-probability verifier of the rare component. */
typedef struct its_test_fixture {
    its_test_alloc alloc;
    its_ctx *ctx;
    its_gmm *gmm;
    its_model model;
    its_verifier ver;
} its_test_fixture;

/* cmocka setup/teardown bodies: *state becomes the fixture; teardown fails on a leak. */
int its_test_fixture_setup(void **state, size_t dim);
int its_test_fixture_teardown(void **state);

/* Mean and standard error of n doubles. */
void its_test_mean_se(const double *v, size_t n, double *mean, double *se);

#endif
