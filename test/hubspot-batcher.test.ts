// Per-account batching of single-record calls (src/hubspot/batcher.ts), through the emulator over HTTP:
// callers ask for one record and get their own result or their own error; HubSpot sees batch calls of up
// to 100; a bad input fails only its own caller; a lost batch answer is retryable for every caller and a
// retry creates nothing twice; the agent's lane never waits behind offline calls; a caller that leaves
// before its batch is sent is not sent; several workers on one portal stay under its limit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { HubSpotAccounts, type HubSpotAccountsOptions, type HubSpotAccountSettings } from '../src/hubspot/accounts';
import { startHubSpotEmulator, type EmulatorAccountSeed, type HubSpotEmulator } from '../hubspot-emulator';
import { Pacer } from '../src/hubspot/pacer';

const KNOWN = 120;
const seed = (accountId: string, extra: Partial<EmulatorAccountSeed> = {}): EmulatorAccountSeed => ({
  accountId,
  token: `${accountId}-token`,
  appId: 5150,
  rateLimit: { perTenSeconds: 0, searchPerSecond: 0 },
  searchLagMs: 0,
  ...extra,
});
const BATCH = seed('batch', {
  contacts: Array.from({ length: KNOWN }, (_, i) => ({
    id: String(9000 + i),
    properties: { email: `known${i}@example.com`, firstname: `K${i}` },
  })),
});
const FAULTS = seed('faults');
const LANES = seed('lanes', { rateLimit: { perTenSeconds: 5, searchPerSecond: 0 } });
const SHARED = seed('shared', { rateLimit: { perTenSeconds: 10, searchPerSecond: 0 } });

let emulator: HubSpotEmulator;

