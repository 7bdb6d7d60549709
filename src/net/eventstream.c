/* AWS event stream: the incremental decoder and the encoder.
 *
 * Decisions:
 * 1. A message that lies whole in the caller's bytes is checked and handed to the callback straight
 *    from them; only a message cut by the end of a feed is copied into d->pending. Upstream chunks
 *    usually hold whole messages, so most bytes are never copied.
 * 2. The state after k bytes depends only on those k bytes, never on how they were split into feeds:
 *    the prelude is judged as soon as its 12 bytes are in (by either path), the rest when the whole
 *    message is. So every split gives the same messages and the same error (fuzz/fuzz_eventstream.c
 *    checks it).
 * 3. The prelude CRC is checked before the lengths it protects are believed, so garbage gets "prelude
 *    CRC mismatch" rather than a misleading length error. A message longer than max_message_bytes is
 *    refused at its prelude, before any of it is buffered: d->pending never exceeds the cap.
 * 4. The message CRC is checked before any header is parsed; headers then must fill exactly the
 *    headers length. Header names of length 0 and duplicate names are accepted (AWS's own decoders
 *    accept them too); lookups return the first.
 * 5. Headers go into a fixed array in the decoder (EVENTSTREAM_MAX_HEADERS); Bedrock sends 3 or 4.
 */
#include "net/eventstream.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "base/err.h"

static uint32_t es_get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads a big-endian two's complement integer of size bytes (1, 2, 4 or 8). */
static int64_t es_get_int(const unsigned char *p, size_t size)
{
    uint64_t v = 0;
    for (size_t i = 0; i < size; i++)
        v = v << 8 | p[i];
    if (size < 8 && (v >> (size * 8 - 1)) & 1)
        v |= ~(uint64_t)0 << (size * 8); /* sign-extend */
    return (int64_t)v;
}

static void es_put_int(struct buf *b, uint64_t v, size_t size)
{
    unsigned char tmp[8];
    for (size_t i = 0; i < size; i++)
        tmp[i] = (unsigned char)(v >> ((size - 1 - i) * 8));
    buf_append(b, tmp, size);
}

static uint32_t es_crc(const unsigned char *p, size_t n)
{
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n); /* n < 2^32: lengths are 32-bit */
}

/* Records the failure rc with a description and makes it sticky; returns rc. */
static int es_fail(struct eventstream_decoder *d, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int es_fail(struct eventstream_decoder *d, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->why, sizeof(d->why), fmt, ap);
    va_end(ap);
    d->err = rc;
    return rc;
}

void eventstream_decoder_init(struct eventstream_decoder *d, size_t max_message_bytes)
{
    memset(d, 0, sizeof(*d));
    buf_init(&d->pending);
    d->max_message_bytes = max_message_bytes;
}

void eventstream_decoder_free(struct eventstream_decoder *d)
{
    buf_free(&d->pending);
}

const char *eventstream_decoder_why(const struct eventstream_decoder *d)
{
    return d->why;
}

/* Judges a complete prelude; returns 0 and sets d->total, or fails the decoder. */
static int es_prelude(struct eventstream_decoder *d, const unsigned char *p)
{
    uint32_t want = es_get32(p + 8), got = es_crc(p, 8);
    if (want != got)
        return es_fail(d, ERR_PARSE,
                       "event stream: prelude CRC mismatch (frame says %08x, bytes give %08x)",
                       (unsigned)want, (unsigned)got);
    uint32_t total = es_get32(p), hlen = es_get32(p + 4);
    if (total < EVENTSTREAM_MIN_MESSAGE_BYTES)
        return es_fail(d, ERR_PARSE, "event stream: message length %u is below the minimum of %d",
                       (unsigned)total, EVENTSTREAM_MIN_MESSAGE_BYTES);
    if (total > d->max_message_bytes)
        return es_fail(d, ERR_TOO_LARGE, "event stream: message of %u bytes exceeds the cap of %zu",
                       (unsigned)total, d->max_message_bytes);
    if (hlen > total - EVENTSTREAM_MIN_MESSAGE_BYTES)
        return es_fail(d, ERR_PARSE, "event stream: headers length %u overruns the %u-byte message",
                       (unsigned)hlen, (unsigned)total);
    d->total = total;
    return 0;
}

