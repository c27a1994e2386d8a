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
  /**
   * The lines of stdout, then those of stderr, each split within its own stream: output() interleaves
   * the two as their chunks arrive, and a long line read in two chunks can have the other stream's
   * chunk between its halves.
   */
  lines: () => string[];
  exited: Promise<number | null>;
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** Free ports for the main job's embedded servers and configuration API, by their variable's name. */
export async function mainJobPorts(): Promise<Record<string, number>> {
  return {
    TEMPORAL_DEV_PORT: await freePort(),
    TEMPORAL_DEV_UI_PORT: await freePort(),
    HUBSPOT_EMULATOR_PORT: await freePort(),
    CONFIG_API_PORT: await freePort(),
  };
}

/** The ports as environment variables. */
export const portsEnv = (ports: Record<string, number>): Record<string, string> =>
  Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)]));

/** `dir`: the scratch folder the databases go to, when the caller prepares one. */
export async function startMain(
  args: string[],
  extraEnv: Record<string, string>,
  dir: string = mkdtempSync(join(tmpdir(), 'main-job-')),
): Promise<Job & { ports: Record<string, number>; cleanup(): void }> {
  const ports = await mainJobPorts();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...portsEnv(ports),
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
  const streams = { stdout: '', stderr: '' };
  const listeners = new Set<() => void>();
  const onData = (stream: keyof typeof streams) => (d: Buffer) => {
    out += d.toString();
    streams[stream] += d.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData('stdout'));
  child.stderr!.on('data', onData('stderr'));
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
  const lines = () => [...streams.stdout.split('\n'), ...streams.stderr.split('\n')].filter(Boolean);
  return { child, output: () => out, lines, exited, waitFor };
}
