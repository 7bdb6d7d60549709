/* tollgate: the command line. Commands are declared as data in one table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "base/str.h"
#include "gateway/config.h"
#include "providers/provider.h"

#define TOLLGATE_VERSION "0.1.0"

struct command {
    const char *name;
    const char *usage;
    const char *help;
    int (*run)(int argc, char **argv);
};

static int cmd_help(int argc, char **argv);

/* Reads the value of an option that takes one ("-c FILE"); returns NULL and complains if missing. */
static const char *opt_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "tollgate: option %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

static int parse_port(const char *s, int *out)
{
    unsigned long long v;
    if (str_to_u64(str_c(s), &v) != 0 || v == 0 || v > 65535) {
        fprintf(stderr, "tollgate: --port expects 1..65535, got '%s'\n", s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int cmd_serve(int argc, char **argv)
{
    struct app_opts o = {0};
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
            if (!(v = opt_value(argc, argv, &i)))
                return 2;
            o.config_path = v;
        } else if (strcmp(a, "--host") == 0) {
            if (!(v = opt_value(argc, argv, &i)))
                return 2;
            o.host = v;
        } else if (strcmp(a, "--port") == 0 || strcmp(a, "-p") == 0) {
            if (!(v = opt_value(argc, argv, &i)) || parse_port(v, &o.port) != 0)
                return 2;
        } else if (strcmp(a, "--workers") == 0) {
            unsigned long long n;
            if (!(v = opt_value(argc, argv, &i)))
                return 2;
            if (str_to_u64(str_c(v), &n) != 0 || n > CONFIG_MAX_WORKERS) {
                fprintf(stderr, "tollgate: --workers expects 0..%d (0 = one per core), got '%s'\n",
                        CONFIG_MAX_WORKERS, v);
                return 2;
            }
            o.workers = (int)n;
        } else {
            fprintf(stderr, "tollgate serve: unknown option '%s' (see tollgate help)\n", a);
            return 2;
        }
    }
    return app_serve(&o);
}

static int cmd_check(int argc, char **argv)
{
    const char *path = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) {
            if (!(path = opt_value(argc, argv, &i)))
                return 2;
        } else if (!path && argv[i][0] != '-') {
            path = argv[i];
        } else {
            fprintf(stderr, "tollgate check: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: tollgate check -c FILE\n");
        return 2;
    }
    struct buf errors = BUF_INIT, warnings = BUF_INIT;
    struct config *c = NULL;
    int rc = config_load_file(path, &c, &errors, &warnings);
    if (warnings.len)
        fputs(warnings.data, stderr);
    if (rc != 0) {
        fputs(errors.data ? errors.data : "error\n", stderr);
        fprintf(stderr, "%s: invalid\n", path);
        rc = 1;
        goto out;
    }
    size_t deps = 0;
    for (size_t i = 0; i < c->n_models; i++) {
        for (size_t j = 0; j < c->models[i].n_deployments; j++) {
            const struct deployment *d = &c->models[i].deployments[j];
            deps++;
            if (!provider_find(d->provider))
                fprintf(stderr,
                        "%s: warning: deployment %s uses provider '%s', which this build does not "
                        "support yet (supported: %s); requests routed to it are refused\n",
                        path, d->id, d->provider, provider_names());
        }
    }
    printf("%s: ok (%zu models, %zu deployments, listen %s:%d)\n", path, c->n_models, deps,
           c->host, c->port);
    rc = 0;
out:
    config_unref(c);
    buf_free(&errors);
    buf_free(&warnings);
    return rc;
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("tollgate %s\n", TOLLGATE_VERSION);
    printf("providers: %s\n", provider_names());
    return 0;
}

static const struct command commands[] = {
    {"serve", "serve [-c FILE] [--host H] [--port P] [--workers N]",
     "run the gateway (no -c: the embedded default, no models)", cmd_serve},
    {"check", "check -c FILE", "validate a config file; errors name line and column", cmd_check},
    {"version", "version", "print the version and the supported providers", cmd_version},
    {"help", "help", "this list", cmd_help},
};

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("usage: tollgate COMMAND [options]\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        printf("  tollgate %-52s %s\n", commands[i].usage, commands[i].help);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cmd_help(0, NULL);
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0)
        name = "help";
    if (strcmp(name, "--version") == 0)
        name = "version";
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(commands[i].name, name) == 0)
            return commands[i].run(argc - 2, argv + 2);
    fprintf(stderr, "tollgate: unknown command '%s'\n\n", argv[1]);
    cmd_help(0, NULL);
    return 2;
}
