// Payload encryption: AES-GCM bound to namespace and workflow, key rotation, per-namespace keys, plaintext
// refused; and, on a real Temporal server, the history holds no personal data.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes, randomUUID } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EncryptionCodec,
  keysFromEnv,
  payloadBinding,
  CodecKeyError,
  PayloadRefusedError,
  ENCODING,
} from '../src/codec/encryption-codec';
import type { DataConverter, SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { Client } from '@temporalio/client';
import { localEnv } from './helpers/temporal-env';
import { dataConverterFromEnv } from '../src/codec/data-converter';

const key = () => randomBytes(32);
// The end-to-end tests load the worker and client code when they run: the codec's own tests stay
// independent of them.
const harness = () => import('./helpers/conversation-harness');
const payload = (value: unknown) => defaultPayloadConverter.toPayload(value)!;
const text = (p: { data?: Uint8Array | null }) => Buffer.from(p.data ?? new Uint8Array()).toString('utf8');

const ctx = (workflowId: string, namespace = 'default'): SerializationContext => ({
  type: 'workflow',
  namespace,
  workflowId,
});
const CONV_A = ctx('conversation-a');

/** A payload in the first format: AES-GCM without associated data, no binding in the metadata. */
function firstFormat(keyId: string, k: Uint8Array, p: ReturnType<typeof payload>) {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', k, iv);
  const plain = temporal.api.common.v1.Payload.encode(p).finish();
  return {
    metadata: { encoding: Buffer.from(ENCODING), 'encryption-key-id': Buffer.from(keyId) },
    data: Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]),
  };
}

