// TLS upstreams: verification is on by default, tls_insecure opts out, HTTP/2 is negotiated by
// ALPN, and sequential requests reuse one TLS connection. The upstream is nginx (ssl + http2) with
// a self-signed certificate for 127.0.0.1, proxying to mockllm; nginx's access log tells which
// protocol and which connection each of the gateway's requests used.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import OpenAI from 'openai';
import { startMock, startGateway, stop, freePort, sleep } from './harness.mjs';

const NGINX = process.env.NGINX || '/usr/sbin/nginx';
const messages = [{ role: 'user', content: 'Hello over TLS' }];

let dir, nginx, nginxPort, mock, gw, client;
let skipAll = null; // reason when nginx cannot serve TLS at all
let haveH2 = false;

// ---- helpers: nginx with a self-signed certificate ----

// What this nginx was built with, or why it cannot be used.
function nginxFeatures() {
  if (!existsSync(NGINX)) return { reason: `${NGINX} is not installed` };
  const r = spawnSync(NGINX, ['-V'], { encoding: 'utf8', timeout: 10000 });
  const text = `${r.stdout || ''}${r.stderr || ''}`;
  if (r.status !== 0) return { reason: `${NGINX} -V failed: ${text}` };
  return { ssl: text.includes('--with-http_ssl_module'), h2: text.includes('--with-http_v2_module') };
}

function makeCert(d) {
  const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', path.join(d, 'key.pem'), '-out', path.join(d, 'cert.pem')], { encoding: 'utf8', timeout: 30000 });
  if (r.status !== 0) throw new Error(`openssl failed (${r.status}): ${r.stderr}${r.error || ''}`);
}

function nginxConfig(d, port, mockPort, h2) {
  const t = path.join(d, 'temp');
  for (const s of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(t, s), { recursive: true });
  // One process (no master/worker split, no user switch), so killing the pid we spawned kills nginx.
  return `master_process off;
worker_processes 1;
pid ${d}/nginx.pid;
error_log ${d}/error.log info;
events { worker_connections 256; }
http {
  client_body_temp_path ${t}/body;
  proxy_temp_path ${t}/proxy;
  fastcgi_temp_path ${t}/fastcgi;
  uwsgi_temp_path ${t}/uwsgi;
  scgi_temp_path ${t}/scgi;
  log_format tg escape=json '{"conn":"$connection","proto":"$server_protocol","ssl":"$ssl_protocol",'
                            '"rid":"$http_x_request_id","status":"$status","uri":"$request_uri"}';
  access_log ${d}/access.log tg;
  upstream mock {
    server 127.0.0.1:${mockPort};
    keepalive 8;
  }
  server {
    listen 127.0.0.1:${port} ssl${h2 ? ' http2' : ''};
    ssl_certificate ${d}/cert.pem;
    ssl_certificate_key ${d}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    keepalive_timeout 120s;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
`;
}

// Resolves once nginx completes a TLS handshake on port; rejects if it exits or takes too long.
async function waitTls(proc, port, output, ms = 15000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (proc.exitCode !== null || proc.signalCode !== null)
      throw new Error(`nginx exited (${proc.exitCode ?? proc.signalCode}) before it was ready:\n${output()}`);
    const ok = await new Promise((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ALPNProtocols: ['h2', 'http/1.1'] });
      const t = setTimeout(() => { s.destroy(); resolve(false); }, 1000);
      s.once('secureConnect', () => { clearTimeout(t); s.end(); resolve(true); });
      s.once('error', () => { clearTimeout(t); resolve(false); });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx did not accept TLS on ${port} in time:\n${output()}`);
    await sleep(100);
  }
}

async function startNginx(d, mockPort, h2) {
  const port = await freePort();
  const conf = path.join(d, 'nginx.conf');
  writeFileSync(conf, nginxConfig(d, port, mockPort, h2));
  const p = spawn(NGINX, ['-p', `${d}/`, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (x) => { out += x; });
  p.stderr.on('data', (x) => { out += x; });
  p.exited = new Promise((resolve) => p.once('exit', resolve));
  const output = () => `${out}${existsSync(path.join(d, 'error.log')) ? readFileSync(path.join(d, 'error.log'), 'utf8') : ''}`;
  try {
    await waitTls(p, port, output);
  } catch (e) {
    await killNginx(p);
    throw e;
  }
  return { proc: p, port };
}

async function killNginx(p) {
  if (!p || p.exitCode !== null || p.signalCode !== null) return;
  p.kill('SIGTERM');
  const t = setTimeout(() => p.kill('SIGKILL'), 5000);
  await p.exited;
  clearTimeout(t);
}

// nginx's access log as parsed entries.
function accessLog() {
  const f = path.join(dir, 'access.log');
  if (!existsSync(f)) return [];
  return readFileSync(f, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

// The log entries for these request ids, waiting (bounded) until all are there: nginx writes a
// line when it finishes a request, which can be a moment after the client saw the last byte.
async function logFor(ids, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const byId = new Map(accessLog().filter((e) => ids.includes(e.rid)).map((e) => [e.rid, e]));
    if (ids.every((id) => byId.has(id))) return ids.map((id) => byId.get(id));
    if (Date.now() > deadline)
      assert.fail(`nginx logged ${byId.size} of ${ids.length} requests ${ids.join(', ')}; log:\n` +
        readFileSync(path.join(dir, 'access.log'), 'utf8'));
    await sleep(50);
  }
}

const rid = (tag) => `tls-${tag}-${process.pid}-${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;

// ---- setup ----

// Never leave nginx behind, even if the runner dies between before() and after().
process.on('exit', () => { try { nginx?.proc.kill('SIGKILL'); } catch { /* gone */ } });

before(async () => {
  const f = nginxFeatures();
  if (f.reason) { skipAll = f.reason; return; }
  if (!f.ssl) { skipAll = 'nginx lacks --with-http_ssl_module'; return; }
  haveH2 = f.h2;
  dir = mkdtempSync(path.join(tmpdir(), 'tollgate-tls-'));
  makeCert(dir);
  mock = await startMock();
  nginx = await startNginx(dir, mock.port, haveH2);
  const base = `https://127.0.0.1:${nginx.port}/v1`;
  // One worker: one curl multi handle, so one connection cache for the reuse check.
  gw = await startGateway(`server:
  host: 127.0.0.1
  workers: 1
  access_log: stderr
models:
  - name: verified
    deployments:
      - {id: tls-verify-1, provider: openai, model: mock-model, api_base: "${base}", api_key: k}
  - name: insecure
    deployments:
      - {id: tls-insecure-1, provider: openai, model: mock-model, api_base: "${base}", api_key: k, tls_insecure: true}
`);
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 15000 });
});

