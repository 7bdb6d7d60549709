#ifndef MOCKLLM_MOCK_H
#define MOCKLLM_MOCK_H
/* mockllm: a fast mock LLM upstream (OpenAI and Anthropic wire formats, fault injection).
 *
 * The program is split as follows:
 *   main.c       command line, listening sockets, worker threads, signals
 *   server.c     one libuv loop per worker: connections, http_parser, pipelining, delays, writes
 *   reply.c      the reply builder: status line, headers, SSE chunks, delay segments, errors
 *   gen.c        deterministic content: the text, token estimates, embedding vectors, base64
 *   openai.c     /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models
 *   anthropic.c  /v1/messages, /v1/messages/count_tokens
 *   azure.c      /openai/deployments/{name}/...: Azure OpenAI's paths onto the openai.c handlers
 *   gemini.c     /v1beta/models/{model}:generateContent, :streamGenerateContent, :countTokens
 *   control.c    /mock/stats, /mock/requests/<id>, /mock/reset: counters and the request ring
 *
 * A handler never touches a socket. It fills a struct mock_reply: bytes plus "segments", each with
 * a delay to wait before it is sent, and what to do at the end (keep the connection, close it, or
 * never answer). The server sends a reply with no delays in one write; others go through a timer.
 */

#include <json-c/json.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/str.h"

/* Limits, all in one place. */
#define MOCK_MAX_WORDS        1000000u     /* x-mock-words above this is clamped (~200 MB stream) */
#define MOCK_MAX_DELAY_MS     3600000u     /* any delay above one hour is clamped */
#define MOCK_MAX_BODY_BYTES   (16u << 20)  /* request bodies above this get 413 and a close */
#define MOCK_MAX_HEADER_BYTES 65536u       /* request header bytes above this get 431 and a close */
#define MOCK_MAX_QUEUED       64           /* pipelined replies in a queue before reading pauses */
#define MOCK_OUT_BYTES        (256u << 10) /* reply bytes put in a connection output at a time */
#define MOCK_RECORD_SLOTS     4096         /* requests kept for /mock/requests/<id> */
#define MOCK_RECORD_MAX_BODY  (4u << 20)   /* recorded body bytes beyond this are dropped */
#define MOCK_MAX_EMBED_DIMS   8192         /* largest `dimensions` accepted for embeddings */
#define MOCK_DEFAULT_DIMS     8            /* embedding size when the request names none */
#define MOCK_MAX_THREADS      64

/* Append a string literal without strlen. */
#define MOCK_LIT(b, s) buf_append((b), (s), sizeof(s) - 1)

/* The behaviour of one request: instance flags give the defaults, x-mock-* headers override. */
struct mock_params {
    /* Delays, in milliseconds: before the response headers; before the first content chunk of a
     * stream (added to latency_ms for a non-stream answer); between stream chunks. */
    uint32_t latency_ms, ttft_ms, chunk_delay_ms;
    uint32_t words;  /* length of the generated text */
    int status;      /* 0: normal answer; else this HTTP status with an error body */
    int retry_after; /* seconds, sent as retry-after with status 429 */
    long cut_after;  /* -1: off; else content chunks (stream) before an abrupt close */
    int malformed;   /* invalid JSON body, or one invalid data: line in a stream */
    int hang;        /* never answer */
    int close;       /* close the connection without an answer */
    int content_filter; /* Azure's content filter: MOCK_FILTER_* */
};

/* x-mock-content-filter: the prompt is refused (400 content_filter), or the answer is cut
 * (finish_reason "content_filter"). */
enum { MOCK_FILTER_OFF, MOCK_FILTER_PROMPT, MOCK_FILTER_COMPLETION };

struct mock_config {
    const char *host;
    int port;
    int threads;
    int quiet;
    struct mock_params defaults;
    const char *aws_access_key, *aws_secret_key; /* Bedrock: the credentials requests are signed by */
};

extern struct mock_config mock_cfg;

/* What the server does once every segment of a reply was sent. */
enum mock_reply_end {
    REPLY_KEEP,  /* keep the connection; next pipelined reply */
    REPLY_CLOSE, /* close the connection (Connection: close, cut-after, x-mock-close) */
    REPLY_HANG,  /* never finish: the connection stays until the peer goes away */
};

struct mock_reply_seg {
    size_t start;      /* offset of the segment in data */
    uint32_t delay_ms; /* wait before sending it */
};

/* A reply under construction, or queued on a connection. Segment i spans data from segs[i].start
 * to segs[i+1].start (or data.len). */
struct mock_reply {
    struct buf data;
    struct mock_reply_seg *segs;
    size_t nseg, segcap;
    enum mock_reply_end end;
    int stream;          /* an SSE stream: counted in streams_started */
    int stream_complete; /* the stream was written to its end: counted in streams_completed */
};

