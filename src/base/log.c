#include "base/log.h"

#include "base/alloc.h"
#include "base/err.h"

#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level log_min = LOG_INFO;
static int access_fd = -1;
static int access_owned;
static char *access_path;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level lvl)
{
    __atomic_store_n(&log_min, lvl, __ATOMIC_RELAXED); /* read by every worker thread */
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void log_put_timestamp(struct buf *b)
{
    struct timespec ts;
    struct tm tm;
    char t[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
    buf_printf(b, "%s.%03ldZ", t, ts.tv_nsec / 1000000);
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    if (lvl < __atomic_load_n(&log_min, __ATOMIC_RELAXED))
        return;
    struct buf msg = BUF_INIT, line = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    buf_puts(&line, "{\"ts\":\"");
    log_put_timestamp(&line);
    buf_printf(&line, "\",\"level\":\"%s\",\"msg\":\"", level_names[lvl]);
    buf_json_escape(&line, msg.data ? msg.data : "", msg.len);
    buf_puts(&line, "\"}\n");
    write_all(2, line.data, line.len);
    buf_free(&msg);
    buf_free(&line);
}

int log_access_open(const char *target)
{
    log_access_close();
    if (!target || strcmp(target, "off") == 0)
        return 0;
    if (strcmp(target, "stderr") == 0) {
        access_fd = 2;
    } else if (strcmp(target, "stdout") == 0) {
        access_fd = 1;
    } else {
        access_fd = open(target, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (access_fd < 0)
            return ERR_IO;
        access_owned = 1;
        access_path = xstrdup(target);
    }
    return 0;
}

void log_access_close(void)
{
    if (access_owned && access_fd >= 0)
        close(access_fd);
    access_fd = -1;
    access_owned = 0;
    free(access_path);
    access_path = NULL;
}

void log_access_reopen(void)
{
    if (!access_owned || !access_path)
        return;
    int fd = open(access_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
        log_error("cannot reopen the access log %s", access_path);
        return;
    }
    dup2(fd, access_fd);
    close(fd);
}

int log_access_enabled(void)
{
    return access_fd >= 0;
}

void log_access_write(const char *line, size_t len)
{
    if (access_fd < 0)
        return;
    /* One write per line so lines from several workers never interleave (O_APPEND / pipe <= PIPE_BUF
     * is atomic; longer lines are still written whole by one call on regular files). */
    char stackbuf[4096];
    if (len + 1 <= sizeof stackbuf) {
        memcpy(stackbuf, line, len);
        stackbuf[len] = '\n';
        write_all(access_fd, stackbuf, len + 1);
    } else {
        struct buf b = BUF_INIT;
        buf_append(&b, line, len);
        buf_putc(&b, '\n');
        write_all(access_fd, b.data, b.len);
        buf_free(&b);
    }
}
