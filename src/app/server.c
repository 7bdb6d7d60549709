/* The server: N worker threads, each with its own libuv loop, SO_REUSEPORT listener, upstream client
 * and config reference; the main thread only handles signals.
 *
 * Phases of a run:
 *   start     load the config, start the workers, wait until every one listens, mark ready
 *   serve     workers answer requests; nothing is shared between them on the request path
 *   SIGHUP    the main thread loads the file again; a bad file is refused (errors logged, the old
 *             config stays); a good one is handed to each worker through its uv_async, and the worker
 *             swaps its reference between requests. Requests in flight keep the config they started
 *             with. Listener settings (host, port, workers) need a restart and say so.
 *   SIGTERM   not ready any more (/readyz 503); every worker stops accepting, closes idle
 *             connections, lets requests and streams in flight finish until limits.shutdown_timeout_ms,
 *             then closes the rest; a second SIGTERM/SIGINT cuts the wait short.
 */
#include <signal.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "app/app.h"
#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "gateway/gateway.h"

struct app;

struct worker {
    struct gw_worker gw;
    struct app *app;
    uv_loop_t loop;
    uv_thread_t thread;
    uv_async_t wake;
    uv_timer_t drain;
    struct http_server *http;
    struct limits limits;     /* the live copy the HTTP server reads; changed only on this thread */
    struct config *pending;   /* a new config handed over by the main thread (under app->lock) */
    int stop;                 /* 1 = drain, 2 = drain now (under app->lock) */
    int stopping;
    uint64_t deadline_ns;
    int listen_err;
};

struct app {
    struct app_opts opts;
    struct config *cfg;       /* the main thread's reference on the current config */
    struct worker *workers;
    int n_workers;
    int ready;                /* read by /readyz with __atomic_load_n */
    int started;              /* workers that finished start-up (under lock) */
    uv_mutex_t lock;
    uv_cond_t cond;
    uv_signal_t sigterm, sigint, sighup;
    uv_timer_t drain_delay;   /* SIGTERM with limits.drain_delay_ms: not ready, still serving */
    uv_async_t exited;        /* a worker's loop has ended */
    int n_exited;             /* under lock */
    int signals_on;
    int shutting_down;
    char *host;
    int port;
};

static void worker_close_cb(uv_handle_t *h)
{
    (void)h;
}

/* Closes what is left once the drain is over; the loop ends when the handles have closed. */
static void worker_shutdown(struct worker *w)
{
    uv_timer_stop(&w->drain);
    uv_close((uv_handle_t *)&w->drain, worker_close_cb);
    uv_close((uv_handle_t *)&w->wake, worker_close_cb);
    if (w->http) {
        http_server_close(w->http);
        w->http = NULL;
    }
    upstream_free(w->gw.up);
    w->gw.up = NULL;
    gw_worker_close(&w->gw);
}

static void drain_check(uv_timer_t *t)
{
    struct worker *w = t->data;
    int force;
    uv_mutex_lock(&w->app->lock);
    force = w->stop >= 2;
    uv_mutex_unlock(&w->app->lock);
    size_t left = http_server_inflight(w->http);
    if (left == 0 || force || time_now_ns() >= w->deadline_ns) {
        if (left)
            log_warn("worker %d: shutdown deadline reached with %zu requests in flight; closing them",
                     w->gw.id, left);
        worker_shutdown(w);
    }
}

static void worker_apply_config(struct worker *w, struct config *c)
{
    config_unref(w->gw.cfg);
    w->gw.cfg = c;
    w->limits = c->limits;
}

static void on_wake(uv_async_t *a)
{
    struct worker *w = a->data;
    uv_mutex_lock(&w->app->lock);
    struct config *c = w->pending;
    w->pending = NULL;
    int stop = w->stop;
    uv_mutex_unlock(&w->app->lock);
    if (c)
        worker_apply_config(w, c);
    if (stop && !w->stopping) {
        w->stopping = 1;
        w->deadline_ns = time_now_ns() + (uint64_t)w->limits.shutdown_timeout_ms * 1000000ull;
        http_server_stop_accepting(w->http);
        uv_timer_start(&w->drain, drain_check, 0, 20);
    }
}

static void worker_main(void *arg)
{
    struct worker *w = arg;
    struct app *app = w->app;
    struct http_server_opts ho = {
        .host = app->host,
        .port = app->port,
        .reuseport = 1,
        .limits = &w->limits,
        .handler = app_route,
        .ud = &w->gw,
    };
    uv_loop_init(&w->loop);
    w->gw.loop = &w->loop;
    w->gw.up = upstream_new(&w->loop);
    w->gw.ready = &app->ready;
    gw_worker_init(&w->gw);
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->drain);
    w->drain.data = w;
    w->listen_err = http_server_start(&w->loop, &ho, &w->http);

    uv_mutex_lock(&app->lock);
    app->started++;
    uv_cond_signal(&app->cond);
    uv_mutex_unlock(&app->lock);

    if (w->listen_err != 0) {
        w->http = NULL;
        worker_shutdown(w);
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);
    config_unref(w->gw.cfg);
    w->gw.cfg = NULL;
    uv_mutex_lock(&app->lock);
    config_unref(w->pending);
    w->pending = NULL;
    uv_mutex_unlock(&app->lock);
    if (uv_loop_close(&w->loop) != 0)
        log_warn("worker %d: loop closed with handles still open", w->gw.id);
    uv_mutex_lock(&app->lock);
    app->n_exited++;
    uv_mutex_unlock(&app->lock);
    uv_async_send(&app->exited);
}

