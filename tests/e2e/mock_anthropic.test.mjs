// mockllm's Anthropic Messages API, judged by the official @anthropic-ai/sdk pointed straight at
// it (no gateway): if the SDK parses, assembles and raises what it would from api.anthropic.com,
// the mock speaks the protocol. Tests that run the gateway against the mock rely on this.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic, {
  APIError, BadRequestError, AuthenticationError, PermissionDeniedError, NotFoundError,
  RateLimitError, InternalServerError, OverloadedError,
} from '@anthropic-ai/sdk';
import { startMock, stop } from './harness.mjs';

let mock, client;
const model = 'claude-mock-1';
const messages = [{ role: 'user', content: 'Hello there, what is the weather like?' }];
const system = 'You are a terse assistant.';
const tools = [{
  name: 'get_weather', description: 'Weather for a place',
  input_schema: { type: 'object', properties: { location: { type: 'string' }, unit: { type: 'string' } } },
}];
const thinking = { type: 'enabled', budget_tokens: 1024 };

before(async () => {
  mock = await startMock();
  // logLevel off: the malformed-stream test would make the SDK log the bad event.
  client = new Anthropic({ apiKey: 'k', baseURL: mock.url, maxRetries: 0, logLevel: 'off' });
});
after(async () => stop(mock));

