/* The budget-aware scheduler: queue order, governor, shedding, cancellation, bounded queue,
 * concurrent submit/cancel, and the Prometheus text it renders. Time comes from a fake clock
 * that the test model advances by a fixed cost per NFE, so the measured rate is exact. */
#define _POSIX_C_SOURCE 200809L
#include "its_test.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "itscale/sched.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- fake clock: microseconds in an atomic, read as milliseconds ---- */
static atomic_llong fake_us;
static double fake_clock(void *user)
{
    (void)user;
    return (double)atomic_load(&fake_us) * 1e-3;
}
static void fake_set_ms(double ms) { atomic_store(&fake_us, (long long)(ms * 1e3)); }

/* ---- the test task: a 2-D two-component mixture per worker, each NFE costs us_per_nfe ---- */
typedef struct {
    long long us_per_nfe;      /* fake microseconds per model row */
    atomic_int block_first;    /* 1: the first eval waits for `go` after setting `started` */
    atomic_int started, go;
} task_cfg;

typedef struct {
    its_gmm *g;
    its_model inner;
    task_cfg *cfg;
} task_inst;

static int task_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    task_inst *ti = user;
    if (atomic_exchange(&ti->cfg->block_first, 0)) {
        atomic_store(&ti->cfg->started, 1);
        while (!atomic_load(&ti->cfg->go)) {
            struct timespec ts = {0, 200000};
            nanosleep(&ts, NULL);
        }
    }
    atomic_fetch_add(&fake_us, ti->cfg->us_per_nfe * (long long)n);
    return ti->inner.eval(ti->inner.user, x, t, n, out);
}

static int task_bind(void *user, unsigned worker, its_ctx *wctx, its_model *m, its_verifier *v,
                     void **inst)
{
    (void)worker;
    task_inst *ti = calloc(1, sizeof(*ti));
    if (!ti)
        return 1;
    ti->cfg = user;
    ti->g = its_test_gmm2(wctx, 2, 2.0, 0.5, 0.2);
    if (!ti->g) {
        free(ti);
        return 1;
    }
    its_gmm_bind_model(ti->g, NULL, ITS_PRED_VELOCITY, &ti->inner);
    *m = ti->inner;
    m->eval = task_eval;
    m->user = ti;
    if (its_gmm_bind_logprob(ti->g, 1, v) != ITS_OK) {
        its_gmm_free(ti->g);
        free(ti);
        return 1;
    }
    *inst = ti;
    return 0;
}

static void task_unbind(void *user, void *inst)
{
    (void)user;
    task_inst *ti = inst;
    its_gmm_free(ti->g);
    free(ti);
}

static its_none_params none_p;
static its_best_of_n_params bon4, bon16;
static its_run_params run10;

/* light = none (10 NFE), standard = best_of_n 4 (40 NFE), heavy = best_of_n 16 (160 NFE) */
static void sched_params(its_sched_params *p, task_cfg *cfg, unsigned workers)
{
    its_none_params_init(&none_p);
    its_best_of_n_params_init(&bon4);
    its_best_of_n_params_init(&bon16);
    bon16.n = 16;
    its_run_params_init(&run10);
    run10.steps = 10;
    its_sched_params_init(p);
    p->workers = workers;
    p->n_profiles = 3;
    const char *names[3] = {"light", "standard", "heavy"};
    const void *mp[3] = {&none_p, &bon4, &bon16};
    its_method mm[3] = {ITS_METHOD_NONE, ITS_METHOD_BEST_OF_N, ITS_METHOD_BEST_OF_N};
    for (int i = 0; i < 3; i++) {
        strcpy(p->profiles[i].name, names[i]);
        p->profiles[i].method = mm[i];
        p->profiles[i].method_params = mp[i];
        p->profiles[i].run = &run10;
    }
    p->n_tasks = 1;
    strcpy(p->tasks[0].name, "gmm");
    p->tasks[0].bind = task_bind;
    p->tasks[0].unbind = task_unbind;
    p->tasks[0].user = cfg;
    p->clock = fake_clock;
    p->fit = 0; /* whole profiles; the allotment has its own test */
    fake_set_ms(0);
}

/* ---- done-order recorder ---- */
typedef struct {
    pthread_mutex_t mu;
    int order[64];
    int n;
} recorder;
typedef struct {
    recorder *rec;
    int id;
    atomic_int calls;
} tag;

static void rec_done(void *user, its_sched_job *job)
{
    (void)job;
    tag *t = user;
    atomic_fetch_add(&t->calls, 1);
    pthread_mutex_lock(&t->rec->mu);
    t->rec->order[t->rec->n++] = t->id;
    pthread_mutex_unlock(&t->rec->mu);
}

static its_sched *make_sched(its_sched_params *p)
{
    its_ctx *ctx = its_test_ctx(NULL);
    its_sched *s = NULL;
    its_status st = its_sched_create(ctx, p, &s);
    if (st != ITS_OK)
        fail_msg("its_sched_create: %s", its_ctx_errmsg(ctx));
    its_ctx_free(ctx);
    return s;
}

static its_sched_job *submit(its_sched *s, int profile, int prio, double deadline, tag *t)
{
    its_sched_req r;
    its_sched_req_init(&r);
    r.profile = profile;
    r.priority = prio;
    r.deadline_ms = deadline;
    r.seed = 7;
    if (t) {
        r.done = rec_done;
        r.user = t;
    }
    its_sched_job *j = NULL;
    its_sched_admit a = its_sched_submit(s, &r, &j);
    if (a != ITS_ADMIT_OK)
        fail_msg("submit: %s", its_sched_admit_name(a));
    return j;
}

/* Queue order inside one band: earliest deadline first, no deadline last, ties by arrival. */
static void test_edf_within_band(void **state)
{
    (void)state;
    task_cfg cfg = {.us_per_nfe = 0};
    its_sched_params p;
    sched_params(&p, &cfg, 1);
    p.governor = 0;
    its_sched *s = make_sched(&p);
    its_sched_pause(s, 1);
    recorder rec = {.n = 0};
    pthread_mutex_init(&rec.mu, NULL);
    double dl[6] = {50, 10, 0, 30, 20, 30};
    int expect[6] = {1, 4, 3, 5, 0, 2};
    tag tags[6];
    its_sched_job *jobs[6];
    for (int i = 0; i < 6; i++) {
        tags[i] = (tag){.rec = &rec, .id = i};
        jobs[i] = submit(s, 0, 0, dl[i], &tags[i]);
    }
    its_sched_pause(s, 0);
    for (int i = 0; i < 6; i++)
        assert_int_equal(its_sched_wait(jobs[i], -1), ITS_OUTCOME_DONE);
    its_sched_free(s);
    assert_int_equal(rec.n, 6);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(rec.order[i], expect[i]);
        assert_int_equal(atomic_load(&tags[i].calls), 1);
        its_sched_job_free(jobs[i]);
    }
}

