/* AWS Signature Version 4 request signing (AWS4-HMAC-SHA256), header flavour.
 *
 * Decisions:
 *  1. Pure functions over a request description: no clock, no environment, no I/O. The caller passes
 *     the credentials and the date, so the tests can assert AWS's published examples exactly.
 *  2. The path is taken as it goes on the wire. Its canonical form is the path with empty, "." and
 *     ".." segments resolved, each segment URI-encoded once more ('%' becomes "%25"): the rule for
 *     every service but S3, and what the AWS SDKs do (smithy's uriEscapePath). A Bedrock model id
 *     with ':' is therefore encoded by the caller for the wire (sigv4_uri_encode) and twice here.
 *  3. The query is decoded and re-encoded per RFC 3986, so it does not matter how the caller
 *     escaped it; parameters sort by encoded name, then encoded value. A bad %-escape is ERR_INVAL.
 *  4. Header names are lower-cased; values are trimmed and inner runs of blanks collapse to one
 *     space; a name given twice is signed once with its values joined by ',' in order. host and
 *     x-amz-date are always signed; x-amz-security-token is signed when a session token is set, as
 *     the AWS SDKs do. The caller may not pass those (or authorization) itself, nor CR/LF anywhere,
 *     so no header can be injected through a signed value.
 *  5. The payload is always hashed (no UNSIGNED-PAYLOAD, no chunked signing); x-amz-content-sha256
 *     is optional because only S3 requires it.
 *  6. The secret and the derived keys are wiped from the stack and heap after use.
 *
 * Limits: at most SIGV4_MAX_HEADERS caller headers. Reference: AWS General Reference, "Create a
 * signed AWS API request" (Signature Version 4). */
#include "providers/sigv4.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/str.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"
#define SIGV4_SHA256_LEN 32
/* x-amz-date is "YYYYMMDDTHHMMSSZ"; the scope uses its first 8 characters. */
#define SIGV4_DATE_LEN 16
#define SIGV4_DAY_LEN 8

static const char sigv4_hex[] = "0123456789abcdef";

static void hex_encode(const unsigned char *p, size_t n, char *hex)
{
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = sigv4_hex[p[i] >> 4];
        hex[2 * i + 1] = sigv4_hex[p[i] & 15];
    }
    hex[2 * n] = '\0';
}

/* OpenSSL's one-shot digests fail only when the library itself is broken or out of memory, which
 * the allocation wrappers treat as fatal too. */
static void sha256(const void *p, size_t n, unsigned char md[SIGV4_SHA256_LEN])
{
    unsigned int len = 0;
    if (!EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) || len != SIGV4_SHA256_LEN)
        abort();
}

static void hmac_sha256(const void *key, size_t keylen, const void *p, size_t n,
                        unsigned char md[SIGV4_SHA256_LEN])
{
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, p, n, md, &len) || len != SIGV4_SHA256_LEN)
        abort();
}

void sigv4_sha256_hex(const void *p, size_t n, char hex[65])
{
    unsigned char md[SIGV4_SHA256_LEN];
    sha256(p ? p : "", n, md);
    hex_encode(md, sizeof md, hex);
}

static int is_unreserved(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.' || ch == '~';
}

void sigv4_uri_encode(struct buf *out, const char *s, size_t n, int keep_slash)
{
    static const char upper[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (is_unreserved(ch) || (keep_slash && ch == '/')) {
            buf_putc(out, (char)ch);
        } else {
            char esc[3] = {'%', upper[ch >> 4], upper[ch & 15]};
            buf_append(out, esc, 3);
        }
    }
}

static int hex_val(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Appends the percent-decoding of the n bytes at s to out; returns 0 or ERR_INVAL on a bad escape. */
static int uri_decode(struct buf *out, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            buf_putc(out, s[i]);
            continue;
        }
        int hi = i + 2 < n ? hex_val(s[i + 1]) : -1;
        int lo = i + 2 < n ? hex_val(s[i + 2]) : -1;
        if (hi < 0 || lo < 0)
            return ERR_INVAL;
        buf_putc(out, (char)(hi << 4 | lo));
        i += 2;
    }
    return 0;
}

/* Returns 1 when s is set and holds no CR or LF (which would let a value end its header line). */
static int ok_text(const char *s)
{
    return s && !strpbrk(s, "\r\n");
}

