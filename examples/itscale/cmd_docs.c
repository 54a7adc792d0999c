/* `itscale samplers --markdown`: the parameter tables of README.md, generated from the library's
 * public parameter metadata and cost model, so the documentation cannot drift from what the
 * library validates (the cli_readme_tables test compares). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "itscale.h"

/* Prints a table cell: '|' would end the cell, so it is escaped. */
static void cli_md_cell(const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputc('\\', stdout);
        fputc(*s, stdout);
    }
}

static const char *str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

int cli_cmd_docs(const cli_opts *o)
{
    char steps[32];
    if (!cli_minimum_steps(o, steps, sizeof(steps))) {
        cli_err("--set run.steps: expected a whole number in [1, 100000]");
        return 2;
    }
    cJSON *doc = cli_params_doc();
    if (!doc)
        return 1;
    const cJSON *methods = cJSON_GetObjectItemCaseSensitive(doc, "methods"), *meth, *p;
    printf("| sampler | parameter | default | range | meaning |\n|---|---|---|---|---|\n");
    cJSON_ArrayForEach(meth, methods)
    {
        const cJSON *params = cJSON_GetObjectItemCaseSensitive(meth, "params");
        if (cJSON_GetArraySize(params) == 0)
            printf("| `%s` | — | | | %s |\n", meth->string, str(meth, "summary"));
        int first = 1;
        cJSON_ArrayForEach(p, params)
        {
            char def[64], range[256];
            cli_param_text(p, def, sizeof(def), range, sizeof(range));
            printf("| %s%s%s | `%s` | `%s` | %s | ", first ? "`" : "", first ? meth->string : "",
                   first ? "`" : "", str(p, "name"), def, range);
            cli_md_cell(str(p, "doc"));
            printf(" |\n");
            first = 0;
        }
    }
    printf("\n| run key | default | expected | meaning |\n|---|---|---|---|\n");
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "run"))
    {
        char def[160], range[256], expect[256];
        cli_param_text(p, def, sizeof(def), range, sizeof(range));
        cli_param_expect(p, expect, sizeof(expect));
        printf("| `run.%s` | `%s` | ", str(p, "name"), def);
        cli_md_cell(expect);
        printf(" | ");
        cli_md_cell(str(p, "doc"));
        printf(" |\n");
    }
    printf("\n| sampler | scaled to a budget | least NFE at %s steps | most NFE with its defaults |\n"
           "|---|---|---|---|\n", steps);
    cJSON_ArrayForEach(meth, methods)
    {
        printf("| `%s` | ", meth->string);
        cli_md_cell(str(meth, "scale_rule"));
        its_method m;
        unsigned long long mn = 0, pl = 0;
        if (its_method_parse(meth->string, &m) == ITS_OK &&
            cli_method_minimum(m, steps, &mn, &pl) == 0) {
            printf(" | %llu | ", mn);
            if (pl)
                printf("%llu |\n", pl);
            else
                printf("sized by the cap |\n");
        } else {
            printf(" | | |\n");
        }
    }
    cJSON_Delete(doc);
    return 0;
}
