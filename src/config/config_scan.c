/* JSON configuration, pre-scan: checks UTF-8, NUL bytes, nesting and leading zeros before
 * cJSON sees the text. */
#include <stdio.h>
#include <string.h>

#include "config/config.h"

/* ---------------------------------------------------------------------------------------------
 * Pre-scan: UTF-8, NUL bytes, nesting and leading zeros, before cJSON sees the text
 * ------------------------------------------------------------------------------------------- */
/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, surrogates or > U+10FFFF),
 * 0 when invalid. */
static size_t cfg_utf8_len(const unsigned char *p, size_t left)
{
    unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (left < n)
        return 0;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return n;
}

/* A byte that can sit inside a number or literal token (digits, signs, '.', e/E, letters). */
static int cfg_token_byte(unsigned c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           c == '.' || c == '+' || c == '-';
}

/* 1 when a number starts at i (outside strings) with a superfluous leading zero: 00, 01, -01.
 * RFC 8259 section 6: int = zero / ( digit1-9 *DIGIT ); cJSON reads them as decimal. Exponent
 * digits (1e01) may lead with zeros and are not a number start. */
static int cfg_leading_zero(const unsigned char *p, size_t len, size_t i)
{
    if (i > 0 && cfg_token_byte(p[i - 1]))
        return 0;
    size_t j = i;
    if (p[j] == '-')
        j++;
    return j + 1 < len && p[j] == '0' && p[j + 1] >= '0' && p[j + 1] <= '9';
}

its_status its_cfg_prescan(its_ctx *ctx, const char *json, size_t len)
{
    int open;
    return its_cfg_scan(ctx, json, len, &open);
}

/* *open: 1 when the text ends inside a string or an unclosed object or array. */
its_status its_cfg_scan(its_ctx *ctx, const char *json, size_t len, int *open)
{
    *open = 0;
    if (!json)
        return its_error(ctx, ITS_ERR_CONFIG, "config: the JSON text is NULL");
    if (len == 0)
        return its_error(ctx, ITS_ERR_CONFIG, "config: empty document (expected a JSON object)");
    if (len > ITS_CFG_MAX_BYTES)
        return its_error(ctx, ITS_ERR_CONFIG, "config: %zu bytes is larger than the limit of %zu",
                         len, ITS_CFG_MAX_BYTES);
    const unsigned char *p = (const unsigned char *)json;
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len;) {
        unsigned c = p[i];
        if (c == 0)
            return its_error(ctx, ITS_ERR_CONFIG, "config: NUL byte at offset %zu", i);
        size_t n = cfg_utf8_len(p + i, len - i);
        if (n == 0)
            return its_error(ctx, ITS_ERR_CONFIG,
                             "config: invalid UTF-8 at offset %zu (expected UTF-8 text)", i);
        if (in_str) {
            if (c == '\\' && i + 5 < len && !memcmp(p + i + 1, "u0000", 5))
                return its_error(ctx, ITS_ERR_CONFIG,
                                 "config: \\u0000 (NUL) in a string at offset %zu: no name or "
                                 "key may hold it", i);
            if (c == '\\' && i + 1 < len && p[i + 1] < 0x80 && p[i + 1] != 0)
                n = 2; /* skip the escaped (ASCII) character */
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (cfg_leading_zero(p, len, i)) {
            return its_error(ctx, ITS_ERR_CONFIG,
                             "config: number with a leading zero at offset %zu (JSON allows "
                             "0 and 0.x, not 01)",
                             i);
        } else if (c == '{' || c == '[') {
            if (++depth > ITS_CFG_MAX_DEPTH)
                return its_error(ctx, ITS_ERR_CONFIG,
                                 "config: nesting deeper than %d levels at offset %zu",
                                 ITS_CFG_MAX_DEPTH, i);
        } else if (c == '}' || c == ']') {
            depth--;
        }
        i += n;
    }
    *open = in_str || depth > 0;
    return ITS_OK;
}
