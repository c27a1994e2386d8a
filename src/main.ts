// The main job: runs the conversation worker.
// With nothing configured (development), it starts an embedded Temporal dev server with its Web UI
// and the HubSpot emulator with its demo account, and prints their addresses. With TEMPORAL_ADDRESS
// and HUBSPOT_ACCOUNTS it uses those; WORKER_MODE=production refuses embedded servers.
import { resolve } from 'node:path';
import { readFileSync } from 'node:fs';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { ConfigError, loadConfig } from './config';
import { devServer, repoRoot } from './temporal-servers';
import { conversationSearchAttributes } from './search-attributes';
import { startHubSpotEmulator, DEMO_ACCOUNT, type HubSpotEmulator } from './hubspot-emulator';
import { HubSpotAccounts } from './hubspot/accounts';
import { createConversationWorker } from './worker';
import { dataConverterFromEnv } from './codec/data-converter';

function say(line: string): void {
  process.stdout.write(`[worker] ${line}\n`);
}

async function main(): Promise<void> {
  const config = loadConfig();
  const { env } = config;
  // Structured logs: one JSON object per line (no personal data is ever logged: ids and outcomes only).
  const logger = new DefaultLogger(env.LOG_LEVEL, ({ level, message, meta, timestampNanos }) => {
    process.stdout.write(`${JSON.stringify({ time: new Date(Number(timestampNanos / 1_000_000n)).toISOString(), level, message, ...meta })}\n`);
  });
  Runtime.install({
    logger,
    telemetryOptions: env.METRICS_BIND_ADDRESS ? { metrics: { prometheus: { bindAddress: env.METRICS_BIND_ADDRESS } } } : undefined,
  });
  if (env.METRICS_BIND_ADDRESS) say(`Prometheus metrics: http://${env.METRICS_BIND_ADDRESS}/metrics`);
  const cleanups: Array<() => Promise<void>> = [];

  let address = env.TEMPORAL_ADDRESS;
  if (!address) {
    const choice = devServer();
    say(`no TEMPORAL_ADDRESS: starting an embedded Temporal dev server (${choice.source})`);
    const dev = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: choice.executable,
        port: env.TEMPORAL_DEV_PORT,
        ui: true,
        uiPort: env.TEMPORAL_DEV_UI_PORT,
        dbFilename: resolve(repoRoot, env.TEMPORAL_DEV_DB),
        namespace: env.TEMPORAL_NAMESPACE,
        searchAttributes: conversationSearchAttributes,
        log: { format: 'pretty', level: 'error' },
      },
    });
    cleanups.push(() => dev.teardown());
    address = dev.address;
    say(`Temporal dev server: ${address} (namespace ${env.TEMPORAL_NAMESPACE})`);
    say(`Temporal Web UI:     http://localhost:${env.TEMPORAL_DEV_UI_PORT}`);
  }

  let accounts = config.hubspotAccounts;
  let emulator: HubSpotEmulator | undefined;
  if (!accounts) {
    emulator = await startHubSpotEmulator({ port: env.HUBSPOT_EMULATOR_PORT });
    cleanups.push(() => emulator!.close());
    accounts = [{ accountId: DEMO_ACCOUNT.accountId, token: DEMO_ACCOUNT.token, appId: DEMO_ACCOUNT.appId, basePath: emulator.url }];
    say(`no HUBSPOT_ACCOUNTS: HubSpot emulator at ${emulator.url} (account "${DEMO_ACCOUNT.accountId}", token "${DEMO_ACCOUNT.token}"; inspect it at ${emulator.url}/_emulator/accounts)`);
  }

  const apiKey = env.TEMPORAL_API_KEY;
  const tls =
    env.TEMPORAL_TLS_CERT_PATH && env.TEMPORAL_TLS_KEY_PATH
      ? { clientCertPair: { crt: readFileSync(env.TEMPORAL_TLS_CERT_PATH), key: readFileSync(env.TEMPORAL_TLS_KEY_PATH) } }
      : env.TEMPORAL_TLS || apiKey
        ? true
        : undefined;
  const connection = await NativeConnection.connect({ address, tls, apiKey });
  cleanups.unshift(() => connection.close());

  const dataConverter = dataConverterFromEnv();
  say(dataConverter ? 'payload encryption: on (CODEC_KEYS)' : 'payload encryption: off (set CODEC_KEYS to encrypt personal data in Temporal history)');
  const worker = await createConversationWorker({
    connection,
    dataConverter,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    hubspot: new HubSpotAccounts(accounts),
  });

  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      say(`${signal}: finishing running activities, then stopping`);
      worker.shutdown();
    });
  }

  say(`polling task queue "${env.TEMPORAL_TASK_QUEUE}" for ${accounts.length} HubSpot account(s): ${accounts.map((a) => a.accountId).join(', ')}`);
  say('ready. Ctrl-C stops it.');
  try {
    await worker.run();
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    say('stopped');
  }
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`[worker] configuration error: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`[worker] failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
