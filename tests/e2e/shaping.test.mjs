// Request shaping per deployment: defaults, overrides, renamed and dropped parameters, checked in the
// body the upstream received.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startMock, startGateway, stop } from './harness.mjs';

let mock, gw;

before(async () => {
  mock = await startMock();
  gw = await startGateway(`server: {host: 127.0.0.1, workers: 1, access_log: off}
models:
  - name: shaped
    deployments:
      - provider: openai
        model: reasoning-model
        api_base: "http://127.0.0.1:${mock.port}/v1"
        api_key: k
        defaults: {temperature: 0.2, top_p: 0.5}
        overrides: {max_tokens: 64, metadata: {team: "a"}}
        rename_params: {max_tokens: max_completion_tokens}
        drop_params: [logit_bias, user]
model_list:
  - model_name: litellm-dropped
    litellm_params:
      model: openai/m
      api_base: "http://127.0.0.1:${mock.port}/v1"
      api_key: k
      additional_drop_params: [presence_penalty]
`);
});
after(async () => stop(gw, mock));

async function sentBody(model, body, id) {
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }], ...body }),
  });
  assert.equal(r.status, 200);
  await r.text();
  const seen = await (await fetch(`${mock.url}/mock/requests/${id}`)).json();
  return JSON.parse(seen.body);
}

test('defaults fill gaps, overrides win, renames apply to both, drops remove', async () => {
  const b = await sentBody('shaped', { top_p: 0.9, max_tokens: 1000, logit_bias: { 50256: -100 }, user: 'u1', seed: 7 }, `shape-${Date.now()}`);
  assert.equal(b.temperature, 0.2, 'default applied where the request had none');
  assert.equal(b.top_p, 0.9, 'the request wins over a default');
  assert.equal(b.max_completion_tokens, 64, 'override applied, then renamed');
  assert.equal(b.max_tokens, undefined);
  assert.deepEqual(b.metadata, { team: 'a' });
  assert.equal(b.logit_bias, undefined);
  assert.equal(b.user, undefined);
  assert.equal(b.seed, 7, 'untouched members pass through');
  assert.equal(b.model, 'reasoning-model');
});

test("LiteLLM's additional_drop_params", async () => {
  const b = await sentBody('litellm-dropped', { presence_penalty: 0.5, frequency_penalty: 0.1 }, `shape2-${Date.now()}`);
  assert.equal(b.presence_penalty, undefined);
  assert.equal(b.frequency_penalty, 0.1);
});
