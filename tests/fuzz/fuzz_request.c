/* Fuzz target: the serving example's request parser (its_srv_parse_generate, the body of
 * POST /v1/generate). Invariants: 0 or 1 comes back; a rejection carries one of the documented
 * messages (body, trailing bytes, task, profile, priority, deadline_ms, seed, unknown or repeated
 * key), terminated inside
 * errcap, and a shorter buffer gets the same verdict with a prefix of the same text; an accepted
 * request holds only in-range values; cJSON keeps no block (counted through its hooks) and the
 * context allocator is not touched. */
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz.h"
#include "itscale/gmm.h"
#include "request.h"

static const char *const profile_names[] = {"light", "standard", "heavy"};
static const char *const task_names[] = {"gmm", "gmm_wide"};
enum { N_PROFILES = 3, N_TASKS = 2 };

static its_fuzz_alloc cj; /* cJSON's blocks */

static void *cj_malloc(size_t n)
{
    void *p = malloc(n);
    if (p) {
        cj.live++;
        cj.calls++;
    }
    return p;
}

static void cj_free(void *p)
{
    if (p)
        cj.live--;
    free(p);
}

/* A one-dimensional mixture per worker: the scheduler needs a bound task, the parser only its
 * name. */
static int task_bind(void *user, unsigned worker, its_ctx *wctx, its_model *m, its_verifier *v,
                     void **inst)
{
    (void)user;
    (void)worker;
    const double w[2] = {0.9, 0.1}, mu[2] = {-1, 1}, sd[2] = {0.5, 0.5};
    its_gmm *g = NULL;
    if (its_gmm_create(wctx, 1, 2, w, mu, sd, &g) != ITS_OK)
        return 1;
    its_gmm_bind_model(g, NULL, ITS_PRED_VELOCITY, m);
    if (its_gmm_bind_logprob(g, 1, v) != ITS_OK) {
        its_gmm_free(g);
        return 1;
    }
    *inst = g;
    return 0;
}

static void task_unbind(void *user, void *inst)
{
    (void)user;
    its_gmm_free(inst);
}

static its_sched *make_sched(its_ctx *ctx)
{
    static its_best_of_n_params bon4, bon16;
    static its_run_params run;
    its_best_of_n_params_init(&bon4);
    its_best_of_n_params_init(&bon16);
    bon4.n = 4;
    bon16.n = 16;
    its_run_params_init(&run);
    run.steps = 4;
    its_sched_params p;
    its_sched_params_init(&p);
    p.workers = 1;
    p.n_profiles = N_PROFILES;
    const its_method mm[N_PROFILES] = {ITS_METHOD_NONE, ITS_METHOD_BEST_OF_N,
                                       ITS_METHOD_BEST_OF_N};
    const void *mp[N_PROFILES] = {NULL, &bon4, &bon16};
    for (int i = 0; i < N_PROFILES; i++) {
        snprintf(p.profiles[i].name, sizeof(p.profiles[i].name), "%s", profile_names[i]);
        p.profiles[i].method = mm[i];
        p.profiles[i].method_params = mp[i];
        p.profiles[i].run = &run;
    }
    p.n_tasks = N_TASKS;
    for (int i = 0; i < N_TASKS; i++) {
        snprintf(p.tasks[i].name, sizeof(p.tasks[i].name), "%s", task_names[i]);
        p.tasks[i].bind = task_bind;
        p.tasks[i].unbind = task_unbind;
    }
    its_sched *s = NULL;
    if (its_sched_create(ctx, &p, &s) != ITS_OK) {
        fprintf(stderr, "its_sched_create: %s\n", its_ctx_errmsg(ctx));
        return NULL;
    }
    return s;
}

/* The messages request.h documents, one per rejection cause. */
static int known_message(const char *e)
{
    static const char *const exact[] = {
        "body: expected a JSON object",
        "task: expected a string",
        "profile: expected a string",
        "priority: expected an integer in [-1000, 1000]",
        "deadline_ms: expected a number in [0, 3600000]",
        "seed: expected an integer in [0, 2^53]",
        "affinity: expected 1 .. 63 printable ASCII characters (no space, quote or backslash)",
    };
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (!strcmp(e, exact[i]))
            return 1;
    /* These prefixes are the server's own: a client's key in a message is quoted. */
    if (!strncmp(e, "body: bytes after the JSON object (at offset ", 44) && e[strlen(e) - 1] == ')')
        return 1;
    if (!strncmp(e, "body: NUL byte in a string at offset ", 37) &&
        strstr(e, ": no key or value may hold it"))
        return 1;
    const char *nul = "body: \\u0000 (NUL) in a string at offset ";
    const char *nul_tail = ": no key or value may hold it";
    if (!strncmp(e, nul, strlen(nul)) && strlen(e) > strlen(nul) + strlen(nul_tail) &&
        !strcmp(e + strlen(e) - strlen(nul_tail), nul_tail))
        return 1;
    int quoted = !strncmp(e, "task: unknown task \"", 20) ||
                 !strncmp(e, "profile: unknown profile \"", 26);
    if (quoted && e[strlen(e) - 1] == '"')
        return 1;
    /* a client's key is quoted ("KEY": ...), and no other message starts with a quote */
    size_t n = strlen(e);
    const char *const tails[] = {"\": unknown key", "\": key repeated"};
    for (int i = 0; i < 2; i++)
        if (e[0] == '"' && n > strlen(tails[i]) && !strcmp(e + n - strlen(tails[i]), tails[i]))
            return 1;
    return 0;
}

