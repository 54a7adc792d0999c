/* The task's models: load from the cache folder, or train with the defaults and save. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

void its_digits_verifier_params(its_clf_train_params *p)
{
    its_clf_train_params_init(p);
    p->hidden = 0;
    p->epochs = 200;
    p->lr = 1e-2;
    p->l2 = 1e-3;
    p->seed = 11;
}

void its_digits_evaluator_params(its_clf_train_params *p)
{
    its_clf_train_params_init(p);
    p->hidden = 128;
    p->epochs = 150;
    p->lr = 3e-3;
    p->l2 = 1e-4;
    p->seed = 23;
}

void its_digits_bundle_free(its_digits_bundle *b)
{
    if (!b)
        return;
    its_digits_data_free(&b->all);
    its_digits_data_free(&b->target_rows);
    its_mlp_free(&b->flow);
    its_mlp_free(&b->verifier);
    its_mlp_free(&b->evaluator);
    memset(b, 0, sizeof(*b));
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Loads path when it exists, else trains (kind: 0 flow, 1 verifier, 2 evaluator) and saves. */
static its_status get_model(const char *path, int which, const its_digits_data *all, FILE *log,
                            its_mlp *out, char *err, size_t errcap)
{
    if (file_exists(path))
        return its_mlp_load(path, which == 0 ? ITS_MLP_FLOW : ITS_MLP_CLASSIFIER, out, err,
                            errcap);
    its_status s;
    if (which == 0) {
        its_flow_train_params fp;
        its_flow_train_params_init(&fp);
        if (log)
            fprintf(log, "digits: training the flow model (%d epochs) into %s\n", fp.epochs, path);
        s = its_flow_train(all, &fp, out, NULL, log, err, errcap);
    } else {
        its_digits_data part;
        ITS_TRY_DG(its_digits_split(all, which - 1, &part, err, errcap));
        its_clf_train_params cp;
        if (which == 1)
            its_digits_verifier_params(&cp);
        else
            its_digits_evaluator_params(&cp);
        if (log)
            fprintf(log, "digits: training the %s on split %c into %s\n",
                    which == 1 ? "verifier" : "evaluator", which == 1 ? 'A' : 'B', path);
        s = its_clf_train(&part, &cp, out, NULL, NULL, err, errcap);
        its_digits_data_free(&part);
    }
    if (s != ITS_OK)
        return s;
    s = its_mlp_save(out, path, err, errcap);
    if (s != ITS_OK)
        its_mlp_free(out);
    return s;
}

its_status its_digits_bundle_open(const char *data_path, const char *dir, int target, FILE *log,
                                  its_digits_bundle *b, char *err, size_t errcap)
{
    if (!b || target < 0 || target >= ITS_DIGITS_CLASSES)
        return its_dg_fail(err, errcap, ITS_ERR_INVALID, "digits: target must be in 0..9");
    memset(b, 0, sizeof(*b));
    if (!data_path || !*data_path)
        data_path = its_digits_default_data_path();
    if (!dir || !*dir)
        dir = its_digits_default_cache_dir();
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return its_dg_fail(err, errcap, ITS_ERR_IO, "digits: cannot create folder %s", dir);
    its_status s = its_digits_load(data_path, &b->all, err, errcap);
    if (s == ITS_OK)
        s = its_digits_select(&b->all, target, &b->target_rows, err, errcap);
    static const char *names[3] = {"flow.itsw", "verifier.itsw", "evaluator.itsw"};
    its_mlp *models[3] = {&b->flow, &b->verifier, &b->evaluator};
    char path[4096];
    for (int k = 0; k < 3 && s == ITS_OK; k++) {
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[k]) >= sizeof(path))
            s = its_dg_fail(err, errcap, ITS_ERR_INVALID, "digits: folder name too long");
        else
            s = get_model(path, k, &b->all, log, models[k], err, errcap);
    }
    its_digits_data a, bb;
    memset(&a, 0, sizeof(a));
    memset(&bb, 0, sizeof(bb));
    if (s == ITS_OK)
        s = its_digits_split(&b->all, 0, &a, err, errcap);
    if (s == ITS_OK)
        s = its_digits_split(&b->all, 1, &bb, err, errcap);
    if (s == ITS_OK)
        s = its_clf_accuracy(&b->verifier, &bb, &b->acc_verifier_b, err, errcap);
    if (s == ITS_OK)
        s = its_clf_accuracy(&b->evaluator, &a, &b->acc_evaluator_a, err, errcap);
    its_digits_data_free(&a);
    its_digits_data_free(&bb);
    if (s != ITS_OK)
        its_digits_bundle_free(b);
    return s;
}
