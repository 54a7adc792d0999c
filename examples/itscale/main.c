/* itscale: list samplers, run one configuration on a task, or draw quality-vs-compute curves.
 *
 *   itscale samplers [--markdown]
 *   itscale tasks
 *   itscale run --task T --sampler NAME [--nfe N] [--seed S] [--set key=value]... [--config FILE]
 *               [--json] [--out FILE]
 *   itscale bench --task T --samplers a,b,c --nfe 50,100,200 [--seeds K] [--seed S]
 *                 [--set key=value]... [--config FILE] --out DIR
 *
 * Every bad flag, file or configuration ends with one line on stderr and exit status 2
 * (usage and configuration) or 1 (a run or a file failed). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "config/config.h"
#include "itscale.h"
#include "samplers/sampler.h"

/* The tasks this build knows. */
static const its_task_vt *const cli_tasks[] = {
    &its_task_gmm,
#ifdef ITS_HAVE_TASK_DIGITS
    &its_task_digits,
#endif
};
#define CLI_N_TASKS (sizeof(cli_tasks) / sizeof(cli_tasks[0]))

/* ---------------------------------------------------------------------------------------------
 * Scale to budget: for `bench`, how each method's main size parameter follows the NFE budget.
 * T = NFE of one trajectory (steps, twice that for heun). run.budget.max_nfe is always set to
 * the budget as well, so a method never spends more; values are clamped to the parameter's
 * range. A method missing here (or whose parameter is absent) only gets the cap.
 * ------------------------------------------------------------------------------------------- */
typedef struct cli_scale {
    const char *method;
    const char *param;     /* NULL: only the cap */
    const char *per;       /* parameter that divides the budget too (NULL: none) */
    double fraction;       /* share of the budget the formula works on */
    const char *rule;      /* for the listing and the README */
    int sde;               /* the method steers SDE particles: the CLI's default dynamics */
} cli_scale;

static const cli_scale cli_scales[] = {
    {"none", NULL, NULL, 1, "one trajectory; only the cap is set", 0},
    {"best_of_n", "n", NULL, 1, "n = floor(NFE / T)", 0},
    {"zero_order", "rounds", NULL, 0, "rounds = 0 (as many as the cap pays for)", 0},
    {"search_over_paths", "n", "m", 1, "n = floor(NFE / (m T))", 0},
    {"beam", "children", "beams", 1, "children = floor(NFE / (beams T))", 1},
    {"svdd", "children", "n", 1, "children = floor(NFE / (n T))", 1},
    {"code", "children", "n", 1, "children = floor(NFE / (n T))", 1},
    {"fk_smc", "n", NULL, 1, "n = floor(NFE / T)", 1},
    {"bfs", "n", NULL, 1, "n = floor(NFE / T)", 1},
    {"dfs", "backtracks", "depth", -1, "backtracks = floor((NFE - T) / depth)", 0},
    {"local_search", "n", "recur", 1, "n = floor(NFE / (recur T))", 0},
    {"rbf", "init", "chains", 0.1, "init = floor(0.1 NFE / chains) (the paper: 25 of 500 for 2 chains)", 1},
};

static int cli_method_defaults(cJSON *doc);

static const cli_scale *cli_scale_find(const char *method)
{
    for (size_t i = 0; i < sizeof(cli_scales) / sizeof(cli_scales[0]); i++)
        if (strcmp(cli_scales[i].method, method) == 0)
            return &cli_scales[i];
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------------------------- */
void cli_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("itscale: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void cli_mean_se(const double *v, size_t n, double *mean, double *se, size_t *k)
{
    double s = 0, s2 = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i])) {
            s += v[i];
            m++;
        }
    *k = m;
    *mean = m ? s / (double)m : NAN;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            s2 += (v[i] - *mean) * (v[i] - *mean);
    *se = m > 1 ? sqrt(s2 / (double)(m - 1) / (double)m) : (m ? 0 : NAN);
}

static char *cli_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cli_err("%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            if (cap >= ITS_CFG_MAX_BYTES) {
                cli_err("%s: larger than %zu bytes", path, (size_t)ITS_CFG_MAX_BYTES);
                free(buf);
                fclose(f);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        cli_err("%s: %s", path, buf ? "read error" : "out of memory");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * Options and the configuration document
 * ------------------------------------------------------------------------------------------- */
typedef struct cli_opts {
    const its_task_vt *task;
    const char *sampler;
    const char *config_file;
    const char **sets;
    size_t n_sets;
    const char *nfe;       /* run: one number; bench: a list */
    const char *samplers;  /* bench */
    uint64_t seed;
    uint64_t seeds;        /* bench */
    int json, markdown;
    const char *out;
} cli_opts;

/* Sets doc[path] = value (dotted path; objects created on the way). */
static int cli_doc_set(cJSON *doc, const char *path, cJSON *value, const char *what)
{
    cJSON *o = doc;
    char key[128];
    const char *p = path, *dot;
    while ((dot = strchr(p, '.'))) {
        if ((size_t)(dot - p) >= sizeof(key) || dot == p) {
            cli_err("%s: bad key \"%s\"", what, path);
            cJSON_Delete(value);
            return -1;
        }
        snprintf(key, sizeof(key), "%.*s", (int)(dot - p), p);
        cJSON *c = cJSON_GetObjectItemCaseSensitive(o, key);
        if (!c)
            c = cJSON_AddObjectToObject(o, key);
        if (!c || !cJSON_IsObject(c)) {
            cli_err("%s: \"%s\" is not an object in the configuration", what, key);
            cJSON_Delete(value);
            return -1;
        }
        o = c;
        p = dot + 1;
    }
    if (!*p) {
        cli_err("%s: bad key \"%s\"", what, path);
        cJSON_Delete(value);
        return -1;
    }
    if (cJSON_GetObjectItemCaseSensitive(o, p))
        cJSON_ReplaceItemInObjectCaseSensitive(o, p, value);
    else
        cJSON_AddItemToObject(o, p, value);
    return 0;
}

/* --set value: JSON when it parses as a whole, else a string. */
static cJSON *cli_set_value(const char *v)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(v, &end, 1);
    if (j)
        return j;
    return cJSON_CreateString(v);
}

