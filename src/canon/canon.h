#ifndef TG_CANON_H
#define TG_CANON_H
/* The neutral types that the API surfaces, the gateway and the providers all speak.
 *
 * The request itself stays an OpenAI-format JSON object (json-c) on the fast path: an OpenAI-format
 * request to an OpenAI-compatible upstream is forwarded with minimal rewriting. Providers with other
 * wire formats translate from and to that shape. What every layer needs beyond the JSON lives here:
 * the operation, usage in all its kinds, and finish reasons. */
#include <stdint.h>

enum canon_op {
    CANON_CHAT,       /* /v1/chat/completions */
    CANON_COMPLETION, /* /v1/completions */
    CANON_EMBEDDING,  /* /v1/embeddings */
};

/* Token usage as the provider reported it (or as we counted it). -1 = not reported. */
struct canon_usage {
    int64_t input;       /* prompt tokens, including cached ones (OpenAI's prompt_tokens) */
    int64_t cached_read; /* of input, read from the provider's prompt cache */
    int64_t cache_write; /* of input, written to the provider's prompt cache */
    int64_t output;      /* completion tokens, including reasoning ones */
    int64_t reasoning;   /* of output, spent on reasoning */
};

static inline void canon_usage_init(struct canon_usage *u)
{
    u->input = u->cached_read = u->cache_write = u->output = u->reasoning = -1;
}

/* Returns the path of an operation ("/chat/completions", ...), relative to an OpenAI api_base. */
const char *canon_op_path(enum canon_op op);
/* Returns the span/metric operation name of the GenAI conventions ("chat", "text_completion",
 * "embeddings"). */
const char *canon_op_name(enum canon_op op);

#endif
