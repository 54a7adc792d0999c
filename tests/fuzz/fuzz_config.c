/* Fuzz target: the strict JSON configuration parser (its_sampler_from_json).
 * Invariants: a rejected document gives ITS_ERR_CONFIG (or ITS_ERR_BUDGET when the budget cannot
 * pay for the method, ITS_ERR_NOMEM) with a message, and no live block; an accepted one prints
 * (its_sampler_to_json) to a document that parses back to the same configuration, byte for byte
 * when printed again. */
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static its_fuzz_alloc a;
    static its_ctx *ctx;
    if (!ctx && !(ctx = its_fuzz_ctx(&a)))
        abort();
    long live0 = a.live;
    its_sampler *s = NULL;
    its_status st = its_sampler_from_json(ctx, (const char *)data, size, &s);
    if (st != ITS_OK) {
        ITS_FUZZ_CHECK(s == NULL, "sampler set on %s", its_status_str(st));
        /* a budget that cannot pay for the method keeps its own status */
        ITS_FUZZ_CHECK(st == ITS_ERR_CONFIG || st == ITS_ERR_NOMEM || st == ITS_ERR_BUDGET,
                       "status %s: %s",
                       its_status_str(st), its_ctx_errmsg(ctx));
        ITS_FUZZ_CHECK(its_ctx_errmsg(ctx)[0] != '\0', "no message for %s", its_status_str(st));
    } else {
        const char *j1 = its_sampler_to_json(s);
        ITS_FUZZ_CHECK(j1 != NULL, "to_json failed");
        size_t n1 = strlen(j1);
        its_sampler *s2 = NULL;
        st = its_sampler_from_json(ctx, j1, n1, &s2);
        ITS_FUZZ_CHECK(st == ITS_OK, "printed config does not parse back: %s\n%s",
                       its_ctx_errmsg(ctx), j1);
        ITS_FUZZ_CHECK(its_sampler_method(s2) == its_sampler_method(s), "method changed");
        const char *j2 = its_sampler_to_json(s2);
        ITS_FUZZ_CHECK(j2 && strcmp(j1, j2) == 0, "not a fixed point:\n%s\n%s", j1,
                       j2 ? j2 : "(null)");
        its_sampler_free(s2);
        its_sampler_free(s);
    }
    ITS_FUZZ_CHECK(a.live == live0, "%ld blocks leaked", a.live - live0);
    return 0;
}
