/* JSON through yajl, wrapped once: parsing into a tree with a depth limit,
 * typed member access, and string escaping for the JSON the library writes
 * itself (requests are small and their key order matters for RFC 7638). */
#ifndef ACME_LIB_JSON_H
#define ACME_LIB_JSON_H

#include <stddef.h>

#include <yajl/yajl_tree.h>

#include "base/buf.h"
#include "base/error.h"

/* Deeper documents are refused: yajl frees trees recursively. */
#define ACME__JSON_MAX_DEPTH 64

/* Parse len bytes (no NUL inside) into *out. ACME_ERR_PROTOCOL with the
 * parser's reason on failure. `what` names the document in messages. */
int acme__json_parse(const char *data, size_t len, const char *what, yajl_val *out,
                     acme__err *err);
/* Same, but the document must be a JSON object. */
int acme__json_parse_object(const char *data, size_t len, const char *what, yajl_val *out,
                            acme__err *err);
void acme__json_free(yajl_val v);

/* Member of an object, or NULL when v is no object or lacks it. */
yajl_val acme__json_get(yajl_val obj, const char *key);
/* String member, or NULL when absent or not a string. */
const char *acme__json_string(yajl_val obj, const char *key);
/* Boolean member; dflt when absent or not a boolean. */
int acme__json_bool(yajl_val obj, const char *key, int dflt);
/* Integer member into *out; ACME_OK, or ACME_ERR_NOT_FOUND when absent or
 * not an integer. */
int acme__json_int(yajl_val obj, const char *key, long long *out);
/* Array member, or NULL when absent or not an array. */
yajl_val acme__json_array(yajl_val obj, const char *key);
/* Object member, or NULL when absent or not an object. */
yajl_val acme__json_object(yajl_val obj, const char *key);
size_t acme__json_len(yajl_val arr);
yajl_val acme__json_at(yajl_val arr, size_t i);
/* v's string value, or NULL when v is not a string. */
const char *acme__json_as_string(yajl_val v);

/* Serialise a parsed value back to compact JSON (numbers as they were
 * written). Depth is bounded by the parser's limit. */
int acme__json_write(acme__buf *b, yajl_val v);

/* Append s as a quoted, escaped JSON string. */
int acme__json_put_string(acme__buf *b, const char *s);
/* Append an array of strings. */
int acme__json_put_strings(acme__buf *b, const char *const *v, size_t n);

#endif
