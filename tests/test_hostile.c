/* Hostile callbacks: for every registered method, a model or verifier that fails, writes NaN,
 * +inf or -inf, at every call index k = 0, 1, 2, ... until a run completes without reaching k,
 * under both non-finite policies (and, for three methods, with calls split to 2 rows). Each outcome must be defined:
 *   - a failing callback: ITS_ERR_CALLBACK naming the callback and the call;
 *   - a non-finite value with on_nonfinite = error: ITS_ERR_NUMERIC naming callback, call, row;
 *   - with on_nonfinite = drop: a result whose samples are finite and whose scores are finite
 *     or -inf, or an error with a message; never a NaN sample returned as success;
 *   - a verifier -inf (a rejection) is not an error; all scores -inf on every call still ends
 *     in a defined result. */
#include "reliab.h"

#include <stdlib.h>

typedef enum {
    HM_FAIL = 0, /* return non-zero */
    HM_NAN,      /* the last row of the call gets a NaN */
    HM_PINF,
    HM_NINF,
    HM_ALL_NAN,  /* every row of the call is NaN */
    HM_COUNT_
} hm_mode;
static const char *const hm_names[HM_COUNT_] = {"fail", "nan", "+inf", "-inf", "all-nan"};

typedef enum { HT_MODEL = 0, HT_VERIFIER } ht_target;

typedef struct hostile {
    const rl_fixture *f;
    size_t dim;
    ht_target target;
    hm_mode mode;
    long k;               /* call index to strike; -1: never */
    int always_ninf;      /* verifier: every score of every call is -inf */
    long mcalls, vcalls;  /* calls so far (score and grad calls share one count, as the engine's) */
    int reached;
} hostile;

static void hm_poison(float *v, size_t n, size_t width, hm_mode mode)
{
    float val = mode == HM_PINF ? INFINITY : mode == HM_NINF ? -INFINITY : NAN;
    size_t from = mode == HM_ALL_NAN ? 0 : (n - 1) * width;
    /* one element in the middle of the row: a scan must find it anywhere */
    if (mode == HM_ALL_NAN) {
        for (size_t i = from; i < n * width; i++)
            v[i] = val;
    } else {
        v[from + width / 2] = val;
    }
}

static int h_eval(void *user, const float *x, const float *t, size_t n, float *out)
{
    hostile *h = user;
    int rc = h->f->model.eval(h->f->model.user, x, t, n, out);
    long idx = h->mcalls++;
    if (rc || h->target != HT_MODEL || idx != h->k)
        return rc;
    h->reached = 1;
    if (h->mode == HM_FAIL)
        return 7;
    hm_poison(out, n, h->dim, h->mode);
    return 0;
}

static int h_score(void *user, const float *x0, size_t n, float *scores)
{
    hostile *h = user;
    int rc = h->f->ver.score(h->f->ver.user, x0, n, scores);
    long idx = h->vcalls++;
    if (rc)
        return rc;
    if (h->always_ninf) {
        for (size_t i = 0; i < n; i++)
            scores[i] = -INFINITY;
        return 0;
    }
    if (h->target != HT_VERIFIER || idx != h->k)
        return 0;
    h->reached = 1;
    if (h->mode == HM_FAIL)
        return 5;
    hm_poison(scores, n, 1, h->mode);
    return 0;
}

static int h_grad(void *user, const float *x0, size_t n, float *grad, float *scores)
{
    hostile *h = user;
    int rc = h->f->ver.grad(h->f->ver.user, x0, n, grad, scores);
    long idx = h->vcalls++;
    if (rc)
        return rc;
    if (h->always_ninf) {
        for (size_t i = 0; i < n; i++)
            scores[i] = -INFINITY;
        return 0;
    }
    if (h->target != HT_VERIFIER || idx != h->k)
        return 0;
    h->reached = 1;
    if (h->mode == HM_FAIL)
        return 5;
    /* the gradient turns non-finite; an -inf score (a rejection) goes with a finite gradient */
    if (h->mode == HM_NINF)
        hm_poison(scores, n, 1, h->mode);
    else
        hm_poison(grad, n, h->dim, h->mode);
    return 0;
}

