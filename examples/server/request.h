/* The body of POST /v1/generate, parsed strictly into a scheduler request. Kept apart from the
 * HTTP server (no libmicrohttpd) so the fuzz target and tests can call it directly. */
#ifndef ITS_SRV_REQUEST_H
#define ITS_SRV_REQUEST_H

#include <stddef.h>

#include "itscale.h"
#include "itscale/sched.h"

/* Parses body[0, len) (no NUL needed), a JSON object with the optional keys
 *   "task" (a task name), "profile" (a profile name), "priority" (integer in [-1000, 1000]),
 *   "deadline_ms" (number in [0, 3600000]), "seed" (integer in [0, 2^53]).
 * Returns 1 with *r filled (its_sched_req_init defaults, task 0, then the keys given), or 0 with
 * a message naming the key in err (the server's 400 text; cut to errcap, always terminated when
 * errcap > 0; err may be NULL when errcap is 0); *r is then unspecified. Unknown keys and wrong
 * types are rejections. Task and profile names are looked up in s. */
int its_srv_parse_generate(const its_sched *s, const char *body, size_t len, its_sched_req *r,
                           char *err, size_t errcap);

#endif
