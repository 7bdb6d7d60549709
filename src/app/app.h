#ifndef TG_APP_H
#define TG_APP_H
/* The server: worker threads, the route table, start-up, reload and shutdown. */
#include "net/http.h"

struct app_opts {
    const char *config_path; /* NULL = the embedded default */
    const char *host;        /* NULL = from the config */
    int port;                /* 0 = from the config */
    int workers;             /* 0 = from the config */
};

/* Loads the config, starts the workers and runs until SIGTERM/SIGINT and a graceful drain.
 * Returns the process exit code. */
int app_serve(const struct app_opts *opts);

/* The HTTP handler of every worker (app/routes.c); ud is the worker's struct gw_worker. */
void app_route(struct http_request *req, void *ud);

#endif
