/* `itscale samplers`: every method with its parameters (default, range, meaning), its rule for
 * scaling to a budget and its minimum, and the run parameters every method shares, all from the
 * library's public parameter metadata and cost model. The Markdown form is cmd_docs.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "itscale.h"

cJSON *cli_params_doc(void)
{
    its_ctx *ctx = NULL;
    char *txt = NULL;
    cJSON *doc = NULL;
    if (its_ctx_create(NULL, &ctx) == ITS_OK && its_params_json(ctx, &txt) == ITS_OK)
        doc = cJSON_Parse(txt);
    its_ctx_mem_free(ctx, txt);
    its_ctx_free(ctx);
    if (!doc)
        cli_err("the parameter metadata could not be read (out of memory)");
    return doc;
}

void cli_param_text(const cJSON *p, char *def, size_t defcap, char *range, size_t rcap)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, "default");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    char *dt = d && !cJSON_IsNull(d) ? cJSON_PrintUnformatted(d) : NULL;
    snprintf(def, defcap, "%s", dt ? dt : "(none)");
    cJSON_free(dt);
    const cJSON *lo = cJSON_GetObjectItemCaseSensitive(p, "min");
    const cJSON *hi = cJSON_GetObjectItemCaseSensitive(p, "max");
    int open = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "min_open"));
    range[0] = 0;
    if (!strcmp(t, "enum")) {
        size_t o = 0;
        const cJSON *c;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(p, "choices"))
            if (o < rcap)
                o += (size_t)snprintf(range + o, rcap - o, "%s%s", o ? ", " : "", c->valuestring);
    } else if (!strcmp(t, "bool")) {
        snprintf(range, rcap, "true, false");
    } else if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi)) {
        snprintf(range, rcap, "%s%g, %g]", open ? "(" : "[", lo->valuedouble, hi->valuedouble);
    } else if (cJSON_IsNumber(lo)) {
        snprintf(range, rcap, "%s %g", open ? ">" : ">=", lo->valuedouble);
    } else if (!strcmp(t, "array")) {
        snprintf(range, rcap, "array of numbers");
    } else if (!strcmp(t, "interp")) {
        snprintf(range, rcap, "\"model\", an interpolant name, or {\"kind\": name, ...}");
    }
}

void cli_param_expect(const cJSON *p, char *buf, size_t cap)
{
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(p, "type");
    const char *t = cJSON_IsString(type) ? type->valuestring : "";
    const cJSON *lo = cJSON_GetObjectItemCaseSensitive(p, "min");
    const cJSON *hi = cJSON_GetObjectItemCaseSensitive(p, "max");
    int open = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "min_open"));
    const char *what = !strcmp(t, "int") ? "integer" : "number";
    buf[0] = 0;
    if (!strcmp(t, "enum")) {
        size_t o = (size_t)snprintf(buf, cap, "one of ");
        const cJSON *c;
        int first = 1;
        cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(p, "choices"))
        {
            if (o < cap)
                o += (size_t)snprintf(buf + o, cap - o, "%s\"%s\"", first ? "" : ", ", c->valuestring);
            first = 0;
        }
    } else if (!strcmp(t, "bool")) {
        snprintf(buf, cap, "true or false");
    } else if (!strcmp(t, "array")) {
        snprintf(buf, cap, "array of numbers");
    } else if (!strcmp(t, "interp")) {
        snprintf(buf, cap, "\"model\", an interpolant name, or {\"kind\": name, parameters}");
    } else if (cJSON_IsNumber(lo) && cJSON_IsNumber(hi)) {
        snprintf(buf, cap, "%s in %s%g, %g]", what, open ? "(" : "[", lo->valuedouble,
                 hi->valuedouble);
    } else if (cJSON_IsNumber(lo)) {
        snprintf(buf, cap, "%s %s %g", what, open ? ">" : ">=", lo->valuedouble);
    } else {
        snprintf(buf, cap, "%s", what);
    }
}

int cli_method_minimum(its_method m, const char *steps, unsigned long long *minimum,
                       unsigned long long *planned)
{
    its_run_params run;
    its_run_params_init(&run);
    run.steps = atoi(steps);
    if (cli_method_wants_sde(its_method_name(m)))
        run.dynamics = ITS_DYN_SDE; /* as the CLI runs it */
    its_ctx *ctx = NULL;
    its_cost c;
    int ok = its_ctx_create(NULL, &ctx) == ITS_OK;
    its_status st = ok ? its_cost_plan(ctx, m, NULL, &run, &c) : ITS_ERR_NOMEM;
    if (ok && st != ITS_OK) {
        /* a method that sizes itself from the cap: its minimum does not depend on the cap */
        run.max_nfe = (uint64_t)1 << 40;
        st = its_cost_plan(ctx, m, NULL, &run, &c);
        c.needs_cap = 1;
    }
    ok = ok && st == ITS_OK;
    if (ok) {
        *minimum = c.minimum;
        *planned = c.needs_cap ? 0 : c.planned;
    }
    its_ctx_free(ctx);
    return ok ? 0 : -1;
}

