/* Shared by the reliability suites (test_faults, test_hostile, test_limits, test_threads,
 * stat_soak): one small configuration per method, so every registered method runs in a few
 * hundred NFE, and the loop over registered methods. */
#ifndef ITS_RELIAB_H
#define ITS_RELIAB_H

#include <stdio.h>
#include <string.h>

#include "its_test.h"
#include "samplers/sampler.h"

/* Room for any method's params struct. */
typedef union rl_params {
    its_none_params none;
    its_best_of_n_params bon;
    its_zero_order_params zo;
    its_search_over_paths_params sop;
    its_beam_params beam;
    its_svdd_params svdd;
    its_code_params code;
    its_fk_smc_params fk;
    its_bfs_params bfs;
    its_dfs_params dfs;
    its_local_search_params ls;
    its_rbf_params rbf;
    double align_;
} rl_params;

/* 1 when method m has a table in the registry; prints a note otherwise. */
static inline int rl_registered(its_method m)
{
    if (its_method_vt_get(m))
        return 1;
    printf("# %s is not registered: skipped\n", its_method_name(m));
    return 0;
}

/* Small parameters: the defaults, shrunk so a run costs at most `max_nfe` (run below). */
static inline void rl_small(its_method m, rl_params *p, its_run_params *run)
{
    const its_method_vt *vt = its_method_vt_get(m);
    uint64_t run_nfe = 200;
    memset(p, 0, sizeof(*p));
    vt->params_init(p);
    switch (m) {
    case ITS_METHOD_BEST_OF_N: p->bon.n = 3; break;
    case ITS_METHOD_ZERO_ORDER: p->zo.neighbors = 2; p->zo.rounds = 2; break;
    case ITS_METHOD_SEARCH_OVER_PATHS: p->sop.n = 2; p->sop.m = 2; break;
    case ITS_METHOD_BEAM: p->beam.beams = 2; p->beam.children = 2; break;
    case ITS_METHOD_SVDD: p->svdd.n = 2; p->svdd.children = 3; break;
    case ITS_METHOD_CODE: p->code.n = 2; p->code.children = 3; p->code.block = 2; break;
    case ITS_METHOD_FK_SMC: p->fk.n = 4; p->fk.ess = 1.0; break;
    case ITS_METHOD_BFS: p->bfs.n = 4; break;
    case ITS_METHOD_DFS: p->dfs.threshold = 0.0; p->dfs.backtracks = 2; p->dfs.depth = 1; break;
    case ITS_METHOD_LOCAL_SEARCH: p->ls.recur = 2; p->ls.n = 2; break;
    case ITS_METHOD_RBF: p->rbf.chains = 2; p->rbf.init = 3; run_nfe = 40; break;
    default: break;
    }
    its_run_params_init(run);
    run->steps = 4;
    run->dynamics = ITS_DYN_SDE;
    run->g_scale = 1.0;
    run->max_nfe = run_nfe;
    run->top_k = 2;
}

/* A 2-D two-component mixture, its exact velocity model and the log-posterior verifier of the
 * rare component (with gradient). */
typedef struct rl_fixture {
    its_gmm *gmm;
    its_model model;
    its_verifier ver;
} rl_fixture;

static inline int rl_fixture_init(rl_fixture *f, its_ctx *ctx, size_t dim)
{
    memset(f, 0, sizeof(*f));
    if (!(f->gmm = its_test_gmm2(ctx, dim, 1.5, 0.5, 0.2)))
        return -1;
    its_interp ip;
    its_interp_init(&ip, ITS_INTERP_LINEAR);
    its_gmm_bind_model(f->gmm, &ip, ITS_PRED_VELOCITY, &f->model);
    return its_gmm_bind_logprob(f->gmm, 1, &f->ver) == ITS_OK ? 0 : -1;
}

/* Bitwise equality of two results' samples and scores. */
static inline int rl_same_result(const its_result *a, const its_result *b)
{
    size_t n = its_result_count(a), dim = its_result_dim(a);
    if (n != its_result_count(b) || dim != its_result_dim(b))
        return 0;
    for (size_t i = 0; i < n; i++) {
        double sa = its_result_score(a, i), sb = its_result_score(b, i);
        if (memcmp(its_result_sample(a, i), its_result_sample(b, i), dim * sizeof(float)) ||
            memcmp(&sa, &sb, sizeof(double)))
            return 0;
    }
    its_usage ua, ub;
    its_result_usage(a, &ua);
    its_result_usage(b, &ub);
    return ua.nfe == ub.nfe && ua.verifier_rows == ub.verifier_rows && ua.grad_rows == ub.grad_rows;
}

#endif