/* The configuration from --config, --sampler, --nfe and --set; task settings split off into
 * *task_set. Returns NULL after printing the reason. */
static cJSON *cli_build_doc(const cli_opts *o, int with_nfe, cJSON **task_set)
{
    cJSON *doc = NULL;
    *task_set = cJSON_CreateObject();
    if (o->config_file) {
        size_t len;
        char *txt = cli_read_file(o->config_file, &len);
        if (!txt)
            goto fail;
        const char *end = NULL;
        doc = cJSON_ParseWithLengthOpts(txt, len, &end, 0);
        int trailing = 0;
        for (const char *p = end; doc && p && p < txt + len; p++)
            if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t')
                trailing = 1;
        if (!doc || trailing || !cJSON_IsObject(doc)) {
            size_t off = end ? (size_t)(end - txt) : 0;
            cli_err("%s: not a JSON object (error near byte %zu)", o->config_file, off);
            free(txt);
            goto fail;
        }
        free(txt);
        cJSON *t = cJSON_DetachItemFromObjectCaseSensitive(doc, "task");
        if (t) {
            if (!cJSON_IsObject(t)) {
                cli_err("%s: task: expected an object of task settings", o->config_file);
                cJSON_Delete(t);
                goto fail;
            }
            cJSON_Delete(*task_set);
            *task_set = t;
        }
    } else {
        doc = cJSON_CreateObject();
    }
    if (!doc || !*task_set)
        goto fail;
    if (o->sampler &&
        cli_doc_set(doc, "sampler", cJSON_CreateString(o->sampler), "--sampler") != 0)
        goto fail;
    if (with_nfe && o->nfe) {
        uint64_t n;
        if (cli_parse_u64(o->nfe, (uint64_t)ITS_CFG_MAX_INT, &n) != 0 || n == 0) {
            cli_err("--nfe: expected a whole number >= 1, got \"%s\"", o->nfe);
            goto fail;
        }
        if (cli_doc_set(doc, "run.budget.max_nfe", cJSON_CreateNumber((double)n), "--nfe") != 0)
            goto fail;
    }
    for (size_t i = 0; i < o->n_sets; i++) {
        const char *s = o->sets[i], *eq = strchr(s, '=');
        if (!eq || eq == s) {
            cli_err("--set: expected key=value, got \"%s\"", s);
            goto fail;
        }
        char key[256];
        if ((size_t)(eq - s) >= sizeof(key)) {
            cli_err("--set: key too long in \"%s\"", s);
            goto fail;
        }
        snprintf(key, sizeof(key), "%.*s", (int)(eq - s), s);
        cJSON *v = cli_set_value(eq + 1);
        if (strncmp(key, "task.", 5) == 0) {
            if (cli_doc_set(*task_set, key + 5, v, "--set") != 0)
                goto fail;
        } else if (cli_doc_set(doc, key, v, "--set") != 0) {
            goto fail;
        }
    }
    if (!cJSON_GetObjectItemCaseSensitive(doc, "sampler")) {
        cli_err("no sampler: give --sampler NAME or \"sampler\" in the config file");
        goto fail;
    }
    if (with_nfe && cli_method_defaults(doc) != 0)
        goto fail;
    return doc;
fail:
    cJSON_Delete(doc);
    cJSON_Delete(*task_set);
    *task_set = NULL;
    return NULL;
}

/* Methods that steer SDE particles get run.dynamics.kind = "sde" unless the configuration
 * names the dynamics itself. */
static int cli_method_defaults(cJSON *doc)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "sampler");
    const cli_scale *sc = cJSON_IsString(m) ? cli_scale_find(m->valuestring) : NULL;
    if (!sc || !sc->sde)
        return 0;
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(doc, "run");
    const cJSON *dyn = run ? cJSON_GetObjectItemCaseSensitive(run, "dynamics") : NULL;
    if (cJSON_IsObject(dyn) && cJSON_GetObjectItemCaseSensitive(dyn, "kind"))
        return 0;
    if (run && !cJSON_IsObject(run))
        return 0; /* the library reports the bad type */
    if (dyn && !cJSON_IsObject(dyn))
        return 0;
    return cli_doc_set(doc, "run.dynamics.kind", cJSON_CreateString("sde"), "defaults");
}

/* A sampler from a document; prints the library's message on failure. */
static its_sampler *cli_sampler_make(its_ctx *ctx, const cJSON *doc, int quiet)
{
    char *txt = cJSON_PrintUnformatted(doc);
    if (!txt) {
        cli_err("out of memory");
        return NULL;
    }
    its_sampler *s = NULL;
    its_status st = its_sampler_from_json(ctx, txt, strlen(txt), &s);
    cJSON_free(txt);
    if (st != ITS_OK) {
        if (!quiet)
            cli_err("config: %s", its_ctx_errmsg(ctx));
        return NULL;
    }
    return s;
}

static its_sampler *cli_sampler(its_ctx *ctx, const cJSON *doc)
{
    return cli_sampler_make(ctx, doc, 0);
}

/* As cli_sampler, without the message: for a first try that has a fallback. */
static its_sampler *cli_sampler_quiet(its_ctx *ctx, const cJSON *doc)
{
    return cli_sampler_make(ctx, doc, 1);
}

/* ---------------------------------------------------------------------------------------------
 * Tasks
 * ------------------------------------------------------------------------------------------- */
static const its_task_vt *cli_task_find(const char *name)
{
    for (size_t i = 0; i < CLI_N_TASKS; i++)
        if (strcmp(cli_tasks[i]->name, name) == 0)
            return cli_tasks[i];
    return NULL;
}

typedef struct cli_task {
    const its_task_vt *vt;
    its_task_inst inst;
    its_task_value *vals;
    cJSON *settings;   /* the effective settings, for reports */
    int live;
} cli_task;

static void cli_task_free(cli_task *t)
{
    if (t->live && t->vt->free)
        t->vt->free(t->inst.state);
    free(t->vals);
    cJSON_Delete(t->settings);
    memset(t, 0, sizeof(*t));
}

