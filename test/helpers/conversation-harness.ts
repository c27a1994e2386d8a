// A conversation-workflow harness: the real worker (workflows + HubSpot activities) on a Temporal test
// environment, talking over real HTTP to a HubSpot emulator, driven through the platform client.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal } from '@temporalio/proto';
import { startHubSpotEmulator, type EmulatorAccountSeed, type HubSpotEmulator } from '../../hubspot-emulator';
import { HubSpotAccounts, type HubSpotAccountSettings, type HubSpotAccountsOptions } from '../../src/hubspot/accounts';
import { ConversationClient, type Conversation, type ConversationRef } from '../../src/platform/client';
import { createConversationWorker, workflowsPath } from '../../src/worker/worker';
import type { ActionConfig } from '../../src/action/config';
import { CONVERGENCE_DELAY_MS } from '../../src/action/convergence';
import type { ConversationState } from '../../src/platform/contract';
import { workflowBundle } from './temporal-env';
import type { ReceiptRecorder } from '../../src/action/receipt';

export const ACME: EmulatorAccountSeed = {
  accountId: 'acme-eu',
  token: 'acme-token',
  appId: 4242,
  rateLimit: { perTenSeconds: 0, searchPerSecond: 0 },
  contacts: [{ properties: { email: 'existing@acme.test', firstname: 'Existing', lastname: 'Person', phone: '+100' } }],
};
export const GLOBEX: EmulatorAccountSeed = {
  accountId: 'globex',
  token: 'globex-token',
  appId: 5151,
  rateLimit: { perTenSeconds: 0, searchPerSecond: 0 },
};

export function action(overrides: Partial<ActionConfig> = {}): ActionConfig {
  return {
    id: 'hubspot-upsert',
    name: 'HubSpot: create or update contact',
    intent: 'Save the customer in the CRM',
    offlineSync: true,
    hubspotAccountId: ACME.accountId,
    allowCreate: true,
    allowUpdateExisting: true,
    fieldMappings: [
      { hubspotProperty: 'email', astraField: 'email' },
      { hubspotProperty: 'firstname', astraField: 'first_name' },
      { hubspotProperty: 'phone', astraField: 'phone' },
    ],
    customFields: [],
    ...overrides,
  } as ActionConfig;
}

