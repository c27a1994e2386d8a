// The main job: runs the conversation worker.
// With nothing configured (development), it starts an embedded Temporal dev server with its Web UI
// and the HubSpot emulator with its demo account, and prints their addresses. With TEMPORAL_ADDRESS
// and HUBSPOT_ACCOUNTS it uses those; WORKER_MODE=production refuses embedded servers.
// On the embedded emulator it plays the demo once the worker is up (DEMO=false skips it; --demo-then-exit
// stops after it, with the demo's success as the exit code).
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { NativeConnection, Runtime } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  ConfigError,
  hubspotAccountsOptions,
  loadConfig,
  temporalConnectionOptions,
  workerBuildOf,
} from '../environment/config';
import { devServer, repoRoot, startDevServer } from '../temporal-servers';
import { ensureTemporalServers } from '../temporal-servers/install';
import { conversationSearchAttributes } from '../platform/search-attributes';
import type { HubSpotEmulator } from '../../hubspot-emulator';
import { HubSpotAccounts } from '../hubspot/accounts';
import { createConversationWorker, createWorkerLogger } from './worker';
import { dataConverterFromEnv } from '../codec/data-converter';
import { Client, Connection } from '@temporalio/client';
import { ConversationClient } from '../platform/client';
import { accountServicesWanted, startAccountServices, DEVELOPMENT_WORKSPACE } from './account-services';
import { CompositeDirectory } from '../account-store/store-directory';
import { staticDirectory } from '../hubspot/static-directory';
import type { HubSpotPropertyDefinition } from '../action/mapping-validation';

function say(line: string): void {
  process.stdout.write(`[worker] ${line}\n`);
}

/** Development mode (the emulator and the demos): loaded only when no HubSpot account is configured. */
async function developmentMode(): Promise<typeof import('./development')> {
  try {
    return await import('./development');
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND' &&
      (err as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND'
    )
      throw err;
    throw new ConfigError(
      'no HUBSPOT_ACCOUNTS, and the HubSpot emulator is not part of this installation (the production image leaves it out): set HUBSPOT_ACCOUNTS or HUBSPOT_ACCOUNTS_FILE',
    );
  }
}

