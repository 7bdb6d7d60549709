/* bedrock.c: AWS Bedrock Runtime's Converse and ConverseStream APIs.
 *
 *   POST /model/{modelId}/converse          one JSON answer
 *   POST /model/{modelId}/converse-stream   an application/vnd.amazon.eventstream stream
 *
 * 1. Every request must be signed with SigV4 by the mock's credentials (--aws-access-key,
 *    --aws-secret-key). The canonical request is rebuilt from what arrived: the method, the path and
 *    query as received, the headers the Authorization header lists in SignedHeaders, and the body;
 *    region and service come from its credential scope. The signature is recomputed with the same
 *    signer the gateway uses (providers/sigv4.c). Failures get Bedrock's 403 answers:
 *    MissingAuthenticationTokenException (no Authorization), IncompleteSignatureException (a header
 *    that does not parse, no x-amz-date), UnrecognizedClientException (another access key) and
 *    InvalidSignatureException (another service in the scope, a signed header that is missing, a
 *    signature that does not match; the message carries the canonical request, as AWS's does).
 * 2. Errors are restJson1: {"message":...} with x-amzn-ErrorType naming the exception. x-mock-status
 *    is answered after the signature check, with the exception Bedrock uses for that status.
 * 3. The text, tool call and token counts are those of the other routes (gen.c). A toolConfig with
 *    tools gets a toolUse block calling the first tool (or toolChoice.tool.name), stopReason
 *    "tool_use". inferenceConfig.maxTokens below the word count cuts the text ("max_tokens").
 * 4. A stream is messageStart, [contentBlockStart with the toolUse], one contentBlockDelta per word
 *    or argument piece, contentBlockStop, messageStop, metadata; each an eventstream message with
 *    :message-type event, :event-type and :content-type application/json. Each payload also has
 *    the padding member "p" that Bedrock adds. Stream faults: cut-after closes the connection after
 *    N deltas; malformed sends one message with a bad CRC in the middle; x-mock-stream-exception:
 *    NAME sends, after half the deltas, an eventstream message with :message-type exception and
 *    :exception-type NAME, then ends the HTTP stream. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "mock.h"
#include "net/eventstream.h"
#include "providers/sigv4.h"

#define BEDROCK_SERVICE "bedrock"
#define BEDROCK_TOOL_USE_ID "tooluse_mock_1"
#define BEDROCK_PAD "abcdefghijklmnopqrstuvwxyzABCDEFGH"

/* ---- errors ---- */

/* Returns the exception Bedrock answers with for an HTTP status. */
static const char *bedrock_error_type(int status, int stream)
{
    switch (status) {
    case 400: return "ValidationException";
    case 403: return "AccessDeniedException";
    case 404: return "ResourceNotFoundException";
    case 408: return "ModelTimeoutException";
    case 424: return stream ? "ModelStreamErrorException" : "ModelErrorException";
    case 429: return "ThrottlingException";
    case 503: return "ServiceUnavailableException";
    default: return status >= 500 ? "InternalServerException" : "ValidationException";
    }
}

static const char *bedrock_error_message(const char *type)
{
    if (strcmp(type, "ThrottlingException") == 0)
        return "Too many requests, please wait before trying again.";
    if (strcmp(type, "ServiceUnavailableException") == 0)
        return "Bedrock is unable to process your request.";
    if (strcmp(type, "InternalServerException") == 0)
        return "The system encountered an unexpected error during processing. Try your request "
               "again.";
    if (strcmp(type, "ModelTimeoutException") == 0)
        return "Model has timed out in processing the request. Try your request again.";
    if (strcmp(type, "ModelErrorException") == 0 || strcmp(type, "ModelStreamErrorException") == 0)
        return "The model encountered an error while processing the request.";
    if (strcmp(type, "AccessDeniedException") == 0)
        return "You don't have access to the model with the specified model ID.";
    if (strcmp(type, "ResourceNotFoundException") == 0)
        return "The requested resource could not be found.";
    return NULL;
}

