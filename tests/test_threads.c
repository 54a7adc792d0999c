/* Contexts are independent: several threads, each with its own context, allocator and model,
 * run every registered method at once and get results bit-identical to single-threaded runs
 * (also with two vector-kernel threads in a context). Label "threads": the ThreadSanitizer build
 * runs this suite. */
#define _POSIX_C_SOURCE 200809L
#include "reliab.h"

#include <pthread.h>

#define TH_THREADS 4
#define TH_SEEDS 2
#define TH_ROUNDS 2

static its_result *refs[ITS_METHOD_COUNT_][TH_SEEDS];
static pthread_barrier_t start_line; /* every thread starts its runs at once */

typedef struct th_arg {
    int id;
    int mismatches, errors, runs;
    long live_after;
} th_arg;

static its_status th_run(its_ctx *ctx, const rl_fixture *f, its_method m, uint64_t seed,
                         its_result **out)
{
    rl_params p;
    its_run_params run;
    rl_small(m, &p, &run);
    its_sampler *s = NULL;
    its_status st = its_sampler_create(ctx, m, &p, &run, &s);
    if (st == ITS_OK)
        st = its_generate(s, &f->model, &f->ver, seed, out);
    its_sampler_free(s);
    return st;
}

static void *th_main(void *vp)
{
    th_arg *arg = vp;
    its_test_alloc a = {0};
    its_ctx_params cp;
    its_test_ctx_params(&a, &cp);
    cp.n_threads = 1 + arg->id % 2;
    its_ctx *ctx = NULL;
    rl_fixture f;
    if (its_ctx_create(&cp, &ctx) != ITS_OK || rl_fixture_init(&f, ctx, 3) != 0) {
        arg->errors++;
        pthread_barrier_wait(&start_line);
        return NULL;
    }
    pthread_barrier_wait(&start_line);
    for (int round = 0; round < TH_ROUNDS; round++)
        for (int j = 0; j < ITS_METHOD_COUNT_; j++) {
            /* each thread walks the methods from another start */
            its_method m = (its_method)((j + arg->id * 3) % ITS_METHOD_COUNT_);
            if (!its_method_vt_get(m))
                continue;
            for (int sd = 0; sd < TH_SEEDS; sd++) {
                its_result *r = NULL;
                if (th_run(ctx, &f, m, 1000 + (uint64_t)sd, &r) != ITS_OK)
                    arg->errors++;
                else if (!rl_same_result(r, refs[m][sd]))
                    arg->mismatches++;
                arg->runs++;
                its_result_free(r);
            }
        }
    its_gmm_free(f.gmm);
    its_ctx_free(ctx);
    arg->live_after = a.live;
    return NULL;
}

static void test_threads_bit_identical(void **state)
{
    (void)state;
    its_ctx *ctx = its_test_ctx(NULL);
    rl_fixture f;
    assert_int_equal(rl_fixture_init(&f, ctx, 3), 0);
    int methods = 0;
    for (int mi = 0; mi < ITS_METHOD_COUNT_; mi++) {
        if (!rl_registered((its_method)mi))
            continue;
        methods++;
        for (int sd = 0; sd < TH_SEEDS; sd++)
            ITS_ASSERT_OK(th_run(ctx, &f, (its_method)mi, 1000 + (uint64_t)sd, &refs[mi][sd]));
    }
    pthread_t th[TH_THREADS];
    th_arg args[TH_THREADS];
    assert_int_equal(pthread_barrier_init(&start_line, NULL, TH_THREADS), 0);
    for (int i = 0; i < TH_THREADS; i++) {
        args[i] = (th_arg){.id = i};
        assert_int_equal(pthread_create(&th[i], NULL, th_main, &args[i]), 0);
    }
    int runs = 0;
    for (int i = 0; i < TH_THREADS; i++) {
        pthread_join(th[i], NULL);
        if (args[i].errors || args[i].mismatches)
            fail_msg("thread %d: %d errors, %d results differ from the single-threaded run", i,
                     args[i].errors, args[i].mismatches);
        assert_int_equal(args[i].live_after, 0);
        runs += args[i].runs;
    }
    pthread_barrier_destroy(&start_line);
    assert_int_equal(runs, TH_THREADS * TH_ROUNDS * TH_SEEDS * methods);
    printf("# %d threads, %d runs over %d methods, all bit-identical\n", TH_THREADS, runs,
           methods);
    for (int mi = 0; mi < ITS_METHOD_COUNT_; mi++)
        for (int sd = 0; sd < TH_SEEDS; sd++)
            its_result_free(refs[mi][sd]);
    its_gmm_free(f.gmm);
    its_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_bit_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
