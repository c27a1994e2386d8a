// npm run hubspot-emulator -- [--port 8787] [--host 127.0.0.1] [--seed-file accounts.json] [--fault-seed 1] [--search-lag-ms 2000-5000]
import { readFileSync } from 'node:fs';
import { startHubSpotEmulator, DEMO_ACCOUNT, type EmulatorAccountSeed } from './index';
import { parseSearchLag, searchLagOf } from './search-index';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    process.stdout.write(
      'usage: npm run hubspot-emulator -- [--port 8787] [--host 127.0.0.1] [--seed-file accounts.json] [--fault-seed N] [--search-lag-ms MIN[-MAX], default 2000-5000, 0 for none] [--access-token-ttl SECONDS, default 1800]\n',
    );
    return;
  }
  const port = Number(arg('port') ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port ${arg('port')} is not a port`);
  let accounts: EmulatorAccountSeed[] = [DEMO_ACCOUNT];
  const seedFile = arg('seed-file');
  if (seedFile) {
    const parsed = JSON.parse(readFileSync(seedFile, 'utf8')) as unknown;
    if (!Array.isArray(parsed) || parsed.some((a) => !a?.accountId || !a?.token || typeof a?.appId !== 'number')) {
      throw new Error(`${seedFile} must be a JSON array of {accountId, token, appId, ...} account seeds`);
    }
    accounts = parsed as EmulatorAccountSeed[];
  }
  const lagArg = arg('search-lag-ms');
  const searchLagMs = lagArg === undefined ? undefined : parseSearchLag(lagArg);
  const ttl = arg('access-token-ttl');
  if (ttl !== undefined && !(Number(ttl) > 0)) throw new Error(`--access-token-ttl ${ttl} is not a number of seconds`);
  const emulator = await startHubSpotEmulator({
    port,
    host: arg('host'),
    accounts,
    seed: Number(arg('fault-seed') ?? 1),
    searchLagMs,
    accessTokenTtlSeconds: ttl === undefined ? undefined : Number(ttl),
  });
  process.stdout.write(`HubSpot emulator listening on ${emulator.url}\n`);
  const lag = searchLagOf(searchLagMs);
  process.stdout.write(
    `  search index lag: ${lag.maxMs === 0 ? 'none' : `${lag.minMs}-${lag.maxMs} ms after each write`}\n`,
  );
  for (const a of accounts) process.stdout.write(`  account "${a.accountId}": token "${a.token}", app id ${a.appId}\n`);
  process.stdout.write(
    `  OAuth app: client id demo-client-id, secret demo-client-secret (install at ${emulator.url}/oauth/authorize)\n`,
  );
  process.stdout.write(`  inspect: ${emulator.url}/_emulator/accounts\n`);
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`hubspot-emulator: ${(err as Error).message}\n`);
  process.exit(2);
});
