/* Statistical tests of the search samplers zero_order, search_over_paths, dfs and local_search on
 * the analytic mixture with a rare target component: at an equal NFE budget each must raise the
 * mean target log-probability above `none` by more than 3 standard errors (fixed seeds). The suite
 * also prints the quality-vs-compute table (NFE 100 / 500 / 2000, 16 seeds) beside none and
 * best_of_n. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its_test.h"

#define DIM 4
#define STEPS 20
#define MAX_SEEDS 64

typedef struct {
    its_ctx *ctx;
    its_gmm *g, *hard;
    its_model m;
    its_verifier v;
    its_interp ip;
} fixture;

typedef enum { M_NONE, M_BON, M_ZO, M_SOP, M_DFS, M_LS, M_COUNT } mid;
static const char *const mname[M_COUNT] = {"none",  "best_of_n", "zero_order",
                                           "search_over_paths", "dfs", "local_search"};

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    f->ctx = its_test_ctx(NULL);
    /* target: weight 0.1 at +1, the common component at -1, std 0.6, in 4 dimensions */
    f->g = its_test_gmm2(f->ctx, DIM, 1.0, 0.6, 0.1);
    its_interp_init(&f->ip, ITS_INTERP_LINEAR);
    its_gmm_bind_model(f->g, &f->ip, ITS_PRED_VELOCITY, &f->m);
    its_gmm_bind_logprob(f->g, 1, &f->v);
    /* the table's task, harder so that the curves do not saturate: 8 dimensions, weight 0.01 */
    f->hard = its_test_gmm2(f->ctx, 8, 1.0, 0.6, 0.01);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    its_gmm_free(f->g);
    its_gmm_free(f->hard);
    its_ctx_free(f->ctx);
    free(f);
    return 0;
}

/* One run of method `id` at budget B; *score = target log-probability of the output, *hit = 1
 * when the target is its most likely component. Returns the NFE used. */
static uint64_t run_one(fixture *f, its_gmm *g, mid id, uint64_t B, uint64_t seed, double *score,
                        int *hit)
{
    its_model model;
    its_verifier ver;
    its_gmm_bind_model(g, &f->ip, ITS_PRED_VELOCITY, &model);
    its_gmm_bind_logprob(g, 1, &ver);
    const size_t dim = its_gmm_dim(g);
    its_run_params run;
    its_run_params_init(&run);
    run.steps = STEPS;
    run.max_nfe = B;
    its_method meth = ITS_METHOD_NONE;
    union {
        its_best_of_n_params bon;
        its_zero_order_params zo;
        its_search_over_paths_params sp;
        its_dfs_params dfs;
        its_local_search_params ls;
    } p;
    const void *pp = NULL;
    switch (id) {
    case M_NONE:
        break;
    case M_BON:
        meth = ITS_METHOD_BEST_OF_N;
        its_best_of_n_params_init(&p.bon);
        p.bon.n = (int)(B / STEPS);
        pp = &p.bon;
        break;
    case M_ZO:
        meth = ITS_METHOD_ZERO_ORDER;
        its_zero_order_params_init(&p.zo); /* rounds from the budget */
        pp = &p.zo;
        break;
    case M_SOP:
        meth = ITS_METHOD_SEARCH_OVER_PATHS;
        its_search_over_paths_params_init(&p.sp);
        p.sp.m = 64; /* lowered by the sampler until the plan fits B */
        pp = &p.sp;
        break;
    case M_DFS:
        meth = ITS_METHOD_DFS;
        its_dfs_params_init(&p.dfs);
        p.dfs.threshold = -1.0;
        p.dfs.depth = 4;
        p.dfs.backtracks = 100000; /* backtracks as long as the budget can pay for the redo */
        pp = &p.dfs;
        break;
    case M_LS:
        meth = ITS_METHOD_LOCAL_SEARCH;
        its_local_search_params_init(&p.ls);
        p.ls.n = (int)(B / (2 * STEPS));
        pp = &p.ls;
        break;
    default:
        fail();
    }
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(f->ctx, meth, pp, &run, &s));
    its_result *r = NULL;
    its_status st = its_generate(s, &model, &ver, seed, &r);
    if (st != ITS_OK)
        fail_msg("%s at NFE %llu: %s", mname[id], (unsigned long long)B, its_ctx_errmsg(f->ctx));
    const float *x = its_result_sample(r, 0);
    float sc;
    assert_int_equal(ver.score(ver.user, x, 1, &sc), 0);
    *score = sc;
    double xd[16], resp[2];
    assert_true(dim <= 16);
    for (size_t d = 0; d < dim; d++)
        xd[d] = x[d];
    ITS_ASSERT_OK(its_gmm_responsibilities(g, &f->ip, 0.0, xd, resp));
    *hit = resp[1] > resp[0];
    its_usage u;
    its_result_usage(r, &u);
    assert_true(u.nfe <= B || id == M_NONE);
    its_result_free(r);
    its_sampler_free(s);
    return u.nfe;
}

