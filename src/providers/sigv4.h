#ifndef TG_SIGV4_H
#define TG_SIGV4_H
/* AWS Signature Version 4 (AWS4-HMAC-SHA256) request signing, for providers reached through AWS
 * (Bedrock). Pure functions: no I/O, no clock; the caller passes the time so results are
 * deterministic. Design notes are at the top of sigv4.c. */
#include <stddef.h>

#include "base/buf.h"

/* Most headers a request may ask to sign (besides host, x-amz-date and the optional ones). */
#define SIGV4_MAX_HEADERS 32

struct sigv4_creds {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "" when the credentials are not temporary */
};

struct sigv4_header {
    const char *name;
    const char *value;
};

struct sigv4_request {
    const char *method;  /* "POST" */
    const char *host;    /* "bedrock-runtime.us-east-1.amazonaws.com", with ":port" if not default */
    /* The path exactly as it goes on the wire, already percent-encoded where the URL needs it (so a
     * Bedrock model id "a:0" is sent as "a%3A0", see sigv4_uri_encode). Its canonical form is the
     * dot-segment-normalised path, each segment URI-encoded once more, as AWS does for every service
     * except S3. Must start with '/'. */
    const char *path;
    /* The query as it goes on the wire, without '?'; NULL or "" for none. Names and values are
     * percent-decoded and re-encoded per RFC 3986 ('+' is a literal plus, not a space). */
    const char *query;
    const struct sigv4_header *headers; /* extra headers to sign, e.g. content-type */
    size_t n_headers;                   /* at most SIGV4_MAX_HEADERS */
    const char *body;                   /* may be NULL when body_len is 0 */
    size_t body_len;
    const char *region;   /* "us-east-1" */
    const char *service;  /* "bedrock" */
    const char *amz_date; /* "20150830T123600Z" (UTC, ISO 8601 basic) */
    /* When set, an x-amz-content-sha256 header with the body hash is signed and emitted too (the AWS
     * SDKs do this by default; Bedrock does not need it). */
    int content_sha256;
};

/* Appends to out the percent-encoding of the n bytes at s per RFC 3986 (everything but
 * A-Z a-z 0-9 - _ . ~ becomes %XX with upper-case hex); '/' is kept as is when keep_slash is set. */
void sigv4_uri_encode(struct buf *out, const char *s, size_t n, int keep_slash);

/* Writes the lower-case hex SHA-256 of the n bytes at p, NUL-terminated, into hex. */
void sigv4_sha256_hex(const void *p, size_t n, char hex[65]);

/* Appends the canonical request of r (session token of c included as a signed header when set) to
 * out. Returns 0, or ERR_INVAL when a field is missing or malformed (out may then hold a partial
 * text). */
int sigv4_canonical_request(const struct sigv4_creds *c, const struct sigv4_request *r,
                            struct buf *out);

/* Appends the string to sign ("AWS4-HMAC-SHA256", date, scope, canonical request hash) to out.
 * Returns 0 or ERR_INVAL. */
int sigv4_string_to_sign(const struct sigv4_creds *c, const struct sigv4_request *r,
                         struct buf *out);

/* Computes the signature and writes it as 64 lower-case hex digits plus NUL into hex.
 * Returns 0 or ERR_INVAL. */
int sigv4_signature(const struct sigv4_creds *c, const struct sigv4_request *r, char hex[65]);

/* Signs r and appends the headers to add to the request to out, one "Name: value\n" line each, in
 * this order: X-Amz-Date, X-Amz-Content-Sha256 (when r->content_sha256), X-Amz-Security-Token
 * (when c has a session token), Authorization. The request must also carry a Host header equal to
 * r->host and the headers of r->headers unchanged. Returns 0, or ERR_INVAL (out unchanged). */
int sigv4_sign(const struct sigv4_creds *c, const struct sigv4_request *r, struct buf *out);

#endif
