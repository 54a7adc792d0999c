/*
 * its_fashion: the "fashion" benchmark task's model side. Zalando Research's Fashion-MNIST
 * (28 x 28 grey images, 60,000 train + 10,000 t10k, 10 classes; MIT licence, see
 * examples/fashion/data/README.md), read from the IDX files; an MLP flow-matching model trained
 * here; a verifier classifier (train split A) and a held-out evaluator of another architecture
 * (train split B); metrics; PNG grids.
 *
 * It builds on the digits task's MLP (examples/digits: its_mlp forward/backward, Adam, the
 * training RNG, the Frechet distance), whose code is dimension-free once a model exists; the
 * shapes and weight files here are this task's own.
 *
 * Pixels v in 0..255 are scaled to x = v/127.5 - 1 in [-1, 1]. The flow model predicts the clean
 * image x0 of the linear interpolant x_t = (1 - t) x0 + t eps (ITS_PRED_X0; the velocity is
 * u = (x_t - x0_hat) / t).
 *
 * Every function that can fail returns an its_status and writes a one-line reason to err
 * (errcap bytes; err may be NULL). Nothing aborts or exits; only training prints, and only to a
 * progress stream it is given.
 *
 * Weight file format (one network per file; all fields little-endian):
 *   offset  size        field
 *   0       4           magic "IFMW"
 *   4       4  u32      version (1)
 *   8       4  u32      kind: 1 = flow model (predicts x0), 2 = classifier
 *   12      4  u32      L, dense layers (1..8); hidden layers use SiLU, the last is linear
 *   16      4  u32      n_freq: flow time features (sin, cos of (pi/2) 2^k t, k < n_freq);
 *                       0 for a classifier
 *   20      4  u32      pool: classifier input pooling (1: 28 x 28 pixels, 2: 14 x 14 means of
 *                       2 x 2 blocks); 1 for a flow model
 *   24      4(L+1) u32  dims d_0 .. d_L (each 1..4096). Flow: d_0 = 784 + 2 n_freq, d_L = 784.
 *                       Classifier: d_0 = 784 / pool^2, d_L = 10.
 *   ...     4P  f32     parameters, per layer l: W_l (d_{l+1} x d_l, row-major) then b_l
 *   end-4   4  u32      CRC-32 (zlib) of every byte before it
 * Loading: unreadable, truncated, over-long or checksum-failing files give ITS_ERR_IO; a wrong
 * magic, version, kind, shape or a non-finite parameter gives ITS_ERR_INVALID. Nothing is
 * allocated before the header and the size agree.
 */
#ifndef ITS_FASHION_H
#define ITS_FASHION_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "its_digits.h"
#include "itscale.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ITS_FASHION_SIDE 28
#define ITS_FASHION_DIM 784
#define ITS_FASHION_CLASSES 10

/* The class names, index = label. */
const char *its_fashion_class_name(int c);

/* ---- data ---- */
typedef struct its_fashion_data {
    size_t n;
    float *x;   /* n x 784, scaled to [-1, 1] */
    int *y;     /* n labels 0..9 */
} its_fashion_data;

/* Folder of the Debian package dataset-fashion-mnist (compiled in). */
const char *its_fashion_default_data_dir(void);
/* Default folder for cached weights (the build tree, compiled in). */
const char *its_fashion_default_cache_dir(void);

/* IDX (LeCun et al.): a big-endian magic 0x00 0x00 0x08 (unsigned bytes) rank, rank u32
 * sizes, then the bytes in row-major order. */
/* Parses an IDX images buffer (rank 3, sizes n x 28 x 28, 1 <= n <= 1,000,000) into x (n x 784
 * scaled floats, malloc'd) and *n. Bad magic or type, wrong rank or dimensions give
 * ITS_ERR_IO; so do a short or over-long buffer. */
its_status its_fashion_parse_images(const void *buf, size_t len, float **x, size_t *n, char *err,
                                    size_t errcap);
/* Parses an IDX labels buffer (rank 1, values 0..9) into y (malloc'd) and *n. */
its_status its_fashion_parse_labels(const void *buf, size_t len, int **y, size_t *n, char *err,
                                    size_t errcap);
/* Reads a whole file, gzip or plain (through zlib), at most max_bytes uncompressed. */
its_status its_fashion_read_file(const char *path, size_t max_bytes, unsigned char **buf,
                                 size_t *len, char *err, size_t errcap);
/* Loads one split: "<dir>/<split>-images-idx3-ubyte.gz" and "...-labels-idx1-ubyte.gz"
 * (split "train" or "t10k"; dir NULL or "": the default). The two counts must agree. A
 * non-zero limit keeps only the first limit rows. */
