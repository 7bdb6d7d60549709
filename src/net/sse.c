/* Server-sent events: the incremental parser and the writer.
 *
 * Decisions:
 * 1. Complete lines are read straight from the caller's bytes; only the unfinished tail of a feed
 *    is copied into p->line. A typical upstream chunk holds whole events, so most bytes are never
 *    copied before the data buffer.
 * 2. The state after k bytes depends only on those k bytes, never on how they were split into
 *    feeds. That is what makes every split give the same events (fuzz/fuzz_sse.c checks it).
 * 3. A CR ends its line at once, so an event is dispatched without waiting to see whether an LF
 *    follows; saw_cr then swallows one LF at the start of the next bytes (CRLF split across
 *    feeds).
 * 4. The cap counts the line in progress plus the data gathered for the event. It is checked when
 *    a line completes and when a feed ends inside a line; the partial count is never larger than
 *    the final one, so a split feed fails exactly when the one-shot feed would, with the same
 *    events before it.
 * 5. A BOM is matched byte by byte into p->line; on a mismatch the bytes matched so far are simply
 *    the start of the first line, as they would be in one feed.
 */
#include "net/sse.h"

#include <stdint.h>
#include <string.h>

#include "base/err.h"

static const unsigned char sse_bom[3] = {0xEF, 0xBB, 0xBF};

void sse_parser_init(struct sse_parser *p, size_t max_event_bytes)
{
    memset(p, 0, sizeof(*p));
    buf_init(&p->line);
    buf_init(&p->data);
    buf_init(&p->event);
    buf_init(&p->id);
    p->max_event_bytes = max_event_bytes;
    p->retry_ms = -1;
}

void sse_parser_free(struct sse_parser *p)
{
    buf_free(&p->line);
    buf_free(&p->data);
    buf_free(&p->event);
    buf_free(&p->id);
}

static struct str sse_buf_str(const struct buf *b)
{
    return (struct str){b->data ? b->data : "", b->len};
}

/* Returns 1 when a line of line_len bytes plus the data gathered so far passes the cap. */
static int sse_fits(const struct sse_parser *p, size_t line_len)
{
    return line_len <= p->max_event_bytes && p->data.len <= p->max_event_bytes - line_len;
}

/* Dispatches the gathered event (if it had data) and starts a new one. */
static int sse_dispatch(struct sse_parser *p, sse_event_fn cb, void *ud)
{
    int rc = 0;
    if (p->has_data) {
        struct sse_event ev = {sse_buf_str(&p->event), sse_buf_str(&p->data), sse_buf_str(&p->id)};
        rc = cb(ud, &ev);
    }
    buf_reset(&p->data);
    buf_reset(&p->event);
    p->has_data = 0;
    return rc;
}

static int sse_is_field(const char *name, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n == m && memcmp(name, lit, m) == 0;
}

/* Applies one complete line (without its line end). */
static int sse_line(struct sse_parser *p, const char *s, size_t n, sse_event_fn cb, void *ud)
{
    if (n == 0)
        return sse_dispatch(p, cb, ud);
    if (s[0] == ':')
        return 0; /* comment */
    const char *colon = memchr(s, ':', n);
    size_t name_len = colon ? (size_t)(colon - s) : n;
    const char *val = colon ? colon + 1 : s + n;
    size_t val_len = colon ? n - name_len - 1 : 0;
    if (val_len > 0 && val[0] == ' ') {
        val++;
        val_len--;
    }
    if (sse_is_field(s, name_len, "data")) {
        if (p->has_data)
            buf_putc(&p->data, '\n');
        buf_append(&p->data, val, val_len);
        p->has_data = 1;
    } else if (sse_is_field(s, name_len, "event")) {
        buf_reset(&p->event);
        buf_append(&p->event, val, val_len);
    } else if (sse_is_field(s, name_len, "id")) {
        if (!memchr(val, '\0', val_len)) {
            buf_reset(&p->id);
            buf_append(&p->id, val, val_len);
        }
    } else if (sse_is_field(s, name_len, "retry")) {
        unsigned long long v;
        if (str_to_u64((struct str){val, val_len}, &v) == 0 && v <= (unsigned long long)INT64_MAX)
            p->retry_ms = (long long)v;
    }
    return 0;
}

/* Finds the first CR or LF in s[0..n); returns n when there is none. */
static size_t sse_find_eol(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n' || s[i] == '\r')
            return i;
    return n;
}

int sse_parser_feed(struct sse_parser *p, const char *data, size_t n, sse_event_fn cb, void *ud)
{
    size_t i = 0;
    if (p->err)
        return p->err;
    while (!p->started && i < n) {
        if ((unsigned char)data[i] != sse_bom[p->line.len]) {
            p->started = 1; /* the bytes matched so far begin the first line */
            break;
        }
        buf_putc(&p->line, data[i++]);
        if (p->line.len == sizeof(sse_bom)) {
            buf_reset(&p->line);
            p->started = 1;
        }
    }
    while (i < n) {
        if (p->saw_cr) {
            p->saw_cr = 0;
            if (data[i] == '\n') {
                i++;
                continue;
            }
        }
        const char *s = data + i;
        size_t rem = n - i;
        size_t eol = sse_find_eol(s, rem);
        if (!sse_fits(p, p->line.len + eol)) {
            p->err = ERR_TOO_LARGE;
            return p->err;
        }
        if (eol == rem) {
            buf_append(&p->line, s, rem);
            break;
        }
        p->saw_cr = s[eol] == '\r';
        i += eol + 1;
        int rc;
        if (p->line.len) {
            buf_append(&p->line, s, eol);
            rc = sse_line(p, p->line.data, p->line.len, cb, ud);
            buf_reset(&p->line);
        } else {
            rc = sse_line(p, s, eol, cb, ud);
        }
        if (rc) {
            p->err = rc;
            return rc;
        }
    }
    return 0;
}

int sse_parser_finish(struct sse_parser *p, sse_event_fn cb, void *ud)
{
    int rc = 0;
    if (p->err)
        return p->err;
    if (p->line.len) {
        rc = sse_line(p, p->line.data, p->line.len, cb, ud);
        buf_reset(&p->line);
    }
    if (rc == 0)
        rc = sse_dispatch(p, cb, ud);
    p->err = rc;
    return rc;
}

void sse_write_event(struct buf *out, const char *event, const char *data, size_t len)
{
    if (event) {
        buf_puts(out, "event: ");
        buf_append(out, event, strcspn(event, "\r\n"));
        buf_putc(out, '\n');
    }
    size_t i = 0;
    for (;;) {
        size_t eol = data ? sse_find_eol(data + i, len - i) : 0;
        if (eol) {
            buf_append(out, "data: ", 6);
            buf_append(out, data + i, eol);
            buf_putc(out, '\n');
        } else {
            buf_append(out, "data:\n", 6);
        }
        i += eol;
        if (i >= len)
            break;
        if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
            i++;
        i++;
    }
    buf_putc(out, '\n');
}