/* Priority bands come before deadlines. */
static void test_priority_bands(void **state)
{
    (void)state;
    task_cfg cfg = {.us_per_nfe = 0};
    its_sched_params p;
    sched_params(&p, &cfg, 1);
    p.governor = 0;
    its_sched *s = make_sched(&p);
    its_sched_pause(s, 1);
    recorder rec = {.n = 0};
    pthread_mutex_init(&rec.mu, NULL);
    int prio[6] = {0, 5, -1, 5, 2, -3};
    double dl[6] = {1, 90, 1, 10, 0, 0};
    int expect[6] = {3, 1, 4, 0, 2, 5};
    tag tags[6];
    its_sched_job *jobs[6];
    for (int i = 0; i < 6; i++) {
        tags[i] = (tag){.rec = &rec, .id = i};
        jobs[i] = submit(s, 0, prio[i], dl[i], &tags[i]);
    }
    its_sched_pause(s, 0);
    for (int i = 0; i < 6; i++) {
        /* governor off: sheddable requests still run */
        assert_int_equal(its_sched_wait(jobs[i], -1), ITS_OUTCOME_DONE);
    }
    its_sched_free(s);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(rec.order[i], expect[i]);
        its_sched_job_free(jobs[i]);
    }
}

/* Deadlines against the predicted service time (NFE / rate): a request steps down to the
 * heaviest profile that fits; below the lightest only negative priorities are shed. */
static void test_deadline_step_down_and_shed(void **state)
{
    (void)state;
    task_cfg cfg = {.us_per_nfe = 1000}; /* 1 ms per NFE: 1000 NFE/s */
    its_sched_params p;
    sched_params(&p, &cfg, 1);
    p.nfe_rate_init = 1000;
    its_sched *s = make_sched(&p);
    struct {
        double deadline;
        int prio;
        its_sched_outcome out;
        int profile;
    } c[] = {
        {0, 0, ITS_OUTCOME_DONE, 2},    /* no deadline: the hint */
        {200, 0, ITS_OUTCOME_DONE, 2},  /* 160 ms fits */
        {100, 0, ITS_OUTCOME_DONE, 1},  /* 160 does not, 40 does */
        {39, 0, ITS_OUTCOME_DONE, 0},   /* only 10 fits */
        {5, 0, ITS_OUTCOME_DONE, 0},    /* nothing fits; not sheddable: the lightest */
        {5, -1, ITS_OUTCOME_SHED, -1},  /* nothing fits; sheddable */
        {100, -1, ITS_OUTCOME_DONE, 1}, /* sheddable but fits lighter */
    };
    for (size_t i = 0; i < N_OF(c); i++) {
        its_sched_job *j = submit(s, 2, c[i].prio, c[i].deadline, NULL);
        assert_int_equal(its_sched_wait(j, -1), c[i].out);
        assert_int_equal(its_sched_job_profile(j), c[i].profile);
        assert_int_equal(its_sched_job_requested(j), 2);
        if (c[i].out == ITS_OUTCOME_DONE) {
            assert_int_equal(its_sched_job_degraded(j), c[i].profile < 2);
            its_usage u;
            its_result_usage(its_sched_job_result(j), &u);
            uint64_t nfe[3] = {10, 40, 160};
            assert_int_equal(u.nfe, nfe[c[i].profile]);
        } else {
            assert_non_null(strstr(its_sched_job_error(j), "deadline"));
            assert_null(its_sched_job_result(j));
        }
        its_sched_job_free(j);
    }
    its_sched_stats st;
    its_sched_stats_get(s, &st);
    /* every run cost exactly 1 fake ms per NFE */
    ITS_ASSERT_NEAR(st.nfe_rate, 1000.0, 1e-6);
    assert_int_equal(st.shed, 1);
    assert_int_equal(st.degraded, 4);
    assert_int_equal(st.served[0], 2);
    assert_int_equal(st.served[1], 2);
    assert_int_equal(st.served[2], 2);
    its_sched_free(s);
}

/* The governor: queue pressure over the SLA steps down one profile per cooldown; after the
 * load is gone it steps back up one profile per quiet hold, not at once. */
