#ifndef TG_CONFIG_H
#define TG_CONFIG_H
/* The configuration: one YAML file, loaded with libfyaml into an immutable struct config.
 *
 * Two spellings are accepted in one file and merged: Tollgate's native one (docs/config.md) and
 * LiteLLM's `model_list` / `general_settings` unchanged, so users can bring their existing file.
 * `${NAME}` and `${NAME:-default}` interpolate environment variables in any scalar;
 * `os.environ/NAME` (LiteLLM) does so for a whole value.
 *
 * A deployment whose api_key names an environment variable that is not set is disabled with a
 * warning, not an error: that is how the quickstart config enables only the providers whose keys are
 * in the environment. A model group left with no enabled deployment is dropped with a warning.
 *
 * A struct config is reference counted so a reload (SIGHUP) can swap it while requests still hold
 * the old one: config_ref/config_unref are atomic.
 */
#include <stddef.h>

#include "base/buf.h"
#include "base/limits.h"
#include "canon/deployment.h"

struct model_group {
    char *name;          /* the alias clients send as "model" */
    struct deployment *deployments;
    size_t n_deployments;
};

struct config {
    char *path;          /* the file it came from, or NULL */
    char *host;          /* default "127.0.0.1" */
    int port;            /* default 4000 */
    int workers;         /* 0 = one per core */
    char *master_key;    /* NULL = no auth on /v1 (a warning is logged) */
    char *access_log;    /* "stderr" (default), "stdout", "off", or a path */
    char *log_level;     /* "debug", "info" (default), "warn", "error" */
    struct limits limits;
    struct model_group *models;
    size_t n_models;
    int refs;            /* atomic */
};

/* Parses YAML text. On success returns 0 and sets *out (refs = 1). On failure returns ERR_PARSE or
 * ERR_INVAL and appends one line per problem to errors as "NAME:LINE:COL: message" (NAME is name or
 * "<config>"). Warnings (disabled deployments) go to warnings the same way when it is non-NULL. */
int config_load_string(const char *text, size_t len, const char *name, struct config **out,
                       struct buf *errors, struct buf *warnings);
/* Reads and parses a file; like config_load_string, and an unreadable file is an error line too. */
int config_load_file(const char *path, struct config **out, struct buf *errors,
                     struct buf *warnings);
/* Returns a config with no models and default settings (the embedded default). */
struct config *config_new_default(void);

struct config *config_ref(struct config *c);
/* Drops a reference and frees at zero; config_unref(NULL) is a no-op. */
void config_unref(struct config *c);

/* Returns the model group named name (exact match), or NULL. */
const struct model_group *config_find_model(const struct config *c, const char *name, size_t len);

#endif
