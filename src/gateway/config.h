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

/* Caps of the loader (docs/config.md lists them with the client-reachable limits). */
#define CONFIG_MAX_FILE_BYTES (16 * 1024 * 1024) /* a larger file is refused (ERR_TOO_LARGE) */
#define CONFIG_MAX_MODEL_INFO_BYTES 65536        /* one model_info, as JSON */
#define CONFIG_MAX_ERRORS 50                     /* error lines listed before "more than N" */
#define CONFIG_MAX_WORKERS 1024                  /* server.workers */

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
    char **forward_headers; /* client headers passed upstream: lowercase names, a trailing '*'
                               matches a prefix; NULL-terminated, or NULL for none */
    struct limits limits;
    struct model_group *models;
    size_t n_models;
    int refs;            /* atomic */
};

/* Parses YAML text. On success returns 0 and sets *out (refs = 1). On failure returns ERR_PARSE (YAML
 * syntax) or ERR_INVAL (anything else), sets *out to NULL, and appends one line per problem to
 * errors as "NAME:LINE:COL: path: message" (NAME is name or "<config>"; a problem without a place
 * has no LINE:COL); every problem found is listed, up to CONFIG_MAX_ERRORS. Warnings go to warnings
 * the same way when it is non-NULL: disabled deployments, dropped model groups, ignored LiteLLM
 * keys and sections, and a missing master_key. errors may be NULL.
 *
 * What the deployments hold: provider is "openai" for the whole OpenAI-compatible family (openai/,
 * hosted_vllm/, openai_compatible/, groq/, together_ai/, openrouter/, deepseek/, mistral/,
 * fireworks_ai/, ollama/, ollama_chat/ model prefixes), and otherwise the prefix or `provider` as
 * written (anthropic, azure, bedrock, ...: the caller decides whether it can serve it). api_base is
 * never NULL for "openai" (a missing address without a default is an error) and may be NULL for
 * other providers, whose adapter knows its default. Only enabled deployments appear; a model group
 * has at least one. */
int config_load_string(const char *text, size_t len, const char *name, struct config **out,
                       struct buf *errors, struct buf *warnings);
/* Reads and parses a file; like config_load_string, and sets (*out)->path. An unreadable file is an
 * error line too and returns ERR_IO; a file over CONFIG_MAX_FILE_BYTES returns ERR_TOO_LARGE. */
int config_load_file(const char *path, struct config **out, struct buf *errors,
                     struct buf *warnings);
/* Returns a config with no models and default settings (the embedded default). */
struct config *config_new_default(void);

struct config *config_ref(struct config *c);
/* Drops a reference and frees at zero; config_unref(NULL) is a no-op. */
void config_unref(struct config *c);

/* Returns the model group named name (exact match, name need not be NUL-terminated), or NULL. */
const struct model_group *config_find_model(const struct config *c, const char *name, size_t len);

#endif
