#ifndef TG_LOG_H
#define TG_LOG_H
/* Logging. Diagnostic lines go to stderr as JSON lines ({"ts","level","msg"}), each formatted in the
 * caller and written with one write(2). The access log is a separate JSON-lines sink (log_access_*)
 * written by its own thread. Both are safe to call from any thread and lines never interleave.
 * Never pass secrets. */
#include <stdarg.h>

#include "base/buf.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level lvl);
/* Appends the current UTC time as RFC 3339 with milliseconds ("2026-12-03T18:10:45.045Z"). */
void log_put_timestamp(struct buf *b);
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

/* Access-log bytes waiting for the writer thread at most; lines beyond it are counted as dropped and
 * reported with a warning, so a stalled disk never stalls responses or grows memory. */
#define LOG_ACCESS_MAX_PENDING (8 * 1024 * 1024)

/* Opens the access log: "stderr", "stdout", "off", or a file path (appended), and starts its writer
 * thread. Returns 0 or ERR_IO. */
int log_access_open(const char *target);
void log_access_close(void);
/* Reopens a file access log in place (for log rotation on SIGHUP): the new file takes over the same
 * descriptor with dup2, so writers on other threads never see a closed descriptor. */
void log_access_reopen(void);
/* Returns 1 when an access log is open. */
int log_access_enabled(void);
/* Queues one complete line (without its '\n', which is added) for the writer thread; never blocks
 * on I/O. */
void log_access_write(const char *line, size_t len);

#endif
