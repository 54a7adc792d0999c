#include "request.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Unknown keys and wrong types are 400s that name the key. */
int its_srv_parse_generate(const its_sched *s, const char *body, size_t len, its_sched_req *r,
                           char *err, size_t errcap)
{
    cJSON *o = cJSON_ParseWithLength(body, len);
    int ok = 0;
    if (!o || !cJSON_IsObject(o)) {
        snprintf(err, errcap, "body: expected a JSON object");
        goto done;
    }
    its_sched_req_init(r);
    r->task = 0;
    for (const cJSON *k = o->child; k; k = k->next) {
        const char *key = k->string;
        if (!strcmp(key, "task") || !strcmp(key, "profile")) {
            if (!cJSON_IsString(k)) {
                snprintf(err, errcap, "%s: expected a string", key);
                goto done;
            }
            int i = key[0] == 't' ? its_sched_task_index(s, k->valuestring)
                                  : its_sched_profile_index(s, k->valuestring);
            if (i < 0) {
                snprintf(err, errcap, "%s: unknown %s \"%.64s\"", key, key, k->valuestring);
                goto done;
            }
            if (key[0] == 't')
                r->task = i;
            else
                r->profile = i;
        } else if (!strcmp(key, "priority")) {
            if (!cJSON_IsNumber(k) || k->valuedouble != floor(k->valuedouble) ||
                fabs(k->valuedouble) > 1000) {
                snprintf(err, errcap, "priority: expected an integer in [-1000, 1000]");
                goto done;
            }
            r->priority = (int)k->valuedouble;
        } else if (!strcmp(key, "deadline_ms")) {
            if (!cJSON_IsNumber(k) || !(k->valuedouble >= 0 && k->valuedouble <= 3.6e6)) {
                snprintf(err, errcap, "deadline_ms: expected a number in [0, 3600000]");
                goto done;
            }
            r->deadline_ms = k->valuedouble;
        } else if (!strcmp(key, "seed")) {
            if (!cJSON_IsNumber(k) || k->valuedouble != floor(k->valuedouble) ||
                !(k->valuedouble >= 0 && k->valuedouble <= 9007199254740992.0)) {
                snprintf(err, errcap, "seed: expected an integer in [0, 2^53]");
                goto done;
            }
            r->seed = (uint64_t)k->valuedouble;
        } else {
            snprintf(err, errcap, "%.64s: unknown key", key);
            goto done;
        }
    }
    ok = 1;
done:
    cJSON_Delete(o);
    return ok;
}
