// Test harness: starts mockllm and tollgate on free loopback ports in a temp dir, and stops them.
// Every test file gets its own pair, so files are independent of each other.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BUILD = path.resolve(root, process.env.BUILD || 'build');

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

// Starts a process and resolves once a line of its output matches ready (or rejects on exit/timeout).
function startProcess(cmd, args, ready, opts = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    const timer = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`${path.basename(cmd)} did not start in time:\n${out}`));
    }, 15000);
    const onData = (d) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        p.stdout.off('data', onData);
        p.stderr.off('data', onData);
        resolve(p);
      }
    };
    p.stdout.on('data', onData);
    p.stderr.on('data', onData);
    p.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(cmd)} exited with ${code} before it was ready:\n${out}`));
    });
    p.output = () => out;
  });
}

// Collects a process's output from now on (for assertions on logs), after what it printed while
// starting.
function capture(p) {
  const chunks = [p.output()];
  p.stdout.on('data', (d) => chunks.push(d.toString()));
  p.stderr.on('data', (d) => chunks.push(d.toString()));
  return () => chunks.join('');
}

export async function startMock(args = []) {
  const port = await freePort();
  const p = await startProcess(`${BUILD}/mockllm`, ['--host', '127.0.0.1', '--port', String(port), '--quiet', ...args],
    /listening on/);
  p.removeAllListeners('exit');
  return { port, proc: p, url: `http://127.0.0.1:${port}`, logs: capture(p) };
}

// Writes a config (a function of the mock port(s)) and starts tollgate on it.
export async function startGateway(configText, { env = {}, args = [] } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'tollgate-e2e-'));
  const port = await freePort();
  const cfgPath = path.join(dir, 'tollgate.yaml');
  writeFileSync(cfgPath, configText);
  const p = await startProcess(`${BUILD}/tollgate`, ['serve', '-c', cfgPath, '--port', String(port), ...args],
    /tollgate listening on/, { env: { ...process.env, ...env }, cwd: dir });
  p.removeAllListeners('exit');
  const gw = {
    port, dir, cfgPath, proc: p, url: `http://127.0.0.1:${port}`, logs: capture(p),
    exited: new Promise((resolve) => p.on('exit', (code, sig) => resolve({ code, sig }))),
  };
  return gw;
}

export async function stop(...procs) {
  for (const x of procs) {
    if (!x || !x.proc || x.proc.exitCode !== null) continue;
    const done = new Promise((resolve) => x.proc.on('exit', resolve));
    x.proc.kill('SIGTERM');
    const t = setTimeout(() => x.proc.kill('SIGKILL'), 10000);
    await done;
    clearTimeout(t);
    if (x.dir) rmSync(x.dir, { recursive: true, force: true });
  }
  // A sanitizer build reports memory errors and leaks on the process's stderr, often only at exit:
  // a report fails the test file even when every answer looked right.
  for (const x of procs) {
    const out = x && x.logs ? x.logs() : '';
    const i = out.search(/ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error:/);
    if (i >= 0) throw new Error(`sanitizer report from ${x.proc.spawnfile}:\n${out.slice(i, i + 4000)}`);
  }
}

// A config with one model group `mock` on the mock, plus anything extra.
export function mockConfig(mockPort, extra = '') {
  return `server:
  host: 127.0.0.1
  workers: 2
  access_log: stderr
  forward_headers: [x-mock-*]   # lets tests inject upstream faults per request
models:
  - name: mock
    deployments:
      - id: mock-1
        provider: openai
        model: mock-model
        api_base: http://127.0.0.1:${mockPort}/v1
        api_key: test-upstream-key
${extra}`;
}

export async function mockStats(mock) {
  const r = await fetch(`${mock.url}/mock/stats`);
  return r.json();
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