/* Parses the headers in p[0..n) into d->headers; returns 0 and sets *count, or fails the decoder. */
static int es_headers(struct eventstream_decoder *d, const unsigned char *p, size_t n, size_t *count)
{
    static const unsigned char fixed[] = {0, 0, 1, 2, 4, 8, 0, 0, 8, 16}; /* value bytes per type */
    size_t i = 0, k = 0;
    while (i < n) {
        if (k == EVENTSTREAM_MAX_HEADERS)
            return es_fail(d, ERR_LIMIT, "event stream: more than %d headers in a message",
                           EVENTSTREAM_MAX_HEADERS);
        struct eventstream_header *h = &d->headers[k];
        size_t name_len = p[i++];
        if (n - i < name_len + 1)
            return es_fail(d, ERR_PARSE, "event stream: header %zu runs past the headers", k + 1);
        h->name = (struct str){(const char *)p + i, name_len};
        i += name_len;
        unsigned type = p[i++];
        if (type > EVENTSTREAM_UUID)
            return es_fail(d, ERR_PARSE, "event stream: header \"%.*s\" has unknown type %u",
                           (int)name_len, h->name.p, type);
        h->type = (enum eventstream_type)type;
        h->str = (struct str){NULL, 0};
        h->num = 0;
        size_t vlen = fixed[type];
        if (type == EVENTSTREAM_BYTES || type == EVENTSTREAM_STRING) {
            if (n - i < 2)
                return es_fail(d, ERR_PARSE, "event stream: header \"%.*s\" runs past the headers",
                               (int)name_len, h->name.p);
            vlen = (size_t)p[i] << 8 | p[i + 1];
            i += 2;
        }
        if (n - i < vlen)
            return es_fail(d, ERR_PARSE, "event stream: header \"%.*s\" runs past the headers",
                           (int)name_len, h->name.p);
        if (type == EVENTSTREAM_TRUE || type == EVENTSTREAM_FALSE)
            h->num = type == EVENTSTREAM_TRUE;
        else if (type == EVENTSTREAM_BYTES || type == EVENTSTREAM_STRING || type == EVENTSTREAM_UUID)
            h->str = (struct str){(const char *)p + i, vlen};
        else
            h->num = es_get_int(p + i, vlen);
        i += vlen;
        k++;
    }
    *count = k;
    return 0;
}

/* Checks and delivers one whole message of d->total bytes at p. */
static int es_message(struct eventstream_decoder *d, const unsigned char *p,
                      eventstream_message_fn cb, void *ud)
{
    size_t total = d->total, hlen = es_get32(p + 4), nheaders = 0;
    uint32_t want = es_get32(p + total - 4), got = es_crc(p, total - 4);
    d->total = 0;
    if (want != got)
        return es_fail(d, ERR_PARSE,
                       "event stream: message CRC mismatch (frame says %08x, bytes give %08x)",
                       (unsigned)want, (unsigned)got);
    const unsigned char *hp = p + EVENTSTREAM_PRELUDE_BYTES;
    int rc = es_headers(d, hp, hlen, &nheaders);
    if (rc)
        return rc;
    struct eventstream_message msg = {
        d->headers, nheaders,
        {(const char *)hp + hlen, total - EVENTSTREAM_MIN_MESSAGE_BYTES - hlen}};
    rc = cb(ud, &msg);
    if (rc)
        d->err = rc;
    return rc;
}

int eventstream_decoder_feed(struct eventstream_decoder *d, const void *data, size_t n,
                             eventstream_message_fn cb, void *ud)
{
    const unsigned char *s = data;
    size_t i = 0;
    int rc = d->err;
    while (rc == 0 && i < n) {
        size_t rem = n - i;
        if (d->pending.len == 0 && rem >= EVENTSTREAM_PRELUDE_BYTES) {
            rc = es_prelude(d, s + i);
            if (rc)
                break;
            if (rem >= d->total) {
                size_t total = d->total;
                rc = es_message(d, s + i, cb, ud);
                i += total;
                continue;
            }
            buf_append(&d->pending, s + i, rem); /* prelude already judged; wait for the rest */
            break;
        }
        size_t need = d->total ? d->total - d->pending.len
                               : EVENTSTREAM_PRELUDE_BYTES - d->pending.len;
        size_t take = rem < need ? rem : need;
        buf_append(&d->pending, s + i, take);
        i += take;
        if (take < need)
            break;
        if (!d->total) {
            rc = es_prelude(d, (const unsigned char *)d->pending.data);
            continue; /* a message is longer than its prelude: read on */
        }
        rc = es_message(d, (const unsigned char *)d->pending.data, cb, ud);
        buf_reset(&d->pending);
    }
    return rc;
}

