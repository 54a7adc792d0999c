/* `beam`: beam search over SDE paths (Ramesh & Mardani 2025). B beams; every step each beam
 * spawns K SDE children, all B K children are evaluated and scored by look-ahead r(x0_hat), and
 * the best B survive, whichever beams they came from; at t = 0 the children are the outputs.
 * Child 0 keeps its beam's noise, so K = 1 is one SDE trajectory per beam (`best_of_n` with
 * n = B). Cost B + B K (T - 1) NFE; under a smaller cap it keeps fewer beams, then fewer children
 * (ITS_ERR_BUDGET below one trajectory). */
#include "samplers/resample.h"

void its_beam_params_init(its_beam_params *p)
{
    if (!p)
        return;
    p->version = 1;
    p->beams = 2;
    p->children = 4;
}

static void beam_init(void *p) { its_beam_params_init(p); }

static const its_param_desc beam_desc[] = {
    ITS_P_INT(its_beam_params, beams, 1, 65536, "beams kept after every step (B)"),
    ITS_P_INT(its_beam_params, children, 1, 65536, "SDE children per beam per step (K)"),
};

static its_status beam_check(its_ctx *ctx, const void *params, const its_run_params *run)
{
    const its_beam_params *p = params;
    if ((uint64_t)p->beams * (uint64_t)p->children > ((uint64_t)1 << 24))
        return its_error(ctx, ITS_ERR_INVALID,
                         "params.children: beams x children = %d x %d exceeds 2^24 rows",
                         p->beams, p->children);
    if (run->dynamics != ITS_DYN_SDE)
        return its_error(ctx, ITS_ERR_INVALID,
                         "run.dynamics: beam branches SDE children; set dynamics to sde");
    return ITS_OK;
}

static its_status beam_run(its_engine *e, const void *params)
{
    const its_beam_params *p = params;
    const int T = its_eng_steps(e);
    const double *t = its_eng_grid(e);
    size_t B = (size_t)p->beams, K = (size_t)p->children;
    ITS_TRY(its_eng_require_nfe(e, (uint64_t)T, "one beam with one child per step"));
    uint64_t cap = its_eng_max_nfe(e);
    if (cap) {
        uint64_t per = 1 + (uint64_t)K * (uint64_t)(T - 1);
        if (cap / per >= 1) {
            if (B > cap / per)
                B = (size_t)(cap / per);
        } else {
            B = 1;
            K = (size_t)((cap - 1) / (uint64_t)(T - 1));
        }
    }
    const size_t BK = B * K;

    its_pset P, C;
    size_t *pidx;
    uint32_t *cidx;
    ITS_TRY(its_smp_fanout(e, &P, &C, B, K, &pidx, &cidx));
    size_t *order = its_eng_alloc(e, BK * sizeof(size_t));
    if (!order)
        return ITS_ERR_NOMEM;

    its_eng_roots(e, &P, 0, B, 0);
    uint64_t nfe0 = its_eng_nfe(e);
    ITS_TRY(its_eng_init_noise(e, &P, 0, B, t[0]));
    ITS_TRY(its_eng_eval(e, &P, 0, B));
    for (int k = 0; k < T; k++) {
        ITS_TRY(its_eng_branch(e, &P, pidx, cidx, &C, 0, BK, t[k + 1], (uint32_t)k));
        if (k + 1 == T) {
            its_eng_record_step(e, k, t[k], -1, (int64_t)(its_eng_nfe(e) - nfe0));
            return its_eng_score(e, &C, 0, BK, ITS_SCORE_FINAL);
        }
        ITS_TRY(its_eng_eval(e, &C, 0, BK));
        ITS_TRY(its_eng_score(e, &C, 0, BK, ITS_SCORE_LOOKAHEAD));
        its_rank_desc(C.score, BK, order);
        ITS_TRY(its_eng_gather(e, &P, &C, order, B));
        its_eng_record_step(e, k, t[k], -1, (int64_t)(its_eng_nfe(e) - nfe0));
        nfe0 = its_eng_nfe(e);
    }
    return ITS_OK;
}

const its_method_vt its_vt_beam = {
    .method = ITS_METHOD_BEAM,
    .params_size = sizeof(its_beam_params),
    .params_init = beam_init,
    .desc = beam_desc,
    .n_desc = ITS_ARRAY_LEN(beam_desc),
    .check = beam_check,
    .needs_verifier = 1,
    .run = beam_run,
    .summary = "B beams, K SDE children each per step, keep the best B look-aheads "
               "(Ramesh & Mardani 2025)",
};
