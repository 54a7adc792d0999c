/*
 * its_digits: the "digits" benchmark task's model side (DESIGN.md §9). The UCI optical digits
 * (8x8, 1,797 images, 10 classes), a small MLP flow-matching model trained here with OpenBLAS,
 * a verifier classifier (split A), a held-out evaluator classifier (split B), and metrics
 * (verifier score, evaluator accuracy, diversity, Frechet distance).
 *
 * Pixels are scaled to x = v/8 - 1 in [-1, 1]. The flow model predicts the velocity
 * u = eps - x0 of the linear interpolant x_t = (1 - t) x0 + t eps.
 *
 * Every function that can fail returns an its_status and writes a one-line reason to err
 * (errcap bytes; err may be NULL). Nothing here aborts or exits; only the training functions
 * print, and only when given a progress stream.
 *
 * Weight file format (one MLP per file; all fields little-endian):
 *   offset  size        field
 *   0       4           magic "IDGW"
 *   4       4  u32      version (1)
 *   8       4  u32      kind: 1 = flow velocity model, 2 = classifier
 *   12      4  u32      L, dense layers (1..8); hidden layers use SiLU, the last is linear
 *   16      4  u32      n_freq: flow time features (sin, cos of (pi/2) 2^k t, k < n_freq); 0 else
 *   20      4  u32      n_class: flow conditioning classes (0 = unconditional); classifier classes
 *   24      4(L+1) u32  dims d_0 .. d_L (each 1..4096). Flow: d_0 = 64 + 2 n_freq + n_class,
 *                       d_L = 64. Classifier: d_0 = 64, d_L = n_class.
 *   ...     4P  f32     parameters, per layer l: W_l (d_{l+1} x d_l, row-major) then b_l
 *   end-4   4  u32      CRC-32 (zlib) of every byte before it
 * Loading: unreadable, truncated, over-long or checksum-failing files give ITS_ERR_IO; a wrong
 * magic (a file shorter than 4 bytes included), version, kind, shape or a non-finite parameter
 * gives ITS_ERR_INVALID. Nothing is allocated before the header and the size agree.
 */
#ifndef ITS_DIGITS_H
#define ITS_DIGITS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "itscale.h"

