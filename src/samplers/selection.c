#include <math.h>

#include "samplers/selection.h"

double its_weights_normalize(const double *lw, size_t n, double *w)
{
    double m = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (lw[i] > m) /* NaN compares false */
            m = lw[i];
    if (m == -INFINITY) {
        for (size_t i = 0; i < n; i++)
            w[i] = 1.0 / (double)n;
        return (double)n;
    }
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = lw[i];
        /* +inf rows share the mass when present; subtracting the max keeps exp in range */
        double wi = (m == INFINITY) ? (v == INFINITY ? 1.0 : 0.0)
                                    : (v > -INFINITY ? exp(v - m) : 0.0);
        w[i] = wi;
        sum += wi;
    }
    double ss = 0.0;
    for (size_t i = 0; i < n; i++) {
        w[i] /= sum;
        ss += w[i] * w[i];
    }
    return 1.0 / ss;
}

void its_resample_multinomial(const double *w, size_t n, const double *u, size_t m, double *cdf,
                              size_t *counts)
{
    double c = 0.0;
    for (size_t i = 0; i < n; i++) {
        c += w[i];
        cdf[i] = c;
        counts[i] = 0;
    }
    for (size_t j = 0; j < m; j++) {
        /* first i with cdf[i] > u * total: zero-weight rows are never picked */
        double target = u[j] * c;
        size_t lo = 0, hi = n - 1;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (cdf[mid] > target)
                hi = mid;
            else
                lo = mid + 1;
        }
        while (lo > 0 && w[lo] == 0.0) /* rounding at the top end: step back to a live row */
            lo--;
        counts[lo]++;
    }
}

void its_resample_systematic(const double *w, size_t n, double u0, size_t m, size_t *counts)
{
    double total = 0.0;
    for (size_t i = 0; i < n; i++) {
        total += w[i];
        counts[i] = 0;
    }
    double c = 0.0;
    size_t i = 0;
    for (size_t j = 0; j < m; j++) {
        double pos = ((double)j + u0) / (double)m * total;
        while (i + 1 < n && c + w[i] <= pos) {
            c += w[i];
            i++;
        }
        while (i > 0 && w[i] == 0.0)
            i--;
        counts[i]++;
    }
}

void its_alloc_softmax(const double *r, size_t n, double temp, size_t N, double *work,
                       size_t *counts)
{
    if (temp == 0.0) {
        for (size_t i = 0; i < n; i++)
            work[i] = 1.0 / (double)n;
    } else {
        for (size_t i = 0; i < n; i++)
            work[i] = r[i] > -INFINITY ? temp * r[i] : -INFINITY;
        its_weights_normalize(work, n, work);
    }
    size_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        work[i] *= (double)N; /* the exact share N p_i */
        counts[i] = (size_t)llround(work[i]);
        sum += counts[i];
    }
    /* Rounding can miss N by up to n/2; the fix-up moves one unit at a time where rounding
     * erred most, so the counts stay the closest integers to the shares that sum to N. */
    while (sum > N) {
        size_t best = n;
        for (size_t i = 0; i < n; i++)
            if (counts[i] > 0 &&
                (best == n || (double)counts[i] - work[i] > (double)counts[best] - work[best]))
                best = i;
        counts[best]--;
        sum--;
    }
    while (sum < N) {
        size_t best = 0;
        for (size_t i = 1; i < n; i++)
            if (work[i] - (double)counts[i] > work[best] - (double)counts[best])
                best = i;
        counts[best]++;
        sum++;
    }
}

size_t its_counts_to_index(const size_t *counts, size_t n, size_t *idx)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < counts[i]; c++)
            idx[m++] = i;
    return m;
}

static int its_rank_before(const double *s, size_t a, size_t b)
{
    if (isnan(s[b]))
        return !isnan(s[a]);
    return s[a] > s[b];
}

/* The ranking order made total: equal scores (and NaNs) keep their index order, so any correct
 * sort gives the one stable order. */
static int its_rank_first(const double *s, size_t a, size_t b)
{
    if (its_rank_before(s, a, b))
        return 1;
    if (its_rank_before(s, b, a))
        return 0;
    return a < b;
}

static void its_rank_sift(const double *s, size_t *h, size_t root, size_t n)
{
    /* max-heap on "ranks later", so the heap's top is the last in rank order */
    for (;;) {
        size_t c = 2 * root + 1;
        if (c >= n)
            return;
        if (c + 1 < n && its_rank_first(s, h[c], h[c + 1]))
            c++;
        if (!its_rank_first(s, h[root], h[c]))
            return;
        size_t v = h[root];
        h[root] = h[c];
        h[c] = v;
        root = c;
    }
}

void its_rank_desc(const double *score, size_t n, size_t *order)
{
    /* heapsort: O(n log n), no allocation (beam ranks beams x expansions, thousands of rows);
     * the order is the stable descending one because the comparison is total */
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n / 2; i-- > 0;)
        its_rank_sift(score, order, i, n);
    for (size_t end = n; end > 1; end--) {
        size_t v = order[0];
        order[0] = order[end - 1];
        order[end - 1] = v;
        its_rank_sift(score, order, 0, end - 1);
    }
}

void its_smp_fanout_index(size_t n, size_t k, size_t *pidx, uint32_t *cidx)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < k; j++) {
            pidx[i * k + j] = i;
            cidx[i * k + j] = (uint32_t)j;
        }
}