// The SSE event names of a raw stream, in order.
async function rawEventNames(body, headers = {}) {
  const r = await fetch(`${mock.url}/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body),
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^text\/event-stream/);
  const text = await r.text();
  return [...text.matchAll(/^event: (\S+)$/gm)].map((m) => m[1]);
}

// Runs fn, which must reject; returns the error.
async function rejects(fn) {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  assert.fail('expected an error');
}

test('non-streaming create: the SDK gets a whole Message with usage and request id', async () => {
  const { data, response, request_id } = await client.messages
    .create({ model, max_tokens: 1024, system, messages }).withResponse();
  assert.match(data.id, /^msg_mock_\d+$/);
  assert.equal(data.type, 'message');
  assert.equal(data.role, 'assistant');
  assert.equal(data.model, model);
  assert.equal(data.content.length, 1);
  assert.equal(data.content[0].type, 'text');
  assert.match(data.content[0].text, /^The quick brown fox jumps over the lazy dog/);
  assert.equal(data.stop_reason, 'end_turn');
  assert.equal(data.stop_sequence, null);
  assert.ok(data.usage.input_tokens > 0);
  assert.equal(data.usage.output_tokens, data.content[0].text.split(' ').length);
  assert.equal(data.usage.cache_creation_input_tokens, 0);
  assert.equal(data.usage.cache_read_input_tokens, 0);
  assert.equal(response.status, 200);
  assert.match(request_id, /^req_mock_\d+$/);
});

test('max_tokens smaller than the answer: stop_reason max_tokens and that many words', async () => {
  const m = await client.messages.create({ model, max_tokens: 3, messages });
  assert.equal(m.stop_reason, 'max_tokens');
  assert.equal(m.content[0].text, 'The quick brown');
  assert.equal(m.usage.output_tokens, 3);
});

test('stop_sequences: the text ends before the earliest match, streamed or not', async () => {
  const params = { model, max_tokens: 1024, messages, stop_sequences: ['lazy', 'fox', 'absent'] };
  const full = await client.messages.create(params);
  assert.equal(full.content[0].text, 'The quick brown ');
  assert.equal(full.stop_reason, 'stop_sequence');
  assert.equal(full.stop_sequence, 'fox');
  assert.equal(full.usage.output_tokens, 4);
  const fin = await client.messages.stream(params).finalMessage();
  assert.equal(fin.content[0].text, full.content[0].text);
  assert.equal(fin.stop_reason, 'stop_sequence');
  assert.equal(fin.stop_sequence, 'fox');
  assert.equal(fin.usage.output_tokens, 4);
  const none = await client.messages.create({ ...params, stop_sequences: ['absent'] });
  assert.equal(none.stop_reason, 'end_turn');
  assert.equal(none.stop_sequence, null);
});

test('messages.stream: events in order, finalMessage equals the non-streamed message', async () => {
  const full = await client.messages.create({ model, max_tokens: 1024, system, messages });
  const stream = client.messages.stream({ model, max_tokens: 1024, system, messages });
  const types = [];
  let texts = '';
  stream.on('text', (t) => { texts += t; });
  for await (const ev of stream) types.push(ev.type + (ev.delta?.type ? `:${ev.delta.type}` : ''));
  const fin = await stream.finalMessage();
  const nwords = full.content[0].text.split(' ').length;
  assert.deepEqual(types, ['message_start', 'content_block_start',
    ...Array(nwords).fill('content_block_delta:text_delta'),
    'content_block_stop', 'message_delta', 'message_stop']);
  assert.equal(fin.content[0].text, full.content[0].text);
  assert.equal(texts, full.content[0].text);
  assert.equal(await stream.finalText(), full.content[0].text);
  assert.equal(fin.stop_reason, 'end_turn');
  assert.equal(fin.stop_sequence, null);
  assert.equal(fin.usage.output_tokens, full.usage.output_tokens); // message_delta's cumulative count
  assert.equal(fin.usage.input_tokens, full.usage.input_tokens);
  assert.match(fin.id, /^msg_mock_\d+$/);
});

test('create({stream:true}): raw SDK events, and the wire has ping right after content_block_start', async () => {
  const s = await client.messages.create({ model, max_tokens: 1024, messages, stream: true },
    { headers: { 'x-mock-words': '4' } });
  let text = '';
  let last;
  let outTokens;
  for await (const ev of s) {
    if (ev.type === 'content_block_delta') text += ev.delta.text;
    if (ev.type === 'message_delta') outTokens = ev.usage.output_tokens;
    last = ev.type;
  }
  assert.equal(text, 'The quick brown fox');
  assert.equal(outTokens, 4);
  assert.equal(last, 'message_stop');
  const names = await rawEventNames({ model, max_tokens: 1024, messages, stream: true }, { 'x-mock-words': '2' });
  assert.deepEqual(names, ['message_start', 'content_block_start', 'ping', 'content_block_delta',
    'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
});

test('tools: tool_use non-streamed, and input_json_delta assembled by finalMessage to the same input', async () => {
  const full = await client.messages.create({ model, max_tokens: 1024, messages, tools });
  assert.equal(full.stop_reason, 'tool_use');
  assert.equal(full.content.length, 1);
  const use = full.content[0];
  assert.equal(use.type, 'tool_use');
  assert.match(use.id, /^toolu_/);
  assert.equal(use.name, 'get_weather');
  assert.deepEqual(use.input, { location: 'Paris', unit: 'celsius' });

  const stream = client.messages.stream({ model, max_tokens: 1024, messages, tools });
  const pieces = [];
  for await (const ev of stream)
    if (ev.type === 'content_block_delta') {
      assert.equal(ev.delta.type, 'input_json_delta');
      pieces.push(ev.delta.partial_json);
    }
  const fin = await stream.finalMessage();
  assert.ok(pieces.length > 1, 'the input comes in several pieces');
  assert.equal(fin.stop_reason, 'tool_use');
  assert.equal(fin.content[0].type, 'tool_use');
  assert.equal(fin.content[0].id, use.id);
  assert.equal(fin.content[0].name, use.name);
  assert.deepEqual(fin.content[0].input, use.input);
  assert.equal(fin.usage.output_tokens, full.usage.output_tokens);

  const none = await client.messages.create({ model, max_tokens: 1024, messages, tools, tool_choice: { type: 'none' } });
  assert.equal(none.content[0].type, 'text');
  const named = await client.messages.create({ model, max_tokens: 1024, messages,
    tools: [...tools, { name: 'other', input_schema: { type: 'object' } }], tool_choice: { type: 'tool', name: 'other' } });
  assert.equal(named.content[0].name, 'other');
});

test('thinking: a signed thinking block first, streamed with thinking_delta and signature_delta', async () => {
  const full = await client.messages.create({ model, max_tokens: 2048, messages, thinking });
  assert.deepEqual(full.content.map((b) => b.type), ['thinking', 'text']);
  assert.ok(full.content[0].thinking.length > 0);
  assert.ok(full.content[0].signature.length > 0);
  assert.equal(full.stop_reason, 'end_turn');

  const stream = client.messages.stream({ model, max_tokens: 2048, messages, thinking });
  let thought = '';
  let signature;
  stream.on('thinking', (d) => { thought += d; });
  stream.on('signature', (sig) => { signature = sig; });
  const deltas = [];
  for await (const ev of stream) if (ev.type === 'content_block_delta') deltas.push(`${ev.index}:${ev.delta.type}`);
  const fin = await stream.finalMessage();
  assert.deepEqual(fin.content, full.content);
  assert.equal(thought, full.content[0].thinking);
  assert.equal(signature, full.content[0].signature);
  assert.equal(deltas[0], '0:thinking_delta');
  assert.equal(deltas.filter((d) => d === '0:signature_delta').length, 1);
  assert.equal(deltas.indexOf('0:signature_delta'), deltas.lastIndexOf('0:thinking_delta') + 1);
  assert.ok(deltas.slice(deltas.indexOf('0:signature_delta') + 1).every((d) => d === '1:text_delta'));
  assert.equal(fin.usage.output_tokens, full.usage.output_tokens);

  // With tools the thinking block comes before the tool_use block.
  const withTool = await client.messages.stream({ model, max_tokens: 2048, messages, thinking, tools }).finalMessage();
  assert.deepEqual(withTool.content.map((b) => b.type), ['thinking', 'tool_use']);
  assert.deepEqual(withTool.content[1].input, { location: 'Paris', unit: 'celsius' });

  // The API's checks on the budget.
  for (const bad of [{ type: 'enabled', budget_tokens: 100 }, { type: 'enabled', budget_tokens: 4096 }]) {
    const e = await rejects(() => client.messages.create({ model, max_tokens: 2048, messages, thinking: bad }));
    assert.ok(e instanceof BadRequestError, String(e));
  }
  const off = await client.messages.create({ model, max_tokens: 100, messages, thinking: { type: 'disabled' } });
  assert.deepEqual(off.content.map((b) => b.type), ['text']);
});

test('injected statuses raise the SDK error classes, with Anthropic error types and request-id', async () => {
  const cases = [
    [400, BadRequestError, 'invalid_request_error'],
    [401, AuthenticationError, 'authentication_error'],
    [403, PermissionDeniedError, 'permission_error'],
    [404, NotFoundError, 'not_found_error'],
    [429, RateLimitError, 'rate_limit_error'],
    [500, InternalServerError, 'api_error'],
    [529, OverloadedError, 'overloaded_error'],
  ];
  for (const [status, Cls, type] of cases) {
    const headers = { 'x-mock-status': String(status) };
    if (status === 429) headers['x-mock-retry-after'] = '7';
    const e = await rejects(() => client.messages.create({ model, max_tokens: 10, messages }, { headers }));
    assert.ok(e instanceof Cls, `${status}: ${e}`);
    assert.ok(e instanceof APIError);
    assert.equal(e.status, status);
    assert.equal(e.type, type, `${status}`);
    assert.equal(e.error.type, 'error');
    assert.equal(e.error.error.type, type);
    assert.match(e.error.error.message, /injected error/);
    assert.match(e.requestID, /^req_mock_\d+$/);
    if (status === 429) assert.equal(e.headers.get('retry-after'), '7');
    if (status === 529) assert.ok(e instanceof InternalServerError);
  }
  // The same for a stream request: the error comes before any event.
  const e = await rejects(() => client.messages.stream({ model, max_tokens: 10, messages },
    { headers: { 'x-mock-status': '529' } }).finalMessage());
  assert.ok(e instanceof OverloadedError, String(e));
});

test('the SDK retries a 529 (maxRetries 2: three requests) and then raises OverloadedError', async () => {
  const retrying = new Anthropic({ apiKey: 'k', baseURL: mock.url, maxRetries: 2 });
  await fetch(`${mock.url}/mock/reset`, { method: 'POST' });
  const e = await rejects(() => retrying.messages.create({ model, max_tokens: 10, messages },
    { headers: { 'x-mock-status': '529', 'x-mock-retry-after': '0' } }));
  assert.ok(e instanceof OverloadedError);
  const stats = await (await fetch(`${mock.url}/mock/stats`)).json();
  assert.equal(stats.requests, 3);
});

test('an error event mid-stream: the SDK iteration throws an overloaded APIError', async () => {
  const headers = { 'x-mock-stream-error': '3', 'x-mock-words': '10' };
  const s = await client.messages.create({ model, max_tokens: 1024, messages, stream: true }, { headers });
  let deltas = 0;
  const e = await rejects(async () => {
    for await (const ev of s) if (ev.type === 'content_block_delta') deltas++;
  });
  assert.equal(deltas, 3);
  assert.ok(e instanceof APIError, String(e));
  assert.equal(e.type, 'overloaded_error');
  assert.equal(e.error.error.type, 'overloaded_error');

  const e2 = await rejects(() => client.messages.stream({ model, max_tokens: 1024, messages }, { headers }).finalMessage());
  assert.ok(e2 instanceof APIError, String(e2));
  assert.equal(e2.type, 'overloaded_error');

  // On the wire: the error event replaces the 4th delta and nothing follows it.
  const names = await rawEventNames({ model, max_tokens: 1024, messages, stream: true }, headers);
  assert.deepEqual(names.slice(-5),
    ['ping', 'content_block_delta', 'content_block_delta', 'content_block_delta', 'error']);
  // After the last delta (N >= all deltas) it comes instead of content_block_stop.
  const late = await rawEventNames({ model, max_tokens: 1024, messages, stream: true },
    { 'x-mock-stream-error': '99', 'x-mock-words': '2' });
  assert.deepEqual(late.slice(-3), ['content_block_delta', 'content_block_delta', 'error']);
});

test('a stream cut by the server (x-mock-cut-after) makes the SDK throw', async () => {
  const headers = { 'x-mock-cut-after': '2', 'x-mock-words': '10' };
  const s = await client.messages.create({ model, max_tokens: 1024, messages, stream: true }, { headers });
  let text = '';
  const e = await rejects(async () => {
    for await (const ev of s) if (ev.type === 'content_block_delta') text += ev.delta.text;
  });
  assert.equal(text, 'The quick');
  assert.ok(e instanceof Error);
  const e2 = await rejects(() => client.messages.stream({ model, max_tokens: 1024, messages }, { headers }).finalMessage());
  assert.ok(e2 instanceof Error);
  // A non-stream answer that is cut is a connection error too.
  const e3 = await rejects(() => client.messages.create({ model, max_tokens: 1024, messages }, { headers }));
  assert.ok(e3 instanceof Error);
});

test('a malformed event mid-stream or a malformed body (x-mock-malformed) makes the SDK throw', async () => {
  const headers = { 'x-mock-malformed': '1', 'x-mock-words': '6' };
  const s = await client.messages.create({ model, max_tokens: 1024, messages, stream: true }, { headers });
  let deltas = 0;
  const e = await rejects(async () => {
    for await (const ev of s) if (ev.type === 'content_block_delta') deltas++;
  });
  assert.ok(e instanceof SyntaxError, String(e));
  assert.equal(deltas, 3);
  const e2 = await rejects(() => client.messages.create({ model, max_tokens: 1024, messages }, { headers }));
  assert.ok(e2 instanceof Error);
});

test('messages.countTokens: input_tokens equals the usage of the same request', async () => {
  const counted = await client.messages.countTokens({ model, system, messages });
  assert.deepEqual(Object.keys(counted), ['input_tokens']);
  const full = await client.messages.create({ model, max_tokens: 10, system, messages });
  assert.equal(counted.input_tokens, full.usage.input_tokens);
  const longer = await client.messages.countTokens({ model, system, messages: [...messages,
    { role: 'assistant', content: 'It is sunny.' }, { role: 'user', content: 'And tomorrow?' }] });
  assert.ok(longer.input_tokens > counted.input_tokens);
  const e = await rejects(() => client.messages.countTokens({ model, messages }, { headers: { 'x-mock-status': '401' } }));
  assert.ok(e instanceof AuthenticationError);
});

test('missing max_tokens or messages, or a body that is not JSON: 400 invalid_request_error', async () => {
  const e = await rejects(() => client.messages.create({ model, messages }));
  assert.ok(e instanceof BadRequestError, String(e));
  assert.equal(e.type, 'invalid_request_error');
  assert.match(e.error.error.message, /max_tokens/);
  const e2 = await rejects(() => client.messages.create({ model, max_tokens: 10 }));
  assert.ok(e2 instanceof BadRequestError);
  assert.match(e2.error.error.message, /messages/);
  const r = await fetch(`${mock.url}/v1/messages`, { method: 'POST', body: '{not json' });
  assert.equal(r.status, 400);
  assert.deepEqual(Object.keys(await r.json()), ['type', 'error']);
});

// SDK 1.x (API version 2026-10-21) sends the key as `Authorization: Bearer`; older clients and
// gateways send `x-api-key`. mockllm checks neither and records both.
test('the key (Authorization or x-api-key) and anthropic-version are recorded as sent', async () => {
  const id = `anth-${Date.now()}`;
  await client.messages.create({ model, max_tokens: 10, messages }, { headers: { 'x-request-id': id } });
  const seen = await (await fetch(`${mock.url}/mock/requests/${id}`)).json();
  assert.equal(seen.path, '/v1/messages');
  assert.equal(seen.headers.authorization, 'Bearer k');
  assert.match(seen.headers['anthropic-version'], /^\d{4}-\d{2}-\d{2}$/);
  assert.equal(JSON.parse(seen.body).max_tokens, 10);

  const legacy = new Anthropic({ apiKey: null, authToken: null, baseURL: mock.url, maxRetries: 0,
    defaultHeaders: { 'x-api-key': 'k2', 'anthropic-version': '2023-06-01' } });
  const id2 = `${id}-2`;
  const m = await legacy.messages.create({ model, max_tokens: 10, messages }, { headers: { 'x-request-id': id2 } });
  assert.equal(m.type, 'message');
  const seen2 = await (await fetch(`${mock.url}/mock/requests/${id2}`)).json();
  assert.equal(seen2.headers['x-api-key'], 'k2');
  assert.equal(seen2.headers['anthropic-version'], '2023-06-01');
  assert.equal(seen2.headers.authorization, undefined);
});
