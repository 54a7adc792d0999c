/* The quality-vs-compute figure as hand-written SVG: one panel per metric, NFE on a log axis,
 * a line per sampler with a standard-error band and error bars, a shared legend. */
#include <math.h>
#include <string.h>

#include "cli.h"

#define PW 430.0 /* panel width and height, plot area inside the margins */
#define PH 330.0
#define ML 72.0
#define MR 18.0
#define MT 34.0
#define MB 58.0
#define COLS 3

static const char *const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
                                      "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
static const char *const dashes[] = {"", "6,3", "2,3", "8,3,2,3"};

static void xml_text_n(FILE *f, const char *s, size_t n)
{
    for (const char *e = s ? s + n : s; s && s < e && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void xml_text(FILE *f, const char *s) { xml_text_n(f, s, s ? strlen(s) : 0); }

/* The y label, rotated, centred at (x, y). One longer than the plot is high (about 6.6 px per
 * character at 12 px) goes on two lines split at the space nearest its middle; on one line it
 * would run into the label of the panel above or below. */
static void y_label(FILE *f, double x, double y, double h, const char *s)
{
    size_t n = s ? strlen(s) : 0, cut = 0;
    if ((double)n * 6.6 > h)
        for (size_t i = 0; i < n; i++)
            if (s[i] == ' ' && (!cut || (i > n / 2 ? i - n / 2 : n / 2 - i) <
                                            (cut > n / 2 ? cut - n / 2 : n / 2 - cut)))
                cut = i;
    for (int line = 0; line < (cut ? 2 : 1); line++) {
        double lx = cut ? x + (line ? 7.0 : -7.0) : x;
        fprintf(f, "<text transform=\"translate(%.1f %.1f) rotate(-90)\" font-size=\"12\" "
                   "text-anchor=\"middle\">", lx, y);
        if (!cut)
            xml_text(f, s);
        else if (line == 0)
            xml_text_n(f, s, cut);
        else
            xml_text(f, s + cut + 1);
        fputs("</text>\n", f);
    }
}

/* A "nice" tick step (1, 2 or 5 x 10^k) giving about `want` ticks over span. */
static double nice_step(double span, int want)
{
    double raw = span / want, mag = pow(10, floor(log10(raw))), r = raw / mag;
    return (r < 1.5 ? 1 : r < 3.5 ? 2 : r < 7.5 ? 5 : 10) * mag;
}

static const double *cell(const cli_plot *p, const double *a, size_t panel, size_t s)
{
    return a + (panel * p->n_series + s) * p->n_points;
}

/* Where point i of series s stands on the x axis: the NFE it spent, or its budget; <= 0: none. */
static double point_x(const cli_plot *p, size_t s, size_t i)
{
    double v = p->px ? p->px[s * p->n_points + i] : p->x[i];
    return isfinite(v) && v > 0 ? v : 0;
}

static void panel(FILE *f, const cli_plot *p, size_t k, double ox, double oy)
{
    double x0 = ox + ML, x1 = ox + PW - MR, y0 = oy + MT, y1 = oy + PH - MB;
    /* x: log10 of NFE over the budgets and every point, padded a little on both sides */
    double lx0 = log10(p->x[0]), lx1 = log10(p->x[p->n_points - 1]);
    for (size_t s = 0; s < p->n_series; s++)
        for (size_t i = 0; i < p->n_points; i++)
            if (point_x(p, s, i) > 0 && isfinite(cell(p, p->mean, k, s)[i])) {
                lx0 = fmin(lx0, log10(point_x(p, s, i)));
                lx1 = fmax(lx1, log10(point_x(p, s, i)));
            }
    double pad = (lx1 - lx0) * 0.06 + (lx1 == lx0 ? 0.3 : 0);
    lx0 -= pad;
    lx1 += pad;
    /* y: every mean +- se that exists */
    double lo = INFINITY, hi = -INFINITY;
    for (size_t s = 0; s < p->n_series; s++) {
        const double *m = cell(p, p->mean, k, s), *e = cell(p, p->se, k, s);
        for (size_t i = 0; i < p->n_points; i++) {
            if (!isfinite(m[i]) || point_x(p, s, i) <= 0)
                continue;
            double d = isfinite(e[i]) ? e[i] : 0;
            lo = fmin(lo, m[i] - d);
            hi = fmax(hi, m[i] + d);
        }
    }
    if (!isfinite(lo)) {
        lo = 0;
        hi = 1;
    }
    if (hi - lo < 1e-12 * fmax(1, fabs(hi))) {
        lo -= 0.5;
        hi += 0.5;
    }
    double step = nice_step(hi - lo, 5);
    lo = floor(lo / step) * step;
    hi = ceil(hi / step) * step;
#define SX(v) (x0 + (log10(v) - lx0) / (lx1 - lx0) * (x1 - x0))
#define SY(v) (y1 - ((v) - lo) / (hi - lo) * (y1 - y0))

    fprintf(f, "<g>\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fff\" "
               "stroke=\"#444\" stroke-width=\"1\"/>\n", x0, y0, x1 - x0, y1 - y0);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"14\" font-weight=\"bold\" "
               "text-anchor=\"middle\">", (x0 + x1) / 2, oy + MT - 10);
    xml_text(f, p->panel_title[k]);
    fputs("</text>\n", f);
    /* y grid and labels */
    for (double v = lo; v <= hi + step * 0.5; v += step) {
        double y = SY(v), vv = fabs(v) < step * 1e-6 ? 0 : v;
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n",
                x0, y, x1, y);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%.4g</text>\n",
                x0 - 6, y + 4, vv);
    }
    /* x ticks at the budgets, minor grid at 1-9 x 10^k */
    for (double dec = floor(lx0); dec <= ceil(lx1); dec += 1)
        for (int m = 1; m < 10; m++) {
            double v = m * pow(10, dec);
            if (log10(v) <= lx0 || log10(v) >= lx1)
                continue;
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
                    SX(v), y0, SX(v), y1, m == 1 ? "#dcdcdc" : "#f2f2f2");
        }
    for (size_t i = 0; i < p->n_points; i++) {
        double x = SX(p->x[i]);
        fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444\"/>\n", x,
                y1, x, y1 + 5);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%g</text>\n",
                x, y1 + 18, p->x[i]);
    }
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">"
               "%s (log scale)</text>\n", (x0 + x1) / 2, y1 + 38,
            p->px ? "NFE spent; ticks at the budgets" : "NFE budget");
    y_label(f, ox + 18, (y0 + y1) / 2, y1 - y0, p->panel_ylabel[k]);

    /* series: band, line, error bars, markers */
    for (size_t s = 0; s < p->n_series; s++) {
        const char *col = palette[s % 10], *dash = dashes[(s / 10) % 4];
        const double *m = cell(p, p->mean, k, s), *e = cell(p, p->se, k, s);
        size_t nv = 0;
        for (size_t i = 0; i < p->n_points; i++)
            nv += isfinite(m[i]) && point_x(p, s, i) > 0;
        if (nv == 0)
            continue;
        fprintf(f, "<g>\n<title>");
        xml_text(f, p->series[s]);
        fputs("</title>\n", f);
        if (nv > 1) {
            fprintf(f, "<polygon fill=\"%s\" fill-opacity=\"0.13\" stroke=\"none\" points=\"", col);
            for (size_t i = 0; i < p->n_points; i++)
                if (isfinite(m[i]) && point_x(p, s, i) > 0)
                    fprintf(f, "%.1f,%.1f ", SX(point_x(p, s, i)),
                            SY(m[i] + (isfinite(e[i]) ? e[i] : 0)));
            for (size_t i = p->n_points; i-- > 0;)
                if (isfinite(m[i]) && point_x(p, s, i) > 0)
                    fprintf(f, "%.1f,%.1f ", SX(point_x(p, s, i)),
                            SY(m[i] - (isfinite(e[i]) ? e[i] : 0)));
            fputs("\"/>\n", f);
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s%s%s points=\"",
                    col, dash[0] ? " stroke-dasharray=\"" : "", dash, dash[0] ? "\"" : "");
            for (size_t i = 0; i < p->n_points; i++)
                if (isfinite(m[i]) && point_x(p, s, i) > 0)
                    fprintf(f, "%.1f,%.1f ", SX(point_x(p, s, i)), SY(m[i]));
            fputs("\"/>\n", f);
        }
        for (size_t i = 0; i < p->n_points; i++) {
            if (!isfinite(m[i]) || point_x(p, s, i) <= 0)
                continue;
            double x = SX(point_x(p, s, i)), y = SY(m[i]);
            if (isfinite(e[i]) && e[i] > 0) {
                double ya = SY(m[i] + e[i]), yb = SY(m[i] - e[i]);
                fprintf(f, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fh8M%.1f %.1fh8\" stroke=\"%s\" "
                           "stroke-width=\"1.3\" fill=\"none\"/>\n",
                        x, ya, yb, x - 4, ya, x - 4, yb, col);
            }
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\" stroke=\"#fff\" "
                       "stroke-width=\"1\"/>\n", x, y, col);
        }
        fputs("</g>\n", f);
    }
    fputs("</g>\n", f);
