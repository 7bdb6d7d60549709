// mockllm's Bedrock Runtime routes (Converse, ConverseStream), judged by the official AWS SDK:
// the SDK talks straight to the mock, which verifies every request's SigV4 signature.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startMock, stop } from './harness.mjs';

// The SDK warns that its releases after January 2027 need Node 22: not about these tests.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const CREDS = { accessKeyId: 'AKIDE2ETEST', secretAccessKey: 'e2e-secret/with+chars' };
const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const WORDS = ['The', 'quick', 'brown', 'fox', 'jumps', 'over', 'the', 'lazy', 'dog', 'while', 'mock', 'models',
  'answer', 'every', 'request', 'with', 'steady', 'and', 'predictable', 'words', 'so', 'tests', 'can', 'check',
  'each', 'byte', 'of', 'the', 'reply', 'they', 'get', 'back'];
const text = (n) => Array.from({ length: n }, (_, i) => WORDS[i % WORDS.length]).join(' ');
const TOOLS = { tools: [{ toolSpec: { name: 'get_weather', description: 'Weather', inputSchema: { json: { type: 'object', properties: { location: { type: 'string' } } } } } }] };
const messages = [{ role: 'user', content: [{ text: 'Hello there' }] }]; // 11 bytes: 11/4 + 3 = 5 tokens

let mock;
const clients = [];

before(async () => {
  mock = await startMock(['--aws-access-key', CREDS.accessKeyId, '--aws-secret-key', CREDS.secretAccessKey]);
});
after(async () => {
  for (const c of clients) c.destroy();
  await stop(mock);
});

// A client on the mock. headers are added before signing (so they are signed, as any header the SDK
// sends); tamper(request) runs after signing, just before the request goes out.
function client({ headers = {}, credentials = CREDS, tamper } = {}) {
  const c = new BedrockRuntimeClient({
    endpoint: mock.url, region: 'us-east-1', credentials, maxAttempts: 1,
    // The SDK picks HTTP/2 for Bedrock Runtime; mockllm speaks HTTP/1.1 (as Bedrock also does).
    requestHandler: new NodeHttpHandler(),
  });
  c.middlewareStack.add((next) => async (args) => {
    Object.assign(args.request.headers, headers);
    return next(args);
  }, { step: 'build', name: 'mockHeaders' });
  if (tamper) {
    c.middlewareStack.add((next) => async (args) => {
      tamper(args.request);
      return next(args);
    }, { step: 'deserialize', name: 'tamperAfterSigning', priority: 'low' });
  }
  clients.push(c);
  return c;
}

async function collect(stream) {
  const events = [];
  for await (const e of stream) events.push(e);
  return events;
}

function streamText(events) {
  return events.filter((e) => e.contentBlockDelta?.delta?.text !== undefined)
    .map((e) => e.contentBlockDelta.delta.text).join('');
}

test('Converse: the SDK gets the text, stop reason, usage; the model id went URL-encoded in a signed request', async () => {
  const rid = `bedrock-${Date.now()}`;
  const r = await client({ headers: { 'x-request-id': rid } }).send(new ConverseCommand({ modelId: MODEL, messages }));
  assert.equal(r.$metadata.httpStatusCode, 200);
  assert.match(r.$metadata.requestId, /^[0-9a-f-]{36}$/);
  assert.deepEqual(r.output.message, { role: 'assistant', content: [{ text: text(12) }] });
  assert.equal(r.stopReason, 'end_turn');
  assert.deepEqual(r.usage, { inputTokens: 5, outputTokens: 12, totalTokens: 17 });
  assert.equal(typeof r.metrics.latencyMs, 'number');
  const seen = await (await fetch(`${mock.url}/mock/requests/${rid}`)).json();
  assert.equal(seen.path, '/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse');
  assert.match(seen.headers.authorization, /^AWS4-HMAC-SHA256 Credential=AKIDE2ETEST\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=.*x-request-id/);
});

test('Converse: x-mock-words and inferenceConfig.maxTokens set the length (max_tokens), system counts as input', async () => {
  const c = client({ headers: { 'x-mock-words': '40' } });
  const long = await c.send(new ConverseCommand({ modelId: MODEL, messages }));
  assert.equal(long.output.message.content[0].text, text(40));
  const cut = await c.send(new ConverseCommand({
    modelId: MODEL, messages, system: [{ text: 'You are terse, very terse.' }], inferenceConfig: { maxTokens: 7 },
  }));
  assert.equal(cut.output.message.content[0].text, text(7));
  assert.equal(cut.stopReason, 'max_tokens');
  assert.deepEqual(cut.usage, { inputTokens: Math.floor((11 + 26) / 4) + 3, outputTokens: 7, totalTokens: 19 });
});

