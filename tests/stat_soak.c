/* Soak: thousands of runs in one process (every registered method in turn, a new sampler per
 * run, the result and its JSON, a JSON-built sampler every tenth run), with flat memory: the
 * allocator's live blocks and bytes return to the baseline after every run, its peak bytes grow
 * by at most 4 KiB after the first 600 runs, and the process's peak RSS grows by less than 16 MiB after warm-up. */
#define _POSIX_C_SOURCE 200809L
#include "reliab.h"

#include <sys/resource.h>

/* Sanitizer runtimes hold freed memory in quarantine, so RSS says nothing there. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SOAK_RSS_CHECK 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SOAK_RSS_CHECK 0
#endif
#endif
#ifndef SOAK_RSS_CHECK
#define SOAK_RSS_CHECK 1
#endif

#define SOAK_RUNS 6000
#define SOAK_WARM 600

static long rss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static void test_soak(void **state)
{
    (void)state;
    its_test_alloc a = {0};
    its_ctx *ctx = its_test_ctx(&a);
    rl_fixture f;
    assert_int_equal(rl_fixture_init(&f, ctx, 4), 0);
    its_method methods[ITS_METHOD_COUNT_];
    int nm = 0;
    for (int mi = 0; mi < ITS_METHOD_COUNT_; mi++)
        if (rl_registered((its_method)mi))
            methods[nm++] = (its_method)mi;
    assert_true(nm > 0);
    static const char cfg[] = "{\"sampler\": \"best_of_n\", \"params\": {\"n\": 2}, "
                              "\"run\": {\"steps\": 3, \"top_k\": 2}}";
    long live0 = a.live;
    size_t bytes0 = a.live_bytes, peak_warm = 0;
    long rss_warm = 0;
    uint64_t nfe = 0;
    for (int i = 0; i < SOAK_RUNS; i++) {
        its_method m = methods[i % nm];
        its_sampler *s = NULL;
        if (i % 10 == 9) {
            ITS_ASSERT_OK(its_sampler_from_json(ctx, cfg, sizeof(cfg) - 1, &s));
        } else {
            rl_params p;
            its_run_params run;
            rl_small(m, &p, &run);
            ITS_ASSERT_OK(its_sampler_create(ctx, m, &p, &run, &s));
        }
        its_result *r = NULL;
        ITS_ASSERT_OK(its_generate(s, &f.model, &f.ver, (uint64_t)i, &r));
        assert_non_null(its_result_to_json(r));
        assert_non_null(its_sampler_to_json(s));
        its_usage u;
        its_result_usage(r, &u);
        nfe += u.nfe;
        its_result_free(r);
        its_sampler_free(s);
        if (a.live != live0 || a.live_bytes != bytes0)
            fail_msg("run %d (%s): %ld blocks, %zd bytes left", i, its_method_name(m),
                     a.live - live0, (ptrdiff_t)(a.live_bytes - bytes0));
        if (i == SOAK_WARM - 1) {
            peak_warm = a.peak_bytes;
            rss_warm = rss_kib();
        }
    }
    long rss_end = rss_kib();
    printf("# %d runs, %llu NFE, %d methods: live blocks %ld -> %ld, live bytes %zu -> %zu, "
           "allocator peak %zu after warm-up -> %zu at the end, %ld allocations; peak RSS "
           "%ld KiB after warm-up -> %ld KiB\n",
           SOAK_RUNS, (unsigned long long)nfe, nm, live0, a.live, bytes0, a.live_bytes, peak_warm,
           a.peak_bytes, a.calls, rss_warm, rss_end);
    /* JSON texts vary by a few bytes with the numbers in them; a leak grows without bound */
    assert_true(a.peak_bytes <= peak_warm + 4096);
    if (SOAK_RSS_CHECK)
        assert_true(rss_end - rss_warm < 16 * 1024);
    else
        printf("# sanitizer build: RSS not checked\n");
    its_gmm_free(f.gmm);
    its_ctx_free(ctx);
    assert_int_equal(a.live, 0);
    assert_int_equal(a.live_bytes, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_soak),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
