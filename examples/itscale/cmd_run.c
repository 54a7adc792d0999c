/* `itscale run`: one configuration on a task, one seed; a summary or the result as JSON. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* What auto chose, from the result's "auto" block: the policy's entry, or the online pilots'
 * winner. Nothing for other samplers. */
static void cli_print_auto(FILE *f, int w, its_result *r)
{
    const char *js = its_result_to_json(r);
    cJSON *doc = js ? cJSON_Parse(js) : NULL;
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(doc, "auto");
    const cJSON *mode = cJSON_GetObjectItemCaseSensitive(a, "mode");
    if (cJSON_IsString(mode) && strcmp(mode->valuestring, "online") == 0) {
        const cJSON *win = cJSON_GetObjectItemCaseSensitive(a, "winner");
        const cJSON *rounds = cJSON_GetObjectItemCaseSensitive(a, "rounds");
        const cJSON *pn = cJSON_GetObjectItemCaseSensitive(a, "pilot_nfe");
        fprintf(f, "  %-*s online: %s", w, "auto",
                cJSON_IsString(win) ? win->valuestring : "(none)");
        if (cJSON_GetArraySize(rounds) > 0)
            fprintf(f, ", the best of %d pilot rounds (%.0f NFE of pilots)\n",
                    cJSON_GetArraySize(rounds), cJSON_IsNumber(pn) ? pn->valuedouble : 0.0);
        else
            fprintf(f, ", its first candidate (the budget leaves no room for pilots)\n");
    } else if (cJSON_IsString(mode)) {
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(a, "entry");
        const cJSON *at = cJSON_GetObjectItemCaseSensitive(a, "tuned_at");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(a, "expected_mean");
        const cJSON *se = cJSON_GetObjectItemCaseSensitive(a, "expected_se");
        fprintf(f, "  %-*s policy entry %d (tuned at %.0f NFE, expected score %.4g ± %.2g)\n", w,
                "auto", cJSON_IsNumber(e) ? e->valueint : -1,
                cJSON_IsNumber(at) ? at->valuedouble : 0.0,
                cJSON_IsNumber(m) ? m->valuedouble : NAN, cJSON_IsNumber(se) ? se->valuedouble : NAN);
    }
    cJSON_Delete(doc);
}

int cli_cmd_run(its_ctx *ctx, const cli_opts *o)
{
    if (o->png && !o->task->write_png) {
        cli_err("--png: task %s has no pictures", o->task->name);
        return 2;
    }
    cJSON *task_set, *doc = cli_build_doc(o, 1, &task_set);
    if (!doc)
        return 2;
    int rc = 2;
    cli_task task = {0};
    its_sampler *s = NULL;
    its_result *r = NULL;
    double *met = NULL;
    cJSON *rep = NULL;
    /* --nfe N sizes the method to N as bench does (cli_scale.c); --cap-only only caps it */
    uint64_t budget = 0;
    cli_scaled sc = {0};
    snprintf(sc.what, sizeof(sc.what), "%s", o->cap_only ? "cap only (--cap-only)" : "no budget");
    if (o->nfe && cli_parse_u64(o->nfe, UINT64_MAX, &budget) == 0 && !o->cap_only) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "sampler");
        if (cJSON_IsString(m) && cli_scale_doc(ctx, doc, m->valuestring, budget, &sc) != 0)
            goto done;
        if (sc.clamped)
            fprintf(stderr, "itscale: warning: %s at %llu NFE: %s\n", m->valuestring,
                    (unsigned long long)budget, sc.clamp);
    }
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
    if (o->png && cli_write_png(&task, r, o->png) != 0)
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
        /* a metric that cannot be computed is null, and "metrics_na" says why */
        cJSON *na = NULL;
        size_t count = its_result_count(r);
        for (size_t i = 0; ok && i < task.vt->n_metrics; i++) {
            const char *name = task.vt->metrics[i].name;
            if (isfinite(met[i])) {
                ok = cJSON_AddNumberToObject(mo, name, met[i]) != NULL;
                continue;
            }
            ok = cJSON_AddNullToObject(mo, name) != NULL;
            if (ok && !na)
                ok = (na = cJSON_AddObjectToObject(rep, "metrics_na")) != NULL;
            if (ok)
                ok = cJSON_AddStringToObject(
                         na, name,
                         task.vt->metrics[i].pooled && count < 2
                             ? "a property of a set of samples: needs 2 or more (run.top_k)"
                             : count ? "not defined for these samples"
                                     : "the run returned no sample") != NULL;
        }
        if (ok)
            ok = cJSON_AddItemReferenceToObject(to, "settings", task.settings);
        cJSON *bo = ok && budget ? cJSON_AddObjectToObject(rep, "nfe_budget") : NULL;
        if (bo) {
            ok = cJSON_AddNumberToObject(bo, "budget", (double)budget) &&
                 cJSON_AddNumberToObject(bo, "spent", (double)u.nfe) &&
                 cJSON_AddStringToObject(bo, "mode", o->cap_only ? "cap" : "scale") &&
                 cJSON_AddStringToObject(bo, "scaling", sc.what) &&
                 (!sc.clamped || cJSON_AddStringToObject(bo, "clamped", sc.clamp));
        }
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
        /* one column for the values: as wide as the longest metric name, at least 12 */
        int w = 12;
        for (size_t i = 0; i < task.vt->n_metrics; i++)
            if ((int)strlen(task.vt->metrics[i].name) > w)
                w = (int)strlen(task.vt->metrics[i].name);
        fprintf(f, "  %-*s %.6g\n", w, "best score", its_result_score(r, 0));
        size_t count = its_result_count(r);
        for (size_t i = 0; i < task.vt->n_metrics; i++) {
            if (isfinite(met[i]))
                fprintf(f, "  %-*s %.6g\n", w, task.vt->metrics[i].name, met[i]);
            else if (task.vt->metrics[i].pooled && count < 2)
                fprintf(f, "  %-*s n/a (a property of a set of samples; this run returned %zu: "
                           "--set run.top_k=N, or itscale bench pools every seed)\n",
                        w, task.vt->metrics[i].name, count);
            else
                fprintf(f, "  %-*s n/a (%s)\n", w, task.vt->metrics[i].name,
                        count ? "not defined for these samples" : "the run returned no sample");
        }
        fprintf(f, "  %-*s %llu", w, "NFE", (unsigned long long)u.nfe);
        if (budget)
            fprintf(f, " spent of a budget of %llu", (unsigned long long)budget);
        else if (its_result_max_nfe(r))
            fprintf(f, " of %llu", (unsigned long long)its_result_max_nfe(r));
        fprintf(f, " (%llu model calls, %llu verifier rows)\n",
                (unsigned long long)u.model_calls, (unsigned long long)u.verifier_rows);
        if (budget)
            fprintf(f, "  %-*s %s\n", w, "scaling", sc.what);
        cli_print_auto(f, w, r);
        fprintf(f, "  %-*s %.4f s (model %.4f, verifier %.4f, library %.4f)\n", w, "time",
                u.total_s, u.model_s, u.verifier_s, u.library_s);
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