test('ConverseStream: the deltas assemble to exactly the Converse text, then messageStop and metadata', async () => {
  const c = client({ headers: { 'x-mock-words': '25' } });
  const full = await c.send(new ConverseCommand({ modelId: MODEL, messages }));
  const r = await c.send(new ConverseStreamCommand({ modelId: MODEL, messages }));
  assert.equal(r.$metadata.httpStatusCode, 200);
  const events = await collect(r.stream);
  const kinds = events.map((e) => Object.keys(e)[0]);
  assert.deepEqual(kinds, ['messageStart', ...Array(25).fill('contentBlockDelta'), 'contentBlockStop', 'messageStop', 'metadata']);
  assert.deepEqual(events[0].messageStart, { role: 'assistant' });
  assert.equal(streamText(events), full.output.message.content[0].text);
  assert.equal(streamText(events), text(25));
  for (const e of events.slice(1, 26)) assert.equal(e.contentBlockDelta.contentBlockIndex, 0);
  assert.deepEqual(events.at(-2).messageStop, { stopReason: 'end_turn' });
  assert.deepEqual(events.at(-1).metadata.usage, { inputTokens: 5, outputTokens: 25, totalTokens: 30 });
  assert.equal(typeof events.at(-1).metadata.metrics.latencyMs, 'number');
});

test('tool use: a toolUse block non-streamed, and streamed input pieces assemble to the same JSON', async () => {
  const c = client();
  const full = await c.send(new ConverseCommand({ modelId: MODEL, messages, toolConfig: TOOLS }));
  assert.equal(full.stopReason, 'tool_use');
  assert.equal(full.output.message.content.length, 1);
  const use = full.output.message.content[0].toolUse;
  assert.equal(use.name, 'get_weather');
  assert.match(use.toolUseId, /^tooluse_/);
  assert.deepEqual(use.input, { location: 'Paris', unit: 'celsius' });
  assert.equal(full.usage.outputTokens, 9);

  const r = await c.send(new ConverseStreamCommand({ modelId: MODEL, messages, toolConfig: TOOLS }));
  const events = await collect(r.stream);
  const start = events.find((e) => e.contentBlockStart).contentBlockStart;
  assert.deepEqual(start, { contentBlockIndex: 0, start: { toolUse: { toolUseId: use.toolUseId, name: 'get_weather' } } });
  const pieces = events.filter((e) => e.contentBlockDelta).map((e) => e.contentBlockDelta.delta.toolUse.input);
  assert.ok(pieces.length > 1);
  assert.deepEqual(JSON.parse(pieces.join('')), use.input);
  assert.deepEqual(events.find((e) => e.messageStop).messageStop, { stopReason: 'tool_use' });
  assert.equal(events.at(-1).metadata.usage.outputTokens, 9);
});

test('toolChoice.tool picks the tool to call', async () => {
  const tools = { tools: [...TOOLS.tools, { toolSpec: { name: 'get_time', inputSchema: { json: { type: 'object' } } } }], toolChoice: { tool: { name: 'get_time' } } };
  const r = await client().send(new ConverseCommand({ modelId: MODEL, messages, toolConfig: tools }));
  assert.equal(r.output.message.content[0].toolUse.name, 'get_time');
});

test('signatures: a wrong secret is InvalidSignatureException, an unknown key UnrecognizedClientException', async () => {
  await assert.rejects(
    client({ credentials: { ...CREDS, secretAccessKey: 'not-the-secret' } }).send(new ConverseCommand({ modelId: MODEL, messages })),
    (e) => {
      assert.equal(e.name, 'InvalidSignatureException');
      assert.equal(e.$metadata.httpStatusCode, 403);
      assert.match(e.message, /^The request signature we calculated does not match the signature you provided/);
      return true;
    });
  await assert.rejects(
    client({ credentials: { ...CREDS, accessKeyId: 'AKIDOTHER' } }).send(new ConverseStreamCommand({ modelId: MODEL, messages })),
    (e) => {
      assert.equal(e.name, 'UnrecognizedClientException');
      assert.equal(e.$metadata.httpStatusCode, 403);
      return true;
    });
});

test('signatures: a body or signed header changed after signing is refused; session tokens are signed too', async () => {
  const body = client({
    tamper: (req) => {
      const was = typeof req.body === 'string' ? req.body : new TextDecoder().decode(req.body);
      req.body = was.replace('Hello there', 'Hello thera');
      assert.notEqual(req.body, was);
    },
  });
  await assert.rejects(body.send(new ConverseCommand({ modelId: MODEL, messages })), { name: 'InvalidSignatureException' });
  const hdr = client({ headers: { 'x-mock-words': '3' }, tamper: (req) => { req.headers['x-mock-words'] = '4'; } });
  await assert.rejects(hdr.send(new ConverseCommand({ modelId: MODEL, messages })), { name: 'InvalidSignatureException' });
  const path = client({ tamper: (req) => { req.path = req.path.replace('v1%3A0', 'v2%3A0'); } });
  await assert.rejects(path.send(new ConverseCommand({ modelId: MODEL, messages })), { name: 'InvalidSignatureException' });
  const tok = await client({ credentials: { ...CREDS, sessionToken: 'FwoGZXIvYXdzE//token+/=' } })
    .send(new ConverseCommand({ modelId: MODEL, messages }));
  assert.equal(tok.stopReason, 'end_turn');
  const tokTampered = client({
    credentials: { ...CREDS, sessionToken: 'tok-1' },
    tamper: (req) => { req.headers['x-amz-security-token'] = 'tok-2'; },
  });
  await assert.rejects(tokTampered.send(new ConverseCommand({ modelId: MODEL, messages })), { name: 'InvalidSignatureException' });
});

