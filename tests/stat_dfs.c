/* dfs with its default (relative) threshold rule improves on `none` on any reward scale: on the
 * mixture, the mean verifier score over fixed seeds beats `none`'s by more than 3 standard errors
 * of the difference, at a 500 NFE cap, with the log-probability verifier and with the same
 * verifier scaled by 1000 and shifted (where an absolute threshold of 0 would never fire). */
#include "its_test.h"

#include <stdlib.h>

#define DIM 8
#define SEEDS 200

typedef struct scaled {
    its_verifier inner;
    double a, b;
} scaled;

static int scaled_score(void *user, const float *x0, size_t n, float *scores)
{
    scaled *s = user;
    int rc = s->inner.score(s->inner.user, x0, n, scores);
    for (size_t i = 0; i < n; i++)
        scores[i] = (float)(s->a * scores[i] + s->b);
    return rc;
}

/* Mean and standard error of the best score of method m over SEEDS seeds. */
static void score_of(its_test_fixture *f, its_method m, const its_verifier *v, double *mean,
                     double *se)
{
    its_run_params run;
    its_run_params_init(&run);
    run.max_nfe = 500;
    its_sampler *s = NULL;
    ITS_ASSERT_OK(its_sampler_create(f->ctx, m, NULL, &run, &s));
    double *x = malloc(SEEDS * sizeof(double));
    assert_non_null(x);
    for (int i = 0; i < SEEDS; i++) {
        its_result *r = NULL;
        ITS_ASSERT_OK(its_generate(s, &f->model, v, (uint64_t)i + 1, &r));
        x[i] = its_result_score(r, 0);
        its_result_free(r);
    }
    its_test_mean_se(x, SEEDS, mean, se);
    free(x);
    its_sampler_free(s);
}

static void test_dfs_beats_none(void **state)
{
    its_test_fixture *f = *state;
    scaled sc = {f->ver, 1000.0, -5000.0};
    its_verifier big;
    its_verifier_init(&big);
    big.score = scaled_score;
    big.user = &sc;
    const its_verifier *vs[2] = {&f->ver, &big};
    for (int k = 0; k < 2; k++) {
        double mn, sn, md, sd;
        score_of(f, ITS_METHOD_NONE, vs[k], &mn, &sn);
        score_of(f, ITS_METHOD_DFS, vs[k], &md, &sd);
        double se = sqrt(sn * sn + sd * sd);
        print_message("verifier %d: none %.4g +- %.2g, dfs %.4g +- %.2g (%.1f SE)\n", k, mn, sn,
                      md, sd, (md - mn) / se);
        if (!(md - mn > 3.0 * se))
            fail_msg("dfs %.6g is not 3 SE (%.3g) above none %.6g", md, se, mn);
    }
}

static int setup(void **state) { return its_test_fixture_setup(state, DIM); }
static int teardown(void **state) { return its_test_fixture_teardown(state); }

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_dfs_beats_none)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
