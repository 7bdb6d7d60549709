#ifndef TG_CANON_JSON_H
#define TG_CANON_JSON_H
/* JSON parsing shared by the API surfaces and the providers: one json-c tokener per thread, reset
 * between documents, instead of a new one (a zeroed allocation) per parse. */
#include <json-c/json.h>
#include <stddef.h>

/* Parses exactly one JSON value from s[0..n), allowing trailing whitespace. Returns it (owned by the
 * caller), or NULL with *err set and *end at the byte where parsing stopped. An incomplete document
 * reports json_tokener_error_parse_eof at n; trailing data reports json_tokener_error_parse_unexpected
 * at its first byte. The JSON null gives NULL with success. end and err may be NULL. The main thread's
 * tokener is freed at exit by the thread-key destructor only if it exits with pthread_exit; it is one
 * small allocation held for the life of the process. */
json_object *canon_json_parse(const char *s, size_t n, size_t *end, enum json_tokener_error *err);

#endif