static void test_governor_hysteresis(void **state)
{
    (void)state;
    task_cfg cfg = {.us_per_nfe = 1000};
    its_sched_params p;
    sched_params(&p, &cfg, 1);
    p.nfe_rate_init = 1000;
    p.sla_p95_ms = 100;
    p.down_cooldown_ms = 500;
    p.up_hold_ms = 2000;
    p.up_ratio = 0.5;
    p.window_ms = 1000;
    its_sched *s = make_sched(&p);
    its_sched_pause(s, 1);
    its_sched_job *jobs[8];
    for (int i = 0; i < 8; i++)
        jobs[i] = submit(s, 2, 0, 0, NULL);
    its_sched_stats st;
    its_sched_stats_get(s, &st);
    /* 8 x 160 NFE waiting at 1000 NFE/s: 1280 ms predicted wait against a 100 ms SLA */
    ITS_ASSERT_NEAR(st.outstanding_nfe, 1280.0, 1e-9);
    ITS_ASSERT_NEAR(st.pressure, 12.8, 1e-9);
    assert_int_equal(st.level, 2); /* inside the cooldown since creation */
    fake_set_ms(500);
    its_sched_stats_get(s, &st);
    assert_int_equal(st.level, 1);
    fake_set_ms(999);
    its_sched_stats_get(s, &st);
    assert_int_equal(st.level, 1);
    fake_set_ms(1000);
    its_sched_stats_get(s, &st);
    assert_int_equal(st.level, 0);
    fake_set_ms(2000);
    its_sched_stats_get(s, &st);
    assert_int_equal(st.level, 0);

    /* at level 0 a heavy request runs light (degraded); a sheddable one is shed */
    for (int i = 0; i < 7; i++)
        its_sched_cancel(jobs[i]);
    tag t = {0};
    recorder rec = {.n = 0};
    pthread_mutex_init(&rec.mu, NULL);
    t.rec = &rec;
    its_sched_job *neg = submit(s, 2, -1, 0, &t);
    its_sched_pause(s, 0);
    assert_int_equal(its_sched_wait(jobs[7], -1), ITS_OUTCOME_DONE);
    assert_int_equal(its_sched_job_profile(jobs[7]), 0);
    assert_int_equal(its_sched_job_degraded(jobs[7]), 1);
    /* 160 NFE are still predicted for the sheddable one at its dispatch: pressure 1.6 */
    assert_int_equal(its_sched_wait(neg, -1), ITS_OUTCOME_SHED);
    assert_non_null(strstr(its_sched_job_error(neg), "SLA"));
    assert_int_equal(atomic_load(&t.calls), 1);

    /* jobs[7] waited 2 s in the queue: its latency keeps the pressure up for one window */
    its_sched_stats_get(s, &st);
    assert_true(st.pressure > 1);
    /* quiet from the end of the window on (queue empty, no latency in the window) */
    double q0 = fake_clock(NULL) + p.window_ms;
    fake_set_ms(q0);
    its_sched_stats_get(s, &st);
    assert_true(st.pressure < 0.5);
    assert_int_equal(st.level, 0);
    fake_set_ms(q0 + 1999);
    its_sched_stats_get(s, &st);
    assert_int_equal(st.level, 0);
    fake_set_ms(q0 + 2000);
    its_sched_stats_get(s, &st);
    assert_int_equal(st.level, 1);
    fake_set_ms(q0 + 3999);
    its_sched_stats_get(s, &st);
    assert_int_equal(st.level, 1);
    fake_set_ms(q0 + 4000);
    its_sched_stats_get(s, &st);
    assert_int_equal(st.level, 2);
    /* a heavy request now runs heavy again */
    its_sched_job *h = submit(s, 2, 0, 0, NULL);
    assert_int_equal(its_sched_wait(h, -1), ITS_OUTCOME_DONE);
    assert_int_equal(its_sched_job_profile(h), 2);
    assert_int_equal(its_sched_job_degraded(h), 0);
    its_sched_job_free(h);
    its_sched_job_free(neg);
    for (int i = 0; i < 8; i++)
        its_sched_job_free(jobs[i]);
    its_sched_free(s);
}

/* The rolling p95 of measured latencies drives the governor too: slow runs over the SLA. */
static void test_governor_p95(void **state)
{
    (void)state;
    task_cfg cfg = {.us_per_nfe = 1000};
    its_sched_params p;
    sched_params(&p, &cfg, 1);
    p.sla_p95_ms = 100;  /* heavy takes 160 ms */
    p.down_cooldown_ms = 0;
    its_sched *s = make_sched(&p);
    its_sched_job *j = submit(s, 2, 0, 0, NULL);
    assert_int_equal(its_sched_wait(j, -1), ITS_OUTCOME_DONE);
    assert_int_equal(its_sched_job_profile(j), 2);
    ITS_ASSERT_NEAR(its_sched_job_latency_ms(j), 160.0, 1e-6);
    its_sched_job_free(j);
    its_sched_stats st;
    its_sched_stats_get(s, &st);
    /* the 160 ms run ended after the last change; it alone is the p95 and it stepped down */
    assert_int_equal(st.level, 1);
    j = submit(s, 2, 0, 0, NULL);
    assert_int_equal(its_sched_wait(j, -1), ITS_OUTCOME_DONE);
    assert_int_equal(its_sched_job_profile(j), 1);
    ITS_ASSERT_NEAR(its_sched_job_latency_ms(j), 40.0, 1e-6);
    its_sched_job_free(j);
    its_sched_stats_get(s, &st);
    ITS_ASSERT_NEAR(st.p95_ms, 40.0, 1e-6);
    assert_int_equal(st.level, 1); /* 0.4 < 1: no further step down */
    its_sched_free(s);
}

