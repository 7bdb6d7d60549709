// mockllm's Gemini API (generativelanguage v1beta), checked with the official @google/genai SDK
// pointed straight at the mock (no gateway in between).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { GoogleGenAI, ApiError, FinishReason, BlockedReason } from '@google/genai';
import { startMock, stop } from './harness.mjs';

let mock;
const MODEL = 'gemini-2.5-flash';
const PROMPT = 'Hello there, Gemini'; // 19 bytes: 19 / 4 + 3 = 7 prompt tokens
const TEXT12 = 'The quick brown fox jumps over the lazy dog while mock models';
const tools = [{
  functionDeclarations: [{
    name: 'get_weather',
    description: 'Weather for a place',
    parameters: { type: 'OBJECT', properties: { location: { type: 'STRING' }, unit: { type: 'STRING' } } },
  }, { name: 'other_tool' }],
}];

// A client on the mock; headers are extra request headers (x-mock-* faults).
function client(headers = {}) {
  return new GoogleGenAI({ apiKey: 'test-gemini-key', httpOptions: { baseUrl: mock.url, headers } });
}

before(async () => {
  mock = await startMock();
});
after(async () => stop(mock));

test('generateContent: text, finish reason, usage, model version; the key reaches the mock', async () => {
  const id = `gem-${Date.now()}`;
  const r = await client({ 'x-request-id': id }).models.generateContent({ model: MODEL, contents: PROMPT });
  assert.equal(r.text, TEXT12);
  assert.equal(r.candidates.length, 1);
  assert.equal(r.candidates[0].content.role, 'model');
  assert.equal(r.candidates[0].finishReason, FinishReason.STOP);
  assert.equal(r.candidates[0].index, 0);
  assert.equal(r.usageMetadata.promptTokenCount, 7);
  assert.equal(r.usageMetadata.candidatesTokenCount, 12);
  assert.equal(r.usageMetadata.totalTokenCount, 19);
  assert.equal(r.modelVersion, MODEL);
  assert.match(r.responseId, /^mock-gemini-\d+$/);
  const seen = await (await fetch(`${mock.url}/mock/requests/${id}`)).json();
  assert.equal(seen.path, `/v1beta/models/${MODEL}:generateContent`);
  assert.equal(seen.headers['x-goog-api-key'], 'test-gemini-key');
  assert.deepEqual(JSON.parse(seen.body).contents, [{ role: 'user', parts: [{ text: PROMPT }] }]);
});

test('generateContent: maxOutputTokens cuts the text with finishReason MAX_TOKENS', async () => {
  const r = await client().models.generateContent({ model: MODEL, contents: PROMPT, config: { maxOutputTokens: 4 } });
  assert.equal(r.text, 'The quick brown fox');
  assert.equal(r.candidates[0].finishReason, FinishReason.MAX_TOKENS);
  assert.equal(r.usageMetadata.candidatesTokenCount, 4);
});

test('thinkingBudget adds thoughtsTokenCount, counted in totalTokenCount', async () => {
  const r = await client().models.generateContent({
    model: MODEL, contents: PROMPT, config: { thinkingConfig: { thinkingBudget: 1024 } },
  });
  assert.equal(r.text, TEXT12);
  assert.equal(r.usageMetadata.thoughtsTokenCount, 16);
  assert.equal(r.usageMetadata.totalTokenCount, 7 + 12 + 16);
  const plain = await client().models.generateContent({ model: MODEL, contents: PROMPT });
  assert.equal(plain.usageMetadata.thoughtsTokenCount, undefined);
});

test('generateContentStream (SSE): the pieces assemble to the same text; the last chunk has finishReason and usage', async () => {
  const id = `gem-sse-${Date.now()}`;
  const stream = await client({ 'x-request-id': id }).models.generateContentStream({ model: MODEL, contents: PROMPT });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.equal(chunks.length, 13); // one per word, then the finishing chunk
  assert.equal(chunks.map((c) => c.text ?? '').join(''), TEXT12);
  for (const c of chunks.slice(0, -1)) {
    assert.equal(c.candidates[0].finishReason, undefined);
    assert.equal(c.usageMetadata.candidatesTokenCount, undefined);
  }
  const last = chunks.at(-1);
  assert.equal(last.candidates[0].finishReason, FinishReason.STOP);
  assert.equal(last.usageMetadata.promptTokenCount, 7);
  assert.equal(last.usageMetadata.candidatesTokenCount, 12);
  assert.equal(last.usageMetadata.totalTokenCount, 19);
  assert.equal(last.modelVersion, MODEL);
  const seen = await (await fetch(`${mock.url}/mock/requests/${id}`)).json();
  assert.equal(seen.url, `/v1beta/models/${MODEL}:streamGenerateContent?alt=sse`);
});

test('streamGenerateContent without alt=sse answers one JSON array of responses', async () => {
  const r = await fetch(`${mock.url}/v1beta/models/${MODEL}:streamGenerateContent?key=k`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-mock-words': '5' },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: PROMPT }] }] }),
  });
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /^application\/json/);
  const arr = JSON.parse(await r.text());
  assert.equal(arr.length, 6);
  assert.equal(arr.map((x) => x.candidates[0].content.parts[0].text).join(''), 'The quick brown fox jumps');
  assert.equal(arr.at(-1).candidates[0].finishReason, 'STOP');
  assert.equal(arr.at(-1).usageMetadata.candidatesTokenCount, 5);
});

