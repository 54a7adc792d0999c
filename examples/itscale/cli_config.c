/* The configuration document of a run: --config FILE, then --sampler, --nfe and each --set
 * (task.<key> settings go to the task, everything else to the library's JSON configuration). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Sets doc[path] = value (dotted path; objects created on the way). */
int cli_doc_set(cJSON *doc, const char *path, cJSON *value, const char *what)
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

/* The offset of a NUL, raw or as the escape \u0000, in the text of a config file, or -1: cJSON
 * would cut a key or value there (the library refuses both in what it reads; the task object
 * is read here). */
static long cli_nul_at(const char *t, size_t len)
{
    int in_str = 0;
    for (size_t i = 0; i < len; i++) {
        if (t[i] == 0)
            return (long)i;
        if (!in_str) {
            in_str = t[i] == '"';
        } else if (t[i] == '"') {
            in_str = 0;
        } else if (t[i] == '\\') {
            if (i + 5 < len && memcmp(t + i + 1, "u0000", 5) == 0)
                return (long)i;
            i++; /* the escaped character */
        }
    }
    return -1;
}

/* The configuration from --config, --sampler, --nfe and --set; task settings split off into
 * *task_set. Returns NULL after printing the reason. */
cJSON *cli_build_doc(const cli_opts *o, int with_nfe, cJSON **task_set)
{
    cJSON *doc = NULL;
    *task_set = cJSON_CreateObject();
    if (o->config_file) {
        size_t len;
        char *txt = cli_read_file(o->config_file, &len);
        if (!txt)
            goto fail;
        long nul = cli_nul_at(txt, len);
        if (nul >= 0) {
            cli_err("%s: a NUL (raw or \\u0000) at byte %ld: no key or value may hold it",
                    o->config_file, nul);
            free(txt);
            goto fail;
        }
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
            /* the library checks its own keys for duplicates; task is the command line's */
            const char *dup = NULL;
            for (const cJSON *a = t->child; a && !dup; a = a->next)
                for (const cJSON *b = a->next; b && !dup; b = b->next)
                    if (strcmp(a->string, b->string) == 0)
                        dup = a->string;
            if (dup || cJSON_GetObjectItemCaseSensitive(doc, "task")) {
                cli_err("%s: task%s%s: duplicate key", o->config_file, dup ? "." : "",
                        dup ? dup : "");
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
        if (cli_parse_u64(o->nfe, CLI_MAX_JSON_INT, &n) != 0 || n == 0) {
            cli_err("--nfe: expected a whole number in [1, 2^53], got \"%s\"", o->nfe);
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
        /* an unknown key first: a misspelt "sampler" is the likelier cause */
        for (const cJSON *it = doc->child; it; it = it->next)
            if (strcmp(it->string, "params") != 0 && strcmp(it->string, "run") != 0) {
                cli_err("config: %s: unknown key (expected one of sampler, params, run, task)",
                        it->string);
                goto fail;
            }
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
int cli_method_defaults(cJSON *doc)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "sampler");
    if (!cJSON_IsString(m) || !cli_method_wants_sde(m->valuestring))
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
            cli_err("config: %s", cli_unprefix(its_ctx_errmsg(ctx), "config"));
        return NULL;
    }
    return s;
}

its_sampler *cli_sampler(its_ctx *ctx, const cJSON *doc)
{
    return cli_sampler_make(ctx, doc, 0);
}

/* As cli_sampler, without the message: for a first try that has a fallback. */
its_sampler *cli_sampler_quiet(its_ctx *ctx, const cJSON *doc)
{
    return cli_sampler_make(ctx, doc, 1);
}
