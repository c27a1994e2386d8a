// Runs the codec server for the Temporal Web UI and CLI.
//   CODEC_KEYS_FILE=secrets/codec-keys.json CODEC_ACTIVE_KEY_ID=k1 \
//   CODEC_SERVER_AUTH_TOKEN_FILE=secrets/codec-server-token CODEC_CORS_ORIGINS=http://localhost:8233 npm run codec-server
// Settings (README, "Payload encryption"):
//   CODEC_SERVER_AUTH_TOKEN(_FILE)    bearer token(s) for /decode, one per line; required unless WORKER_MODE=development
//   CODEC_SERVER_ENCODE_TOKEN(_FILE)  bearer token(s) for /encode; unset: /encode is off
//   CODEC_SERVER_NAMESPACES           namespaces served (default: TEMPORAL_NAMESPACE or "default")
//   CODEC_SERVER_ALLOWED_HOSTS        Host header values accepted besides localhost:<port> (e.g. codec.example.com)
//   CODEC_CORS_ORIGINS                browser origins (the Web UI's URL)
//   CODEC_SERVER_HOST, CODEC_SERVER_PORT
import { ConfigError, readSecret } from '../environment/config';
import { codecFromEnv } from './data-converter';
import { startCodecServer, CodecServerConfigError } from './codec-server';

const list = (v: string | undefined, split: RegExp = /,/) =>
  (v ?? '')
    .split(split)
    .map((s) => s.trim())
    .filter(Boolean);

async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const codec = codecFromEnv(env);
  if (!codec)
    throw new ConfigError(
      'CODEC_KEYS_FILE (or CODEC_KEYS) is not set: the codec server needs the same keys as the worker',
    );
  const port = Number(env.CODEC_SERVER_PORT ?? 8888);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new ConfigError(`CODEC_SERVER_PORT "${env.CODEC_SERVER_PORT}" is not a port`);
  const mode = env.WORKER_MODE ?? 'development';
  if (mode !== 'development' && mode !== 'production')
    throw new ConfigError(`WORKER_MODE "${mode}" is not development or production`);
  const corsOrigins = list(env.CODEC_CORS_ORIGINS ?? 'http://localhost:8233');
  const decodeTokens = list(readSecret(env, 'CODEC_SERVER_AUTH_TOKEN'), /\n/);
  const encodeTokens = list(readSecret(env, 'CODEC_SERVER_ENCODE_TOKEN'), /\n/);
  const namespaces = list(env.CODEC_SERVER_NAMESPACES ?? env.TEMPORAL_NAMESPACE ?? 'default');
  const allowedHosts = list(env.CODEC_SERVER_ALLOWED_HOSTS);
  if (decodeTokens.length === 0 && mode !== 'development') {
    throw new ConfigError(
      'CODEC_SERVER_AUTH_TOKEN_FILE (or CODEC_SERVER_AUTH_TOKEN) is not set: outside WORKER_MODE=development the codec server does not run without authentication',
    );
  }
  const server = await startCodecServer({
    codec,
    port,
    host: env.CODEC_SERVER_HOST ?? '127.0.0.1',
    corsOrigins,
    decodeTokens,
    encodeTokens,
    namespaces,
    allowedHosts,
    allowUnauthenticated: mode === 'development',
  });
  process.stdout.write(
    `[codec-server] ${server.url} (namespaces: ${namespaces.join(', ')}; CORS: ${corsOrigins.join(', ') || 'none'}; /decode: ${
      decodeTokens.length ? 'bearer token required' : 'NO authentication (development, loopback only)'
    }; /encode: ${encodeTokens.length ? 'bearer token required' : 'off'})\n`,
  );
  const stop = () => void server.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  const known = err instanceof ConfigError || err instanceof CodecServerConfigError;
  process.stderr.write(`[codec-server] ${known ? 'configuration error: ' : ''}${(err as Error).message}\n`);
  process.exit(2);
});