/* Runs on the main loop when a worker ended; once all have, the main loop's handles close and
 * app_serve returns. */
static void on_worker_exited(uv_async_t *a)
{
    struct app *app = a->data;
    uv_mutex_lock(&app->lock);
    int all = app->n_exited == app->n_workers;
    uv_mutex_unlock(&app->lock);
    if (!all)
        return;
    uv_close((uv_handle_t *)&app->exited, NULL);
    if (app->signals_on) {
        uv_handle_t *hs[] = {(uv_handle_t *)&app->sigterm, (uv_handle_t *)&app->sigint,
                             (uv_handle_t *)&app->sighup, (uv_handle_t *)&app->drain_delay};
        for (size_t i = 0; i < 4; i++)
            if (!uv_is_closing(hs[i]))
                uv_close(hs[i], NULL);
    }
}

static void app_stop(struct app *app, int force)
{
    __atomic_store_n(&app->ready, 0, __ATOMIC_RELEASE);
    uv_mutex_lock(&app->lock);
    for (int i = 0; i < app->n_workers; i++) {
        app->workers[i].stop = force ? 2 : 1;
        uv_async_send(&app->workers[i].wake);
    }
    uv_mutex_unlock(&app->lock);
    app->shutting_down = 1;
}

static void on_drain_delay(uv_timer_t *t)
{
    struct app *app = t->data;
    log_info("drain delay over: shutting down gracefully (waiting up to %zu ms for requests in "
             "flight)",
             app->cfg->limits.shutdown_timeout_ms);
    app_stop(app, 0);
}

static void on_stop_signal(uv_signal_t *s, int signum)
{
    struct app *app = s->data;
    if (app->shutting_down) {
        log_warn("second %s: closing open requests now", strsignal(signum));
        uv_timer_stop(&app->drain_delay);
        app_stop(app, 1);
        return;
    }
    app->shutting_down = 1;
    size_t delay = app->cfg->limits.drain_delay_ms;
    if (delay) {
        /* Load balancers see /readyz fail and stop sending while every connection still works;
         * only then does the drain begin. */
        __atomic_store_n(&app->ready, 0, __ATOMIC_RELEASE);
        log_info("%s: /readyz now answers 503; draining in %zu ms (limits.drain_delay_ms)",
                 strsignal(signum), delay);
        uv_timer_start(&app->drain_delay, on_drain_delay, delay, 0);
        return;
    }
    log_info("%s: shutting down gracefully (waiting up to %zu ms for requests in flight)",
             strsignal(signum), app->cfg->limits.shutdown_timeout_ms);
    app_stop(app, 0);
}

static void log_lines(enum log_level lvl, const struct buf *b)
{
    if (!b->len)
        return;
    const char *p = b->data;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        if (n)
            log_msg(lvl, "%.*s", (int)n, p);
        p += n + (nl ? 1 : 0);
    }
}

static enum log_level parse_level(const char *s)
{
    if (s && strcmp(s, "debug") == 0)
        return LOG_DEBUG;
    if (s && strcmp(s, "warn") == 0)
        return LOG_WARN;
    if (s && strcmp(s, "error") == 0)
        return LOG_ERROR;
    return LOG_INFO;
}

static void on_sighup(uv_signal_t *s, int signum)
{
    struct app *app = s->data;
    struct buf errors = BUF_INIT, warnings = BUF_INIT;
    struct config *c = NULL;
    (void)signum;
    if (app->shutting_down)
        return;
    if (!app->opts.config_path) {
        log_warn("SIGHUP: no config file to reload (started on the embedded default)");
        return;
    }
    log_access_reopen(); /* log rotation works even when the new file is refused */
    if (config_load_file(app->opts.config_path, &c, &errors, &warnings) != 0) {
        log_lines(LOG_ERROR, &errors);
        log_error("SIGHUP: %s has errors; the running config stays", app->opts.config_path);
        goto out;
    }
    log_lines(LOG_WARN, &warnings);
    if (strcmp(c->host, app->cfg->host) != 0 || c->port != app->cfg->port ||
        c->workers != app->cfg->workers)
        log_warn("SIGHUP: server.host/port/workers changed; they take effect at the next restart");
    if (strcmp(c->access_log, app->cfg->access_log) != 0)
        log_warn("SIGHUP: server.access_log changed; it takes effect at the next restart");
    log_set_level(parse_level(c->log_level));
    uv_mutex_lock(&app->lock);
    for (int i = 0; i < app->n_workers; i++) {
        struct worker *w = &app->workers[i];
        config_unref(w->pending);
        w->pending = config_ref(c);
        uv_async_send(&w->wake);
    }
    uv_mutex_unlock(&app->lock);
    config_unref(app->cfg);
    app->cfg = c;
    c = NULL;
    log_info("SIGHUP: configuration reloaded from %s (%zu models)", app->opts.config_path,
             app->cfg->n_models);
out:
    config_unref(c);
    buf_free(&errors);
    buf_free(&warnings);
}