its_status its_fashion_load(const char *dir, const char *split, size_t limit,
                            its_fashion_data *out, char *err, size_t errcap);
void its_fashion_data_free(its_fashion_data *d); /* NULL-safe; leaves *d empty */
/* Split by index parity: part 0 (A) = even rows, part 1 (B) = odd rows. Copies. */
its_status its_fashion_split(const its_fashion_data *d, int part, its_fashion_data *out,
                             char *err, size_t errcap);
/* Only the rows of class c (copies). */
its_status its_fashion_select(const its_fashion_data *d, int c, its_fashion_data *out, char *err,
                              size_t errcap);

/* ---- networks ---- */
enum { ITS_FASHION_FLOW = 1, ITS_FASHION_CLASSIFIER = 2 };

/* Allocates an MLP of the given shape (rules of the file format) in the digits' its_mlp layout,
 * parameters from seed (uniform with bound 1/sqrt(fan_in), biases 0). For a classifier, pool
 * is 1 or 2; for a flow model n_freq is 0..16. The its_mlp's n_freq holds n_freq (flow) or the
 * pooling (classifier); n_class is 0 (flow) or 10. Free with its_mlp_free. */
its_status its_fashion_net_create(its_mlp *m, int kind, int n_layers, const int *dims, int n_freq,
                                  int pool, uint64_t seed, char *err, size_t errcap);
/* Input pooling of a classifier created above. */
int its_fashion_net_pool(const its_mlp *m);

its_status its_fashion_net_to_buffer(const its_mlp *m, unsigned char **buf, size_t *len,
                                     char *err, size_t errcap); /* *buf from malloc */
its_status its_fashion_net_from_buffer(const void *buf, size_t len, int expect_kind,
                                       its_mlp *out, char *err, size_t errcap);
its_status its_fashion_net_save(const its_mlp *m, const char *path, char *err, size_t errcap);
its_status its_fashion_net_load(const char *path, int expect_kind, its_mlp *out, char *err,
                                size_t errcap);

/* ---- flow model ---- */
typedef struct its_fashion_flow_params {
    int hidden;        /* width of each hidden layer; default 1024 */
    int layers;        /* dense layers; default 4 */
    int n_freq;        /* time features; default 8 */
    int epochs;        /* passes over the data; default 12 */
    int batch;         /* default 128 */
    double lr;         /* peak learning rate (linear warm-up, cosine decay to 0); default 1e-3 */
    int warmup;        /* warm-up steps; default 300 */
    double ema;        /* decay of the weight average that is returned (0: none); default 0.999 */
    uint64_t seed;     /* default 1 */
} its_fashion_flow_params;
void its_fashion_flow_params_init(its_fashion_flow_params *p);

/* Training progress: a bar with the ETA on log (a terminal: one line redrawn; else a line per
 * 5%). NULL log: silent. */
typedef struct its_fashion_progress {
    FILE *log;
    const char *what;
    double t0, last_draw;
    int last_pct;
} its_fashion_progress;
void its_fashion_progress_start(its_fashion_progress *p, FILE *log, const char *what);
void its_fashion_progress_step(its_fashion_progress *p, size_t done, size_t total, double loss);
void its_fashion_progress_end(its_fashion_progress *p, size_t total, double loss);

/* Trains the flow model on d. Single-threaded OpenBLAS while it runs (restored after), so the
 * weights are a pure function of (data, params) on one machine. final_loss (may be NULL) gets
 * the mean loss of the last epoch. */
its_status its_fashion_flow_train(const its_fashion_data *d, const its_fashion_flow_params *p,
                                  its_mlp *out, double *final_loss, FILE *log, char *err,
                                  size_t errcap);
/* One batch of the training loss: rows x0 (n x 784), t (n), eps (n x 784). Returns the mean
 * squared error |x0_hat - x0|^2 per coordinate; adds its gradient to grad when non-NULL. w has
 * >= n rows. */
double its_fashion_flow_batch_loss(const its_mlp *m, its_mlp_work *w, const float *x0,
                                   const float *t, const float *eps, size_t n, float *grad);

/* A model callback over a flow network; eval never allocates. */
typedef struct its_fashion_flow_model {
    const its_mlp *mlp;
    its_mlp_work work;
} its_fashion_flow_model;
its_status its_fashion_flow_model_create(its_fashion_flow_model *fm, const its_mlp *mlp,
                                         size_t max_batch, its_model *out, char *err,
                                         size_t errcap);
void its_fashion_flow_model_free(its_fashion_flow_model *fm);
/* Euler ODE samples x(0) from x(1) = noise drawn from seed, steps steps, straight through the
 * network (no library run): n x 784 into out. */
