/* Generation tasks the server offers: each is a model/verifier pair built once per worker.
 * Adding a task (the digits model, say) is one more entry in its_srv_tasks (tasks.c). */
#ifndef ITS_SRV_TASKS_H
#define ITS_SRV_TASKS_H

#include "itscale.h"

typedef struct its_srv_task_cfg {
    int dim;               /* latent dimension of the gmm task */
    long nfe_cost_us;      /* emulated accelerator time per model row (0 = none) */
    long prep_draws;       /* samples that calibrate a key's verifier when it is prepared */
} its_srv_task_cfg;

typedef struct its_srv_task {
    const char *name;
    const char *doc;
    /* its_sched_task.bind / unbind with user = its_srv_task_cfg */
    int (*bind)(void *user, unsigned worker, its_ctx *wctx, its_model *m, its_verifier *v,
                void **inst);
    void (*unbind)(void *user, void *inst);
    /* its_sched_task.prepare / use / release (per affinity key; NULL: none) */
    int (*prepare)(void *user, void *inst, const char *key, void **state);
    void (*use)(void *user, void *inst, void *state);
    void (*release)(void *user, void *inst, void *state);
} its_srv_task;

extern const its_srv_task its_srv_tasks[];
extern const int its_srv_n_tasks;

#endif
