// The main job (src/worker/main.ts) as a child process, with the embedded servers on free ports and its
// databases in a scratch folder, and its output watched: for main-job and metrics.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './temporal-env';

export const ROOT = join(__dirname, '..', '..');

export interface Job {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** `dir`: the scratch folder the databases go to, when the caller prepares one. */
export async function startMain(
  args: string[],
  extraEnv: Record<string, string>,
  dir: string = mkdtempSync(join(tmpdir(), 'main-job-')),
): Promise<Job & { ports: Record<string, number>; cleanup(): void }> {
  const ports = {
    TEMPORAL_DEV_PORT: await freePort(),
    TEMPORAL_DEV_UI_PORT: await freePort(),
    HUBSPOT_EMULATOR_PORT: await freePort(),
    CONFIG_API_PORT: await freePort(),
  };
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    TEMPORAL_DEV_DB: join(dir, 'dev.sqlite'),
    ACCOUNT_STORE_DIR: join(dir, 'account-store'),
    ...extraEnv,
  };
  for (const k of ['TEMPORAL_ADDRESS', 'HUBSPOT_ACCOUNTS', 'HUBSPOT_ACCOUNTS_FILE', 'WORKER_MODE', 'CODEC_KEYS'])
    delete env[k];
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts', ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return { ...watch(child), ports, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function watch(child: ChildProcess): Job {
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const waitFor = (pattern: RegExp, timeoutMs = 120_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (!pattern.test(out)) return;
        listeners.delete(check);
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${out.slice(-3000)}`));
      }, timeoutMs);
      listeners.add(check);
      void exited.then(() =>
        setTimeout(() => {
          if (listeners.has(check)) {
            listeners.delete(check);
            clearTimeout(timer);
            reject(new Error(`exited before ${pattern}; output:\n${out.slice(-3000)}`));
          }
        }, 50),
      );
      check();
    });
  return { child, output: () => out, exited, waitFor };
}