#ifdef __cplusplus
extern "C" {
#endif

#define ITS_DIGITS_DIM 64
#define ITS_DIGITS_CLASSES 10
#define ITS_MLP_MAX_LAYERS 8
#define ITS_MLP_MAX_WIDTH 4096

/* ---- data ---- */
typedef struct its_digits_data {
    size_t n;
    float *x;   /* n x 64, scaled to [-1, 1] */
    int *y;     /* n labels 0..9 */
} its_digits_data;

/* The copy of the data set in the source tree (compiled in). */
const char *its_digits_default_data_path(void);
/* Default folder for cached weights (the build tree, compiled in). */
const char *its_digits_default_cache_dir(void);

/* Reads a CSV (gzip or plain) of 65 integers per line: 64 pixels 0..16, then the label 0..9. */
its_status its_digits_load(const char *path, its_digits_data *out, char *err, size_t errcap);
/* Parses CSV text of len bytes (no NUL needed). */
its_status its_digits_parse(const char *text, size_t len, its_digits_data *out, char *err,
                            size_t errcap);
void its_digits_data_free(its_digits_data *d); /* NULL-safe; leaves *d empty */
/* Split by index parity: part 0 (A) = even rows, part 1 (B) = odd rows. Copies. */
its_status its_digits_split(const its_digits_data *d, int part, its_digits_data *out, char *err,
                            size_t errcap);
/* Only the rows of class c (copies). */
its_status its_digits_select(const its_digits_data *d, int c, its_digits_data *out, char *err,
                             size_t errcap);

/* ---- deterministic random numbers for training (SplitMix64 + Box-Muller) ---- */
typedef struct its_digits_rng {
    uint64_t s;
    int has_spare;
    double spare;
} its_digits_rng;
void its_digits_rng_seed(its_digits_rng *r, uint64_t seed);
uint64_t its_digits_rng_u64(its_digits_rng *r);
double its_digits_rng_uniform(its_digits_rng *r); /* (0, 1) */
double its_digits_rng_normal(its_digits_rng *r);
/* Fisher-Yates shuffle of perm[0..n) (one draw per position, from the last down). */
void its_digits_shuffle(its_digits_rng *r, size_t *perm, size_t n);

/* ---- MLP ---- */
enum { ITS_MLP_FLOW = 1, ITS_MLP_CLASSIFIER = 2 };

typedef struct its_mlp {
    int kind;
    int n_layers;
    int dims[ITS_MLP_MAX_LAYERS + 1];
    int n_freq, n_class;
    size_t n_params;
    float *params;                  /* all W_l, b_l in file order */
    float *w[ITS_MLP_MAX_LAYERS];   /* views into params */
    float *b[ITS_MLP_MAX_LAYERS];
} its_mlp;

/* Activations for up to cap rows, allocated once. */
typedef struct its_mlp_work {
    size_t cap;
    int n_layers;
    float *h[ITS_MLP_MAX_LAYERS + 1]; /* h[0] input, h[l+1] output of layer l (SiLU but last) */
    float *z[ITS_MLP_MAX_LAYERS];     /* pre-activations */
    float *d0, *d1;                   /* backward scratch, cap x widest */
} its_mlp_work;

/* Shapes checked as in the file format; parameters initialised from seed (uniform with
 * bound 1/sqrt(fan_in), biases 0). */
its_status its_mlp_create(its_mlp *m, int kind, int n_layers, const int *dims, int n_freq,
                          int n_class, uint64_t seed, char *err, size_t errcap);
void its_mlp_free(its_mlp *m); /* NULL-safe */
its_status its_mlp_work_create(const its_mlp *m, size_t cap, its_mlp_work *w, char *err,
                               size_t errcap);
void its_mlp_work_free(its_mlp_work *w);
/* Forward pass of n <= cap rows already in w->h[0]; output in w->h[L]. */
void its_mlp_forward(const its_mlp *m, its_mlp_work *w, size_t n);
/* Backward pass after its_mlp_forward: dout (n x d_L) = dLoss/dOutput. Adds dLoss/dparams to
 * grad (n_params floats) when non-NULL; writes dLoss/dinput (n x d_0) to din when non-NULL.
 * dout may be w->d0 or w->d1 only if din is NULL. */
void its_mlp_backward(const its_mlp *m, its_mlp_work *w, size_t n, const float *dout,
                      float *grad, float *din);

/* Adam (Kingma & Ba 2015) over a parameter vector. */
typedef struct its_adam {
    size_t n;
    float *m, *v;
    double beta1, beta2, eps;
    long t;
} its_adam;
its_status its_adam_create(its_adam *a, size_t n, char *err, size_t errcap);
void its_adam_free(its_adam *a);
void its_adam_step(its_adam *a, float *params, const float *grad, double lr);

/* A weight file format in the its_mlp layout: a task's magic, its shape rules and what its header
 * words 3 and 4 (n_freq and a task word: digits' n_class, fashion's input pooling) mean. The
 * layout, the checks, the CRC-32 and the file I/O are shared (weights.c). */
typedef struct its_mlp_format {
    const char *magic;   /* 4 characters */
    const char *name;    /* "digits": "not a digits weight file" */
    uint32_t word_max;   /* the task word above this reaches the shape check as -1 */
    size_t max_bytes;    /* largest file its_mlp_format_load reads */
    /* the shape rules on the header's values (kind 1 = flow, 2 = classifier) */
    its_status (*check)(int kind, int n_layers, const int *dims, int n_freq, int word, char *err,
                        size_t errcap);
    /* the header values of a network, and the network's fields from them */
    void (*encode)(const its_mlp *m, int *kind, int *n_freq, int *word);
    void (*decode)(its_mlp *m, int kind, int n_freq, int word);
} its_mlp_format;
its_status its_mlp_format_to_buffer(const its_mlp_format *f, const its_mlp *m,
                                    unsigned char **buf, size_t *len, char *err, size_t errcap);
its_status its_mlp_format_from_buffer(const its_mlp_format *f, const void *buf, size_t len,
                                      int expect_kind, its_mlp *out, char *err, size_t errcap);
/* Written beside, then renamed: a reader never sees half a file. */
its_status its_mlp_format_save(const its_mlp_format *f, const its_mlp *m, const char *path,
                               char *err, size_t errcap);
its_status its_mlp_format_load(const its_mlp_format *f, const char *path, int expect_kind,
                               its_mlp *out, char *err, size_t errcap);
/* An its_mlp of the given shape with zero parameters (views set); the caller checked the shape. */
its_status its_mlp_alloc_shape(its_mlp *m, int n_layers, const int *dims, char *err,
                               size_t errcap);

/* Weight files (format above). expect_kind 0 accepts either kind. */
its_status its_mlp_save(const its_mlp *m, const char *path, char *err, size_t errcap);
its_status its_mlp_to_buffer(const its_mlp *m, unsigned char **buf, size_t *len, char *err,
                             size_t errcap); /* *buf from malloc */
its_status its_mlp_from_buffer(const void *buf, size_t len, int expect_kind, its_mlp *out,
                               char *err, size_t errcap);
its_status its_mlp_load(const char *path, int expect_kind, its_mlp *out, char *err, size_t errcap);

/* ---- flow model ---- */
typedef struct its_flow_train_params {
    int hidden;        /* width of each hidden layer; default 256 */
    int layers;        /* dense layers; default 4 */
    int n_freq;        /* time features; default 6 */
    int conditional;   /* 1: class-conditional (10 classes, 10% of labels dropped); default 0 */
    int epochs;        /* default 1500 */
    int batch;         /* default 128 */
    double lr;         /* peak learning rate, cosine decay to 0; default 2e-3 */
    uint64_t seed;     /* default 1 */
    int log_every;     /* epochs between progress lines; default 100 */
} its_flow_train_params;
void its_flow_train_params_init(its_flow_train_params *p);

/* Trains a flow model on d from scratch. Single-threaded OpenBLAS while it runs (restored
 * after), so the weights are a pure function of (data, params) on one machine. final_loss (may
 * be NULL) gets the mean loss of the last epoch; progress lines go to log when non-NULL. */
its_status its_flow_train(const its_digits_data *d, const its_flow_train_params *p, its_mlp *out,
                          double *final_loss, FILE *log, char *err, size_t errcap);
/* Mean flow-matching loss of m on d with (t, eps) drawn from seed (n_draws passes). */
its_status its_flow_loss(const its_mlp *m, const its_digits_data *d, uint64_t seed, int n_draws,
                         double *loss, char *err, size_t errcap);

/* A model callback over a flow MLP; eval never allocates (activations for max_batch rows). */
typedef struct its_flow_model {
    const its_mlp *mlp;
    its_mlp_work work;
    int cond_class;   /* conditional models: class to generate, -1 = unconditional */
} its_flow_model;
its_status its_flow_model_create(its_flow_model *fm, const its_mlp *mlp, size_t max_batch,
                                 its_model *out, char *err, size_t errcap);
void its_flow_model_free(its_flow_model *fm);

/* ---- classifiers ---- */
typedef struct its_clf_train_params {
    int hidden;        /* 0 = logistic regression; else one SiLU hidden layer of this width */
    int epochs;        /* default 200 */
    int batch;         /* default 64 */
    double lr;         /* default 1e-2 */
    double l2;         /* weight decay on W (added to the loss as l2/2 |W|^2); default 1e-3 */
    uint64_t seed;
} its_clf_train_params;
void its_clf_train_params_init(its_clf_train_params *p);
its_status its_clf_train(const its_digits_data *d, const its_clf_train_params *p, its_mlp *out,
                         double *final_loss, FILE *log, char *err, size_t errcap);
/* Share of rows whose argmax class equals the label. */
its_status its_clf_accuracy(const its_mlp *m, const its_digits_data *d, double *acc, char *err,
                            size_t errcap);

/* A classifier with preallocated activations for cap rows. */
typedef struct its_clf {
    const its_mlp *mlp;
    its_mlp_work work;
    float *dlogit;     /* cap x n_class */
    int target;
} its_clf;
its_status its_clf_create(its_clf *c, const its_mlp *mlp, size_t cap, int target, char *err,
                          size_t errcap);
void its_clf_free(its_clf *c);
/* log p(target | x) for n rows (chunks of cap); argmax class into cls (may be NULL). */
void its_clf_logp(its_clf *c, const float *x, size_t n, float *logp, int *cls);
/* Gradient of log p(target | x) with respect to x (n x 64) and the log-probs. */
void its_clf_logp_grad(its_clf *c, const float *x, size_t n, float *grad, float *logp);
/* Verifier callback: score = log p(target | x0), with gradient. c->target chooses the digit. */
void its_clf_bind_verifier(its_clf *c, its_verifier *v);

/* ---- the task's three models, cached on disk ---- */
/* Default training of the verifier (softmax regression, split A) and of the held-out evaluator
 * (one hidden layer of 128, split B, another seed). */
void its_digits_verifier_params(its_clf_train_params *p);
void its_digits_evaluator_params(its_clf_train_params *p);

typedef struct its_digits_bundle {
    its_digits_data all, target_rows; /* every row; the rows of the target class */
    its_mlp flow, verifier, evaluator;
    double acc_verifier_b, acc_evaluator_a; /* each classifier on the other split */
} its_digits_bundle;

/* Loads the data (data_path NULL: the default) and the three models from dir (NULL: the default
 * cache): flow.itsw, verifier.itsw, evaluator.itsw. A file that is missing is trained with the
 * defaults (the flow model on every row) and written there, progress on log (may be NULL).
 * A file that exists but does not load is an error: delete it to retrain. */
its_status its_digits_bundle_open(const char *data_path, const char *dir, int target, FILE *log,
                                  its_digits_bundle *b, char *err, size_t errcap);
void its_digits_bundle_free(its_digits_bundle *b);

/* ---- metrics ---- */
/* Mean and covariance (divisor n - 1; n >= 2) of n rows of dim floats, in double. */
its_status its_stats_mean_cov(const float *x, size_t n, size_t dim, double *mean, double *cov,
                              char *err, size_t errcap);
/* Frechet distance between N(mu1, c1) and N(mu2, c2) (dim x dim PSD):
 * |mu1 - mu2|^2 + tr c1 + tr c2 - 2 tr sqrt(c1^1/2 c2 c1^1/2), the square root through LAPACK's
 * dsyevd (eigenvalues clamped at 0). */
its_status its_frechet_gauss(size_t dim, const double *mu1, const double *c1, const double *mu2,
                             const double *c2, double *out, char *err, size_t errcap);
/* Frechet distance between the Gaussians fitted to two sample sets (na, nb >= 2). */
its_status its_frechet_samples(const float *a, size_t na, const float *b, size_t nb, size_t dim,
                               double *out, char *err, size_t errcap);
/* Mean pairwise L2 distance among n rows (NaN when n < 2). */
double its_diversity(const float *x, size_t n, size_t dim);

/* Writes n 8x8 images (scaled pixels) as a binary PGM grid, cols per row, each pixel drawn
 * zoom x zoom, dark ink on white, a 1-pixel grey gutter. */
its_status its_digits_write_pgm(const char *path, const float *x, size_t n, int cols, int zoom,
                                char *err, size_t errcap);

#ifdef __cplusplus
}
#endif

#endif
