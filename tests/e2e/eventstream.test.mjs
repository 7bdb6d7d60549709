// The AWS event stream framing (Bedrock ConverseStream): frames written by our encoder
// (src/net/eventstream.c, via `test_eventstream --encode`) read back with AWS's own codec, and AWS's
// codec writes the very same bytes for the same messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { EventStreamCodec, Int64 } from '@smithy/eventstream-codec';
import { toUtf8, fromUtf8 } from '@smithy/util-utf8';
import { BUILD } from './harness.mjs';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

// What tests/unit/test_eventstream.c's sample_stream() writes, in the codec's terms.
const bedrock = (eventType, messageType = 'event') => ({
  [messageType === 'event' ? ':event-type' : ':exception-type']: { type: 'string', value: eventType },
  ':content-type': { type: 'string', value: 'application/json' },
  ':message-type': { type: 'string', value: messageType },
});
const expected = [
  {
    headers: {
      ...bedrock('contentBlockDelta'),
      flag: { type: 'boolean', value: true },
      off: { type: 'boolean', value: false },
      b: { type: 'byte', value: -7 },
      s: { type: 'short', value: 1234 },
      i: { type: 'integer', value: -123456 },
      l: { type: 'long', value: Int64.fromNumber(1234567890123) },
      raw: { type: 'binary', value: new Uint8Array([0, 1, 2, 255]) },
      ts: { type: 'timestamp', value: new Date(1700000000123) },
      id: { type: 'uuid', value: '0123abcd-4567-89ef-0123-456789abcdef' },
    },
    body: '{"contentBlockIndex":0,"delta":{"text":"Hi"}}',
  },
  { headers: bedrock('contentBlockDelta'), body: '{"contentBlockIndex":0,"delta":{"text":" there"}}' },
  { headers: bedrock('throttlingException', 'exception'), body: '' },
];

// Splits a stream into its frames by their length prefix (the codec decodes one frame at a time).
function frames(bytes) {
  const out = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at < bytes.length; ) {
    const total = view.getUint32(at, false);
    assert.ok(total >= 16 && at + total <= bytes.length, `frame at ${at} has a sane length`);
    out.push(bytes.subarray(at, at + total));
    at += total;
  }
  return out;
}

// Makes a decoded header comparable: Int64 and Date become numbers, bytes become arrays.
function plain(headers) {
  const out = {};
  for (const [name, { type, value }] of Object.entries(headers)) {
    let v = value;
    if (value instanceof Int64) v = value.valueOf();
    else if (value instanceof Date) v = value.getTime();
    else if (value instanceof Uint8Array) v = [...value];
    out[name] = { type, value: v };
  }
  return out;
}

const ours = new Uint8Array(execFileSync(path.join(BUILD, 'tests', 'test_eventstream'), ['--encode']));

test('frames from our encoder decode with AWS codec to the same headers and payload', () => {
  const got = frames(ours).map((f) => codec.decode(f));
  assert.equal(got.length, expected.length);
  got.forEach((m, k) => {
    assert.deepEqual(Object.keys(m.headers), Object.keys(expected[k].headers),
      `header order of message ${k}`);
    assert.deepEqual(plain(m.headers), plain(expected[k].headers), `headers of message ${k}`);
    assert.equal(toUtf8(m.body), expected[k].body, `payload of message ${k}`);
  });
});

test('AWS codec encodes the same messages to the same bytes', () => {
  const theirs = expected.map((m) => codec.encode({ headers: m.headers, body: fromUtf8(m.body) }));
  const ourFrames = frames(ours);
  theirs.forEach((t, k) => assert.deepEqual([...ourFrames[k]], [...t], `bytes of message ${k}`));
});

test('AWS codec refuses our frame with one bit flipped (the CRCs cover every byte)', () => {
  const f = new Uint8Array(frames(ours)[1]);
  f[20] ^= 1;
  assert.throws(() => codec.decode(f), /checksum/i);
});