/* Each open stream holds two descriptors (client and upstream); lift the soft limit to the hard one
 * so a default of 1024 does not cap the gateway at a few hundred streams. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < 4096)
        log_warn("open files limit is %llu: at most about %llu concurrent streams; raise it with "
                 "ulimit -n",
                 (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_cur / 2);
}

int app_serve(const struct app_opts *opts)
{
    struct app app;
    struct buf errors = BUF_INIT, warnings = BUF_INIT;
    int rc = 1;
    memset(&app, 0, sizeof app);
    app.opts = *opts;
    if (opts->config_path) {
        if (config_load_file(opts->config_path, &app.cfg, &errors, &warnings) != 0) {
            log_lines(LOG_ERROR, &errors);
            log_error("%s has errors; fix them (tollgate check -c %s lists them)",
                      opts->config_path, opts->config_path);
            goto out;
        }
    } else {
        app.cfg = config_new_default();
        log_warn("no config file given (-c FILE): serving the embedded default with no models");
    }
    log_set_level(parse_level(app.cfg->log_level));
    log_lines(LOG_WARN, &warnings);
    if (log_access_open(app.cfg->access_log) != 0) {
        log_error("cannot open the access log %s", app.cfg->access_log);
        goto out;
    }
    app.host = xstrdup(opts->host ? opts->host : app.cfg->host);
    app.port = opts->port ? opts->port : app.cfg->port;
    app.n_workers = opts->workers ? opts->workers : app.cfg->workers;
    if (app.n_workers <= 0)
        app.n_workers = (int)uv_available_parallelism();
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    uv_mutex_init(&app.lock);
    uv_cond_init(&app.cond);
    uv_loop_t *loop = uv_default_loop();
    uv_async_init(loop, &app.exited, on_worker_exited);
    app.exited.data = &app;
    app.workers = xcalloc((size_t)app.n_workers, sizeof *app.workers);
    for (int i = 0; i < app.n_workers; i++) {
        struct worker *w = &app.workers[i];
        w->app = &app;
        w->gw.id = i;
        w->gw.cfg = config_ref(app.cfg);
        w->limits = app.cfg->limits;
        uv_thread_create(&w->thread, worker_main, w);
    }
    uv_mutex_lock(&app.lock);
    while (app.started < app.n_workers)
        uv_cond_wait(&app.cond, &app.lock);
    uv_mutex_unlock(&app.lock);

    int failed = 0;
    for (int i = 0; i < app.n_workers; i++)
        if (app.workers[i].listen_err) {
            if (!failed)
                log_error("cannot listen on %s:%d: %s", app.host, app.port,
                          uv_strerror(app.workers[i].listen_err));
            failed = 1;
        }
    if (failed) {
        app_stop(&app, 1);
    } else {
        uv_signal_init(loop, &app.sigterm);
        uv_signal_init(loop, &app.sigint);
        uv_signal_init(loop, &app.sighup);
        uv_timer_init(loop, &app.drain_delay);
        app.sigterm.data = app.sigint.data = app.sighup.data = app.drain_delay.data = &app;
        uv_signal_start(&app.sigterm, on_stop_signal, SIGTERM);
        uv_signal_start(&app.sigint, on_stop_signal, SIGINT);
        uv_signal_start(&app.sighup, on_sighup, SIGHUP);
        app.signals_on = 1;
        __atomic_store_n(&app.ready, 1, __ATOMIC_RELEASE);
        log_info("tollgate listening on http://%s:%d with %d workers and %zu models", app.host,
                 app.port, app.n_workers, app.cfg->n_models);
    }
    /* Runs until every worker has exited (on_worker_exited closes the main loop's handles). */
    uv_run(loop, UV_RUN_DEFAULT);
    for (int i = 0; i < app.n_workers; i++)
        uv_thread_join(&app.workers[i].thread);
    uv_loop_close(loop);
    uv_mutex_destroy(&app.lock);
    uv_cond_destroy(&app.cond);
    free(app.workers);
    free(app.host);
    rc = failed;
    if (!failed)
        log_info("tollgate stopped");
out:
    log_access_close();
    config_unref(app.cfg);
    buf_free(&errors);
    buf_free(&warnings);
    return rc;
}
