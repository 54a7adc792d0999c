/* The anytime trace is the score of what the run would return: for every sampler, its last
 * point equals the result's best score exactly, whether the run completes, meets its cap or is
 * cancelled part way. */
#include "its_test.h"

#include <string.h>

#define DIM 2

static int needs_sde(its_method m)
{
    return m == ITS_METHOD_BEAM || m == ITS_METHOD_SVDD || m == ITS_METHOD_CODE ||
           m == ITS_METHOD_FK_SMC || m == ITS_METHOD_RBF;
}

typedef struct stop_at {
    uint64_t nfe;
} stop_at;

static int cancel_after(void *user, const its_progress *p)
{
    return p->nfe >= ((stop_at *)user)->nfe;
}

/* Runs m and checks the trace against the result; returns the number of trace points. */
static size_t check_trace(its_test_fixture *f, its_method m, uint64_t cap, uint64_t cancel,
                          uint64_t seed)
{
    its_run_params run;
    its_run_params_init(&run);
    run.steps = 8;
    run.max_nfe = cap;
    if (needs_sde(m))
        run.dynamics = ITS_DYN_SDE;
    stop_at st = {cancel};
    if (cancel) {
        run.progress = cancel_after;
        run.progress_user = &st;
    }
    its_zero_order_params zo;
    its_zero_order_params_init(&zo);
    zo.rounds = 3;
    its_dfs_params dfs;
    its_dfs_params_init(&dfs);
    dfs.threshold = -1.0;
    const void *p = m == ITS_METHOD_ZERO_ORDER ? (const void *)&zo
                    : m == ITS_METHOD_DFS      ? (const void *)&dfs
                                               : NULL;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(f->ctx, m, p, &run, &s));
    its_result *r = NULL;
    its_status rc = its_generate(s, &f->model, &f->ver, seed, &r);
    if (rc != ITS_OK && rc != ITS_CANCELLED)
        fail_msg("%s: %s %s", its_method_name(m), its_status_str(rc), its_ctx_errmsg(f->ctx));
    const its_trace_point *pts = NULL;
    size_t n = its_result_trace(r, &pts);
    if (its_result_count(r) == 0) {
        /* cancelled before anything was scored: nothing returned, nothing traced */
        assert_int_equal(rc, ITS_CANCELLED);
        assert_int_equal(n, 0);
        its_result_free(r);
        its_sampler_free(s);
        return 0;
    }
    if (n < 1)
        fail_msg("%s: empty trace (best %g)", its_method_name(m), its_result_score(r, 0));
    double best = its_result_score(r, 0);
    if (!(pts[n - 1].best == best))
        fail_msg("%s cap %llu cancel %llu seed %llu: trace ends at %.17g, best.score %.17g",
                 its_method_name(m), (unsigned long long)cap, (unsigned long long)cancel,
                 (unsigned long long)seed, pts[n - 1].best, best);
    its_usage u;
    its_result_usage(r, &u);
    for (size_t i = 0; i < n; i++) {
        assert_true(pts[i].nfe <= u.nfe);
        if (i)
            assert_true(pts[i].nfe > pts[i - 1].nfe);
    }
    its_result_free(r);
    its_sampler_free(s);
    return n;
}

static void test_trace_ends_at_result(void **state)
{
    its_test_fixture *f = *state;
    for (int m = 0; m < ITS_METHOD_COUNT_; m++)
        for (uint64_t seed = 1; seed <= 3; seed++) {
            check_trace(f, (its_method)m, 0, 0, seed);
            check_trace(f, (its_method)m, 300, 0, seed);
            /* cancelled part way: the best so far is returned, and the trace says so */
            check_trace(f, (its_method)m, 300, 20, seed);
        }
}

static int setup(void **state) { return its_test_fixture_setup(state, DIM); }
static int teardown(void **state) { return its_test_fixture_teardown(state); }

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_trace_ends_at_result)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