async function main(): Promise<void> {
  const config = loadConfig();
  const { env } = config;
  const build = workerBuildOf(env);
  // Structured logs: one JSON object per line (no personal data is ever logged: ids and outcomes only).
  // Task tokens and anything that looks like personal data are kept out of the lines (src/worker/worker.ts).
  const logger = createWorkerLogger(env.LOG_LEVEL);
  Runtime.install({
    logger,
    telemetryOptions: env.METRICS_BIND_ADDRESS
      ? { metrics: { prometheus: { bindAddress: env.METRICS_BIND_ADDRESS } } }
      : undefined,
  });
  if (env.METRICS_BIND_ADDRESS) say(`Prometheus metrics: http://${env.METRICS_BIND_ADDRESS}/metrics`);
  const cleanups: Array<() => Promise<void>> = [];

  let address = env.TEMPORAL_ADDRESS;
  if (!address) {
    // First use on a fresh machine: the Temporal CLI is built from the Go module proxy (once, with progress).
    await ensureTemporalServers({ only: ['cli'], log: (line) => say(`Temporal servers: ${line}`) });
    const choice = devServer();
    say(`no TEMPORAL_ADDRESS: starting an embedded Temporal dev server (${choice.source})`);
    // A fresh clone whose servers live elsewhere (TEMPORAL_SERVERS_DIR) has no .cache/ yet: the database's folder is made here.
    const dbFilename = resolve(repoRoot, env.TEMPORAL_DEV_DB);
    mkdirSync(dirname(dbFilename), { recursive: true });
    const server = {
      port: env.TEMPORAL_DEV_PORT,
      uiPort: env.TEMPORAL_DEV_UI_PORT,
      dbFilename,
      namespace: env.TEMPORAL_NAMESPACE,
      searchAttributes: conversationSearchAttributes,
    };
    // The installed CLI is started and watched here, so that a failed start says why in the server's own words.
    const dev =
      choice.executable.type === 'existing-path'
        ? await startDevServer(server)
        : await TestWorkflowEnvironment.createLocal({
            server: { ...server, executable: choice.executable, ui: true, log: { format: 'pretty', level: 'error' } },
          }).catch((err: Error) => {
            throw new Error(`${err.message} (the dev server's own output, if it printed any, is above)`);
          });
    cleanups.push(() => dev.teardown());
    address = dev.address;
    say(`Temporal dev server: ${address} (namespace ${env.TEMPORAL_NAMESPACE})`);
    say(`Temporal Web UI:     http://localhost:${env.TEMPORAL_DEV_UI_PORT}`);
  }

  let accounts = config.hubspotAccounts;
  let emulator: HubSpotEmulator | undefined;
  let development: Awaited<ReturnType<typeof developmentMode>> | undefined;
  if (!accounts && env.WORKER_MODE === 'production') accounts = []; // only accounts connected at run time (DATABASE_URL)
  if (!accounts) {
    development = await developmentMode();
    const { startHubSpotEmulator, DEMO_ACCOUNT } = development;
    emulator = await startHubSpotEmulator({ port: env.HUBSPOT_EMULATOR_PORT });
    cleanups.push(() => emulator!.close());
    accounts = [emulator.connection(DEMO_ACCOUNT)];
    say(
      `no HUBSPOT_ACCOUNTS: HubSpot emulator at ${emulator.url} (account "${DEMO_ACCOUNT.accountId}", token "${DEMO_ACCOUNT.token}"; inspect it at ${emulator.url}/_emulator/accounts)`,
    );
  }

  let operatorClient: Promise<Client> | undefined;
  const connectOperatorClient = async () => {
    const operatorConnection = await Connection.connect(temporalConnectionOptions(env, address));
    cleanups.unshift(() => operatorConnection.close());
    return new Client({
      connection: operatorConnection,
      namespace: env.TEMPORAL_NAMESPACE,
      dataConverter: dataConverterFromEnv(),
    });
  };
  // Accounts connected at run time (OAuth "Add account"), kept in the account store, and the configuration
  // API with the setup page (docs/ACCOUNTS.md): always in development, with DATABASE_URL in production.
  const accountServices = accountServicesWanted(process.env, env.WORKER_MODE === 'development')
    ? await startAccountServices({
        development: env.WORKER_MODE === 'development',
        root: repoRoot,
        emulatorUrl: emulator?.url,
        say,
        propertySchema: async (id): Promise<HubSpotPropertyDefinition[]> =>
          (await hubspot.get(id)).contactPropertySchema(),
        receiptRetentionDays: env.RECEIPT_RETENTION_DAYS,
        // The receipts' retry route: a client of its own, connected when an operator first retries.
        operatorClient: () => (operatorClient ??= connectOperatorClient()),
      })
    : undefined;
  if (accountServices) cleanups.push(() => accountServices.close());
  const directory = accountServices
    ? new CompositeDirectory([staticDirectory(accounts), accountServices.directory])
    : staticDirectory(accounts);
  const hubspot: HubSpotAccounts = new HubSpotAccounts(directory, hubspotAccountsOptions(env));

  // mTLS (client certificate, CA, server name) or an API key, as configured (src/environment/config.ts).
  const connectionOptions = temporalConnectionOptions(env, address);
  const connection = await NativeConnection.connect(connectionOptions);
  cleanups.unshift(() => connection.close());

  const dataConverter = dataConverterFromEnv();
  say(
    dataConverter
      ? 'payload encryption: on (CODEC_KEYS)'
      : 'payload encryption: off (set CODEC_KEYS to encrypt personal data in Temporal history)',
  );
  say(
    build
      ? `Worker Versioning: deployment "${build.deploymentName}", build "${build.buildId}"; conversations started while this build is current stay on it (make it current: npm run ops -- release make-current ${build.buildId})`
      : 'Worker Versioning: off (unversioned worker; set TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_WORKER_BUILD_ID to release through worker deployments)',
  );
  const worker = await createConversationWorker({
    connection,
    build,
    dataConverter,
    namespace: env.TEMPORAL_NAMESPACE,
    taskQueue: env.TEMPORAL_TASK_QUEUE,
    hubspot,
    directory,
    // Each run's receipt, in the account store (none without one: docs/ACCOUNTS.md, "Receipts").
    ...(accountServices ? { receipts: accountServices.store.receipts } : {}),
    tuning: env.WORKER_MAX_CACHED_WORKFLOWS ? { maxCachedWorkflows: env.WORKER_MAX_CACHED_WORKFLOWS } : undefined,
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

  say(
    `polling task queue "${env.TEMPORAL_TASK_QUEUE}" for ${accounts.length} HubSpot account(s): ${accounts.map((a) => a.accountId).join(', ')}`,
  );
  say('ready. Ctrl-C stops it.');
  const running = worker.run();
  if (emulator && development && accountServices) {
    const { playDemoOnNewConnections } = development;
    const api = accountServices.configApi;
    say(
      `setup page ("Add account"): ${api.url}${api.oneTimeLoginPath(DEVELOPMENT_WORKSPACE)} (a single-use login link; later, log in at ${api.url}/login with the token in .cache/config-api-token)`,
    );
    if (env.DEMO && !process.argv.includes('--demo-then-exit')) {
      const demoConnection = await Connection.connect(connectionOptions);
      const client = new Client({ connection: demoConnection, namespace: env.TEMPORAL_NAMESPACE, dataConverter });
      const stop = playDemoOnNewConnections({
        store: accountServices.store,
        platform: new ConversationClient({ client, taskQueue: env.TEMPORAL_TASK_QUEUE }),
        workspaceId: DEVELOPMENT_WORKSPACE,
        emulatorUrl: emulator.url,
        say: (line) => process.stdout.write(`[demo] ${line}\n`),
      });
      cleanups.unshift(async () => {
        await stop();
        await demoConnection.close();
      });
    }
  }
  let demoFailed = false;
  if (emulator && development && env.DEMO) {
    const { runDemo } = development;
    // The demo writes contacts: it only ever runs on the embedded emulator.
    const demoSay = (line: string) => process.stdout.write(`[demo] ${line}\n`);
    const demo = (async () => {
      const clientConnection = await Connection.connect(connectionOptions);
      try {
        const client = new Client({ connection: clientConnection, namespace: env.TEMPORAL_NAMESPACE, dataConverter });
        await runDemo({
          platform: new ConversationClient({ client, taskQueue: env.TEMPORAL_TASK_QUEUE }),
          hubspotBasePath: emulator.url,
          say: demoSay,
        });
        if (!process.argv.includes('--demo-then-exit'))
          demoSay('done. The worker keeps running: play the demo again with `npm run demo` in another terminal.');
      } finally {
        await clientConnection.close();
      }
    })().catch((err: unknown) => {
      demoFailed = true;
      demoSay(`failed: ${err instanceof Error ? err.message : String(err)}`);
    });
    if (process.argv.includes('--demo-then-exit')) {
      void demo.then(() => {
        if (stopping) return;
        stopping = true;
        worker.shutdown();
      });
    }
  }
  try {
    await running;
  } finally {
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    say('stopped');
  }
  if (demoFailed && process.argv.includes('--demo-then-exit')) process.exitCode = 1;
}

main().catch((err) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`[worker] configuration error: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`[worker] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
