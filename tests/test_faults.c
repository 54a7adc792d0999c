/* Allocation fault injection: the k-th allocation fails, for every k of a full run (sampler
 * creation, generation, the result's JSON) of every registered method, of context creation, of
 * the JSON configuration path, and of the scheduler's create/submit/run/free. Each time the call
 * that met the failure returns ITS_ERR_NOMEM with a message (or the run finishes with the same
 * bits as without the fault), every block is freed again, and the context still works. */
#define _POSIX_C_SOURCE 200809L
#include "reliab.h"

#include <pthread.h>
#include <stdlib.h>

#include "itscale/sched.h"

typedef struct fi_stats {
    long sites, nomem, finished;
} fi_stats;

/* Sampler create + generate + result JSON with the allocator armed at k (0 = never). Returns
 * 1 when the fault was met. */
static int fi_attempt(its_ctx *ctx, its_test_alloc *a, const rl_fixture *f, its_method m,
                      long k, const its_result *ref, fi_stats *st)
{
    rl_params p;
    its_run_params run;
    rl_small(m, &p, &run);
    long live0 = a->live, fail0 = a->failures;
    a->fail_at = k ? a->calls + k : 0;
    its_sampler *s = NULL;
    its_result *r = NULL;
    its_status rc = its_sampler_create(ctx, m, &p, &run, &s);
    if (rc == ITS_OK)
        rc = its_generate(s, &f->model, &f->ver, 11, &r);
    const char *js = NULL;
    if (rc == ITS_OK)
        js = its_result_to_json(r);
    int met = a->failures > fail0;
    a->fail_at = 0;
    if (rc != ITS_OK) {
        if (rc != ITS_ERR_NOMEM)
            fail_msg("%s, k=%ld: %s (%s), expected ITS_ERR_NOMEM", its_method_name(m), k,
                     its_status_str(rc), its_ctx_errmsg(ctx));
        assert_true(met);
        assert_null(r);
        if (its_ctx_errmsg(ctx)[0] == '\0')
            fail_msg("%s, k=%ld: ITS_ERR_NOMEM without a message", its_method_name(m), k);
        st->nomem++;
    } else if (js == NULL) {
        assert_true(met); /* documented: NULL on allocation failure */
        st->nomem++;
    } else {
        if (ref && !rl_same_result(r, ref))
            fail_msg("%s, k=%ld: finished despite the fault but with other results",
                     its_method_name(m), k);
        if (met)
            st->finished++;
    }
    its_result_free(r);
    its_sampler_free(s);
    if (a->live != live0)
        fail_msg("%s, k=%ld: %ld blocks leaked", its_method_name(m), k, a->live - live0);
    return met;
}

static void test_faults_samplers(void **state)
{
    (void)state;
    for (int mi = 0; mi < ITS_METHOD_COUNT_; mi++) {
        its_method m = (its_method)mi;
        if (!rl_registered(m))
            continue;
        its_test_alloc a = {0};
        its_ctx *ctx = its_test_ctx(&a);
        assert_non_null(ctx);
        rl_fixture f;
        assert_int_equal(rl_fixture_init(&f, ctx, 2), 0);

        /* the reference run, and its allocation count */
        rl_params p;
        its_run_params run;
        rl_small(m, &p, &run);
        long c0 = a.calls;
        its_sampler *s = NULL;
        its_result *ref = NULL;
        ITS_ASSERT_OK(its_sampler_create(ctx, m, &p, &run, &s));
        ITS_ASSERT_OK(its_generate(s, &f.model, &f.ver, 11, &ref));
        assert_non_null(its_result_to_json(ref));
        its_sampler_free(s);
        long total = a.calls - c0;
        assert_true(total > 0);

        fi_stats st = {0};
        for (long k = 1;; k++) {
            if (!fi_attempt(ctx, &a, &f, m, k, ref, &st))
                break; /* the whole run allocates fewer than k blocks */
            st.sites++;
            /* the context is still usable: a clean run gives the reference bits */
            fi_stats clean = {0};
            assert_false(fi_attempt(ctx, &a, &f, m, 0, ref, &clean));
        }
        assert_true(st.sites >= total);
        printf("# %-18s %3ld fault sites: %ld ITS_ERR_NOMEM, %ld finished unchanged\n",
               its_method_name(m), st.sites, st.nomem, st.finished);
        its_result_free(ref);
        its_gmm_free(f.gmm);
        its_ctx_free(ctx);
        assert_int_equal(a.live, 0);
    }
}

