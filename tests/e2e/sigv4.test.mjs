// Our AWS SigV4 signer (src/providers/sigv4.c) against the official one the AWS SDKs use
// (@smithy/signature-v4): for each request both sign, and the headers must be identical. Ours runs
// through the unit-test binary's --sign mode (see the top of tests/unit/test_sigv4.c).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import { Sha256 } from '@aws-crypto/sha256-js';
import { BUILD } from './harness.mjs';

const SIGNER = path.join(BUILD, 'tests', 'test_sigv4');

before(() => {
  assert.ok(existsSync(SIGNER), `${SIGNER} is missing: build it first (make ${path.relative(process.cwd(), SIGNER)})`);
});
const CREDS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const TOKEN = 'IQoJb3JpZ2luX2VjEXAMPLE//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+token/with=chars==';
const MODEL = 'anthropic.claude-3-5-sonnet-20240620-v1:0';
const BODY = JSON.stringify({
  messages: [{ role: 'user', content: [{ text: 'Hello, "world" – ünïcode ✓' }] }],
  inferenceConfig: { maxTokens: 64, temperature: 0.5 },
});

// "20240701T101500Z" -> Date
function amzToDate(d) {
  return new Date(`${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`);
}

// The query object as raw wire text, the way an HTTP client would send it.
function rawQuery(query) {
  const parts = [];
  for (const [k, v] of Object.entries(query)) {
    for (const one of Array.isArray(v) ? v : [v]) parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(one)}`);
  }
  return parts.join('&');
}

async function smithySign(req) {
  const signer = new SignatureV4({
    credentials: { ...CREDS, ...(req.token ? { sessionToken: req.token } : {}) },
    region: req.region,
    service: req.service,
    sha256: Sha256,
    applyChecksum: !!req.contentSha256,
  });
  const signed = await signer.sign(
    {
      method: req.method,
      protocol: 'https:',
      hostname: req.host.split(':')[0],
      path: req.path,
      query: req.query || {},
      headers: { host: req.host, ...req.headers },
      body: req.body,
    },
    { signingDate: amzToDate(req.amzDate) },
  );
  const want = {};
  for (const name of ['authorization', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256']) {
    if (signed.headers[name] !== undefined) want[name] = signed.headers[name];
  }
  return want;
}

function ourSign(req) {
  const lines = [
    `access_key=${CREDS.accessKeyId}`,
    `secret_key=${CREDS.secretAccessKey}`,
    `method=${req.method}`,
    `host=${req.host}`,
    `path=${req.path}`,
    `query=${req.query ? rawQuery(req.query) : ''}`,
    `region=${req.region}`,
    `service=${req.service}`,
    `amz_date=${req.amzDate}`,
  ];
  if (req.token) lines.push(`session_token=${req.token}`);
  if (req.contentSha256) lines.push('content_sha256=1');
  if (req.body !== undefined) lines.push(`body=${req.body}`);
  for (const [k, v] of Object.entries(req.headers || {})) lines.push(`header=${k}:${v}`);
  const out = execFileSync(SIGNER, ['--sign'], {
    input: lines.join('\n') + '\n',
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const got = {};
  for (const line of out.split('\n').filter(Boolean)) {
    const at = line.indexOf(': ');
    got[line.slice(0, at).toLowerCase()] = line.slice(at + 2);
  }
  return got;
}

const bedrock = {
  method: 'POST',
  host: 'bedrock-runtime.us-east-1.amazonaws.com',
  path: `/model/${encodeURIComponent(MODEL)}/converse`,
  headers: { 'content-type': 'application/json', accept: 'application/json' },
  body: BODY,
  region: 'us-east-1',
  service: 'bedrock',
  amzDate: '20240701T101500Z',
};

const cases = {
  'the AWS documentation example (IAM ListUsers)': {
    method: 'GET',
    host: 'iam.amazonaws.com',
    path: '/',
    query: { Action: 'ListUsers', Version: '2010-05-08' },
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    region: 'us-east-1',
    service: 'iam',
    amzDate: '20150830T123600Z',
  },
  'Bedrock converse, JSON body, model id with ":" sent encoded': bedrock,
  'Bedrock converse with a session token': { ...bedrock, token: TOKEN },
  'Bedrock converse-stream with x-amz-content-sha256 and a session token': {
    ...bedrock,
    path: `/model/${encodeURIComponent(MODEL)}/converse-stream`,
    headers: { 'content-type': 'application/json', accept: 'application/vnd.amazon.eventstream' },
    region: 'eu-west-3',
    token: TOKEN,
    contentSha256: true,
    amzDate: '20261203T235959Z',
  },
  'Bedrock invoke with the ":" left raw in the path': {
    ...bedrock,
    path: `/model/${MODEL}/invoke`,
  },
  'a query needing sorting and encoding, a path with dot segments': {
    method: 'GET',
    host: 'bedrock.us-west-2.amazonaws.com',
    path: '/foundation-models/./x/../list/',
    query: {
      byProvider: 'Anthropic & co',
      'b~key': "it's (ok)*!",
      a: ['2', '1 0', 'é'],
      empty: '',
      'name with space': 'v/w+z',
    },
    region: 'us-west-2',
    service: 'bedrock',
    amzDate: '20240229T000001Z',
  },
  'header values with blank runs, a host with a port': {
    method: 'PUT',
    host: 'localhost:8443',
    path: '/a-b_c.d~e/f%20g',
    headers: { 'X-Custom-Header': '  a   b \t c  ', 'Content-Type': 'text/plain' },
    body: '',
    region: 'ap-southeast-2',
    service: 'execute-api',
    amzDate: '20200101T000000Z',
  },
};

for (const [name, req] of Object.entries(cases)) {
  test(`sigv4 matches @smithy/signature-v4: ${name}`, async () => {
    const want = await smithySign(req);
    const got = ourSign(req);
    assert.deepEqual(got, want);
  });
}

test('sigv4 reproduces the signature published in the AWS documentation', () => {
  const got = ourSign(cases['the AWS documentation example (IAM ListUsers)']);
  assert.match(got.authorization, /Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7$/);
});

test('sigv4 refuses a Host header from the caller, which would conflict with the signed host', () => {
  const bad = { ...bedrock, headers: { Host: 'evil.example' } };
  assert.throws(() => ourSign(bad), (e) => e.status === 2 && /invalid argument/.test(e.stderr.toString()));
});
