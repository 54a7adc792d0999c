/* `itscale tune`: measure which configuration is best at each NFE budget on a task (its_tune)
 * and write the policy an `auto` sampler follows; with --eval-seeds, measure on held-out seeds
 * every candidate, the policy's auto and the online mode, for the oracle comparison and the
 * figure (bench/auto). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "itscale.h"

#define TUNE_MAX_BUDGETS 64
#define TUNE_MAX_CANDS 256

static int tune_progress(void *user, size_t done, size_t total, const char *what)
{
    (void)user;
    cli_progress(done, total, what);
    return 0;
}

/* The candidate documents: the built-in grid (only the methods in `only`, when given) with the
 * run fields of the command line under each candidate's own. */
static size_t tune_candidates(const cJSON *user_run, const char *only, char **out)
{
    size_t n = 0;
    for (size_t i = 0; its_tune_candidate(i) && n < TUNE_MAX_CANDS; i++) {
        cJSON *doc = cJSON_Parse(its_tune_candidate(i));
        if (!doc)
            continue;
        const cJSON *smp = cJSON_GetObjectItemCaseSensitive(doc, "sampler");
        if (only) {
            char buf[1024], *parts[64];
            snprintf(buf, sizeof(buf), "%s", only);
            size_t np = cli_split(buf, parts, 64), k;
            for (k = 0; k < np; k++)
                if (strcmp(parts[k], smp->valuestring) == 0)
                    break;
            if (k == np) {
                cJSON_Delete(doc);
                continue;
            }
        }
        if (user_run && cJSON_GetArraySize(user_run) > 0) {
            cJSON *run = cJSON_Duplicate(user_run, 1);
            cJSON *own = cJSON_DetachItemFromObjectCaseSensitive(doc, "run");
            /* the candidate's own run fields win (merge one level of groups deep) */
            for (cJSON *it = own ? own->child : NULL; it; it = it->next) {
                cJSON *mine = cJSON_GetObjectItemCaseSensitive(run, it->string);
                if (mine && cJSON_IsObject(mine) && cJSON_IsObject(it)) {
                        for (cJSON *c = it->child; c; c = c->next) {
                        if (cJSON_GetObjectItemCaseSensitive(mine, c->string))
                            cJSON_ReplaceItemInObjectCaseSensitive(mine, c->string,
                                                                   cJSON_Duplicate(c, 1));
                        else
                            cJSON_AddItemToObject(mine, c->string, cJSON_Duplicate(c, 1));
                    }
                } else {
                    cJSON_DeleteItemFromObjectCaseSensitive(run, it->string);
                    cJSON_AddItemToObject(run, it->string, cJSON_Duplicate(it, 1));
                }
            }
            cJSON_Delete(own);
            cJSON_AddItemToObject(doc, "run", run);
        }
        out[n++] = cJSON_PrintUnformatted(doc);
        cJSON_Delete(doc);
    }
    return n;
}

/* Scores of one configuration at one budget on the evaluation seeds. */
typedef struct tune_point {
    double *scores;
    double mean, se, nfe_used, pilot_nfe;
    char *error;
} tune_point;

static int tune_eval_sampler(its_ctx *ctx, its_sampler *s, cli_task *task, const cli_opts *o,
                             uint64_t eval_seed, size_t K, tune_point *pt, size_t *done,
                             size_t total, const char *name, uint64_t nfe)
{
    double used = 0, pilot = 0;
    size_t n_used = 0;
    for (size_t k = 0; k < K; k++) {
        char what[128];
        snprintf(what, sizeof(what), "eval %s nfe=%llu seed %llu", name, (unsigned long long)nfe,
                 (unsigned long long)(eval_seed + k));
        cli_progress(*done, total, what);
        its_result *r = NULL;
        its_status st = its_generate(s, &task->inst.model, &task->inst.verifier, eval_seed + k,
                                     &r);
        pt->scores[k] = NAN;
        if (st == ITS_OK || st == ITS_CANCELLED) {
            its_usage u;
            its_result_usage(r, &u);
            used += (double)u.nfe;
            n_used++;
            pt->scores[k] = its_result_score(r, 0);
            const char *js = its_result_to_json(r);
            const char *pn = js ? strstr(js, "\"pilot_nfe\":") : NULL;
            if (pn)
                pilot += strtod(pn + 12, NULL);
        } else if (!pt->error) {
            pt->error = strdup(its_ctx_errmsg(ctx));
        }
        its_result_free(r);
        (*done)++;
    }
    (void)o;
    size_t kk;
    cli_mean_se(pt->scores, K, &pt->mean, &pt->se, &kk);
    if (kk < K) /* a failed seed: no mean for this point */
        pt->mean = pt->se = NAN;
    pt->nfe_used = n_used ? used / (double)n_used : NAN;
    pt->pilot_nfe = n_used ? pilot / (double)n_used : NAN;
    return 0;
}

