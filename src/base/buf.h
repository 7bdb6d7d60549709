#ifndef TG_BUF_H
#define TG_BUF_H
/* struct buf: a growable byte buffer, always NUL-terminated after data[len] once anything was
 * appended. Growth aborts on out-of-memory; callers that take bytes from a client enforce a cap with
 * buf_append_capped(), which fails with ERR_TOO_LARGE instead of growing past it. */
#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

#define BUF_INIT {NULL, 0, 0}

void buf_init(struct buf *b);
/* Frees the memory and leaves an empty buffer; safe on an empty buffer. */
void buf_free(struct buf *b);
/* Empties the buffer but keeps its memory. */
static inline void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}
/* Makes room for extra more bytes (plus the terminator). */
void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
/* Appends unless the result would exceed max bytes; returns 0 or ERR_TOO_LARGE (buffer unchanged). */
int buf_append_capped(struct buf *b, const void *p, size_t n, size_t max);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Appends s as the inside of a JSON string (quotes not included), escaping as JSON requires. */
void buf_json_escape(struct buf *b, const char *s, size_t n);
/* Drops the first n bytes (n <= len). */
void buf_consume(struct buf *b, size_t n);
/* Returns the data (caller frees) and leaves the buffer empty. Never NULL. */
char *buf_detach(struct buf *b);

#endif
