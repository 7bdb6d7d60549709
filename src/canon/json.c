#include "canon/json.h"

#include <pthread.h>
#include <string.h>

/* The calling thread's tokener, freed by the key's destructor when the thread ends. */
static pthread_key_t tok_key;
static pthread_once_t tok_once = PTHREAD_ONCE_INIT;

static void tok_destroy(void *p)
{
    json_tokener_free(p);
}

static void tok_key_init(void)
{
    pthread_key_create(&tok_key, tok_destroy);
}

json_object *canon_json_parse(const char *s, size_t n, size_t *end, enum json_tokener_error *err)
{
    pthread_once(&tok_once, tok_key_init);
    struct json_tokener *tok = pthread_getspecific(tok_key);
    if (!tok) {
        tok = json_tokener_new();
        pthread_setspecific(tok_key, tok);
    }
    json_tokener_reset(tok);
    json_object *o = json_tokener_parse_ex(tok, s, (int)n);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t at = json_tokener_get_parse_end(tok);
    if (e == json_tokener_continue && n > 0) {
        /* A number or literal that ends the input is not known to be complete until a delimiter:
         * give the tokener one. */
        o = json_tokener_parse_ex(tok, " ", 1);
        e = json_tokener_get_error(tok);
        at = n;
    }
    if (e == json_tokener_success) {
        while (at < n && strchr(" \t\r\n", s[at]))
            at++;
        if (at != n)
            e = json_tokener_error_parse_unexpected;
    } else if (e == json_tokener_continue) {
        e = json_tokener_error_parse_eof;
        at = n;
    }
    if (e != json_tokener_success) {
        json_object_put(o);
        o = NULL;
    }
    if (end)
        *end = at;
    if (err)
        *err = e;
    return o; /* NULL with success: the document was the JSON null */
}