/* Cancelling a waiting job ends it at once; a running one stops at its next model call. */
static void test_cancel(void **state)
{
    (void)state;
    task_cfg cfg = {.us_per_nfe = 0};
    its_sched_params p;
    sched_params(&p, &cfg, 1);
    p.governor = 0;
    its_sched *s = make_sched(&p);
    its_sched_pause(s, 1);
    recorder rec = {.n = 0};
    pthread_mutex_init(&rec.mu, NULL);
    tag tags[3] = {{.rec = &rec, .id = 0}, {.rec = &rec, .id = 1}, {.rec = &rec, .id = 2}};
    its_sched_job *a = submit(s, 0, 0, 0, &tags[0]);
    its_sched_job *b = submit(s, 0, 0, 0, &tags[1]);
    its_sched_job *c = submit(s, 0, 0, 0, &tags[2]);
    assert_int_equal(its_sched_cancel(b), 1);
    assert_int_equal(its_sched_job_outcome(b), ITS_OUTCOME_CANCELLED);
    assert_int_equal(atomic_load(&tags[1].calls), 1);
    assert_int_equal(its_sched_cancel(b), 0); /* already ended */
    its_sched_pause(s, 0);
    assert_int_equal(its_sched_wait(a, -1), ITS_OUTCOME_DONE);
    assert_int_equal(its_sched_wait(c, -1), ITS_OUTCOME_DONE);
    assert_int_equal(atomic_load(&tags[1].calls), 1);
    its_sched_job_free(a);
    its_sched_job_free(b);
    its_sched_job_free(c);

    /* running: the first model call blocks until the cancel is in */
    atomic_store(&cfg.block_first, 1);
    its_sched_job *r = submit(s, 2, 0, 0, NULL);
    while (!atomic_load(&cfg.started)) {
        struct timespec ts = {0, 100000};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(its_sched_cancel(r), 1);
    atomic_store(&cfg.go, 1);
    assert_int_equal(its_sched_wait(r, -1), ITS_OUTCOME_CANCELLED);
    its_result *res = its_sched_job_result(r);
    assert_non_null(res);
    assert_int_equal(its_result_stop(res), ITS_STOP_CANCELLED);
    its_usage u;
    its_result_usage(res, &u);
    assert_int_equal(u.nfe, 16); /* one call of 16 rows, then the stop */
    its_sched_job_free(r);
    its_sched_stats st;
    its_sched_stats_get(s, &st);
    assert_int_equal(st.cancelled, 2);
    assert_int_equal(st.completed, 2);
    its_sched_free(s);
}

/* A full queue refuses with ITS_ADMIT_QUEUE_FULL; a closed one with ITS_ADMIT_CLOSED. */
static void test_queue_bounded(void **state)
{
    (void)state;
    task_cfg cfg = {.us_per_nfe = 0};
    its_sched_params p;
    sched_params(&p, &cfg, 1);
    p.queue_cap = 3;
    its_sched *s = make_sched(&p);
    its_sched_pause(s, 1);
    its_sched_job *j[3];
    for (int i = 0; i < 3; i++)
        j[i] = submit(s, 0, 0, 0, NULL);
    its_sched_req r;
    its_sched_req_init(&r);
    its_sched_job *x = (its_sched_job *)&r;
    assert_int_equal(its_sched_submit(s, &r, &x), ITS_ADMIT_QUEUE_FULL);
    assert_null(x);
    r.profile = 3;
    assert_int_equal(its_sched_submit(s, &r, &x), ITS_ADMIT_INVALID);
    its_sched_stats st;
    its_sched_stats_get(s, &st);
    assert_int_equal(st.waiting, 3);
    assert_int_equal(st.rejected, 1);
    /* drain: the three run, then submissions are refused */
    assert_int_equal(its_sched_shutdown(s, ITS_SCHED_DRAIN, -1), 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(its_sched_job_outcome(j[i]), ITS_OUTCOME_DONE);
        its_sched_job_free(j[i]);
    }
    r.profile = 0;
    assert_int_equal(its_sched_submit(s, &r, &x), ITS_ADMIT_CLOSED);
    its_sched_free(s);
}

/* Several threads submit, cancel and free at once: every accepted job ends exactly once. */
#define CT_THREADS 4
#define CT_PER 150
typedef struct {
    its_sched *s;
    int id;
    atomic_int calls[CT_PER];
    int accepted, cancelled_waiting;
} ct_arg;

static void ct_done(void *user, its_sched_job *job)
{
    (void)job;
    atomic_fetch_add((atomic_int *)user, 1);
}

static void *ct_main(void *arg)
{
    ct_arg *a = arg;
    its_sched_job *mine[CT_PER] = {0};
    unsigned rng = 12345u + (unsigned)a->id;
    for (int i = 0; i < CT_PER; i++) {
        its_sched_req r;
        its_sched_req_init(&r);
        r.profile = (int)(rng % 2);
        r.priority = (int)(rng % 5) - 2;
        r.seed = (uint64_t)i;
        r.done = ct_done;
        r.user = &a->calls[i];
        if (its_sched_submit(a->s, &r, &mine[i]) == ITS_ADMIT_OK)
            a->accepted++;
        rng = rng * 1103515245u + 12345u;
        int k = (int)((rng >> 16) % (unsigned)(i + 1));
        if (mine[k] && (rng >> 8) % 3 == 0) {
            its_sched_cancel(mine[k]);
            if ((rng >> 4) % 2) {
                its_sched_job_free(mine[k]);
                mine[k] = NULL;
            }
        }
    }
    for (int i = 0; i < CT_PER; i++) {
        if (mine[i]) {
            its_sched_wait(mine[i], -1);
            its_sched_job_free(mine[i]);
        }
    }
    return NULL;
}

static void test_concurrent_submit_cancel(void **state)
{
    (void)state;
    task_cfg cfg = {.us_per_nfe = 0};
    its_sched_params p;
    sched_params(&p, &cfg, 2);
    p.queue_cap = 32;
    p.clock = NULL; /* real time: nothing here depends on it */
    its_sched *s = make_sched(&p);
    static ct_arg args[CT_THREADS];
    pthread_t th[CT_THREADS];
    for (int t = 0; t < CT_THREADS; t++) {
        memset(&args[t], 0, sizeof(args[t]));
        args[t].s = s;
        args[t].id = t;
        pthread_create(&th[t], NULL, ct_main, &args[t]);
    }
    for (int t = 0; t < CT_THREADS; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(its_sched_shutdown(s, ITS_SCHED_DRAIN, -1), 1);
    its_sched_stats st;
    its_sched_stats_get(s, &st);
    int accepted = 0;
    for (int t = 0; t < CT_THREADS; t++) {
        accepted += args[t].accepted;
        for (int i = 0; i < CT_PER; i++) {
            int c = atomic_load(&args[t].calls[i]);
            assert_true(c == 0 || c == 1);
            accepted -= c;
        }
    }
    /* every accepted job called back once; nothing else did */
    assert_int_equal(accepted, 0);
    uint64_t ended = st.completed + st.cancelled + st.shed + st.failed;
    uint64_t acc = 0;
    for (int t = 0; t < CT_THREADS; t++)
        acc += (uint64_t)args[t].accepted;
    assert_int_equal(ended, acc);
    assert_int_equal(st.failed, 0);
    assert_int_equal(acc + st.rejected, CT_THREADS * CT_PER);
    assert_int_equal(st.waiting, 0);
    assert_int_equal(st.running, 0);
    its_sched_free(s);
}

/* ---- Prometheus text format 0.0.4 checker ---- */
static int is_name(const char *b, const char *e, int colon)
{
    if (b == e || !(isalpha((unsigned char)*b) || *b == '_' || (colon && *b == ':')))
        return 0;
    for (const char *c = b + 1; c < e; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_' || (colon && *c == ':')))
            return 0;
    return 1;
}

static int parse_value(const char *b, double *v)
{
    if (!strcmp(b, "+Inf") || !strcmp(b, "-Inf") || !strcmp(b, "NaN")) {
        *v = !strcmp(b, "NaN") ? NAN : (b[0] == '+' ? INFINITY : -INFINITY);
        return 1;
    }
    char *end;
    *v = strtod(b, &end);
    return end != b && *end == 0;
}

typedef struct {
    char name[96], type[16];
} family;

/* Checks every line; returns the number of samples, or -1 with the reason in prom_err. */
static char prom_err[1200];
#define PCHECK(cond, ...)                                            \
    do {                                                             \
        if (!(cond)) {                                               \
            snprintf(prom_err, sizeof(prom_err), __VA_ARGS__);       \
            return -1;                                               \
        }                                                            \
    } while (0)
static int prom_check(const char *text, family *fam, int *nfam)
{
    int samples = 0;
    *nfam = 0;
    char line[1024];
    const char *p = text;
    double last_bucket = -1, inf_bucket = -1;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl)
            PCHECK(0, "last line not terminated by a newline");
        size_t n = (size_t)(nl - p);
        PCHECK(n < sizeof(line), "line too long");
        memcpy(line, p, n);
        line[n] = 0;
        p = nl + 1;
        if (line[0] == '#') {
            char kw[8], name[96], rest[512];
            if (sscanf(line, "# %7s %95s %511[^\n]", kw, name, rest) != 3)
                PCHECK(0, "bad comment line: %s", line);
            PCHECK(is_name(name, name + strlen(name), 1), "check failed: %s", line);
            if (!strcmp(kw, "TYPE")) {
                PCHECK(!strcmp(rest, "counter") || !strcmp(rest, "gauge") ||
                            !strcmp(rest, "histogram") || !strcmp(rest, "summary") ||
                            !strcmp(rest, "untyped"), "check failed: %s", line);
                for (int i = 0; i < *nfam; i++)
                    if (!strcmp(fam[i].name, name))
                        PCHECK(0, "TYPE repeated for %s", name);
                strcpy(fam[*nfam].name, name);
                strcpy(fam[*nfam].type, rest);
                (*nfam)++;
                last_bucket = -1;
            } else if (strcmp(kw, "HELP") != 0) {
                PCHECK(0, "unknown comment keyword: %s", line);
            }
            continue;
        }
        /* sample: name [{labels}] value */
        char *c = line;
        while (*c && *c != '{' && *c != ' ')
            c++;
        char name[96];
        memcpy(name, line, (size_t)(c - line));
        name[c - line] = 0;
        if (!is_name(line, c, 1))
            PCHECK(0, "bad metric name: %s", line);
        char le[32] = "";
        if (*c == '{') {
            c++;
            while (*c != '}') {
                char *ln = c;
                while (*c && *c != '=')
                    c++;
                if (!is_name(ln, c, 0) || c[1] != '"')
                    PCHECK(0, "bad label in: %s", line);
                int is_le = (c - ln == 2 && !strncmp(ln, "le", 2));
                c += 2;
                char *vb = c;
                while (*c && *c != '"') {
                    if (*c == '\\') {
                        if (!(c[1] == '\\' || c[1] == '"' || c[1] == 'n'))
                            PCHECK(0, "bad escape in: %s", line);
                        c++;
                    }
                    c++;
                }
                if (*c != '"')
                    PCHECK(0, "unterminated label value: %s", line);
                if (is_le)
                    snprintf(le, sizeof(le), "%.*s", (int)(c - vb), vb);
                c++;
                if (*c == ',')
                    c++;
                else if (*c != '}')
                    PCHECK(0, "bad label list: %s", line);
            }
            c++;
        }
        if (*c != ' ')
            PCHECK(0, "no value in: %s", line);
        double v;
        if (!parse_value(c + 1, &v))
            PCHECK(0, "bad value in: %s", line);
        /* the sample belongs to the last TYPE'd family */
        PCHECK(*nfam > 0, "check failed: %s", line);
        family *f = &fam[*nfam - 1];
        size_t fl = strlen(f->name);
        if (strncmp(name, f->name, fl) != 0)
            PCHECK(0, "%s outside its family %s", name, f->name);
        if (!strcmp(f->type, "histogram")) {
            const char *suf = name + fl;
            PCHECK(!strcmp(suf, "_bucket") || !strcmp(suf, "_sum") || !strcmp(suf, "_count"), "check failed: %s", line);
            if (!strcmp(suf, "_bucket")) {
                double lev;
                PCHECK(parse_value(le, &lev), "check failed: %s", line);
                PCHECK(v >= last_bucket, "check failed: %s", line); /* cumulative */
                last_bucket = v;
                if (isinf(lev))
                    inf_bucket = v;
            } else if (!strcmp(suf, "_count")) {
                PCHECK(v == inf_bucket, "check failed: %s", line);
            }
        } else {
            PCHECK(name[fl] == 0, "check failed: %s", line);
        }
        samples++;
    }
    return samples;
}

static double metric_value(const char *text, const char *key)
{
    const char *p = text;
    size_t kl = strlen(key);
    while ((p = strstr(p, key)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[kl] == ' ')
            return strtod(p + kl + 1, NULL);
        p += kl;
    }
    fail_msg("metric %s missing", key);
    return NAN;
}

static void test_metrics_text(void **state)
{
    (void)state;
    task_cfg cfg = {.us_per_nfe = 1000};
    its_sched_params p;
    sched_params(&p, &cfg, 1);
    p.nfe_rate_init = 1000;
    p.queue_cap = 4;
    its_sched *s = make_sched(&p);
    its_sched_job *a = submit(s, 2, 0, 100, NULL); /* runs standard (degraded) */
    its_sched_wait(a, -1);
    its_sched_job *b = submit(s, 2, -1, 5, NULL);  /* shed */
    its_sched_wait(b, -1);
    its_sched_pause(s, 1);
    its_sched_job *w[4];
    for (int i = 0; i < 4; i++)
        w[i] = submit(s, 0, 0, 0, NULL);
    its_sched_req r;
    its_sched_req_init(&r);
    its_sched_job *x;
    assert_int_equal(its_sched_submit(s, &r, &x), ITS_ADMIT_QUEUE_FULL);

    char small[16];
    size_t need = its_sched_metrics(s, small, sizeof(small));
    assert_true(need > sizeof(small));
    assert_int_equal(strlen(small), sizeof(small) - 1);
    char *text = malloc(need + 1);
    assert_int_equal(its_sched_metrics(s, text, need + 1), need);
    assert_int_equal(strlen(text), need);

    family fam[64];
    int nfam;
    int samples = prom_check(text, fam, &nfam);
    if (samples < 0)
        fail_msg("metrics text: %s", prom_err);
    assert_true(samples > 40);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_requests_waiting"), 4, 0);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_requests_running"), 0, 0);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_outstanding_nfe"), 40, 0);  /* 4 x light */
    ITS_ASSERT_NEAR(metric_value(text, "itscale_nfe_total"), 40, 0);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_nfe_per_second"), 1000, 1e-3);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_requests_served_total{profile=\"standard\"}"), 1, 0);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_requests_degraded_total{profile=\"heavy\"}"), 1, 0);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_requests_shed_total{profile=\"heavy\"}"), 1, 0);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_requests_rejected_total{reason=\"queue_full\"}"), 1,
                    0);
    /* one 40 ms request: in the 0.05 bucket, not in 0.025 */
    ITS_ASSERT_NEAR(metric_value(text, "itscale_request_duration_seconds_bucket{le=\"0.025\"}"), 0, 0);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_request_duration_seconds_bucket{le=\"0.05\"}"), 1, 0);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_request_duration_seconds_sum"), 0.04, 1e-9);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_queue_duration_seconds_count"), 2, 0);
    free(text);

    /* the checker itself rejects broken text */
    const char *bad[] = {
        "# TYPE a gauge\na 1", "# TYPE a gauge\n9a 1\n", "# TYPE a gauge\na{x=1} 1\n",
        "# TYPE a gauge\na one\n", "# TYPE a histogram\na_bucket{le=\"1\"} 2\na_bucket{le=\"+Inf\"} 1\n",
        "# TYPE a gauge\nb 1\n", "# TYPE a counter\n# TYPE a counter\na 1\n",
        "# TYPE a gauge\na{x=\"\\q\"} 1\n",
    };
    for (size_t i = 0; i < N_OF(bad); i++)
        if (prom_check(bad[i], fam, &nfam) != -1)
            fail_msg("the checker accepted: %s", bad[i]);
    const char *good = "# HELP a x\n# TYPE a gauge\na{x=\"q\\\"\"} +Inf\n";
    assert_int_equal(prom_check(good, fam, &nfam), 1);
    its_sched_pause(s, 0);
    for (int i = 0; i < 4; i++)
        its_sched_job_free(w[i]);
    its_sched_job_free(a);
    its_sched_job_free(b);
    its_sched_free(s);
}


