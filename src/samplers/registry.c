/* The method table: one entry per method with a file in this folder. */
#include "samplers/sampler.h"

static const its_method_vt *const its_methods[ITS_METHOD_COUNT_] = {
    [ITS_METHOD_NONE] = &its_vt_none,
    [ITS_METHOD_BEST_OF_N] = &its_vt_best_of_n,
    [ITS_METHOD_ZERO_ORDER] = &its_vt_zero_order,
    [ITS_METHOD_SEARCH_OVER_PATHS] = &its_vt_search_over_paths,
    [ITS_METHOD_BEAM] = &its_vt_beam,
    [ITS_METHOD_SVDD] = &its_vt_svdd,
    [ITS_METHOD_CODE] = &its_vt_code,
    [ITS_METHOD_FK_SMC] = &its_vt_fk_smc,
    [ITS_METHOD_BFS] = &its_vt_bfs,
    [ITS_METHOD_DFS] = &its_vt_dfs,
    [ITS_METHOD_LOCAL_SEARCH] = &its_vt_local_search,
    [ITS_METHOD_RBF] = &its_vt_rbf,
};

const its_method_vt *its_method_vt_get(its_method m)
{
    if ((unsigned)m >= ITS_METHOD_COUNT_)
        return NULL;
    return its_methods[m];
}