#undef SX
#undef SY
}

int cli_plot_svg(FILE *f, const cli_plot *p)
{
    if (p->n_points == 0 || p->n_panels == 0)
        return -1;
    size_t cols = p->n_panels < COLS ? p->n_panels : COLS;
    size_t rows = (p->n_panels + cols - 1) / cols;
    /* legend: entries in rows of up to 5 */
    size_t per_row = 5, lrows = (p->n_series + per_row - 1) / per_row;
    double head = 62 + 22.0 * (double)lrows;
    double W = PW * (double)cols + 20, H = head + PH * (double)rows + 10;
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
               "viewBox=\"0 0 %.0f %.0f\" font-family=\"Helvetica, Arial, sans-serif\">\n",
            W, H, W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
    fprintf(f, "<text x=\"%.1f\" y=\"26\" font-size=\"18\" font-weight=\"bold\" "
               "text-anchor=\"middle\">", W / 2);
    xml_text(f, p->title);
    fprintf(f, "</text>\n<text x=\"%.1f\" y=\"46\" font-size=\"12\" fill=\"#555\" "
               "text-anchor=\"middle\">", W / 2);
    xml_text(f, p->subtitle);
    fputs("</text>\n", f);
    /* legend, centred; entries as wide as the longest name (about 7.5 px a character at 13 px) */
    double ew = 150;
    for (size_t s = 0; s < p->n_series; s++)
        ew = fmax(ew, 32 + 7.5 * (double)strlen(p->series[s]) + 18);
    for (size_t r = 0; r < lrows; r++) {
        size_t n = p->n_series - r * per_row < per_row ? p->n_series - r * per_row : per_row;
        double lx = W / 2 - ew * (double)n / 2, ly = 66 + 22.0 * (double)r;
        for (size_t j = 0; j < n; j++) {
            size_t s = r * per_row + j;
            const char *col = palette[s % 10], *dash = dashes[(s / 10) % 4];
            double x = lx + ew * (double)j;
            fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                       "stroke-width=\"2.5\"%s%s%s/>\n", x, ly, x + 26, ly, col,
                    dash[0] ? " stroke-dasharray=\"" : "", dash, dash[0] ? "\"" : "");
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", x + 13, ly,
                    col);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\">", x + 32, ly + 4);
            xml_text(f, p->series[s]);
            fputs("</text>\n", f);
        }
    }
    for (size_t k = 0; k < p->n_panels; k++)
        panel(f, p, k, 10 + PW * (double)(k % cols), head + PH * (double)(k / cols));
    fputs("</svg>\n", f);
    return ferror(f) ? -1 : 0;
}
