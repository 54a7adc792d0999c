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

its_status its_smp_fanout(its_engine *e, its_pset *parent, its_pset *child, size_t n, size_t k,
                          size_t **pidx, uint32_t **cidx)
{
    ITS_TRY(its_eng_pset(e, parent, n, 0));
    ITS_TRY(its_eng_pset(e, child, n * k, 0));
    *pidx = its_eng_alloc(e, n * k * sizeof(size_t));
    *cidx = its_eng_alloc(e, n * k * sizeof(uint32_t));
    if (!*pidx || !*cidx)
        return ITS_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) {
            (*pidx)[i * k + j] = i;
            (*cidx)[i * k + j] = (uint32_t)j;
        }
    return ITS_OK;
}
