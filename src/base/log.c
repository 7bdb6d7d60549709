#include "base/log.h"

#include "base/alloc.h"
#include "base/err.h"

#include <fcntl.h>
#include <pthread.h>
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

/* The access log's writer thread: workers append whole lines to `pending` under the mutex and
 * return at once; the thread swaps the buffer out and writes it with one write(2) per batch, so a
 * slow disk never stalls a response and lines never interleave. The buffer is bounded
 * (LOG_ACCESS_MAX_PENDING); lines that do not fit are counted and reported, never waited for. Close
 * flushes what is pending, so a shutdown loses nothing. */
static pthread_mutex_t access_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t access_cv = PTHREAD_COND_INITIALIZER;
static struct buf access_pending;
static unsigned long long access_dropped;
static pthread_t access_thread;
static int access_running;

static void *access_writer(void *arg)
{
    struct buf batch = BUF_INIT;
    (void)arg;
    pthread_mutex_lock(&access_mu);
    for (;;) {
        while (access_running && access_pending.len == 0)
            pthread_cond_wait(&access_cv, &access_mu);
        struct buf t = access_pending; /* swap: workers keep appending to an empty buffer */
        access_pending = batch;
        batch = t;
        unsigned long long dropped = access_dropped;
        access_dropped = 0;
        int running = access_running;
        pthread_mutex_unlock(&access_mu);
        if (batch.len)
            write_all(access_fd, batch.data, batch.len);
        buf_reset(&batch);
        if (dropped)
            log_warn("access log: %llu lines dropped because the writer could not keep up "
                     "(more than %d bytes pending)",
                     dropped, LOG_ACCESS_MAX_PENDING);
        pthread_mutex_lock(&access_mu);
        if (!running && access_pending.len == 0)
            break;
    }
    pthread_mutex_unlock(&access_mu);
    buf_free(&batch);
    return NULL;
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
    access_running = 1;
    if (pthread_create(&access_thread, NULL, access_writer, NULL) != 0) {
        access_running = 0;
        log_access_close();
        return ERR_IO;
    }
    return 0;
}

void log_access_close(void)
{
    if (access_running) {
        pthread_mutex_lock(&access_mu);
        access_running = 0;
        pthread_cond_signal(&access_cv);
        pthread_mutex_unlock(&access_mu);
        pthread_join(access_thread, NULL); /* it writes what is pending first */
    }
    buf_free(&access_pending);
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
    pthread_mutex_lock(&access_mu);
    if (access_pending.len + len + 1 > LOG_ACCESS_MAX_PENDING) {
        access_dropped++;
    } else {
        buf_append(&access_pending, line, len);
        buf_putc(&access_pending, '\n');
    }
    pthread_cond_signal(&access_cv);
    pthread_mutex_unlock(&access_mu);
}