test('an unsigned request gets 403 MissingAuthenticationTokenException', async () => {
  const r = await fetch(`${mock.url}/model/m/converse`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ messages }),
  });
  assert.equal(r.status, 403);
  assert.match(r.headers.get('x-amzn-errortype'), /^MissingAuthenticationTokenException(:|$)/);
  assert.deepEqual(await r.json(), { message: 'Missing Authentication Token' });
});

test('x-mock-status gives Bedrock exceptions: 429 Throttling, 503 ServiceUnavailable, 424 ModelStreamError', async () => {
  const cases = [
    [429, ConverseCommand, 'ThrottlingException'],
    [503, ConverseCommand, 'ServiceUnavailableException'],
    [500, ConverseCommand, 'InternalServerException'],
    [400, ConverseCommand, 'ValidationException'],
    [424, ConverseCommand, 'ModelErrorException'],
    [424, ConverseStreamCommand, 'ModelStreamErrorException'],
    [429, ConverseStreamCommand, 'ThrottlingException'],
  ];
  for (const [status, Cmd, name] of cases) {
    await assert.rejects(client({ headers: { 'x-mock-status': String(status) } }).send(new Cmd({ modelId: MODEL, messages })),
      (e) => {
        assert.equal(e.name, name, `status ${status}`);
        assert.equal(e.$metadata.httpStatusCode, status);
        assert.ok(e.message.length > 0);
        return true;
      });
  }
  // The signature is checked first, as AWS does.
  await assert.rejects(client({ headers: { 'x-mock-status': '429' }, credentials: { ...CREDS, secretAccessKey: 'x' } })
    .send(new ConverseCommand({ modelId: MODEL, messages })), { name: 'InvalidSignatureException' });
});

test('a cut stream makes the SDK iteration throw after the deltas that came', async () => {
  const r = await client({ headers: { 'x-mock-cut-after': '3', 'x-mock-words': '20' } })
    .send(new ConverseStreamCommand({ modelId: MODEL, messages }));
  const got = [];
  await assert.rejects((async () => { for await (const e of r.stream) got.push(e); })());
  assert.equal(streamText(got), text(3));
  assert.ok(!got.some((e) => e.messageStop));
});

test('a cut Converse body makes the SDK throw', async () => {
  await assert.rejects(client({ headers: { 'x-mock-cut-after': '0' } }).send(new ConverseCommand({ modelId: MODEL, messages })));
});

test('x-mock-stream-exception: an exception message mid-stream is thrown by the SDK as that exception', async () => {
  for (const [hdr, name] of [['modelStreamErrorException', 'ModelStreamErrorException'], ['throttlingException', 'ThrottlingException']]) {
    const r = await client({ headers: { 'x-mock-stream-exception': hdr, 'x-mock-words': '10' } })
      .send(new ConverseStreamCommand({ modelId: MODEL, messages }));
    const got = [];
    await assert.rejects((async () => { for await (const e of r.stream) got.push(e); })(), (e) => {
      assert.equal(e.name, name);
      return true;
    });
    assert.equal(streamText(got), text(5));
  }
});

test('x-mock-malformed: a message with a bad CRC makes the SDK iteration throw', async () => {
  const r = await client({ headers: { 'x-mock-malformed': '1', 'x-mock-words': '10' } })
    .send(new ConverseStreamCommand({ modelId: MODEL, messages }));
  const got = [];
  await assert.rejects((async () => { for await (const e of r.stream) got.push(e); })(), /checksum|crc/i);
  assert.equal(streamText(got), text(5));
});

test('delays: latency before the answer, chunk delays between stream events', async () => {
  const c = client({ headers: { 'x-mock-latency-ms': '250' } });
  let t = Date.now();
  const r = await c.send(new ConverseCommand({ modelId: MODEL, messages }));
  assert.ok(Date.now() - t >= 240, `took ${Date.now() - t} ms`);
  assert.equal(r.metrics.latencyMs, 250);
  const s = await client({ headers: { 'x-mock-chunk-delay-ms': '60', 'x-mock-words': '5' } })
    .send(new ConverseStreamCommand({ modelId: MODEL, messages }));
  t = Date.now();
  const stamps = [];
  for await (const e of s.stream) if (e.contentBlockDelta) stamps.push(Date.now() - t);
  assert.equal(stamps.length, 5);
  assert.ok(stamps[4] - stamps[0] >= 4 * 60 - 20, `deltas at ${stamps}`);
});
