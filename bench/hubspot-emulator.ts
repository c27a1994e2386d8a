// Throughput of the local HubSpot emulator over real HTTP with keep-alive.
//
//   npm run bench:emulator [-- --seconds N] [--concurrency C] [--contacts N] [--in-process | --server-process]
//                             [--quick] [--no-wait]
//
// Seeds one account (rate limits off) with ~10,000 contacts, then measures sustained requests per
// second, closed-loop with C requests in flight, for
//   lookup: GET  /crm/v3/objects/contacts/{email}?idProperty=email   (a random seeded email)
//   create: POST /crm/v3/objects/contacts                             (a unique email each time)
// once with plain node:http (http.Agent keepAlive, maxSockets C) and once through the official
// @hubspot/api-client (same agent), and prints a table and whether lookups reach 5,000/s.
//
// By default the emulator runs in a child process (the CLI, hubspot-emulator/cli.ts, with a
// --seed-file), so load generator and server do not share one thread; --in-process starts it in
// this process instead (then both share one event loop, which caps the figure). --quick measures 2 s
// instead of 5. Before measuring it waits while the chaos run, the test suite or an earlier benchmark
// runs (--no-wait skips that).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from '@hubspot/api-client';
import { startHubSpotEmulator, type EmulatorAccountSeed } from '../hubspot-emulator';
import { procCpu, waitForOtherBenchmarks } from './rig/machine';
import { has, num, printedHelp, runMain } from './rig/options';
import { percentile, progress, table } from './rig/report';

const TARGET_LOOKUPS_PER_SECOND = 5_000;
const ROOT = resolve(__dirname, '..');

const SECONDS = num('seconds', 5, 2, 0.1);
const CONCURRENCY = Math.floor(num('concurrency', 32, 32, 1));
const CONTACTS = Math.floor(num('contacts', 10_000, 10_000, 1));
const WARMUP_SECONDS = Math.min(1, SECONDS / 5);
const wantInProcess = has('in-process');

const TOKEN = 'bench-token';
const seedEmail = (i: number) => `contact${i}@bench.example`;
const SEED: EmulatorAccountSeed = {
  accountId: 'bench',
  token: TOKEN,
  appId: 9_000_001,
  rateLimit: { perTenSeconds: 0, searchPerSecond: 0 },
  contacts: Array.from({ length: CONTACTS }, (_, i) => ({
    properties: {
      email: seedEmail(i),
      firstname: `First${i}`,
      lastname: `Last${i}`,
      company: `Company ${i % 100}`,
      phone: `+1 555 ${String(i).padStart(7, '0')}`,
    },
  })),
};

// ---- the emulator: a child process (default) or in this process ------------------------------------

interface Target {
  url: string;
  mode: 'server-process' | 'in-process';
  /** CPU seconds the server has used so far (user+system), when known. */
  serverCpu(): number | undefined;
  close(): Promise<void>;
}