/* Returns 1 when s is a non-empty field of the credential scope (no '/', blank, CR or LF). */
static int ok_scope_part(const char *s)
{
    return s && *s && !strpbrk(s, "/ \t\r\n");
}

/* Returns 1 for an RFC 9110 token character. */
static int is_tchar(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static int ok_header_name(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!is_tchar((unsigned char)*s))
            return 0;
    return 1;
}

static int ok_amz_date(const char *d)
{
    if (!d || strlen(d) != SIGV4_DATE_LEN || d[8] != 'T' || d[15] != 'Z')
        return 0;
    for (int i = 0; i < 15; i++)
        if (i != 8 && (d[i] < '0' || d[i] > '9'))
            return 0;
    return 1;
}

/* Headers the signer adds itself; a caller passing one would sign a second, conflicting value. */
static int is_reserved_header(const char *name)
{
    static const char *const reserved[] = {"host", "x-amz-date", "x-amz-security-token",
                                           "x-amz-content-sha256", "authorization"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (str_eq_ci(str_c(name), reserved[i]))
            return 1;
    return 0;
}

static const char *session_token(const struct sigv4_creds *c)
{
    return c->session_token && *c->session_token ? c->session_token : NULL;
}

static int validate(const struct sigv4_creds *c, const struct sigv4_request *r)
{
    if (!c || !r || !c->access_key || !*c->access_key || strpbrk(c->access_key, "/ ,\t\r\n") ||
        !c->secret_key || !*c->secret_key || (c->session_token && !ok_text(c->session_token)))
        return ERR_INVAL;
    if (!ok_header_name(r->method) || !r->host || !*r->host || strpbrk(r->host, " \t\r\n/") ||
        !ok_text(r->path) || r->path[0] != '/' || (r->query && !ok_text(r->query)) ||
        !ok_scope_part(r->region) || !ok_scope_part(r->service) || !ok_amz_date(r->amz_date) ||
        (r->body_len && !r->body) || r->n_headers > SIGV4_MAX_HEADERS ||
        (r->n_headers && !r->headers))
        return ERR_INVAL;
    for (size_t i = 0; i < r->n_headers; i++)
        if (!ok_header_name(r->headers[i].name) || !ok_text(r->headers[i].value) ||
            is_reserved_header(r->headers[i].name))
            return ERR_INVAL;
    return 0;
}

/* Appends the canonical URI: path segments normalised as RFC 3986 5.2.4 and encoded once more. */
static void canonical_path(struct buf *out, const char *path)
{
    size_t len = strlen(path), nseg = 0;
    struct str *seg = xmalloc((len / 2 + 1) * sizeof *seg); /* a segment takes >= 2 bytes: "/x" */
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && path[j] != '/')
            j++;
        struct str s = {path + i, j - i};
        if (s.len == 0 || str_eq(s, STR_LIT("."))) {
            /* empty and "." segments add nothing */
        } else if (str_eq(s, STR_LIT(".."))) {
            if (nseg)
                nseg--;
        } else {
            seg[nseg++] = s;
        }
        i = j + 1;
    }
    buf_putc(out, '/');
    for (size_t k = 0; k < nseg; k++) {
        if (k)
            buf_putc(out, '/');
        sigv4_uri_encode(out, seg[k].p, seg[k].len, 0);
    }
    if (nseg && path[len - 1] == '/')
        buf_putc(out, '/');
    free(seg);
}

struct qparam {
    struct buf name; /* encoded */
    struct buf value; /* encoded */
};

static int qparam_cmp(const void *a, const void *b)
{
    const struct qparam *x = a, *y = b;
    int r = strcmp(x->name.data, y->name.data);
    return r ? r : strcmp(x->value.data, y->value.data);
}

/* Re-encodes one side of a "name=value" pair into an empty buf (which ends NUL-terminated). */
static int query_part(struct buf *out, const char *s, size_t n, struct buf *tmp)
{
    buf_reset(tmp);
    int rc = uri_decode(tmp, s, n);
    if (rc)
        return rc;
    buf_append(out, "", 0); /* data is set and NUL-terminated even for an empty part */
    sigv4_uri_encode(out, tmp->data, tmp->len, 0);
    return 0;
}