static cJSON *tune_point_json(uint64_t nfe, const tune_point *pt, size_t K)
{
    cJSON *o = cJSON_CreateObject(), *a = cJSON_CreateArray();
    cJSON_AddNumberToObject(o, "nfe", (double)nfe);
    if (isfinite(pt->mean)) {
        cJSON_AddNumberToObject(o, "mean", pt->mean);
        cJSON_AddNumberToObject(o, "se", pt->se);
    } else {
        cJSON_AddNullToObject(o, "mean");
        cJSON_AddNullToObject(o, "se");
    }
    if (isfinite(pt->nfe_used))
        cJSON_AddNumberToObject(o, "nfe_used", pt->nfe_used);
    if (isfinite(pt->pilot_nfe) && pt->pilot_nfe > 0)
        cJSON_AddNumberToObject(o, "pilot_nfe", pt->pilot_nfe);
    if (pt->error)
        cJSON_AddStringToObject(o, "error", pt->error);
    for (size_t k = 0; k < K; k++)
        cJSON_AddItemToArray(a, isfinite(pt->scores[k]) ? cJSON_CreateNumber(pt->scores[k])
                                                        : cJSON_CreateNull());
    cJSON_AddItemToObject(o, "scores", a);
    return o;
}

static int tune_write(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = cli_open_out(path);
    if (!f)
        return -1;
    fputs(text, f);
    fputc('\n', f);
    return cli_close_out(f, path);
}

