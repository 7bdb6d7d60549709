// The azure provider: the official openai SDK talks to the gateway, which talks to mockllm's Azure
// OpenAI paths (/openai/deployments/{name}/...?api-version=..., key in api-key).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, stop } from './harness.mjs';

let mock, gw, client;

const config = (port) => `server:
  host: 127.0.0.1
  workers: 2
  access_log: stderr
  forward_headers: [x-mock-*]
models:
  - name: az
    deployments:
      - id: az-1
        provider: azure
        model: my-chat
        api_base: http://127.0.0.1:${port}/
        api_key: az-secret
  - name: az-odd
    deployments:
      - provider: azure
        model: odd name/ü?
        api_base: http://127.0.0.1:${port}
        api_version: 2025-01-01-preview
        api_key: az-secret
model_list:
  - model_name: az-litellm
    litellm_params:
      model: azure/my-deployment
      api_base: http://127.0.0.1:${port}
      api_version: "2024-06-01"
      api_key: az-litellm-secret
`;

before(async () => {
  mock = await startMock();
  gw = await startGateway(config(mock.port));
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => stop(gw, mock));

const messages = [{ role: 'user', content: 'Hello Azure' }];
const seen = async (id) => (await fetch(`${mock.url}/mock/requests/${id}`)).json();

test('chat: the answer comes back, and the upstream saw the deployment path, api-version and api-key', async () => {
  const id = `az-chat-${Date.now()}`;
  const { data, response } = await client.chat.completions
    .create({ model: 'az', messages }, { headers: { 'x-request-id': id } })
    .withResponse();
  assert.equal(data.object, 'chat.completion');
  assert.ok(data.choices[0].message.content.length > 0);
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.ok(data.usage.prompt_tokens > 0);
  assert.equal(data.prompt_filter_results[0].prompt_index, 0); // Azure's extra member passes through
  assert.equal(response.headers.get('x-tollgate-deployment'), 'az-1');
  const up = await seen(id);
  assert.equal(up.method, 'POST');
  assert.equal(up.path, '/openai/deployments/my-chat/chat/completions');
  assert.equal(up.url, '/openai/deployments/my-chat/chat/completions?api-version=2024-10-21');
  assert.equal(up.headers['api-key'], 'az-secret');
  assert.equal(up.headers.authorization, undefined);
  assert.equal(up.headers['x-request-id'], id);
  assert.match(up.body, /"model":"my-chat"/);
});

test('stream: the assembled text equals the non-streamed answer; the prompt_filter_results chunk survives', async () => {
  const full = await client.chat.completions.create({ model: 'az', messages });
  const stream = await client.chat.completions.create({ model: 'az', messages, stream: true });
  let text = '', finish = null, filterChunks = 0, sawUsage = false;
  for await (const chunk of stream) {
    if (chunk.prompt_filter_results) {
      assert.equal(chunk.choices.length, 0);
      filterChunks++;
    }
    if (chunk.usage) sawUsage = true;
    const c = chunk.choices[0];
    if (!c) continue;
    text += c.delta.content || '';
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.equal(filterChunks, 1);
  assert.equal(sawUsage, false); // the client did not ask for usage: the gateway's own request is hidden
  assert.equal(text, full.choices[0].message.content);
  assert.equal(finish, 'stop');
});

test('stream with include_usage: the prompt_filter_results chunk and the usage chunk both arrive', async () => {
  const id = `az-stream-${Date.now()}`;
  const stream = await client.chat.completions.create(
    { model: 'az', messages, stream: true, stream_options: { include_usage: true } },
    { headers: { 'x-request-id': id } });
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  assert.ok(chunks[0].prompt_filter_results, 'the first chunk carries prompt_filter_results');
  assert.equal(chunks[0].usage, null);
  const last = chunks[chunks.length - 1];
  assert.equal(last.choices.length, 0);
  assert.ok(last.usage.completion_tokens > 0);
  const up = await seen(id);
  assert.equal(up.url, '/openai/deployments/my-chat/chat/completions?api-version=2024-10-21');
  assert.match(up.body, /"stream_options":\{"include_usage":true\}/);
});

test('the raw stream keeps the prompt_filter_results chunk without the usage member', async () => {
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'az', messages, stream: true }),
  });
  assert.equal(r.status, 200);
  const events = (await r.text()).split('\n\n').filter((e) => e.startsWith('data: '));
  const first = JSON.parse(events[0].slice(6));
  assert.deepEqual(first.choices, []);
  assert.equal(first.prompt_filter_results[0].content_filter_results.hate.severity, 'safe');
  assert.equal('usage' in first, false);
  assert.equal(events[events.length - 1], 'data: [DONE]');
});

test('legacy completions and embeddings use their deployment paths', async () => {
  const id = `az-emb-${Date.now()}`;
  const c = await client.completions.create({ model: 'az', prompt: 'Say hi' });
  assert.equal(c.object, 'text_completion');
  assert.ok(c.choices[0].text.length > 0);
  const e = await client.embeddings.create({ model: 'az', input: ['alpha', 'beta'] },
    { headers: { 'x-request-id': id } });
  assert.equal(e.data.length, 2);
  assert.ok(e.data[0].embedding.length > 0);
  assert.notDeepEqual(e.data[0].embedding, e.data[1].embedding);
  const up = await seen(id);
  assert.equal(up.url, '/openai/deployments/my-chat/embeddings?api-version=2024-10-21');
  assert.equal(up.headers['api-key'], 'az-secret');
});

test('content filter: Azure\'s 400 reaches the SDK as a BadRequestError with code content_filter', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'az', messages }, { headers: { 'x-mock-content-filter': '1' } }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `got ${err.constructor.name}`);
      assert.equal(err.status, 400);
      assert.equal(err.code, 'content_filter');
      assert.equal(err.param, 'prompt');
      assert.match(err.message, /content management policy/);
      assert.equal(err.error.innererror.code, 'ResponsibleAIPolicyViolation');
      return true;
    });
});

test('finish_reason content_filter passes through, streamed or not', async () => {
  const headers = { 'x-mock-content-filter': 'completion' };
  const full = await client.chat.completions.create({ model: 'az', messages }, { headers });
  assert.equal(full.choices[0].finish_reason, 'content_filter');
  const stream = await client.chat.completions.create({ model: 'az', messages, stream: true }, { headers });
  let finish = null;
  for await (const chunk of stream) if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
  assert.equal(finish, 'content_filter');
});

test('a LiteLLM model_list entry with model azure/my-deployment and api_version works', async () => {
  const id = `az-litellm-${Date.now()}`;
  const { data, response } = await client.chat.completions
    .create({ model: 'az-litellm', messages }, { headers: { 'x-request-id': id } })
    .withResponse();
  assert.ok(data.choices[0].message.content.length > 0);
  assert.equal(response.headers.get('x-tollgate-deployment'), 'az-litellm/0');
  const up = await seen(id);
  assert.equal(up.url, '/openai/deployments/my-deployment/chat/completions?api-version=2024-06-01');
  assert.equal(up.headers['api-key'], 'az-litellm-secret');
  assert.equal(up.headers.authorization, undefined);
});

test('the deployment name and api_version are percent-encoded into the URL', async () => {
  const id = `az-odd-${Date.now()}`;
  const r = await client.chat.completions.create({ model: 'az-odd', messages }, { headers: { 'x-request-id': id } });
  assert.equal(r.choices[0].finish_reason, 'stop');
  const up = await seen(id);
  assert.equal(up.url, '/openai/deployments/odd%20name%2F%C3%BC%3F/chat/completions?api-version=2025-01-01-preview');
});
