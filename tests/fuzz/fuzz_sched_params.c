/* Fuzz target: the scheduler's profile document (its_sched_params_from_json), which the serving
 * example reads from --profiles. Invariants: a rejection has a message and keeps no memory; an
 * accepted document has 1 .. ITS_SCHED_MAX_PROFILES named profiles whose configs are JSON text
 * inside the one store buffer, and the numbers stay in their documented ranges. */
#include <string.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static its_fuzz_alloc a;
    static its_ctx *ctx;
    if (!ctx && !(ctx = its_fuzz_ctx(&a)))
        abort();
    long live0 = a.live;
    its_sched_params p;
    its_sched_params_init(&p);
    char *store = NULL;
    its_status st = its_sched_params_from_json(ctx, (const char *)data, size, &p, &store);
    if (st != ITS_OK) {
        ITS_FUZZ_CHECK(store == NULL, "store kept on %s", its_status_str(st));
        ITS_FUZZ_CHECK(its_ctx_errmsg(ctx)[0] != '\0', "no message for %s", its_status_str(st));
    } else {
        ITS_FUZZ_CHECK(store != NULL, "no store");
        ITS_FUZZ_CHECK(p.n_profiles >= 1 && p.n_profiles <= ITS_SCHED_MAX_PROFILES, "%d profiles",
                       p.n_profiles);
        ITS_FUZZ_CHECK(p.queue_cap >= 1 && p.workers >= 1 && p.workers <= 256 &&
                           p.sla_p95_ms >= 0,
                       "queue_cap %zu workers %u sla %g", p.queue_cap, p.workers, p.sla_p95_ms);
        for (int i = 0; i < p.n_profiles; i++) {
            const its_sched_profile *pr = &p.profiles[i];
            ITS_FUZZ_CHECK(memchr(pr->name, 0, sizeof(pr->name)) && pr->name[0], "profile %d name",
                           i);
            ITS_FUZZ_CHECK(pr->config_json && pr->config_json[0] == '{', "profile %d config", i);
            /* the config text must be something the strict parser can judge */
            its_sampler *s = NULL;
            its_status cs = its_sampler_from_json(ctx, pr->config_json, strlen(pr->config_json), &s);
            ITS_FUZZ_CHECK(cs == ITS_OK || its_ctx_errmsg(ctx)[0], "profile %d: silent %s", i,
                           its_status_str(cs));
            its_sampler_free(s);
        }
        its_ctx_mem_free(ctx, store);
    }
    ITS_FUZZ_CHECK(a.live == live0, "%ld blocks leaked", a.live - live0);
    return 0;
}
