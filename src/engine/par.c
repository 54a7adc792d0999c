/* Parallel element-wise and per-row noise work for the engine (par.h). */
#include "engine/par.h"
#include "rng/rng.h"

/* Floats below which an element-wise pass stays on one thread: waking a worker costs a few
 * microseconds, a pass over 256 K floats about 20-60 (memory bound). */
#define ITS_PAR_MIN_ELEMS ((size_t)1 << 18)
/* Normals cost about 1 ns each (compute bound): noise pays off from 64 K values. */
#define ITS_PAR_MIN_NOISE ((size_t)1 << 16)
/* Smallest chunk: 64 KiB of floats. Chunk starts are multiples of 16 floats (64 bytes), so no
 * two threads write one cache line. */
#define ITS_PAR_MIN_CHUNK ((size_t)1 << 14)
/* Tasks per thread: a few, so a thread that the OS delays leaves its share to the others. */
#define ITS_PAR_SPLIT 2

static int its_par_on(const its_engine *e, size_t n, size_t min)
{
    return n >= min && e->be == its_backend_cpu() && its_parallel_threads(e->ctx) > 1;
}

/* Chunk length for n floats: about n / (threads * SPLIT), a multiple of 16, at least MIN_CHUNK. */
static size_t its_par_chunk(const its_engine *e, size_t n)
{
    size_t tasks = (size_t)its_parallel_threads(e->ctx) * ITS_PAR_SPLIT;
    size_t chunk = (n + tasks - 1) / tasks;
    chunk = (chunk + 15) / 16 * 16;
    return chunk < ITS_PAR_MIN_CHUNK ? ITS_PAR_MIN_CHUNK : chunk;
}

typedef struct its_par_lc {
    its_engine *e;
    float *out;
    const float *x, *y, *z;
    float a, b, c;
    size_t n, chunk;
} its_par_lc;

static void its_par_lc_task(void *vp, size_t task)
{
    const its_par_lc *j = vp;
    size_t lo = task * j->chunk, m = j->n - lo < j->chunk ? j->n - lo : j->chunk;
    j->e->be->lincomb(j->e->bs, j->out + lo, m, j->a, j->x ? j->x + lo : NULL, j->b,
                      j->y ? j->y + lo : NULL, j->c, j->z ? j->z + lo : NULL);
}

void its_par_lincomb(its_engine *e, float *out, size_t n, float a, const float *x, float b,
                     const float *y, float c, const float *z)
{
    if (!its_par_on(e, n, ITS_PAR_MIN_ELEMS)) {
        e->be->lincomb(e->bs, out, n, a, x, b, y, c, z);
        return;
    }
    its_par_lc j = {e, out, x, y, z, a, b, c, n, its_par_chunk(e, n)};
    its_parallel_for(e->ctx, (n + j.chunk - 1) / j.chunk, its_par_lc_task, &j);
}

typedef struct its_par_cp {
    its_engine *e;
    float *dst;
    const float *src;
    size_t n, chunk;
} its_par_cp;

static void its_par_cp_task(void *vp, size_t task)
{
    const its_par_cp *j = vp;
    size_t lo = task * j->chunk, m = j->n - lo < j->chunk ? j->n - lo : j->chunk;
    j->e->be->copy(j->e->bs, j->dst + lo, j->src + lo, m);
}

void its_par_copy(its_engine *e, float *dst, const float *src, size_t n)
{
    if (!its_par_on(e, n, ITS_PAR_MIN_ELEMS)) {
        e->be->copy(e->bs, dst, src, n);
        return;
    }
    its_par_cp j = {e, dst, src, n, its_par_chunk(e, n)};
    its_parallel_for(e->ctx, (n + j.chunk - 1) / j.chunk, its_par_cp_task, &j);
}

typedef struct its_par_nz {
    its_engine *e;
    float *out;
    const float *x, *y;
    const size_t *idx;
    const uint64_t *lineage;
    float a, b, c;
    uint32_t stream;
    size_t rows, per; /* rows per task */
} its_par_nz;

static void its_par_nz_rows(const its_par_nz *j, size_t r0, size_t r1)
{
    its_engine *e = j->e;
    const size_t dim = e->dim;
    if (e->be == its_backend_cpu() && j->c != 0.0f) {
        /* the CPU backend's noise, many rows per call: short rows' chains overlap (rng.h) */
        its_rng_row rows[64];
        while (r0 < r1) {
            size_t k = r1 - r0 < 64 ? r1 - r0 : 64;
            for (size_t i = 0; i < k; i++) {
                size_t r = r0 + i, s = j->idx ? j->idx[r] : r;
                rows[i] = (its_rng_row){j->out + r * dim, j->x ? j->x + s * dim : NULL,
                                        j->y ? j->y + s * dim : NULL,
                                        {e->seed, j->lineage[r], j->stream}};
            }
            its_rng_lincomb_randn_rows(rows, k, dim, j->a, j->b, j->c);
            r0 += k;
        }
        return;
    }
    for (size_t r = r0; r < r1; r++) {
        size_t s = j->idx ? j->idx[r] : r;
        its_noise_key key = {e->seed, j->lineage[r], j->stream};
        e->be->lincomb_randn(e->bs, j->out + r * dim, dim, j->a, j->x ? j->x + s * dim : NULL,
                             j->b, j->y ? j->y + s * dim : NULL, j->c, &key);
    }
}

static void its_par_nz_task(void *vp, size_t task)
{
    const its_par_nz *j = vp;
    size_t r0 = task * j->per, r1 = r0 + j->per < j->rows ? r0 + j->per : j->rows;
    its_par_nz_rows(j, r0, r1);
}

void its_par_noise_rows(its_engine *e, float *out, size_t rows, float a, const float *x, float b,
                        const float *y, const size_t *idx, float c, const uint64_t *lineage,
                        uint32_t stream)
{
    its_par_nz j = {e, out, x, y, idx, lineage, a, b, c, stream, rows, 1};
    size_t total = rows * e->dim; /* rows x dim fits: the rows exist in memory */
    if (rows < 2 || !its_par_on(e, total, ITS_PAR_MIN_NOISE)) {
        its_par_nz_rows(&j, 0, rows);
        return;
    }
    size_t tasks = (size_t)its_parallel_threads(e->ctx) * ITS_PAR_SPLIT;
    if (tasks > rows)
        tasks = rows;
    j.per = (rows + tasks - 1) / tasks;
    its_parallel_for(e->ctx, (rows + j.per - 1) / j.per, its_par_nz_task, &j);
}