/* Appends the canonical query string; returns 0 or ERR_INVAL on a bad %-escape. */
static int canonical_query(struct buf *out, const char *query)
{
    int result = ERR_INVAL;
    size_t len = query ? strlen(query) : 0, n = 0;
    struct qparam *p = xcalloc(len / 2 + 1, sizeof *p); /* a parameter takes >= 2 bytes: "x&" */
    struct buf tmp = BUF_INIT;
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && query[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(query + i, '=', j - i);
            size_t nlen = eq ? (size_t)(eq - (query + i)) : j - i;
            struct qparam *q = &p[n++];
            if (query_part(&q->name, query + i, nlen, &tmp) ||
                query_part(&q->value, eq ? eq + 1 : query + j, eq ? (size_t)(query + j - eq - 1) : 0,
                           &tmp))
                goto out;
        }
        i = j + 1;
    }
    qsort(p, n, sizeof *p, qparam_cmp);
    for (size_t k = 0; k < n; k++) {
        if (k)
            buf_putc(out, '&');
        buf_append(out, p[k].name.data, p[k].name.len);
        buf_putc(out, '=');
        buf_append(out, p[k].value.data, p[k].value.len);
    }
    result = 0;
out:
    for (size_t k = 0; k < n; k++) {
        buf_free(&p[k].name);
        buf_free(&p[k].value);
    }
    free(p);
    buf_free(&tmp);
    return result;
}

struct chdr {
    struct buf name;  /* lower-case */
    struct buf value; /* trimmed, blanks collapsed, repeated headers joined by ',' */
};

static int chdr_cmp(const void *a, const void *b)
{
    const struct chdr *x = a, *y = b;
    return strcmp(x->name.data, y->name.data);
}

/* Appends value trimmed, with each inner run of spaces and tabs collapsed to one space. */
static void put_trimmed(struct buf *out, const char *v)
{
    int pending = 0, any = 0;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            pending = any;
            continue;
        }
        if (pending)
            buf_putc(out, ' ');
        buf_putc(out, *v);
        pending = 0;
        any = 1;
    }
}

/* Adds header name: value to the set h of *n entries, joining the value to an earlier same name. */
static void chdr_add(struct chdr *h, size_t *n, const char *name, const char *value)
{
    struct buf lname = BUF_INIT;
    for (const char *s = name; *s; s++)
        buf_putc(&lname, (char)(*s >= 'A' && *s <= 'Z' ? *s - 'A' + 'a' : *s));
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(h[i].name.data, lname.data) == 0) {
            buf_putc(&h[i].value, ',');
            put_trimmed(&h[i].value, value);
            buf_free(&lname);
            return;
        }
    }
    h[*n].name = lname;
    buf_append(&h[*n].value, "", 0); /* data is set even for an empty value */
    put_trimmed(&h[*n].value, value);
    (*n)++;
}

/* Builds the canonical request into creq, the signed header list into signed_hdrs and the payload
 * hash into payload. Returns 0 or ERR_INVAL. */
static int canonical_build(const struct sigv4_creds *c, const struct sigv4_request *r,
                           struct buf *creq, struct buf *signed_hdrs, char payload[65])
{
    int result = validate(c, r);
    if (result)
        return result;
    sigv4_sha256_hex(r->body, r->body_len, payload);

    size_t n = 0;
    struct chdr *h = xcalloc(r->n_headers + 4, sizeof *h);
    chdr_add(h, &n, "host", r->host);
    chdr_add(h, &n, "x-amz-date", r->amz_date);
    if (r->content_sha256)
        chdr_add(h, &n, "x-amz-content-sha256", payload);
    if (session_token(c))
        chdr_add(h, &n, "x-amz-security-token", session_token(c));
    for (size_t i = 0; i < r->n_headers; i++)
        chdr_add(h, &n, r->headers[i].name, r->headers[i].value);
    qsort(h, n, sizeof *h, chdr_cmp);

    buf_puts(creq, r->method);
    buf_putc(creq, '\n');
    canonical_path(creq, r->path);
    buf_putc(creq, '\n');
    result = canonical_query(creq, r->query);
    if (result)
        goto out;
    buf_putc(creq, '\n');
    for (size_t i = 0; i < n; i++) {
        buf_append(creq, h[i].name.data, h[i].name.len);
        buf_putc(creq, ':');
        buf_append(creq, h[i].value.data, h[i].value.len);
        buf_putc(creq, '\n');
        if (i)
            buf_putc(signed_hdrs, ';');
        buf_append(signed_hdrs, h[i].name.data, h[i].name.len);
    }
    buf_putc(creq, '\n');
    buf_append(creq, signed_hdrs->data, signed_hdrs->len);
    buf_putc(creq, '\n');
    buf_puts(creq, payload);
out:
    for (size_t i = 0; i < n; i++) {
        buf_free(&h[i].name);
        buf_free(&h[i].value);
    }
    free(h);
    return result;
}

