// The codec server, attacked: each request is one an attacker on this machine, in another container
// or behind a page that rebinds its DNS name could send. Only the operator's authorised decode of its
// own namespace succeeds.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { EncryptionCodec } from '../src/codec/encryption-codec';
import { startCodecServer, CodecServerConfigError } from '../src/codec/codec-server';

const codec = new EncryptionCodec({ keys: { k1: randomBytes(32) }, activeKeyId: 'k1' });
const payload = (value: unknown) => defaultPayloadConverter.toPayload(value)!;
const asJson = (p: Payload) => ({
  metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
  data: Buffer.from(p.data!).toString('base64'),
});
const SECRET = { email: 'operator-view@example.com' };

/** A raw HTTP request (fetch does not let a caller set Host). */
function send(
  url: string,
  path: string,
  headers: Record<string, string>,
  body?: unknown,
  method = 'POST',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string }> {
  const { hostname, port } = new URL(url);
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    // Host "" stands for a request without a Host header.
    const { Host: givenHost, ...rest } = headers;
    const all = { 'Content-Type': 'application/json', ...rest, ...(givenHost ? { Host: givenHost } : {}) };
    const req = request({ hostname, port, path, method, headers: all, setHost: givenHost !== '' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('codec server under attack', () => {
  let server: Awaited<ReturnType<typeof startCodecServer>>;
  let sealed: Payload;
  let otherNamespace: Payload;
  let host: string;
  const operator = () => ({ Host: host, Authorization: 'Bearer ui-secret', 'X-Namespace': 'default' });
  before(async () => {
    server = await startCodecServer({
      codec,
      corsOrigins: ['http://localhost:8233'],
      decodeTokens: ['ui-secret'],
      namespaces: ['default'],
      allowedHosts: ['codec.internal'],
    });
    host = new URL(server.url).host;
    [sealed] = await codec.encode([payload(SECRET)], { type: 'workflow', namespace: 'default', workflowId: 'conv-1' });
    [otherNamespace] = await codec.encode([payload(SECRET)], {
      type: 'workflow',
      namespace: 'tenant-2',
      workflowId: 'conv-9',
    });
  });
  after(async () => server?.close());

  test('the authorised operator decodes a payload of its namespace', async () => {
    const res = await send(server.url, '/decode', operator(), { payloads: [asJson(sealed)] });
    assert.equal(res.status, 200);
    const { payloads } = JSON.parse(res.text) as { payloads: Array<{ data: string }> };
    assert.deepEqual(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString()), SECRET);
    // A configured name for the server is accepted too.
    assert.equal(
      (await send(server.url, '/decode', { ...operator(), Host: 'codec.internal:443' }, { payloads: [asJson(sealed)] }))
        .status,
      200,
    );
  });

  test('decode without a token, or with a wrong one, is refused and shows nothing', async () => {
    for (const headers of [
      { Host: host, 'X-Namespace': 'default' },
      { ...operator(), Authorization: 'Bearer wrong' },
      { ...operator(), Authorization: 'ui-secret' },
    ]) {
      const res = await send(server.url, '/decode', headers, { payloads: [asJson(sealed)] });
      assert.equal(res.status, 401);
      assert.ok(!res.text.includes('operator-view'));
    }
  });

  test('a foreign Host (DNS rebinding) is refused, even with the token', async () => {
    for (const foreign of ['evil.example', `evil.example:${new URL(server.url).port}`, 'localhost.evil.example', '']) {
      const res = await send(server.url, '/decode', { ...operator(), Host: foreign }, { payloads: [asJson(sealed)] });
      // No Host at all: node's HTTP server answers 400 before the handler runs.
      assert.equal(res.status, foreign ? 421 : 400, `Host "${foreign}"`);
      assert.ok(!res.text.includes('operator-view'));
    }
  });

  test('/encode is refused by default, even to the decode token', async () => {
    const res = await send(server.url, '/encode', operator(), {
      payloads: [asJson(payload({ allowUpdateExisting: true }))],
    });
    assert.equal(res.status, 403);
    assert.ok(!res.text.includes('payloads'));
  });

  test('a namespace not served, a missing X-Namespace, or a payload of another namespace is refused', async () => {
    assert.equal(
      (
        await send(
          server.url,
          '/decode',
          { ...operator(), 'X-Namespace': 'tenant-2' },
          { payloads: [asJson(otherNamespace)] },
        )
      ).status,
      403,
    );
    const { 'X-Namespace': _n, ...noNamespace } = operator();
    assert.equal((await send(server.url, '/decode', noNamespace, { payloads: [asJson(sealed)] })).status, 400);
    // Asking for an allowed namespace does not unlock another namespace's payload.
    const res = await send(server.url, '/decode', operator(), { payloads: [asJson(otherNamespace)] });
    assert.equal(res.status, 403);
    assert.ok(!res.text.includes('operator-view'));
  });

  test('CORS answers only the configured origin; a request from another origin is refused', async () => {
    const ok = await send(server.url, '/decode', { Host: host, Origin: 'http://localhost:8233' }, undefined, 'OPTIONS');
    assert.equal(ok.status, 204);
    assert.equal(ok.headers['access-control-allow-origin'], 'http://localhost:8233');
    const evil = await send(server.url, '/decode', { Host: host, Origin: 'http://evil.test' }, undefined, 'OPTIONS');
    assert.equal(evil.status, 403);
    assert.equal(evil.headers['access-control-allow-origin'], undefined);
    const post = await send(
      server.url,
      '/decode',
      { ...operator(), Origin: 'http://evil.test' },
      { payloads: [asJson(sealed)] },
    );
    assert.equal(post.status, 403);
    assert.ok(!post.text.includes('operator-view'));
  });

  test('a malformed body is answered 400', async () => {
    assert.equal((await send(server.url, '/decode', operator(), { nope: 1 })).status, 400);
  });
});

describe('codec server settings', () => {
  test('does not start without a decode token unless told it is development, and then on loopback only', async () => {
    await assert.rejects(startCodecServer({ codec, corsOrigins: [] }), CodecServerConfigError);
    await assert.rejects(
      startCodecServer({ codec, corsOrigins: [], allowUnauthenticated: true, host: '0.0.0.0' }),
      /loopback only/,
    );
    const dev = await startCodecServer({ codec, corsOrigins: [], allowUnauthenticated: true });
    try {
      const host = new URL(dev.url).host;
      const [sealed] = await codec.encode([payload(SECRET)], {
        type: 'workflow',
        namespace: 'default',
        workflowId: 'conv-1',
      });
      assert.equal(
        (await send(dev.url, '/decode', { Host: host, 'X-Namespace': 'default' }, { payloads: [asJson(sealed!)] }))
          .status,
        200,
      );
      assert.equal(
        (
          await send(
            dev.url,
            '/decode',
            { Host: 'rebound.example', 'X-Namespace': 'default' },
            { payloads: [asJson(sealed!)] },
          )
        ).status,
        421,
      );
      assert.equal(
        (await send(dev.url, '/encode', { Host: host, 'X-Namespace': 'default' }, { payloads: [] })).status,
        403,
      );
    } finally {
      await dev.close();
    }
  });

  test('with an encode token, /encode mints namespace-bound ciphertext for that token only', async () => {
    const server = await startCodecServer({
      codec,
      corsOrigins: [],
      decodeTokens: ['read'],
      encodeTokens: ['write'],
      namespaces: ['default'],
    });
    try {
      const host = new URL(server.url).host;
      const headers = { Host: host, 'X-Namespace': 'default' };
      assert.equal(
        (await send(server.url, '/encode', { ...headers, Authorization: 'Bearer read' }, { payloads: [] })).status,
        401,
      );
      const res = await send(
        server.url,
        '/encode',
        { ...headers, Authorization: 'Bearer write' },
        { payloads: [asJson(payload('signal'))] },
      );
      assert.equal(res.status, 200);
      const [minted] = (JSON.parse(res.text) as { payloads: Array<{ metadata: Record<string, string>; data: string }> })
        .payloads;
      const p: Payload = {
        metadata: Object.fromEntries(Object.entries(minted!.metadata).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
        data: Buffer.from(minted!.data, 'base64'),
      };
      // Usable in its namespace, refused in another.
      assert.equal(
        defaultPayloadConverter.fromPayload(
          (await codec.decode([p], { type: 'workflow', namespace: 'default', workflowId: 'any' }))[0]!,
        ),
        'signal',
      );
      await assert.rejects(codec.decode([p], { type: 'workflow', namespace: 'tenant-2', workflowId: 'any' }));
    } finally {
      await server.close();
    }
  });
});
