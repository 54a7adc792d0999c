/* itscale: list samplers, run one configuration on a task, or draw quality-vs-compute curves.
 *
 *   itscale samplers [--markdown] [--set run.steps=T]
 *   itscale tasks
 *   itscale run [--task T] --sampler NAME [--nfe N [--cap-only]] [--seed S] [--set key=value]...
 *               [--config FILE] [--json] [--out FILE] [--png FILE]
 *   itscale bench [--task T] --samplers a,b,c --nfe 50,100,200 [--seeds K] [--seed S]
 *                 [--set key=value]... [--config FILE] --out DIR
 *   itscale tune --task T --nfe 100,500,2000 [--seeds K] [--eval-seeds K2] ... --out DIR
 *
 * Every bad flag, file or configuration ends with one line on stderr and exit status 2
 * (usage and configuration) or 1 (a run or a file failed). The commands live in cmd_*.c; this
 * file holds their table and the dispatch (see cli.h for the map of the files). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "itscale.h"

typedef struct cli_cmd {
    const char *name;
    unsigned flags;          /* CLI_F_* the command accepts */
    int with_task;           /* needs --task resolved and a context */
    int (*plain)(const cli_opts *o);
    int (*run)(its_ctx *ctx, const cli_opts *o);
    const char *usage;       /* for `itscale NAME --help` */
} cli_cmd;

#define CLI_F_RUNS (CLI_F_TASK | CLI_F_NFE | CLI_F_SEED | CLI_F_SET | CLI_F_CONFIG | CLI_F_OUT)

#define CLI_SET_HELP                                                                             \
    "  --set KEY=VALUE   one configuration value (repeatable): params.n=8, run.steps=10,\n"        \
    "                    run.dynamics.kind=sde, task.dim=64; VALUE as JSON, else a string\n"      \
    "  --config FILE     a JSON configuration ({\"sampler\", \"params\", \"run\", \"task\"});\n"  \
    "                    the options given here and --set apply on top\n"                      \
    "  --task T          the task (default gmm; see itscale tasks)\n"

static const cli_cmd cli_cmds[] = {
    {"samplers", CLI_F_MARKDOWN | CLI_F_SET, 0, cli_cmd_samplers, NULL,
     "usage: itscale samplers [--markdown] [--set run.steps=T]\n"
     "Every sampler with its parameters (default, range, meaning), its rule for scaling to a\n"
     "budget, the least NFE it runs with at T steps (default 20), and the run parameters every\n"
     "sampler shares.\n"
     "  --markdown        the same as Markdown tables (README.md's)\n"
     "  --set run.steps=T the least and planned NFE at T steps\n"},
    {"tasks", 0, 0, cli_cmd_tasks, NULL,
     "usage: itscale tasks\n"
     "Every task with its settings (task.KEY, default, meaning) and metrics.\n"},
    {"run", CLI_F_RUNS | CLI_F_SAMPLER | CLI_F_JSON | CLI_F_CAP_ONLY | CLI_F_PNG, 1, NULL,
     cli_cmd_run,
     "usage: itscale run [--task T] --sampler NAME [--nfe N [--cap-only]] [--seed S]\n"
     "                   [--set key=value]... [--config FILE] [--json] [--out FILE]\n"
     "                   [--png FILE]\n"
     "One run of one sampler on a task; a summary, or the result as JSON.\n"
     "  --sampler NAME    the method (see itscale samplers)\n"
     "  --nfe N           the NFE budget: the method's size is scaled to it as in bench\n"
     "                    (see itscale samplers), and run.budget.max_nfe = N caps it;\n"
     "                    sampler auto fits its policy's entry to N itself\n"
     "  --cap-only        with --nfe: only the cap; the method keeps its configured size\n"
     CLI_SET_HELP
     "  --seed S          the run's seed (default 0)\n"
     "  --json            the result as JSON, with the task's metrics\n"
     "  --out FILE        write there instead of stdout\n"
     "  --png FILE        the returned samples (best first) as a PNG grid (tasks digits,\n"
     "                    fashion)\n"},
    {"bench", CLI_F_RUNS | CLI_F_SAMPLERS | CLI_F_SEEDS, 1, NULL, cli_cmd_bench,
     "usage: itscale bench [--task T] --samplers a,b,c --nfe 50,100,200,500 [--seeds K]\n"
     "                   [--seed S] [--set key=value]... [--config FILE] --out DIR\n"
     "Quality against compute: each sampler scaled to each NFE budget, K seeds per point;\n"
     "writes DIR/curves.json, curves.csv and curves.svg and prints a table; for a task with\n"
     "pictures (digits, fashion) also DIR/grid-SAMPLER.png (a row per budget, a column per\n"
     "seed: each run's best sample).\n"
     "  --samplers a,b,c  the methods, comma-separated\n"
     "  --nfe N1,N2,...   increasing NFE budgets\n"
     "  --seeds K         seeds per point (default 8), seeds S .. S+K-1\n"
     "  --seed S          the first seed (default 0)\n" CLI_SET_HELP
     "  --out DIR         the output directory (created when missing)\n"},
    {"tune", CLI_F_RUNS | CLI_F_SAMPLERS | CLI_F_SEEDS | CLI_F_EVAL_SEEDS | CLI_F_EVAL_SEED | CLI_F_SELECT, 1,
     NULL, cli_cmd_tune,
     "usage: itscale tune --task T --nfe 100,500,2000 [--seeds K] [--seed S] [--samplers a,b]\n"
     "                   [--eval-seeds K2] [--eval-seed S2] [--select mean|lcb]\n"
     "                   [--set key=value]... [--config FILE] --out DIR\n"
     "Which configuration is best at each budget: pilot runs of every method and a small grid of\n"
     "its main parameters (each sized to the budget), K seeds each with successive halving;\n"
     "writes DIR/policy.json (the policy of sampler auto) and DIR/tuning.json.\n"
     "  --nfe N1,N2,...   increasing NFE budgets to tune at\n"
     "  --seeds K         tuning seeds per finalist (default 8), seeds S .. S+K-1\n"
     "  --seed S          the first tuning seed (default 1000)\n"
     "  --samplers a,b    only these methods' candidates\n"
     "  --eval-seeds K2   also measure every candidate, auto and its online mode on K2 held-out\n"
     "                    seeds (added to tuning.json; they must not overlap the tuning seeds)\n"
     "  --eval-seed S2    the first held-out seed (default 0)\n"
     "  --select RULE     mean: the best mean per budget (default); lcb: the best mean - SE,\n"
     "                    a steadier candidate when two means differ by less than their noise\n"
     "  --set KEY=VALUE   run.steps=10, task.dim=64, ... (repeatable)\n"
     "  --config FILE     a JSON configuration whose run and task apply to every candidate\n"
     "  --out DIR         the output directory (created when missing)\n"},
};
#define CLI_N_CMDS (sizeof(cli_cmds) / sizeof(cli_cmds[0]))

