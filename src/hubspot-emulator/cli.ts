// npm run hubspot-emulator -- [--port 8787] [--host 127.0.0.1] [--seed-file accounts.json] [--fault-seed 1]
import { readFileSync } from 'node:fs';
import { startHubSpotEmulator, DEMO_ACCOUNT, type EmulatorAccountSeed } from './index';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    process.stdout.write('usage: npm run hubspot-emulator -- [--port 8787] [--host 127.0.0.1] [--seed-file accounts.json] [--fault-seed N]\n');
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
  const emulator = await startHubSpotEmulator({ port, host: arg('host'), accounts, seed: Number(arg('fault-seed') ?? 1) });
  process.stdout.write(`HubSpot emulator listening on ${emulator.url}\n`);
  for (const a of accounts) process.stdout.write(`  account "${a.accountId}": token "${a.token}", app id ${a.appId}\n`);
  process.stdout.write(`  inspect: ${emulator.url}/_emulator/accounts\n`);
  const stop = () => void emulator.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`hubspot-emulator: ${(err as Error).message}\n`);
  process.exit(2);
});
