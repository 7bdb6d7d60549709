// Back-pressure and log hygiene: a client that stops reading must not make the gateway buffer the
// upstream's stream, and the access log never carries a secret.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { startMock, startGateway, stop, mockConfig, mockStats, sleep } from './harness.mjs';

let mock, gw;
const MASTER = 'sk-master-secret-4242';

before(async () => {
  mock = await startMock();
  gw = await startGateway(mockConfig(mock.port).replace('  workers: 2\n', `  workers: 2\n  master_key: ${MASTER}\n`));
});
after(async () => stop(gw, mock));

function rssKiB(pid) {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
  return Number(m[1]);
}

test('a client that stops reading pauses the upstream instead of filling the gateway memory', async () => {
  await fetch(`${mock.url}/mock/reset`, { method: 'POST' });
  const words = 600000; // about 120 MB of SSE: far more than socket buffers hold
  const body = JSON.stringify({ model: 'mock', stream: true, messages: [{ role: 'user', content: 'x' }] });
  const sock = net.connect(gw.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  sock.pause(); // read nothing for now
  sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${MASTER}\r\n` +
    `Content-Type: application/json\r\nx-mock-words: ${words}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  const before = rssKiB(gw.proc.pid);
  await sleep(1500);
  const stalled = await mockStats(mock);
  const grown = rssKiB(gw.proc.pid) - before;
  assert.equal(stalled.streams_completed, 0, 'the upstream could not finish while the client did not read');
  assert.ok(grown < 16 * 1024, `gateway RSS grew by ${grown} KiB while the client was not reading`);

  // Now read everything: the stream completes, intact.
  let text = '';
  sock.setEncoding('utf8');
  sock.on('data', (d) => { text += d; });
  sock.resume();
  for (let i = 0; i < 200 && !text.includes('data: [DONE]'); i++) await sleep(50);
  sock.destroy();
  assert.ok(text.includes('data: [DONE]'), 'the stream ended with [DONE]');
  const contentChunks = (text.match(/"delta":\{"content":"/g) || []).length;
  assert.equal(contentChunks, words + 1); // the empty role chunk plus one per word
  const done = await mockStats(mock);
  assert.equal(done.streams_completed, 1);
});

test('the access log names the request but never a key', async () => {
  const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: MASTER, maxRetries: 0 });
  await client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'hi' }] },
    { headers: { 'x-request-id': 'log-check-1' } });
  await sleep(100);
  const logs = gw.logs();
  const line = logs.split('\n').find((l) => l.includes('"request_id":"log-check-1"'));
  assert.ok(line, 'an access-log line for the request');
  const rec = JSON.parse(line);
  assert.equal(rec.type, 'access');
  assert.equal(rec.status, 200);
  assert.equal(rec.model, 'mock');
  assert.equal(rec.deployment, 'mock-1');
  assert.ok(rec.input_tokens > 0 && rec.output_tokens > 0);
  assert.ok(rec.overhead_ms >= 0 && rec.duration_ms >= rec.overhead_ms);
  assert.ok(!logs.includes(MASTER), 'the master key is not logged');
  assert.ok(!logs.includes('test-upstream-key'), 'the upstream key is not logged');
});
