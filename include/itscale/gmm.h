/*
 * The analytic test model: a Gaussian mixture sum_k w_k N(mu_k, diag(s_k^2)) in any dimension.
 * Under any Gaussian interpolant its marginal is sum_k w_k N(alpha mu_k, alpha^2 s_k^2 + sigma^2),
 * so the posterior mean (Tweedie), noise, score and velocity are exact (DESIGN.md §4.4). It is the
 * library's ground truth, and a way for hosts to check a pipeline end to end.
 */
#ifndef ITSCALE_GMM_H
#define ITSCALE_GMM_H

#include "itscale.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct its_gmm its_gmm;

/* weights (k, normalised here), means and stds (k x dim, row-major) are copied. Stds > 0. */
ITS_API its_status its_gmm_create(its_ctx *ctx, size_t dim, size_t k, const double *weights,
                                  const double *means, const double *stds, its_gmm **out);
ITS_API void its_gmm_free(its_gmm *g);
ITS_API size_t its_gmm_dim(const its_gmm *g);
ITS_API size_t its_gmm_components(const its_gmm *g);
ITS_API double its_gmm_weight(const its_gmm *g, size_t k);
ITS_API const double *its_gmm_mean(const its_gmm *g, size_t k);  /* dim values */
ITS_API const double *its_gmm_std(const its_gmm *g, size_t k);   /* dim values */

/* Posterior component probabilities of x (dim) under the marginal at t; resp has k values. */
ITS_API its_status its_gmm_responsibilities(const its_gmm *g, const its_interp *ip, double t,
                                            const double *x, double *resp);
/* Exact prediction of type pred at t for n rows of x (float, n x dim), computed in double. */
ITS_API its_status its_gmm_predict(const its_gmm *g, const its_interp *ip, its_pred pred,
                                   double t, const float *x, size_t n, float *out);
/* log p_t(x) of the marginal at t. */
ITS_API its_status its_gmm_logpdf(const its_gmm *g, const its_interp *ip, double t,
                                  const double *x, double *out);

/* Fills m with a model callback predicting `pred` under interpolant ip (copied into g; one
 * binding per mixture at a time). m->user is g. */
ITS_API void its_gmm_bind_model(its_gmm *g, const its_interp *ip, its_pred pred, its_model *m);

/* Verifier: log posterior probability that a sample came from component `target`
 * (<= 0; with gradient). One verifier binding per mixture at a time. */
ITS_API its_status its_gmm_bind_logprob(its_gmm *g, size_t target, its_verifier *v);
/* Verifier: quadratic reward r(x) = -a |x - center|^2 (with gradient); center has dim values. */
ITS_API its_status its_gmm_bind_quadratic(its_gmm *g, const double *center, double a,
                                          its_verifier *v);

/* The tilted mixture p(x) exp(lambda r(x)) / Z for the quadratic reward above: again a mixture
 * (each component's precision grows by 2 lambda a; weights in closed form). */
ITS_API its_status its_gmm_tilt_quadratic(const its_gmm *g, const double *center, double a,
                                          double lambda, its_gmm **out);

/* n exact samples (float, n x dim) and, if comp is non-NULL, their components. */
ITS_API its_status its_gmm_sample(const its_gmm *g, uint64_t seed, size_t n, float *out,
                                  size_t *comp);

#ifdef __cplusplus
}
#endif

#endif