static void put_scope(struct buf *out, const struct sigv4_request *r)
{
    buf_append(out, r->amz_date, SIGV4_DAY_LEN);
    buf_printf(out, "/%s/%s/" SIGV4_TERMINATOR, r->region, r->service);
}

static void string_to_sign_of(const struct sigv4_request *r, const struct buf *creq,
                              struct buf *out)
{
    char hash[65];
    sigv4_sha256_hex(creq->data, creq->len, hash);
    buf_puts(out, SIGV4_ALGORITHM "\n");
    buf_puts(out, r->amz_date);
    buf_putc(out, '\n');
    put_scope(out, r);
    buf_putc(out, '\n');
    buf_puts(out, hash);
}

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" secret, day), region), service), "aws4_request"). */
static void signature_of(const struct sigv4_creds *c, const struct sigv4_request *r,
                         const struct buf *sts, char hex[65])
{
    unsigned char k[SIGV4_SHA256_LEN], sig[SIGV4_SHA256_LEN];
    struct buf secret = BUF_INIT;
    buf_puts(&secret, "AWS4");
    buf_puts(&secret, c->secret_key);
    hmac_sha256(secret.data, secret.len, r->amz_date, SIGV4_DAY_LEN, k);
    OPENSSL_cleanse(secret.data, secret.len);
    buf_free(&secret);
    hmac_sha256(k, sizeof k, r->region, strlen(r->region), k);
    hmac_sha256(k, sizeof k, r->service, strlen(r->service), k);
    hmac_sha256(k, sizeof k, SIGV4_TERMINATOR, strlen(SIGV4_TERMINATOR), k);
    hmac_sha256(k, sizeof k, sts->data, sts->len, sig);
    OPENSSL_cleanse(k, sizeof k);
    hex_encode(sig, sizeof sig, hex);
}

int sigv4_canonical_request(const struct sigv4_creds *c, const struct sigv4_request *r,
                            struct buf *out)
{
    struct buf signed_hdrs = BUF_INIT;
    char payload[65];
    int rc = canonical_build(c, r, out, &signed_hdrs, payload);
    buf_free(&signed_hdrs);
    return rc;
}

int sigv4_string_to_sign(const struct sigv4_creds *c, const struct sigv4_request *r,
                         struct buf *out)
{
    struct buf creq = BUF_INIT, signed_hdrs = BUF_INIT;
    char payload[65];
    int rc = canonical_build(c, r, &creq, &signed_hdrs, payload);
    if (rc == 0)
        string_to_sign_of(r, &creq, out);
    buf_free(&creq);
    buf_free(&signed_hdrs);
    return rc;
}

int sigv4_signature(const struct sigv4_creds *c, const struct sigv4_request *r, char hex[65])
{
    struct buf sts = BUF_INIT;
    int rc = sigv4_string_to_sign(c, r, &sts);
    if (rc == 0)
        signature_of(c, r, &sts, hex);
    buf_free(&sts);
    return rc;
}

int sigv4_sign(const struct sigv4_creds *c, const struct sigv4_request *r, struct buf *out)
{
    struct buf creq = BUF_INIT, signed_hdrs = BUF_INIT, sts = BUF_INIT;
    char payload[65], sig[65];
    int result = canonical_build(c, r, &creq, &signed_hdrs, payload);
    if (result)
        goto out;
    string_to_sign_of(r, &creq, &sts);
    signature_of(c, r, &sts, sig);

    buf_printf(out, "X-Amz-Date: %s\n", r->amz_date);
    if (r->content_sha256)
        buf_printf(out, "X-Amz-Content-Sha256: %s\n", payload);
    if (session_token(c))
        buf_printf(out, "X-Amz-Security-Token: %s\n", session_token(c));
    buf_printf(out, "Authorization: " SIGV4_ALGORITHM " Credential=%s/", c->access_key);
    put_scope(out, r);
    buf_printf(out, ", SignedHeaders=%s, Signature=%s\n", signed_hdrs.data, sig);
out:
    buf_free(&creq);
    buf_free(&signed_hdrs);
    buf_free(&sts);
    return result;
}
