#ifndef TG_ERR_H
#define TG_ERR_H
/* Error codes: functions that can fail return 0 or a negative ERR_* value. The list is one X-macro so
 * the enum and the messages never drift apart. */

#define ERR_LIST(X)                                                      \
    X(NOMEM, "out of memory")                                            \
    X(INVAL, "invalid argument")                                         \
    X(TOO_LARGE, "too large")                                            \
    X(TIMEOUT, "timed out")                                              \
    X(IO, "input/output error")                                          \
    X(PARSE, "parse error")                                              \
    X(NOT_FOUND, "not found")                                            \
    X(CLOSED, "connection closed")                                       \
    X(LIMIT, "limit reached")                                            \
    X(CONNECT, "could not connect")                                      \
    X(UPSTREAM, "upstream error")                                        \
    X(CANCELLED, "cancelled")

enum err_code {
    ERR_OK = 0,
#define ERR_ENUM_(name, msg) ERR_##name,
    ERR_FIRST_ = -100,
    ERR_LIST(ERR_ENUM_)
#undef ERR_ENUM_
    ERR_LAST_
};

/* Returns a static message for an ERR_* code (or "unknown error"). */
const char *err_str(int code);

#endif