static void put_request_id(struct buf *b, const struct mock_req *q)
{
    char id[48];
    snprintf(id, sizeof(id), "00000000-0000-4000-8000-%012llx", q->seq & 0xffffffffffffULL);
    buf_puts(b, id);
}

/* Writes a Bedrock error: {"message":...} with x-amzn-ErrorType type. */
static void bedrock_error_typed(struct mock_reply *r, const struct mock_req *q, int status,
                                const char *type, const char *message, size_t mlen)
{
    struct buf extra = BUF_INIT, *b = q->tmp;
    buf_reset(b);
    MOCK_LIT(b, "{\"message\":");
    mock_json_put_str(b, message, mlen);
    buf_putc(b, '}');
    MOCK_LIT(&extra, "x-amzn-ErrorType: ");
    buf_puts(&extra, type);
    if (strstr(type, "Signature") || strstr(type, "Authentication") ||
        strcmp(type, "UnrecognizedClientException") == 0)
        MOCK_LIT(&extra, ":http://internal.amazon.com/coral/com.amazon.coral.service/");
    else
        MOCK_LIT(&extra, ":http://internal.amazon.com/coral/com.amazon.bedrock/");
    MOCK_LIT(&extra, "\r\nx-amzn-RequestId: ");
    put_request_id(&extra, q);
    MOCK_LIT(&extra, "\r\n");
    if (status == 429 || q->p.retry_after > 0)
        buf_printf(&extra, "retry-after: %d\r\n", q->p.retry_after > 0 ? q->p.retry_after : 1);
    mock_reply_full(r, q, status, "application/json", b->data, b->len, extra.data);
    buf_free(&extra);
}

static void bedrock_error_status(struct mock_reply *r, const struct mock_req *q, int status,
                                 int stream, const char *message)
{
    const char *type = bedrock_error_type(status, stream);
    const char *m = bedrock_error_message(type);
    if (!m || !message)
        m = message ? message : "mockllm: error";
    bedrock_error_typed(r, q, status, type, m, strlen(m));
}

void mock_bedrock_error(struct mock_reply *r, const struct mock_req *q, int status,
                        const char *message)
{
    const char *type = bedrock_error_type(status, 0);
    bedrock_error_typed(r, q, status, type, message, strlen(message));
}

/* ---- SigV4 verification ---- */


/* The parts of an Authorization header "AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/
 * aws4_request, SignedHeaders=a;b, Signature=hex". */
struct sig_auth {
    struct str access_key, date, region, service, terminator, signed_headers, signature;
};

/* Returns 0 when the header parses, else -1 with *why set. */
static int auth_parse(struct str v, struct sig_auth *a, const char **why)
{
    static const char alg[] = "AWS4-HMAC-SHA256";
    struct str cred = {NULL, 0};
    memset(a, 0, sizeof(*a));
    v = str_trim(v);
    if (v.len <= sizeof(alg) - 1 || memcmp(v.p, alg, sizeof(alg) - 1) != 0 ||
        (v.p[sizeof(alg) - 1] != ' ')) {
        *why = "Authorization header requires 'AWS4-HMAC-SHA256' as its algorithm.";
        return -1;
    }
    v.p += sizeof(alg) - 1;
    v.len -= sizeof(alg) - 1;
    while (v.len) {
        const char *comma = memchr(v.p, ',', v.len);
        struct str part = str_trim((struct str){v.p, comma ? (size_t)(comma - v.p) : v.len});
        v = comma ? (struct str){comma + 1, v.len - (size_t)(comma + 1 - v.p)} : (struct str){v.p, 0};
        const char *eq = memchr(part.p, '=', part.len);
        if (!eq)
            continue;
        struct str name = {part.p, (size_t)(eq - part.p)};
        struct str val = {eq + 1, part.len - name.len - 1};
        if (str_eq(name, STR_LIT("Credential")))
            cred = val;
        else if (str_eq(name, STR_LIT("SignedHeaders")))
            a->signed_headers = val;
        else if (str_eq(name, STR_LIT("Signature")))
            a->signature = val;
    }
    if (!cred.len || !a->signed_headers.len || !a->signature.len) {
        *why = !cred.len           ? "Authorization header requires 'Credential' parameter."
               : !a->signature.len ? "Authorization header requires 'Signature' parameter."
                                   : "Authorization header requires 'SignedHeaders' parameter.";
        return -1;
    }
    struct str *fields[] = {&a->access_key, &a->date, &a->region, &a->service, &a->terminator};
    size_t k = 0;
    for (size_t i = 0, start = 0; i <= cred.len; i++) {
        if (i < cred.len && cred.p[i] != '/')
            continue;
        if (k == 5) {
            k = 6;
            break;
        }
        *fields[k++] = (struct str){cred.p + start, i - start};
        start = i + 1;
    }
    if (k != 5 || !a->access_key.len || !a->region.len || !a->service.len ||
        !str_eq(a->terminator, STR_LIT("aws4_request"))) {
        *why = "Credential should be scoped to a valid region and service, and end with "
               "'aws4_request'.";
        return -1;
    }
    return 0;
}

