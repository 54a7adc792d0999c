#include <math.h>

#include "samplers/common.h"

its_status its_smp_rollout(its_engine *e, its_pset *ps, int k0)
{
    const double *t = its_eng_grid(e);
    for (int k = k0; k < its_eng_steps(e); k++) {
        ITS_TRY(its_eng_eval(e, ps, 0, ps->n));
        ITS_TRY(its_eng_step(e, ps, t[k + 1], (uint32_t)k));
    }
    return ITS_OK;
}

size_t its_smp_argmax(const double *score, size_t r0, size_t r1)
{
    size_t best = r0;
    for (size_t r = r0 + 1; r < r1; r++)
        if (score[r] > score[best] || (isnan(score[best]) && !isnan(score[r])))
            best = r;
    return best;
}