/* ---- per-key state: prepare / use / release, counted; the instance logs the key current at
 * each run's first model call ---- */
typedef struct {
    char key[ITS_SCHED_KEY_CAP];
} key_state;

typedef struct {
    atomic_int prepared, released;
    char current[ITS_SCHED_KEY_CAP]; /* key made current by `use` ("" = none) */
    char seen[16][ITS_SCHED_KEY_CAP]; /* current key at each run's first eval */
    int n_seen;
} key_log;

static key_log klog;

static int key_prepare(void *user, void *inst, const char *key, void **state)
{
    (void)user;
    (void)inst;
    if (!strcmp(key, "fail"))
        return 1;
    key_state *ks = calloc(1, sizeof(*ks));
    if (!ks)
        return 1;
    snprintf(ks->key, sizeof(ks->key), "%s", key);
    atomic_fetch_add(&klog.prepared, 1);
    *state = ks;
    return 0;
}

static void key_use(void *user, void *inst, void *state)
{
    (void)user;
    (void)inst;
    snprintf(klog.current, sizeof(klog.current), "%s", state ? ((key_state *)state)->key : "");
    if (klog.n_seen < 16)
        snprintf(klog.seen[klog.n_seen++], ITS_SCHED_KEY_CAP, "%s", klog.current);
}