static char *dup_str(struct str s)
{
    char *p = xmalloc(s.len + 1);
    memcpy(p, s.p, s.len);
    p[s.len] = '\0';
    return p;
}

/* Checks the request's SigV4 signature. Returns 1 when it is good; else writes the 403 and
 * returns 0. */
static int verify_signature(struct mock_req *q, struct mock_reply *r)
{
    struct str auth = mock_req_header(q, "authorization");
    struct sig_auth a;
    const char *why = NULL;
    if (!auth.len) {
        const char *m = "Missing Authentication Token";
        bedrock_error_typed(r, q, 403, "MissingAuthenticationTokenException", m, strlen(m));
        return 0;
    }
    if (auth_parse(auth, &a, &why) != 0) {
        bedrock_error_typed(r, q, 403, "IncompleteSignatureException", why, strlen(why));
        return 0;
    }
    if (!str_eq(a.access_key, str_c(mock_cfg.aws_access_key))) {
        const char *m = "The security token included in the request is invalid.";
        bedrock_error_typed(r, q, 403, "UnrecognizedClientException", m, strlen(m));
        return 0;
    }
    if (!str_eq(a.service, STR_LIT(BEDROCK_SERVICE))) {
        const char *m = "Credential should be scoped to correct service: 'bedrock'. ";
        bedrock_error_typed(r, q, 403, "InvalidSignatureException", m, strlen(m));
        return 0;
    }

    /* Gather the signed headers, as received. */
    struct sigv4_header hdrs[SIGV4_MAX_HEADERS];
    char *owned[2 * SIGV4_MAX_HEADERS + 8];
    size_t nh = 0, nowned = 0;
    struct sigv4_request sr = {.method = "POST"};
    struct sigv4_creds cr = {.access_key = mock_cfg.aws_access_key,
                             .secret_key = mock_cfg.aws_secret_key};
    const char *fail_type = NULL;
    char fail_msg[200];
    struct str sh = a.signed_headers;
    for (size_t i = 0, start = 0; i <= sh.len && !fail_type; i++) {
        if (i < sh.len && sh.p[i] != ';')
            continue;
        struct str name = {sh.p + start, i - start};
        start = i + 1;
        if (!name.len)
            continue;
        int found = 0;
        for (size_t k = 0; k < q->nhdrs && !fail_type; k++) {
            const struct mock_hdr *h = &q->hdrs[k];
            if (!str_eq((struct str){q->hbase + h->name_off, h->name_len}, name))
                continue;
            struct str val = str_trim((struct str){q->hbase + h->val_off, h->val_len});
            found++;
            if (nowned + 2 > sizeof(owned) / sizeof(owned[0])) {
                fail_type = "InvalidSignatureException";
                snprintf(fail_msg, sizeof(fail_msg), "mockllm: more than %d signed headers",
                         SIGV4_MAX_HEADERS);
                break;
            }
            char *copy = owned[nowned++] = dup_str(val);
            if (str_eq(name, STR_LIT("host"))) {
                sr.host = copy;
            } else if (str_eq(name, STR_LIT("x-amz-date"))) {
                sr.amz_date = copy;
            } else if (str_eq(name, STR_LIT("x-amz-content-sha256"))) {
                sr.content_sha256 = 1;
            } else if (str_eq(name, STR_LIT("x-amz-security-token"))) {
                cr.session_token = copy;
            } else if (nh < SIGV4_MAX_HEADERS) {
                char *n = owned[nowned++] = dup_str(name);
                hdrs[nh++] = (struct sigv4_header){n, copy};
            } else {
                fail_type = "InvalidSignatureException";
                snprintf(fail_msg, sizeof(fail_msg), "mockllm: more than %d signed headers",
                         SIGV4_MAX_HEADERS);
            }
        }
        if (!found && !fail_type) {
            fail_type = "InvalidSignatureException";
            snprintf(fail_msg, sizeof(fail_msg),
                     "The request signature we calculated does not match the signature you "
                     "provided: signed header '%.*s' is not in the request.",
                     (int)(name.len > 64 ? 64 : name.len), name.p);
        }
    }
    if (!fail_type && (!sr.amz_date || !sr.host)) {
        fail_type = "IncompleteSignatureException";
        snprintf(fail_msg, sizeof(fail_msg), "%s",
                 !sr.host                            ? "'Host' must be a signed header."
                 : mock_req_header(q, "x-amz-date").len ? "'X-Amz-Date' must be a signed header."
                                                     : "Authorization header requires existence "
                                                       "of either a 'X-Amz-Date' or a 'Date' "
                                                       "header.");
    }
    int ok = 0;
    if (!fail_type) {
        char *path = dup_str(q->path);
        const char *qm = memchr(q->url.p, '?', q->url.len);
        char *query = qm ? dup_str((struct str){qm + 1, q->url.len - (size_t)(qm + 1 - q->url.p)})
                         : NULL;
        char *region = dup_str(a.region);
        sr.path = path;
        sr.query = query;
        sr.headers = hdrs;
        sr.n_headers = nh;
        sr.body = q->body.p;
        sr.body_len = q->body.len;
        sr.region = region;
        sr.service = BEDROCK_SERVICE;
        char sig[65];
        struct buf creq = BUF_INIT, sts = BUF_INIT;
        if (sigv4_signature(&cr, &sr, sig) == 0 && strlen(sig) == a.signature.len &&
            memcmp(sig, a.signature.p, a.signature.len) == 0) {
            ok = 1;
        } else {
            struct buf m = BUF_INIT;
            buf_puts(&m, "The request signature we calculated does not match the signature you "
                         "provided. Check your AWS Secret Access Key and signing method. Consult "
                         "the service documentation for details.");
            if (sigv4_canonical_request(&cr, &sr, &creq) == 0 &&
                sigv4_string_to_sign(&cr, &sr, &sts) == 0) {
                buf_puts(&m, "\n\nThe Canonical String for this request should have been\n'");
                buf_append(&m, creq.data, creq.len);
                buf_puts(&m, "'\n\nThe String-to-Sign should have been\n'");
                buf_append(&m, sts.data, sts.len);
                buf_puts(&m, "'\n");
            }
            bedrock_error_typed(r, q, 403, "InvalidSignatureException", m.data, m.len);
            buf_free(&m);
        }
        buf_free(&creq);
        buf_free(&sts);
        free(path);
        free(query);
        free(region);
    } else {
        bedrock_error_typed(r, q, 403, fail_type, fail_msg, strlen(fail_msg));
    }
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    return ok;
}

