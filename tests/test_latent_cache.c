/* Latent blocks kept on the context between runs (its_ctx_set_latent_cache): a run on reused,
 * stale memory gives the same bits as on fresh memory for every method; the keep cap and
 * its_ctx_set_latent_cache(ctx, 0) bound and release what is kept; an allocation failure with
 * blocks kept gives them back and retries. With its_ctx_set_latent_cache_min(ctx, 0) blocks
 * of every size and the host scratch are kept too, and a repeated run hands its callbacks the
 * addresses of the last one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its_test.h"

#define DIM 16384 /* 64 KiB per row: every latent block is kept */
#define NFE 120

typedef its_test_fixture fixture;

/* A cheap model and verifier, so the runs (and memcheck over them) cost little at this dim:
 * the velocity u = x / 2 (a Gaussian path's shape) and r(x0) = -|x0 - 1|^2 / dim, with its
 * gradient for local_search. */
static int half_eval(void *user, const float *x, const float *t, size_t n, size_t dim, float *out)
{
    (void)user;
    (void)t;
    for (size_t i = 0; i < n * dim; i++)
        out[i] = 0.5f * x[i];
    return 0;
}

static int dist_grad(void *user, const float *x0, size_t n, size_t dim, float *grad, float *s)
{
    (void)user;
    for (size_t r = 0; r < n; r++) {
        double acc = 0;
        for (size_t j = 0; j < dim; j++) {
            double d = (double)x0[r * dim + j] - 1.0;
            acc += d * d;
            if (grad)
                grad[r * dim + j] = (float)(-2.0 * d / (double)dim);
        }
        s[r] = (float)(-acc / (double)dim);
    }
    return 0;
}

static int dist_score(void *user, const float *x0, size_t n, size_t dim, float *s)
{
    return dist_grad(user, x0, n, dim, NULL, s);
}

static int setup(void **state)
{
    if (its_test_fixture_setup(state, DIM) != 0)
        return -1;
    fixture *f = *state;
    f->model.eval = NULL;
    f->model.eval_dim = half_eval;
    f->model.user = NULL;
    its_verifier_init(&f->ver);
    f->ver.score_dim = dist_score;
    f->ver.grad_dim = dist_grad;
    return 0;
}

static int teardown(void **state) { return its_test_fixture_teardown(state); }

/* Method m fitted to nfe NFE, SDE, 6 steps, top 2. */
static its_sampler *make(its_ctx *ctx, its_method m, uint64_t nfe)
{
    char doc[256], *fit = NULL;
    snprintf(doc, sizeof(doc),
             "{\"sampler\": \"%s\", \"run\": {\"steps\": 6, \"top_k\": 2, "
             "\"dynamics\": {\"kind\": \"sde\"}}}",
             its_method_name(m));
    ITS_ASSERT_OK(its_cost_fit_json(ctx, doc, strlen(doc), nfe, &fit));
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_from_json(ctx, fit, strlen(fit), &s));
    its_ctx_mem_free(ctx, fit);
    return s;
}

static void assert_same(const its_result *a, const its_result *b, const char *what)
{
    assert_int_equal(its_result_count(a), its_result_count(b));
    for (size_t i = 0; i < its_result_count(a); i++) {
        if (memcmp(its_result_sample(a, i), its_result_sample(b, i), DIM * sizeof(float)) != 0)
            fail_msg("%s: sample %zu differs", what, i);
        double sa = its_result_score(a, i), sb = its_result_score(b, i);
        if (memcmp(&sa, &sb, sizeof(sa)) != 0)
            fail_msg("%s: score %zu differs (%.17g, %.17g)", what, i, sa, sb);
    }
    its_usage ua, ub;
    its_result_usage(a, &ua);
    its_result_usage(b, &ub);
    assert_int_equal(ua.nfe, ub.nfe);
}

static its_result *run(fixture *f, its_sampler *s, uint64_t seed)
{
    its_result *r = NULL;
    ITS_ASSERT_OK(its_generate(s, &f->model, &f->ver, seed, &r));
    return r;
}

/* Every method, seed 3: on a context that keeps nothing, and on one whose kept blocks hold what
 * a run of another method and seed left in them; keep_min is the warm context's smallest kept
 * block (0: the host scratch of times and scores is reused dirty too). */
