/* itscale-digits-train: trains the digits task's flow model, verifier and evaluator with the
 * project's own MLP code and writes them as weight files (format in its_digits.h).
 *
 *   itscale-digits-train [--out DIR] [--data PATH] [--epochs N] [--hidden N] [--layers N]
 *                        [--batch N] [--lr X] [--seed N] [--conditional] [--check]
 *                        [--samples FILE.pgm]
 *
 * --check trains the flow model twice and compares the weights bit for bit. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "its_digits.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int usage_to(FILE *f, int rc)
{
    its_flow_train_params d;
    its_flow_train_params_init(&d);
    fprintf(f,
            "usage: itscale-digits-train [--out DIR] [--data PATH] [--epochs N] [--hidden N]\n"
            "       [--layers N] [--batch N] [--lr X] [--seed N] [--conditional] [--check]\n"
            "       [--samples FILE.pgm]\n"
            "Trains the digits task's flow model, verifier and evaluator (deterministic from the\n"
            "seed) and writes flow.itsw, verifier.itsw and evaluator.itsw.\n"
            "  --out DIR         the folder (default %s)\n"
            "  --data PATH       digits CSV, gzip or plain (default %s)\n"
            "  --epochs N        flow model epochs (default %d)\n"
            "  --hidden N        flow model width (default %d); --layers N dense layers (default %d)\n"
            "  --batch N         rows per step (default %d); --lr X peak learning rate (default %g)\n"
            "  --seed N          (default %llu)\n"
            "  --conditional     a class-conditional flow model\n"
            "  --check           train the flow model twice and compare the weights bit for bit\n"
            "  --samples FILE    64 unguided samples of the flow model as a PGM grid\n",
            its_digits_default_cache_dir(), its_digits_default_data_path(), d.epochs, d.hidden,
            d.layers, d.batch, d.lr, (unsigned long long)d.seed);
    return rc;
}

static int usage(void)
{
    return usage_to(stderr, 2);
}

/* Euler ODE samples from the flow model straight through its callback (no library run). */
static int write_samples(const its_mlp *flow, const char *path, char *err, size_t errcap)
{
    enum { N = 64, STEPS = 20 };
    its_flow_model fm;
    its_model m;
    if (its_flow_model_create(&fm, flow, N, &m, err, errcap) != ITS_OK)
        return 1;
    static float x[N * ITS_DIGITS_DIM], u[N * ITS_DIGITS_DIM];
    float t[N];
    its_digits_rng r;
    its_digits_rng_seed(&r, 7);
    for (size_t i = 0; i < N * ITS_DIGITS_DIM; i++)
        x[i] = (float)its_digits_rng_normal(&r);
    for (int k = 0; k < STEPS; k++) {
        double tk = 1.0 - (double)k / STEPS, dt = 1.0 / STEPS;
        for (int i = 0; i < N; i++)
            t[i] = (float)tk;
        m.eval(m.user, x, t, N, u);
        for (size_t i = 0; i < N * ITS_DIGITS_DIM; i++)
            x[i] -= (float)dt * u[i];
    }
    its_flow_model_free(&fm);
    return its_digits_write_pgm(path, x, N, 8, 4, err, errcap) != ITS_OK;
}

int main(int argc, char **argv)
{
    const char *out = its_digits_default_cache_dir(), *data = its_digits_default_data_path();
    const char *samples = NULL;
    int check = 0;
    its_flow_train_params fp;
    its_flow_train_params_init(&fp);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h"))
            return usage_to(stdout, 0);
        if (!strcmp(a, "--conditional")) {
            fp.conditional = 1;
            continue;
        }
        if (!strcmp(a, "--check")) {
            check = 1;
            continue;
        }
        if (!v)
            return usage();
        i++;
        if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--data"))
            data = v;
        else if (!strcmp(a, "--samples"))
            samples = v;
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
            return usage();
    }
    char err[512];
    its_digits_data all, a, b;
    if (its_digits_load(data, &all, err, sizeof(err)) != ITS_OK) {
        fprintf(stderr, "itscale-digits-train: %s\n", err);
        return 1;
    }
    if (its_digits_split(&all, 0, &a, err, sizeof(err)) != ITS_OK ||
        its_digits_split(&all, 1, &b, err, sizeof(err)) != ITS_OK) {
        fprintf(stderr, "itscale-digits-train: %s\n", err);
        return 1;
    }
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "itscale-digits-train: cannot create %s\n", out);
        return 1;
    }
    printf("data: %zu images (split A %zu, split B %zu)\n", all.n, a.n, b.n);
    int rc = 0;
    char path[4096];
    its_mlp flow, ver, eva;
    double loss = 0;
    double t0 = now_s();
    if (its_flow_train(&all, &fp, &flow, &loss, stdout, err, sizeof(err)) != ITS_OK) {
        fprintf(stderr, "itscale-digits-train: %s\n", err);
        return 1;
    }
    double t_flow = now_s() - t0;
    printf("flow: %zu parameters, final loss %.5f, %.1f s\n", flow.n_params, loss, t_flow);
    if (check) {
        its_mlp again;
        if (its_flow_train(&all, &fp, &again, NULL, NULL, err, sizeof(err)) != ITS_OK) {
            fprintf(stderr, "itscale-digits-train: %s\n", err);
            return 1;
        }
        int same = !memcmp(flow.params, again.params, flow.n_params * sizeof(float));
        printf("check: a second run gives %s weights\n", same ? "identical" : "DIFFERENT");
        rc |= !same;
        its_mlp_free(&again);
    }
    its_clf_train_params vp, ep;
    its_digits_verifier_params(&vp);
    its_digits_evaluator_params(&ep);
    double acc_v = 0, acc_e = 0;
    t0 = now_s();
    if (its_clf_train(&a, &vp, &ver, NULL, NULL, err, sizeof(err)) != ITS_OK ||
        its_clf_train(&b, &ep, &eva, NULL, NULL, err, sizeof(err)) != ITS_OK ||
        its_clf_accuracy(&ver, &b, &acc_v, err, sizeof(err)) != ITS_OK ||
        its_clf_accuracy(&eva, &a, &acc_e, err, sizeof(err)) != ITS_OK) {
        fprintf(stderr, "itscale-digits-train: %s\n", err);
        return 1;
    }
    printf("verifier (softmax regression, split A): accuracy on split B %.4f\n", acc_v);
    printf("evaluator (MLP 64-%d-10, split B): accuracy on split A %.4f\n", ep.hidden, acc_e);
    printf("classifiers: %.1f s\n", now_s() - t0);
    const its_mlp *ms[3] = {&flow, &ver, &eva};
    const char *names[3] = {"flow.itsw", "verifier.itsw", "evaluator.itsw"};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof(path), "%s/%s", out, names[k]);
        if (its_mlp_save(ms[k], path, err, sizeof(err)) != ITS_OK) {
            fprintf(stderr, "itscale-digits-train: %s\n", err);
            return 1;
        }
        printf("wrote %s\n", path);
    }
    if (samples) {
        if (write_samples(&flow, samples, err, sizeof(err))) {
            fprintf(stderr, "itscale-digits-train: %s\n", err);
            return 1;
        }
        printf("wrote %s (64 ODE samples, 20 Euler steps)\n", samples);
    }
    its_mlp_free(&flow);
    its_mlp_free(&ver);
    its_mlp_free(&eva);
    its_digits_data_free(&all);
    its_digits_data_free(&a);
    its_digits_data_free(&b);
    return rc;
}