/* ---- the answer ---- */

struct conv {
    const char *tool; /* the tool to call, or NULL for text */
    uint32_t words, input_tokens, output_tokens;
    const char *stop_reason;
    uint32_t latency_ms;
};

/* Returns the tool a Converse request gets a call to, or NULL for text. */
static const char *converse_tool(json_object *root)
{
    json_object *cfg = mock_json_get(root, "toolConfig");
    json_object *tools = mock_json_get(cfg, "tools");
    if (!tools || !json_object_is_type(tools, json_type_array) ||
        json_object_array_length(tools) == 0)
        return NULL;
    json_object *name = mock_json_get(mock_json_get(mock_json_get(cfg, "toolChoice"), "tool"),
                                      "name");
    if (!name)
        name = mock_json_get(mock_json_get(json_object_array_get_idx(tools, 0), "toolSpec"),
                             "name");
    if (name && json_object_is_type(name, json_type_string))
        return json_object_get_string(name);
    return "tool";
}

static void put_usage_metrics(struct buf *b, const struct conv *c)
{
    MOCK_LIT(b, "\"usage\":{\"inputTokens\":");
    mock_json_put_u64(b, c->input_tokens);
    MOCK_LIT(b, ",\"outputTokens\":");
    mock_json_put_u64(b, c->output_tokens);
    MOCK_LIT(b, ",\"totalTokens\":");
    mock_json_put_u64(b, (unsigned long long)c->input_tokens + c->output_tokens);
    MOCK_LIT(b, "},\"metrics\":{\"latencyMs\":");
    mock_json_put_u64(b, c->latency_ms);
    buf_putc(b, '}');
}

