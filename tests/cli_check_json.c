/* Checks the itscale CLI's JSON files: `check_json run FILE METRIC...` for `itscale run --json`
 * (every result key and the task metrics), `check_json curves FILE` for bench's curves.json. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

static int need(const cJSON *o, const char *key, const char *where)
{
    if (cJSON_GetObjectItemCaseSensitive(o, key))
        return 0;
    fprintf(stderr, "check_json: %s lacks \"%s\"\n", where, key);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: check_json run|curves FILE [METRIC...]\n");
        return 2;
    }
    FILE *f = fopen(argv[2], "rb");
    if (!f) {
        fprintf(stderr, "check_json: cannot open %s\n", argv[2]);
        return 1;
    }
    static char buf[1 << 22];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    cJSON *doc = cJSON_ParseWithLength(buf, n);
    if (!doc || !cJSON_IsObject(doc)) {
        fprintf(stderr, "check_json: %s does not parse as a JSON object\n", argv[2]);
        return 1;
    }
    int bad = 0;
    if (strcmp(argv[1], "run") == 0) {
        const char *keys[] = {"sampler", "config", "seed", "usage", "budget", "best", "topk",
                              "time", "trace", "steps", "status", "stop", "metrics", "task"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            bad |= need(doc, keys[i], "result");
        const char *usage[] = {"nfe", "model_calls", "verifier_rows", "verifier_calls",
                               "grad_rows"};
        for (size_t i = 0; i < 5; i++)
            bad |= need(cJSON_GetObjectItemCaseSensitive(doc, "usage"), usage[i], "usage");
        const char *tk[] = {"total_s", "model_s", "verifier_s", "library_s"};
        for (size_t i = 0; i < 4; i++)
            bad |= need(cJSON_GetObjectItemCaseSensitive(doc, "time"), tk[i], "time");
        bad |= need(cJSON_GetObjectItemCaseSensitive(doc, "best"), "score", "best");
        bad |= need(cJSON_GetObjectItemCaseSensitive(doc, "budget"), "max_nfe", "budget");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "metrics");
        for (int i = 3; i < argc; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, argv[i]);
            if (!cJSON_IsNumber(v)) {
                fprintf(stderr, "check_json: metric \"%s\" missing or not a number\n", argv[i]);
                bad = 1;
            }
        }
    } else if (strcmp(argv[1], "curves") == 0) {
        const char *keys[] = {"task", "seeds", "nfe", "metrics", "curves"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            bad |= need(doc, keys[i], "curves");
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "curves");
        int nn = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "nfe"));
        if (!cJSON_IsArray(c) || cJSON_GetArraySize(c) < 1 || nn < 1) {
            fprintf(stderr, "check_json: no curves\n");
            bad = 1;
        }
        const cJSON *cv;
        cJSON_ArrayForEach(cv, c)
        {
            const cJSON *pts = cJSON_GetObjectItemCaseSensitive(cv, "points"), *pt;
            if (cJSON_GetArraySize(pts) != nn) {
                fprintf(stderr, "check_json: a curve has %d points, expected %d\n",
                        cJSON_GetArraySize(pts), nn);
                bad = 1;
            }
            cJSON_ArrayForEach(pt, pts)
            {
                const cJSON *sc = cJSON_GetObjectItemCaseSensitive(pt, "score");
                if (!cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(sc, "mean")) ||
                    !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(sc, "se"))) {
                    fprintf(stderr, "check_json: a point lacks score mean/se\n");
                    bad = 1;
                }
            }
        }
    } else {
        fprintf(stderr, "check_json: unknown mode %s\n", argv[1]);
        bad = 2;
    }
    cJSON_Delete(doc);
    return bad;
}