async function startServerProcess(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'hubspot-emulator-bench-'));
  const seedFile = join(dir, 'accounts.json');
  writeFileSync(seedFile, JSON.stringify([SEED]));
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', 'hubspot-emulator/cli.ts', '--port', '0', '--seed-file', seedFile],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const killChild = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  process.once('exit', killChild);
  let out = '';
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`the emulator CLI did not start in 20 s: ${out}`)), 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the emulator CLI exited (${code}): ${out}`));
    });
  }).catch((err: unknown) => {
    killChild();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  child.stdout!.resume();
  return {
    url,
    mode: 'server-process',
    serverCpu: () => procCpu(child.pid),
    close: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 3_000))]);
        killChild();
      }
      process.off('exit', killChild);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startInProcess(): Promise<Target> {
  const emulator = await startHubSpotEmulator({ port: 0, accounts: [SEED] });
  return { url: emulator.url, mode: 'in-process', serverCpu: () => undefined, close: () => emulator.close() };
}

// ---- the two clients --------------------------------------------------------------------------------

type Call = () => Promise<boolean>; // true when HubSpot answered as expected

function rawRequest(agent: http.Agent, url: URL, method: string, path: string, body?: string): Promise<number> {
  return new Promise((resolveStatus, reject) => {
    const req = http.request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        agent,
        headers: {
          authorization: `Bearer ${TOKEN}`,
          accept: 'application/json',
          ...(body === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }),
        },
      },
      (res) => {
        res.on('error', reject);
        res.on('end', () => resolveStatus(res.statusCode ?? 0));
        res.resume();
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let createSeq = 0;
const runId = Date.now().toString(36);
const newEmail = () => `new-${runId}-${++createSeq}@bench.example`;
const randomSeededEmail = () => seedEmail(Math.floor(Math.random() * CONTACTS));

function calls(kind: 'http' | 'api-client', agent: http.Agent, baseUrl: string): { lookup: Call; create: Call } {
  if (kind === 'http') {
    const url = new URL(baseUrl);
    return {
      lookup: async () =>
        (await rawRequest(
          agent,
          url,
          'GET',
          `/crm/v3/objects/contacts/${encodeURIComponent(randomSeededEmail())}?idProperty=email`,
        )) === 200,
      create: async () =>
        (await rawRequest(
          agent,
          url,
          'POST',
          '/crm/v3/objects/contacts',
          JSON.stringify({ properties: { email: newEmail(), firstname: 'Bench', lastname: 'Created' } }),
        )) === 201,
    };
  }
  const client = new Client({ accessToken: TOKEN, basePath: baseUrl, numberOfApiCallRetries: 0, httpAgent: agent });
  return {
    lookup: async () => {
      const email = randomSeededEmail();
      const c = await client.crm.contacts.basicApi.getById(email, undefined, undefined, undefined, false, 'email');
      return c.properties.email === email;
    },
    create: async () => {
      const email = newEmail();
      const c = await client.crm.contacts.basicApi.create({
        properties: { email, firstname: 'Bench', lastname: 'Created' },
        associations: [],
      });
      return c.properties.email === email;
    },
  };
}

// ---- the measurement --------------------------------------------------------------------------------

interface Result {
  operation: string;
  client: string;
  requests: number;
  errors: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  clientCpu: number;
  serverCpu?: number;
  firstError?: string;
}

async function measure(
  operation: string,
  clientName: string,
  call: Call,
  seconds: number,
  target: Target,
  quiet = false,
): Promise<Result> {
  let latencies = new Float64Array(1 << 16);
  let n = 0;
  let errors = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const cpu0 = process.cpuUsage();
  const server0 = target.serverCpu();
  let lastN = 0;
  let lastT = started;
  const ticker = quiet
    ? undefined
    : setInterval(() => {
        const now = performance.now();
        const rate = ((n - lastN) * 1000) / (now - lastT);
        progress(
          `${operation}/${clientName}: ${((now - started) / 1000).toFixed(1)} s, ${n.toLocaleString('en-US')} requests, ${Math.round(rate).toLocaleString('en-US')}/s now${errors ? `, ${errors} errors` : ''}`,
        );
        lastN = n;
        lastT = now;
      }, 1_000);
  const worker = async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      let ok = false;
      try {
        ok = await call();
        if (!ok && !firstError) firstError = 'unexpected answer';
      } catch (err) {
        const e = err as { code?: unknown; message?: string };
        if (!firstError) firstError = `${String(e.code ?? '')} ${String(e.message ?? err).split('\n')[0]}`.trim();
      }
      const dt = performance.now() - t0;
      if (n === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[n++] = dt;
      if (!ok) errors++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (ticker) clearInterval(ticker);
  const elapsed = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const server1 = target.serverCpu();
  const measured = latencies.subarray(0, n);
  return {
    operation,
    client: clientName,
    requests: n,
    errors,
    seconds: elapsed,
    perSecond: (n - errors) / elapsed,
    p50: percentile(measured, 50),
    p99: percentile(measured, 99),
    clientCpu: (cpu.user + cpu.system) / 1e6 / elapsed,
    serverCpu: server0 !== undefined && server1 !== undefined ? (server1 - server0) / elapsed : undefined,
    firstError,
  };
}

function resultTable(results: Result[]): string {
  const head = [
    'operation',
    'client',
    'requests',
    'errors',
    'seconds',
    'req/s',
    'p50 ms',
    'p99 ms',
    'bench CPU',
    'server CPU',
  ];
  const rows = results.map((r) => [
    r.operation,
    r.client,
    r.requests.toLocaleString('en-US'),
    String(r.errors),
    r.seconds.toFixed(1),
    Math.round(r.perSecond).toLocaleString('en-US'),
    r.p50.toFixed(2),
    r.p99.toFixed(2),
    `${Math.round(r.clientCpu * 100)}%`,
    r.serverCpu === undefined ? '(shared)' : `${Math.round(r.serverCpu * 100)}%`,
  ]);
  return table(head, rows, 2);
}

async function main(): Promise<void> {
  if (printedHelp(__filename)) return;
  await waitForOtherBenchmarks();
  let target: Target;
  if (wantInProcess) target = await startInProcess();
  else {
    try {
      target = await startServerProcess();
    } catch (err) {
      process.stderr.write(
        `could not start the emulator in a child process (${(err as Error).message.split('\n')[0]}); falling back to in-process\n`,
      );
      target = await startInProcess();
    }
  }
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  process.stdout.write(
    `HubSpot emulator bench: ${target.mode} emulator at ${target.url}, ${CONTACTS.toLocaleString('en-US')} seeded contacts, rate limits off, ` +
      `${CONCURRENCY} requests in flight, ${SECONDS} s per measurement (after ${WARMUP_SECONDS} s warm-up), keep-alive, ` +
      `node ${process.version}\n`,
  );
  const results: Result[] = [];
  try {
    const sanity = calls('api-client', agent, target.url);
    if (!(await sanity.lookup())) throw new Error('a seeded contact was not found by email');
    for (const operation of ['lookup', 'create'] as const) {
      for (const clientName of ['http', 'api-client'] as const) {
        const call = calls(clientName, agent, target.url)[operation];
        await measure(operation, clientName, call, WARMUP_SECONDS, target, true);
        process.stderr.write(`${operation} via ${clientName === 'http' ? 'node:http' : '@hubspot/api-client'}:\n`);
        const r = await measure(
          operation,
          clientName === 'http' ? 'node:http' : '@hubspot/api-client',
          call,
          SECONDS,
          target,
        );
        results.push(r);
        if (r.firstError) process.stderr.write(`  first error: ${r.firstError}\n`);
      }
    }
  } finally {
    agent.destroy();
    await target.close();
  }
  process.stdout.write(`\n${resultTable(results)}\n\n`);
  const lookups = results.filter((r) => r.operation === 'lookup');
  const best = lookups.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  const verdict = best.perSecond >= TARGET_LOOKUPS_PER_SECOND ? 'YES' : 'NO';
  process.stdout.write(
    `Lookups reach the ${TARGET_LOOKUPS_PER_SECOND.toLocaleString('en-US')}/s target: ${verdict} ` +
      `(best ${Math.round(best.perSecond).toLocaleString('en-US')}/s via ${best.client}; ` +
      lookups.map((r) => `${r.client} ${Math.round(r.perSecond).toLocaleString('en-US')}/s`).join(', ') +
      `; ${target.mode === 'in-process' ? 'server and load generator share one thread' : 'server in its own process'})\n`,
  );
  if (results.some((r) => r.errors > 0)) process.exitCode = 1;
}

runMain(main);
