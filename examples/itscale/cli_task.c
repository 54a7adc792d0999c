/* The tasks this build knows, and what the CLI does with one: check its settings against the
 * task's descriptors, create it once, measure the samples of a run. A new task is a task_*.c
 * file (see task.h) and one line in the table below. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const its_task_vt *const cli_tasks[] = {
    &its_task_gmm,
#ifdef ITS_HAVE_TASK_DIGITS
    &its_task_digits,
#endif
#ifdef ITS_HAVE_TASK_FASHION
    &its_task_fashion,
#endif
};
const size_t cli_n_tasks = sizeof(cli_tasks) / sizeof(cli_tasks[0]);

const its_task_vt *cli_task_find(const char *name)
{
    for (size_t i = 0; i < cli_n_tasks; i++)
        if (strcmp(cli_tasks[i]->name, name) == 0)
            return cli_tasks[i];
    return NULL;
}

void cli_task_free(cli_task *t)
{
    if (t->live && t->vt->free)
        t->vt->free(t->inst.state);
    free(t->vals);
    cJSON_Delete(t->settings);
    memset(t, 0, sizeof(*t));
}

int cli_task_create(its_ctx *ctx, const its_task_vt *vt, const cJSON *set, cli_task *t)
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
        cli_err("task %s: %s", vt->name, err[0] ? cli_unprefix(err, vt->name) : "could not be created");
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

int cli_measure(cli_task *t, const its_result *r, double *out)
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

int cli_write_png(cli_task *t, const its_result *r, const char *path)
{
    if (!t->vt->write_png) {
        cli_err("--png: task %s has no pictures", t->vt->name);
        return -1;
    }
    size_t n = its_result_count(r), dim = its_result_dim(r);
    if (n == 0) {
        cli_err("--png: the run returned no sample");
        return -1;
    }
    float *x = malloc(n * dim * sizeof(float));
    if (!x) {
        cli_err("out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(x + i * dim, its_result_sample(r, i), dim * sizeof(float));
    char err[256] = "";
    int rc = t->vt->write_png(t->inst.state, x, n, n < 8 ? (int)n : 8, path, err, sizeof(err));
    free(x);
    if (rc != 0) {
        cli_err("--png: %s", err[0] ? cli_unprefix(err, "png") : path);
        return -1;
    }
    return 0;
}