after(async () => {
  try {
    await stop(gw, mock); // throws on a sanitizer report; nginx and the temp dir still go
  } finally {
    await killNginx(nginx?.proc);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

// ---- cases ----

test('verification is on by default: a self-signed upstream gives 502 naming the deployment and the certificate', async (t) => {
  if (skipAll) return t.skip(skipAll);
  const id = rid('verify');
  await assert.rejects(
    client.chat.completions.create({ model: 'verified', messages }, { headers: { 'x-request-id': id } }),
    (e) => {
      assert.ok(e instanceof OpenAI.APIError, `not an APIError: ${e}`);
      assert.equal(e.status, 502, e.message);
      assert.match(e.message, /tls-verify-1/);
      assert.match(e.message, /SSL certificate problem|certificate verify failed|self[- ]signed certificate/i);
      return true;
    });
  // The handshake failed, so nginx never saw an HTTP request from it.
  await sleep(200);
  assert.equal(accessLog().filter((e) => e.rid === id).length, 0, 'a request got past the TLS handshake');
  // The gateway is fine afterwards.
  assert.equal((await fetch(`${gw.url}/healthz`)).status, 200);
});

test('tls_insecure: chat and a stream succeed, and arrive at the upstream as HTTP/2 over TLS', async (t) => {
  if (skipAll) return t.skip(skipAll);
  const chatId = rid('chat');
  const { data, response } = await client.chat.completions
    .create({ model: 'insecure', messages }, { headers: { 'x-request-id': chatId } })
    .withResponse();
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('x-tollgate-deployment'), 'tls-insecure-1');
  assert.equal(data.object, 'chat.completion');
  assert.ok(data.choices[0].message.content.length > 0);
  assert.equal(data.choices[0].finish_reason, 'stop');

  const streamId = rid('stream');
  const stream = await client.chat.completions.create({ model: 'insecure', messages, stream: true },
    { headers: { 'x-request-id': streamId } });
  let text = '', chunks = 0, finish = null;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    const c = chunk.choices[0];
    if (!c) continue;
    text += c.delta.content || '';
    if (c.finish_reason) finish = c.finish_reason;
  }
  assert.ok(chunks > 3, `only ${chunks} chunks`);
  assert.equal(text, data.choices[0].message.content, 'the stream and the chat answer differ');
  assert.equal(finish, 'stop');

  const [c1, c2] = await logFor([chatId, streamId]);
  for (const e of [c1, c2]) {
    assert.equal(e.status, '200');
    assert.equal(e.uri, '/v1/chat/completions');
    assert.match(e.ssl, /^TLSv1\.[23]$/);
  }
  if (!haveH2) return t.skip('nginx lacks --with-http_v2_module: the HTTP/2 negotiation was not checked');
  assert.equal(c1.proto, 'HTTP/2.0', `chat arrived as ${c1.proto}`);
  assert.equal(c2.proto, 'HTTP/2.0', `stream arrived as ${c2.proto}`);
});

test('sequential requests reuse one TLS connection', async (t) => {
  if (skipAll) return t.skip(skipAll);
  const ids = [];
  for (let i = 0; i < 5; i++) {
    const id = rid(`reuse${i}`);
    ids.push(id);
    const stream = i % 2 === 1;
    if (stream) {
      const s = await client.chat.completions.create({ model: 'insecure', messages, stream: true },
        { headers: { 'x-request-id': id } });
      for await (const _ of s) { /* drain */ }
    } else {
      const r = await client.chat.completions.create({ model: 'insecure', messages }, { headers: { 'x-request-id': id } });
      assert.equal(r.choices[0].finish_reason, 'stop');
    }
  }
  const entries = await logFor(ids);
  const conns = new Set(entries.map((e) => e.conn));
  assert.equal(conns.size, 1, `the gateway's requests used connections ${[...conns].join(', ')}`);
  for (const e of entries) assert.equal(e.status, '200');
  if (haveH2) for (const e of entries) assert.equal(e.proto, 'HTTP/2.0');
  // The connection was already open from the previous case (kept idle in curl's cache, not redialled).
  const earlier = accessLog().filter((e) => e.rid.startsWith('tls-chat-') || e.rid.startsWith('tls-stream-'));
  if (earlier.length) assert.ok(conns.has(earlier[0].conn), `first case used connection ${earlier[0].conn}, this one ${[...conns]}`);
});
