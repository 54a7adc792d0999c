/* The method table: one entry per method with a file in this folder. */
#include "samplers/sampler.h"

static const its_method_vt *const its_methods[ITS_METHOD_COUNT_] = {
    [ITS_METHOD_NONE] = &its_vt_none,
    [ITS_METHOD_BEST_OF_N] = &its_vt_best_of_n,
};

const its_method_vt *its_method_vt_get(its_method m)
{
    if ((unsigned)m >= ITS_METHOD_COUNT_)
        return NULL;
    return its_methods[m];
}
