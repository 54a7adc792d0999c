/* Initialisers of the caller-filled callback structs (its_model, its_verifier): they sit here,
 * below models/ and the samplers, because its_model_init sets the default interpolant. */
#include <string.h>

#include "core/core.h"
#include "dynamics/dynamics.h"

void its_model_init(its_model *m)
{
    if (!m)
        return;
    memset(m, 0, sizeof(*m));
    m->version = ITS_MODEL_V2;
    its_interp_init(&m->interp, ITS_INTERP_LINEAR);
}

void its_verifier_init(its_verifier *v)
{
    if (!v)
        return;
    memset(v, 0, sizeof(*v));
    v->version = ITS_VERIFIER_V2;
}