const accountOf = (
  s: EmulatorAccountSeed,
  options: HubSpotAccountsOptions = {},
  extra: Partial<HubSpotAccountSettings> = {},
) => new HubSpotAccounts([{ ...emulator.connection(s), ...extra }], options).get(s.accountId);

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => assert.fail('expected the call to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `not an ApplicationFailure: ${String(err)}`);
  return err;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Calls per operation since `before`. */
function callsSince(accountId: string, before: Record<string, number>): Record<string, number> {
  const now = emulator.requestCounts(accountId);
  const out: Record<string, number> = {};
  for (const [op, n] of Object.entries(now)) if (n - (before[op] ?? 0) > 0) out[op] = n - (before[op] ?? 0);
  return out;
}

before(async () => {
  emulator = await startHubSpotEmulator({ port: 0, accounts: [BATCH, FAULTS, LANES, SHARED], searchLagMs: 0 });
});
after(async () => {
  await emulator?.close();
});

describe('batching single-record calls per account', { timeout: 60_000 }, () => {
  test('250 concurrent lookups by email make 3 batch calls, and each caller gets its own contact (or null)', async () => {
    const account = await accountOf(BATCH);
    const before = emulator.requestCounts(BATCH.accountId);
    // 120 known (some asked in another case), 130 unknown.
    const emails = Array.from({ length: 250 }, (_, i) =>
      i < KNOWN ? (i % 2 ? `Known${i}@Example.com` : `known${i}@example.com`) : `nobody${i}@example.com`,
    );
    const found = await Promise.all(emails.map((email) => account.readContactByEmail(email, ['firstname'])));
    assert.deepEqual(callsSince(BATCH.accountId, before), { 'contacts.batchRead': 3 });
    found.forEach((contact, i) => {
      if (i < KNOWN) {
        assert.equal(contact?.id, String(9000 + i), `caller ${i}`);
        assert.equal(contact?.properties.firstname, `K${i}`);
      } else assert.equal(contact, null, `caller ${i}`);
    });
  });

  test('reads by id, note writes and note associations batch the same way; a 207 maps each error to its caller', async () => {
    const account = await accountOf(BATCH);
    const ids = Array.from({ length: 10 }, (_, i) => String(9000 + i));
    let before = emulator.requestCounts(BATCH.accountId);
    const read = await Promise.all([...ids, '1', '2'].map((id) => account.readContact(id, ['email'])));
    assert.deepEqual(
      read.map((c) => c?.id ?? null),
      [...ids, null, null],
    );
    // Updates: two ids HubSpot does not know get their own 404; the other eight are updated.
    const updates = await Promise.allSettled(
      [...ids.slice(0, 8), '404001', '404002'].map((id) => account.updateContact(id, { lastname: `L${id}` })),
    );
    assert.deepEqual(callsSince(BATCH.accountId, before), { 'contacts.batchRead': 1, 'contacts.batchUpdate': 1 });
    updates.slice(0, 8).forEach((u, i) => assert.equal(u.status === 'fulfilled' && u.value.id, ids[i]));
    for (const u of updates.slice(8)) {
      assert.equal(u.status, 'rejected');
      assert.equal(((u as PromiseRejectedResult).reason as ApplicationFailure).type, 'HubSpotNotFound');
    }
    assert.equal(emulator.contacts(BATCH.accountId).find((c) => c.id === '9003')?.properties.lastname, 'L9003');

    before = emulator.requestCounts(BATCH.accountId);
    const notes = await Promise.all(
      ids
        .slice(0, 6)
        .map((contactId, i) =>
          account.createNote({ body: `summary ${i}`, timestamp: new Date().toISOString(), contactId }),
        ),
    );
    notes.forEach((n, i) => assert.equal(n.properties.hs_note_body, `summary ${i}`));
    // Contacts 0..5 have one note each, 6..9 none (HubSpot's 207 "no associations"), 404003 is unknown.
    const onContacts = await Promise.all([...ids, '404003'].map((id) => account.noteIdsOfContact(id)));
    assert.deepEqual(onContacts, [...notes.map((n) => [n.id]), [], [], [], [], []]);
    const edited = await Promise.allSettled(
      [...notes.map((n) => n.id), '404004'].map((id) => account.updateNote(id, `edited ${id}`)),
    );
    assert.equal(edited.filter((e) => e.status === 'fulfilled').length, 6);
    assert.equal(((edited[6] as PromiseRejectedResult).reason as ApplicationFailure).type, 'HubSpotNotFound');
    assert.deepEqual(callsSince(BATCH.accountId, before), {
      'notes.batchCreate': 1,
      'associations.batchRead': 1,
      'notes.batchUpdate': 1,
    });
    for (const n of notes)
      assert.equal(
        emulator.notes(BATCH.accountId).find((x) => x.id === n.id)?.properties.hs_note_body,
        `edited ${n.id}`,
      );
  });

  test('a batch create where one email exists: the others are created, that caller gets HubSpotConflict with the existing id', async () => {
    const account = await accountOf(BATCH);
    const emails = Array.from({ length: 12 }, (_, i) => (i === 7 ? 'KNOWN3@example.com' : `half-new-${i}@example.com`));
    const results = await Promise.allSettled(emails.map((email) => account.createContact({ email, firstname: 'New' })));
    results.forEach((r, i) => {
      if (i === 7) return;
      assert.equal(r.status, 'fulfilled', `caller ${i}`);
      const created = (r as PromiseFulfilledResult<{ id: string; properties: Record<string, string | null> }>).value;
      assert.equal(created.properties.email, emails[i]);
    });
    const conflict = (results[7] as PromiseRejectedResult).reason as ApplicationFailure;
    assert.ok(conflict instanceof ApplicationFailure);
    assert.equal(conflict.type, 'HubSpotConflict');
    assert.equal(conflict.nonRetryable, true);
    assert.deepEqual(conflict.details, ['9003']);
    for (const email of emails)
      assert.equal(
        emulator.contacts(BATCH.accountId).filter((c) => c.properties.email?.toLowerCase() === email.toLowerCase())
          .length,
        1,
      );
  });

  test('one invalid input (a 70,000-character value) fails only its own caller; the other 99 are created', async () => {
    const account = await accountOf(BATCH);
    const before = emulator.requestCounts(BATCH.accountId);
    const inputs = Array.from({ length: 100 }, (_, i) => ({
      email: `bulk-${i}@example.com`,
      firstname: i === 41 ? 'x'.repeat(70_000) : `B${i}`,
    }));
    const results = await Promise.allSettled(inputs.map((p) => account.createContact(p)));
    const bad = (results[41] as PromiseRejectedResult).reason as ApplicationFailure;
    assert.equal(bad.type, 'HubSpotValidationError');
    assert.match(bad.message, /firstname/);
    assert.ok(!bad.message.includes('xxxx'), 'the value is not quoted');
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 99);
    const stored = emulator.contacts(BATCH.accountId).filter((c) => c.properties.email?.startsWith('bulk-'));
    assert.equal(stored.length, 99);
    // Halving down to the bad input: at most 1 + 2 per level of 7 levels.
    const calls = callsSince(BATCH.accountId, before);
    const total = Object.values(calls).reduce((a, b) => a + b, 0);
    assert.ok(total <= 15, `${total} calls: ${JSON.stringify(calls)}`);
    assert.match(
      bad.message,
      /refused the contact create \(400/,
      'the bad input ends alone, on the single-record endpoint',
    );
  });
});

describe('faults of a whole batch', { timeout: 60_000 }, () => {
  test('a lost response of a batch create: every caller gets a retryable failure, and a retry creates no duplicate (409 with the id)', async () => {
    const account = await accountOf(FAULTS);
    emulator.failNext(FAULTS.accountId, 'contacts.batchCreate', 'lost-response');
    const emails = Array.from({ length: 20 }, (_, i) => `lost-${i}@example.com`);
    const first = await Promise.allSettled(emails.map((email) => account.createContact({ email })));
    for (const r of first) {
      assert.equal(r.status, 'rejected');
      const f = (r as PromiseRejectedResult).reason as ApplicationFailure;
      assert.equal(f.type, 'HubSpotUnreachable');
      assert.equal(f.nonRetryable, false);
    }
    const stored = new Map(emulator.contacts(FAULTS.accountId).map((c) => [c.properties.email, c.id]));
    assert.equal(stored.size, 20, 'the lost batch was applied');
    // The retry (what Temporal does for each activity): each caller meets its own 409 naming its contact.
    const before = emulator.requestCounts(FAULTS.accountId);
    const retry = await Promise.allSettled(emails.map((email) => account.createContact({ email })));
    // The refused batch, then one lookup by email that names every existing contact: no halving down to 20 single calls.
    assert.deepEqual(callsSince(FAULTS.accountId, before), { 'contacts.batchCreate': 1, 'contacts.batchRead': 1 });
    retry.forEach((r, i) => {
      const f = (r as PromiseRejectedResult).reason as ApplicationFailure;
      assert.equal(f.type, 'HubSpotConflict');
      assert.deepEqual(f.details, [stored.get(emails[i])]);
    });
    assert.equal(emulator.contacts(FAULTS.accountId).length, 20, 'no duplicate');
  });

  test('a lost response of a note batch create: retryable for every caller; the notes are found on their contacts', async () => {
    const account = await accountOf(FAULTS);
    const contacts = emulator.contacts(FAULTS.accountId).slice(0, 5);
    emulator.failNext(FAULTS.accountId, 'notes.batchCreate', 'lost-response');
    const first = await Promise.allSettled(
      contacts.map((c, i) =>
        account.createNote({ body: `lost note ${i}`, timestamp: new Date().toISOString(), contactId: c.id }),
      ),
    );
    for (const r of first)
      assert.equal(((r as PromiseRejectedResult).reason as ApplicationFailure).nonRetryable, false);
    const found = await Promise.all(contacts.map((c) => account.noteIdsOfContact(c.id)));
    found.forEach((ids, i) => assert.equal(ids.length, 1, `contact ${i}`));
  });

  test('callers that leave: before the batch is sent they are not sent; a sent write batch ends when one of its callers leaves, so no write outlives its caller', async () => {
    const account = await accountOf(FAULTS, { batchWindowMs: 300 });
    let before = emulator.requestCounts(FAULTS.accountId);
    const leaving = new AbortController();
    const gone = account.readContactByEmail('lost-1@example.com', [], { signal: leaving.signal });
    const staying = account.readContactByEmail('lost-2@example.com', []);
    setTimeout(() => leaving.abort(), 20);
    const started = Date.now();
    assert.equal((await failure(gone)).type, 'HubSpotCallAborted');
    assert.ok(Date.now() - started < 200, 'the caller left at once');
    assert.ok(await staying);
    // One caller was left: the single-record endpoint, no batch read.
    assert.deepEqual(callsSince(FAULTS.accountId, before), { 'contacts.get': 1 });

    // Sent and held by HubSpot (the emulator's kinder slow write, dropped once its request is closed):
    // the first caller that leaves ends it (its retry may start at once, and must not race a write still
    // under way); the others get a retryable failure, and nothing is written.
    before = emulator.requestCounts(FAULTS.accountId);
    emulator.failNext(FAULTS.accountId, 'contacts.batchCreate', 'slow-write-if-connected', 1, { holdMs: 1_500 });
    const controllers = [0, 1, 2].map(() => new AbortController());
    const creates = controllers.map((c, i) =>
      account.createContact({ email: `held-${i}@example.com` }, { signal: c.signal }).catch((e: unknown) => e),
    );
    await sleep(500); // window 300 ms, then sent
    controllers[0]!.abort();
    const outcomes = await Promise.all(creates);
    assert.equal((outcomes[0] as ApplicationFailure).type, 'HubSpotCallAborted');
    for (const e of outcomes.slice(1)) {
      assert.ok(
        e instanceof ApplicationFailure && !e.nonRetryable,
        `the callers still waiting get a retryable failure: ${String(e)}`,
      );
    }
    assert.equal(account.gauges().callsInFlight, 0, 'the write batch outlived the caller that left');
    await sleep(1_300);
    assert.ok(
      emulator.faultLog(FAULTS.accountId).some((f) => f.kind === 'slow-write-if-connected' && f.outcome === 'dropped'),
    );
    assert.equal(emulator.contacts(FAULTS.accountId).filter((c) => c.properties.email?.startsWith('held-')).length, 0);
    assert.deepEqual(callsSince(FAULTS.accountId, before), { 'contacts.batchCreate': 1 });
  });
});

describe('lanes and shared limits', { timeout: 60_000 }, () => {
  test('the agent’s lane flushes at once and is not delayed behind 500 queued offline calls', async () => {
    // Limit 5 per 10 s, 90% of it paced: 4 slots, 1 of them the agent's (agentShare 0.4). Offline window 1 s.
    const account = await accountOf(LANES, { batchWindowMs: 1_000, agentShare: 0.4 }, { rateLimitPerTenSeconds: 5 });
    await account.readContactByEmail('warm-up@example.com', [], { lane: 'agent' }); // HubSpot's count is known
    const offline = new AbortController();
    const queued = Array.from({ length: 500 }, (_, i) =>
      account.readContactByEmail(`offline-${i}@example.com`, [], { signal: offline.signal }).catch((e: unknown) => e),
    );
    await sleep(1_300); // the offline window has passed: 2 batches sent, 3 waiting for the window of the limit
    assert.ok(account.gauges().callsBatching >= 200, `${account.gauges().callsBatching} offline callers queued`);
    const started = Date.now();
    const agent = await account.readContactByEmail('agent@example.com', [], { lane: 'agent' });
    const took = Date.now() - started;
    assert.equal(agent, null);
    assert.ok(took < 300, `the agent's lookup took ${took} ms`);
    // The agent's call carried up to 99 of them along; the rest are still queued.
    assert.ok(account.gauges().callsBatching >= 150, `${account.gauges().callsBatching} offline callers still queued`);
    offline.abort();
    const ended = await Promise.all(queued);
    assert.ok(ended.filter((e) => e instanceof ApplicationFailure && e.type === 'HubSpotCallAborted').length >= 150);
    assert.equal(emulator.requests(LANES.accountId).filter((r) => r.status === 429).length, 0);
  });

  test('offline calls leave the agent’s share of the limit free; the agent takes it at once', async () => {
    const pacer = new Pacer({ perTenSeconds: 10, agentShare: 0.3 });
    (await pacer.acquire('general'))(); // a first call goes alone, and is answered
    const granted: string[] = [];
    const giveUp = new AbortController();
    const offline = Array.from({ length: 8 }, (_, i) =>
      pacer.acquire('general', giveUp.signal, 'offline').then(
        (release) => (granted.push(`offline ${i}`), release),
        () => () => undefined,
      ),
    );
    await sleep(50);
    // 10 slots, 3 kept for the agent, 1 used: 6 offline calls go, 2 wait.
    assert.equal(granted.length, 6);
    assert.equal(pacer.waiting, 2);
    const agent = await pacer.acquire('general', undefined, 'agent');
    assert.equal(pacer.waiting, 2, 'the agent did not wait');
    agent();
    giveUp.abort();
    for (const p of offline) (await p)();
    assert.equal(pacer.waiting, 0);
    assert.equal(granted.length, 6, 'the two offline calls over their share never went');
  });

  test('two workers on one portal, each configured with its full limit, stay under it by following HubSpot’s count', async () => {
    const options: HubSpotAccountsOptions = { batching: false };
    const [a, b] = await Promise.all([
      accountOf(SHARED, options, { rateLimitPerTenSeconds: 10 }),
      accountOf(SHARED, options, { rateLimitPerTenSeconds: 10 }),
    ]);
    const started = Date.now();
    const work = (account: typeof a, n: number) =>
      Promise.all(Array.from({ length: n }, (_, i) => account.readContactByEmail(`w${i}@example.com`, [])));
    await work(a, 3);
    // The second worker starts as the first sends its next calls: its first answer tells it what the portal has left.
    await Promise.all([work(a, 6), sleep(100).then(() => work(b, 6))]);
    const took = Date.now() - started;
    const seen = emulator.requests(SHARED.accountId);
    assert.equal(seen.filter((r) => r.status === 429).length, 0, 'no call refused');
    assert.equal(seen.length, 15);
    assert.ok(took >= 9_000, `15 calls under a limit of 10 per 10 s took only ${took} ms`);
  });
});
