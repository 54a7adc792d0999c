/* Fuzz target: the fashion task's parsers (examples/fashion/its_fashion.h): the IDX images and
 * labels reader and the weight-file loader. Each input is tried as all three. Invariants: a
 * rejection is ITS_ERR_IO or ITS_ERR_INVALID with a reason and nothing allocated; accepted
 * images fill exactly the buffer (16 + 784 n bytes) with pixels in [-1, 1]; accepted labels are
 * 0..9; an accepted weight file writes back to the same bytes. Weight inputs are also tried with
 * their last four bytes replaced by the right CRC-32, so mutations reach the shape checks. */
#include <math.h>
#include <string.h>

#include <zlib.h>

#include "fuzz.h"
#include "its_fashion.h"

static void check_reject(its_status st, const char *err)
{
    ITS_FUZZ_CHECK(st == ITS_ERR_IO || st == ITS_ERR_INVALID, "status %s: %s",
                   its_status_str(st), err);
    ITS_FUZZ_CHECK(err[0] != '\0', "no reason for %s", its_status_str(st));
}

static void weights_one(const uint8_t *data, size_t size)
{
    its_mlp m;
    char err[256] = "";
    its_status st = its_fashion_net_from_buffer(data, size, 0, &m, err, sizeof(err));
    if (st != ITS_OK) {
        check_reject(st, err);
        ITS_FUZZ_CHECK(m.params == NULL, "a rejected file left parameters");
        return;
    }
    unsigned char *back = NULL;
    size_t blen = 0;
    st = its_fashion_net_to_buffer(&m, &back, &blen, err, sizeof(err));
    ITS_FUZZ_CHECK(st == ITS_OK, "a loaded network does not save: %s", err);
    ITS_FUZZ_CHECK(blen == size && memcmp(back, data, size) == 0,
                   "save(load(f)) != f (%zu vs %zu bytes)", blen, size);
    free(back);
    its_mlp_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[256] = "";
    float *x = NULL;
    size_t n = 0;
    its_status st = its_fashion_parse_images(data, size, &x, &n, err, sizeof(err));
    if (st != ITS_OK) {
        check_reject(st, err);
        ITS_FUZZ_CHECK(x == NULL && n == 0, "a rejected images buffer left output");
    } else {
        ITS_FUZZ_CHECK(n >= 1 && size == 16 + n * ITS_FASHION_DIM, "%zu images in %zu bytes", n,
                       size);
        for (size_t i = 0; i < n * ITS_FASHION_DIM; i++)
            ITS_FUZZ_CHECK(x[i] >= -1.0f && x[i] <= 1.0f, "pixel %zu = %g", i, x[i]);
        free(x);
    }
    int *y = NULL;
    err[0] = '\0';
    st = its_fashion_parse_labels(data, size, &y, &n, err, sizeof(err));
    if (st != ITS_OK) {
        check_reject(st, err);
        ITS_FUZZ_CHECK(y == NULL, "a rejected labels buffer left output");
    } else {
        ITS_FUZZ_CHECK(n >= 1 && size == 8 + n, "%zu labels in %zu bytes", n, size);
        for (size_t i = 0; i < n; i++)
            ITS_FUZZ_CHECK(y[i] >= 0 && y[i] <= 9, "label %zu = %d", i, y[i]);
        free(y);
    }
    weights_one(data, size);
    if (size >= 8 && size <= ((size_t)1 << 26)) {
        uint8_t *fixed = malloc(size);
        if (!fixed)
            return 0;
        memcpy(fixed, data, size);
        uint32_t crc = (uint32_t)crc32(0L, fixed, (uInt)(size - 4));
        for (int i = 0; i < 4; i++)
            fixed[size - 4 + i] = (uint8_t)(crc >> (8 * i));
        weights_one(fixed, size);
        free(fixed);
    }
    return 0;
}