/* RFC 3629 well-formedness, written apart from the code under test. */
static int utf8_valid(const char *t)
{
    const unsigned char *s = (const unsigned char *)t;
    while (*s) {
        unsigned cp, n;
        if (s[0] < 0x80) { s++; continue; }
        else if ((s[0] & 0xE0) == 0xC0) { cp = s[0] & 0x1F; n = 1; }
        else if ((s[0] & 0xF0) == 0xE0) { cp = s[0] & 0x0F; n = 2; }
        else if ((s[0] & 0xF8) == 0xF0) { cp = s[0] & 0x07; n = 3; }
        else return 0;
        for (unsigned i = 1; i <= n; i++) {
            if ((s[i] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i] & 0x3F);
        }
        static const unsigned least[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < least[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        s += n + 1;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static its_fuzz_alloc a;
    static its_ctx *ctx;
    static its_sched *s;
    if (!ctx) {
        if (!(ctx = its_fuzz_ctx(&a)) || !(s = make_sched(ctx)))
            abort();
        /* after the scheduler is built: from here on only the parser calls cJSON */
        cJSON_Hooks h = {cj_malloc, cj_free};
        cJSON_InitHooks(&h);
    }
    long live0 = a.live, cj0 = cj.live;
    const char *body = (const char *)data;
    its_sched_req r;
    char err[256];
    memset(err, 0x7f, sizeof(err));
    char key[ITS_SCHED_KEY_CAP], key2[ITS_SCHED_KEY_CAP];
    int ok = its_srv_parse_generate(s, body, size, &r, key, err, sizeof(err));
    ITS_FUZZ_CHECK(ok == 0 || ok == 1, "returned %d", ok);
    if (!ok) {
        ITS_FUZZ_CHECK(memchr(err, 0, sizeof(err)) != NULL, "message not terminated");
        ITS_FUZZ_CHECK(known_message(err), "undocumented message \"%s\"", err);
        /* what the server writes: valid UTF-8 whatever the body held */
        char clean[256];
        size_t cl = its_srv_text_clean(clean, sizeof(clean), err);
        ITS_FUZZ_CHECK(cl < sizeof(clean) && clean[cl] == 0, "clean text not terminated");
        cJSON *j = cJSON_CreateString(clean);
        char *txt = j ? cJSON_PrintUnformatted(j) : NULL;
        ITS_FUZZ_CHECK(!j || (txt && utf8_valid(txt)), "error text is not valid UTF-8");
        cJSON_free(txt);
        cJSON_Delete(j);
    } else {
        ITS_FUZZ_CHECK(r.version == ITS_SCHED_REQ_V2, "version %d", r.version);
        ITS_FUZZ_CHECK(r.task >= 0 && r.task < N_TASKS, "task %d", r.task);
        ITS_FUZZ_CHECK(r.profile >= -1 && r.profile < N_PROFILES, "profile %d", r.profile);
        ITS_FUZZ_CHECK(r.priority >= -1000 && r.priority <= 1000, "priority %d", r.priority);
        ITS_FUZZ_CHECK(r.deadline_ms >= 0 && r.deadline_ms <= 3.6e6, "deadline_ms %g",
                       r.deadline_ms);
        ITS_FUZZ_CHECK(r.seed <= (UINT64_C(1) << 53), "seed %llu", (unsigned long long)r.seed);
        ITS_FUZZ_CHECK(!r.model && !r.verifier && !r.done && !r.user, "callbacks set");
        ITS_FUZZ_CHECK(!r.affinity || (r.affinity == key && strlen(key) >= 1 &&
                                       strlen(key) < ITS_SCHED_KEY_CAP),
                       "affinity key out of its buffer or empty");
    }
    /* a short buffer: same verdict, the message cut to a prefix; no buffer at all */
    char small[9];
    its_sched_req r2;
    int ok2 = its_srv_parse_generate(s, body, size, &r2, key2, small, sizeof(small));
    ITS_FUZZ_CHECK(ok2 == ok, "verdict %d with a short buffer, %d with a long one", ok2, ok);
    if (!ok)
        ITS_FUZZ_CHECK(memchr(small, 0, sizeof(small)) && !strncmp(small, err, strlen(small)),
                       "short message \"%.8s\" is not a prefix of \"%s\"", small, err);
    else
        ITS_FUZZ_CHECK(r.deadline_ms == r2.deadline_ms && r.seed == r2.seed &&
                           r.task == r2.task && r.profile == r2.profile &&
                           r.priority == r2.priority,
                       "two parses of one body differ");
    ITS_FUZZ_CHECK(its_srv_parse_generate(s, body, size, &r2, key2, NULL, 0) == ok,
                   "verdict changed without a message buffer");
    ITS_FUZZ_CHECK(cj.live == cj0, "%ld cJSON blocks leaked", cj.live - cj0);
    ITS_FUZZ_CHECK(a.live == live0, "%ld context blocks leaked", a.live - live0);
    return 0;
}