static int cli_task_create(its_ctx *ctx, const its_task_vt *vt, const cJSON *set, cli_task *t)
{
    memset(t, 0, sizeof(*t));
    t->vt = vt;
    t->vals = calloc(vt->n_settings + 1, sizeof(its_task_value));
    t->settings = cJSON_CreateObject();
    if (!t->vals || !t->settings) {
        cli_err("out of memory");
        goto fail;
    }
    for (const cJSON *it = set ? set->child : NULL; it; it = it->next) {
        size_t i;
        for (i = 0; i < vt->n_settings; i++)
            if (strcmp(vt->settings[i].key, it->string) == 0)
                break;
        if (i == vt->n_settings) {
            char keys[512];
            size_t o = 0;
            keys[0] = 0;
            for (size_t j = 0; j < vt->n_settings && o < sizeof(keys); j++)
                o += (size_t)snprintf(keys + o, sizeof(keys) - o, "%s%s", j ? ", " : "",
                                      vt->settings[j].key);
            cli_err("task.%s: unknown setting (task %s takes %s)", it->string, vt->name, keys);
            goto fail;
        }
    }
    for (size_t i = 0; i < vt->n_settings; i++) {
        const its_task_setting *d = &vt->settings[i];
        const cJSON *v = set ? cJSON_GetObjectItemCaseSensitive(set, d->key) : NULL;
        cJSON *eff;
        if (d->type == ITS_TASK_STRING) {
            if (v && !cJSON_IsString(v)) {
                cli_err("task.%s: expected a string", d->key);
                goto fail;
            }
            t->vals[i].str = v ? v->valuestring : d->def;
            eff = cJSON_CreateString(t->vals[i].str);
        } else {
            double x = v ? (cJSON_IsNumber(v) ? v->valuedouble : NAN) : strtod(d->def, NULL);
            int ok = isfinite(x) && x >= d->min && x <= d->max &&
                     (d->type != ITS_TASK_INT || x == floor(x));
            if (!ok) {
                cli_err("task.%s: expected %s in [%g, %g]", d->key,
                        d->type == ITS_TASK_INT ? "integer" : "number", d->min, d->max);
                goto fail;
            }
            t->vals[i].num = x;
            eff = cJSON_CreateNumber(x);
        }
        if (!eff || !cJSON_AddItemToObject(t->settings, d->key, eff)) {
            cJSON_Delete(eff);
            cli_err("out of memory");
            goto fail;
        }
    }
    char err[256] = "";
    if (vt->create(ctx, t->vals, &t->inst, err, sizeof(err)) != 0) {
        cli_err("task %s: %s", vt->name, err[0] ? err : "could not be created");
        goto fail;
    }
    t->live = 1;
    /* string values point into `set`; keep only the effective copies */
    for (size_t i = 0; i < vt->n_settings; i++)
        if (vt->settings[i].type == ITS_TASK_STRING)
            t->vals[i].str = cJSON_GetObjectItemCaseSensitive(t->settings, vt->settings[i].key)
                                 ->valuestring;
    return 0;
fail:
    cli_task_free(t);
    return -1;
}

/* ---------------------------------------------------------------------------------------------
 * `samplers`
 * ------------------------------------------------------------------------------------------- */
static void cli_range_text(const its_param_desc *d, char *buf, size_t cap)
{
    if (d->type == ITS_PT_ENUM) {
        size_t o = 0;
        buf[0] = 0;
        for (int i = 0; i < d->emax && o < cap; i++)
            o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", d->ename(i));
    } else if (d->type == ITS_PT_BOOL) {
        snprintf(buf, cap, "true, false");
    } else {
        snprintf(buf, cap, "[%g, %g]", d->min, d->max);
    }
}

/* Prints a table cell: '|' would end the cell, so it is escaped. */
static void cli_md_cell(const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputc('\\', stdout);
        fputc(*s, stdout);
    }
}

static int cli_cmd_samplers(const cli_opts *o)
{
    int md = o->markdown;
    if (md)
        printf("| sampler | parameter | default | range | meaning |\n|---|---|---|---|---|\n");
    for (int m = 0; m < ITS_METHOD_COUNT_; m++) {
        const its_method_vt *vt = its_method_vt_get((its_method)m);
        if (!vt)
            continue;
        void *p = calloc(1, vt->params_size);
        if (!p) {
            cli_err("out of memory");
            return 1;
        }
        vt->params_init(p);
        if (!md)
            printf("%-18s %s\n", its_method_name(vt->method), vt->summary ? vt->summary : "");
        if (md && vt->n_desc == 0)
            printf("| `%s` | — | | | %s |\n", its_method_name(vt->method),
                   vt->summary ? vt->summary : "");
        for (size_t i = 0; i < vt->n_desc; i++) {
            char def[64], range[256];
            its_cfg_desc_value(&vt->desc[i], p, def, sizeof(def));
            cli_range_text(&vt->desc[i], range, sizeof(range));
            if (md) {
                printf("| %s%s%s | `%s` | `%s` | %s | ", i == 0 ? "`" : "",
                       i == 0 ? its_method_name(vt->method) : "", i == 0 ? "`" : "",
                       vt->desc[i].name, def, range);
                cli_md_cell(vt->desc[i].doc);
                printf(" |\n");
            } else
                printf("    %-14s %-12s %-28s %s\n", vt->desc[i].name, def, range,
                       vt->desc[i].doc ? vt->desc[i].doc : "");
        }
        const cli_scale *sc = cli_scale_find(its_method_name(vt->method));
        if (!md)
            printf("    bench scaling: %s\n", sc ? sc->rule : "only the cap is set");
        free(p);
    }
    /* run parameters, shared by every method */
    its_run_params run;
    its_run_params_init(&run);
    size_t nf;
    const its_cfg_field *f = its_cfg_run_fields(&nf);
    cJSON *def = its_cfg_to_cjson(its_method_vt_get(ITS_METHOD_NONE), NULL, &run);
    if (md)
        printf("\n| run key | default | expected | meaning |\n|---|---|---|---|\n");
    else
        printf("\nrun parameters (\"run\": {...}, e.g. --set run.steps=10):\n");
    for (size_t i = 0; i < nf; i++) {
        char expect[256], dval[160] = "";
        its_cfg_field_expect(&f[i], expect, sizeof(expect));
        /* the default from the writer, so the listing shows what to_json writes */
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(def, "run");
        char key[64];
        const char *p = f[i].path, *dot;
        while (v && (dot = strchr(p, '.'))) {
            snprintf(key, sizeof(key), "%.*s", (int)(dot - p), p);
            v = cJSON_GetObjectItemCaseSensitive(v, key);
            p = dot + 1;
        }
        v = v ? cJSON_GetObjectItemCaseSensitive(v, p) : NULL;
        if (v) {
            char *t = cJSON_PrintUnformatted(v);
            if (t)
                snprintf(dval, sizeof(dval), "%s", t);
            cJSON_free(t);
        } else {
            snprintf(dval, sizeof(dval), "(none)");
        }
        if (md) {
            printf("| `run.%s` | `%s` | ", f[i].path, dval);
            cli_md_cell(expect);
            printf(" | ");
            cli_md_cell(f[i].doc);
            printf(" |\n");
        } else
            printf("    %-28s %-10s %s; %s\n", f[i].path, dval, f[i].doc, expect);
    }
    cJSON_Delete(def);
    if (md) {
        printf("\n| sampler | bench: scale to budget |\n|---|---|\n");
        for (size_t i = 0; i < sizeof(cli_scales) / sizeof(cli_scales[0]); i++)
        {
            printf("| `%s` | ", cli_scales[i].method);
            cli_md_cell(cli_scales[i].rule);
            printf(" |\n");
        }
    }
    return 0;
}

