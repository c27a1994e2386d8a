// Payload encryption (AES-GCM with key rotation) and the codec server the Web UI calls.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { EncryptionCodec, keysFromEnv, CodecKeyError, ENCODING } from '../src/codec/encryption-codec';
import { startCodecServer } from '../src/codec/codec-server';
import type { DataConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { localEnv } from './helpers/temporal-env';
import { ACME, action, conversation, startHarness } from './helpers/conversation-harness';

const key = () => randomBytes(32);
const payload = (value: unknown) => defaultPayloadConverter.toPayload(value)!;
const text = (p: { data?: Uint8Array | null }) => Buffer.from(p.data ?? new Uint8Array()).toString('utf8');

describe('encryption codec', () => {
  const k1 = key();
  const k2 = key();
  const secret = { email: 'jane.doe@example.com', summary: 'Jane wants a demo' };

  test('encrypted payloads carry no plaintext and decode back to the original', async () => {
    const codec = new EncryptionCodec({ keys: { k1 }, activeKeyId: 'k1' });
    const [encoded] = await codec.encode([payload(secret)]);
    assert.equal(Buffer.from(encoded!.metadata!.encoding!).toString(), ENCODING);
    assert.equal(Buffer.from(encoded!.metadata!['encryption-key-id']!).toString(), 'k1');
    assert.ok(!text(encoded!).includes('jane'), 'plaintext leaked into the encrypted payload');
    const [decoded] = await codec.decode([encoded!]);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), secret);
  });

  test('key rotation: new payloads use the active key, old ones still decode', async () => {
    const before = new EncryptionCodec({ keys: { k1 }, activeKeyId: 'k1' });
    const [old] = await before.encode([payload(secret)]);
    const rotated = new EncryptionCodec({ keys: { k1, k2 }, activeKeyId: 'k2' });
    const [fresh] = await rotated.encode([payload(secret)]);
    assert.equal(Buffer.from(fresh!.metadata!['encryption-key-id']!).toString(), 'k2');
    const decoded = await rotated.decode([old!, fresh!]);
    assert.deepEqual(decoded.map((p) => defaultPayloadConverter.fromPayload(p)), [secret, secret]);
    const retired = new EncryptionCodec({ keys: { k2 }, activeKeyId: 'k2' });
    await assert.rejects(retired.decode([old!]), (e: unknown) => e instanceof CodecKeyError && /key "k1"/.test(e.message));
  });

  test('tampered ciphertext is refused; unencrypted payloads pass through', async () => {
    const codec = new EncryptionCodec({ keys: { k1 }, activeKeyId: 'k1' });
    const [encoded] = await codec.encode([payload(secret)]);
    const data = Buffer.from(encoded!.data!);
    data[20] = data[20]! ^ 1;
    await assert.rejects(codec.decode([{ ...encoded!, data }]));
    const plain = payload('not secret');
    assert.deepEqual(await codec.decode([plain]), [plain]);
  });

  test('keys from the environment, with clear errors', () => {
    const env = { CODEC_KEYS: JSON.stringify({ a: k1.toString('base64'), b: k2.toString('base64') }), CODEC_ACTIVE_KEY_ID: 'b' };
    assert.equal(keysFromEnv(env)?.activeKeyId, 'b');
    assert.equal(keysFromEnv({}), undefined);
    assert.throws(() => keysFromEnv({ CODEC_KEYS: '{' }), /not valid JSON/);
    assert.throws(() => keysFromEnv({ CODEC_KEYS: JSON.stringify({ a: 'c2hvcnQ=' }) }), /CODEC_KEYS\["a"\] must be a base64 32-byte/);
    assert.throws(() => keysFromEnv({ ...env, CODEC_ACTIVE_KEY_ID: 'z' }), /"z" is not a key/);
  });
});