describe('encryption codec', () => {
  const k1 = key();
  const k2 = key();
  const secret = { email: 'jane.doe@example.com', summary: 'Jane wants a demo' };

  test('encrypted payloads carry no plaintext, name their key and workflow, and decode back in that workflow', async () => {
    const codec = new EncryptionCodec({ keys: { k1 }, activeKeyId: 'k1' });
    const [encoded] = await codec.encode([payload(secret)], CONV_A);
    assert.equal(Buffer.from(encoded!.metadata!.encoding!).toString(), ENCODING);
    assert.equal(Buffer.from(encoded!.metadata!['encryption-key-id']!).toString(), 'k1');
    assert.deepEqual(payloadBinding(encoded!), { namespace: 'default', workflowId: 'conversation-a' });
    assert.ok(!text(encoded!).includes('jane'), 'plaintext leaked into the encrypted payload');
    const [decoded] = await codec.decode([encoded!], CONV_A);
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), secret);
    // An activity of that workflow decodes it too (the SDK names the workflow in activity contexts).
    const [inActivity] = await codec.decode([encoded!], {
      type: 'activity',
      namespace: 'default',
      workflowId: 'conversation-a',
      activityId: '1',
      isLocal: false,
    });
    assert.deepEqual(defaultPayloadConverter.fromPayload(inActivity!), secret);
  });

  test('a payload moved to another workflow or namespace fails to decrypt, with or without its metadata rewritten', async () => {
    const codec = new EncryptionCodec({ keys: { k1 }, activeKeyId: 'k1' });
    const [encoded] = await codec.encode([payload(secret)], CONV_A);
    await assert.rejects(
      codec.decode([encoded!], ctx('conversation-b')),
      (e: unknown) => e instanceof PayloadRefusedError && /bound to workflow "conversation-a"/.test(e.message),
    );
    await assert.rejects(codec.decode([encoded!], ctx('conversation-a', 'tenant-2')), PayloadRefusedError);
    // Rewriting the metadata to claim the new home does not help: the tag covers where it was written.
    const forged = {
      ...encoded!,
      metadata: {
        ...encoded!.metadata,
        'encryption-binding': Buffer.from(JSON.stringify({ namespace: 'default', workflowId: 'conversation-b' })),
      },
    };
    await assert.rejects(
      codec.decode([forged], ctx('conversation-b')),
      (e: unknown) => e instanceof PayloadRefusedError && /failed authentication/.test(e.message),
    );
    // Without a context (the codec server), the forged metadata does not decrypt either.
    await assert.rejects(codec.decode([forged]), /failed authentication/);
  });

  test('with keys on, unencrypted payloads are refused unless the migration switch is on', async () => {
    const codec = new EncryptionCodec({ keys: { k1 }, activeKeyId: 'k1' });
    const plain = payload({ allowUpdateExisting: true });
    await assert.rejects(
      codec.decode([plain], CONV_A),
      (e: unknown) =>
        e instanceof PayloadRefusedError &&
        /unencrypted payload/.test(e.message) &&
        /CODEC_ALLOW_PLAINTEXT/.test(e.message),
    );
    const migrating = new EncryptionCodec({ keys: { k1 }, activeKeyId: 'k1' }, { allowPlaintext: true });
    assert.deepEqual(await migrating.decode([plain], CONV_A), [plain]);
  });

  test('key rotation: new payloads use the active key, old ones still decode', async () => {
    const before = new EncryptionCodec({ keys: { k1 }, activeKeyId: 'k1' });
    const [old] = await before.encode([payload(secret)], CONV_A);
    const rotated = new EncryptionCodec({ keys: { k1, k2 }, activeKeyId: 'k2' });
    const [fresh] = await rotated.encode([payload(secret)], CONV_A);
    assert.equal(Buffer.from(fresh!.metadata!['encryption-key-id']!).toString(), 'k2');
    const decoded = await rotated.decode([old!, fresh!], CONV_A);
    assert.deepEqual(
      decoded.map((p) => defaultPayloadConverter.fromPayload(p)),
      [secret, secret],
    );
    const retired = new EncryptionCodec({ keys: { k2 }, activeKeyId: 'k2' });
    await assert.rejects(
      retired.decode([old!], CONV_A),
      (e: unknown) => e instanceof CodecKeyError && /key "k1"/.test(e.message),
    );
  });

  test('tampered ciphertext is refused', async () => {
    const codec = new EncryptionCodec({ keys: { k1 }, activeKeyId: 'k1' });
    const [encoded] = await codec.encode([payload(secret)], CONV_A);
    const data = Buffer.from(encoded!.data!);
    data[20] = data[20]! ^ 1;
    await assert.rejects(codec.decode([{ ...encoded!, data }], CONV_A), PayloadRefusedError);
  });

  test('payloads of the first format (not bound) decode only with the migration switch', async () => {
    const old = firstFormat('k1', k1, payload(secret));
    await assert.rejects(
      new EncryptionCodec({ keys: { k1 }, activeKeyId: 'k1' }).decode([old], CONV_A),
      /CODEC_ALLOW_UNBOUND/,
    );
    const [decoded] = await new EncryptionCodec({ keys: { k1 }, activeKeyId: 'k1' }, { allowUnbound: true }).decode(
      [old],
      CONV_A,
    );
    assert.deepEqual(defaultPayloadConverter.fromPayload(decoded!), secret);
  });

  test('per-namespace keys: each namespace encrypts with its own key, and a key serves its namespace only', async () => {
    const ka = key();
    const kb = key();
    const codec = new EncryptionCodec({
      keys: { ka, kb, shared: k1 },
      activeKeyId: 'shared',
      namespaceKeys: { 'tenant-a': ['ka'], 'tenant-b': ['kb'] },
    });
    const [a] = await codec.encode([payload(secret)], ctx('w', 'tenant-a'));
    const [b] = await codec.encode([payload(secret)], ctx('w', 'tenant-b'));
    const [other] = await codec.encode([payload(secret)], ctx('w', 'default'));
    assert.deepEqual(
      [a, b, other].map((p) => Buffer.from(p!.metadata!['encryption-key-id']!).toString()),
      ['ka', 'kb', 'shared'],
    );
    // A payload encrypted with tenant-a's key but claiming tenant-b (metadata rewritten) is refused before decryption.
    const claimed = {
      ...a!,
      metadata: {
        ...a!.metadata,
        'encryption-binding': Buffer.from(JSON.stringify({ namespace: 'tenant-b', workflowId: 'w' })),
      },
    };
    await assert.rejects(codec.decode([claimed], ctx('w', 'tenant-b')), /key "ka" does not serve namespace "tenant-b"/);
    // The codec server of tenant b holds tenant b's key only.
    const onlyB = new EncryptionCodec({ keys: { kb }, namespaceKeys: { 'tenant-b': ['kb'] } });
    await assert.rejects(onlyB.decode([a!]), /key "ka"/);
    assert.deepEqual(defaultPayloadConverter.fromPayload((await onlyB.decode([b!]))[0]!), secret);
    await assert.rejects(
      onlyB.encode([payload(secret)], ctx('w', 'default')),
      /no encryption key for namespace "default"/,
    );
  });

  test('keys from the environment or a file, with clear errors that never show key material', () => {
    const env = {
      CODEC_KEYS: JSON.stringify({ a: k1.toString('base64'), b: k2.toString('base64') }),
      CODEC_ACTIVE_KEY_ID: 'b',
    };
    assert.equal(keysFromEnv(env)?.activeKeyId, 'b');
    assert.equal(keysFromEnv({}), undefined);
    assert.throws(() => keysFromEnv({ CODEC_KEYS: '{' }), /not valid JSON/);
    assert.throws(
      () => keysFromEnv({ CODEC_KEYS: JSON.stringify({ a: 'c2hvcnQ=' }) }),
      /CODEC_KEYS\["a"\] must be a base64 32-byte/,
    );
    assert.throws(() => keysFromEnv({ ...env, CODEC_ACTIVE_KEY_ID: 'z' }), /"z" is not a key/);
    assert.throws(
      () => keysFromEnv({ ...env, CODEC_NAMESPACE_KEYS: '{"t":["nope"]}' }),
      /CODEC_NAMESPACE_KEYS\["t"\] names key "nope"/,
    );
    assert.throws(
      () => keysFromEnv({ ...env, CODEC_NAMESPACE_KEYS: '{"t":["b"]}' }),
      /CODEC_ACTIVE_KEY_ID "b" belongs to a namespace/,
    );
    const dir = mkdtempSync(join(tmpdir(), 'codec-keys-'));
    writeFileSync(join(dir, 'keys.json'), `${env.CODEC_KEYS}\n`);
    assert.equal(keysFromEnv({ CODEC_KEYS_FILE: join(dir, 'keys.json'), CODEC_ACTIVE_KEY_ID: 'a' })?.activeKeyId, 'a');
    assert.throws(
      () => keysFromEnv({ ...env, CODEC_KEYS_FILE: join(dir, 'keys.json') }),
      /Set CODEC_KEYS or CODEC_KEYS_FILE, not both/,
    );
    // A key one character short of valid, and JSON broken right after a key: the messages show neither.
    const almost = k1.toString('base64').slice(0, -2);
    for (const bad of [JSON.stringify({ a: almost }), `{"a":"${k1.toString('base64')}" "b"}`]) {
      assert.throws(
        () => keysFromEnv({ CODEC_KEYS: bad }),
        (e: unknown) =>
          e instanceof CodecKeyError &&
          !e.message.includes(almost.slice(0, 12)) &&
          !e.message.includes(k1.toString('base64').slice(0, 12)),
      );
    }
  });
});

