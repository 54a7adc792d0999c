/* The scheduler's JSON document (profiles, SLA, queue) and its enum names. */
#include <assert.h>
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "sched/sched_internal.h"

static const char *const its_admit_names[] = {"ok", "queue_full", "closed", "invalid", "nomem"};
static_assert(ITS_ARRAY_LEN(its_admit_names) == ITS_ADMIT_COUNT_, "admit names incomplete");
static const char *const its_outcome_names[] = {"pending", "done", "shed", "cancelled", "failed"};
static_assert(ITS_ARRAY_LEN(its_outcome_names) == ITS_OUTCOME_COUNT_, "outcome names incomplete");

const char *its_sched_admit_name(its_sched_admit v)
{
    return (unsigned)v < ITS_ADMIT_COUNT_ ? its_admit_names[v] : NULL;
}

its_status its_sched_admit_parse(const char *s, its_sched_admit *out)
{
    for (int i = 0; s && out && i < ITS_ADMIT_COUNT_; i++)
        if (strcmp(s, its_admit_names[i]) == 0) {
            *out = (its_sched_admit)i;
            return ITS_OK;
        }
    return ITS_ERR_INVALID;
}

const char *its_sched_outcome_name(its_sched_outcome v)
{
    return (unsigned)v < ITS_OUTCOME_COUNT_ ? its_outcome_names[v] : NULL;
}

its_status its_sched_outcome_parse(const char *s, its_sched_outcome *out)
{
    for (int i = 0; s && out && i < ITS_OUTCOME_COUNT_; i++)
        if (strcmp(s, its_outcome_names[i]) == 0) {
            *out = (its_sched_outcome)i;
            return ITS_OK;
        }
    return ITS_ERR_INVALID;
}

/* A non-negative number field (absent: leaves *out alone). */
static its_status its_json_num(its_ctx *ctx, const cJSON *o, const char *key, double lo, double hi,
                               double *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return ITS_OK;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi))
        return its_error(ctx, ITS_ERR_CONFIG, "sched.%s: expected a number in [%g, %g]", key, lo,
                         hi);
    *out = v->valuedouble;
    return ITS_OK;
}

its_status its_sched_params_from_json(its_ctx *ctx, const char *json, size_t len,
                                      its_sched_params *p, char **store)
{
    if (!json || !p || !store)
        return its_error(ctx, ITS_ERR_INVALID, "sched json: NULL argument");
    *store = NULL;
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root)
        return its_error(ctx, ITS_ERR_CONFIG, "sched json: not valid JSON");
    its_status st = ITS_OK;
    char *texts[ITS_SCHED_MAX_PROFILES] = {0};
    size_t total = 0;
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        if (!it->string || (strcmp(it->string, "profiles") && strcmp(it->string, "sla_p95_ms") &&
                            strcmp(it->string, "queue_cap") && strcmp(it->string, "workers"))) {
            st = its_error(ctx, ITS_ERR_CONFIG, "sched.%s: unknown key",
                           it->string ? it->string : "?");
            goto done;
        }
    }
    const cJSON *profs = cJSON_GetObjectItemCaseSensitive(root, "profiles");
    if (!cJSON_IsArray(profs) || cJSON_GetArraySize(profs) < 1 ||
        cJSON_GetArraySize(profs) > ITS_SCHED_MAX_PROFILES) {
        st = its_error(ctx, ITS_ERR_CONFIG, "sched.profiles: expected an array of 1 .. %d profiles",
                       ITS_SCHED_MAX_PROFILES);
        goto done;
    }
    cJSON_ArrayForEach(it, profs)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(it, "config");
        const cJSON *nfe = cJSON_GetObjectItemCaseSensitive(it, "nfe");
        if (!cJSON_IsString(name) || !name->valuestring[0] ||
            strlen(name->valuestring) >= ITS_SCHED_NAME_CAP) {
            st = its_error(ctx, ITS_ERR_CONFIG,
                           "sched.profiles[%d].name: expected a string of 1 .. %d characters", n,
                           ITS_SCHED_NAME_CAP - 1);
            goto done;
        }
        if (!cJSON_IsObject(cfg)) {
            st = its_error(ctx, ITS_ERR_CONFIG, "sched.profiles[%d].config: expected an object", n);
            goto done;
        }
        if (nfe && (!cJSON_IsNumber(nfe) || !(nfe->valuedouble >= 1 && nfe->valuedouble <= 1e12))) {
            st = its_error(ctx, ITS_ERR_CONFIG, "sched.profiles[%d].nfe: expected a number >= 1",
                           n);
            goto done;
        }
        for (const cJSON *k = it->child; k; k = k->next)
            if (strcmp(k->string, "name") && strcmp(k->string, "config") && strcmp(k->string, "nfe")) {
                st = its_error(ctx, ITS_ERR_CONFIG, "sched.profiles[%d].%s: unknown key", n,
                               k->string);
                goto done;
            }
        if (!(texts[n] = cJSON_PrintUnformatted(cfg))) {
            st = its_error(ctx, ITS_ERR_NOMEM, "sched json: out of memory");
            goto done;
        }
        total += strlen(texts[n]) + 1;
        its_sched_profile *pr = &p->profiles[n];
        memset(pr, 0, sizeof(*pr));
        memcpy(pr->name, name->valuestring, strlen(name->valuestring) + 1);
        pr->nfe = nfe ? (uint64_t)nfe->valuedouble : 0;
        n++;
    }
    double sla = p->sla_p95_ms, cap = (double)p->queue_cap, workers = (double)p->workers;
    if ((st = its_json_num(ctx, root, "sla_p95_ms", 0, 1e9, &sla)) != ITS_OK ||
        (st = its_json_num(ctx, root, "queue_cap", 1, 1 << 20, &cap)) != ITS_OK ||
        (st = its_json_num(ctx, root, "workers", 1, 256, &workers)) != ITS_OK)
        goto done;
    if (cap != floor(cap) || workers != floor(workers)) {
        st = its_error(ctx, ITS_ERR_CONFIG, "sched.queue_cap, sched.workers: expected integers");
        goto done;
    }
    /* one buffer holds every config text, so the caller frees one pointer */
    char *buf = its_malloc(ctx, total ? total : 1);
    if (!buf) {
        st = ITS_ERR_NOMEM;
        goto done;
    }
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(texts[i]) + 1;
        memcpy(buf + off, texts[i], l);
        p->profiles[i].config_json = buf + off;
        off += l;
    }
    p->n_profiles = n;
    p->sla_p95_ms = sla;
    p->queue_cap = (size_t)cap;
    p->workers = (unsigned)workers;
    *store = buf;
done:
    for (int i = 0; i < ITS_SCHED_MAX_PROFILES; i++)
        cJSON_free(texts[i]);
    cJSON_Delete(root);
    return st;
}
