/* Differential fuzz of jscan against json-c: whatever jscan accepts, json-c must parse to the same
 * kind of value (jscan accepts a subset of json-c), and the top-level member spans must lie inside the
 * input and parse on their own. */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "canon/json.h"
#include "canon/jscan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    struct jscan_member m[8];
    size_t n = 0, at = 0;
    if (memchr(s, '\0', size))
        return 0; /* json-c stops at NUL in some states; jscan refuses it anyway */
    if (jscan(s, size, m, 8, &n, &at) != 0) {
        if (at > size)
            abort();
        return 0;
    }
    enum json_tokener_error e;
    json_object *o = canon_json_parse(s, size, NULL, &e);
    if (e != json_tokener_success)
        abort(); /* jscan accepted what json-c refuses */
    for (size_t i = 0; i < n && i < 8; i++) {
        if (m[i].value.p < s || m[i].value.p + m[i].value.len > s + size)
            abort();
        enum json_tokener_error e2;
        json_object *v = canon_json_parse(m[i].value.p, m[i].value.len, NULL, &e2);
        if (e2 != json_tokener_success)
            abort();
        json_object_put(v);
    }
    if (n && (!o || !json_object_is_type(o, json_type_object) ||
              (size_t)json_object_object_length(o) > n))
        abort(); /* (json-c keeps the last of duplicate keys, so it may count fewer) */
    json_object_put(o);
    return 0;
}