static void test_faults_ctx_create(void **state)
{
    (void)state;
    long k;
    for (k = 1; k < 64; k++) {
        its_test_alloc a = {0};
        a.fail_at = k;
        its_ctx_params p;
        its_test_ctx_params(&a, &p);
        its_ctx *ctx = NULL;
        its_status rc = its_ctx_create(&p, &ctx);
        if (rc == ITS_OK) {
            assert_int_equal(a.failures, 0);
            its_ctx_free(ctx);
            assert_int_equal(a.live, 0);
            break;
        }
        assert_int_equal(rc, ITS_ERR_NOMEM);
        assert_null(ctx);
        assert_int_equal(a.live, 0);
    }
    assert_true(k < 64);
    printf("# its_ctx_create: %ld fault sites\n", k - 1);
}

/* The JSON path: from_json, to_json and a run, with each allocation failing in turn. */
static void test_faults_json(void **state)
{
    (void)state;
    static const char cfg[] =
        "{\"sampler\": \"best_of_n\", \"params\": {\"n\": 3}, \"run\": {\"steps\": 4, "
        "\"grid\": \"custom\", \"grid_custom\": [1, 0.6, 0.3, 0.1, 0], \"top_k\": 2}}";
    its_test_alloc a = {0};
    its_ctx *ctx = its_test_ctx(&a);
    rl_fixture f;
    assert_int_equal(rl_fixture_init(&f, ctx, 2), 0);
    long sites = 0;
    for (long k = 1;; k++) {
        long live0 = a.live;
        a.fail_at = a.calls + k;
        its_sampler *s = NULL;
        its_result *r = NULL;
        its_status rc = its_sampler_from_json(ctx, cfg, sizeof(cfg) - 1, &s);
        const char *sj = rc == ITS_OK ? its_sampler_to_json(s) : NULL;
        if (rc == ITS_OK && sj)
            rc = its_generate(s, &f.model, &f.ver, 3, &r);
        int met = a.failures > 0;
        a.fail_at = 0;
        if (rc != ITS_OK) {
            assert_int_equal(rc, ITS_ERR_NOMEM);
            assert_true(its_ctx_errmsg(ctx)[0] != '\0');
        }
        assert_true(rc != ITS_OK || sj || met);
        its_result_free(r);
        its_sampler_free(s);
        assert_int_equal(a.live, live0);
        if (!met)
            break;
        a.failures = 0;
        sites++;
    }
    assert_true(sites > 3);
    printf("# its_sampler_from_json + to_json + generate: %ld fault sites\n", sites);
    its_gmm_free(f.gmm);
    its_ctx_free(ctx);
    assert_int_equal(a.live, 0);
}

/* ---- the scheduler: its allocator must be thread-safe: the shared locked allocator ---- */
typedef its_test_alloc_mt lk_alloc;
#define lk_params its_test_ctx_params_mt
#define lk_get its_test_alloc_mt_get

typedef struct sch_inst {
    its_gmm *g;
} sch_inst;

static int sch_bind(void *user, unsigned worker, its_ctx *wctx, its_model *m, its_verifier *v,
                    void **inst)
{
    (void)user;
    (void)worker;
    sch_inst *si = calloc(1, sizeof(*si));
    if (!si)
        return 1;
    if (!(si->g = its_test_gmm2(wctx, 2, 1.5, 0.5, 0.2))) {
        free(si);
        return 1;
    }
    its_gmm_bind_model(si->g, NULL, ITS_PRED_VELOCITY, m);
    if (its_gmm_bind_logprob(si->g, 1, v) != ITS_OK) {
        its_gmm_free(si->g);
        free(si);
        return 1;
    }
    *inst = si;
    return 0;
}

static void sch_unbind(void *user, void *inst)
{
    (void)user;
    sch_inst *si = inst;
    its_gmm_free(si->g);
    free(si);
}

static its_best_of_n_params sch_bon;
static its_run_params sch_run;

/* One scheduler lifetime: create, three requests, wait, free. Returns how many jobs finished
 * with a result; compares their best scores with ref (when given). */
