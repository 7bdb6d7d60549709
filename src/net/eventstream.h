#ifndef TG_EVENTSTREAM_H
#define TG_EVENTSTREAM_H
/* AWS event stream (application/vnd.amazon.eventstream), the binary framing of Bedrock's
 * ConverseStream and InvokeModelWithResponseStream: an incremental decoder for streams from
 * upstreams (bytes arrive in any split) and an encoder for the mock upstream and the tests.
 *
 * A message on the wire, all integers big-endian:
 *   total length (4) | headers length (4) | prelude CRC32 of the 8 bytes before it (4) |
 *   headers | payload | message CRC32 of every byte before it (4)
 * A header is: name length (1) | name | type (1) | value, where the value's size depends on the type
 * (see enum eventstream_type). The CRC is the IEEE one (zlib's crc32). */
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/str.h"

/* Header value types, numbered as on the wire. */
enum eventstream_type {
    EVENTSTREAM_TRUE = 0,      /* no value bytes */
    EVENTSTREAM_FALSE = 1,     /* no value bytes */
    EVENTSTREAM_BYTE = 2,      /* int8 */
    EVENTSTREAM_SHORT = 3,     /* int16 */
    EVENTSTREAM_INT = 4,       /* int32 */
    EVENTSTREAM_LONG = 5,      /* int64 */
    EVENTSTREAM_BYTES = 6,     /* 2-byte length, then the bytes */
    EVENTSTREAM_STRING = 7,    /* 2-byte length, then UTF-8 (not checked) */
    EVENTSTREAM_TIMESTAMP = 8, /* int64, milliseconds since the Unix epoch */
    EVENTSTREAM_UUID = 9       /* 16 bytes */
};

/* The fixed sizes of the framing and the most headers one message may carry (Bedrock sends 3 or 4;
 * a message with more is refused with ERR_LIMIT). */
#define EVENTSTREAM_PRELUDE_BYTES 12
#define EVENTSTREAM_MIN_MESSAGE_BYTES 16 /* prelude + message CRC, no headers, no payload */
#define EVENTSTREAM_MAX_HEADERS 32
#define EVENTSTREAM_MAX_VALUE_BYTES 65535 /* BYTES and STRING lengths are 16-bit */

struct eventstream_header {
    struct str name;
    enum eventstream_type type;
    struct str str; /* BYTES, STRING: the value; UUID: its 16 bytes; otherwise empty */
    int64_t num;    /* BYTE, SHORT, INT, LONG, TIMESTAMP: the value; TRUE/FALSE: 1/0 when decoded
                     * (the encoder writes what type says and ignores num); otherwise 0 */
};

struct eventstream_message {
    const struct eventstream_header *headers;
    size_t nheaders;
    struct str payload;
};
/* The strs of a message and its headers point into the caller's bytes or the decoder's buffer and
 * are valid only during the callback. Headers keep their wire order; duplicates are kept. */

/* Called for each complete message whose CRCs check; return 0 to go on, or non-zero to stop
 * eventstream_decoder_feed (which returns that value). */
typedef int (*eventstream_message_fn)(void *ud, const struct eventstream_message *msg);

struct eventstream_decoder {
    struct buf pending;       /* the bytes of an incomplete message (empty between messages) */
    size_t max_message_bytes; /* cap on a message's total length */
    size_t total;             /* the pending message's total length once its prelude was read, else 0 */
    int err;                  /* sticky: the first non-zero result of feed/finish */
    char why[128];            /* what went wrong, for logs; "" while err is 0 or a callback's value */
    struct eventstream_header headers[EVENTSTREAM_MAX_HEADERS];
};

void eventstream_decoder_init(struct eventstream_decoder *d, size_t max_message_bytes);
void eventstream_decoder_free(struct eventstream_decoder *d);
/* Feeds n bytes; returns 0, ERR_TOO_LARGE when a prelude announces a message longer than
 * max_message_bytes (refused before any of it is buffered), ERR_PARSE on a CRC mismatch or a
 * malformed message (lengths that do not fit, a header running past the headers, an unknown value
 * type), ERR_LIMIT for more than EVENTSTREAM_MAX_HEADERS headers, or the non-zero value a callback
 * returned. Any split of the same bytes into feeds gives the same messages and the same result. After
 * a non-zero result the decoder stops for good: every later feed or finish returns the same value,
 * and eventstream_decoder_why() says what went wrong. */
int eventstream_decoder_feed(struct eventstream_decoder *d, const void *data, size_t n,
                             eventstream_message_fn cb, void *ud);
/* Checks the end of the stream: returns 0 when it ended between messages, ERR_PARSE when it ended
 * inside one, or the sticky result of an earlier failure. */
int eventstream_decoder_finish(struct eventstream_decoder *d);
/* Returns what made the decoder fail ("prelude CRC mismatch: ..."), a string owned by d, or "" when
 * it has not failed or was stopped by a callback. */
const char *eventstream_decoder_why(const struct eventstream_decoder *d);

/* Returns the first header of msg called name, or NULL when there is none. */
const struct eventstream_header *eventstream_header_find(const struct eventstream_message *msg,
                                                         const char *name);
/* Returns the value of the STRING header called name, or an empty str (p == NULL) when msg has no
 * such header or it is of another type. */
struct str eventstream_header_string(const struct eventstream_message *msg, const char *name);

/* Appends one message with the n headers h and len bytes of payload to out; returns 0, ERR_INVAL
 * for a name longer than 255 bytes, a BYTES/STRING value longer than 65535, a UUID that is not 16
 * bytes, a number out of its type's range or an unknown type, or ERR_TOO_LARGE when the message
 * would not fit the 32-bit length. On failure out is left as it was. */
int eventstream_encode(struct buf *out, const struct eventstream_header *h, size_t n,
                       const void *payload, size_t len);

#endif