static void reused_memory_same_bits(fixture *f, size_t keep_min)
{
    its_test_alloc a2;
    memset(&a2, 0, sizeof(a2));
    its_ctx *warm = its_test_ctx(&a2);
    assert_non_null(warm);
    ITS_ASSERT_OK(its_ctx_set_latent_cache_min(warm, keep_min));
    ITS_ASSERT_OK(its_ctx_set_latent_cache(f->ctx, 0));
    for (int mi = 0; mi < ITS_METHOD_COUNT_; mi++) {
        its_method m = (its_method)mi, other = (its_method)((mi + 1) % ITS_METHOD_COUNT_);
        its_sampler *s = make(f->ctx, m, NFE), *sw = make(warm, m, NFE), *so = make(warm, other, NFE);
        long calls0 = f->alloc.calls;
        its_result *fresh = run(f, s, 3);
        long cold = f->alloc.calls - calls0; /* allocations of a run on a context keeping none */
        its_result_free(run(f, so, 5)); /* fills the warm context's kept blocks ... */
        its_result_free(run(f, sw, 4)); /* ... the last with this method's shapes and seed 4 */
        its_result *again = run(f, sw, 3);  /* on the blocks seed 4 left dirty */
        assert_same(fresh, again, its_method_name(m));
        calls0 = a2.calls;
        its_result_free(run(f, sw, 3));
        /* the same run once more takes its latent blocks back: fewer allocations than cold */
        if (a2.calls - calls0 >= cold)
            fail_msg("%s: %ld allocations on the repeat, %ld on a cold run", its_method_name(m),
                     a2.calls - calls0, cold);
        its_result_free(fresh);
        its_result_free(again);
        its_sampler_free(s);
        its_sampler_free(sw);
        its_sampler_free(so);
    }
    ITS_ASSERT_OK(its_ctx_set_latent_cache(f->ctx, (size_t)64 << 20));
    its_ctx_free(warm);
    assert_int_equal(a2.live, 0);
}

static void test_reused_memory_same_bits(void **state)
{
    reused_memory_same_bits(*state, (size_t)64 << 10); /* the default */
}

static void test_reused_memory_same_bits_keep_all(void **state)
{
    reused_memory_same_bits(*state, 0);
}

/* The buffers a run hands its callbacks, as a set of addresses. */
#define ADDR_CAP 256
typedef struct addr_set {
    const void *p[ADDR_CAP];
    int n, overflow;
} addr_set;

static void addr_add(addr_set *s, const void *p)
{
    for (int i = 0; i < s->n; i++)
        if (s->p[i] == p)
            return;
    if (s->n == ADDR_CAP)
        s->overflow = 1;
    else
        s->p[s->n++] = p;
}

static int rec_eval(void *user, const float *x, const float *t, size_t n, size_t dim, float *out)
{
    addr_add(user, x);
    addr_add(user, t);
    addr_add(user, out);
    return half_eval(NULL, x, t, n, dim, out);
}

static int rec_grad(void *user, const float *x0, size_t n, size_t dim, float *grad, float *s)
{
    addr_add(user, x0);
    addr_add(user, grad);
    addr_add(user, s);
    return dist_grad(NULL, x0, n, dim, grad, s);
}

static int rec_score(void *user, const float *x0, size_t n, size_t dim, float *s)
{
    addr_add(user, x0);
    addr_add(user, s);
    return dist_grad(NULL, x0, n, dim, NULL, s);
}

/* With its_ctx_set_latent_cache_min(ctx, 0), every method run twice with the same seed at a
 * small dim (blocks far below 64 KiB) hands its callbacks, the second time, only addresses it
 * handed them the first time: x, t and the prediction, x0, scores and gradients. */
static void test_keep_all_same_addresses(void **state)
{
    fixture *f = *state;
    ITS_ASSERT_OK(its_ctx_set_latent_cache_min(f->ctx, 0));
    its_model m = f->model;
    m.dim = 64;
    m.eval_dim = rec_eval;
    its_verifier v;
    its_verifier_init(&v);
    v.score_dim = rec_score;
    v.grad_dim = rec_grad;
    for (int mi = 0; mi < ITS_METHOD_COUNT_; mi++) {
        its_sampler *s = make(f->ctx, (its_method)mi, NFE);
        addr_set first = {0}, again = {0};
        its_result *r = NULL;
        m.user = v.user = &first;
        ITS_ASSERT_OK(its_generate(s, &m, &v, 3, &r));
        its_result_free(r);
        m.user = v.user = &again;
        ITS_ASSERT_OK(its_generate(s, &m, &v, 3, &r));
        its_result_free(r);
        assert_false(first.overflow || again.overflow);
        if (again.n < 3 || again.n != first.n) /* x, t and the prediction at least */
            fail_msg("%s: %d addresses on the first run, %d on the second",
                     its_method_name((its_method)mi), first.n, again.n);
        for (int i = 0; i < again.n; i++) {
            int seen = 0;
            for (int j = 0; j < first.n && !seen; j++)
                seen = again.p[i] == first.p[j];
            if (!seen)
                fail_msg("%s: the second run handed a callback a new address (%d of %d)",
                         its_method_name((its_method)mi), i, again.n);
        }
        its_sampler_free(s);
    }
    /* back to the default: the small blocks kept are freed */
    long live = f->alloc.live;
    ITS_ASSERT_OK(its_ctx_set_latent_cache_min(f->ctx, (size_t)64 << 10));
    assert_true(f->alloc.live < live);
    assert_int_equal(its_ctx_set_latent_cache_min(NULL, 0), ITS_ERR_INVALID);
}

