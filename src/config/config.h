/* JSON configuration (internal): the run-parameter table, strict parsing helpers, and the
 * writers shared by its_sampler_to_json, its_result_to_json and the CLI. */
#ifndef ITS_CONFIG_H
#define ITS_CONFIG_H

#include <cjson/cJSON.h>

#include "samplers/sampler.h"

#define ITS_CFG_MAX_DEPTH 32             /* nesting a config may use (objects + arrays) */
#define ITS_CFG_MAX_BYTES ((size_t)1 << 24)
#define ITS_CFG_MAX_INT 9007199254740992.0 /* 2^53: the largest integer a JSON number keeps */

/* One leaf of the "run" object: the run-parameter table of the front end. */
typedef its_param_desc its_cfg_field;
#define ITS_CF_INT ITS_PT_INT
#define ITS_CF_U64 ITS_PT_U64
#define ITS_CF_DOUBLE ITS_PT_DOUBLE
#define ITS_CF_ENUM ITS_PT_ENUM
#define ITS_CF_GRID_CUSTOM ITS_PT_GRID
#define ITS_CF_INTERP ITS_PT_INTERP

const its_cfg_field *its_cfg_run_fields(size_t *n);

/* The run object's leaves (the run descriptor table), shared by parsing and writing. */
static inline size_t its_cfg_run_n(void)
{
    size_t n;
    its_run_desc(&n);
    return n;
}
#define its_run_fields (its_run_desc(NULL))
#define its_run_fields_n (its_cfg_run_n())

/* Interpolant parameters by kind (JSON key, field offset in its_interp). */
typedef struct {
    its_interp_kind kind;
    const char *key;
    size_t offset;
} its_ip_key;

/* Interpolant parameters by kind, in config_parse.c (read there, written by config_write.c). */
extern const its_ip_key its_ip_keys[];
extern const size_t its_ip_keys_n;

/* "integer in [1, 65536]", "number in (0, 1]", "one of \"euler\", \"heun\"", "true or false". */
void its_cfg_desc_expect(const its_param_desc *d, char *buf, size_t cap);
void its_cfg_field_expect(const its_cfg_field *f, char *buf, size_t cap);
/* Default of a descriptor's parameter in params, as JSON text ("4", "0.95", "\"keep\""). */
void its_cfg_desc_value(const its_param_desc *d, const void *params, char *buf, size_t cap);

/* Strict parse of a config document into method, params (a new buffer from the context
 * allocator, freed by the caller with its_mfree) and run (grid_custom, when set, is a new
 * buffer the caller frees too). ITS_ERR_CONFIG names the JSON path. */
its_status its_cfg_parse(its_ctx *ctx, const char *json, size_t len, const its_method_vt **vt,
                         void **params, its_run_params *run);

/* its_sampler_from_json for a method's document (src/auto answers first for "sampler": "auto"). */
its_status its_cfg_sampler_from_json(its_ctx *ctx, const char *json, size_t len,
                                     its_sampler **out);

/* The effective configuration as a cJSON tree (cJSON's allocator); NULL on allocation failure. */
cJSON *its_cfg_to_cjson(const its_method_vt *vt, const void *params, const its_run_params *run);

/* A JSON number that reads back to exactly v (cJSON's printer keeps only 15 digits when they
 * come close); null when v is not finite. */
cJSON *its_cfg_number(double v);

/* Prints a cJSON tree into context memory (unformatted); NULL on failure. */
char *its_cfg_print(its_ctx *ctx, const cJSON *root);

/* Checks that text is a well-formed document for cJSON: valid UTF-8, no NUL bytes, nesting at
 * most ITS_CFG_MAX_DEPTH, no number with a leading zero (01, -01: cJSON reads them, JSON does
 * not allow them). ITS_ERR_CONFIG with the byte offset otherwise. */
its_status its_cfg_prescan(its_ctx *ctx, const char *json, size_t len);
/* The pre-scan itself; *open: 1 when the text ends inside a string or an unclosed object or
 * array (the parser names such a document truncated). */
its_status its_cfg_scan(its_ctx *ctx, const char *json, size_t len, int *open);

#endif