typedef struct {
    double mean, se, hit, nfe;
} summary;

static summary run_many(fixture *f, its_gmm *g, mid id, uint64_t B, int seeds)
{
    double v[MAX_SEEDS];
    int hits = 0;
    double nfe = 0;
    for (int i = 0; i < seeds; i++) {
        int h;
        nfe += (double)run_one(f, g, id, B, 1000 + (uint64_t)i, &v[i], &h);
        hits += h;
    }
    summary s;
    its_test_mean_se(v, (size_t)seeds, &s.mean, &s.se);
    s.hit = (double)hits / seeds;
    s.nfe = nfe / seeds;
    return s;
}

/* Each sampler at an equal budget of 500 NFE beats one trajectory by more than 3 standard
 * errors of the difference of the means (64 seeds). */
static void test_beats_none(void **state)
{
    fixture *f = *state;
    const int S = 64;
    const uint64_t B = 500;
    summary none = run_many(f, f->g, M_NONE, B, S);
    printf("  none: %.3f +- %.3f (hit %.2f)\n", none.mean, none.se, none.hit);
    for (mid id = M_ZO; id < M_COUNT; id++) {
        summary s = run_many(f, f->g, id, B, S);
        double se = sqrt(none.se * none.se + s.se * s.se);
        printf("  %s: %.3f +- %.3f (hit %.2f, mean NFE %.1f), difference %.3f = %.1f se\n",
               mname[id], s.mean, s.se, s.hit, s.nfe, s.mean - none.mean,
               (s.mean - none.mean) / se);
        if (!(s.mean - none.mean > 3.0 * se))
            fail_msg("%s mean %.4f does not beat none %.4f by 3 se (%.4f)", mname[id], s.mean,
                     none.mean, 3.0 * se);
    }
}

/* The quality-vs-compute table on the harder task (8 dimensions, target weight 0.01): mean target
 * log-probability +- standard error and hit rate over 16 seeds at NFE 100 / 500 / 2000. Checked only for sanity here (scores are log-probabilities,
 * <= 0, and every method stays within its budget in run_one). */
static void test_table(void **state)
{
    fixture *f = *state;
    const uint64_t budgets[] = {100, 500, 2000};
    printf("  | method | NFE 100 | NFE 500 | NFE 2000 |\n  |---|---|---|---|\n");
    for (mid id = M_NONE; id < M_COUNT; id++) {
        printf("  | %s |", mname[id]);
        for (size_t b = 0; b < 3; b++) {
            summary s = run_many(f, f->hard, id, budgets[b], 16);
            assert_true(s.mean <= 0);
            printf(" %.2f +- %.2f (hit %.2f, %.0f NFE) |", s.mean, s.se, s.hit, s.nfe);
        }
        printf("\n");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_beats_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