export interface Harness {
  env: TestWorkflowEnvironment;
  emulator: HubSpotEmulator;
  platform: ConversationClient;
  hubspot: HubSpotAccounts;
  taskQueue: string;
  /** Runs fn while the worker polls. */
  run<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

let queueSeq = 0;

export async function startHarness(
  env: TestWorkflowEnvironment,
  seeds: EmulatorAccountSeed[] = [ACME, GLOBEX],
  options: {
    accounts?: HubSpotAccountsOptions;
    settings?: (s: EmulatorAccountSeed) => Partial<HubSpotAccountSettings>;
    /** Payload encryption for the worker and the platform's client alike. */
    dataConverter?: DataConverter;
    /** Where the worker's runs leave their receipts (an account store's). */
    receipts?: ReceiptRecorder;
  } = {},
): Promise<Harness> {
  const emulator = await startHubSpotEmulator({ port: 0, accounts: seeds });
  const hubspot = new HubSpotAccounts(
    seeds.map((s) => ({ ...emulator.connection(s), ...options.settings?.(s) })),
    options.accounts,
  );
  const taskQueue = `conversations-${process.pid}-${++queueSeq}`;
  const bundle = await workflowBundle(workflowsPath);
  const client = options.dataConverter
    ? new Client({ connection: env.connection, namespace: env.namespace, dataConverter: options.dataConverter })
    : env.client;
  // Every conversation a test touches is remembered, so that the run can end it: a conversation left
  // open would, once time skips past its timers, hold workflow tasks that no worker polls any more,
  // and the time-skipping server does not skip time while tasks are outstanding.
  const touched = new Map<string, ConversationRef>();
  const platform = new Proxy(new ConversationClient({ client, taskQueue }), {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const first = args[0] as { conversationId?: unknown; workspaceId?: unknown } | undefined;
        if (
          first &&
          typeof first === 'object' &&
          typeof first.conversationId === 'string' &&
          typeof first.workspaceId === 'string'
        ) {
          touched.set(`${first.workspaceId}/${first.conversationId}`, {
            workspaceId: first.workspaceId,
            conversationId: first.conversationId,
          });
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const endTouched = async () => {
    const refs = [...touched.values()];
    touched.clear();
    await Promise.all(
      refs.map(async (ref) => {
        let handle;
        try {
          handle = platform.handle(ref);
        } catch {
          return; // a test's deliberately invalid id: nothing was started
        }
        const { status } = await handle.describe().catch(() => ({ status: { name: 'UNKNOWN' } }));
        if (status.name === 'RUNNING') await handle.terminate('test finished').catch(() => undefined);
      }),
    );
  };
  return {
    env,
    emulator,
    platform,
    hubspot,
    taskQueue,
    // A worker runs once: each test gets a fresh one on the same task queue (the bundle is shared).
    run: async (fn) => {
      const worker = await createConversationWorker({
        connection: env.nativeConnection,
        namespace: env.namespace,
        taskQueue,
        hubspot,
        workflowBundle: bundle,
        dataConverter: options.dataConverter,
        receipts: options.receipts,
      });
      try {
        return await worker.runUntil(fn);
      } finally {
        await endTouched();
      }
    },
    close: () => emulator.close(),
  };
}

/**
 * Lets HubSpot's longest plausible request lifetime pass in workflow time (the convergence window,
 * docs/CONTACT_SYNC.md), then waits until the conversation's convergence checks are done. Call it once
 * every write HubSpot held has ended in real time: the emulator's holds do not skip with the server.
 */
export async function convergenceDone(
  h: Harness,
  conversation: ConversationRef,
  checks = 1,
): Promise<NonNullable<ConversationState['convergence']>> {
  await h.env.sleep(CONVERGENCE_DELAY_MS + 1_000);
  for (let i = 0; i < 150; i++) {
    const c = (await h.platform.getState(conversation))?.convergence;
    if (c && c.pending === 0 && c.checks >= checks) return c;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`conversation ${conversation.conversationId}: no convergence check ran within the window`);
}

/** Waits (real time) until `count` slow writes that arrived since `since` have ended, applied or dropped. */
export async function heldWritesEnded(h: Harness, accountId: string, since: number, count = 1): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if (h.emulator.faultLog(accountId).filter((f) => f.kind.startsWith('slow-write') && f.at >= since).length >= count)
      return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('a held write never ended');
}

/**
 * The workflow version that records fixtures now (see workflows/conversation.ts): v6 keeps one timer for
 * the dormant wait's retention (patch one-retention-timer); v5 runs each action
 * run as one activity (patch run-one-activity); v4 has the workspace check (patch
 * workspace-bound-handlers) and the convergence checks after writes whose answer never came (patch
 * converge-after-unanswered-writes), each step of a run an activity. workspace-v3-* and
 * lifecycle-v3-* each have one of v4's markers.
 */
export const HISTORY_VERSION = 'lifecycle-v6';

let conversationSeq = 0;

/** The workspace test conversations belong to unless a test names another. */
export const WORKSPACE = 'ws-acme';

export function conversation(
  channel: Conversation['channel'],
  actions: ActionConfig[],
  extra: Partial<Conversation> = {},
): Conversation {
  return {
    conversationId: `conv-${process.pid}-${++conversationSeq}`,
    workspaceId: WORKSPACE,
    channel,
    actions,
    ...extra,
  };
}

/**
 * Keeps the history of a test conversation as a replay fixture when RECORD_HISTORIES=1. Fixtures are
 * named after the workflow version that records them, so a new recording never replaces what an earlier
 * released version recorded (those must keep replaying).
 */
export async function keepHistory(
  h: Harness,
  conversation: ConversationRef,
  name: string,
  runId?: string,
): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const scoped = h.platform.handle(conversation);
  const handle = runId ? h.env.client.workflow.getHandle(scoped.workflowId, runId) : scoped;
  const history = await handle.fetchHistory();
  const dir = join(__dirname, '..', 'histories');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, `${HISTORY_VERSION}-${name}.history.bin`),
    temporal.api.history.v1.History.encode(history).finish(),
  );
}
