/* A result as JSON: what ran (sampler, effective config, seed), what it cost (usage, time,
 * per-step budget), what it found (best, top-k scores, the anytime trace) and why it ended. */
#include <math.h>
#include <stdio.h>

#include "config/config.h"
#include "engine/result.h"

/* Non-finite scores (-inf = rejected, NaN = unscored) are written as null. */
static cJSON *rj_num(double v) { return its_cfg_number(v); }

static int rj_add(cJSON *o, const char *key, cJSON *v)
{
    if (!v)
        return -1;
    if (!cJSON_AddItemToObject(o, key, v)) {
        cJSON_Delete(v);
        return -1;
    }
    return 0;
}

static int rj_u64(cJSON *o, const char *key, uint64_t v)
{
    /* JSON numbers keep integers exactly up to 2^53; larger ones go out as decimal strings */
    if ((double)v <= ITS_CFG_MAX_INT)
        return rj_add(o, key, its_cfg_number((double)v));
    char buf[24];
    snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
    return rj_add(o, key, cJSON_CreateString(buf));
}

static cJSON *rj_build(const its_result *r)
{
    cJSON *root = cJSON_CreateObject(), *o, *a;
    if (!root)
        return NULL;
    const its_usage *u = &r->usage;
    if (rj_add(root, "sampler", cJSON_CreateString(its_method_name(r->vt->method))) ||
        rj_add(root, "config", its_cfg_to_cjson(r->vt, r->params, &r->run)) ||
        rj_u64(root, "seed", r->seed) ||
        rj_add(root, "status", cJSON_CreateString(its_status_str(r->status))) ||
        rj_add(root, "stop", cJSON_CreateString(its_stop_name(r->stop))) ||
        rj_add(root, "anytime", cJSON_CreateBool(r->anytime)) ||
        rj_add(root, "dim", its_cfg_number((double)r->dim)) ||
        rj_add(root, "count", its_cfg_number((double)r->count)))
        goto fail;

    if (!(o = cJSON_AddObjectToObject(root, "usage")) || rj_u64(o, "nfe", u->nfe) ||
        rj_u64(o, "model_calls", u->model_calls) || rj_u64(o, "verifier_rows", u->verifier_rows) ||
        rj_u64(o, "verifier_calls", u->verifier_calls) || rj_u64(o, "grad_rows", u->grad_rows) ||
        rj_u64(o, "grad_calls", u->grad_calls))
        goto fail;

    if (!(o = cJSON_AddObjectToObject(root, "budget")) || rj_u64(o, "max_nfe", r->run.max_nfe) ||
        rj_u64(o, "max_verifier_rows", r->run.max_verifier_rows) ||
        rj_add(o, "deadline_ms", its_cfg_number(r->run.deadline_ms)))
        goto fail;

    if (!(o = cJSON_AddObjectToObject(root, "best")) ||
        rj_add(o, "score", r->count ? rj_num(r->scores[0]) : cJSON_CreateNull()) ||
        (r->count ? rj_u64(o, "nfe", r->found_nfe[0]) : rj_add(o, "nfe", cJSON_CreateNull())))
        goto fail;

    if (!(a = cJSON_AddArrayToObject(root, "topk")))
        goto fail;
    for (size_t i = 0; i < r->count; i++) {
        cJSON *v = rj_num(r->scores[i]);
        if (!v || !cJSON_AddItemToArray(a, v)) {
            cJSON_Delete(v);
            goto fail;
        }
    }

    if (!(o = cJSON_AddObjectToObject(root, "time")) ||
        rj_add(o, "total_s", its_cfg_number(u->total_s)) ||
        rj_add(o, "model_s", its_cfg_number(u->model_s)) ||
        rj_add(o, "verifier_s", its_cfg_number(u->verifier_s)) ||
        rj_add(o, "library_s", its_cfg_number(u->library_s)))
        goto fail;

    if (!(a = cJSON_AddArrayToObject(root, "trace")))
        goto fail;
    for (size_t i = 0; i < r->n_trace; i++) {
        cJSON *pt = cJSON_CreateArray();
        if (!pt || !cJSON_AddItemToArray(a, pt)) {
            cJSON_Delete(pt);
            goto fail;
        }
        cJSON *n = its_cfg_number((double)r->trace[i].nfe), *b = rj_num(r->trace[i].best);
        if (!n || !cJSON_AddItemToArray(pt, n)) {
            cJSON_Delete(n);
            cJSON_Delete(b);
            goto fail;
        }
        if (!b || !cJSON_AddItemToArray(pt, b)) {
            cJSON_Delete(b);
            goto fail;
        }
    }

    if (!(a = cJSON_AddArrayToObject(root, "steps")))
        goto fail;
    for (size_t i = 0; i < r->n_steps; i++) {
        const its_step_usage *s = &r->steps[i];
        cJSON *so = cJSON_CreateObject();
        if (!so || !cJSON_AddItemToArray(a, so)) {
            cJSON_Delete(so);
            goto fail;
        }
        if (rj_add(so, "step", its_cfg_number(s->step)) ||
            rj_add(so, "t", its_cfg_number(s->t)) ||
            rj_add(so, "quota", its_cfg_number((double)s->quota)) ||
            rj_add(so, "used", its_cfg_number((double)s->used)))
            goto fail;
    }
    if (r->auto_json && rj_add(root, "auto", cJSON_Parse(r->auto_json)))
        goto fail;
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

const char *its_result_to_json(its_result *r)
{
    if (!r)
        return NULL;
    cJSON *root = rj_build(r);
    char *txt = its_cfg_print(r->ctx, root);
    cJSON_Delete(root);
    if (!txt)
        return NULL;
    its_mfree(r->ctx, r->json);
    r->json = txt;
    return r->json;
}