static void converse_json(struct mock_req *q, struct mock_reply *r, const struct conv *c)
{
    struct buf *b = q->tmp;
    buf_reset(b);
    MOCK_LIT(b, "{\"output\":{\"message\":{\"role\":\"assistant\",\"content\":[");
    if (c->tool) {
        MOCK_LIT(b, "{\"toolUse\":{\"toolUseId\":\"" BEDROCK_TOOL_USE_ID "\",\"name\":");
        mock_json_put_str(b, c->tool, strlen(c->tool));
        MOCK_LIT(b, ",\"input\":" MOCK_TOOL_ARGS "}}");
    } else {
        MOCK_LIT(b, "{\"text\":\"");
        mock_gen_text(b, c->words);
        MOCK_LIT(b, "\"}");
    }
    MOCK_LIT(b, "]}},\"stopReason\":\"");
    buf_puts(b, c->stop_reason);
    MOCK_LIT(b, "\",");
    put_usage_metrics(b, c);
    buf_putc(b, '}');

    /* As mock_reply_json_result, with Bedrock's request id header. */
    struct buf extra = BUF_INIT;
    MOCK_LIT(&extra, "x-amzn-RequestId: ");
    put_request_id(&extra, q);
    MOCK_LIT(&extra, "\r\n");
    mock_reply_add_delay(r, q->p.ttft_ms);
    if (q->p.malformed) {
        mock_reply_full(r, q, 200, "application/json", b->data, b->len / 2, extra.data);
    } else if (q->p.cut_after >= 0) {
        mock_reply_head(r, q, 200, "application/json", (long long)b->len, extra.data);
        buf_append(&r->data, b->data, b->len / 2);
        r->end = REPLY_CLOSE;
    } else {
        mock_reply_full(r, q, 200, "application/json", b->data, b->len, extra.data);
    }
    buf_free(&extra);
}

/* Appends one eventstream message to q->ev and writes it as one HTTP chunk. kind is the
 * :message-type ("event" or "exception"); type its :event-type or :exception-type. corrupt flips
 * the message CRC (a malformed stream). */
static void es_send(struct mock_req *q, struct mock_reply *r, const char *kind, const char *type,
                    const struct buf *payload, int corrupt)
{
    int exc = strcmp(kind, "exception") == 0;
    struct eventstream_header h[3] = {
        {STR_LIT(":message-type"), EVENTSTREAM_STRING, str_c(kind), 0},
        {exc ? STR_LIT(":exception-type") : STR_LIT(":event-type"), EVENTSTREAM_STRING,
         str_c(type), 0},
        {STR_LIT(":content-type"), EVENTSTREAM_STRING, STR_LIT("application/json"), 0},
    };
    buf_reset(q->ev);
    if (eventstream_encode(q->ev, h, 3, payload->data, payload->len) != 0)
        return;
    if (corrupt)
        q->ev->data[q->ev->len - 1] ^= 0x5a;
    mock_reply_chunk(r, q->ev->data, q->ev->len);
}

