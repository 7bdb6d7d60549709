#ifndef TG_SSE_H
#define TG_SSE_H
/* Server-sent events: an incremental parser for streams from upstreams (bytes arrive in any split),
 * and writers for the events we send. Follows the WHATWG event-stream rules: lines end in LF, CR or
 * CRLF; "data" lines join with LF; comments (":") are ignored; an empty line dispatches; "event",
 * "id" and "retry" fields are kept; a leading BOM is skipped; one space after the colon is dropped. */
#include <stddef.h>

#include "base/buf.h"
#include "base/str.h"

struct sse_event {
    struct str event; /* empty when the stream gave no "event:" field */
    struct str data;  /* the joined data lines */
    struct str id;    /* the last event id seen so far (WHATWG: it persists across events) */
};
/* The strs of an event point into the parser and are valid only during the callback. An event is
 * dispatched only when it had at least one "data" line (a bare "data" or "data:" line counts, with
 * empty data); a block with only "event:"/"id:" lines is dropped, as WHATWG says. */

/* Called for each complete event; return 0 to go on, or non-zero to stop sse_parser_feed (which
 * returns that value). */
typedef int (*sse_event_fn)(void *ud, const struct sse_event *ev);

struct sse_parser {
    struct buf line;  /* the current incomplete line */
    struct buf data;
    struct buf event;
    struct buf id;
    size_t max_event_bytes;
    int saw_cr;       /* last byte was CR: a following LF belongs to the same line end */
    int started;      /* past the optional BOM */
    int has_data;
    int err;          /* sticky: the first non-zero result of feed/finish; later calls return it */
    long long retry_ms; /* the last valid "retry:" value, or -1 when none came */
};

void sse_parser_init(struct sse_parser *p, size_t max_event_bytes);
void sse_parser_free(struct sse_parser *p);
/* Feeds n bytes; returns 0, ERR_TOO_LARGE when one event exceeds max_event_bytes, or the non-zero value
 * a callback returned. The cap counts the line being read plus the data gathered so far for the
 * event. Any split of the same bytes into feeds gives the same events and the same result. After a
 * non-zero result the parser stops for good: the rest of that input is dropped and every later feed
 * or finish returns the same value. */
int sse_parser_feed(struct sse_parser *p, const char *data, size_t n, sse_event_fn cb, void *ud);
/* Dispatches a pending event at end of stream if the last one was not terminated by an empty line;
 * returns like sse_parser_feed. (Strict SSE drops it; upstreams that cut the final blank line are
 * common, so the caller decides.) A last line without its line end ("data: [DONE]" at EOF) is read
 * as if it had one. Call it once, at the end of the stream. */
int sse_parser_finish(struct sse_parser *p, sse_event_fn cb, void *ud);

/* Appends "event: <event>\n" (if event is non-NULL) and "data: <line>\n" per line of data, then "\n".
 * Lines of data end at LF, CRLF or CR (as a reader splits them; a reader joins them with LF). An
 * event name is cut at its first CR or LF so it cannot break the stream. */
void sse_write_event(struct buf *out, const char *event, const char *data, size_t len);

#endif