static int cli_cmd_tasks(void)
{
    for (size_t i = 0; i < CLI_N_TASKS; i++) {
        const its_task_vt *t = cli_tasks[i];
        printf("%-8s %s\n", t->name, t->summary);
        for (size_t j = 0; j < t->n_settings; j++)
            printf("    task.%-12s %-8s %s\n", t->settings[j].key, t->settings[j].def,
                   t->settings[j].doc);
        printf("    metrics:");
        for (size_t j = 0; j < t->n_metrics; j++)
            printf(" %s", t->metrics[j].name);
        printf("\n");
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------
 * `run`
 * ------------------------------------------------------------------------------------------- */
static FILE *cli_open_out(const char *path)
{
    if (!path)
        return stdout;
    FILE *f = fopen(path, "w");
    if (!f)
        cli_err("%s: %s", path, strerror(errno));
    return f;
}

static int cli_close_out(FILE *f, const char *path)
{
    if (f == stdout)
        return fflush(f) == 0 ? 0 : -1;
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        cli_err("%s: write error", path);
        return -1;
    }
    return 0;
}

static int cli_measure(cli_task *t, const its_result *r, double *out)
{
    char err[256] = "";
    size_t n = its_result_count(r);
    for (size_t i = 0; i < t->vt->n_metrics; i++)
        out[i] = NAN;
    if (n == 0)
        return 0;
    if (t->vt->measure(t->inst.state, its_result_sample(r, 0), n, out, err, sizeof(err)) != 0) {
        cli_err("task %s: metrics: %s", t->vt->name, err);
        return -1;
    }
    return 0;
}

static int cli_cmd_run(its_ctx *ctx, const cli_opts *o)
{
    cJSON *task_set, *doc = cli_build_doc(o, 1, &task_set);
    if (!doc)
        return 2;
    int rc = 2;
    cli_task task = {0};
    its_sampler *s = NULL;
    its_result *r = NULL;
    double *met = NULL;
    cJSON *rep = NULL;
    if (!(s = cli_sampler(ctx, doc)))
        goto done;
    if (cli_task_create(ctx, o->task, task_set, &task) != 0)
        goto done;
    rc = 1;
    its_status st = its_generate(s, &task.inst.model, &task.inst.verifier, o->seed, &r);
    if (st != ITS_OK && st != ITS_CANCELLED) {
        cli_err("run failed: %s: %s", its_status_str(st), its_ctx_errmsg(ctx));
        goto done;
    }
    met = calloc(task.vt->n_metrics + 1, sizeof(double));
    if (!met || cli_measure(&task, r, met) != 0)
        goto done;
    its_usage u;
    its_result_usage(r, &u);
    FILE *f = cli_open_out(o->out);
    if (!f)
        goto done;
    if (o->json) {
        const char *txt = its_result_to_json(r);
        rep = txt ? cJSON_Parse(txt) : NULL;
        cJSON *mo = rep ? cJSON_AddObjectToObject(rep, "metrics") : NULL;
        cJSON *to = rep ? cJSON_AddObjectToObject(rep, "task") : NULL;
        int ok = mo && to && cJSON_AddStringToObject(to, "name", task.vt->name);
        for (size_t i = 0; ok && i < task.vt->n_metrics; i++)
            ok = isfinite(met[i]) ? cJSON_AddNumberToObject(mo, task.vt->metrics[i].name, met[i]) != NULL
                                  : cJSON_AddNullToObject(mo, task.vt->metrics[i].name) != NULL;
        if (ok)
            ok = cJSON_AddItemReferenceToObject(to, "settings", task.settings);
        char *out = ok ? cJSON_Print(rep) : NULL;
        if (!out) {
            cli_err("out of memory");
            if (f != stdout)
                fclose(f);
            goto done;
        }
        fprintf(f, "%s\n", out);
        cJSON_free(out);
    } else {
        fprintf(f, "%s on %s, seed %llu: %s\n", its_method_name(its_result_method(r)),
                task.vt->name, (unsigned long long)o->seed, its_stop_name(its_result_stop(r)));
        fprintf(f, "  best score   %.6g\n", its_result_score(r, 0));
        for (size_t i = 0; i < task.vt->n_metrics; i++)
            fprintf(f, "  %-12s %.6g\n", task.vt->metrics[i].name, met[i]);
        fprintf(f, "  NFE          %llu", (unsigned long long)u.nfe);
        if (its_result_max_nfe(r))
            fprintf(f, " of %llu", (unsigned long long)its_result_max_nfe(r));
        fprintf(f, " (%llu model calls, %llu verifier rows)\n",
                (unsigned long long)u.model_calls, (unsigned long long)u.verifier_rows);
        fprintf(f, "  time         %.4f s (model %.4f, verifier %.4f, library %.4f)\n", u.total_s,
                u.model_s, u.verifier_s, u.library_s);
    }
    rc = cli_close_out(f, o->out) == 0 ? 0 : 1;
done:
    cJSON_Delete(rep);
    free(met);
    its_result_free(r);
    its_sampler_free(s);
    cli_task_free(&task);
    cJSON_Delete(doc);
    cJSON_Delete(task_set);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * `bench`
 * ------------------------------------------------------------------------------------------- */
typedef struct cli_cell {
    double nfe_used;        /* mean over seeds */
    double *mean, *se;      /* 1 + n_metrics: [0] = verifier score */
    size_t n;               /* runs that returned a result */
    char *error;            /* why no run succeeded (NULL when some did) */
} cli_cell;

static size_t cli_split(char *s, char **parts, size_t max)
{
    size_t n = 0;
    for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ","))
        parts[n++] = tok;
    return n;
}

