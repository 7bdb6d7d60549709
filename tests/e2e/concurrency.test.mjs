// 200 concurrent streams through the gateway, every one complete and correct.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startMock, startGateway, stop, mockConfig } from './harness.mjs';

let mock, gw;

before(async () => {
  mock = await startMock(['--threads', '1']);
  gw = await startGateway(mockConfig(mock.port));
});
after(async () => stop(gw, mock));

test('200 concurrent streams all complete with the exact text', async () => {
  // One SDK client per stream, so every stream has its own connection to the gateway.
  const expected = await new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x' }).chat.completions.create(
    { model: 'mock', messages: [{ role: 'user', content: 'go' }] }, { headers: { 'x-mock-words': '30' } });
  const want = expected.choices[0].message.content;
  const one = async (i) => {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const stream = await client.chat.completions.create(
      { model: 'mock', messages: [{ role: 'user', content: 'go' }], stream: true, stream_options: { include_usage: true } },
      { headers: { 'x-mock-words': '30', 'x-mock-chunk-delay-ms': '5', 'x-request-id': `c-${i}` } });
    let text = '', usage = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content || '';
      if (chunk.usage) usage = chunk.usage;
    }
    return { text, usage };
  };
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) => one(i)));
  let ok = 0;
  for (const r of results) {
    assert.equal(r.text, want);
    assert.equal(r.usage.completion_tokens, 30);
    ok++;
  }
  assert.equal(ok, 200);
});
