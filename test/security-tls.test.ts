// mTLS to Temporal with the certificates scripts/dev-secrets.sh generates, through the connection
// settings every Temporal connection of the project uses (temporalConnectionOptions): the worker's
// native connection and the platform's client connect; a client without a certificate, or checking
// the wrong name, does not. The frontend here is the dev server behind a TLS terminator that requires
// a client certificate signed by the generated CA, as the compose stack's frontend does.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer, type Server } from 'node:tls';
import { Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { loadConfig, temporalConnectionOptions } from '../src/environment/config';
import { localEnv } from './helpers/temporal-env';

describe('mTLS to Temporal with the generated certificates', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dev-secrets-'));
  let frontend: Server;
  let address: string;
  const sockets = new Set<Socket>();

  before(async () => {
    execFileSync('sh', [resolve(__dirname, '..', 'scripts', 'dev-secrets.sh'), dir], { stdio: 'pipe' });
    const { env } = await localEnv();
    const [upstreamHost, upstreamPort] = [env.address.replace(/:\d+$/, ''), Number(env.address.split(':').pop())];
    const file = (name: string) => readFileSync(join(dir, name));
    frontend = createServer(
      {
        cert: file('temporal.pem'),
        key: file('temporal.key'),
        ca: file('ca.pem'),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ['h2'],
      },
      (client) => {
        const upstream = netConnect(upstreamPort, upstreamHost);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('close', () => sockets.delete(s));
          s.on('error', () => undefined);
        }
        client.pipe(upstream).pipe(client);
      },
    );
    await new Promise<void>((r) => frontend.listen(0, '127.0.0.1', r));
    address = `127.0.0.1:${(frontend.address() as { port: number }).port}`;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => (frontend ? frontend.close(() => r()) : r()));
  });

  const settings = (extra: NodeJS.ProcessEnv = {}) =>
    temporalConnectionOptions(
      loadConfig({
        TEMPORAL_ADDRESS: address,
        TEMPORAL_TLS_CERT_PATH: join(dir, 'worker.pem'),
        TEMPORAL_TLS_KEY_PATH: join(dir, 'worker.key'),
        TEMPORAL_TLS_CA_PATH: join(dir, 'ca.pem'),
        TEMPORAL_TLS_SERVER_NAME: 'temporal',
        ...extra,
      }).env,
    );

  test('the worker (native connection) and the platform client connect with their certificates', async () => {
    const native = await NativeConnection.connect(settings());
    try {
      const info = await native.workflowService.getSystemInfo({});
      assert.ok(info.serverVersion);
    } finally {
      await native.close();
    }
    const client = await Connection.connect({
      ...settings({
        TEMPORAL_TLS_CERT_PATH: join(dir, 'platform.pem'),
        TEMPORAL_TLS_KEY_PATH: join(dir, 'platform.key'),
      }),
      connectTimeout: 5_000,
    });
    try {
      const info = await client.workflowService.getSystemInfo({});
      assert.ok(info.serverVersion);
    } finally {
      await client.close();
    }
  });

  test('without a client certificate, or checking another server name, the connection fails', async () => {
    await assert.rejects(
      (async () => {
        const c = await NativeConnection.connect(
          settings({ TEMPORAL_TLS_CERT_PATH: undefined, TEMPORAL_TLS_KEY_PATH: undefined }),
        );
        try {
          await c.workflowService.getSystemInfo({});
        } finally {
          await c.close();
        }
      })(),
    );
    await assert.rejects(
      (async () => {
        const c = await NativeConnection.connect(settings({ TEMPORAL_TLS_SERVER_NAME: 'temporal.evil.example' }));
        try {
          await c.workflowService.getSystemInfo({});
        } finally {
          await c.close();
        }
      })(),
    );
  });
});