/* The effective value of params.<name> (or -1 when the method has no such parameter). */
static double cli_param(const cJSON *eff, const char *name)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(eff, "params");
    const cJSON *v = p ? cJSON_GetObjectItemCaseSensitive(p, name) : NULL;
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* Applies the scale-to-budget rule of the document's method for `nfe`. */
static int cli_scale_doc(its_ctx *ctx, cJSON *doc, const char *method, uint64_t nfe)
{
    if (cli_doc_set(doc, "run.budget.max_nfe", cJSON_CreateNumber((double)nfe), "bench") != 0)
        return -1;
    const cli_scale *sc = cli_scale_find(method);
    /* the effective config tells T, the solver and the other parameters; a method whose
     * defaults need more than this cap is asked again without it */
    its_sampler *s = sc && sc->param ? cli_sampler_quiet(ctx, doc) : NULL;
    if (sc && sc->param && !s) {
        if (cli_doc_set(doc, "run.budget.max_nfe", cJSON_CreateNumber(0), "bench") != 0)
            return -1;
        s = cli_sampler(ctx, doc);
        if (cli_doc_set(doc, "run.budget.max_nfe", cJSON_CreateNumber((double)nfe), "bench") != 0) {
            its_sampler_free(s);
            return -1;
        }
    }
    if (!sc || !sc->param)
        return 0;
    if (!s)
        return -1;
    cJSON *eff = cJSON_Parse(its_sampler_to_json(s));
    its_sampler_free(s);
    if (!eff) {
        cli_err("out of memory");
        return -1;
    }
    its_method m = ITS_METHOD_NONE;
    its_method_parse(method, &m);
    const its_method_vt *vt = its_method_vt_get(m);
    const its_param_desc *d = NULL;
    for (size_t i = 0; vt && i < vt->n_desc; i++)
        if (strcmp(vt->desc[i].name, sc->param) == 0)
            d = &vt->desc[i];
    const cJSON *run = cJSON_GetObjectItemCaseSensitive(eff, "run");
    const cJSON *steps = cJSON_GetObjectItemCaseSensitive(run, "steps");
    const cJSON *solver = cJSON_GetObjectItemCaseSensitive(run, "solver");
    double T = cJSON_IsNumber(steps) ? steps->valuedouble : 1;
    if (cJSON_IsString(solver) && strcmp(solver->valuestring, "heun") == 0)
        T *= 2;
    double per = sc->per ? cli_param(eff, sc->per) : 1;
    /* children taken from the allocator: `children` is a cap, the budget sizes each step */
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(eff, "params");
    int from_budget = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(pp, "budget_children"));
    cJSON_Delete(eff);
    if (!d || per <= 0 || (from_budget && strcmp(sc->param, "children") == 0))
        return 0; /* no such parameter in this build, or the allocator sizes it: the cap alone */
    double v;
    if (sc->fraction == 0)
        v = 0;
    else if (sc->fraction < 0)
        v = floor(((double)nfe - T) / per);
    else
        v = floor(sc->fraction * (double)nfe / (per * (sc->fraction == 1 ? T : 1)));
    if (v < d->min)
        v = d->min;
    if (v > d->max)
        v = d->max;
    char path[96];
    snprintf(path, sizeof(path), "params.%s", sc->param);
    return cli_doc_set(doc, path, cJSON_CreateNumber(v), "bench");
}

static void cli_progress(size_t done, size_t total, const char *what)
{
    static int tty = -1;
    if (tty < 0)
        tty = isatty(fileno(stderr));
    int w = 30, fill = total ? (int)((double)done / (double)total * w) : w;
    if (tty) {
        fprintf(stderr, "\r[%.*s%*s] %3zu%% %-40.40s", fill,
                "##############################", w - fill, "", total ? done * 100 / total : 100,
                what);
        if (done == total)
            fputc('\n', stderr);
    } else if (done == total || done == 0 || strstr(what, "seed 0")) {
        fprintf(stderr, "[%zu/%zu] %s\n", done, total, what);
    }
    fflush(stderr);
}

static int cli_mkdir(const char *dir)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return 0;
        cli_err("%s: exists and is not a directory", dir);
        return -1;
    }
    cli_err("%s: %s", dir, strerror(errno));
    return -1;
}

/* The verifier score and the first task metric against NFE, mean (standard error), on stdout. */
static void cli_print_table(const cli_opts *o, char *const *names, size_t ns, const double *xs,
                            size_t nn, const cli_cell *cells)
{
    size_t np = o->task->n_metrics > 0 ? 2 : 1;
    for (size_t p = 0; p < np; p++) {
        printf("\n%s (mean ± standard error over %llu seeds)\n%-18s",
               p == 0 ? "verifier score" : o->task->metrics[0].name,
               (unsigned long long)o->seeds, "sampler \\ NFE");
        for (size_t j = 0; j < nn; j++)
            printf(" %16.0f", xs[j]);
        printf("\n");
        for (size_t i = 0; i < ns; i++) {
            printf("%-18s", names[i]);
            for (size_t j = 0; j < nn; j++) {
                const cli_cell *c = &cells[i * nn + j];
                char buf[48];
                if (!c->mean || !isfinite(c->mean[p]))
                    snprintf(buf, sizeof(buf), "-");
                else
                    snprintf(buf, sizeof(buf), "%.4g ± %.2g", c->mean[p],
                             isfinite(c->se[p]) ? c->se[p] : 0.0);
                /* '±' is two bytes and one column */
                int pad = 16 - (int)strlen(buf) + (strstr(buf, "±") ? 1 : 0);
                printf(" %*s%s", pad > 0 ? pad : 0, "", buf);
            }
            printf("\n");
        }
    }
}

