#ifndef TG_JSCAN_H
#define TG_JSCAN_H
/* jscan: a validating JSON scanner that builds nothing. It checks one JSON text (RFC 8259) and, when
 * the value is an object, reports the spans of its top-level members.
 *
 * It exists for the stream hot path: an OpenAI-format chunk must be validated and its "usage" and
 * "choices" found, which json-c can do only by building a tree of objects and hash tables for every
 * chunk (then 45% of the gateway's instructions on a stream). A scan with no allocation does the same
 * at a small fraction. Anything that needs the values themselves still goes through json-c.
 *
 * What it accepts is a subset of what json-c accepts (the differential fuzz driver fuzz/fuzz_jscan.c
 * checks that), so text it passes on is text every JSON parser reads. Bytes >= 0x80 inside strings are
 * not checked as UTF-8, as json-c does not either. */
#include <stddef.h>

#include "base/str.h"

/* Nesting deeper than this is refused, as json-c refuses it. */
#define JSCAN_MAX_DEPTH 32 /* json-c accepts 32 nested containers and refuses 33 */

struct jscan_member {
    struct str key;   /* the key's raw text between its quotes (escapes not decoded) */
    struct str value; /* the value's raw text */
};

/* Scans s[0..len). Returns 0 when it is one valid JSON value surrounded by optional whitespace;
 * *n_members is then the number of top-level members (objects only; 0 otherwise), of which the first
 * max are stored in members. Returns ERR_PARSE otherwise, with *err_at the offset of the first bad
 * byte. members may be NULL when max is 0; err_at may be NULL. */
int jscan(const char *s, size_t len, struct jscan_member *members, size_t max, size_t *n_members,
          size_t *err_at);

/* Returns the member whose raw key equals key, or NULL. */
const struct jscan_member *jscan_find(const struct jscan_member *m, size_t n, const char *key);

#endif