static void cli_usage(FILE *f)
{
    fprintf(f, "usage: itscale samplers [--markdown] [--set run.steps=T]\n"
               "       itscale tasks\n"
               "       itscale run [--task T] --sampler NAME [--nfe N [--cap-only]] [--seed S]\n"
               "                   [--set key=value]... [--config FILE] [--json] [--out FILE]\n"
               "                   [--png FILE]\n"
               "       itscale bench [--task T] --samplers a,b,c --nfe 50,100,200,500 [--seeds K]\n"
               "                   [--seed S] [--set key=value]... [--config FILE] --out DIR\n"
               "       itscale tune --task T --nfe 100,500,2000 [--seeds K] [--seed S]\n"
               "                   [--samplers a,b] [--eval-seeds K2] [--eval-seed S2]\n"
               "                   [--select mean|lcb] [--set key=value]... [--config FILE]\n"
               "                   --out DIR\n"
               "--set params.n=8, run.steps=10, run.dynamics.kind=sde, task.dim=64 (value as JSON,\n"
               "else as a string). itscale COMMAND --help for one command. Tasks:");
    for (size_t i = 0; i < cli_n_tasks; i++)
        fprintf(f, " %s", cli_tasks[i]->name);
    fprintf(f, "\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        cli_usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        cli_usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        printf("itscale %s\n", its_version());
        return 0;
    }
    const cli_cmd *cmd = NULL;
    for (size_t i = 0; i < CLI_N_CMDS; i++)
        if (strcmp(cli_cmds[i].name, name) == 0)
            cmd = &cli_cmds[i];
    if (!cmd) {
        cli_err("unknown command \"%s\" (expected samplers, tasks, run, bench or tune)", name);
        return 2;
    }
    cli_opts o = {0};
    o.seeds = 8;
    o.task_name = "gmm";
    if (strcmp(name, "tune") == 0)
        o.seed = 1000; /* tuning seeds stay clear of the bench's 0 .. K-1 */
    o.sets = calloc((size_t)argc, sizeof(char *));
    if (!o.sets) {
        cli_err("out of memory");
        return 1;
    }
    int rc = cli_parse_args(argc, argv, 2, name, cmd->flags, &o);
    if (rc == -1) { /* --help */
        fputs(cmd->usage, stdout);
        rc = 0;
        goto out;
    }
    if (rc != 0)
        goto out;
    if (!cmd->with_task) {
        rc = cmd->plain(&o);
        goto out;
    }
    rc = 2;
    if (!(o.task = cli_task_find(o.task_name))) {
        cli_err("--task: unknown task \"%s\" (see itscale tasks)", o.task_name);
        goto out;
    }
    its_ctx *ctx = NULL;
    if (its_ctx_create(NULL, &ctx) != ITS_OK) {
        cli_err("could not create a context");
        rc = 1;
        goto out;
    }
    rc = cmd->run(ctx, &o);
    its_ctx_free(ctx);
out:
    free(o.sets);
    return rc;
}
