/* `itscale samplers --markdown`: the parameter tables of README.md, generated from the same
 * descriptor tables the library validates with, so the documentation cannot drift from them
 * (the cli_readme_tables test compares). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config/config.h"
#include "itscale.h"
#include "samplers/sampler.h"

/* Prints a table cell: '|' would end the cell, so it is escaped. */
static void cli_md_cell(const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputc('\\', stdout);
        fputc(*s, stdout);
    }
}

int cli_cmd_docs(const cli_opts *o)
{
    (void)o;
    printf("| sampler | parameter | default | range | meaning |\n|---|---|---|---|---|\n");
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
        if (vt->n_desc == 0)
            printf("| `%s` | — | | | %s |\n", its_method_name(vt->method),
                   vt->summary ? vt->summary : "");
        for (size_t i = 0; i < vt->n_desc; i++) {
            char def[64], range[256];
            its_cfg_desc_value(&vt->desc[i], p, def, sizeof(def));
            cli_range_text(&vt->desc[i], range, sizeof(range));
            printf("| %s%s%s | `%s` | `%s` | %s | ", i == 0 ? "`" : "",
                   i == 0 ? its_method_name(vt->method) : "", i == 0 ? "`" : "",
                   vt->desc[i].name, def, range);
            cli_md_cell(vt->desc[i].doc);
            printf(" |\n");
        }
        free(p);
    }
    /* run parameters, shared by every method */
    size_t nf;
    const its_cfg_field *f = its_cfg_run_fields(&nf);
    cJSON *def = cli_run_defaults();
    printf("\n| run key | default | expected | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < nf; i++) {
        char expect[256], dval[160];
        its_cfg_field_expect(&f[i], expect, sizeof(expect));
        cli_run_default_text(def, f[i].path, dval, sizeof(dval));
        printf("| `run.%s` | `%s` | ", f[i].path, dval);
        cli_md_cell(expect);
        printf(" | ");
        cli_md_cell(f[i].doc);
        printf(" |\n");
    }
    cJSON_Delete(def);
    printf("\n| sampler | bench: scale to budget |\n|---|---|\n");
    for (size_t i = 0; i < cli_n_scales; i++) {
        printf("| `%s` | ", cli_scales[i].method);
        cli_md_cell(cli_scales[i].rule);
        printf(" |\n");
    }
    return 0;
}