/* --set run.steps=T: the T the minimums are computed for ("20" by default). */
const char *cli_minimum_steps(const cli_opts *o, char *buf, size_t cap)
{
    snprintf(buf, cap, "20");
    for (size_t i = 0; i < o->n_sets; i++)
        if (!strncmp(o->sets[i], "run.steps=", 10)) {
            uint64_t v;
            if (cli_parse_u64(o->sets[i] + 10, 100000, &v) != 0 || v == 0)
                return NULL;
            snprintf(buf, cap, "%llu", (unsigned long long)v);
        }
    return buf;
}

int cli_cmd_samplers(const cli_opts *o)
{
    for (size_t i = 0; i < o->n_sets; i++)
        if (strncmp(o->sets[i], "run.steps=", 10) != 0) {
            cli_err("--set: samplers reads only run.steps=T, got \"%s\"", o->sets[i]);
            return 2;
        }
    if (o->markdown)
        return cli_cmd_docs(o);
    char steps[32];
    if (!cli_minimum_steps(o, steps, sizeof(steps))) {
        cli_err("--set run.steps: expected a whole number in [1, 100000]");
        return 2;
    }
    cJSON *doc = cli_params_doc();
    if (!doc)
        return 1;
    const cJSON *meth;
    int w = 14; /* the longest parameter name, for the columns */
    cJSON_ArrayForEach(meth, cJSON_GetObjectItemCaseSensitive(doc, "methods"))
    {
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(meth, "params"))
        {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
            if (cJSON_IsString(name) && (int)strlen(name->valuestring) > w)
                w = (int)strlen(name->valuestring);
        }
    }
    cJSON_ArrayForEach(meth, cJSON_GetObjectItemCaseSensitive(doc, "methods"))
    {
        const cJSON *sum = cJSON_GetObjectItemCaseSensitive(meth, "summary");
        printf("%-18s %s\n", meth->string, cJSON_IsString(sum) ? sum->valuestring : "");
        const cJSON *p;
        cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(meth, "params"))
        {
            char def[64], range[256];
            cli_param_text(p, def, sizeof(def), range, sizeof(range));
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, "doc");
            printf("    %-*s %-12s %-28s %s\n", w, name->valuestring, def, range,
                   cJSON_IsString(d) ? d->valuestring : "");
        }
        const cJSON *rule = cJSON_GetObjectItemCaseSensitive(meth, "scale_rule");
        printf("    scaled to a budget: %s\n", cJSON_IsString(rule) ? rule->valuestring : "");
        its_method m;
        unsigned long long mn, pl;
        if (its_method_parse(meth->string, &m) == ITS_OK &&
            cli_method_minimum(m, steps, &mn, &pl) == 0) {
            printf("    at %s steps with its defaults: needs at least %llu NFE", steps, mn);
            if (pl)
                printf(", spends at most %llu", pl);
            printf("\n");
        }
    }
    printf("%-18s %s\n", "auto",
           "one of the methods above, sized to the budget, chosen by a policy (params.policy, "
           "as itscale tune writes it) or by pilot runs (params.pilot_share); see README, "
           "\"Choosing the method for a budget\"");
    printf("\nrun parameters (\"run\": {...}, e.g. --set run.steps=10):\n");
    const cJSON *p;
    cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(doc, "run"))
    {
        char def[160], range[256], expect[256];
        cli_param_text(p, def, sizeof(def), range, sizeof(range));
        cli_param_expect(p, expect, sizeof(expect));
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(p, "doc");
        printf("    %-28s %-10s %s; %s\n", name->valuestring, def,
               cJSON_IsString(d) ? d->valuestring : "", expect);
    }
    cJSON_Delete(doc);
    return 0;
}
