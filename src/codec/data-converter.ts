// The data converter shared by the worker, the platform's client and the ops CLI: with CODEC_KEYS (or
// CODEC_KEYS_FILE) set, every payload (inputs, signals, queries, updates, results, memo, failure
// details) is encrypted before it reaches the Temporal server, bound to its namespace and workflow, and
// unencrypted payloads are refused (CODEC_ALLOW_PLAINTEXT=true while migrating existing histories).
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec, keysFromEnv } from './encryption-codec';

const on = (v: string | undefined) => v === 'true' || v === '1' || v === 'yes';

export function codecFromEnv(env: NodeJS.ProcessEnv = process.env): EncryptionCodec | undefined {
  const keys = keysFromEnv(env);
  if (!keys) return undefined;
  return new EncryptionCodec(keys, {
    allowPlaintext: on(env.CODEC_ALLOW_PLAINTEXT),
    allowUnbound: on(env.CODEC_ALLOW_UNBOUND),
    defaultNamespace: env.TEMPORAL_NAMESPACE || 'default',
  });
}

export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const codec = codecFromEnv(env);
  return codec ? { payloadCodecs: [codec], failureConverterPath: require.resolve('./failure-converter') } : undefined;
}
