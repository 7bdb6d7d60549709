// Reload on SIGHUP, graceful shutdown on SIGTERM, readiness, and `tollgate check`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import OpenAI from 'openai';
import { startMock, startGateway, stop, mockConfig, sleep, BUILD } from './harness.mjs';

const run = promisify(execFile);

async function modelIds(gw) {
  const r = await fetch(`${gw.url}/v1/models`);
  return (await r.json()).data.map((m) => m.id);
}

test('SIGHUP reloads the config without dropping an open stream; a bad file is refused', async () => {
  const mock = await startMock();
  const gw = await startGateway(mockConfig(mock.port));
  try {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
    // A stream that is still running while the config changes.
    const stream = await client.chat.completions.create({ model: 'mock', stream: true, messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-mock-chunk-delay-ms': '60', 'x-mock-words': '15' } });
    const collect = (async () => { let t = ''; for await (const c of stream) t += c.choices[0]?.delta?.content || ''; return t; })();

    writeFileSync(gw.cfgPath, mockConfig(mock.port, `  - name: second
    deployments:
      - {provider: openai, model: m2, api_base: "http://127.0.0.1:${mock.port}/v1", api_key: k}
`));
    gw.proc.kill('SIGHUP');
    let ids = [];
    for (let i = 0; i < 50 && !ids.includes('second'); i++) { await sleep(40); ids = await modelIds(gw); }
    assert.deepEqual(ids, ['mock', 'second']);
    assert.equal((await collect).split(' ').length, 15, 'the open stream finished intact');

    writeFileSync(gw.cfgPath, 'models: [ {name: broken\n');
    gw.proc.kill('SIGHUP');
    await sleep(300);
    assert.deepEqual(await modelIds(gw), ['mock', 'second'], 'the old config stays');
    assert.match(gw.logs(), /has errors; the running config stays/);
  } finally {
    await stop(gw, mock);
  }
});

test('SIGTERM: not ready, in-flight stream finishes, new connections refused, exit 0', async () => {
  const mock = await startMock();
  const gw = await startGateway(mockConfig(mock.port));
  try {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: 'mock', stream: true, messages: [{ role: 'user', content: 'x' }] },
      { headers: { 'x-mock-chunk-delay-ms': '50', 'x-mock-words': '20' } });
    const collect = (async () => { let t = ''; for await (const c of stream) t += c.choices[0]?.delta?.content || ''; return t; })();
    await sleep(150);
    gw.proc.kill('SIGTERM');
    await sleep(100);
    await assert.rejects(fetch(`${gw.url}/healthz`), 'the listener is closed');
    assert.equal((await collect).split(' ').length, 20);
    const { code } = await gw.exited;
    assert.equal(code, 0);
  } finally {
    await stop(gw, mock);
  }
});

test('tollgate check reports errors with line and column, and accepts a LiteLLM file', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-check-'));
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, 'server:\n  port: nope\nmodels:\n  - name: a\n    deployments:\n      - {provider: openai, model: m, api_base: "http://x/v1", wieght: 2}\n');
  const r = await run(`${BUILD}/tollgate`, ['check', '-c', bad]).catch((e) => e);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /bad\.yaml:2:9: .*port/);
  assert.match(r.stderr, /bad\.yaml:6:\d+: .*wieght/);
  const ok = await run(`${BUILD}/tollgate`, ['check', '-c', path.resolve(BUILD, '..', 'examples', 'litellm_config.yaml')], {
    cwd: path.resolve(BUILD, '..'), env: { ...process.env, OPENAI_API_KEY: 'sk-test' },
  });
  assert.match(ok.stdout, /ok \(\d+ models/);
});

test('SIGTERM with limits.drain_delay_ms: /readyz fails first while requests are still served', async () => {
  const mock = await startMock();
  const gw = await startGateway(mockConfig(mock.port).replace('models:\n', 'limits:\n  drain_delay_ms: 1200\nmodels:\n'));
  try {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'x', maxRetries: 0 });
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 200);
    gw.proc.kill('SIGTERM');
    await sleep(150);
    // Not ready, yet new connections and requests still work during the delay.
    assert.equal((await fetch(`${gw.url}/readyz`)).status, 503);
    assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
    const r = await client.chat.completions.create({ model: 'mock', messages: [{ role: 'user', content: 'x' }] });
    assert.ok(r.choices[0].message.content.length > 0);
    // After the delay the listener closes and the process exits cleanly.
    const { code } = await gw.exited;
    assert.equal(code, 0);
    assert.match(gw.logs(), /draining in 1200 ms/);
  } finally {
    await stop(gw, mock);
  }
});
