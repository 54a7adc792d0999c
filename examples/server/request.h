/* The body of POST /v1/generate, parsed strictly into a scheduler request. Kept apart from the
 * HTTP server (no libmicrohttpd) so the fuzz target and tests can call it directly. */
#ifndef ITS_SRV_REQUEST_H
#define ITS_SRV_REQUEST_H

#include <stddef.h>

#include "itscale.h"
#include "itscale/sched.h"

/* Parses body[0, len) (no NUL needed), a JSON object with the optional keys
 *   "task" (a task name), "profile" (a profile name), "priority" (integer in [-1000, 1000]),
 *   "deadline_ms" (number in [0, 3600000]), "seed" (integer in [0, 2^53]), "affinity" (1 .. 63
 *   printable ASCII characters without space, quote or backslash: the conditioning id whose
 *   prepared state the task caches; copied into keybuf, ITS_SCHED_KEY_CAP bytes, and
 *   r->affinity points there).
 * Returns 1 with *r filled (its_sched_req_init defaults, task 0, then the keys given), or 0 with
 * a message naming the key in err (the server's 400 text; cut to errcap, always terminated when
 * errcap > 0; err may be NULL when errcap is 0); *r is then unspecified. Unknown keys and wrong
 * types are rejections, and so are a repeated key and any byte after the object other than
 * JSON whitespace (a NUL included). Task and profile names are looked up in s. */
int its_srv_parse_generate(const its_sched *s, const char *body, size_t len, its_sched_req *r,
                           char keybuf[ITS_SCHED_KEY_CAP], char *err, size_t errcap);

 /* Copies the NUL-terminated src into dst (cap bytes, terminated when cap > 0) as valid UTF-8:
 * each byte that does not start a well-formed sequence becomes U+FFFD, and the copy stops before
 * a sequence that would not fit. Returns the length written. Every text the server puts into a
 * JSON body goes through it, so the body stays valid JSON whatever bytes a client sent. */
size_t its_srv_text_clean(char *dst, size_t cap, const char *src);

#endif
