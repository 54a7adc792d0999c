/* its_ctx_create: the public context constructor sits in the backend layer because it picks
 * the default backend, the CPU one, when its_ctx_params.backend is NULL. The context itself is
 * core's (its_ctx_init in core/ctx.c), so core never reaches up to name a backend. */
#include "core/core.h"

its_status its_ctx_create(const its_ctx_params *p, its_ctx **out)
{
    const its_backend_i *cpu = its_backend_cpu();
    const its_backend_i *be = p && p->backend ? p->backend : cpu;
    return its_ctx_init(p, be, be == cpu, out);
}
