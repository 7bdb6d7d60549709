/* azure.c: Azure OpenAI's paths for mockllm, answered by the openai.c handlers.
 *
 * 1. POST /openai/deployments/{name}/chat/completions, /completions and /embeddings behave as the
 *    /v1/ routes, with the deployment name where OpenAI has "model": the request's "model" member,
 *    if any, is still echoed (Azure echoes the underlying model; the mock has none).
 * 2. The api-version query parameter is required: without it the answer is 400 with Azure's own
 *    error shape {"error":{"code","message"}} (real Azure answers 404 "Resource not found").
 * 3. Answers carry prompt_filter_results, as Azure's do: a member of a chat answer, and in a chat
 *    stream a first chunk with empty "choices" before any delta.
 * 4. x-mock-content-filter (any OpenAI-format chat or completions route): 1 refuses the prompt
 *    with Azure's content-filter 400, "completion" answers with finish_reason "content_filter". */
#include <string.h>

#include "mock.h"

#define AZURE_SAFE(name) "\"" name "\":{\"filtered\":false,\"severity\":\"safe\"}"
#define AZURE_SAFE_ALL                                                                             \
    "{" AZURE_SAFE("hate") "," AZURE_SAFE("self_harm") "," AZURE_SAFE("sexual") "," AZURE_SAFE(    \
        "violence") "}"

static const char azure_filter_error[] =
    "{\"error\":{\"message\":\"The response was filtered due to the prompt triggering Azure "
    "OpenAI's content management policy. Please modify your prompt and retry. To learn more about "
    "our content filtering policies please read our documentation: "
    "https://go.microsoft.com/fwlink/?linkid=2198766\",\"type\":null,\"param\":\"prompt\","
    "\"code\":\"content_filter\",\"status\":400,\"innererror\":{\"code\":"
    "\"ResponsibleAIPolicyViolation\",\"content_filter_result\":{" AZURE_SAFE("hate") ","
    "\"jailbreak\":{\"filtered\":false,\"detected\":false}," AZURE_SAFE("self_harm") ","
    AZURE_SAFE("sexual") ",\"violence\":{\"filtered\":true,\"severity\":\"high\"}}}}}";

void mock_azure_filter_error(struct mock_reply *r, const struct mock_req *q)
{
    mock_reply_full(r, q, 400, "application/json", azure_filter_error,
                    sizeof azure_filter_error - 1, NULL);
}

void mock_azure_put_prompt_filter(struct buf *b)
{
    MOCK_LIT(b, "\"prompt_filter_results\":[{\"prompt_index\":0,\"content_filter_results\":"
                AZURE_SAFE_ALL "}]");
}

void mock_azure_prompt_filter_chunk(struct buf *ev, int include_usage)
{
    buf_reset(ev);
    MOCK_LIT(ev, "data: {\"choices\":[],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\",");
    mock_azure_put_prompt_filter(ev);
    if (include_usage)
        MOCK_LIT(ev, ",\"usage\":null");
    MOCK_LIT(ev, "}\n\n");
}

/* Azure's error shape for the gateway-level errors: {"error":{"code","message"}}. */
static void azure_error(struct mock_reply *r, const struct mock_req *q, int status,
                        const char *code, const char *message)
{
    struct buf *b = q->tmp;
    buf_reset(b);
    MOCK_LIT(b, "{\"error\":{\"code\":");
    mock_json_put_str(b, code, strlen(code));
    MOCK_LIT(b, ",\"message\":");
    mock_json_put_str(b, message, strlen(message));
    MOCK_LIT(b, "}}");
    mock_reply_full(r, q, status, "application/json", b->data, b->len, NULL);
}

/* Returns 1 when the query string of q's URL has a non-empty api-version. */
static int has_api_version(const struct mock_req *q)
{
    struct str query = {q->url.p + q->path.len, q->url.len - q->path.len};
    for (size_t i = 0; i < query.len; i++) {
        if (query.p[i] != '?' && query.p[i] != '&')
            continue;
        static const char key[] = "api-version=";
        size_t k = sizeof key - 1, at = i + 1;
        if (query.len - at > k && memcmp(query.p + at, key, k) == 0 && query.p[at + k] != '&')
            return 1;
    }
    return 0;
}

void mock_azure(struct mock_req *q, struct mock_reply *r)
{
    static const struct {
        const char *suffix;
        void (*fn)(struct mock_req *q, struct mock_reply *r);
    } ops[] = {
        {"/chat/completions", mock_openai_chat},
        {"/completions", mock_openai_completions},
        {"/embeddings", mock_openai_embeddings},
    };
    /* after "/openai/deployments/": "{name}{suffix}" */
    struct str rest = {q->path.p + 20, q->path.len - 20};
    const char *slash = memchr(rest.p, '/', rest.len);
    if (slash && slash > rest.p) {
        struct str suffix = {slash, rest.len - (size_t)(slash - rest.p)};
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            if (!str_eq(suffix, str_c(ops[i].suffix)))
                continue;
            if (!has_api_version(q)) {
                azure_error(r, q, 400, "BadRequest",
                            "Missing required query parameter 'api-version'.");
                return;
            }
            q->azure = 1;
            ops[i].fn(q, r);
            return;
        }
    }
    azure_error(r, q, 404, "404", "Resource not found");
}