static int sch_lifetime(its_ctx *ctx, const its_ctx_params *cp, double *best, const double *ref,
                        long k)
{
    its_sched_params sp;
    its_sched_params_init(&sp);
    sp.workers = 1;
    sp.governor = 0;
    sp.ctx_params = cp;
    sp.n_profiles = 1;
    strcpy(sp.profiles[0].name, "standard");
    sp.profiles[0].method = ITS_METHOD_BEST_OF_N;
    sp.profiles[0].method_params = &sch_bon;
    sp.profiles[0].run = &sch_run;
    sp.n_tasks = 1;
    strcpy(sp.tasks[0].name, "gmm");
    sp.tasks[0].bind = sch_bind;
    sp.tasks[0].unbind = sch_unbind;
    its_sched *s = NULL;
    its_status rc = its_sched_create(ctx, &sp, &s);
    if (rc != ITS_OK) {
        if (rc != ITS_ERR_NOMEM && rc != ITS_ERR_CALLBACK)
            fail_msg("k=%ld: its_sched_create -> %s (%s)", k, its_status_str(rc),
                     its_ctx_errmsg(ctx));
        assert_true(its_ctx_errmsg(ctx)[0] != '\0');
        assert_null(s);
        return -1;
    }
    its_sched_job *jobs[3] = {0};
    int done = 0;
    for (int i = 0; i < 3; i++) {
        its_sched_req rq;
        its_sched_req_init(&rq);
        rq.seed = 100 + (uint64_t)i;
        rq.profile = 0;
        its_sched_admit ad = its_sched_submit(s, &rq, &jobs[i]);
        if (ad != ITS_ADMIT_OK) {
            if (ad != ITS_ADMIT_NOMEM)
                fail_msg("k=%ld: submit -> %s", k, its_sched_admit_name(ad));
            assert_null(jobs[i]);
        }
    }
    for (int i = 0; i < 3; i++) {
        if (!jobs[i])
            continue;
        its_sched_outcome o = its_sched_wait(jobs[i], -1);
        if (o == ITS_OUTCOME_DONE) {
            its_result *r = its_sched_job_result(jobs[i]);
            assert_non_null(r);
            double b = its_result_score(r, 0);
            if (best)
                best[i] = b;
            if (ref && memcmp(&b, &ref[i], sizeof(b)) != 0)
                fail_msg("k=%ld: job %d finished with score %g, expected %g", k, i, b, ref[i]);
            done++;
        } else {
            if (o != ITS_OUTCOME_FAILED)
                fail_msg("k=%ld: job %d ended %s", k, i, its_sched_outcome_name(o));
            assert_true(its_sched_job_error(jobs[i])[0] != '\0');
        }
        its_sched_job_free(jobs[i]);
    }
    its_sched_free(s);
    return done;
}

static void test_faults_sched(void **state)
{
    (void)state;
    its_best_of_n_params_init(&sch_bon);
    sch_bon.n = 2;
    its_run_params_init(&sch_run);
    sch_run.steps = 4;
    lk_alloc l;
    memset(&l, 0, sizeof(l));
    pthread_mutex_init(&l.mu, NULL);
    its_ctx_params cp;
    lk_params(&l, &cp);
    its_ctx *ctx = NULL;
    ITS_ASSERT_OK(its_ctx_create(&cp, &ctx));
    double ref[3];
    long c0 = lk_get(&l, &l.inner.calls);
    assert_int_equal(sch_lifetime(ctx, &cp, ref, NULL, 0), 3);
    long total = lk_get(&l, &l.inner.calls) - c0;
    long live_base = lk_get(&l, &l.inner.live);
    long sites = 0, failed_runs = 0;
    for (long k = 1; k <= total + 8; k++) {
        pthread_mutex_lock(&l.mu);
        l.inner.failures = 0;
        l.inner.fail_at = l.inner.calls + k;
        pthread_mutex_unlock(&l.mu);
        int done = sch_lifetime(ctx, &cp, NULL, ref, k);
        pthread_mutex_lock(&l.mu);
        l.inner.fail_at = 0;
        long met = l.inner.failures, live = l.inner.live;
        pthread_mutex_unlock(&l.mu);
        if (live != live_base)
            fail_msg("k=%ld: %ld blocks leaked", k, live - live_base);
        sites += met > 0;
        failed_runs += done < 3;
        /* usable afterwards */
        if (met)
            assert_int_equal(sch_lifetime(ctx, &cp, NULL, ref, k), 3);
    }
    printf("# scheduler: %ld allocations per lifetime, %ld fault sites met, %ld lifetimes "
           "degraded\n",
           total, sites, failed_runs);
    assert_true(sites >= total / 2);
    its_ctx_free(ctx);
    assert_int_equal(l.inner.live, 0);
    pthread_mutex_destroy(&l.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_faults_ctx_create),
        cmocka_unit_test(test_faults_samplers),
        cmocka_unit_test(test_faults_json),
        cmocka_unit_test(test_faults_sched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