static void key_release(void *user, void *inst, void *state)
{
    (void)user;
    (void)inst;
    free(state);
    atomic_fetch_add(&klog.released, 1);
}

static its_sched_job *submit_key(its_sched *s, const char *key)
{
    its_sched_req r;
    its_sched_req_init(&r);
    r.profile = 0;
    r.affinity = key;
    its_sched_job *j = NULL;
    if (its_sched_submit(s, &r, &j) != ITS_ADMIT_OK)
        fail_msg("submit with key %s refused", key ? key : "(none)");
    its_sched_wait(j, -1);
    return j;
}

/* A worker's LRU cache of prepared per-key states (capacity 2): hits, misses and evictions in
 * the order LRU implies, the right state current at each run, every state released, a failing
 * prepare fails only its request, and bad keys or half-set hooks are refused. */
static void test_key_cache(void **state)
{
    (void)state;
    memset(&klog, 0, sizeof(klog));
    task_cfg cfg = {.us_per_nfe = 0};
    its_sched_params p;
    sched_params(&p, &cfg, 1);
    p.key_cache_cap = 2;
    p.tasks[0].prepare = key_prepare;
    p.tasks[0].use = key_use;
    p.tasks[0].release = key_release;
    its_sched *s = make_sched(&p);
    /* A miss, B miss, A hit, C miss (evicts B), B miss (evicts A), A miss (evicts C), none */
    const char *keys[] = {"A", "B", "A", "C", "B", "A", NULL};
    for (size_t i = 0; i < N_OF(keys); i++) {
        its_sched_job *j = submit_key(s, keys[i]);
        assert_int_equal(its_sched_job_outcome(j), ITS_OUTCOME_DONE);
        its_sched_job_free(j);
        assert_string_equal(klog.seen[i], keys[i] ? keys[i] : "");
    }
    its_sched_job *f = submit_key(s, "fail");
    assert_int_equal(its_sched_job_outcome(f), ITS_OUTCOME_FAILED);
    assert_non_null(strstr(its_sched_job_error(f), "affinity key \"fail\""));
    its_sched_job_free(f);
    /* the failed prepare took B's slot (least recently used) and left it empty; A is held */
    its_sched_job *b = submit_key(s, "A");
    assert_int_equal(its_sched_job_outcome(b), ITS_OUTCOME_DONE);
    its_sched_job_free(b);

    size_t need = its_sched_metrics(s, NULL, 0);
    char *text = malloc(need + 1);
    its_sched_metrics(s, text, need + 1);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_key_cache_hits_total"), 2, 0);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_key_cache_misses_total"), 6, 0);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_key_cache_evictions_total"), 4, 0);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_key_cache_entries"), 1, 0);
    free(text);
    assert_int_equal(atomic_load(&klog.prepared), 5);

    /* a key of ITS_SCHED_KEY_CAP bytes is refused at admission */
    char longkey[ITS_SCHED_KEY_CAP + 1];
    memset(longkey, 'k', ITS_SCHED_KEY_CAP);
    longkey[ITS_SCHED_KEY_CAP] = 0;
    its_sched_req r;
    its_sched_req_init(&r);
    r.affinity = longkey;
    its_sched_job *x = NULL;
    assert_int_equal(its_sched_submit(s, &r, &x), ITS_ADMIT_INVALID);
    assert_null(x);
    /* a V1 request (no affinity field) still runs, with no key */
    its_sched_req_init(&r);
    r.version = ITS_SCHED_REQ_V1;
    r.profile = 0;
    assert_int_equal(its_sched_submit(s, &r, &x), ITS_ADMIT_OK);
    its_sched_wait(x, -1);
    assert_int_equal(its_sched_job_outcome(x), ITS_OUTCOME_DONE);
    its_sched_job_free(x);
    its_sched_free(s);
    /* every prepared state is released: 4 evicted, A at its_sched_free */
    assert_int_equal(atomic_load(&klog.released), atomic_load(&klog.prepared));

    /* prepare without use/release is refused */
    sched_params(&p, &cfg, 1);
    p.tasks[0].prepare = key_prepare;
    its_ctx *ctx = its_test_ctx(NULL);
    its_sched *bad = NULL;
    assert_int_equal(its_sched_create(ctx, &p, &bad), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "prepare, use and release go together"));
    sched_params(&p, &cfg, 1);
    p.key_cache_cap = 0;
    assert_int_equal(its_sched_create(ctx, &p, &bad), ITS_ERR_INVALID);
    assert_null(bad);
    its_ctx_free(ctx);
}


