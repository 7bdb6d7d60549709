/* Request shaping per deployment: the deployment's defaults, overrides, renamed and dropped
 * parameters, applied to the OpenAI-format body before the provider builds the upstream request.
 *
 * Order: defaults (set when the request lacks the member), overrides (always set), renames (so a
 * default or override given under the client-facing name is renamed too), drops (the listed names,
 * and with drop_params: true what the provider's table says it does not accept). The config refuses
 * shaping of the members the gateway itself decides (model, stream, messages, ...). */
#include "gateway/gateway.h"

#include <string.h>

#include "canon/json.h"
#include "providers/provider.h"

/* Sets the members of the JSON object text obj on body: all of them, or only absent ones. */
static void apply_members(json_object *body, const char *obj, int only_absent)
{
    if (!obj)
        return;
    json_object *o = canon_json_parse(obj, strlen(obj), NULL, NULL);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return;
    }
    json_object_object_foreach(o, key, val)
    {
        if (only_absent && json_object_object_get_ex(body, key, NULL))
            continue;
        json_object_object_add(body, key, json_object_get(val));
    }
    json_object_put(o);
}

void gw_shape_request(const struct deployment *d, const struct provider *p, json_object *body)
{
    apply_members(body, d->param_defaults, 1);
    apply_members(body, d->param_overrides, 0);
    for (char **r = d->param_renames; r && r[0] && r[1]; r += 2) {
        json_object *v;
        if (!json_object_object_get_ex(body, r[0], &v))
            continue;
        json_object_object_add(body, r[1], json_object_get(v));
        json_object_object_del(body, r[0]);
    }
    for (char **n = d->drop_params; n && *n; n++)
        json_object_object_del(body, *n);
    if (d->drop_unsupported && p && p->unsupported_params)
        for (const char *const *n = p->unsupported_params; *n; n++)
            json_object_object_del(body, *n);
}
