/* Image grids as 8-bit grey PNG through libpng (setjmp error handling, no hand-written
 * encoder), and a reader for the tests. */
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

unsigned char its_fashion_pixel_byte(float v)
{
    float b = (v + 1.0f) * 127.5f; /* inverse of the data scaling */
    if (!(b > 0.0f)) /* NaN too */
        return 0;
    if (b >= 255.0f)
        return 255;
    return (unsigned char)(b + 0.5f);
}

/* libpng reports errors through longjmp; the message is kept for the caller. */
typedef struct png_ctx {
    char msg[160];
} png_ctx;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    if (c)
        snprintf(c->msg, sizeof(c->msg), "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

its_status its_fashion_write_png(const char *path, const float *x, size_t n, int cols, int zoom,
                                 int invert, char *err, size_t errcap)
{
    return its_png_write_grid(path, x, n, ITS_FASHION_SIDE, cols, zoom, invert, err, errcap);
}

its_status its_png_write_grid(const char *path, const float *x, size_t n, int side, int cols,
                              int zoom, int invert, char *err, size_t errcap)
{
    if (!path || (!x && n) || n == 0 || side < 1 || side > 4096 || cols < 1 || zoom < 1 ||
        zoom > 16 || n > 100000)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID,
                           "png: needs a path, 1..100000 images of side 1..4096, cols >= 1, "
                           "zoom 1..16");
    const size_t S = (size_t)side, gut = 2, cell = S * (size_t)zoom;
    size_t c = (size_t)cols < n ? (size_t)cols : n, rows = (n + c - 1) / c;
    size_t W = c * cell + (c + 1) * gut, H = rows * cell + (rows + 1) * gut;
    if (W > 65535 || H > 65535)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "png: grid of %zu x %zu pixels too large",
                           W, H);
    unsigned char *pix = malloc(W * H);
    png_bytep *rowp = malloc(H * sizeof(png_bytep));
    if (!pix || !rowp) {
        free(pix), free(rowp);
        return its_fm_fail(err, errcap, ITS_ERR_NOMEM, "png: out of memory");
    }
    memset(pix, 255, W * H);
    for (size_t k = 0; k < n; k++) {
        size_t ox = gut + (k % c) * (cell + gut), oy = gut + (k / c) * (cell + gut);
        for (size_t py = 0; py < cell; py++)
            for (size_t px = 0; px < cell; px++) {
                unsigned char v =
                    its_fashion_pixel_byte(x[k * S * S + (py / zoom) * S + px / zoom]);
                pix[(oy + py) * W + ox + px] = invert ? (unsigned char)(255 - v) : v;
            }
    }
    for (size_t i = 0; i < H; i++)
        rowp[i] = pix + i * W;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(pix), free(rowp);
        return its_fm_fail(err, errcap, ITS_ERR_IO, "png: cannot create %s", path);
    }
    png_ctx ctx = {""};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error,
                                              png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    its_status s = ITS_OK;
    if (!png || !info) {
        s = its_fm_fail(err, errcap, ITS_ERR_NOMEM, "png: libpng could not start");
    } else if (setjmp(png_jmpbuf(png))) {
        s = its_fm_fail(err, errcap, ITS_ERR_IO, "png: writing %s: %s", path, ctx.msg);
    } else {
        png_init_io(png, f);
        png_set_IHDR(png, info, (png_uint_32)W, (png_uint_32)H, 8, PNG_COLOR_TYPE_GRAY,
                     PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(png, info);
        png_write_image(png, rowp);
        png_write_end(png, NULL);
    }
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    if (fclose(f) != 0 && s == ITS_OK)
        s = its_fm_fail(err, errcap, ITS_ERR_IO, "png: writing %s failed", path);
    free(pix), free(rowp);
    if (s != ITS_OK)
        remove(path);
    return s;
}

its_status its_fashion_read_png(const char *path, unsigned char **pix, int *w, int *h, char *err,
                                size_t errcap)
{
    if (!path || !pix || !w || !h)
        return its_fm_fail(err, errcap, ITS_ERR_INVALID, "png: NULL argument");
    *pix = NULL;
    *w = *h = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return its_fm_fail(err, errcap, ITS_ERR_IO, "png: cannot open %s", path);
    png_ctx ctx = {""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_on_error,
                                             png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    /* volatile: assigned between setjmp and a possible longjmp */
    unsigned char *volatile buf = NULL;
    png_bytep *volatile rowp = NULL;
    its_status s = ITS_OK;
    if (!png || !info) {
        s = its_fm_fail(err, errcap, ITS_ERR_NOMEM, "png: libpng could not start");
    } else if (setjmp(png_jmpbuf(png))) {
        s = its_fm_fail(err, errcap, ITS_ERR_IO, "png: reading %s: %s", path, ctx.msg);
    } else {
        png_init_io(png, f);
        png_read_info(png, info);
        png_uint_32 W = png_get_image_width(png, info), H = png_get_image_height(png, info);
        if (png_get_color_type(png, info) != PNG_COLOR_TYPE_GRAY ||
            png_get_bit_depth(png, info) != 8 || W > 65535 || H > 65535) {
            s = its_fm_fail(err, errcap, ITS_ERR_IO, "png: %s is not an 8-bit grey image", path);
        } else {
            buf = malloc((size_t)W * H);
            rowp = malloc((size_t)H * sizeof(png_bytep));
            if (!buf || !rowp) {
                s = its_fm_fail(err, errcap, ITS_ERR_NOMEM, "png: out of memory");
            } else {
                for (png_uint_32 i = 0; i < H; i++)
                    rowp[i] = buf + (size_t)i * W;
                png_read_image(png, rowp);
                png_read_end(png, NULL);
                *w = (int)W;
                *h = (int)H;
            }
        }
    }
    png_destroy_read_struct(png ? &png : NULL, info ? &info : NULL, NULL);
    fclose(f);
    free(rowp);
    if (s != ITS_OK) {
        free(buf);
        *w = *h = 0;
        return s;
    }
    *pix = buf;
    return ITS_OK;
}
