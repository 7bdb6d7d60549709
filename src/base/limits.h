#ifndef TG_LIMITS_H
#define TG_LIMITS_H
/* Every limit a client or an upstream can reach, in one place. Each has a default here, can be set in
 * the config's `limits:` section (docs/config.md), and answers with a clear error when hit. */
#include <stddef.h>

#define LIMITS_LIST(X)                                                                          \
    /* type,  name,                      default,     unit, what happens when hit */            \
    X(size_t, max_header_bytes, 32768, "bytes", "431 Request Header Fields Too Large")           \
    X(size_t, max_body_bytes, 16777216, "bytes", "413 Payload Too Large")                        \
    X(size_t, max_connections, 16384, "count", "new connections closed at accept, per worker")   \
    X(size_t, max_pipelined, 64, "count", "connection stops reading until answers drain")        \
    X(size_t, header_timeout_ms, 15000, "ms", "408 when request headers take longer")            \
    X(size_t, body_timeout_ms, 30000, "ms", "408 when the body stalls longer than this")         \
    X(size_t, idle_timeout_ms, 75000, "ms", "idle keep-alive connection closed")                 \
    X(size_t, write_timeout_ms, 60000, "ms", "connection closed when the client stops reading")  \
    X(size_t, max_sse_event_bytes, 4194304, "bytes", "stream ends with an error event")           \
    X(size_t, max_upstream_body_bytes, 67108864, "bytes", "upstream response rejected (502)")    \
    X(size_t, stream_buffer_bytes, 262144, "bytes", "upstream paused until the client reads")    \
    X(size_t, connect_timeout_ms, 10000, "ms", "504 upstream connect timeout")                   \
    X(size_t, first_byte_timeout_ms, 120000, "ms", "504 no first byte from upstream")            \
    X(size_t, total_timeout_ms, 600000, "ms", "504 upstream total timeout")                      \
    X(size_t, stream_idle_timeout_ms, 60000, "ms", "stream ended with an error event")           \
    X(size_t, shutdown_timeout_ms, 30000, "ms", "open requests cut at shutdown")

struct limits {
#define LIMITS_FIELD_(type, name, def, unit, what) type name;
    LIMITS_LIST(LIMITS_FIELD_)
#undef LIMITS_FIELD_
};

/* Returns the built-in defaults. */
struct limits limits_default(void);
/* Sets the limit called name to value; returns 0, or ERR_NOT_FOUND for an unknown name. */
int limits_set(struct limits *l, const char *name, unsigned long long value);

#endif
