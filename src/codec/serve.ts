// Runs the codec server for the Temporal Web UI.
//   CODEC_KEYS='{"k1":"<base64 32 bytes>"}' CODEC_ACTIVE_KEY_ID=k1 \
//   CODEC_SERVER_AUTH_TOKEN=... CODEC_CORS_ORIGINS=http://localhost:8233 npm run codec-server
import { keysFromEnv, EncryptionCodec, CodecKeyError } from './encryption-codec';
import { startCodecServer } from './codec-server';

async function main(): Promise<void> {
  const keys = keysFromEnv();
  if (!keys) throw new CodecKeyError('CODEC_KEYS is not set: the codec server needs the same keys as the worker');
  const port = Number(process.env.CODEC_SERVER_PORT ?? 8888);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new CodecKeyError(`CODEC_SERVER_PORT "${process.env.CODEC_SERVER_PORT}" is not a port`);
  const corsOrigins = (process.env.CODEC_CORS_ORIGINS ?? 'http://localhost:8233').split(',').map((s) => s.trim()).filter(Boolean);
  const authToken = process.env.CODEC_SERVER_AUTH_TOKEN || undefined;
  const server = await startCodecServer({ codec: new EncryptionCodec(keys), port, host: process.env.CODEC_SERVER_HOST ?? '127.0.0.1', corsOrigins, authToken });
  process.stdout.write(
    `[codec-server] ${server.url} (active key "${keys.activeKeyId}", ${Object.keys(keys.keys).length} key(s); CORS: ${corsOrigins.join(', ')}; ${authToken ? 'bearer token required' : 'NO authentication: set CODEC_SERVER_AUTH_TOKEN'})\n`,
  );
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`[codec-server] ${err instanceof CodecKeyError ? 'configuration error: ' : ''}${(err as Error).message}\n`);
  process.exit(2);
});
