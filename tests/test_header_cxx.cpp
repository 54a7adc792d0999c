// The public headers used from C++: they must compile as C++ (extern "C", no C-only syntax in
// declarations) and link against the shared library with C linkage.
#include <itscale.h>
#include <itscale/backend.h>
#include <itscale/gmm.h>
#include <itscale.h> // include guards

#include <cmath>
#include <cstdio>
#include <cstring>

static int fail(const char *what, its_ctx *ctx)
{
    std::fprintf(stderr, "test_header_cxx: %s: %s\n", what, its_ctx_errmsg(ctx));
    return 1;
}

int main()
{
    static_assert(ITS_VERSION_NUMBER == ITS_VERSION_MAJOR * 10000 + ITS_VERSION_MINOR * 100 +
                                            ITS_VERSION_PATCH,
                  "version number");
    if (std::strcmp(its_version(), ITS_VERSION_STRING) != 0 ||
        its_version_number() != ITS_VERSION_NUMBER)
        return fail("header and library versions differ", nullptr);

    its_ctx *ctx = nullptr;
    if (its_ctx_create(nullptr, &ctx) != ITS_OK)
        return fail("its_ctx_create", ctx);
    const double w[2] = {0.7, 0.3}, mu[2] = {-2.0, 2.0}, sd[2] = {0.5, 0.5};
    its_gmm *g = nullptr;
    if (its_gmm_create(ctx, 1, 2, w, mu, sd, &g) != ITS_OK)
        return fail("its_gmm_create", ctx);
    its_model m;
    its_verifier v;
    its_gmm_bind_model(g, nullptr, ITS_PRED_VELOCITY, &m);
    if (its_gmm_bind_logprob(g, 1, &v) != ITS_OK)
        return fail("its_gmm_bind_logprob", ctx);

    its_run_params run;
    its_run_params_init(&run);
    run.steps = 10;
    its_best_of_n_params bp;
    its_best_of_n_params_init(&bp);
    bp.n = 4;
    its_sampler *s = nullptr;
    if (its_sampler_create(ctx, ITS_METHOD_BEST_OF_N, &bp, &run, &s) != ITS_OK)
        return fail("its_sampler_create", ctx);
    its_result *r = nullptr;
    if (its_generate(s, &m, &v, 42, &r) != ITS_OK)
        return fail("its_generate", ctx);
    its_usage u;
    its_result_usage(r, &u);
    int rc = 0;
    if (its_result_count(r) != 1 || u.nfe != 40 || !std::isfinite(its_result_score(r, 0)))
        rc = fail("unexpected result", ctx);
    its_method mm;
    if (its_method_parse(its_method_name(ITS_METHOD_RBF), &mm) != ITS_OK || mm != ITS_METHOD_RBF)
        rc = fail("enum round trip", ctx);
    const uint32_t ctr[4] = {0, 0, 0, 0}, key[2] = {0, 0};
    uint32_t out[4];
    its_philox4x32_10(ctr, key, out);
    if (out[0] != 0x6627e8d5u) // Random123 kat_vectors
        rc = fail("philox known answer", ctx);
    its_result_free(r);
    its_sampler_free(s);
    its_gmm_free(g);
    its_ctx_free(ctx);
    return rc;
}
