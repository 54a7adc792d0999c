/* `itscale samplers`: every method with its parameters (default, range, meaning), its rule for
 * scaling to a budget, and the run parameters every method shares. The Markdown form of the
 * same tables is cmd_docs.c. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config/config.h"
#include "itscale.h"
#include "samplers/sampler.h"

void cli_range_text(const its_param_desc *d, char *buf, size_t cap)
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

void cli_run_default_text(const cJSON *def, const char *path, char *buf, size_t cap)
{
    /* the default from the writer, so the listing shows what to_json writes */
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(def, "run");
    char key[64];
    const char *p = path, *dot;
    while (v && (dot = strchr(p, '.'))) {
        snprintf(key, sizeof(key), "%.*s", (int)(dot - p), p);
        v = cJSON_GetObjectItemCaseSensitive(v, key);
        p = dot + 1;
    }
    v = v ? cJSON_GetObjectItemCaseSensitive(v, p) : NULL;
    buf[0] = 0;
    if (v) {
        char *t = cJSON_PrintUnformatted(v);
        if (t)
            snprintf(buf, cap, "%s", t);
        cJSON_free(t);
    } else {
        snprintf(buf, cap, "(none)");
    }
}

cJSON *cli_run_defaults(void)
{
    its_run_params run;
    its_run_params_init(&run);
    return its_cfg_to_cjson(its_method_vt_get(ITS_METHOD_NONE), NULL, &run);
}

int cli_cmd_samplers(const cli_opts *o)
{
    if (o->markdown)
        return cli_cmd_docs(o);
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
        printf("%-18s %s\n", its_method_name(vt->method), vt->summary ? vt->summary : "");
        for (size_t i = 0; i < vt->n_desc; i++) {
            char def[64], range[256];
            its_cfg_desc_value(&vt->desc[i], p, def, sizeof(def));
            cli_range_text(&vt->desc[i], range, sizeof(range));
            printf("    %-14s %-12s %-28s %s\n", vt->desc[i].name, def, range,
                   vt->desc[i].doc ? vt->desc[i].doc : "");
        }
        const cli_scale *sc = cli_scale_find(its_method_name(vt->method));
        printf("    bench scaling: %s\n", sc ? sc->rule : "only the cap is set");
        free(p);
    }
    /* run parameters, shared by every method */
    size_t nf;
    const its_cfg_field *f = its_cfg_run_fields(&nf);
    cJSON *def = cli_run_defaults();
    printf("\nrun parameters (\"run\": {...}, e.g. --set run.steps=10):\n");
    for (size_t i = 0; i < nf; i++) {
        char expect[256], dval[160];
        its_cfg_field_expect(&f[i], expect, sizeof(expect));
        cli_run_default_text(def, f[i].path, dval, sizeof(dval));
        printf("    %-28s %-10s %s; %s\n", f[i].path, dval, f[i].doc, expect);
    }
    cJSON_Delete(def);
    return 0;
}
