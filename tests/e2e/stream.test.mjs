// Streaming: chunks relayed as they arrive, usage handling, cut streams, client aborts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, stop, mockConfig, mockStats, sleep } from './harness.mjs';

let mock, gw, client;

// Polls the mock until it has seen its client (the gateway) go away, for up to 2 s.
async function waitForDisconnect() {
  let stats;
  for (let i = 0; i < 40; i++) {
    stats = await mockStats(mock);
    if (stats.client_disconnects >= 1) break;
    await sleep(50);
  }
  return stats;
}
const messages = [{ role: 'user', content: 'Tell me something' }];

before(async () => {
  mock = await startMock();
  gw = await startGateway(mockConfig(mock.port));
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => stop(gw, mock));

test('streamed text assembles to exactly the non-streamed text', async () => {
  const full = await client.chat.completions.create({ model: 'mock', messages });
  const stream = await client.chat.completions.create({ model: 'mock', messages, stream: true });
  let text = '', chunks = 0, finish = null;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.usage, undefined, 'no usage field when the client did not ask');
    const c = chunk.choices[0];
    assert.ok(c, 'no usage-only chunk when the client did not ask');
    text += c.delta.content || '';
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.equal(text, full.choices[0].message.content);
  assert.ok(chunks > 3);
  assert.equal(finish, 'stop');
});

test('the gateway always asks the upstream for stream usage', async () => {
  const id = `stream-usage-${Date.now()}`;
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id },
    body: JSON.stringify({ model: 'mock', messages, stream: true }),
  });
  await r.text();
  const seen = await (await fetch(`${mock.url}/mock/requests/${id}`)).json();
  assert.deepEqual(JSON.parse(seen.body).stream_options, { include_usage: true });
});

test('include_usage asked by the client: the usage chunk is kept', async () => {
  const stream = await client.chat.completions.create({ model: 'mock', messages, stream: true, stream_options: { include_usage: true } });
  let usage = null;
  for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
  assert.ok(usage && usage.completion_tokens > 0 && usage.prompt_tokens > 0);
});

test('chunks are relayed as they arrive, not buffered', async () => {
  const stream = await client.chat.completions.create(
    { model: 'mock', messages, stream: true },
    { headers: { 'x-mock-chunk-delay-ms': '150', 'x-mock-words': '6' } });
  const arrivals = [];
  for await (const chunk of stream) if (chunk.choices[0]?.delta?.content) arrivals.push(Date.now());
  assert.ok(arrivals.length >= 5);
  // With buffering, every chunk would arrive at the end at once.
  assert.ok(arrivals.at(-1) - arrivals[0] >= 500, `chunks arrived over ${arrivals.at(-1) - arrivals[0]} ms`);
});

test('a stream cut by the upstream ends with an error the SDK raises, never a silent [DONE]', async () => {
  const stream = await client.chat.completions.create(
    { model: 'mock', messages, stream: true }, { headers: { 'x-mock-cut-after': '3' } });
  let text = '';
  await assert.rejects(async () => {
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content || '';
  }, (e) => e instanceof OpenAI.APIError && /failed after|interrupted/i.test(e.message));
  assert.ok(text.length > 0, 'the chunks before the cut were delivered');
});

test('malformed JSON from the upstream mid-stream ends the stream with an error', async () => {
  const stream = await client.chat.completions.create(
    { model: 'mock', messages, stream: true }, { headers: { 'x-mock-malformed': '1' } });
  await assert.rejects(async () => { for await (const _ of stream); }, OpenAI.APIError);
});

test('a client that aborts mid-stream: the gateway cancels the upstream at once', async () => {
  await fetch(`${mock.url}/mock/reset`, { method: 'POST' });
  const controller = new AbortController();
  const stream = await client.chat.completions.create(
    { model: 'mock', messages, stream: true },
    { headers: { 'x-mock-chunk-delay-ms': '100', 'x-mock-words': '200' }, signal: controller.signal });
  let n = 0;
  // The SDK may end the iteration quietly or throw an abort error; either way the client is gone.
  try {
    for await (const _ of stream) if (++n === 3) { controller.abort(); break; }
  } catch (e) {
    assert.match(String(e), /abort/i);
  }
  assert.equal(n, 3);
  // The mock sees its client (the gateway) disconnect long before the 20 s stream would end.
  const stats = await waitForDisconnect();
  assert.equal(stats.client_disconnects, 1);
  assert.equal(stats.streams_completed, 0);
});

test('a client that aborts while the upstream has not answered yet cancels it too', async () => {
  await fetch(`${mock.url}/mock/reset`, { method: 'POST' });
  const controller = new AbortController();
  const p = client.chat.completions.create({ model: 'mock', messages },
    { headers: { 'x-mock-hang': '1' }, signal: controller.signal });
  await sleep(200);
  controller.abort();
  await assert.rejects(p, /abort/i);
  const stats = await waitForDisconnect();
  assert.equal(stats.client_disconnects, 1);
});
