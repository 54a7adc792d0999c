/* itscale-fashion-train: trains the fashion task's networks with the project's own MLP code and
 * writes them as weight files (format in its_fashion.h), or draws samples from a flow model.
 *
 *   itscale-fashion-train [--what all|flow|classifiers] [--out DIR] [--data DIR]
 *                         [--epochs N] [--hidden N] [--layers N] [--batch N] [--lr X]
 *                         [--seed N] [--limit N] [--samples FILE.png] [--steps N]
 *                         [--sample-only]
 *
 * --sample-only loads DIR/flow.ifmw and writes --samples (64 Euler ODE samples) without
 * training. --limit trains on the first N training images (a quick look). */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "its_fashion.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int usage(FILE *f)
{
    its_fashion_flow_params d;
    its_fashion_flow_params_init(&d);
    fprintf(f,
            "usage: itscale-fashion-train [--what all|flow|classifiers] [--out DIR] [--data DIR]\n"
            "       [--epochs N] [--hidden N] [--layers N] [--batch N] [--lr X] [--seed N]\n"
            "       [--limit N] [--samples FILE.png] [--steps N] [--sample-only]\n"
            "Trains the fashion task's flow model and classifiers (deterministic from the seed)\n"
            "and writes flow.ifmw, verifier.ifmw and evaluator.ifmw; about 20 minutes on one core.\n"
            "  --what W          all (default), flow or classifiers\n"
            "  --out DIR         the folder (default %s)\n"
            "  --data DIR        the Fashion-MNIST IDX files (default %s)\n"
            "  --epochs N        flow model epochs (default %d)\n"
            "  --hidden N        flow model width (default %d); --layers N dense layers (default %d)\n"
            "  --batch N         rows per step (default %d); --lr X peak learning rate (default %g)\n"
            "  --seed N          (default %llu)\n"
            "  --limit N         train on the first N training images only (a quick look)\n"
            "  --samples FILE    64 unguided samples of the flow model as a PNG grid\n"
            "  --steps N         Euler steps of those samples (default 20)\n"
            "  --sample-only     no training: draw --samples from DIR/flow.ifmw\n",
            its_fashion_default_cache_dir(), its_fashion_default_data_dir(), d.epochs, d.hidden,
            d.layers, d.batch, d.lr, (unsigned long long)d.seed);
    return 2;
}

static int fail(const char *err)
{
    fprintf(stderr, "itscale-fashion-train: %s\n", err);
    return 1;
}

static int write_samples(const its_mlp *flow, const char *path, int steps, char *err,
                         size_t errcap)
{
    enum { N = 64 };
    float *x = malloc((size_t)N * ITS_FASHION_DIM * sizeof(float));
    if (!x) {
        snprintf(err, errcap, "out of memory");
        return 1;
    }
    int rc = its_fashion_flow_sample(flow, N, steps, 7, x, err, errcap) != ITS_OK ||
             its_fashion_write_png(path, x, N, 8, 2, 1, err, errcap) != ITS_OK;
    free(x);
    return rc;
}

