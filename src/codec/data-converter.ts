// The data converter shared by the worker and the platform's client: with CODEC_KEYS set, every
// payload (inputs, signals, results, memo) is encrypted before it reaches the Temporal server.
import type { DataConverter } from '@temporalio/common';
import { EncryptionCodec, keysFromEnv } from './encryption-codec';

export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const keys = keysFromEnv(env);
  return keys ? { payloadCodecs: [new EncryptionCodec(keys)] } : undefined;
}