/* The allotment (fit = 1): a request gets the NFE its deadline, its SLA share and the queue
 * behind it allow, and its profile's method (best_of_n, 10 NFE a trajectory) is fitted to it
 * with the public cost model; below the method's minimum a lighter profile runs. The fake clock
 * makes the rate exactly 1000 NFE/s, so every allotment below is exact. */
static void test_allotment_fit(void **state)
{
    (void)state;
    task_cfg cfg = {.us_per_nfe = 1000};
    its_sched_params p;
    sched_params(&p, &cfg, 1);
    p.fit = 1;
    p.nfe_rate_init = 1000;
    its_sched *s = make_sched(&p);
    /* deadline 100 ms: 100 NFE, heavy (160) fitted to n = 10 */
    its_sched_job *a = submit(s, 2, 0, 100, NULL);
    assert_int_equal(its_sched_wait(a, -1), ITS_OUTCOME_DONE);
    assert_int_equal(its_sched_job_profile(a), 2);
    assert_int_equal((int)its_sched_job_nfe_budget(a), 100);
    assert_true(its_sched_job_degraded(a));
    its_usage u;
    its_result_usage(its_sched_job_result(a), &u);
    assert_int_equal((int)u.nfe, 100);
    /* deadline 5 ms: below one trajectory, so the lightest profile, as configured */
    its_sched_job *b = submit(s, 2, 0, 5, NULL);
    assert_int_equal(its_sched_wait(b, -1), ITS_OUTCOME_DONE);
    assert_int_equal(its_sched_job_profile(b), 0);
    assert_int_equal((int)its_sched_job_nfe_budget(b), 0);
    /* no deadline, no SLA: the whole profile */
    its_sched_job *c = submit(s, 2, 0, 0, NULL);
    assert_int_equal(its_sched_wait(c, -1), ITS_OUTCOME_DONE);
    assert_int_equal((int)its_sched_job_nfe_budget(c), 0);
    its_result_usage(its_sched_job_result(c), &u);
    assert_int_equal((int)u.nfe, 160);
    its_sched_job_free(a);
    its_sched_job_free(b);
    its_sched_job_free(c);
    its_sched_free(s);

    /* SLA 480 ms, target 0.5: 240 ms a request. Three heavy requests queued together on one
     * worker: the first may take 240 / (2 waiting + 1) = 80 ms, the second min(240 - 80,
     * 240 / 2) = 120, the third 240 - 200 = 40; each fitted to that NFE at 1000 NFE/s */
    sched_params(&p, &cfg, 1);
    p.fit = 1;
    p.nfe_rate_init = 1000;
    p.sla_p95_ms = 480;
    p.sla_target = 0.5;
    s = make_sched(&p);
    its_sched_pause(s, 1);
    its_sched_job *q[3];
    for (int i = 0; i < 3; i++)
        q[i] = submit(s, 2, 0, 0, NULL);
    its_sched_pause(s, 0);
    const int want[3] = {80, 120, 40};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(its_sched_wait(q[i], -1), ITS_OUTCOME_DONE);
        assert_int_equal(its_sched_job_profile(q[i]), 2);
        assert_int_equal((int)its_sched_job_nfe_budget(q[i]), want[i]);
        its_result_usage(its_sched_job_result(q[i]), &u);
        assert_int_equal((int)u.nfe, want[i]);
        its_sched_job_free(q[i]);
    }
    size_t need = its_sched_metrics(s, NULL, 0);
    char *text = malloc(need + 1);
    its_sched_metrics(s, text, need + 1);
    ITS_ASSERT_NEAR(metric_value(text, "itscale_requests_fitted_total"), 3, 0);
    free(text);
    its_sched_free(s);
}

/* Profiles from a JSON document: configs through its_sampler_from_json. */
static void test_json_profiles(void **state)
{
    (void)state;
    task_cfg cfg = {.us_per_nfe = 0};
    its_ctx *ctx = its_test_ctx(NULL);
    its_sched_params p;
    sched_params(&p, &cfg, 1);
    const char *doc =
        "{\"profiles\": [{\"name\": \"light\", \"config\": {\"sampler\": \"none\", \"run\": "
        "{\"steps\": 8}}}, {\"name\": \"standard\", \"config\": {\"sampler\": \"best_of_n\", "
        "\"params\": {\"n\": 3}, \"run\": {\"steps\": 8}}, \"nfe\": 24}], \"sla_p95_ms\": 250, "
        "\"queue_cap\": 9}";
    char *store = NULL;
    ITS_ASSERT_OK(its_sched_params_from_json(ctx, doc, strlen(doc), &p, &store));
    assert_int_equal(p.n_profiles, 2);
    assert_int_equal(p.queue_cap, 9);
    ITS_ASSERT_NEAR(p.sla_p95_ms, 250, 0);
    its_sched *s = NULL;
    if (its_sched_create(ctx, &p, &s) != ITS_OK)
        fail_msg("%s", its_ctx_errmsg(ctx));
    its_ctx_mem_free(ctx, store);
    assert_int_equal(its_sched_profile_index(s, "standard"), 1);
    assert_string_equal(its_sched_profile_name(s, 0), "light");
    its_sched_job *j = submit(s, -1, 0, 0, NULL);
    assert_int_equal(its_sched_wait(j, -1), ITS_OUTCOME_DONE);
    assert_int_equal(its_sched_job_profile(j), 1);
    its_usage u;
    its_result_usage(its_sched_job_result(j), &u);
    assert_int_equal(u.nfe, 24);
    its_sched_job_free(j);
    its_sched_free(s);

    const char *bad[][2] = {
        {"{\"profiles\": []}", "sched.profiles"},
        {"{\"profiles\": [{\"name\": \"a\"}]}", "sched.profiles[0].config"},
        {"{\"profiles\": [{\"name\": \"a\", \"config\": {}, \"x\": 1}]}", "sched.profiles[0].x"},
        {"{\"profiles\": [{\"name\": \"a\", \"config\": {}}], \"sla\": 1}", "sched.sla"},
        {"{\"profiles\": [{\"name\": \"a\", \"config\": {}}], \"queue_cap\": 0}", "queue_cap"},
        {"{\"profiles\": [", "not valid JSON"},
    };
    for (size_t i = 0; i < N_OF(bad); i++) {
        its_sched_params q;
        its_sched_params_init(&q);
        assert_int_equal(its_sched_params_from_json(ctx, bad[i][0], strlen(bad[i][0]), &q, &store),
                         ITS_ERR_CONFIG);
        if (!strstr(its_ctx_errmsg(ctx), bad[i][1]))
            fail_msg("message \"%s\" does not name %s", its_ctx_errmsg(ctx), bad[i][1]);
        assert_null(store);
    }
    /* a profile config the sampler layer refuses: create fails naming the profile */
    const char *doc2 = "{\"profiles\": [{\"name\": \"odd\", \"config\": {\"sampler\": \"nope\"}}]}";
    ITS_ASSERT_OK(its_sched_params_from_json(ctx, doc2, strlen(doc2), &p, &store));
    assert_int_equal(its_sched_create(ctx, &p, &s), ITS_ERR_CONFIG);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "\"odd\""));
    assert_null(s);
    its_ctx_mem_free(ctx, store);
    its_ctx_free(ctx);
}

