// Chat, completions, embeddings and models through the gateway with the official openai SDK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, stop, mockConfig } from './harness.mjs';

let mock, gw, client;

before(async () => {
  mock = await startMock();
  gw = await startGateway(mockConfig(mock.port));
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => stop(gw, mock));

test('chat completion: the SDK gets the mock answer, with usage and gateway headers', async () => {
  const { data, response } = await client.chat.completions
    .create({ model: 'mock', messages: [{ role: 'user', content: 'Hello there' }] })
    .withResponse();
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.choices[0].message.role, 'assistant');
  assert.ok(data.choices[0].message.content.length > 0);
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.ok(data.usage.prompt_tokens > 0);
  assert.ok(data.usage.completion_tokens > 0);
  assert.equal(response.headers.get('x-tollgate-deployment'), 'mock-1');
  assert.match(response.headers.get('x-request-id'), /^req_[0-9a-f]{32}$/);
  assert.match(response.headers.get('x-tollgate-overhead-ms'), /^\d+\.\d{3}$/);
});

test('the upstream gets the deployment model, the request id and the key; unknown fields and int64 pass through', async () => {
  const id = `rid-${Date.now()}`;
  // Written by hand: JSON.stringify would normalise the numbers this test is about.
  const text = '{"model":"mock","messages":[{"role":"user","content":"x"}],"seed":9007199254740993,' +
    '"temperature":0.7,"some_vendor_field":{"nested":[1,2.50,1E5,-0.0,"\u00e9"]}}';
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id }, body: text,
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-request-id'), id);
  const seen = await (await fetch(`${mock.url}/mock/requests/${id}`)).json();
  assert.equal(seen.headers.authorization, 'Bearer test-upstream-key');
  assert.equal(seen.headers['x-request-id'], id);
  assert.match(seen.body, /"seed":9007199254740993[,}]/);
  assert.match(seen.body, /"temperature":0.7[,}]/);
  assert.match(seen.body, /"some_vendor_field":\{"nested":\[1,2.50,1E5,-0.0,"é"\]\}/);
  assert.match(seen.body, /"model":"mock-model"/);
});

test('legacy completions', async () => {
  const r = await client.completions.create({ model: 'mock', prompt: 'Say hi' });
  assert.equal(r.object, 'text_completion');
  assert.ok(r.choices[0].text.length > 0);
});

test('embeddings (float and the SDK default base64) and they are deterministic', async () => {
  const a = await client.embeddings.create({ model: 'mock', input: ['alpha', 'beta'] });
  assert.equal(a.data.length, 2);
  assert.ok(a.data[0].embedding.length > 0);
  const b = await client.embeddings.create({ model: 'mock', input: ['alpha', 'beta'], encoding_format: 'float' });
  for (let i = 0; i < a.data[0].embedding.length; i++)
    assert.ok(Math.abs(a.data[0].embedding[i] - b.data[0].embedding[i]) < 1e-6);
  assert.notDeepEqual(a.data[0].embedding, a.data[1].embedding);
});

test('models list comes from the config', async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  assert.deepEqual(ids, ['mock']);
  const one = await client.models.retrieve('mock');
  assert.equal(one.id, 'mock');
});

test('tool calls: non-streaming and streamed deltas assemble to the same call', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { location: { type: 'string' } } } } }];
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  const full = await client.chat.completions.create({ model: 'mock', messages, tools });
  const call = full.choices[0].message.tool_calls[0];
  assert.equal(full.choices[0].finish_reason, 'tool_calls');
  assert.equal(call.function.name, 'get_weather');
  const stream = await client.chat.completions.create({ model: 'mock', messages, tools, stream: true });
  let name = '', args = '', finish = null, id = null;
  for await (const chunk of stream) {
    const c = chunk.choices[0];
    if (!c) continue;
    for (const tc of c.delta.tool_calls || []) {
      assert.equal(tc.index, 0);
      if (tc.id) id = tc.id;
      if (tc.function?.name) name += tc.function.name;
      if (tc.function?.arguments) args += tc.function.arguments;
    }
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.equal(id, call.id);
  assert.equal(name, 'get_weather');
  assert.equal(args, call.function.arguments);
  assert.deepEqual(JSON.parse(args), JSON.parse(call.function.arguments));
  assert.equal(finish, 'tool_calls');
});
