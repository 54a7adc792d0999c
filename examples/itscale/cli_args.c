/* Flags of the itscale command-line tool: one table for every command; each command accepts
 * the flags in its mask (main.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef struct cli_flag {
    const char *name;
    unsigned bit;
    int takes_value;
} cli_flag;

static const cli_flag cli_flags[] = {
    {"--task", CLI_F_TASK, 1},         {"--sampler", CLI_F_SAMPLER, 1},
    {"--samplers", CLI_F_SAMPLERS, 1}, {"--nfe", CLI_F_NFE, 1},
    {"--seed", CLI_F_SEED, 1},         {"--seeds", CLI_F_SEEDS, 1},
    {"--set", CLI_F_SET, 1},           {"--config", CLI_F_CONFIG, 1},
    {"--out", CLI_F_OUT, 1},           {"--json", CLI_F_JSON, 0},
    {"--markdown", CLI_F_MARKDOWN, 0}, {"--cap-only", CLI_F_CAP_ONLY, 0},
    {"--png", CLI_F_PNG, 1},
    {"--eval-seeds", CLI_F_EVAL_SEEDS, 1}, {"--eval-seed", CLI_F_EVAL_SEED, 1},
    {"--select", CLI_F_SELECT, 1},
};

int cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

size_t cli_split(char *s, char **parts, size_t max)
{
    size_t n = 0;
    for (char *tok = strtok(s, ","); tok && n < max; tok = strtok(NULL, ","))
        parts[n++] = tok;
    return n;
}

int cli_list_ok(const char *opt, const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || s[0] == ',' || s[n - 1] == ',' || strstr(s, ",,")) {
        cli_err("%s: an empty entry in \"%s\"", opt, s);
        return 0;
    }
    return 1;
}

int cli_parse_args(int argc, char **argv, int first, const char *cmd, unsigned accepted,
                   cli_opts *o)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return -1;
        const cli_flag *fl = NULL;
        for (size_t j = 0; j < sizeof(cli_flags) / sizeof(cli_flags[0]); j++)
            if (strcmp(a, cli_flags[j].name) == 0)
                fl = &cli_flags[j];
        const char *v = NULL;
        if (fl && fl->takes_value) {
            if (i + 1 >= argc) {
                cli_err("%s needs a value", a);
                return 2;
            }
            v = argv[++i];
        }
        if (!fl || !(accepted & fl->bit)) {
            cli_err("%s: unknown option for \"%s\" (see itscale --help)", a, cmd);
            return 2;
        }
        switch (fl->bit) {
        case CLI_F_TASK: o->task_name = v; break;
        case CLI_F_SAMPLER: o->sampler = v; break;
        case CLI_F_SAMPLERS: o->samplers = v; break;
        case CLI_F_NFE: o->nfe = v; break;
        case CLI_F_SET: o->sets[o->n_sets++] = v; break;
        case CLI_F_CONFIG: o->config_file = v; break;
        case CLI_F_OUT: o->out = v; break;
        case CLI_F_PNG: o->png = v; break;
        case CLI_F_JSON: o->json = 1; break;
        case CLI_F_MARKDOWN: o->markdown = 1; break;
        case CLI_F_CAP_ONLY: o->cap_only = 1; break;
        case CLI_F_SEED:
            if (cli_parse_u64(v, UINT64_MAX, &o->seed) != 0) {
                cli_err("--seed: expected a whole number >= 0, got \"%s\"", v);
                return 2;
            }
            break;
        case CLI_F_SEEDS:
            if (cli_parse_u64(v, 100000, &o->seeds) != 0 || o->seeds < 1) {
                cli_err("--seeds: expected a whole number in [1, 100000], got \"%s\"", v);
                return 2;
            }
            break;
        case CLI_F_EVAL_SEEDS:
            if (cli_parse_u64(v, 100000, &o->eval_seeds) != 0) {
                cli_err("--eval-seeds: expected a whole number in [0, 100000], got \"%s\"", v);
                return 2;
            }
            break;
        case CLI_F_SELECT:
            if (strcmp(v, "mean") == 0)
                o->select = 0;
            else if (strcmp(v, "lcb") == 0)
                o->select = 1;
            else {
                cli_err("--select: expected mean or lcb, got \"%s\"", v);
                return 2;
            }
            break;
        case CLI_F_EVAL_SEED:
            if (cli_parse_u64(v, UINT64_MAX / 2, &o->eval_seed) != 0) {
                cli_err("--eval-seed: expected a whole number >= 0, got \"%s\"", v);
                return 2;
            }
            break;
        default: break;
        }
    }
    return 0;
}
