// Several deployments under one model name are picked in proportion to their weight, and each
// deployment's own stream timeout (the longest gap between chunks) applies.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, stop } from './harness.mjs';

let mock, gw, client;

before(async () => {
  mock = await startMock();
  // LiteLLM's spelling: three entries with one model_name form one group.
  gw = await startGateway(`server: {host: 127.0.0.1, workers: 1, access_log: off, forward_headers: [x-mock-*]}
model_list:
  - model_name: pool
    litellm_params: {model: openai/mock-a, api_base: "http://127.0.0.1:${mock.port}/v1", api_key: k, weight: 3}
    model_info: {id: heavy}
  - model_name: pool
    litellm_params: {model: openai/mock-b, api_base: "http://127.0.0.1:${mock.port}/v1", api_key: k, weight: 1}
    model_info: {id: light}
  - model_name: slow-stream
    litellm_params: {model: openai/mock-c, api_base: "http://127.0.0.1:${mock.port}/v1", api_key: k, stream_timeout: 0.3}
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
});
after(async () => stop(gw, mock));

test('weights 3:1 split 400 requests about 300:100', async () => {
  const counts = {};
  for (let i = 0; i < 400; i++) {
    const { data, response } = await client.chat.completions
      .create({ model: 'pool', messages: [{ role: 'user', content: 'x' }] }).withResponse();
    const dep = response.headers.get('x-tollgate-deployment');
    counts[dep] = (counts[dep] || 0) + 1;
    assert.equal(data.model, dep === 'heavy' ? 'mock-a' : 'mock-b', 'the upstream model matches the deployment');
  }
  assert.deepEqual(Object.keys(counts).sort(), ['heavy', 'light']);
  // Expected 300, standard deviation about 8.7: five deviations either side.
  assert.ok(counts.heavy > 255 && counts.heavy < 345, `heavy got ${counts.heavy} of 400`);
});

test('a stream whose chunks stop for longer than stream_timeout ends with a timeout error', async () => {
  const stream = await client.chat.completions.create(
    { model: 'slow-stream', stream: true, messages: [{ role: 'user', content: 'x' }] },
    { headers: { 'x-mock-chunk-delay-ms': '1500', 'x-mock-words': '5' } });
  const t0 = Date.now();
  await assert.rejects(async () => { for await (const _ of stream); },
    (e) => e instanceof OpenAI.APIError && /idle_timeout|timeout/i.test(e.message));
  assert.ok(Date.now() - t0 < 1400, 'cut by the 300 ms gap limit, not by the end of the stream');
});
