// Payload encryption for Temporal history: AES-256-GCM, the key id in each payload's metadata, and
// key rotation (new payloads use the active key; old payloads keep decrypting with their own key).
// Emails, phones and summaries travel in workflow inputs, signals and results: with this codec on,
// the Temporal server (and anyone reading its database) sees ciphertext only.
//
// Each payload is bound to where it belongs: the namespace and the workflow id the SDK names when it
// encodes it (its serialization context) are authenticated as associated data, and written in the
// payload's metadata so that the codec server can decrypt for an operator without that context.
// The worker decodes with the context the SDK gives it, not the one in the metadata: a payload copied
// into another workflow or namespace fails to decrypt.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { ConfigError, readSecret } from '../environment/config';

export const ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';
/** JSON {"namespace": ..., "workflowId": ...}: where the payload belongs (absent in the first format). */
export const BINDING_METADATA = 'encryption-binding';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const AAD_VERSION = 'hubspot-contact-sync/payload/v2';

const utf8 = (s: string) => new TextEncoder().encode(s);
const fromUtf8 = (b: Uint8Array) => new TextDecoder().decode(b);

/** A key configuration problem (a ConfigError: the worker reports it as a configuration error). */
export class CodecKeyError extends ConfigError {
  override name = 'CodecKeyError';
}

/** A payload the codec refuses to decode: plaintext with encryption on, foreign binding, unknown key, tampering. */
export class PayloadRefusedError extends Error {
  override name = 'PayloadRefusedError';
}

export interface EncryptionKeys {
  /** Key id -> 32-byte key. Keep retired keys here until no history needs them. */
  keys: Record<string, Uint8Array>;
  /** The key new payloads of namespaces without their own keys are encrypted with. */
  activeKeyId?: string;
  /**
   * Per-namespace keys: namespace -> key ids, the first encrypts, all decrypt. A key listed here serves
   * its namespace only; namespaces not listed use activeKeyId and the keys no namespace claims.
   */
  namespaceKeys?: Record<string, string[]>;
}

export interface EncryptionCodecOptions {
  /** Decode unencrypted payloads as they are (migrating histories written before encryption). Default false. */
  allowPlaintext?: boolean;
  /** Decode payloads of the first format (encrypted, not bound to a workflow). Default false. */
  allowUnbound?: boolean;
  /** The namespace payloads are bound to when the SDK gives no context. */
  defaultNamespace?: string;
}

/** Where a payload belongs. An empty workflowId binds it to the namespace only (the SDK named no workflow). */
export interface PayloadBinding {
  namespace: string;
  workflowId: string;
}

/**
 * Reads keys from the environment: CODEC_KEYS (or CODEC_KEYS_FILE) = JSON {"<id>": "<base64 32-byte key>", ...},
 * CODEC_ACTIVE_KEY_ID = the id to encrypt with, CODEC_NAMESPACE_KEYS = JSON {"<namespace>": ["<id>", ...]}
 * for per-namespace keys. Returns undefined when no keys are configured. Errors never show key material.
 */