its_status its_fashion_flow_sample(const its_mlp *flow, size_t n, int steps, uint64_t seed,
                                   float *out, char *err, size_t errcap);

/* ---- classifiers ---- */
typedef struct its_fashion_clf_params {
    int pool;          /* input pooling 1 or 2 */
    int n_hidden;      /* hidden layers 0..3 */
    int hidden[3];     /* their widths */
    int epochs;
    int batch;
    double lr;         /* cosine decay to 0 */
    double l2;         /* weight decay on W (l2/2 |W|^2 added to the loss) */
    uint64_t seed;
} its_fashion_clf_params;
/* The verifier: 784 -> 256 -> 10 on full-resolution pixels. */
void its_fashion_verifier_params(its_fashion_clf_params *p);
/* The held-out evaluator: 2x2-pooled 196 -> 512 -> 128 -> 10 (another depth, width and input
 * resolution: it cannot share the verifier's pixel-level blind spots). */
void its_fashion_evaluator_params(its_fashion_clf_params *p);
its_status its_fashion_clf_train(const its_fashion_data *d, const its_fashion_clf_params *p,
                                 its_mlp *out, double *final_loss, FILE *log, char *err,
                                 size_t errcap);

/* A classifier with preallocated activations for cap rows. */
typedef struct its_fashion_clf {
    const its_mlp *mlp;
    its_mlp_work work;
    float *dlogit;     /* cap x 10 */
    int pool;
    int target;
} its_fashion_clf;
its_status its_fashion_clf_create(its_fashion_clf *c, const its_mlp *mlp, size_t cap, int target,
                                  char *err, size_t errcap);
void its_fashion_clf_free(its_fashion_clf *c);
/* log p(target | x) for n rows of 784 (chunks of cap); argmax class into cls (may be NULL). */
void its_fashion_clf_logp(its_fashion_clf *c, const float *x, size_t n, float *logp, int *cls);
/* Gradient of log p(target | x) with respect to x (n x 784) and the log-probs (may be NULL). */
void its_fashion_clf_logp_grad(its_fashion_clf *c, const float *x, size_t n, float *grad,
                               float *logp);
/* The last hidden layer's activations (n x feat_dim) of n rows: the evaluator's features. */
int its_fashion_clf_feat_dim(const its_fashion_clf *c);
void its_fashion_clf_features(its_fashion_clf *c, const float *x, size_t n, float *feat);
/* Share of rows whose argmax class equals the label. */
its_status its_fashion_clf_accuracy(const its_mlp *m, const its_fashion_data *d, double *acc,
                                    char *err, size_t errcap);
/* Verifier callback: score = log p(target | x0), with gradient. */
void its_fashion_clf_bind_verifier(its_fashion_clf *c, its_verifier *v);

/* ---- the task's three networks, cached on disk ---- */
typedef struct its_fashion_bundle {
    its_fashion_data test_target;       /* t10k rows of the target class */
    its_mlp flow, verifier, evaluator;
    double acc_verifier, acc_evaluator; /* each classifier on t10k */
} its_fashion_bundle;

/* Loads the three networks from dir (NULL or "": the default cache): flow.ifmw, verifier.ifmw,
 * evaluator.ifmw. A missing file is trained with the defaults (flow: every train row) and
 * written there, progress on log (may be NULL). A file that exists but does not load is an
 * error: delete it to retrain. data_dir as for its_fashion_load. */
its_status its_fashion_bundle_open(const char *data_dir, const char *dir, int target, FILE *log,
                                   its_fashion_bundle *b, char *err, size_t errcap);
void its_fashion_bundle_free(its_fashion_bundle *b);

/* ---- pictures ---- */
/* Writes n images (n x 784 scaled pixels) as an 8-bit grey PNG grid through libpng: cols per
 * row, each pixel drawn zoom x zoom, a 2-pixel white gutter; dark garment on white when
 * invert, else as in the data (light on black). Cells past n stay white. */
its_status its_fashion_write_png(const char *path, const float *x, size_t n, int cols, int zoom,
                                 int invert, char *err, size_t errcap);
/* The same for square images of any side (n x side^2 pixels scaled to [-1, 1]): the digits
 * task's 8 x 8 images too. */
its_status its_png_write_grid(const char *path, const float *x, size_t n, int side, int cols,
                              int zoom, int invert, char *err, size_t errcap);
/* Reads an 8-bit grey PNG (for tests): *pix (malloc'd) gets w x h bytes. */
its_status its_fashion_read_png(const char *path, unsigned char **pix, int *w, int *h, char *err,
                                size_t errcap);
/* The grey byte a scaled pixel is written as (before inversion). */
unsigned char its_fashion_pixel_byte(float v);

#ifdef __cplusplus
}
#endif

#endif
