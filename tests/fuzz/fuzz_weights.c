/* Fuzz target: the digits weight-file loader (its_mlp_from_buffer, format in
 * examples/digits/its_digits.h). Each input is tried twice: as given, and with its last four bytes
 * replaced by the right CRC-32, so mutations reach the shape and parameter checks behind the
 * checksum. Invariants: a rejection is ITS_ERR_IO or ITS_ERR_INVALID with a reason; an accepted
 * file writes back (its_mlp_to_buffer) to exactly the same bytes, and a forward pass over its
 * shapes stays inside its buffers (the sanitizers watch). */
#include <string.h>

#include <zlib.h>

#include "fuzz.h"
#include "its_digits.h"

static void weights_one(const uint8_t *data, size_t size)
{
    its_mlp m;
    char err[256] = "";
    its_status st = its_mlp_from_buffer(data, size, 0, &m, err, sizeof(err));
    if (st != ITS_OK) {
        ITS_FUZZ_CHECK(st == ITS_ERR_IO || st == ITS_ERR_INVALID, "status %s: %s",
                       its_status_str(st), err);
        ITS_FUZZ_CHECK(err[0] != '\0', "no reason for %s", its_status_str(st));
        its_mlp_free(&m);
        return;
    }
    ITS_FUZZ_CHECK(m.kind == ITS_MLP_FLOW || m.kind == ITS_MLP_CLASSIFIER, "kind %d", m.kind);
    ITS_FUZZ_CHECK(m.n_layers >= 1 && m.n_layers <= ITS_MLP_MAX_LAYERS, "%d layers", m.n_layers);
    unsigned char *back = NULL;
    size_t blen = 0;
    st = its_mlp_to_buffer(&m, &back, &blen, err, sizeof(err));
    ITS_FUZZ_CHECK(st == ITS_OK, "a loaded model does not save: %s", err);
    ITS_FUZZ_CHECK(blen == size && memcmp(back, data, size) == 0,
                   "save(load(f)) != f (%zu vs %zu bytes)", blen, size);
    free(back);
    its_mlp_work w;
    if (its_mlp_work_create(&m, 2, &w, err, sizeof(err)) == ITS_OK) {
        memset(w.h[0], 0, 2 * (size_t)m.dims[0] * sizeof(float));
        its_mlp_forward(&m, &w, 2);
        its_mlp_work_free(&w);
    }
    its_mlp_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