struct mock_hdr {
    uint32_t name_off, name_len; /* name is lowercased */
    uint32_t val_off, val_len;
};

/* One parsed request, as handlers see it. Views point into connection buffers and are valid only
 * for the duration of the handler call. */
struct mock_req {
    int method; /* enum http_method */
    struct str url, path, body;
    const char *hbase;
    const struct mock_hdr *hdrs;
    size_t nhdrs;
    int keep_alive;
    int http10;            /* an HTTP/1.0 request: keep-alive must be said explicitly */
    struct str request_id; /* x-request-id, or empty */
    struct mock_params p;
    unsigned long long seq;   /* unique over all threads: numbers ids like chatcmpl-mock-<seq> */
    struct buf *tmp, *ev;     /* per-thread scratch buffers, free to reset */
    struct json_tokener *tok; /* per-thread parser */
    unsigned worker;          /* index of the worker thread */
    int azure;                /* came in on an Azure path: answers carry prompt_filter_results */
};

/* ---- reply.c ---- */

void mock_reply_init(struct mock_reply *r);
void mock_reply_free(struct mock_reply *r);
/* Empties r for a new reply whose first segment waits delay_ms. */
void mock_reply_reset(struct mock_reply *r, uint32_t delay_ms);
/* Starts a new segment that waits delay_ms; a zero delay merges with the current segment. */
void mock_reply_pause(struct mock_reply *r, uint32_t delay_ms);
/* Adds delay_ms to the wait of the current segment. */
void mock_reply_add_delay(struct mock_reply *r, uint32_t delay_ms);
/* Writes the status line and headers. content_length < 0 means chunked. extra is NULL or header
 * lines, each ending in \r\n. */
void mock_reply_head(struct mock_reply *r, const struct mock_req *q, int status, const char *ctype,
                     long long content_length, const char *extra);
/* Writes a whole non-streaming response: head plus body. */
void mock_reply_full(struct mock_reply *r, const struct mock_req *q, int status, const char *ctype,
                     const char *body, size_t n, const char *extra);
/* Writes one HTTP chunk holding n bytes (n > 0). */
void mock_reply_chunk(struct mock_reply *r, const char *p, size_t n);
/* Writes the last chunk of a chunked body. */
void mock_reply_chunk_end(struct mock_reply *r);
/* Writes an OpenAI error object with that status (type chosen from it). */
void mock_reply_error_openai(struct mock_reply *r, const struct mock_req *q, int status,
                             const char *message, const char *param);
/* Writes an Anthropic error object with that status. */
void mock_reply_error_anthropic(struct mock_reply *r, const struct mock_req *q, int status,
                                const char *message);
/* Writes a successful JSON result, applying the non-stream faults of q: ttft is added to the
 * latency, malformed sends the first half of body as the whole body, cut-after (any N) announces
 * the full length, sends half and closes. */
void mock_reply_json_result(struct mock_reply *r, const struct mock_req *q, const char *body,
                            size_t n);

/* Appends s (n bytes) as a quoted JSON string. */
void mock_json_put_str(struct buf *b, const char *s, size_t n);
void mock_json_put_u64(struct buf *b, unsigned long long v);
/* Appends a JSON number for a float, round-trippable as float32. */
void mock_json_put_float(struct buf *b, float v);

/* Stream writer: applies ttft, chunk delays, cut-after and malformed to a chunked SSE reply.
 * mock_sse_start() writes the head; before each content event call mock_sse_next(), before the
 * closing events mock_sse_end(); both return 0 when the stream is cut there (the reply then ends
 * with a close, and the caller stops). mock_sse_done() writes the last chunk. */
struct mock_sse {
    struct mock_reply *r;
    const struct mock_req *q;
    const char *bad_event; /* the invalid event for malformed streams */
    uint32_t total;        /* content events planned */
    uint32_t sent;         /* content events started */
    int bad_sent;
};
void mock_sse_start(struct mock_sse *s, struct mock_reply *r, const struct mock_req *q,
                    uint32_t total, const char *bad_event);
int mock_sse_next(struct mock_sse *s);
int mock_sse_end(struct mock_sse *s);
void mock_sse_done(struct mock_sse *s);
/* Writes ev (a complete event, "data: ...\n\n") as one chunk. */
void mock_sse_event(struct mock_sse *s, const struct buf *ev);

/* ---- gen.c ---- */

/* Appends the deterministic text of nwords words, joined by single spaces. */
void mock_gen_text(struct buf *b, uint32_t nwords);
/* Appends stream piece i of that text: word i, preceded by a space unless i == 0. Pieces 0..n-1
 * concatenated equal mock_gen_text(n). */
