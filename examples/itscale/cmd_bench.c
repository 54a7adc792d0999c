/* `itscale bench`: quality against compute. Every sampler at every NFE budget over K seeds
 * (each method scaled to the budget, cli_scale.c), then curves.json, curves.csv and
 * curves.svg in --out, and a table on stdout. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "itscale.h"

typedef struct cli_cell {
    double nfe_used;        /* mean over seeds: where the point stands */
    char *clamped;          /* the scale rule's value left the parameter's range (NULL: no) */
    double *mean, *se;      /* 1 + n_metrics: [0] = verifier score */
    size_t n;               /* runs that returned a result */
    char *error;            /* why no run succeeded (NULL when some did) */
} cli_cell;

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

static void cli_print_table(const cli_opts *o, char *const *names, size_t ns, const double *xs,
                            size_t nn, const cli_cell *cells)
{
    size_t np = o->task->n_metrics > 0 ? 2 : 1;
    for (size_t p = 0; p < np; p++) {
        printf("\n%s (mean ± standard error over %llu seed%s)\n%-18s",
               p == 0 ? "verifier score" : o->task->metrics[0].name,
               (unsigned long long)o->seeds, o->seeds == 1 ? "" : "s", "sampler \\ NFE");
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

int cli_cmd_bench(its_ctx *ctx, const cli_opts *o)
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
    if (!cli_list_ok("--samplers", o->samplers) || !cli_list_ok("--nfe", o->nfe))
        return 2;
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
        if (its_method_parse(names[i], &m) != ITS_OK || !its_method_summary(m)) {
            cli_err("--samplers: unknown or unavailable sampler \"%s\" (see itscale samplers)",
                    names[i]);
            return 2;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[j], names[i]) == 0) {
                cli_err("--samplers: \"%s\" given twice", names[i]);
                return 2;
            }
    }
    for (size_t i = 0; i < nn; i++) {
        uint64_t v;
        if (cli_parse_u64(nfes[i], CLI_MAX_JSON_INT, &v) != 0 || v == 0 ||
            (i && (double)v <= xs[i - 1])) {
            cli_err("--nfe: expected increasing whole numbers in [1, 2^53], got \"%s\"", nfes[i]);
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
    float *grid = NULL; /* image tasks: [budget][seed] best samples of one sampler, NaN = none */
    size_t grid_dim = 0;
    cJSON *configs = cJSON_CreateArray();
    if (!cells || !vals || !met || !nfe_used || !configs) {
        cli_err("out of memory");
        goto done;
    }
    /* the output directory first: a bench that cannot write its results does not run */
    if (cli_mkdir(o->out) != 0 || cli_check_writable(o->out) != 0 ||
        cli_task_create(ctx, o->task, task_set, &task) != 0)
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
            cli_scaled scd;
            if (!d || cli_doc_set(d, "sampler", cJSON_CreateString(names[si]), "bench") != 0 ||
                cli_method_defaults(d) != 0 ||
                cli_scale_doc(ctx, d, names[si], (uint64_t)xs[ni], &scd) != 0) {
                cJSON_Delete(d);
                rc = 2;
                goto done;
            }
            if (scd.clamped) {
                cli_warn("%s at %g NFE: %s", names[si], xs[ni], scd.clamp);
                c->clamped = strdup(scd.clamp);
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
                snprintf(what, sizeof(what), "%s nfe=%g seed %llu", names[si], xs[ni],
                         (unsigned long long)(o->seed + k));
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
                    if (o->task->write_png && !grid && dim) {
                        grid_dim = dim;
                        grid = malloc(nn * K * dim * sizeof(float));
                        for (size_t i = 0; grid && i < nn * K * dim; i++)
                            grid[i] = NAN;
                    }
                    if (grid && dim == grid_dim && its_result_count(r))
                        memcpy(grid + (ni * K + k) * dim, its_result_sample(r, 0),
                               dim * sizeof(float));
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
        if (grid) {
            /* the sampler's picture: a row per budget, a column per seed */
            char gpath[4096], err[256] = "";
            snprintf(gpath, sizeof(gpath), "%s/grid-%s.png", o->out, names[si]);
            if (o->task->write_png(task.inst.state, grid, nn * K, (int)K, gpath, err,
                                   sizeof(err)) != 0) {
                cli_err("%s: %s", gpath, err);
                goto done;
            }
            for (size_t i = 0; i < nn * K * grid_dim; i++)
                grid[i] = NAN;
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
        its_method mm = ITS_METHOD_NONE;
        its_method_parse(names[si], &mm);
        cJSON_AddStringToObject(co, "scaling", its_method_scale_rule(mm));
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
            if (c->clamped)
                cJSON_AddStringToObject(po, "clamped", c->clamped);
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
    double *px = calloc(ns * nn, sizeof(double));
    if (!pm || !ps || !px) {
        free(pm);
        free(ps);
        free(px);
        cli_err("out of memory");
        goto done;
    }
    for (size_t p = 0; p < np; p++)
        for (size_t si = 0; si < ns; si++)
            for (size_t ni = 0; ni < nn; ni++) {
                pm[(p * ns + si) * nn + ni] = cells[si * nn + ni].mean[p];
                ps[(p * ns + si) * nn + ni] = cells[si * nn + ni].se[p];
                px[si * nn + ni] = cells[si * nn + ni].nfe_used;
            }
    char title[160], sub[200];
    snprintf(title, sizeof(title), "itscale: quality vs compute on task %s", o->task->name);
    snprintf(sub, sizeof(sub),
             "mean \xc2\xb1 standard error over %zu seed%s at the mean NFE spent; ticks at the "
             "budgets", K, K == 1 ? "" : "s");
    cli_plot plot = {title, sub, np, ns, nn, pname, plabel, (const char *const *)names, xs, px,
                     pm, ps};
    snprintf(path, sizeof(path), "%s/curves.svg", o->out);
    if (!(f = fopen(path, "w"))) {
        cli_err("%s: %s", path, strerror(errno));
        free(pm);
        free(ps);
        free(px);
        goto done;
    }
    int prc = cli_plot_svg(f, &plot);
    free(pm);
    free(ps);
    free(px);
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
        free(cells[i].clamped);
    }
    free(cells);
    free(vals);
    free(met);
    free(nfe_used);
    free(pool);
    free(grid);
    cJSON_Delete(configs);
    cli_task_free(&task);
    cJSON_Delete(doc);
    cJSON_Delete(task_set);
    return rc;
}
