#define _POSIX_C_SOURCE 200809L
#include "its_test.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    size_t size;
    size_t pad;
} its_test_hdr;

static void *its_test_alloc_fn(void *opaque, size_t size, size_t align)
{
    its_test_alloc *a = opaque;
    a->calls++;
    if (a->fail_at && a->calls == a->fail_at) {
        a->failures++;
        return NULL;
    }
    if (a->max_block && size > a->max_block) {
        a->refused++;
        return NULL;
    }
    /* keep the size in front of the block, at the requested alignment */
    size_t off = align < sizeof(its_test_hdr) ? sizeof(its_test_hdr) : align;
    void *base = NULL;
    if (posix_memalign(&base, align < sizeof(void *) ? sizeof(void *) : align, size + off) != 0)
        return NULL;
    char *p = (char *)base + off;
    its_test_hdr h = {size, off};
    memcpy(p - sizeof(h), &h, sizeof(h));
    a->live++;
    a->live_bytes += size;
    if (a->live_bytes > a->peak_bytes)
        a->peak_bytes = a->live_bytes;
    return p;
}

static void its_test_free_fn(void *opaque, void *ptr)
{
    its_test_alloc *a = opaque;
    if (!ptr)
        return;
    its_test_hdr h;
    memcpy(&h, (char *)ptr - sizeof(h), sizeof(h));
    a->live--;
    a->live_bytes -= h.size;
    free((char *)ptr - h.pad);
}

void its_test_ctx_params(its_test_alloc *a, its_ctx_params *p)
{
    its_ctx_params_init(p);
    if (a) {
        p->allocator.alloc = its_test_alloc_fn;
        p->allocator.free = its_test_free_fn;
        p->allocator.opaque = a;
    }
}

static void *its_test_mt_alloc_fn(void *opaque, size_t size, size_t align)
{
    its_test_alloc_mt *l = opaque;
    pthread_mutex_lock(&l->mu);
    void *p = l->base.alloc(l->base.opaque, size, align);
    pthread_mutex_unlock(&l->mu);
    return p;
}

static void its_test_mt_free_fn(void *opaque, void *ptr)
{
    its_test_alloc_mt *l = opaque;
    pthread_mutex_lock(&l->mu);
    l->base.free(l->base.opaque, ptr);
    pthread_mutex_unlock(&l->mu);
}

void its_test_ctx_params_mt(its_test_alloc_mt *l, its_ctx_params *p)
{
    its_ctx_params tp;
    its_test_ctx_params(&l->inner, &tp);
    l->base = tp.allocator;
    its_ctx_params_init(p);
    p->allocator.alloc = its_test_mt_alloc_fn;
    p->allocator.free = its_test_mt_free_fn;
    p->allocator.opaque = l;
}

long its_test_alloc_mt_get(its_test_alloc_mt *l, long *field)
{
    pthread_mutex_lock(&l->mu);
    long v = *field;
    pthread_mutex_unlock(&l->mu);
    return v;
}

its_ctx *its_test_ctx(its_test_alloc *a)
{
    its_ctx_params p;
    its_test_ctx_params(a, &p);
    its_ctx *ctx = NULL;
    if (its_ctx_create(&p, &ctx) != ITS_OK)
        return NULL;
    return ctx;
}

its_gmm *its_test_gmm2(its_ctx *ctx, size_t dim, double mu, double s, double w_rare)
{
    double w[2] = {1.0 - w_rare, w_rare};
    double *means = calloc(2 * dim, sizeof(double)), *stds = calloc(2 * dim, sizeof(double));
    for (size_t d = 0; d < dim; d++) {
        means[d] = -mu;
        means[dim + d] = mu;
        stds[d] = stds[dim + d] = s;
    }
    its_gmm *g = NULL;
    its_gmm_create(ctx, dim, 2, w, means, stds, &g);
    free(means);
    free(stds);
    return g;
}

void its_test_mean_se(const double *v, size_t n, double *mean, double *se)
{
    double m = 0, q = 0;
    for (size_t i = 0; i < n; i++)
        m += v[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++)
        q += (v[i] - m) * (v[i] - m);
    *mean = m;
    *se = n > 1 ? sqrt(q / (double)(n - 1) / (double)n) : INFINITY;
}

int its_test_fixture_setup(void **state, size_t dim)
{
    its_test_fixture *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    f->ctx = its_test_ctx(&f->alloc);
    f->gmm = its_test_gmm2(f->ctx, dim, 1.5, 0.5, 0.1);
    if (!f->ctx || !f->gmm)
        return -1;
    its_interp ip;
    its_interp_init(&ip, ITS_INTERP_LINEAR);
    its_gmm_bind_model(f->gmm, &ip, ITS_PRED_VELOCITY, &f->model);
    its_gmm_bind_logprob(f->gmm, 1, &f->ver);
    *state = f;
    return 0;
}

int its_test_fixture_teardown(void **state)
{
    its_test_fixture *f = *state;
    its_gmm_free(f->gmm);
    its_ctx_free(f->ctx);
    assert_int_equal(f->alloc.live, 0);
    free(f);
    return 0;
}