int eventstream_decoder_finish(struct eventstream_decoder *d)
{
    if (d->err)
        return d->err;
    if (d->pending.len && d->total)
        return es_fail(d, ERR_PARSE, "event stream: stream ended inside a message (%zu of %zu bytes)",
                       d->pending.len, d->total);
    if (d->pending.len)
        return es_fail(d, ERR_PARSE, "event stream: stream ended inside a prelude (%zu of %d bytes)",
                       d->pending.len, EVENTSTREAM_PRELUDE_BYTES);
    return 0;
}

const struct eventstream_header *eventstream_header_find(const struct eventstream_message *msg,
                                                         const char *name)
{
    struct str want = str_c(name);
    for (size_t i = 0; i < msg->nheaders; i++)
        if (str_eq(msg->headers[i].name, want))
            return &msg->headers[i];
    return NULL;
}

struct str eventstream_header_string(const struct eventstream_message *msg, const char *name)
{
    const struct eventstream_header *h = eventstream_header_find(msg, name);
    if (!h || h->type != EVENTSTREAM_STRING)
        return (struct str){NULL, 0};
    return h->str;
}

/* Appends one header; returns 0 or ERR_INVAL. */
static int es_put_header(struct buf *b, const struct eventstream_header *h)
{
    static const int64_t lo[] = {INT8_MIN, INT16_MIN, INT32_MIN};
    static const int64_t hi[] = {INT8_MAX, INT16_MAX, INT32_MAX};
    if (h->name.len > 255)
        return ERR_INVAL;
    buf_putc(b, (char)h->name.len);
    buf_append(b, h->name.p, h->name.len);
    buf_putc(b, (char)h->type);
    switch (h->type) {
    case EVENTSTREAM_TRUE:
    case EVENTSTREAM_FALSE:
        return 0;
    case EVENTSTREAM_BYTE:
    case EVENTSTREAM_SHORT:
    case EVENTSTREAM_INT: {
        size_t k = h->type - EVENTSTREAM_BYTE;
        if (h->num < lo[k] || h->num > hi[k])
            return ERR_INVAL;
        es_put_int(b, (uint64_t)h->num, (size_t)1 << k);
        return 0;
    }
    case EVENTSTREAM_LONG:
    case EVENTSTREAM_TIMESTAMP:
        es_put_int(b, (uint64_t)h->num, 8);
        return 0;
    case EVENTSTREAM_BYTES:
    case EVENTSTREAM_STRING:
        if (h->str.len > EVENTSTREAM_MAX_VALUE_BYTES)
            return ERR_INVAL;
        es_put_int(b, h->str.len, 2);
        buf_append(b, h->str.p, h->str.len);
        return 0;
    case EVENTSTREAM_UUID:
        if (h->str.len != 16)
            return ERR_INVAL;
        buf_append(b, h->str.p, 16);
        return 0;
    }
    return ERR_INVAL;
}

int eventstream_encode(struct buf *out, const struct eventstream_header *h, size_t n,
                       const void *payload, size_t len)
{
    size_t start = out->len;
    int rc = 0;
    es_put_int(out, 0, 8); /* lengths, filled in below */
    es_put_int(out, 0, 4);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = es_put_header(out, &h[i]);
    if (rc)
        goto out;
    size_t hlen = out->len - start - EVENTSTREAM_PRELUDE_BYTES;
    if (hlen > UINT32_MAX - EVENTSTREAM_MIN_MESSAGE_BYTES ||
        len > UINT32_MAX - EVENTSTREAM_MIN_MESSAGE_BYTES - hlen) {
        rc = ERR_TOO_LARGE;
        goto out;
    }
    buf_append(out, payload, len);
    unsigned char *p = (unsigned char *)out->data + start;
    size_t total = out->len - start + 4;
    for (size_t i = 0; i < 4; i++) {
        p[i] = (unsigned char)(total >> (24 - 8 * i));
        p[4 + i] = (unsigned char)(hlen >> (24 - 8 * i));
    }
    uint32_t crc = es_crc(p, 8);
    for (size_t i = 0; i < 4; i++)
        p[8 + i] = (unsigned char)(crc >> (24 - 8 * i));
    es_put_int(out, es_crc(p, total - 4), 4); /* may move out->data; p is not used after */
out:
    if (rc) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
    }
    return rc;
}