static int cli_cmd_bench(its_ctx *ctx, const cli_opts *o)
{
    if (!o->samplers || !o->nfe || !o->out) {
        cli_err("bench needs --samplers a,b,c, --nfe N1,N2,... and --out DIR");
        return 2;
    }
    if (o->seeds < 1) {
        cli_err("--seeds: expected a whole number >= 1");
        return 2;
    }
    enum { MAXL = 64 };
    char sbuf[1024], nbuf[1024];
    if (strlen(o->samplers) >= sizeof(sbuf) || strlen(o->nfe) >= sizeof(nbuf)) {
        cli_err("--samplers or --nfe: list too long");
        return 2;
    }
    snprintf(sbuf, sizeof(sbuf), "%s", o->samplers);
    snprintf(nbuf, sizeof(nbuf), "%s", o->nfe);
    char *names[MAXL], *nfes[MAXL];
    size_t ns = cli_split(sbuf, names, MAXL), nn = cli_split(nbuf, nfes, MAXL);
    double xs[MAXL];
    if (ns == 0 || nn == 0) {
        cli_err("--samplers and --nfe need at least one entry each");
        return 2;
    }
    for (size_t i = 0; i < ns; i++) {
        its_method m;
        if (its_method_parse(names[i], &m) != ITS_OK || !its_method_vt_get(m)) {
            cli_err("--samplers: unknown or unavailable sampler \"%s\" (see itscale samplers)",
                    names[i]);
            return 2;
        }
    }
    for (size_t i = 0; i < nn; i++) {
        uint64_t v;
        if (cli_parse_u64(nfes[i], (uint64_t)ITS_CFG_MAX_INT, &v) != 0 || v == 0 ||
            (i && (double)v <= xs[i - 1])) {
            cli_err("--nfe: expected increasing whole numbers >= 1, got \"%s\"", nfes[i]);
            return 2;
        }
        xs[i] = (double)v;
    }
    cli_opts base = *o;
    base.sampler = names[0];
    cJSON *task_set, *doc = cli_build_doc(&base, 0, &task_set);
    if (!doc)
        return 2;
    cli_task task = {0};
    int rc = 2;
    size_t nm = o->task->n_metrics, np = 1 + nm;
    size_t K = (size_t)o->seeds;
    cli_cell *cells = calloc(ns * nn, sizeof(cli_cell));
    double *vals = calloc(np * K, sizeof(double)), *met = calloc(nm + 1, sizeof(double));
    double *nfe_used = calloc(K, sizeof(double));
    float *pool = NULL;
    cJSON *configs = cJSON_CreateArray();
    if (!cells || !vals || !met || !nfe_used || !configs) {
        cli_err("out of memory");
        goto done;
    }
    if (cli_task_create(ctx, o->task, task_set, &task) != 0 || cli_mkdir(o->out) != 0)
        goto done;
    rc = 1;
    size_t total = ns * nn * K, done_runs = 0;
    char what[128];
    for (size_t si = 0; si < ns; si++) {
        for (size_t ni = 0; ni < nn; ni++) {
            cli_cell *c = &cells[si * nn + ni];
            if (!(c->mean = calloc(np, sizeof(double))) || !(c->se = calloc(np, sizeof(double)))) {
                cli_err("out of memory");
                goto done;
            }
            cJSON *d = cJSON_Duplicate(doc, 1);
            if (!d || cli_doc_set(d, "sampler", cJSON_CreateString(names[si]), "bench") != 0 ||
                cli_method_defaults(d) != 0 ||
                cli_scale_doc(ctx, d, names[si], (uint64_t)xs[ni]) != 0) {
                cJSON_Delete(d);
                rc = 2;
                goto done;
            }
            its_sampler *s = cli_sampler(ctx, d);
            cJSON_Delete(d);
            if (!s) {
                /* this budget cannot pay for the method: an empty point, not the end */
                c->error = strdup(its_ctx_errmsg(ctx));
                done_runs += K;
                for (size_t p = 0; p < np; p++)
                    c->mean[p] = c->se[p] = NAN;
                c->nfe_used = NAN;
                continue;
            }
            if (ni == nn - 1 || ni == 0) {
                cJSON *eff = cJSON_Parse(its_sampler_to_json(s));
                if (eff)
                    cJSON_AddItemToArray(configs, eff);
            }
            size_t pooled_rows = 0, dim = 0;
            for (size_t k = 0; k < K; k++) {
                snprintf(what, sizeof(what), "%s nfe=%g seed %zu", names[si], xs[ni], k);
                cli_progress(done_runs, total, what);
                its_result *r = NULL;
                its_status st = its_generate(s, &task.inst.model, &task.inst.verifier,
                                             o->seed + k, &r);
                for (size_t p = 0; p < np; p++)
                    vals[p * K + k] = NAN;
                nfe_used[k] = NAN;
                if (st != ITS_OK && st != ITS_CANCELLED) {
                    if (!c->error)
                        c->error = strdup(its_ctx_errmsg(ctx));
                } else {
                    its_usage u;
                    its_result_usage(r, &u);
                    nfe_used[k] = (double)u.nfe;
                    vals[k] = its_result_score(r, 0);
                    if (cli_measure(&task, r, met) != 0) {
                        its_result_free(r);
                        its_sampler_free(s);
                        goto done;
                    }
                    for (size_t m = 0; m < nm; m++)
                        vals[(1 + m) * K + k] = met[m];
                    /* pooled metrics see every seed's best sample together */
                    dim = its_result_dim(r);
                    if (!pool)
                        pool = calloc(K * dim, sizeof(float));
                    if (pool && its_result_count(r)) {
                        memcpy(pool + pooled_rows * dim, its_result_sample(r, 0),
                               dim * sizeof(float));
                        pooled_rows++;
                    }
                }
                its_result_free(r);
                done_runs++;
            }
            its_sampler_free(s);
            size_t kk;
            double sd;
            cli_mean_se(nfe_used, K, &c->nfe_used, &sd, &kk);
            for (size_t p = np; p-- > 0;)
                cli_mean_se(vals + p * K, K, &c->mean[p], &c->se[p], &c->n); /* n: the score's */
            int any_pooled = 0;
            for (size_t m = 0; m < nm; m++)
                any_pooled |= o->task->metrics[m].pooled;
            if (any_pooled && pooled_rows) {
                char err[256] = "";
                if (o->task->measure(task.inst.state, pool, pooled_rows, met, err, sizeof(err))) {
                    cli_err("task %s: metrics: %s", o->task->name, err);
                    goto done;
                }
                for (size_t m = 0; m < nm; m++)
                    if (o->task->metrics[m].pooled) {
                        c->mean[1 + m] = met[m];
                        c->se[1 + m] = NAN;
                    }
            }
            if (c->n == 0)
                fprintf(stderr, "\nitscale: %s at NFE %g: no run succeeded: %s\n", names[si],
                        xs[ni], c->error ? c->error : "?");
        }
    }
    cli_progress(total, total, "done");

    /* curves.json, curves.csv, curves.svg */
    char path[4096];
    const char *pname[1 + 64], *plabel[1 + 64];
    pname[0] = "score";
    plabel[0] = "verifier score";
    for (size_t m = 0; m < nm && m < 64; m++) {
        pname[1 + m] = o->task->metrics[m].name;
        plabel[1 + m] = o->task->metrics[m].label;
    }
    cJSON *js = cJSON_CreateObject();
    cJSON *ta = cJSON_AddObjectToObject(js, "task");
    cJSON_AddStringToObject(ta, "name", o->task->name);
    cJSON_AddItemReferenceToObject(ta, "settings", task.settings);
    cJSON_AddNumberToObject(js, "seeds", (double)K);
    cJSON_AddNumberToObject(js, "seed", (double)o->seed);
    cJSON_AddItemToObject(js, "nfe", cJSON_CreateDoubleArray(xs, (int)nn));
    cJSON *ma = cJSON_AddArrayToObject(js, "metrics");
    for (size_t p = 0; p < np; p++) {
        cJSON *mo = cJSON_CreateObject();
        cJSON_AddStringToObject(mo, "name", pname[p]);
        cJSON_AddStringToObject(mo, "label", plabel[p]);
        cJSON_AddBoolToObject(mo, "pooled", p > 0 && o->task->metrics[p - 1].pooled);
        cJSON_AddItemToArray(ma, mo);
    }
    cJSON *ca = cJSON_AddArrayToObject(js, "curves");
    for (size_t si = 0; si < ns; si++) {
        cJSON *co = cJSON_CreateObject();
        cJSON_AddStringToObject(co, "sampler", names[si]);
        const cli_scale *sc = cli_scale_find(names[si]);
        cJSON_AddStringToObject(co, "scaling", sc ? sc->rule : "only the cap is set");
        cJSON *pa = cJSON_AddArrayToObject(co, "points");
        for (size_t ni = 0; ni < nn; ni++) {
            const cli_cell *c = &cells[si * nn + ni];
            cJSON *po = cJSON_CreateObject();
            cJSON_AddNumberToObject(po, "nfe", xs[ni]);
            cJSON_AddNumberToObject(po, "runs", (double)c->n);
            if (isfinite(c->nfe_used))
                cJSON_AddNumberToObject(po, "nfe_used", c->nfe_used);
            else
                cJSON_AddNullToObject(po, "nfe_used");
            for (size_t p = 0; p < np; p++) {
                cJSON *v = cJSON_AddObjectToObject(po, pname[p]);
                cJSON_AddItemToObject(v, "mean", isfinite(c->mean[p])
                                                     ? cJSON_CreateNumber(c->mean[p])
                                                     : cJSON_CreateNull());
                cJSON_AddItemToObject(v, "se", isfinite(c->se[p]) ? cJSON_CreateNumber(c->se[p])
                                                                  : cJSON_CreateNull());
            }
            if (c->error && c->n == 0)
                cJSON_AddStringToObject(po, "error", c->error);
            cJSON_AddItemToArray(pa, po);
        }
        cJSON_AddItemToArray(ca, co);
    }
    cJSON_AddItemToObject(js, "configs", configs);
    configs = NULL;
    char *jt = cJSON_Print(js);
    cJSON_Delete(js);
    snprintf(path, sizeof(path), "%s/curves.json", o->out);
    FILE *f = jt ? fopen(path, "w") : NULL;
    if (!f) {
        cli_err("%s: %s", path, jt ? strerror(errno) : "out of memory");
        cJSON_free(jt);
        goto done;
    }
    fprintf(f, "%s\n", jt);
    cJSON_free(jt);
    if (cli_close_out(f, path) != 0)
        goto done;

    snprintf(path, sizeof(path), "%s/curves.csv", o->out);
    if (!(f = fopen(path, "w"))) {
        cli_err("%s: %s", path, strerror(errno));
        goto done;
    }
    fprintf(f, "sampler,nfe,nfe_used,runs");
    for (size_t p = 0; p < np; p++)
        fprintf(f, ",%s_mean,%s_se", pname[p], pname[p]);
    fprintf(f, "\n");
    for (size_t si = 0; si < ns; si++)
        for (size_t ni = 0; ni < nn; ni++) {
            const cli_cell *c = &cells[si * nn + ni];
            fprintf(f, "%s,%g,%.10g,%zu", names[si], xs[ni], c->nfe_used, c->n);
            for (size_t p = 0; p < np; p++)
                fprintf(f, ",%.10g,%.10g", c->mean[p], c->se[p]);
            fprintf(f, "\n");
        }
    if (cli_close_out(f, path) != 0)
        goto done;

    double *pm = calloc(np * ns * nn, sizeof(double)), *ps = calloc(np * ns * nn, sizeof(double));
    if (!pm || !ps) {
        free(pm);
        free(ps);
        cli_err("out of memory");
        goto done;
    }
    for (size_t p = 0; p < np; p++)
        for (size_t si = 0; si < ns; si++)
            for (size_t ni = 0; ni < nn; ni++) {
                pm[(p * ns + si) * nn + ni] = cells[si * nn + ni].mean[p];
                ps[(p * ns + si) * nn + ni] = cells[si * nn + ni].se[p];
            }
    char title[160], sub[200];
    snprintf(title, sizeof(title), "itscale: quality vs compute on task %s", o->task->name);
    snprintf(sub, sizeof(sub), "mean \xc2\xb1 standard error over %zu seeds; x = NFE budget", K);
    cli_plot plot = {title, sub, np, ns, nn, pname, plabel, (const char *const *)names, xs, pm, ps};
    snprintf(path, sizeof(path), "%s/curves.svg", o->out);
    if (!(f = fopen(path, "w"))) {
        cli_err("%s: %s", path, strerror(errno));
        free(pm);
        free(ps);
        goto done;
    }
    int prc = cli_plot_svg(f, &plot);
    free(pm);
    free(ps);
    if (cli_close_out(f, path) != 0 || prc != 0)
        goto done;
    fprintf(stderr, "itscale: wrote %s/curves.json, %s/curves.csv and %s\n", o->out, o->out,
            path);
    cli_print_table(o, names, ns, xs, nn, cells);
    rc = 0;
done:
    for (size_t i = 0; cells && i < ns * nn; i++) {
        free(cells[i].mean);
        free(cells[i].se);
        free(cells[i].error);
    }
    free(cells);
    free(vals);
    free(met);
    free(nfe_used);
    free(pool);
    cJSON_Delete(configs);
    cli_task_free(&task);
    cJSON_Delete(doc);
    cJSON_Delete(task_set);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 * main
 * ------------------------------------------------------------------------------------------- */
static void cli_usage(FILE *f)
{
    fprintf(f,
            "usage: itscale samplers [--markdown]\n"
            "       itscale tasks\n"
            "       itscale run --task T --sampler NAME [--nfe N] [--seed S] [--set key=value]...\n"
            "                   [--config FILE] [--json] [--out FILE]\n"
            "       itscale bench --task T --samplers a,b,c --nfe 50,100,200,500 [--seeds K]\n"
            "                   [--seed S] [--set key=value]... [--config FILE] --out DIR\n"
            "--set params.n=8, run.steps=10, run.dynamics.kind=sde, task.dim=64 (value as JSON,\n"
            "else as a string). Tasks:");
    for (size_t i = 0; i < CLI_N_TASKS; i++)
        fprintf(f, " %s", cli_tasks[i]->name);
    fprintf(f, "\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        cli_usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("itscale %s\n", its_version());
        return 0;
    }
    int is_run = strcmp(cmd, "run") == 0, is_bench = strcmp(cmd, "bench") == 0;
    int is_list = strcmp(cmd, "samplers") == 0, is_tasks = strcmp(cmd, "tasks") == 0;
    if (!is_run && !is_bench && !is_list && !is_tasks) {
        cli_err("unknown command \"%s\" (expected samplers, tasks, run or bench)", cmd);
        return 2;
    }
    cli_opts o = {0};
    o.seeds = 8;
    const char *task = "gmm";
    o.sets = calloc((size_t)argc, sizeof(char *));
    if (!o.sets) {
        cli_err("out of memory");
        return 1;
    }
    int rc = 2;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        /* flags that take a value */
        static const char *const valued[] = {"--task", "--sampler", "--samplers", "--nfe",
                                             "--seed", "--seeds", "--set", "--config", "--out"};
        int takes = 0;
        for (size_t j = 0; j < sizeof(valued) / sizeof(valued[0]); j++)
            takes |= strcmp(a, valued[j]) == 0;
        const char *v = NULL;
        if (takes) {
            if (i + 1 >= argc) {
                cli_err("%s needs a value", a);
                goto out;
            }
            v = argv[++i];
        }
        int ok = 1;
        if (strcmp(a, "--json") == 0 && is_run)
            o.json = 1;
        else if (strcmp(a, "--markdown") == 0 && is_list)
            o.markdown = 1;
        else if (strcmp(a, "--task") == 0 && (is_run || is_bench))
            task = v;
        else if (strcmp(a, "--sampler") == 0 && is_run)
            o.sampler = v;
        else if (strcmp(a, "--samplers") == 0 && is_bench)
            o.samplers = v;
        else if (strcmp(a, "--nfe") == 0 && (is_run || is_bench))
            o.nfe = v;
        else if (strcmp(a, "--seed") == 0 && (is_run || is_bench)) {
            if (cli_parse_u64(v, UINT64_MAX, &o.seed) != 0) {
                cli_err("--seed: expected a whole number >= 0, got \"%s\"", v);
                goto out;
            }
        } else if (strcmp(a, "--seeds") == 0 && is_bench) {
            if (cli_parse_u64(v, 100000, &o.seeds) != 0 || o.seeds < 1) {
                cli_err("--seeds: expected a whole number in [1, 100000], got \"%s\"", v);
                goto out;
            }
        } else if (strcmp(a, "--set") == 0 && (is_run || is_bench))
            o.sets[o.n_sets++] = v;
        else if (strcmp(a, "--config") == 0 && (is_run || is_bench))
            o.config_file = v;
        else if (strcmp(a, "--out") == 0 && (is_run || is_bench))
            o.out = v;
        else
            ok = 0;
        if (!ok) {
            cli_err("%s: unknown option for \"%s\" (see itscale --help)", a, cmd);
            goto out;
        }
    }
    if (is_list) {
        rc = cli_cmd_samplers(&o);
        goto out;
    }
    if (is_tasks) {
        rc = cli_cmd_tasks();
        goto out;
    }
    if (!(o.task = cli_task_find(task))) {
        cli_err("--task: unknown task \"%s\" (see itscale tasks)", task);
        goto out;
    }
    its_ctx *ctx = NULL;
    if (its_ctx_create(NULL, &ctx) != ITS_OK) {
        cli_err("could not create a context");
        rc = 1;
        goto out;
    }
    rc = is_run ? cli_cmd_run(ctx, &o) : cli_cmd_bench(ctx, &o);
    its_ctx_free(ctx);
out:
    free(o.sets);
    return rc;
}
