// Every error class the SDK raises, and the gateway's own limits, through the official SDK.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, stop, freePort } from './harness.mjs';

let mock, gw, client;
const KEY = 'sk-master-test-123';
const messages = [{ role: 'user', content: 'hi' }];

before(async () => {
  mock = await startMock();
  const deadPort = await freePort(); // nothing listens there
  gw = await startGateway(`server:
  host: 127.0.0.1
  workers: 1
  master_key: ${KEY}
  forward_headers: [x-mock-*]
limits:
  max_body_bytes: 65536
  max_header_bytes: 8192
  first_byte_timeout_ms: 700
models:
  - name: mock
    deployments:
      - {id: mock-1, provider: openai, model: mock-model, api_base: "http://127.0.0.1:${mock.port}/v1", api_key: k}
  - name: dead
    deployments:
      - {id: dead-1, provider: openai, model: x, api_base: "http://127.0.0.1:${deadPort}/v1", api_key: k}
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: KEY, maxRetries: 0 });
});
after(async () => stop(gw, mock));

test('wrong or missing master key: AuthenticationError (401)', async () => {
  const bad = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'sk-wrong', maxRetries: 0 });
  await assert.rejects(bad.chat.completions.create({ model: 'mock', messages }),
    (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === 'invalid_api_key');
  const r = await fetch(`${gw.url}/v1/models`);
  assert.equal(r.status, 401);
  assert.match((await r.json()).error.message, /Missing API key/);
});

test('health routes need no key', async () => {
  assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
  assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);
});

test('unknown model: NotFoundError listing the known models', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'gpt-5-nope', messages }),
    (e) => e instanceof OpenAI.NotFoundError && e.code === 'model_not_found' && /Known models: mock, dead/.test(e.message));
});

test('bad JSON: BadRequestError with the position', async () => {
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: '{"model": "mock",\n  "messages": [ }',
  });
  assert.equal(r.status, 400);
  const e = (await r.json()).error;
  assert.equal(e.type, 'invalid_request_error');
  assert.match(e.message, /line 2 column \d+ \(byte \d+\)/);
});

test('missing messages and a non-boolean stream: BadRequestError naming the field', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'mock' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'messages');
  await assert.rejects(client.chat.completions.create({ model: 'mock', messages, stream: 'yes' }),
    (e) => e instanceof OpenAI.BadRequestError && e.param === 'stream');
});

test('integers beyond 64 bits are refused, not silently changed', async () => {
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: '{"model":"mock","messages":[],"seed":123456789012345678901234567890}',
  });
  assert.equal(r.status, 400);
  assert.match((await r.json()).error.message, /does not fit in 64 bits/);
});

test('upstream 429: RateLimitError, with retry-after passed through', async () => {
  const { response } = await client.chat.completions.create({ model: 'mock', messages },
    { headers: { 'x-mock-status': '429', 'x-mock-retry-after': '7' } }).withResponse().catch((e) => ({ response: e }));
  assert.ok(response instanceof OpenAI.RateLimitError);
  assert.equal(response.status, 429);
  assert.equal(response.headers.get('retry-after'), '7');
});

test('upstream 500: InternalServerError with the upstream error object passed through', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'mock', messages }, { headers: { 'x-mock-status': '500' } }),
    (e) => e instanceof OpenAI.InternalServerError && e.status === 500 && e.error && typeof e.error.message === 'string');
  await assert.rejects(client.chat.completions.create({ model: 'mock', messages }, { headers: { 'x-mock-status': '503' } }),
    (e) => e instanceof OpenAI.InternalServerError && e.status === 503);
});

test('upstream refuses the connection: 502 naming the deployment', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'dead', messages }),
    (e) => e instanceof OpenAI.InternalServerError && e.status === 502 && /dead-1/.test(e.message));
});

test('upstream too slow to answer: 504 after limits.first_byte_timeout_ms', async () => {
  const t0 = Date.now();
  await assert.rejects(client.chat.completions.create({ model: 'mock', messages }, { headers: { 'x-mock-latency-ms': '5000' } }),
    (e) => e instanceof OpenAI.InternalServerError && e.status === 504 && /first_byte/.test(e.message));
  assert.ok(Date.now() - t0 < 4000);
});

test('upstream answers malformed JSON: 502', async () => {
  await assert.rejects(client.chat.completions.create({ model: 'mock', messages }, { headers: { 'x-mock-malformed': '1' } }),
    (e) => e.status === 502 && /invalid JSON/.test(e.message));
});

test('a body over limits.max_body_bytes: 413 that names the limit', async () => {
  const big = 'x'.repeat(70000);
  await assert.rejects(client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: big }] }),
    (e) => e instanceof OpenAI.APIError && e.status === 413 && /max_body_bytes/.test(e.message));
});

test('headers over limits.max_header_bytes: 431', async () => {
  const r = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}`, 'x-big': 'y'.repeat(10000) } });
  assert.equal(r.status, 431);
  assert.match((await r.text()), /max_header_bytes/);
});

test('unknown route: 404; wrong method: 405', async () => {
  assert.equal((await fetch(`${gw.url}/v1/nope`)).status, 404);
  const r = await fetch(`${gw.url}/v1/chat/completions`, { headers: { authorization: `Bearer ${KEY}` } });
  assert.equal(r.status, 405);
});
