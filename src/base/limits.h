#ifndef TG_LIMITS_H
#define TG_LIMITS_H
/* Every limit a client or an upstream can reach, in one place. Each has a default here, can be set in
 * the config's `limits:` section (docs/config.md), and answers with a clear error when hit. */
#include <stddef.h>
#include <stdint.h>

/* Upper bounds a config may set: timeouts are held in 32-bit timers (about 24 days); the header count
 * is the size of the request's header array (HTTP_MAX_HEADERS). */
#define LIMIT_MS_MAX 2147483647ull
#define LIMIT_SIZE_MAX ((unsigned long long)SIZE_MAX)
#define LIMIT_HEADER_COUNT_MAX 100

#define LIMITS_LIST(X)                                                                                                 \
    /* type,  name,                      default, max, unit, what happens when hit */                                  \
    X(size_t, max_header_bytes, 32768, LIMIT_SIZE_MAX, "bytes", "431 Request Header Fields Too Large")                 \
    X(size_t, max_header_count, 100, LIMIT_HEADER_COUNT_MAX, "count", "431 Request Header Fields Too Large")           \
    X(size_t, max_body_bytes, 16777216, LIMIT_SIZE_MAX, "bytes", "413 Payload Too Large")                              \
    X(size_t, max_connections, 16384, LIMIT_SIZE_MAX, "count", "new connections closed at accept, per worker")         \
    X(size_t, max_pipelined, 64, LIMIT_SIZE_MAX, "count", "connection stops reading until answers drain")              \
    X(size_t, header_timeout_ms, 15000, LIMIT_MS_MAX, "ms", "408 when request headers take longer")                    \
    X(size_t, body_timeout_ms, 30000, LIMIT_MS_MAX, "ms", "408 when the body stalls longer than this")                 \
    X(size_t, idle_timeout_ms, 75000, LIMIT_MS_MAX, "ms", "idle keep-alive connection closed")                         \
    X(size_t, write_timeout_ms, 60000, LIMIT_MS_MAX, "ms", "connection closed when the client stops reading")          \
    X(size_t, max_sse_event_bytes, 4194304, LIMIT_SIZE_MAX, "bytes", "stream ends with an error event")                \
    X(size_t, max_upstream_body_bytes, 67108864, LIMIT_SIZE_MAX, "bytes", "upstream response rejected (502)")          \
    X(size_t, stream_buffer_bytes, 262144, LIMIT_SIZE_MAX, "bytes", "upstream paused until the client reads")          \
    X(size_t, connect_timeout_ms, 10000, LIMIT_MS_MAX, "ms", "504 upstream connect timeout")                           \
    X(size_t, first_byte_timeout_ms, 120000, LIMIT_MS_MAX, "ms", "504 no first byte from upstream")                    \
    X(size_t, total_timeout_ms, 600000, LIMIT_MS_MAX, "ms", "504 upstream total timeout")                              \
    X(size_t, stream_idle_timeout_ms, 60000, LIMIT_MS_MAX, "ms", "stream ended with an error event")                   \
    X(size_t, shutdown_timeout_ms, 30000, LIMIT_MS_MAX, "ms", "open requests cut at shutdown")                         \
    X(size_t, drain_delay_ms, 0, LIMIT_MS_MAX, "ms", "after SIGTERM, /readyz is 503 this long before draining")

struct limits {
#define LIMITS_FIELD_(type, name, def, max, unit, what) type name;
    LIMITS_LIST(LIMITS_FIELD_)
#undef LIMITS_FIELD_
};

/* Returns the built-in defaults. */
struct limits limits_default(void);
/* Returns the largest value the limit called name may take, or 0 for an unknown name. */
unsigned long long limits_max(const char *name);
/* Sets the limit called name to value; returns 0, or ERR_NOT_FOUND for an unknown name. */
int limits_set(struct limits *l, const char *name, unsigned long long value);

#endif