describe('codec on: Temporal history holds no personal data', () => {
  // The same conversation through a worker and client without the codec and with it; the history
  // the dev server returns is searched for the personal data. The run without the codec shows that
  // the search finds plaintext when it is there.
  const EMAIL = 'priya.codec-check@example.com';
  const SUMMARY = 'Priya wants the Enterprise plan and a callback on Friday';

  async function historyBytes(
    codec: DataConverter | undefined,
    tag: string,
  ): Promise<{ raw: string; outcome: string; firstname?: string }> {
    const { env } = await localEnv();
    const { ACME, action, conversation, startHarness } = await harness();
    const h = await startHarness(env, [ACME], codec ? { dataConverter: codec } : {});
    try {
      const conv = conversation('chat', [action({ id: 'live', offlineSync: false }), action({ id: 'offline' })], {
        options: { inactivityTimeoutMs: 1_000, retentionMs: 1_000 },
      });
      const run = await h.run(async () => {
        await h.platform.recordMessage(conv, { from: 'customer', fields: { email: EMAIL, first_name: `Priya${tag}` } });
        const live = await h.platform.runAction(conv, { actionId: 'live', fields: { email: EMAIL }, summary: SUMMARY });
        await h.platform.updateFields(conv, { summary: SUMMARY });
        await h.platform.result(conv);
        return live;
      });
      const history = await env.connection.workflowService.getWorkflowExecutionHistory({
        namespace: env.namespace ?? 'default',
        execution: { workflowId: h.platform.handle(conv).workflowId },
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
    assert.ok(
      plain.raw.includes(EMAIL) && plain.raw.includes(SUMMARY),
      'the plaintext control run should show the data in its history',
    );

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

describe('codec on: failure messages are encrypted too', () => {
  // A refused write fails its activity for good; the failure is stored in history. Its message names
  // the account and the rule (never a value); with encryption on, no failure text is stored in the clear.
  async function failedRunHistory(dataConverter: DataConverter | undefined): Promise<{ raw: string; reason: string }> {
    const { env } = await localEnv();
    const { ACME, action, conversation, startHarness } = await harness();
    const h = await startHarness(env, [ACME], dataConverter ? { dataConverter } : {});
    h.emulator.setValidationRules(ACME.accountId, { requiredOnCreate: ['lastname'] });
    try {
      const conv = conversation('chat', [action({ id: 'live', offlineSync: false })]);
      const run = await h.run(() =>
        h.platform.runAction(conv, { actionId: 'live', fields: { email: `refused.${randomUUID()}@example.com` } }),
      );
      const history = await env.connection.workflowService.getWorkflowExecutionHistory({
        namespace: env.namespace ?? 'default',
        execution: { workflowId: h.platform.handle(conv).workflowId },
      });
      return {
        raw: Buffer.from(temporal.api.history.v1.History.encode(history.history!).finish()).toString('latin1'),
        reason: run.reason,
      };
    } finally {
      await h.close();
    }
  }

  test('without the codec the refusal is readable in history; with it, the failure text is not stored in the clear', async () => {
    const plain = await failedRunHistory(undefined);
    assert.match(plain.reason, /refused the contact create/);
    assert.ok(
      plain.raw.includes('refused the contact create'),
      'the control run should show the failure message in its history',
    );
    const sealed = await failedRunHistory({
      ...dataConverterFromEnv({ CODEC_KEYS: JSON.stringify({ k1: key().toString('base64') }) })!,
    });
    assert.match(sealed.reason, /refused the contact create/, 'the agent still gets the readable reason');
    assert.ok(!sealed.raw.includes('refused the contact create'), 'the failure message is stored in the clear');
  });
});

describe('codec on: the worker acts only on payloads encrypted for the conversation', () => {
  const { EventType } = temporal.api.enums.v1;

  /** Waits until the workflow's history shows a failed workflow task, and returns its message. */
  async function workflowTaskFailure(
    env: Awaited<ReturnType<typeof localEnv>>['env'],
    workflowId: string,
  ): Promise<string> {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const { history } = await env.connection.workflowService.getWorkflowExecutionHistory({
        namespace: env.namespace ?? 'default',
        execution: { workflowId },
      });
      const failed = history?.events?.find((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
      if (failed) return failed.workflowTaskFailedEventAttributes?.failure?.message ?? '';
      const progressed = history?.events?.some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
      assert.ok(!progressed, `the worker completed a workflow task of ${workflowId}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no failed workflow task in ${workflowId}`);
  }

  test('a client without the key, and a payload copied from another conversation, are refused; HubSpot sees nothing', async () => {
    const { env } = await localEnv();
    const namespace = env.namespace ?? 'default';
    const codec: DataConverter = { payloadCodecs: [new EncryptionCodec({ keys: { k1: key() }, activeKeyId: 'k1' })] };
    const { ACME, action, conversation, startHarness } = await harness();
    const { ConversationClient } = await import('../src/platform/client');
    const h = await startHarness(env, [ACME], { dataConverter: codec });
    const EMAIL = 'forged.run@example.com';
    const keyless = new ConversationClient({
      client: new Client({ connection: env.connection, namespace }),
      taskQueue: h.taskQueue,
    });
    const forged = conversation('chat', [action({ id: 'live', offlineSync: false, allowUpdateExisting: true })]);
    const genuine = conversation('chat', [action({ id: 'live', offlineSync: false })]);
    const copyId = `${genuine.conversationId}-copy`;
    try {
      await h.run(async () => {
        // The attack of the review: no key, a conversation whose config updates an existing contact.
        await keyless.recordMessage(forged, {
          from: 'customer',
          fields: { email: 'existing@acme.test', first_name: 'Renamed' },
        });
        const keylessFailure = await workflowTaskFailure(env, keyless.handle(forged).workflowId);
        assert.match(keylessFailure, /unencrypted payload/);

        // A genuine conversation's encrypted input, started as another workflow.
        await h.platform.recordMessage(genuine, { from: 'customer', fields: { email: EMAIL } });
        const workflowId = h.platform.handle(genuine).workflowId;
        const { history } = await env.connection.workflowService.getWorkflowExecutionHistory({
          namespace,
          execution: { workflowId },
        });
        const started = history!.events!.find(
          (e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED,
        )!.workflowExecutionStartedEventAttributes!;
        const copyWorkflowId = h.platform.handle({ ...genuine, conversationId: copyId }).workflowId;
        await env.connection.workflowService.startWorkflowExecution({
          namespace,
          workflowId: copyWorkflowId,
          workflowType: started.workflowType,
          taskQueue: { name: h.taskQueue },
          input: started.input,
          requestId: randomUUID(),
        });
        const copyFailure = await workflowTaskFailure(env, copyWorkflowId);
        assert.match(copyFailure, /bound to workflow/);
        await env.client.workflow.getHandle(copyWorkflowId).terminate('test finished');
        await keyless.handle(forged).terminate('test finished');
      });
      const contacts = h.emulator.contacts(ACME.accountId);
      assert.equal(
        contacts.find((c) => c.properties.email === 'existing@acme.test')?.properties.firstname,
        'Existing',
        'the keyless run renamed the contact',
      );
      assert.equal(
        contacts.filter((c) => c.properties.email === EMAIL).length,
        0,
        'a conversation that only recorded a message wrote to HubSpot',
      );
    } finally {
      await h.close();
    }
  });
});