/* Starts a payload in q->tmp with Bedrock's padding member. */
static struct buf *payload_open(struct mock_req *q)
{
    buf_reset(q->tmp);
    MOCK_LIT(q->tmp, "{\"p\":\"" BEDROCK_PAD "\",");
    return q->tmp;
}

/* Returns the exception event x-mock-stream-exception asks for, or NULL. */
static const char *stream_exception(const struct mock_req *q)
{
    static const char *const names[] = {"modelStreamErrorException", "internalServerException",
                                        "throttlingException", "serviceUnavailableException",
                                        "validationException"};
    struct str v = str_trim(mock_req_header(q, "x-mock-stream-exception"));
    if (!v.len || str_eq_ci(v, "0") || str_eq_ci(v, "off") || str_eq_ci(v, "false") ||
        str_eq_ci(v, "no"))
        return NULL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (str_eq_ci(v, names[i]))
            return names[i];
    if (str_eq_ci(v, "1") || str_eq_ci(v, "true") || str_eq_ci(v, "yes") || str_eq_ci(v, "on"))
        return names[0];
    return NULL;
}

static void delta_payload(struct buf *b, const struct conv *c, uint32_t i)
{
    MOCK_LIT(b, "\"contentBlockIndex\":0,\"delta\":");
    if (c->tool) {
        MOCK_LIT(b, "{\"toolUse\":{\"input\":");
        const char *piece = mock_gen_tool_arg_pieces[i];
        mock_json_put_str(b, piece, strlen(piece));
        MOCK_LIT(b, "}}}");
    } else {
        MOCK_LIT(b, "{\"text\":\"");
        mock_gen_piece(b, i);
        MOCK_LIT(b, "\"}}");
    }
}

static void converse_stream(struct mock_req *q, struct mock_reply *r, const struct conv *c)
{
    /* The SSE helper gives the delays and cut-after; malformed is done here (binary events). */
    struct mock_req qq = *q;
    qq.p.malformed = 0;
    uint32_t total = c->tool ? (uint32_t)mock_gen_tool_arg_npieces : c->words;
    struct mock_sse s = {.r = r, .q = &qq, .bad_event = "", .total = total};
    const char *exc = stream_exception(q);
    uint32_t mid = total / 2;

    struct buf extra = BUF_INIT;
    MOCK_LIT(&extra, "x-amzn-RequestId: ");
    put_request_id(&extra, q);
    MOCK_LIT(&extra, "\r\n");
    r->stream = 1;
    mock_reply_head(r, q, 200, "application/vnd.amazon.eventstream", -1, extra.data);
    buf_free(&extra);

    struct buf *b = payload_open(q);
    MOCK_LIT(b, "\"role\":\"assistant\"}");
    es_send(q, r, "event", "messageStart", b, 0);
    if (c->tool) {
        b = payload_open(q);
        MOCK_LIT(b, "\"contentBlockIndex\":0,\"start\":{\"toolUse\":{\"toolUseId\":\""
                    BEDROCK_TOOL_USE_ID "\",\"name\":");
        mock_json_put_str(b, c->tool, strlen(c->tool));
        MOCK_LIT(b, "}}}");
        es_send(q, r, "event", "contentBlockStart", b, 0);
    }
    for (uint32_t i = 0;; i++) {
        if (exc && i == mid) {
            mock_reply_pause(r, i == 0 ? q->p.ttft_ms : q->p.chunk_delay_ms);
            b = q->tmp;
            buf_reset(b);
            MOCK_LIT(b, "{\"message\":\"The model encountered an error while streaming.\"");
            if (strcmp(exc, "modelStreamErrorException") == 0)
                MOCK_LIT(b, ",\"originalStatusCode\":500,\"originalMessage\":\"mockllm: "
                            "injected stream exception\"");
            buf_putc(b, '}');
            es_send(q, r, "exception", exc, b, 0);
            mock_reply_chunk_end(r);
            r->stream_complete = 1;
            return;
        }
        if (i == total)
            break;
        if (!mock_sse_next(&s))
            return;
        if (q->p.malformed && i == mid) {
            b = payload_open(q);
            delta_payload(b, c, i);
            es_send(q, r, "event", "contentBlockDelta", b, 1);
        }
        b = payload_open(q);
        delta_payload(b, c, i);
        es_send(q, r, "event", "contentBlockDelta", b, 0);
    }
    if (!mock_sse_end(&s))
        return;
    b = payload_open(q);
    MOCK_LIT(b, "\"contentBlockIndex\":0}");
    es_send(q, r, "event", "contentBlockStop", b, 0);
    b = payload_open(q);
    MOCK_LIT(b, "\"stopReason\":\"");
    buf_puts(b, c->stop_reason);
    MOCK_LIT(b, "\"}");
    es_send(q, r, "event", "messageStop", b, 0);
    b = payload_open(q);
    put_usage_metrics(b, c);
    buf_putc(b, '}');
    es_send(q, r, "event", "metadata", b, 0);
    mock_sse_done(&s);
}

