/* The azure provider: Azure OpenAI, which speaks the OpenAI wire format at another address and
 * with another credential.
 *
 * 1. The URL names the Azure deployment, not a model:
 *    {api_base}/openai/deployments/{model}{op path}?api-version={api_version}. The deployment's
 *    `model` is the Azure deployment name. The name and the version are percent-encoded, so a
 *    stray character cannot change the path or the query.
 * 2. The key goes in `api-key: <key>`, never in Authorization.
 * 3. Body, responses, streams and errors are the openai provider's (prov_openai_*). Azure ignores
 *    "model" in the body; it is still set, as for openai. Azure's extra members
 *    (prompt_filter_results, content_filter_results) pass through untouched, including the stream
 *    chunks with empty "choices" that carry only prompt_filter_results. Its content-filter 400 is
 *    an OpenAI-shaped error object and reaches the client as it is, with its status. */
#include "base/err.h"
#include "providers/provider.h"

/* Appends the string s, percent-encoding all but RFC 3986's unreserved characters. */
static void put_escaped(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            buf_putc(b, (char)c);
        } else {
            buf_putc(b, '%');
            buf_putc(b, hex[c >> 4]);
            buf_putc(b, hex[c & 15]);
        }
    }
}

static int azure_build_request(const struct prov_call *call, struct prov_http *out,
                               struct buf *err)
{
    const struct deployment *dep = call->dep;
    if (!dep->api_base || !dep->api_base[0]) {
        /* the config loader refuses this; a deployment built another way still gets a clear 400 */
        buf_printf(err, "deployment %s: provider azure needs an api_base "
                        "(https://RESOURCE.openai.azure.com)", dep->id ? dep->id : "?");
        return ERR_INVAL;
    }
    buf_puts(&out->url, dep->api_base);
    buf_puts(&out->url, "/openai/deployments/");
    put_escaped(&out->url, dep->model);
    buf_puts(&out->url, canon_op_path(call->op));
    buf_puts(&out->url, "?api-version=");
    put_escaped(&out->url, dep->api_version ? dep->api_version : DEPLOYMENT_AZURE_API_VERSION);

    prov_openai_body(call, out);
    if (dep->api_key && dep->api_key[0])
        prov_http_header(out, "api-key: %s", dep->api_key);
    prov_http_tail_headers(call, out);
    return 0;
}

const struct provider provider_azure = {
    .name = "azure",
    .build_request = azure_build_request,
    .parse_response = prov_openai_parse_response,
    .stream_init = NULL,
    .stream_free = NULL,
    .parse_stream_event = prov_openai_parse_stream_event,
    .map_error = prov_openai_map_error,
};