void mock_gen_piece(struct buf *b, uint32_t i);
/* Returns the token estimate for n bytes of text: n / 4, at least 1 when n > 0. */
uint32_t mock_gen_tokens(size_t nbytes);
/* Returns the FNV-1a 64-bit hash of n bytes. */
uint64_t mock_gen_fnv1a(const void *p, size_t n);
/* Fills v[0..dims) with a unit-length vector derived only from seed. */
void mock_gen_vector(float *v, uint32_t dims, uint64_t seed);
/* Returns the text bytes of a message content: a string, or an array of parts whose "text"
 * members are counted (other parts, such as images, count nothing). */
size_t mock_gen_content_bytes(json_object *content);
/* Returns member key of object o, or NULL (also when o is NULL). */
json_object *mock_json_get(json_object *o, const char *key);
/* Returns 1 when member key of o is the boolean true. */
int mock_json_true(json_object *o, const char *key);
/* Returns the request's "model" string (a view into root), or "mock-model". */
struct str mock_json_model(json_object *root);
/* Appends n bytes as standard base64 with padding. */
void mock_gen_base64(struct buf *b, const void *p, size_t n);
/* The tool-call arguments the mock always produces, and the pieces a stream sends them in. */
#define MOCK_TOOL_ARGS "{\"location\":\"Paris\",\"unit\":\"celsius\"}"
extern const char *const mock_gen_tool_arg_pieces[];
extern const size_t mock_gen_tool_arg_npieces;

/* ---- openai.c, anthropic.c, control.c: route handlers ---- */

void mock_openai_chat(struct mock_req *q, struct mock_reply *r);
void mock_openai_completions(struct mock_req *q, struct mock_reply *r);
void mock_openai_embeddings(struct mock_req *q, struct mock_reply *r);
void mock_openai_models(struct mock_req *q, struct mock_reply *r);
void mock_openai_model(struct mock_req *q, struct mock_reply *r);
void mock_anthropic_messages(struct mock_req *q, struct mock_reply *r);
void mock_anthropic_count_tokens(struct mock_req *q, struct mock_reply *r);
void mock_azure(struct mock_req *q, struct mock_reply *r);
/* ---- bedrock.c: POST /model/{id}/converse and /converse-stream, SigV4-verified ---- */
void mock_bedrock(struct mock_req *q, struct mock_reply *r);
/* Writes a Bedrock error ({"message"} and x-amzn-ErrorType chosen from the status). */
void mock_bedrock_error(struct mock_reply *r, const struct mock_req *q, int status,
                        const char *message);
/* gemini.c: POST /v1beta/models/{model}:{method}, Google's Gemini API. */
void mock_gemini(struct mock_req *q, struct mock_reply *r);
/* Writes Google's error object {"error":{code,message,status}} with that status. */
void mock_reply_error_gemini(struct mock_reply *r, const struct mock_req *q, int status,
                             const char *message);

/* ---- azure.c: Azure's extras, used by the openai.c handlers ---- */

/* Writes Azure's content-filter refusal: 400 with code content_filter and the filter results. */
void mock_azure_filter_error(struct mock_reply *r, const struct mock_req *q);
/* Appends "prompt_filter_results":[...] (all categories safe), without a separator. */
void mock_azure_put_prompt_filter(struct buf *b);
/* Writes Azure's first stream chunk into ev: empty choices and the prompt_filter_results. */
void mock_azure_prompt_filter_chunk(struct buf *ev, int include_usage);
void mock_control_stats(struct mock_req *q, struct mock_reply *r);
void mock_control_request(struct mock_req *q, struct mock_reply *r);
void mock_control_reset(struct mock_req *q, struct mock_reply *r);

/* Parses the request body as one JSON value. Returns it (caller puts it) or NULL when the body is
 * not valid JSON. */
json_object *mock_req_json(struct mock_req *q);
/* Returns the value of header lname (lowercase), or an empty view. */
struct str mock_req_header(const struct mock_req *q, const char *lname);

/* ---- control.c: counters (one cache line per worker) and the request ring ---- */

struct mock_stats {
    _Atomic unsigned long long requests;
    _Atomic unsigned long long streams_started;
    _Atomic unsigned long long streams_completed;
    _Atomic unsigned long long client_disconnects;
    _Atomic long long active;      /* replies queued or in progress */
    _Atomic long long connections; /* open connections */
} __attribute__((aligned(64)));

/* Allocates the counters of n workers; mock_control_free() releases them and the ring. */
void mock_control_init(int nworkers);
void mock_control_free(void);
/* Returns the counters of worker i. */
struct mock_stats *mock_control_worker_stats(unsigned i);
/* Records q when it carries an x-request-id, replacing the oldest record when the ring is full. */
void mock_control_record(const struct mock_req *q);

static inline void mock_stat_add(_Atomic unsigned long long *c, unsigned long long v)
{
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static inline void mock_stat_gauge(_Atomic long long *c, long long v)
{
    atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

#endif