void mock_bedrock(struct mock_req *q, struct mock_reply *r)
{
    /* /model/{modelId}/{operation} */
    struct str rest = {q->path.p + 7, q->path.len - 7};
    const char *slash = rest.len ? memrchr(rest.p, '/', rest.len) : NULL;
    struct str model = {rest.p, slash ? (size_t)(slash - rest.p) : 0};
    struct str op = slash ? (struct str){slash + 1, rest.len - model.len - 1} : (struct str){"", 0};
    int stream = str_eq(op, STR_LIT("converse-stream"));

    if (!verify_signature(q, r))
        return;
    if (!model.len || memchr(model.p, '/', model.len) ||
        (!stream && !str_eq(op, STR_LIT("converse")))) {
        char msg[160];
        snprintf(msg, sizeof(msg), "mockllm: unknown path %.*s",
                 (int)(q->path.len > 100 ? 100 : q->path.len), q->path.p);
        bedrock_error_typed(r, q, 404, "UnknownOperationException", msg, strlen(msg));
        return;
    }
    if (q->p.status >= 300) {
        bedrock_error_status(r, q, q->p.status, stream, NULL);
        return;
    }

    json_object *root = mock_req_json(q);
    if (!root || !json_object_is_type(root, json_type_object)) {
        bedrock_error_status(r, q, 400, stream, "Malformed input request, please reformat your "
                                                "input and try again.");
        goto out;
    }
    json_object *msgs = mock_json_get(root, "messages");
    if (!msgs || !json_object_is_type(msgs, json_type_array)) {
        bedrock_error_status(r, q, 400, stream,
                             "1 validation error detected: Value null at 'messages' failed to "
                             "satisfy constraint: Member must not be null");
        goto out;
    }
    struct conv c = {.tool = converse_tool(root), .stop_reason = "end_turn"};
    size_t n = json_object_array_length(msgs);
    size_t bytes = mock_gen_content_bytes(mock_json_get(root, "system"));
    for (size_t i = 0; i < n; i++)
        bytes +=
            mock_gen_content_bytes(mock_json_get(json_object_array_get_idx(msgs, i), "content"));
    c.input_tokens = (uint32_t)(bytes / 4 + 3 * n);
    c.words = q->p.words;
    c.latency_ms = q->p.latency_ms + q->p.ttft_ms;
    if (c.tool) {
        c.stop_reason = "tool_use";
        c.output_tokens = (uint32_t)mock_gen_tool_arg_npieces;
    } else {
        json_object *max = mock_json_get(mock_json_get(root, "inferenceConfig"), "maxTokens");
        if (max && json_object_is_type(max, json_type_int) && json_object_get_int64(max) >= 0 &&
            json_object_get_int64(max) < (int64_t)c.words) {
            c.words = (uint32_t)json_object_get_int64(max);
            c.stop_reason = "max_tokens";
        }
        if (q->p.content_filter == MOCK_FILTER_COMPLETION)
            c.stop_reason = "content_filtered";
        else if (q->p.content_filter == MOCK_FILTER_PROMPT)
            c.stop_reason = "guardrail_intervened";
        c.output_tokens = c.words;
    }
    if (stream)
        converse_stream(q, r, &c);
    else
        converse_json(q, r, &c);
out:
    json_object_put(root);
}