export function keysFromEnv(env: NodeJS.ProcessEnv = process.env): EncryptionKeys | undefined {
  const text = readSecret(env, 'CODEC_KEYS');
  if (!text) return undefined;
  const source = env.CODEC_KEYS_FILE ? 'CODEC_KEYS_FILE' : 'CODEC_KEYS';
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CodecKeyError(`${source} is not valid JSON (expected {"key-id": "<base64 32-byte key>"})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    throw new CodecKeyError(`${source} must be a JSON object of key id to base64 key`);
  const keys: Record<string, Uint8Array> = {};
  for (const [id, value] of Object.entries(raw)) {
    const key =
      typeof value === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(value)
        ? Buffer.from(value, 'base64')
        : Buffer.alloc(0);
    if (key.length !== 32) throw new CodecKeyError(`${source}["${id}"] must be a base64 32-byte (AES-256) key`);
    keys[id] = key;
  }
  if (Object.keys(keys).length === 0) throw new CodecKeyError(`${source} holds no key`);
  let namespaceKeys: Record<string, string[]> | undefined;
  if (env.CODEC_NAMESPACE_KEYS) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(env.CODEC_NAMESPACE_KEYS);
    } catch {
      throw new CodecKeyError('CODEC_NAMESPACE_KEYS is not valid JSON (expected {"namespace": ["key-id", ...]})');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new CodecKeyError('CODEC_NAMESPACE_KEYS must be a JSON object of namespace to key ids');
    namespaceKeys = {};
    for (const [namespace, ids] of Object.entries(parsed)) {
      const list = typeof ids === 'string' ? [ids] : ids;
      if (!Array.isArray(list) || list.length === 0 || !list.every((id) => typeof id === 'string')) {
        throw new CodecKeyError(
          `CODEC_NAMESPACE_KEYS["${namespace}"] must be a key id or a non-empty array of key ids`,
        );
      }
      namespaceKeys[namespace] = list as string[];
    }
  }
  const claimed = new Set(Object.values(namespaceKeys ?? {}).flat());
  const activeKeyId = env.CODEC_ACTIVE_KEY_ID || (namespaceKeys ? undefined : Object.keys(keys)[0]);
  const config: EncryptionKeys = { keys, activeKeyId, namespaceKeys };
  validateKeys(config, claimed);
  return config;
}

function validateKeys(
  config: EncryptionKeys,
  claimed = new Set(Object.values(config.namespaceKeys ?? {}).flat()),
): void {
  if (config.activeKeyId !== undefined) {
    if (!config.keys[config.activeKeyId])
      throw new CodecKeyError(`CODEC_ACTIVE_KEY_ID "${config.activeKeyId}" is not a key of CODEC_KEYS`);
    if (claimed.has(config.activeKeyId))
      throw new CodecKeyError(
        `CODEC_ACTIVE_KEY_ID "${config.activeKeyId}" belongs to a namespace in CODEC_NAMESPACE_KEYS: give the other namespaces a key of their own`,
      );
  }
  for (const [namespace, ids] of Object.entries(config.namespaceKeys ?? {})) {
    for (const id of ids)
      if (!config.keys[id])
        throw new CodecKeyError(
          `CODEC_NAMESPACE_KEYS["${namespace}"] names key "${id}", which is not a key of CODEC_KEYS`,
        );
  }
  const owners = new Map<string, string>();
  for (const [namespace, ids] of Object.entries(config.namespaceKeys ?? {})) {
    for (const id of ids) {
      const other = owners.get(id);
      if (other !== undefined && other !== namespace)
        throw new CodecKeyError(`CODEC_NAMESPACE_KEYS: key "${id}" is given to both "${other}" and "${namespace}"`);
      owners.set(id, namespace);
    }
  }
  if (config.activeKeyId === undefined && !config.namespaceKeys)
    throw new CodecKeyError('CODEC_ACTIVE_KEY_ID is not set');
}

/** Reads the binding a payload carries in its metadata (undefined: not encrypted, or the first format). */
export function payloadBinding(payload: Payload): PayloadBinding | undefined {
  const raw = payload.metadata?.[BINDING_METADATA];
  if (!raw) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(fromUtf8(raw));
  } catch {
    throw new PayloadRefusedError('encrypted payload has an unreadable binding');
  }
  const b = parsed as Partial<PayloadBinding>;
  if (typeof b?.namespace !== 'string' || typeof b.workflowId !== 'string')
    throw new PayloadRefusedError('encrypted payload has an unreadable binding');
  return { namespace: b.namespace, workflowId: b.workflowId };
}

export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  return Boolean(encoding) && fromUtf8(encoding!) === ENCODING;
}

const associatedData = (keyId: string, b: PayloadBinding) =>
  utf8(JSON.stringify([AAD_VERSION, keyId, b.namespace, b.workflowId]));
const describe = (b: PayloadBinding) =>
  b.workflowId ? `workflow "${b.workflowId}" of namespace "${b.namespace}"` : `namespace "${b.namespace}"`;

export class EncryptionCodec implements PayloadCodec {
  private readonly owners = new Map<string, string>();

  constructor(
    private readonly keys: EncryptionKeys,
    private readonly options: EncryptionCodecOptions = {},
  ) {
    validateKeys(keys);
    for (const [namespace, ids] of Object.entries(keys.namespaceKeys ?? {}))
      for (const id of ids) this.owners.set(id, namespace);
  }

  /** The binding the SDK's context gives (the workflow a payload is sent to or received from). */
  private bindingOf(context: SerializationContext | undefined): PayloadBinding | undefined {
    if (context) return { namespace: context.namespace, workflowId: context.workflowId ?? '' };
    return this.options.defaultNamespace ? { namespace: this.options.defaultNamespace, workflowId: '' } : undefined;
  }

  private encryptingKeyId(namespace: string): string {
    const own = this.keys.namespaceKeys?.[namespace];
    const id = own ? own[0] : this.keys.activeKeyId;
    if (id === undefined)
      throw new PayloadRefusedError(
        `no encryption key for namespace "${namespace}" (CODEC_NAMESPACE_KEYS lists other namespaces and CODEC_ACTIVE_KEY_ID is unset)`,
      );
    return id;
  }

  /** Whether keyId may serve namespace: a namespace's own keys serve it alone; the other keys serve the namespaces without their own. */
  private keyServes(keyId: string, namespace: string): boolean {
    const own = this.keys.namespaceKeys?.[namespace];
    if (own) return own.includes(keyId);
    return !this.owners.has(keyId);
  }

  async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const binding = this.bindingOf(context);
    if (!binding)
      throw new PayloadRefusedError(
        'cannot encrypt: the payload belongs to no namespace (no serialization context and no default namespace)',
      );
    const keyId = this.encryptingKeyId(binding.namespace);
    const key = this.keys.keys[keyId]!;
    const aad = associatedData(keyId, binding);
    return payloads.map((payload) => {
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(ALGORITHM, key, iv);
      cipher.setAAD(aad);
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return {
        metadata: {
          encoding: utf8(ENCODING),
          [KEY_ID_METADATA]: utf8(keyId),
          [BINDING_METADATA]: utf8(JSON.stringify(binding)),
        },
        data,
      };
    });
  }

  /**
   * With a context (the worker and the platform's client), payloads must be bound to that workflow (or
   * to its namespace alone). Without one (the codec server), the binding in the metadata is used: the
   * codec server checks it against the namespaces its caller may read before calling this.
   */
  async decode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
    const expected = context ? this.bindingOf(context) : undefined;
    return payloads.map((payload) => {
      if (!isEncrypted(payload)) {
        if (this.options.allowPlaintext) return payload;
        throw new PayloadRefusedError(
          `refusing an unencrypted payload${expected ? ` for ${describe(expected)}` : ''}: payload encryption is on (CODEC_ALLOW_PLAINTEXT=true accepts them while existing histories are migrated)`,
        );
      }
      const keyIdBytes = payload.metadata?.[KEY_ID_METADATA];
      const keyId = keyIdBytes ? fromUtf8(keyIdBytes) : '';
      const key = this.keys.keys[keyId];
      if (!key) throw new CodecKeyError(`payload was encrypted with key "${keyId}", which this codec does not have`);
      const stored = payloadBinding(payload);
      let aad: Uint8Array | undefined;
      if (!stored) {
        if (!this.options.allowUnbound) {
          throw new PayloadRefusedError(
            'refusing an encrypted payload that is not bound to a workflow (first payload format; CODEC_ALLOW_UNBOUND=true accepts them while existing histories are migrated)',
          );
        }
      } else {
        let binding = stored;
        if (expected) {
          const sameNamespace = stored.namespace === expected.namespace;
          const sameWorkflow = stored.workflowId === '' || stored.workflowId === expected.workflowId;
          if (!sameNamespace || !sameWorkflow)
            throw new PayloadRefusedError(`refusing a payload bound to ${describe(stored)} in ${describe(expected)}`);
          // The associated data comes from where the payload was received, not from its metadata.
          binding = { namespace: expected.namespace, workflowId: stored.workflowId === '' ? '' : expected.workflowId };
        }
        if (!this.keyServes(keyId, binding.namespace))
          throw new PayloadRefusedError(`key "${keyId}" does not serve namespace "${binding.namespace}"`);
        aad = associatedData(keyId, binding);
      }
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadRefusedError('encrypted payload is too short');
      const decipher = createDecipheriv(ALGORITHM, key, data.subarray(0, IV_BYTES));
      if (aad) decipher.setAAD(aad);
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new PayloadRefusedError(
          `encrypted payload failed authentication (tampered, or moved from where it was written) with key "${keyId}"`,
        );
      }
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}