int cli_cmd_tune(its_ctx *ctx, const cli_opts *o)
{
    if (!o->nfe || !o->out) {
        cli_err("tune needs --nfe N1,N2,... and --out DIR");
        return 2;
    }
    if (o->seeds < 2) {
        cli_err("--seeds: tuning needs at least 2 seeds (a standard error)");
        return 2;
    }
    char nbuf[1024], *nfes[TUNE_MAX_BUDGETS];
    if (strlen(o->nfe) >= sizeof(nbuf)) {
        cli_err("--nfe: list too long");
        return 2;
    }
    if (!cli_list_ok("--nfe", o->nfe) || (o->samplers && !cli_list_ok("--samplers", o->samplers)))
        return 2;
    if (o->samplers) {
        char sbuf[1024], *names[64];
        snprintf(sbuf, sizeof(sbuf), "%s", o->samplers);
        size_t ns = cli_split(sbuf, names, 64);
        for (size_t i = 0; i < ns; i++) {
            its_method m;
            if (its_method_parse(names[i], &m) != ITS_OK || !its_method_summary(m)) {
                cli_err("--samplers: unknown or unavailable sampler \"%s\" (see itscale "
                        "samplers)", names[i]);
                return 2;
            }
        }
    }
    snprintf(nbuf, sizeof(nbuf), "%s", o->nfe);
    size_t nb = cli_split(nbuf, nfes, TUNE_MAX_BUDGETS);
    uint64_t budgets[TUNE_MAX_BUDGETS];
    for (size_t i = 0; i < nb; i++)
        if (cli_parse_u64(nfes[i], 9007199254740992ull, &budgets[i]) != 0 || budgets[i] == 0 ||
            (i && budgets[i] <= budgets[i - 1])) {
            cli_err("--nfe: expected increasing whole numbers in [1, 2^53], got \"%s\"", nfes[i]);
            return 2;
        }
    if (nb == 0) {
        cli_err("--nfe: expected at least one budget");
        return 2;
    }
    uint64_t K = o->seeds, KE = o->eval_seeds, S = o->seed, SE = o->eval_seed;
    if (KE && !(SE + KE <= S || S + K <= SE)) {
        cli_err("--eval-seed %llu..%llu overlaps the tuning seeds --seed %llu..%llu: held-out "
                "seeds must differ from the tuning seeds",
                (unsigned long long)SE, (unsigned long long)(SE + KE - 1), (unsigned long long)S,
                (unsigned long long)(S + K - 1));
        return 2;
    }
    cli_opts base = *o;
    base.sampler = "none";
    cJSON *task_set = NULL, *doc = cli_build_doc(&base, 0, &task_set);
    if (!doc)
        return 2;
    cJSON *user_run = cJSON_DetachItemFromObjectCaseSensitive(doc, "run");
    if (user_run)
        cJSON_DeleteItemFromObjectCaseSensitive(user_run, "budget");
    char *cands[TUNE_MAX_CANDS] = {0};
    size_t nc = tune_candidates(user_run, o->samplers, cands);
    cli_task task = {0};
    its_policy *pol = NULL;
    int rc = 2;
    tune_point *pts = NULL;
    size_t n_series = 0;
    cJSON *out = NULL;
    if (nc == 0) {
        cli_err("--samplers: no candidate of the built-in grid is left (see itscale samplers "
                "for the names)");
        goto done;
    }
    if (cli_task_create(ctx, o->task, task_set, &task) != 0 || cli_mkdir(o->out) != 0)
        goto done;
    rc = 1;
    char label[512];
    {
        char *st = cJSON_PrintUnformatted(task.settings);
        snprintf(label, sizeof(label), "task %s %s", o->task->name, st ? st : "");
        free(st);
    }
    its_tune_params tp;
    its_tune_params_init(&tp);
    tp.budgets = budgets;
    tp.n_budgets = nb;
    tp.seeds = (int)K;
    tp.seed = S;
    tp.candidates = (const char *const *)cands;
    tp.n_candidates = nc;
    tp.label = label;
    tp.select = o->select;
    tp.progress = tune_progress;
    its_tune_report rep;
    if (its_tune(ctx, &tp, &task.inst.model, &task.inst.verifier, &pol, &rep) != ITS_OK) {
        cli_err("tune: %s", its_ctx_errmsg(ctx));
        goto done;
    }
    const char *ptxt = its_policy_to_json(pol);
    if (!ptxt || tune_write(o->out, "policy.json", ptxt) != 0)
        goto done;

    /* tuning.json: every candidate's measurement at every budget */
    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "task", o->task->name);
    cJSON_AddItemToObject(out, "settings", cJSON_Duplicate(task.settings, 1));
    cJSON *cost = cJSON_AddObjectToObject(out, "tuning");
    cJSON_AddNumberToObject(cost, "seed", (double)S);
    cJSON_AddNumberToObject(cost, "seeds", (double)K);
    cJSON_AddStringToObject(cost, "select", o->select ? "lcb" : "mean");
    cJSON_AddNumberToObject(cost, "nfe", (double)rep.nfe);
    cJSON_AddNumberToObject(cost, "runs", (double)rep.runs);
    cJSON_AddNumberToObject(cost, "seconds", rep.seconds);
    cJSON *ca = cJSON_AddArrayToObject(out, "candidates");
    for (size_t i = 0; i < rep.n_candidates; i++) {
        cJSON *c = cJSON_CreateObject(), *at = cJSON_CreateArray();
        cJSON_AddItemToObject(c, "config", cJSON_Parse(rep.candidate_json[i]));
        for (size_t b = 0; b < nb; b++) {
            size_t k = b * rep.n_candidates + i;
            cJSON *p = cJSON_CreateObject();
            cJSON_AddNumberToObject(p, "nfe", (double)budgets[b]);
            cJSON_AddNumberToObject(p, "n", rep.count[k]);
            if (rep.count[k] && isfinite(rep.mean[k])) {
                cJSON_AddNumberToObject(p, "mean", rep.mean[k]);
                if (isfinite(rep.se[k]))
                    cJSON_AddNumberToObject(p, "se", rep.se[k]);
            }
            cJSON_AddItemToArray(at, p);
        }
        cJSON_AddItemToObject(c, "at", at);
        cJSON_AddItemToArray(ca, c);
    }
    printf("\ntuning on seeds %llu..%llu: %llu runs, %llu NFE, %.1f s (successive halving: "
           "a quarter of the seeds for every candidate, all of them for the better third)\n",
           (unsigned long long)S, (unsigned long long)(S + K - 1), (unsigned long long)rep.runs,
           (unsigned long long)rep.nfe, rep.seconds);
    printf("%-10s %-14s %-22s %-14s %s\n", "NFE", "range", "chosen", "mean ± SE", "runner-up");
    for (size_t b = 0; b < nb; b++) {
        its_policy_entry e;
        its_policy_entry_get(pol, b, &e);
        char range[64], ms[48], rs[96];
        if (e.nfe_hi == UINT64_MAX)
            snprintf(range, sizeof(range), "%llu..", (unsigned long long)e.nfe_lo);
        else
            snprintf(range, sizeof(range), "%llu..%llu", (unsigned long long)e.nfe_lo,
                     (unsigned long long)e.nfe_hi);
        snprintf(ms, sizeof(ms), "%.4g ± %.2g", e.mean, e.se);
        if (e.has_runner_up)
            snprintf(rs, sizeof(rs), "%s %.4g ± %.2g", its_method_name(e.runner_up),
                     e.runner_up_mean, e.runner_up_se);
        else
            snprintf(rs, sizeof(rs), "- (no other candidate)");
        printf("%-10llu %-14s %-22s %-15s %s\n", (unsigned long long)e.tuned_at, range,
               its_method_name(e.method), ms, rs);
    }

    if (KE) {
        /* held-out evaluation: every candidate, auto with the policy, the online mode */
        n_series = nc + 2;
        pts = calloc(n_series * nb, sizeof(tune_point));
        if (!pts)
            goto done;
        for (size_t i = 0; i < n_series * nb; i++)
            if (!(pts[i].scores = calloc(KE, sizeof(double))))
                goto done;
        size_t done_runs = 0, total = n_series * nb * KE;
        its_run_params req;
        its_run_params_init(&req);
        cJSON *series = cJSON_AddArrayToObject(out, "eval");
        for (size_t si = 0; si < n_series; si++) {
            cJSON *so = cJSON_CreateObject(), *pa = cJSON_CreateArray();
            const char *name;
            if (si < nc) {
                cJSON *cd = cJSON_Parse(cands[si]);
                name = cJSON_GetObjectItemCaseSensitive(cd, "sampler")->valuestring;
                cJSON_AddStringToObject(so, "name", name);
                cJSON_AddItemToObject(so, "config", cd);
            } else {
                name = si == nc ? "auto" : "auto_online";
                cJSON_AddStringToObject(so, "name", name);
            }
            for (size_t b = 0; b < nb; b++) {
                tune_point *pt = &pts[si * nb + b];
                its_sampler *s = NULL;
                its_status st;
                if (si < nc) {
                    st = its_tune_candidate_sampler(ctx, cands[si], strlen(cands[si]), NULL,
                                                    budgets[b], &s);
                } else {
                    its_auto_params ap;
                    its_auto_params_init(&ap);
                    if (si == nc)
                        ap.policy = pol;
                    its_run_params r = req;
                    r.max_nfe = budgets[b];
                    /* the command line's run fields (steps, ...) reach auto through its JSON */
                    cJSON *ad = cJSON_CreateObject();
                    cJSON_AddStringToObject(ad, "sampler", "auto");
                    cJSON *pp = cJSON_AddObjectToObject(ad, "params");
                    if (si == nc) {
                        cJSON_AddItemToObject(pp, "policy", cJSON_Parse(its_policy_to_json(pol)));
                    } else if (o->samplers) {
                        /* online mode picks among the methods tuning was limited to, the
                         * ones the oracle column covers */
                        char sbuf[1024], *names[64];
                        snprintf(sbuf, sizeof(sbuf), "%s", o->samplers);
                        size_t ns = cli_split(sbuf, names, 64);
                        cJSON *cl = cJSON_AddArrayToObject(pp, "candidates");
                        for (size_t i = 0; i < ns; i++)
                            cJSON_AddItemToArray(cl, cJSON_CreateString(names[i]));
                    }
                    cJSON *rr = user_run ? cJSON_Duplicate(user_run, 1) : cJSON_CreateObject();
                    cJSON *bo = cJSON_AddObjectToObject(rr, "budget");
                    cJSON_AddNumberToObject(bo, "max_nfe", (double)budgets[b]);
                    cJSON_AddItemToObject(ad, "run", rr);
                    char *txt = cJSON_PrintUnformatted(ad);
                    cJSON_Delete(ad);
                    st = its_sampler_from_json(ctx, txt, strlen(txt), &s);
                    free(txt);
                    (void)r;
                }
                if (st != ITS_OK) {
                    pt->error = strdup(its_ctx_errmsg(ctx));
                    pt->mean = pt->se = pt->nfe_used = NAN;
                    for (size_t k = 0; k < KE; k++)
                        pt->scores[k] = NAN;
                    done_runs += KE;
                } else {
                    tune_eval_sampler(ctx, s, &task, o, SE, KE, pt, &done_runs, total, name,
                                      budgets[b]);
                }
                its_sampler_free(s);
                cJSON_AddItemToArray(pa, tune_point_json(budgets[b], pt, KE));
            }
            cJSON_AddItemToObject(so, "points", pa);
            cJSON_AddItemToArray(series, so);
        }
        cli_progress(total, total, "done");
        cJSON *ev = cJSON_AddObjectToObject(out, "eval_seeds");
        cJSON_AddNumberToObject(ev, "seed", (double)SE);
        cJSON_AddNumberToObject(ev, "count", (double)KE);
        /* the table: auto and the best candidate per budget on the held-out seeds */
        printf("\nheld-out seeds %llu..%llu: verifier score, mean ± SE\n", (unsigned long long)SE,
               (unsigned long long)(SE + KE - 1));
        printf("%-10s %-16s %-16s %-16s %s\n", "NFE", "auto", "online", "oracle", "oracle is");
        for (size_t b = 0; b < nb; b++) {
            size_t best = SIZE_MAX;
            for (size_t i = 0; i < nc; i++)
                if (isfinite(pts[i * nb + b].mean) &&
                    (best == SIZE_MAX || pts[i * nb + b].mean > pts[best * nb + b].mean))
                    best = i;
            const tune_point *pa = &pts[nc * nb + b], *po = &pts[(nc + 1) * nb + b];
            char a1[48], a2[48], a3[48];
            snprintf(a1, sizeof(a1), "%.4g ± %.2g", pa->mean, pa->se);
            snprintf(a2, sizeof(a2), "%.4g ± %.2g", po->mean, po->se);
            snprintf(a3, sizeof(a3), "%.4g ± %.2g", best == SIZE_MAX ? NAN : pts[best * nb + b].mean,
                     best == SIZE_MAX ? NAN : pts[best * nb + b].se);
            printf("%-10llu %-17s %-17s %-17s %s\n", (unsigned long long)budgets[b], a1, a2, a3,
                   best == SIZE_MAX ? "-" : cands[best]);
        }
    }
    char *txt = cJSON_Print(out);
    if (!txt || tune_write(o->out, "tuning.json", txt) != 0) {
        free(txt);
        goto done;
    }
    free(txt);
    rc = 0;
done:
    for (size_t i = 0; pts && i < n_series * nb; i++) {
        free(pts[i].scores);
        free(pts[i].error);
    }
    free(pts);
    for (size_t i = 0; i < nc; i++)
        cJSON_free(cands[i]);
    its_policy_free(pol);
    cli_task_free(&task);
    cJSON_Delete(out);
    cJSON_Delete(user_run);
    cJSON_Delete(doc);
    cJSON_Delete(task_set);
    return rc;
}
