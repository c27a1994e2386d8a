// The installed Temporal CLI dev server as a child process, started the way the SDK starts it
// (TestWorkflowEnvironment.createLocal), but watched: a dev server that exits before it answers fails
// with its own error (a port in use, a database file it cannot open) instead of the SDK's "did not start
// within 5s", and the folder of its database file is created first.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Connection } from '@temporalio/client';
import { serverPaths, TEMPORAL_CLI_VERSION } from './index';

export interface DevServerOptions {
  port: number;
  /** The Web UI's port; without it the server runs headless. */
  uiPort?: number;
  /** SQLite file (its folder is created when missing); without it the server keeps everything in memory. */
  dbFilename?: string;
  namespace?: string;
  /** `--search-attribute` values: the SDK's SearchAttributeType names (KEYWORD, KEYWORD_LIST, ...). */
  searchAttributes?: ReadonlyArray<{ name: string; type: string }>;
  /** How long to wait for it to answer. Default 60 s (a first start creates its database). */
  startTimeoutMs?: number;
  /** Where the server's output goes once it answers, line by line (its errors while running); default this process's stderr. */
  output?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface RunningDevServer {
  address: string;
  teardown(): Promise<void>;
}

/** The CLI's names of the SDK's search attribute types. */
const CLI_TYPES: Record<string, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** Starts the installed Temporal CLI dev server and waits until it answers; its own error when it exits first. */
export async function startDevServer(options: DevServerOptions): Promise<RunningDevServer> {
  const namespace = options.namespace ?? 'default';
  const args = [
    'server',
    'start-dev',
    '--port',
    String(options.port),
    '--namespace',
    namespace,
    '--ip',
    '127.0.0.1',
    '--log-format',
    'pretty',
    '--log-level',
    'error',
  ];
  // As the SDK starts it: updates on, no version check.
  for (const v of [
    'frontend.enableServerVersionCheck=false',
    'frontend.enableUpdateWorkflowExecution=true',
    'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
  ])
    args.push('--dynamic-config-value', v);
  if (options.dbFilename) {
    const file = resolve(options.dbFilename);
    mkdirSync(dirname(file), { recursive: true });
    args.push('--db-filename', file);
  }
  if (options.uiPort) args.push('--ui-port', String(options.uiPort));
  else args.push('--headless');
  for (const sa of options.searchAttributes ?? [])
    args.push('--search-attribute', `${sa.name}=${CLI_TYPES[sa.type.toUpperCase()] ?? sa.type}`);

  const child: ChildProcess = spawn(serverPaths().cli.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  // The dev server does not outlive this process, however it ends.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  child.once('exit', () => process.removeListener('exit', onExit));
  const address = `127.0.0.1:${options.port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(force);
  };
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const until = Date.now() + timeoutMs;
  const what = `the Temporal dev server (CLI ${TEMPORAL_CLI_VERSION})`;
  const own = () => output.trim().split('\n').slice(-10).join('\n') || '(it printed nothing)';
  for (;;) {
    if (spawnError) throw new Error(`${what} could not be started: ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(
        `${what} exited (${child.exitCode ?? child.signalCode}) before it answered on ${address}; its own error:\n${own()}`,
      );
    if (Date.now() > until) {
      await stop();
      throw new Error(`${what} did not answer on ${address} within ${timeoutMs / 1000} s; its output:\n${own()}`);
    }
    const ok = await Connection.connect({ address, connectTimeout: 1_000 })
      .then(async (c) => {
        try {
          await c.workflowService.getSystemInfo({});
          return true;
        } finally {
          await c.close();
        }
      })
      .catch(() => false);
    if (ok) break;
    await sleep(200);
  }
  // Later output (its errors while running) goes to this process's stderr, as with the SDK, or line by line to `output`.
  child.stdout!.removeListener('data', keep);
  child.stderr!.removeListener('data', keep);
  for (const stream of ['stdout', 'stderr'] as const) {
    const { output } = options;
    if (!output) {
      child[stream]!.on('data', (d: Buffer) => process.stderr.write(d));
      continue;
    }
    let partial = '';
    child[stream]!.on('data', (d: Buffer) => {
      const lines = (partial + d.toString()).split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (line.trim()) output(line.trimEnd(), stream);
    });
    child[stream]!.once('end', () => partial.trim() && output(partial.trimEnd(), stream));
  }
  return { address, teardown: stop };
}
