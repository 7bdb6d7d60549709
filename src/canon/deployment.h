#ifndef TG_DEPLOYMENT_H
#define TG_DEPLOYMENT_H
/* One deployment: a model served by one provider at one address, as the config describes it. It lives
 * in canon because both the gateway (which picks it) and the providers (which build requests for it)
 * read it; the config module (gateway/config.c) fills it. */

/* The Azure OpenAI data-plane inference api-version used when a deployment names none: the latest
 * GA version of the /openai/deployments/{name}/... API. */
#define DEPLOYMENT_AZURE_API_VERSION "2024-10-21"

struct deployment {
    char *id;            /* unique: the `id` field, or "<group>/<index>" */
    char *provider;      /* "openai" or "azure" (later: anthropic, bedrock, gemini) */
    char *model;         /* the model name sent upstream */
    char *api_base;      /* e.g. "https://api.openai.com/v1" (no trailing slash) */
    char *api_key;       /* the resolved secret, or NULL; never log it */
    char *api_version;   /* azure: the api-version query value (DEPLOYMENT_AZURE_API_VERSION when
                          * the config names none); other providers: NULL unless given */
    char **headers;      /* extra upstream headers "Name: value", NULL-terminated, or NULL */
    double weight;       /* > 0; default 1 */
    unsigned rpm, tpm;   /* 0 = unlimited (enforced by the metering issue) */
    unsigned timeout_ms; /* total upstream timeout; 0 = limits.total_timeout_ms */
    unsigned stream_idle_timeout_ms; /* 0 = limits.stream_idle_timeout_ms */
    unsigned connect_timeout_ms;     /* 0 = limits.connect_timeout_ms */
    int tls_insecure;    /* 1 = skip TLS verification (explicit opt-in) */
    char *model_info;    /* model_info as JSON text, or NULL */
    /* Request shaping (docs/providers.md), applied in this order to the OpenAI-format body: */
    char *param_defaults;   /* JSON object: members set when the request lacks them, or NULL */
    char *param_overrides;  /* JSON object: members always set, or NULL */
    char **param_renames;   /* "from", "to", ... pairs, NULL-terminated, or NULL */
    char **drop_params;     /* member names removed, NULL-terminated, or NULL */
    int drop_unsupported;   /* also drop what the provider's table says it does not accept */
};

#endif
