/* itscale-digits-forward: evaluates a digits weight file on rows read from a file.
 *
 *   itscale-digits-forward flow WEIGHTS IN OUT N        IN: N x 64 float32 x, then N float32 t
 *                                                     OUT: N x 64 float32 velocities
 *   itscale-digits-forward logp WEIGHTS IN OUT N TARGET IN: N x 64 float32 x
 *                                                     OUT: N float32 log p(TARGET | x)
 *
 * Files are raw little-endian float32. The model runs with activations for all N rows (one
 * call), as the library would call it with max_batch = N. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "its_digits.h"

static int fail(const char *msg)
{
    fprintf(stderr, "itscale-digits-forward: %s\n", msg);
    return 1;
}

static int read_all(const char *path, float *buf, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t got = fread(buf, sizeof(float), n, f);
    int extra = fgetc(f) != EOF;
    fclose(f);
    return got == n && !extra ? 0 : -1;
}

static int write_all(const char *path, const float *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t put = fwrite(buf, sizeof(float), n, f);
    return fclose(f) == 0 && put == n ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: itscale-digits-forward flow|logp WEIGHTS IN OUT N [TARGET]\n"
               "Runs the C digits networks on N rows of float32 read from IN and writes OUT:\n"
               "flow = the flow model's velocity (IN holds x then t), logp = the verifier's\n"
               "log p(TARGET | x) (the Python package's tests compare torch against it).\n");
        return 0;
    }
    if (argc < 6 || (strcmp(argv[1], "flow") != 0 && strcmp(argv[1], "logp") != 0))
        return fail("usage: itscale-digits-forward flow|logp WEIGHTS IN OUT N [TARGET]");
    int flow = strcmp(argv[1], "flow") == 0;
    long n = strtol(argv[5], NULL, 10);
    if (n < 1 || n > 65536)
        return fail("N must be in 1..65536");
    if (!flow && argc < 7)
        return fail("logp needs TARGET");
    char err[256];
    its_mlp mlp;
    if (its_mlp_load(argv[2], flow ? ITS_MLP_FLOW : ITS_MLP_CLASSIFIER, &mlp, err,
                     sizeof(err)) != ITS_OK)
        return fail(err);
    size_t rows = (size_t)n, in_n = rows * ITS_DIGITS_DIM + (flow ? rows : 0);
    float *in = malloc(in_n * sizeof(float));
    float *out = malloc(rows * ITS_DIGITS_DIM * sizeof(float));
    int rc = 1;
    if (!in || !out) {
        fail("out of memory");
        goto done;
    }
    if (read_all(argv[3], in, in_n) != 0) {
        fail("cannot read IN (or wrong size)");
        goto done;
    }
    if (flow) {
        its_flow_model fm;
        its_model m;
        if (its_flow_model_create(&fm, &mlp, rows, &m, err, sizeof(err)) != ITS_OK) {
            fail(err);
            goto done;
        }
        m.eval(m.user, in, in + rows * ITS_DIGITS_DIM, rows, out);
        its_flow_model_free(&fm);
        rc = write_all(argv[4], out, rows * ITS_DIGITS_DIM) == 0 ? 0 : fail("cannot write OUT");
    } else {
        its_clf c;
        if (its_clf_create(&c, &mlp, rows, atoi(argv[6]), err, sizeof(err)) != ITS_OK) {
            fail(err);
            goto done;
        }
        its_clf_logp(&c, in, rows, out, NULL);
        its_clf_free(&c);
        rc = write_all(argv[4], out, rows) == 0 ? 0 : fail("cannot write OUT");
    }
done:
    free(in);
    free(out);
    its_mlp_free(&mlp);
    return rc;
}
