/* Null model and verifier callbacks (zeros out), loaded by bench_bridge.py: the C baseline the
 * Python bridge's per-call overhead is measured against. user points to the row width. */
#include <stddef.h>
#include <string.h>

__attribute__((visibility("default"))) int its_bench_null_eval(void *user, const float *x,
                                                                const float *t, size_t n,
                                                                float *out)
{
    (void)x;
    (void)t;
    memset(out, 0, n * *(const size_t *)user * sizeof(float));
    return 0;
}

__attribute__((visibility("default"))) int its_bench_null_score(void *user, const float *x0,
                                                                 size_t n, float *scores)
{
    (void)user;
    (void)x0;
    memset(scores, 0, n * sizeof(float));
    return 0;
}