/* Enum names round-trip; bad scheduler parameters name the field. */
static void test_names_and_params(void **state)
{
    (void)state;
    for (int i = 0; i < ITS_ADMIT_COUNT_; i++) {
        its_sched_admit a;
        ITS_ASSERT_OK(its_sched_admit_parse(its_sched_admit_name((its_sched_admit)i), &a));
        assert_int_equal(a, i);
    }
    for (int i = 0; i < ITS_OUTCOME_COUNT_; i++) {
        its_sched_outcome o;
        ITS_ASSERT_OK(its_sched_outcome_parse(its_sched_outcome_name((its_sched_outcome)i), &o));
        assert_int_equal(o, i);
    }
    assert_null(its_sched_outcome_name(ITS_OUTCOME_COUNT_));
    its_ctx *ctx = its_test_ctx(NULL);
    task_cfg cfg = {0};
    its_sched_params p;
    sched_params(&p, &cfg, 0);
    its_sched *s = (its_sched *)ctx;
    assert_int_equal(its_sched_create(ctx, &p, &s), ITS_ERR_INVALID);
    assert_null(s);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "sched.workers"));
    sched_params(&p, &cfg, 1);
    strcpy(p.profiles[2].name, "light");
    assert_int_equal(its_sched_create(ctx, &p, &s), ITS_ERR_INVALID);
    assert_non_null(strstr(its_ctx_errmsg(ctx), "repeats"));
    its_sched_free(NULL);
    its_sched_job_free(NULL);
    its_ctx_free(ctx);
}

/* Every allocation its_sched_create makes can fail: an error comes back naming the cause and
 * nothing leaks; past the last one the scheduler works and frees everything. */
static void test_create_alloc_failures(void **state)
{
    (void)state;
    task_cfg cfg = {.us_per_nfe = 0};
    its_ctx *ctx = its_test_ctx(NULL);
    int succeeded = 0;
    for (long k = 1; k < 400 && !succeeded; k++) {
        /* the shared locked counting allocator: the scheduler's contexts allocate from worker
         * threads too */
        its_test_alloc_mt a;
        memset(&a, 0, sizeof(a));
        a.inner.fail_at = k;
        pthread_mutex_init(&a.mu, NULL);
        its_ctx_params cp;
        its_test_ctx_params_mt(&a, &cp);
        its_sched_params p;
        sched_params(&p, &cfg, 2);
        p.ctx_params = &cp;
        p.clock = NULL;
        its_sched *s = NULL;
        its_status st = its_sched_create(ctx, &p, &s);
        if (st == ITS_OK) {
            succeeded = 1;
            assert_true(a.inner.calls < k); /* no allocation was refused */
            /* the next allocation (the job) is the one to fail: admission says so */
            assert_int_equal(a.inner.calls, k - 1);
            its_sched_req r;
            its_sched_req_init(&r);
            its_sched_job *none = NULL;
            assert_int_equal(its_sched_submit(s, &r, &none), ITS_ADMIT_NOMEM);
            assert_null(none);
            pthread_mutex_lock(&a.mu);
            a.inner.fail_at = 0;
            pthread_mutex_unlock(&a.mu);
            its_sched_job *j = submit(s, 1, 0, 0, NULL);
            assert_int_equal(its_sched_wait(j, -1), ITS_OUTCOME_DONE);
            its_sched_job_free(j);
            its_sched_free(s);
            print_message("its_sched_create: %ld allocations, each failed once\n", k - 1);
            assert_true(k > 10);
        } else {
            assert_null(s);
            assert_true(st == ITS_ERR_NOMEM || st == ITS_ERR_CONFIG || st == ITS_ERR_CALLBACK ||
                        st == ITS_ERR_INVALID);
            assert_true(strlen(its_ctx_errmsg(ctx)) > 0);
        }
        if (a.inner.live != 0)
            fail_msg("fail_at %ld: %ld blocks leaked (%s)", k, a.inner.live, its_ctx_errmsg(ctx));
        pthread_mutex_destroy(&a.mu);
    }
    assert_true(succeeded);
    its_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_edf_within_band),
        cmocka_unit_test(test_priority_bands),
        cmocka_unit_test(test_deadline_step_down_and_shed),
        cmocka_unit_test(test_governor_hysteresis),
        cmocka_unit_test(test_governor_p95),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_queue_bounded),
        cmocka_unit_test(test_concurrent_submit_cancel),
        cmocka_unit_test(test_metrics_text),
        cmocka_unit_test(test_key_cache),
        cmocka_unit_test(test_allotment_fit),
        cmocka_unit_test(test_json_profiles),
        cmocka_unit_test(test_names_and_params),
        cmocka_unit_test(test_create_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