describe('codec server', () => {
  const codec = new EncryptionCodec({ keys: { k1: key() }, activeKeyId: 'k1' });
  let server: Awaited<ReturnType<typeof startCodecServer>>;
  before(async () => {
    server = await startCodecServer({ codec, corsOrigins: ['http://localhost:8233'], authToken: 'ui-secret' });
  });
  after(async () => server?.close());

  const call = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const asJson = (p: ReturnType<typeof payload>) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
    data: Buffer.from(p.data!).toString('base64'),
  });

  test('decodes what the worker encoded, for an authenticated caller', async () => {
    const [encoded] = await codec.encode([payload({ email: 'x@example.com' })]);
    const res = await call('/decode', { payloads: [asJson(encoded!)] }, { Authorization: 'Bearer ui-secret', 'X-Namespace': 'default' });
    assert.equal(res.status, 200);
    const { payloads } = (await res.json()) as { payloads: Array<{ data: string }> };
    assert.deepEqual(JSON.parse(Buffer.from(payloads[0]!.data, 'base64').toString()), { email: 'x@example.com' });
  });

  test('refuses callers without the token, and answers CORS preflights only for the Web UI origin', async () => {
    assert.equal((await call('/decode', { payloads: [] })).status, 401);
    assert.equal((await call('/decode', { payloads: [] }, { Authorization: 'Bearer wrong' })).status, 401);
    const ok = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://localhost:8233' } });
    assert.equal(ok.status, 204);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'http://localhost:8233');
    const evil = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://evil.test' } });
    assert.equal(evil.status, 403);
    assert.equal(evil.headers.get('access-control-allow-origin'), null);
    assert.equal((await call('/decode', { nope: 1 }, { Authorization: 'Bearer ui-secret' })).status, 400);
  });
});

describe('codec on: Temporal history holds no personal data', () => {
  // The same conversation through a worker and client without the codec and with it; the history
  // the dev server returns is searched for the personal data. The run without the codec shows that
  // the search finds plaintext when it is there.
  const EMAIL = 'priya.codec-check@example.com';
  const SUMMARY = 'Priya wants the Enterprise plan and a callback on Friday';

  async function historyBytes(codec: DataConverter | undefined, tag: string): Promise<{ raw: string; outcome: string; firstname?: string }> {
    const { env } = await localEnv();
    const h = await startHarness(env, [ACME], codec ? { dataConverter: codec } : {});
    try {
      const conv = conversation('chat', [action({ id: 'live', offlineSync: false }), action({ id: 'offline' })], { options: { inactivityTimeoutMs: 1_000 } });
      const run = await h.run(async () => {
        await h.platform.recordMessage(conv, { from: 'customer', fields: { email: EMAIL, first_name: `Priya${tag}` } });
        const live = await h.platform.runAction(conv, { actionId: 'live', fields: { email: EMAIL }, summary: SUMMARY });
        await h.platform.updateFields(conv, { summary: SUMMARY });
        await h.platform.result(conv.conversationId);
        return live;
      });
      const history = await env.connection.workflowService.getWorkflowExecutionHistory({
        namespace: env.namespace ?? 'default',
        execution: { workflowId: h.platform.handle(conv.conversationId).workflowId },
      });
      const raw = Buffer.from(temporal.api.history.v1.History.encode(history.history!).finish()).toString('latin1');
      const synced = h.emulator.contacts(ACME.accountId).find((c) => c.properties.email === EMAIL);
      return { raw, outcome: run.result, firstname: synced?.properties.firstname ?? undefined };
    } finally {
      await h.close();
    }
  }

  test('without the codec the history shows the email and summary; with it, neither appears', async () => {
    const plain = await historyBytes(undefined, 'Plain');
    assert.equal(plain.outcome, 'created');
    assert.ok(plain.raw.includes(EMAIL) && plain.raw.includes(SUMMARY), 'the plaintext control run should show the data in its history');

    const codec: DataConverter = { payloadCodecs: [new EncryptionCodec({ keys: { k1: key() }, activeKeyId: 'k1' })] };
    const sealed = await historyBytes(codec, 'Sealed');
    assert.equal(sealed.outcome, 'created');
    assert.equal(sealed.firstname, 'PriyaSealed', 'HubSpot got the decrypted values');
    for (const secret of [EMAIL, SUMMARY, 'PriyaSealed', 'priya.codec-check', 'Enterprise plan']) {
      assert.ok(!sealed.raw.includes(secret), `"${secret}" is in the history the server returns`);
    }
    assert.ok(sealed.raw.includes(ENCODING), 'payloads are not marked as encrypted');
  });
});