/* "call 3," or "call 3 " in the message (calls are counted from 1: the 3rd call). */
static int names_call(const char *msg, long k)
{
    char pat[32];
    for (const char *tail = ",( "; *tail; tail++) {
        snprintf(pat, sizeof(pat), "call %ld%c", k, *tail);
        if (strstr(msg, pat))
            return 1;
    }
    return 0;
}

/* Samples finite; scores finite or -inf. */
static void check_result(const its_result *r, const char *what)
{
    size_t n = its_result_count(r), dim = its_result_dim(r);
    for (size_t i = 0; i < n; i++) {
        const float *x = its_result_sample(r, i);
        for (size_t d = 0; d < dim; d++)
            if (!isfinite(x[d]))
                fail_msg("%s: sample %zu has %g at %zu, returned as success", what, i, x[d], d);
        double s = its_result_score(r, i);
        if (isnan(s) || s == INFINITY)
            fail_msg("%s: score %zu is %g", what, i, s);
    }
}

typedef struct h_count {
    long cases, callback, numeric, dropped_ok, dropped_err;
} h_count;

static void run_case(its_ctx *ctx, const rl_fixture *f, its_method m, ht_target target,
                     hm_mode mode, its_nonfinite policy, size_t max_batch, h_count *c)
{
    for (long k = 0; k < 100000; k++) {
        hostile h = {.f = f, .dim = f->model.dim, .target = target, .mode = mode, .k = k};
        its_model hm = f->model;
        hm.eval = h_eval;
        hm.user = &h;
        hm.max_batch = max_batch;
        its_verifier hv = f->ver;
        hv.score = h_score;
        hv.grad = h_grad;
        hv.user = &h;
        hv.max_batch = max_batch;
        rl_params p;
        its_run_params run;
        rl_small(m, &p, &run);
        run.on_nonfinite = policy;
        its_sampler *s = NULL;
        ITS_ASSERT_OK(its_sampler_create(ctx, m, &p, &run, &s));
        its_result *r = NULL;
        its_status st = its_generate(s, &hm, &hv, 5, &r);
        char what[160];
        snprintf(what, sizeof(what), "%s, %s %s at call %ld, on_nonfinite=%s, max_batch %zu",
                 its_method_name(m), target == HT_MODEL ? "model" : "verifier", hm_names[mode], k,
                 its_nonfinite_name(policy), max_batch);
        const char *msg = its_ctx_errmsg(ctx);
        if (!h.reached) {
            /* the run ended before call k: it must have completed normally */
            if (st != ITS_OK)
                fail_msg("%s: not reached, yet %s (%s)", what, its_status_str(st), msg);
            check_result(r, what);
            its_result_free(r);
            its_sampler_free(s);
            break;
        }
        c->cases++;
        const char *cb = target == HT_MODEL ? "model" : "verifier";
        int nonfinite_err = mode != HM_FAIL && !(target == HT_VERIFIER && mode == HM_NINF);
        if (st < 0) {
            assert_null(r);
            if (!msg[0])
                fail_msg("%s: %s without a message", what, its_status_str(st));
        }
        if (mode == HM_FAIL) {
            if (st != ITS_ERR_CALLBACK || !strstr(msg, cb) || !names_call(msg, k + 1))
                fail_msg("%s: got %s \"%s\", expected ITS_ERR_CALLBACK naming the %s and call",
                         what, its_status_str(st), msg, cb);
            c->callback++;
        } else if (nonfinite_err && policy == ITS_NONFINITE_ERROR) {
            if (st != ITS_ERR_NUMERIC || !strstr(msg, cb) || !names_call(msg, k + 1) ||
                !strstr(msg, "row"))
                fail_msg("%s: got %s \"%s\", expected ITS_ERR_NUMERIC naming %s, call, row", what,
                         its_status_str(st), msg, cb);
            c->numeric++;
        } else if (st == ITS_OK || st == ITS_CANCELLED) {
            check_result(r, what);
            c->dropped_ok++;
        } else {
            /* a clear error is allowed where dropping leaves the method nothing to do */
            if (st == ITS_ERR_NOMEM || st == ITS_ERR_INVALID)
                fail_msg("%s: unexpected %s (%s)", what, its_status_str(st), msg);
            c->dropped_err++;
        }
        its_result_free(r);
        its_sampler_free(s);
    }
}