/* The first run allocates its particle sets; the second takes them back (fewer allocations);
 * what is kept stays under the cap, and 0 frees it all. */
static void test_kept_bounded_and_released(void **state)
{
    fixture *f = *state;
    its_test_alloc *a = &f->alloc;
    its_sampler *s = make(f->ctx, ITS_METHOD_BEST_OF_N, NFE);
    long live0 = a->live;
    size_t bytes0 = a->live_bytes;
    long c0 = a->calls;
    its_result_free(run(f, s, 1));
    long first = a->calls - c0;
    assert_true(a->live > live0); /* the particle sets (8 rows x 8 KiB and up) are kept */
    assert_true(a->live_bytes - bytes0 <= ((size_t)64 << 20));
    c0 = a->calls;
    its_result_free(run(f, s, 1));
    long second = a->calls - c0;
    if (second >= first)
        fail_msg("second run made %ld allocations, the first %ld", second, first);

    /* a cap below the run's largest blocks: those are freed, the smaller ones (the top-2 pools,
     * 128 KiB each) kept, oldest dropped first */
    size_t cap = (size_t)300 << 10;
    ITS_ASSERT_OK(its_ctx_set_latent_cache(f->ctx, cap));
    assert_true(a->live_bytes - bytes0 <= cap);
    its_result_free(run(f, s, 2));
    assert_true(a->live_bytes - bytes0 <= cap);
    assert_true(a->live > live0);

    ITS_ASSERT_OK(its_ctx_set_latent_cache(f->ctx, 0));
    assert_int_equal(a->live, live0);
    assert_int_equal(a->live_bytes, bytes0);
    its_result_free(run(f, s, 2));
    assert_int_equal(a->live, live0); /* keeps nothing from then on */
    ITS_ASSERT_OK(its_ctx_set_latent_cache(f->ctx, (size_t)64 << 20));
    assert_int_equal(its_ctx_set_latent_cache(NULL, 0), ITS_ERR_INVALID);
    its_sampler_free(s);
}

/* Each allocation of a best_of_n run failing in turn, with blocks of another size kept: the run
 * fails cleanly or succeeds, leaks nothing, and a failed latent allocation with blocks kept
 * gives them back and succeeds on its second try. */
static void alloc_failure_with_kept_blocks(size_t keep_min)
{
    int retried = 0;
    for (long k = 1; k < 400; k++) {
        void *st0 = NULL;
        assert_int_equal(setup(&st0), 0);
        fixture *f = st0;
        its_ctx *ctx = f->ctx;
        ITS_ASSERT_OK(its_ctx_set_latent_cache_min(ctx, keep_min));
        its_test_alloc *a = &f->alloc;
        its_sampler *big = make(ctx, ITS_METHOD_BEST_OF_N, 2 * NFE);
        its_sampler *s = make(ctx, ITS_METHOD_BEST_OF_N, NFE);
        its_result_free(run(f, big, 1)); /* keeps blocks of 16 rows and more */
        a->fail_at = a->calls + k;
        its_result *r = NULL;
        its_status st = its_generate(s, &f->model, &f->ver, 1, &r);
        int failed = a->failures > 0;
        if (st == ITS_OK) {
            its_result_free(r);
            retried += failed;
        } else {
            assert_int_equal(st, ITS_ERR_NOMEM);
            assert_null(r);
            assert_non_null(strstr(its_ctx_errmsg(ctx), "memory"));
        }
        a->fail_at = 0;
        its_sampler_free(big);
        its_sampler_free(s);
        its_test_fixture_teardown(&st0); /* fails on a leak */
        if (!failed)
            break; /* past the run's last allocation */
    }
    assert_true(retried > 0);
}

static void test_alloc_failure_with_kept_blocks(void **state)
{
    (void)state;
    alloc_failure_with_kept_blocks((size_t)64 << 10);
    alloc_failure_with_kept_blocks(0); /* the host scratch kept and reused too */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reused_memory_same_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reused_memory_same_bits_keep_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keep_all_same_addresses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_bounded_and_released, setup, teardown),
        cmocka_unit_test(test_alloc_failure_with_kept_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