test('function calling: non-streamed, the first declaration is called with finishReason STOP', async () => {
  const r = await client().models.generateContent({ model: MODEL, contents: 'Weather in Paris?', config: { tools } });
  assert.deepEqual(r.functionCalls, [{ name: 'get_weather', args: { location: 'Paris', unit: 'celsius' } }]);
  assert.equal(r.candidates[0].finishReason, FinishReason.STOP);
  assert.equal(r.candidates[0].content.parts.length, 1); // the call only, no text part
  assert.equal(r.usageMetadata.candidatesTokenCount, 9);
});

test('function calling: streamed, the whole call comes in one chunk', async () => {
  const stream = await client().models.generateContentStream({
    model: MODEL, contents: 'Weather in Paris?',
    config: { tools, toolConfig: { functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['other_tool'] } } },
  });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.equal(chunks.length, 1);
  assert.deepEqual(chunks[0].functionCalls, [{ name: 'other_tool', args: { location: 'Paris', unit: 'celsius' } }]);
  assert.equal(chunks[0].candidates[0].finishReason, FinishReason.STOP);
  assert.equal(chunks[0].usageMetadata.candidatesTokenCount, 9);
});

test('function calling mode NONE gets text', async () => {
  const r = await client().models.generateContent({
    model: MODEL, contents: PROMPT, config: { tools, toolConfig: { functionCallingConfig: { mode: 'NONE' } } },
  });
  assert.equal(r.text, TEXT12);
  assert.equal(r.functionCalls, undefined);
});

test('x-mock-safety: 1 blocks the prompt: promptFeedback.blockReason SAFETY, no candidates', async () => {
  const r = await client({ 'x-mock-safety': '1' }).models.generateContent({ model: MODEL, contents: PROMPT });
  assert.equal(r.candidates, undefined);
  assert.equal(r.text, undefined);
  assert.equal(r.promptFeedback.blockReason, BlockedReason.SAFETY);
  assert.ok(r.promptFeedback.safetyRatings.some((x) => x.blocked === true && x.probability === 'HIGH'));
  assert.equal(r.usageMetadata.promptTokenCount, 7);

  const stream = await client({ 'x-mock-safety': '1' }).models.generateContentStream({ model: MODEL, contents: PROMPT });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0].promptFeedback.blockReason, BlockedReason.SAFETY);
  assert.equal(chunks[0].candidates, undefined);
});

test('x-mock-safety: candidate gives finishReason SAFETY with safetyRatings', async () => {
  const r = await client({ 'x-mock-safety': 'candidate' }).models.generateContent({ model: MODEL, contents: PROMPT });
  assert.equal(r.candidates[0].finishReason, FinishReason.SAFETY);
  assert.equal(r.candidates[0].content, undefined);
  assert.equal(r.text, undefined);
  assert.ok(r.candidates[0].safetyRatings.some((x) => x.category === 'HARM_CATEGORY_DANGEROUS_CONTENT' && x.blocked));

  const stream = await client({ 'x-mock-safety': 'candidate', 'x-mock-words': '3' })
    .models.generateContentStream({ model: MODEL, contents: PROMPT });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  assert.equal(chunks.length, 4);
  assert.equal(chunks.map((c) => c.text ?? '').join(''), 'The quick brown');
  assert.equal(chunks.at(-1).candidates[0].finishReason, FinishReason.SAFETY);
});

test('x-mock-status: 429 makes the SDK throw an ApiError with status 429 and RESOURCE_EXHAUSTED', async () => {
  await assert.rejects(
    client({ 'x-mock-status': '429' }).models.generateContent({ model: MODEL, contents: PROMPT }),
    (e) => {
      assert.ok(e instanceof ApiError);
      assert.equal(e.status, 429);
      const body = JSON.parse(e.message);
      assert.equal(body.error.code, 429);
      assert.equal(body.error.status, 'RESOURCE_EXHAUSTED');
      return true;
    });
  for (const [code, status] of [[500, 'INTERNAL'], [503, 'UNAVAILABLE']]) {
    await assert.rejects(
      client({ 'x-mock-status': String(code) }).models.generateContentStream({ model: MODEL, contents: PROMPT }),
      (e) => e instanceof ApiError && e.status === code && JSON.parse(e.message).error.status === status);
  }
});

test('a request without an API key gets 403 PERMISSION_DENIED in Google\'s error shape', async () => {
  const r = await fetch(`${mock.url}/v1beta/models/${MODEL}:generateContent`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ contents: [{ parts: [{ text: 'x' }] }] }),
  });
  assert.equal(r.status, 403);
  const body = await r.json();
  assert.equal(body.error.code, 403);
  assert.equal(body.error.status, 'PERMISSION_DENIED');
  // ?key= works as well as the header.
  const ok = await fetch(`${mock.url}/v1beta/models/${MODEL}:generateContent?key=abc`, {
    method: 'POST', body: JSON.stringify({ contents: [{ parts: [{ text: 'x' }] }] }),
  });
  assert.equal(ok.status, 200);
});

test('x-mock-cut-after: the SDK stream fails after that many chunks', async () => {
  const stream = await client({ 'x-mock-cut-after': '3' }).models.generateContentStream({ model: MODEL, contents: PROMPT });
  const texts = [];
  await assert.rejects(async () => {
    for await (const c of stream) texts.push(c.text);
  });
  assert.deepEqual(texts, ['The', ' quick', ' brown']);
});

test('countTokens answers the promptTokenCount of the same contents', async () => {
  const r = await client().models.countTokens({ model: MODEL, contents: PROMPT });
  assert.equal(r.totalTokens, 7);
  const g = await client().models.generateContent({ model: MODEL, contents: PROMPT });
  assert.equal(g.usageMetadata.promptTokenCount, r.totalTokens);
});
