// Payload encryption for Temporal history: AES-256-GCM, the key id in each payload's metadata, and
// key rotation (new payloads use the active key; old payloads keep decrypting with their own key).
// Emails, phones and summaries travel in workflow inputs, signals and results: with this codec on,
// the Temporal server (and anyone reading its database) sees ciphertext only.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';

export const ENCODING = 'binary/encrypted';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

const utf8 = (s: string) => new TextEncoder().encode(s);
const fromUtf8 = (b: Uint8Array) => new TextDecoder().decode(b);

export class CodecKeyError extends Error {
  override name = 'CodecKeyError';
}

export interface EncryptionKeys {
  /** Key id -> 32-byte key. Keep retired keys here until no history needs them. */
  keys: Record<string, Uint8Array>;
  /** The key new payloads are encrypted with. */
  activeKeyId: string;
}

/**
 * Reads keys from the environment: CODEC_KEYS = JSON {"<id>": "<base64 32-byte key>", ...},
 * CODEC_ACTIVE_KEY_ID = the id to encrypt with. Returns undefined when CODEC_KEYS is unset.
 */
export function keysFromEnv(env: NodeJS.ProcessEnv = process.env): EncryptionKeys | undefined {
  if (!env.CODEC_KEYS) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(env.CODEC_KEYS);
  } catch {
    throw new CodecKeyError('CODEC_KEYS is not valid JSON (expected {"key-id": "<base64 32-byte key>"})');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new CodecKeyError('CODEC_KEYS must be a JSON object of key id to base64 key');
  const keys: Record<string, Uint8Array> = {};
  for (const [id, value] of Object.entries(raw)) {
    const key = typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.alloc(0);
    if (key.length !== 32) throw new CodecKeyError(`CODEC_KEYS["${id}"] must be a base64 32-byte (AES-256) key`);
    keys[id] = key;
  }
  const activeKeyId = env.CODEC_ACTIVE_KEY_ID ?? Object.keys(keys)[0];
  if (!activeKeyId || !keys[activeKeyId]) throw new CodecKeyError(`CODEC_ACTIVE_KEY_ID "${activeKeyId ?? ''}" is not a key of CODEC_KEYS`);
  return { keys, activeKeyId };
}

export class EncryptionCodec implements PayloadCodec {
  constructor(private readonly keys: EncryptionKeys) {
    if (!keys.keys[keys.activeKeyId]) throw new CodecKeyError(`active key "${keys.activeKeyId}" is not among the keys`);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.keys[this.keys.activeKeyId]!;
    return payloads.map((payload) => {
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(ALGORITHM, key, iv);
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: utf8(ENCODING), 'encryption-key-id': utf8(this.keys.activeKeyId) }, data };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (!payload.metadata?.encoding || fromUtf8(payload.metadata.encoding) !== ENCODING) return payload;
      const keyIdBytes = payload.metadata['encryption-key-id'];
      const keyId = keyIdBytes ? fromUtf8(keyIdBytes) : '';
      const key = this.keys.keys[keyId];
      if (!key) throw new CodecKeyError(`payload was encrypted with key "${keyId}", which this codec does not have`);
      const data = Buffer.from(payload.data ?? new Uint8Array());
      if (data.length < IV_BYTES + TAG_BYTES) throw new CodecKeyError('encrypted payload is too short');
      const decipher = createDecipheriv(ALGORITHM, key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}
