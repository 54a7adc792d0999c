/* The task's networks: load from the cache folder, or train with the defaults and save. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

void its_fashion_bundle_free(its_fashion_bundle *b)
{
    if (!b)
        return;
    its_fashion_data_free(&b->test_target);
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

/* Loads path when it exists, else trains (0 flow, 1 verifier, 2 evaluator) and saves. The
 * training set is read only when something must be trained. */
static its_status get_net(const char *path, int which, const char *data_dir,
                          its_fashion_data *train, FILE *log, its_mlp *out, char *err,
                          size_t errcap)
{
    if (file_exists(path))
        return its_fashion_net_load(path, which == 0 ? ITS_FASHION_FLOW : ITS_FASHION_CLASSIFIER,
                                    out, err, errcap);
    if (!train->x)
        ITS_TRY_FM(its_fashion_load(data_dir, "train", 0, train, err, errcap));
    its_status s;
    if (which == 0) {
        its_fashion_flow_params fp;
        its_fashion_flow_params_init(&fp);
        if (log)
            fprintf(log, "fashion: training the flow model (%d epochs, one thread) into %s\n",
                    fp.epochs, path);
        s = its_fashion_flow_train(train, &fp, out, NULL, log, err, errcap);
    } else {
        its_fashion_data part;
        ITS_TRY_FM(its_fashion_split(train, which - 1, &part, err, errcap));
        its_fashion_clf_params cp;
        if (which == 1)
            its_fashion_verifier_params(&cp);
        else
            its_fashion_evaluator_params(&cp);
        if (log)
            fprintf(log, "fashion: training the %s on split %c into %s\n",
                    which == 1 ? "verifier" : "evaluator", which == 1 ? 'A' : 'B', path);
        s = its_fashion_clf_train(&part, &cp, out, NULL, log, err, errcap);
        its_fashion_data_free(&part);
    }
    if (s != ITS_OK)
        return s;
    s = its_fashion_net_save(out, path, err, errcap);
    if (s != ITS_OK)
        its_mlp_free(out);
    return s;
}

its_status its_fashion_bundle_open(const char *data_dir, const char *dir, int target, FILE *log,
                                   its_fashion_bundle *b, char *err, size_t errcap)
{
    if (!b || target < 0 || target >= ITS_FASHION_CLASSES)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "fashion: target must be in 0..9");
    memset(b, 0, sizeof(*b));
    if (!dir || !*dir)
        dir = its_fashion_default_cache_dir();
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return its_fm_fail(err, errcap, ITS_ERR_IO, "fashion: cannot create folder %s", dir);
    its_fashion_data train, test;
    memset(&train, 0, sizeof(train));
    memset(&test, 0, sizeof(test));
    static const char *names[3] = {"flow.ifmw", "verifier.ifmw", "evaluator.ifmw"};
    its_mlp *nets[3] = {&b->flow, &b->verifier, &b->evaluator};
    char path[4096];
    its_status s = ITS_OK;
    for (int k = 0; k < 3 && s == ITS_OK; k++) {
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, names[k]) >= sizeof(path))
            s = its_fm_fail(err, errcap, ITS_ERR_INVALID, "fashion: folder name too long");
        else
            s = get_net(path, k, data_dir, &train, log, nets[k], err, errcap);
    }
    its_fashion_data_free(&train);
    if (s == ITS_OK)
        s = its_fashion_load(data_dir, "t10k", 0, &test, err, errcap);
    if (s == ITS_OK)
        s = its_fashion_select(&test, target, &b->test_target, err, errcap);
    if (s == ITS_OK)
        s = its_fashion_clf_accuracy(&b->verifier, &test, &b->acc_verifier, err, errcap);
    if (s == ITS_OK)
        s = its_fashion_clf_accuracy(&b->evaluator, &test, &b->acc_evaluator, err, errcap);
    its_fashion_data_free(&test);
    if (s != ITS_OK)
        its_fashion_bundle_free(b);
    return s;
}
