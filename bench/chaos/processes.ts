// The processes of the chaos run: a Temporal CLI dev server on a database file, which it kills with
// SIGKILL and starts again, and the worker as a child process (src/worker/main.ts), killed with SIGKILL
// and restarted; and a retry of platform calls through those restarts.
import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { conversationSearchAttributes } from '../../src/platform/search-attributes';
import { serverPaths } from '../../src/temporal-servers';
import { ensureTemporalServers, isInstalled } from '../../src/temporal-servers/install';

const ROOT = resolve(__dirname, '..', '..');

/** Retries a platform call through a restarting server or a dropped connection. */
export async function persist<T>(
  what: string,
  fn: () => Promise<T>,
  log: (l: string) => void,
  deadlineMs = 180_000,
): Promise<T> {
  const until = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      const name = (err as Error).name;
      if (name === 'ConversationInputError' || name === 'ActionRefusedError' || Date.now() > until) throw err;
      if (attempt === 3) log(`  (still retrying ${what}: ${(err as Error).message.split('\n')[0]})`);
      await sleep(Math.min(5_000, 250 * attempt));
    }
  }
}

export class DevServer {
  private child?: ChildProcess;
  constructor(
    readonly port: number,
    private readonly db: string,
    private readonly log: (l: string) => void,
  ) {}
  async start(): Promise<void> {
    const bin = serverPaths().cli.binary;
    // The run kills and restarts the dev server itself, so it needs the installed Temporal CLI (the SDK's download is not enough).
    if (!isInstalled('cli')) {
      await ensureTemporalServers({ only: ['cli'], log: (l) => this.log(l) });
      if (!isInstalled('cli'))
        throw new Error(`the chaos run needs the Temporal CLI at ${bin}: npm run install-servers (needs Go)`);
    }
    const args = [
      'server',
      'start-dev',
      '--port',
      String(this.port),
      '--headless',
      '--db-filename',
      this.db,
      '--log-level',
      'error',
      '--ip',
      '127.0.0.1',
    ];
    for (const sa of conversationSearchAttributes)
      args.push('--search-attribute', `${sa.name}=${sa.type === 'KEYWORD_LIST' ? 'KeywordList' : 'Keyword'}`);
    this.child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child.once('error', (e) => this.log(`dev server: ${e.message}`));
    let err = '';
    this.child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    for (let i = 0; i < 120; i++) {
      const ok = await Connection.connect({ address: `127.0.0.1:${this.port}`, connectTimeout: 1000 })
        .then(async (c) => {
          await c.workflowService.getSystemInfo({});
          await c.close();
          return true;
        })
        .catch(() => false);
      if (ok) return;
      if (this.child.exitCode !== null) throw new Error(`the dev server exited (${this.child.exitCode}): ${err}`);
      await sleep(500);
    }
    throw new Error(`the dev server did not answer in 60 s: ${err}`);
  }
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGKILL');
    await exited;
  }
}

export class WorkerSupervisor {
  private child?: ChildProcess;
  private stopped = false;
  /** The current process's output so far (its last 3,000 characters). */
  private output = '';
  starts = 0;
  kills = 0;
  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: (l: string) => void,
  ) {}
  start(): void {
    this.starts++;
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker/main.ts'], {
      cwd: ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.output = '';
    const keep = (d: Buffer) => (this.output = (this.output + d.toString()).slice(-3000));
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', (code, signal) => {
      if (this.stopped || signal === 'SIGKILL') return;
      this.log(`  worker exited by itself (${code ?? signal}); restarting. Its last output:\n${this.output}`);
      setTimeout(() => this.start(), 1000);
    });
  }
  /** Waits until the worker's output matches `pattern` (for example its "polling task queue" line). */
  async waitForOutput(pattern: RegExp, timeoutMs = 120_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!pattern.test(this.output)) {
      if (Date.now() > until)
        throw new Error(
          `the worker process did not print ${pattern} within ${timeoutMs / 1000} s; its last output:\n${this.output}`,
        );
      await sleep(200);
    }
  }

  async killAndRestart(): Promise<void> {
    const c = this.child;
    if (c && c.exitCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await exited;
      this.kills++;
    }
    this.start();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    const force = setTimeout(() => c.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(force);
  }
}