int main(int argc, char **argv)
{
    const char *out = its_fashion_default_cache_dir(), *data = NULL, *samples = NULL;
    const char *what = "all";
    int sample_only = 0, steps = 20;
    size_t limit = 0;
    its_fashion_flow_params fp;
    its_fashion_flow_params_init(&fp);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--sample-only")) {
            sample_only = 1;
            continue;
        }
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!v)
            return usage(stderr);
        i++;
        if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--data"))
            data = v;
        else if (!strcmp(a, "--what"))
            what = v;
        else if (!strcmp(a, "--samples"))
            samples = v;
        else if (!strcmp(a, "--steps"))
            steps = atoi(v);
        else if (!strcmp(a, "--limit"))
            limit = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--epochs"))
            fp.epochs = atoi(v);
        else if (!strcmp(a, "--hidden"))
            fp.hidden = atoi(v);
        else if (!strcmp(a, "--layers"))
            fp.layers = atoi(v);
        else if (!strcmp(a, "--batch"))
            fp.batch = atoi(v);
        else if (!strcmp(a, "--lr"))
            fp.lr = atof(v);
        else if (!strcmp(a, "--seed"))
            fp.seed = strtoull(v, NULL, 10);
        else
            return usage(stderr);
    }
    int do_flow = !strcmp(what, "all") || !strcmp(what, "flow");
    int do_clf = !strcmp(what, "all") || !strcmp(what, "classifiers");
    if (!do_flow && !do_clf)
        return usage(stderr);
    char err[512], path[4096];
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        snprintf(err, sizeof(err), "cannot create %s", out);
        return fail(err);
    }
    if (sample_only) {
        its_mlp flow;
        snprintf(path, sizeof(path), "%s/flow.ifmw", out);
        if (!samples)
            return usage(stderr);
        if (its_fashion_net_load(path, ITS_FASHION_FLOW, &flow, err, sizeof(err)) != ITS_OK ||
            write_samples(&flow, samples, steps, err, sizeof(err)))
            return fail(err);
        printf("wrote %s (64 ODE samples, %d Euler steps)\n", samples, steps);
        its_mlp_free(&flow);
        return 0;
    }
    its_fashion_data train, test;
    if (its_fashion_load(data, "train", limit, &train, err, sizeof(err)) != ITS_OK ||
        its_fashion_load(data, "t10k", 0, &test, err, sizeof(err)) != ITS_OK)
        return fail(err);
    printf("data: %zu training images, %zu t10k images\n", train.n, test.n);
    if (do_flow) {
        its_mlp flow;
        double loss = 0, t0 = now_s();
        if (its_fashion_flow_train(&train, &fp, &flow, &loss, stderr, err, sizeof(err)) != ITS_OK)
            return fail(err);
        printf("flow: MLP %d-%d x%d-%d, %zu parameters, %d epochs, final loss %.5f, %.1f s\n",
               flow.dims[0], fp.hidden, fp.layers - 1, ITS_FASHION_DIM, flow.n_params, fp.epochs,
               loss, now_s() - t0);
        snprintf(path, sizeof(path), "%s/flow.ifmw", out);
        if (its_fashion_net_save(&flow, path, err, sizeof(err)) != ITS_OK)
            return fail(err);
        printf("wrote %s\n", path);
        if (samples) {
            if (write_samples(&flow, samples, steps, err, sizeof(err)))
                return fail(err);
            printf("wrote %s (64 ODE samples, %d Euler steps)\n", samples, steps);
        }
        its_mlp_free(&flow);
    }
    if (do_clf) {
        its_fashion_data a, b;
        if (its_fashion_split(&train, 0, &a, err, sizeof(err)) != ITS_OK ||
            its_fashion_split(&train, 1, &b, err, sizeof(err)) != ITS_OK)
            return fail(err);
        its_fashion_clf_params cps[2];
        its_fashion_verifier_params(&cps[0]);
        its_fashion_evaluator_params(&cps[1]);
        const char *names[2] = {"verifier.ifmw", "evaluator.ifmw"};
        const its_fashion_data *parts[2] = {&a, &b};
        for (int k = 0; k < 2; k++) {
            its_mlp m;
            double t0 = now_s(), acc = 0, acc_other = 0;
            if (its_fashion_clf_train(parts[k], &cps[k], &m, NULL, stderr, err, sizeof(err)) !=
                    ITS_OK ||
                its_fashion_clf_accuracy(&m, &test, &acc, err, sizeof(err)) != ITS_OK ||
                its_fashion_clf_accuracy(&m, parts[1 - k], &acc_other, err, sizeof(err)) != ITS_OK)
                return fail(err);
            printf("%s (split %c, pool %d, MLP %d", k ? "evaluator" : "verifier", k ? 'B' : 'A',
                   cps[k].pool, m.dims[0]);
            for (int l = 1; l <= m.n_layers; l++)
                printf("-%d", m.dims[l]);
            printf("): t10k accuracy %.4f, split %c accuracy %.4f, %.1f s\n", acc,
                   k ? 'A' : 'B', acc_other, now_s() - t0);
            snprintf(path, sizeof(path), "%s/%s", out, names[k]);
            if (its_fashion_net_save(&m, path, err, sizeof(err)) != ITS_OK)
                return fail(err);
            printf("wrote %s\n", path);
            its_mlp_free(&m);
        }
        its_fashion_data_free(&a);
        its_fashion_data_free(&b);
    }
    its_fashion_data_free(&train);
    its_fashion_data_free(&test);
    return 0;
}