static void test_hostile_all(void **state)
{
    (void)state;
    its_test_alloc a = {0};
    its_ctx *ctx = its_test_ctx(&a);
    rl_fixture f;
    assert_int_equal(rl_fixture_init(&f, ctx, 3), 0);
    long total = 0;
    for (int mi = 0; mi < ITS_METHOD_COUNT_; mi++) {
        its_method m = (its_method)mi;
        if (!rl_registered(m))
            continue;
        h_count c = {0};
        for (int t = 0; t < 2; t++)
            for (int mode = 0; mode < HM_COUNT_; mode++)
                for (int pol = 0; pol < ITS_NONFINITE_COUNT_; pol++) {
                    if (mode == HM_FAIL && pol == ITS_NONFINITE_DROP)
                        continue; /* the policy does not touch failures */
                    run_case(ctx, &f, m, (ht_target)t, (hm_mode)mode, (its_nonfinite)pol, 0, &c);
                    /* split calls: the poisoned row sits inside a later chunk of the set */
                    if (m == ITS_METHOD_BEST_OF_N || m == ITS_METHOD_FK_SMC ||
                        m == ITS_METHOD_BEAM)
                        run_case(ctx, &f, m, (ht_target)t, (hm_mode)mode, (its_nonfinite)pol, 2,
                                 &c);
                }
        printf("# %-18s %5ld cases: %ld callback errors, %ld numeric errors, %ld dropped -> "
               "result, %ld dropped -> error\n",
               its_method_name(m), c.cases, c.callback, c.numeric, c.dropped_ok, c.dropped_err);
        total += c.cases;
        assert_true(c.callback > 0 && c.numeric > 0);
    }
    printf("# %ld hostile cases in all\n", total);
    its_gmm_free(f.gmm);
    its_ctx_free(ctx);
    assert_int_equal(a.live, 0);
}

/* A verifier that rejects everything, always: a defined result (scores -inf, finite samples) or
 * a clear error, under both policies. */
static void test_hostile_all_rejected(void **state)
{
    (void)state;
    its_test_alloc a = {0};
    its_ctx *ctx = its_test_ctx(&a);
    rl_fixture f;
    assert_int_equal(rl_fixture_init(&f, ctx, 3), 0);
    for (int mi = 0; mi < ITS_METHOD_COUNT_; mi++) {
        its_method m = (its_method)mi;
        if (!rl_registered(m))
            continue;
        for (int pol = 0; pol < ITS_NONFINITE_COUNT_; pol++) {
            hostile h = {.f = &f, .dim = 3, .k = -1, .always_ninf = 1};
            its_model hm = f.model;
            hm.eval = h_eval;
            hm.user = &h;
            its_verifier hv = f.ver;
            hv.score = h_score;
            hv.grad = h_grad;
            hv.user = &h;
            rl_params p;
            its_run_params run;
            rl_small(m, &p, &run);
            run.on_nonfinite = (its_nonfinite)pol;
            its_sampler *s = NULL;
            ITS_ASSERT_OK(its_sampler_create(ctx, m, &p, &run, &s));
            its_result *r = NULL;
            its_status st = its_generate(s, &hm, &hv, 9, &r);
            char what[96];
            snprintf(what, sizeof(what), "%s, every score -inf, on_nonfinite=%s",
                     its_method_name(m), its_nonfinite_name((its_nonfinite)pol));
            if (st == ITS_OK) {
                check_result(r, what);
                for (size_t i = 0; i < its_result_count(r); i++)
                    if (its_result_score(r, i) != -INFINITY)
                        fail_msg("%s: score %zu is %g", what, i, its_result_score(r, i));
            } else if (st < 0) {
                if (!its_ctx_errmsg(ctx)[0])
                    fail_msg("%s: %s without a message", what, its_status_str(st));
            }
            printf("# %-18s all -inf, %-5s -> %s, %zu samples\n", its_method_name(m),
                   its_nonfinite_name((its_nonfinite)pol), its_status_str(st),
                   r ? its_result_count(r) : 0);
            its_result_free(r);
            its_sampler_free(s);
        }
    }
    its_gmm_free(f.gmm);
    its_ctx_free(ctx);
    assert_int_equal(a.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_all),
        cmocka_unit_test(test_hostile_all_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
