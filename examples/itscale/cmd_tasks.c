/* `itscale tasks`: each task with its settings (default, meaning) and metrics. */
#include "cli.h"

int cli_cmd_tasks(const cli_opts *o)
{
    (void)o;
    for (size_t i = 0; i < cli_n_tasks; i++) {
        const its_task_vt *t = cli_tasks[i];
        printf("%-8s %s\n", t->name, t->summary);
        for (size_t j = 0; j < t->n_settings; j++)
            printf("    task.%-12s %-8s %s\n", t->settings[j].key, t->settings[j].def,
                   t->settings[j].doc);
        printf("    metrics:");
        for (size_t j = 0; j < t->n_metrics; j++)
            printf(" %s", t->metrics[j].name);
        printf("\n");
    }
    return 0;
}
