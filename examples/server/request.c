#include "request.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

/* Length of the UTF-8 sequence starting at s (at most n bytes), or 0 when it is not a
 * well-formed one (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

size_t its_srv_text_clean(char *dst, size_t cap, const char *src)
{
    if (!cap)
        return 0;
    const unsigned char *s = (const unsigned char *)src;
    size_t n = strlen(src), i = 0, o = 0;
    while (i < n) {
        size_t k = utf8_seq(s + i, n - i);
        const char *put = k ? (const char *)s + i : "\xEF\xBF\xBD"; /* U+FFFD */
        size_t m = k ? k : 3;
        if (o + m >= cap)
            break; /* never cut a sequence in two */
        memcpy(dst + o, put, m);
        o += m;
        i += k ? k : 1;
    }
    dst[o] = 0;
    return o;
}

/* A client's string in an error message: in double quotes, at most 64 bytes of it, with '"',
 * '\\' and bytes outside printable ASCII written as \" \\ \xNN, so the quoted part ends only at
 * its closing quote and no key or name a client picks can make one message read like another. */
static const char *req_quote(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; s[i] && i < 64 && o + 6 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return out;
}

/* Unknown keys, repeated keys, wrong types and bytes after the object are 400s that name the
 * cause. A repeated key is refused rather than "last one wins": a proxy that reads the first
 * and a server that reads the last would disagree about the request. */
int its_srv_parse_generate(const its_sched *s, const char *body, size_t len, its_sched_req *r,
                           char keybuf[ITS_SCHED_KEY_CAP], char *err, size_t errcap)
{
    const char *end = NULL;
    char qbuf[64 * 4 + 3];
    /* a \u0000 escape would cut the C string it decodes into (a key "co\u0000l" would read as
     * "co"): refused before parsing, so no name is read other than as sent. An escape is a
     * backslash preceded by an even number of backslashes. */
    for (size_t i = 0; i + 6 <= len; i++)
        if (body[i] == '\\' && body[i + 1] == 'u' && !memcmp(body + i + 2, "0000", 4)) {
            size_t bs = 0;
            while (bs < i && body[i - 1 - bs] == '\\')
                bs++;
            if (bs % 2 == 0) {
                snprintf(err, errcap, "body: \\u0000 (NUL) in a string at offset %zu: no key "
                                      "or value may hold it", i);
                return 0;
            }
        }
    cJSON *o = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    int ok = 0;
    if (!o || !cJSON_IsObject(o)) {
        snprintf(err, errcap, "body: expected a JSON object");
        goto done;
    }
    for (size_t at = (size_t)(end - body); at < len; at++)
        if (!strchr(" \t\r\n", body[at]) || body[at] == 0) {
            snprintf(err, errcap, "body: bytes after the JSON object (at offset %zu)", at);
            goto done;
        }
    /* a raw NUL inside a string would cut it as the escape would */
    const char *nul = memchr(body, 0, (size_t)(end - body));
    if (nul) {
        snprintf(err, errcap, "body: NUL byte in a string at offset %zu: no key or value may "
                              "hold it", (size_t)(nul - body));
        goto done;
    }
    its_sched_req_init(r);
    r->task = 0;
    for (const cJSON *k = o->child; k; k = k->next) {
        const char *key = k->string;
        for (const cJSON *e = o->child; e != k; e = e->next)
            if (!strcmp(e->string, key)) {
                snprintf(err, errcap, "%s: key repeated", req_quote(qbuf, sizeof qbuf, key));
                goto done;
            }
        if (!strcmp(key, "task") || !strcmp(key, "profile")) {
            if (!cJSON_IsString(k)) {
                snprintf(err, errcap, "%s: expected a string", key);
                goto done;
            }
            int i = key[0] == 't' ? its_sched_task_index(s, k->valuestring)
                                  : its_sched_profile_index(s, k->valuestring);
            if (i < 0) {
                snprintf(err, errcap, "%s: unknown %s %s", key, key,
                         req_quote(qbuf, sizeof qbuf, k->valuestring));
                goto done;
            }
            if (key[0] == 't')
                r->task = i;
            else
                r->profile = i;
        } else if (!strcmp(key, "priority")) {
            if (!cJSON_IsNumber(k) || k->valuedouble != floor(k->valuedouble) ||
                fabs(k->valuedouble) > 1000) {
                snprintf(err, errcap, "priority: expected an integer in [-1000, 1000]");
                goto done;
            }
            r->priority = (int)k->valuedouble;
        } else if (!strcmp(key, "deadline_ms")) {
            if (!cJSON_IsNumber(k) || !(k->valuedouble >= 0 && k->valuedouble <= 3.6e6)) {
                snprintf(err, errcap, "deadline_ms: expected a number in [0, 3600000]");
                goto done;
            }
            r->deadline_ms = k->valuedouble;
        } else if (!strcmp(key, "affinity")) {
            const char *v = cJSON_IsString(k) ? k->valuestring : NULL;
            size_t n = v ? strlen(v) : 0;
            int plain = v && n >= 1 && n < ITS_SCHED_KEY_CAP;
            for (size_t i = 0; plain && i < n; i++)
                plain = v[i] > 0x20 && v[i] < 0x7f && v[i] != '"' && v[i] != '\\';
            if (!plain) {
                snprintf(err, errcap, "affinity: expected 1 .. %d printable ASCII characters "
                                      "(no space, quote or backslash)", ITS_SCHED_KEY_CAP - 1);
                goto done;
            }
            memcpy(keybuf, v, n + 1);
            r->affinity = keybuf;
        } else if (!strcmp(key, "seed")) {
            if (!cJSON_IsNumber(k) || k->valuedouble != floor(k->valuedouble) ||
                !(k->valuedouble >= 0 && k->valuedouble <= 9007199254740992.0)) {
                snprintf(err, errcap, "seed: expected an integer in [0, 2^53]");
                goto done;
            }
            r->seed = (uint64_t)k->valuedouble;
        } else {
            snprintf(err, errcap, "%s: unknown key", req_quote(qbuf, sizeof qbuf, key));
            goto done;
        }
    }
    ok = 1;
done:
    cJSON_Delete(o);
    return ok;
}
