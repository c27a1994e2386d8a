// HubSpot failures: retried faults never duplicate a contact or a note and never lose the write;
// refusals fail at once with a message naming the account and the cause; pacing stays under limits.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@hubspot/api-client';
import { ApplicationFailure } from '@temporalio/common';
import { localEnv, timeSkippingEnv } from './helpers/temporal-env';
import {
  ACME,
  action,
  conversation,
  convergenceDone,
  heldWritesEnded,
  startHarness,
  type Harness,
} from './helpers/conversation-harness';
import { classifyHubSpotError } from '../src/hubspot/errors';
import { HubSpotAccounts } from '../src/hubspot/accounts';
import { searchNotes } from './helpers/hubspot-calls';
import { startHubSpotEmulator, type FaultKind } from '../hubspot-emulator';

let h: Harness;
let seq = 0;

before(async () => {
  // A short per-call timeout so that "timeout" faults are cut and retried quickly.
  h = await startHarness(await timeSkippingEnv(), [ACME], { accounts: { requestTimeoutMs: 1_000 } });
});
after(async () => h?.close());

const live = action({ id: 'live', offlineSync: false });

/** A slow write's hold: past the per-call timeout (1 s here), so the write lands after its retry. */
const HOLD_MS = 2_000;

async function runTwice(op: string, kind: FaultKind) {
  const email = `fault${++seq}@example.com`;
  const conv = conversation('chat', [live]);
  // The first run creates the contact and its note; the second finds the note through the contact's
  // associations (exact, never search) and updates both.
  const faultOnFirst = ['contacts.get', 'contacts.create', 'notes.create'].includes(op);
  const options = kind === 'slow-write' ? { holdMs: HOLD_MS } : {};
  return h.run(async () => {
    const since = Date.now();
    if (faultOnFirst) h.emulator.failNext(ACME.accountId, op, kind, 1, options);
    const first = await h.platform.runAction(conv, {
      actionId: 'live',
      fields: { email, first_name: 'One' },
      summary: 'first',
    });
    if (!faultOnFirst) h.emulator.failNext(ACME.accountId, op, kind, 1, options);
    const second = await h.platform.runAction(conv, {
      actionId: 'live',
      fields: { first_name: 'Two' },
      summary: 'second',
    });
    if (kind === 'slow-write') {
      // HubSpot applies the held write after its retry: what it spoiled is repaired once the
      // convergence window has passed.
      await heldWritesEnded(h, ACME.accountId, since);
      await convergenceDone(h, conv);
    }
    return { email, first, second };
  });
}

describe('retried faults: no duplicate, no loss', () => {
  const ops = [
    'contacts.get',
    'contacts.create',
    'contacts.update',
    'associations.batchRead',
    'notes.create',
    'notes.update',
  ];
  const writes = ['contacts.create', 'contacts.update', 'notes.create', 'notes.update'];
  // slow-write: HubSpot holds the write past our per-call timeout and applies it when the hold ends,
  // after the retry has written: the convergence check repairs what it spoiled.
  const kinds: FaultKind[] = ['429', '500', 'lost-response', 'timeout', 'slow-write'];
  for (const op of ops) {
    for (const kind of kinds) {
      if (kind === 'slow-write' && !writes.includes(op)) continue;
      test(`${kind} on ${op}`, async () => {
        const faultsBefore = h.emulator.requests(ACME.accountId).filter((r) => r.fault).length;
        const { email, first, second } = await runTwice(op, kind);
        assert.equal(first.result, 'created', first.reason);
        assert.equal(second.result, 'updated', second.reason);
        const contacts = h.emulator.contacts(ACME.accountId).filter((c) => c.properties.email === email);
        assert.equal(contacts.length, 1, 'duplicate contact');
        assert.equal(contacts[0]!.properties.firstname, 'Two', 'a write was lost');
        const notes = h.emulator.notes(ACME.accountId).filter((n) => n.associations.contacts.includes(contacts[0]!.id));
        assert.equal(notes.length, 1, 'duplicate note');
        assert.match(notes[0]!.properties.hs_note_body ?? '', /second/);
        assert.equal(second.noteId, notes[0]!.id);
        const injected = h.emulator.requests(ACME.accountId).filter((r) => r.fault).length - faultsBefore;
        assert.equal(injected, 1, 'the fault was not injected');
      });
    }
  }
});

describe('refusals fail fast, named, and never fail the workflow', () => {
  test('a wrong token: failed outcome naming the account and 401, without retries', async () => {
    const bad = await startHarness(await timeSkippingEnv(), [{ ...ACME, accountId: 'acme-bad' }], {
      settings: () => ({ token: 'wrong-token' }),
    });
    try {
      const conv = conversation('chat', [action({ id: 'live', offlineSync: false, hubspotAccountId: 'acme-bad' })]);
      const outcome = await bad.run(() =>
        bad.platform.runAction(conv, { actionId: 'live', fields: { email: 'x@example.com' } }),
      );
      assert.equal(outcome.result, 'failed');
      assert.match(outcome.reason, /HubSpot account acme-bad rejected the credentials \(401 INVALID_AUTHENTICATION\)/);
      assert.ok(!outcome.reason.includes('wrong-token'), 'the token is quoted in the outcome');
      assert.equal(bad.emulator.requests().length, 1, 'a 401 was retried');
    } finally {
      await bad.close();
    }
  });

  test('a portal rule (required on create, API 2026-09): failed outcome naming the rule and the property, not retried', async () => {
    h.emulator.setValidationRules(ACME.accountId, { requiredOnCreate: ['lastname'] });
    try {
      const conv = conversation('chat', [live]);
      const creates = () => h.emulator.requestCounts(ACME.accountId)['contacts.create'] ?? 0;
      const before = creates();
      const outcome = await h.run(() =>
        h.platform.runAction(conv, {
          actionId: 'live',
          fields: { email: `rule${++seq}@example.com`, first_name: 'Rule' },
        }),
      );
      assert.equal(outcome.result, 'failed');
      assert.match(
        outcome.reason,
        /refused the contact create by a validation rule of the portal \(400 VALIDATION_ERROR\): rule REQUIRED_PROPERTY/,
      );
      assert.match(outcome.reason, /lastname/);
      assert.equal(creates() - before, 1, 'a refused write was retried');
    } finally {
      h.emulator.setValidationRules(ACME.accountId, null);
    }
  });

  test('missing scopes: failed outcome naming the account and 403', async () => {
    const seed = { ...ACME, accountId: 'acme-scopes', scopes: ['crm.objects.contacts.read'] };
    const bad = await startHarness(await timeSkippingEnv(), [seed]);
    try {
      const conv = conversation('chat', [action({ id: 'live', offlineSync: false, hubspotAccountId: 'acme-scopes' })]);
      const outcome = await bad.run(() =>
        bad.platform.runAction(conv, { actionId: 'live', fields: { email: 'x@example.com' } }),
      );
      assert.equal(outcome.result, 'failed');
      assert.match(
        outcome.reason,
        /HubSpot account acme-scopes: the credentials lack a permission needed for contact properties read \(403 MISSING_SCOPES\)/,
      );
    } finally {
      await bad.close();
    }
  });

  test('a 400 is non-retryable and its message keeps the property and code but not the value', async () => {
    const client = new Client({ accessToken: ACME.token, basePath: h.emulator.url, numberOfApiCallRetries: 0 });
    const err = await client.crm.contacts.basicApi
      .create({ properties: { email: 'jane.doe@@example' }, associations: [] })
      .catch((e: unknown) => e);
    const failure = classifyHubSpotError(err, 'acme-eu', 'contact create');
    assert.equal(failure.nonRetryable, true);
    assert.equal(failure.type, 'HubSpotValidationError');
    assert.match(
      failure.message,
      /HubSpot account acme-eu refused the contact create \(400 VALIDATION_ERROR\): property "email": INVALID_EMAIL/,
    );
    assert.ok(!failure.message.includes('jane.doe'), `personal data in: ${failure.message}`);
  });

  test('a 429 is retried after HubSpot’s Retry-After, through nextRetryDelay', async () => {
    const client = new Client({ accessToken: ACME.token, basePath: h.emulator.url, numberOfApiCallRetries: 0 });
    h.emulator.failNext(ACME.accountId, 'contacts.get', '429');
    const err = await client.crm.contacts.basicApi
      .getById('nobody@example.com', undefined, undefined, undefined, false, 'email')
      .catch((e: unknown) => e);
    const failure = classifyHubSpotError(err, 'acme-eu', 'contact lookup by email');
    assert.ok(failure instanceof ApplicationFailure);
    assert.equal(failure.nonRetryable, false);
    assert.equal(failure.type, 'HubSpotRateLimited');
    assert.equal(failure.nextRetryDelay, 1000);
  });
});

describe('HubSpot’s waits honoured, on the real clock (dev server)', () => {
  let real: Harness;
  before(async () => {
    real = await startHarness((await localEnv()).env, [{ ...ACME, accountId: 'acme-waits' }]);
  });
  after(async () => real?.close());

  const waitsAction = action({ id: 'live', offlineSync: false, hubspotAccountId: 'acme-waits' });
  /** The gap between a refused call and the next call of the same operation. */
  const gapAfter = (operation: string, status: number) => {
    const log = real.emulator.requests('acme-waits').filter((r) => r.operation === operation);
    const i = log.findIndex((r) => r.status === status);
    assert.ok(i >= 0 && log[i + 1], `no ${status} followed by a retry of ${operation}`);
    return log[i + 1]!.at - log[i]!.at;
  };

  test('423 Locked on a create: retried after HubSpot’s 2 s, and the run succeeds with one contact', async () => {
    const email = `locked${++seq}@example.com`;
    real.emulator.failNext('acme-waits', 'contacts.create', '423');
    const outcome = await real.run(() =>
      real.platform.runAction(conversation('chat', [waitsAction]), {
        actionId: 'live',
        fields: { email, first_name: 'Locked' },
        summary: 's',
      }),
    );
    assert.equal(outcome.result, 'created', outcome.reason);
    assert.ok(
      gapAfter('contacts.create', 423) >= 1_900,
      `retried ${gapAfter('contacts.create', 423)} ms after the 423`,
    );
    assert.equal(real.emulator.contacts('acme-waits').filter((c) => c.properties.email === email).length, 1);
  });

  test('477 Migration in Progress: retried after its Retry-After, and the run succeeds', async () => {
    const email = `migrating${++seq}@example.com`;
    real.emulator.failNext('acme-waits', 'contacts.get', '477', 1, { retryAfterSeconds: 2 });
    const outcome = await real.run(() =>
      real.platform.runAction(conversation('chat', [waitsAction]), {
        actionId: 'live',
        fields: { email, first_name: 'Moved' },
        summary: 's',
      }),
    );
    assert.equal(outcome.result, 'created', outcome.reason);
    const gap = gapAfter('contacts.get', 477);
    assert.ok(gap >= 1_900, `retried ${gap} ms after the 477`);
    assert.equal(
      real.emulator.requests('acme-waits').filter((r) => r.status === 477).length,
      1,
      'a call was sent during the migration',
    );
  });
});

describe('pacing per HubSpot account', () => {
  test('a burst of searches stays under the account’s per-second search limit; unpaced, the same burst is refused', async () => {
    const seed = {
      accountId: 'paced',
      token: 'paced-token',
      appId: 9,
      rateLimit: { perTenSeconds: 0, searchPerSecond: 5 },
    };
    const emulator = await startHubSpotEmulator({ port: 0, accounts: [seed] });
    try {
      const burst = async (accounts: HubSpotAccounts) => {
        const account = await accounts.get('paced');
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, () => searchNotes(account, { filterGroups: [], limit: 1 })),
        );
        return results.filter((r) => r.status === 'rejected').length;
      };
      const unpaced = await burst(new HubSpotAccounts([{ ...seed, basePath: emulator.url }]));
      await new Promise((r) => setTimeout(r, 1100));
      const paced = await burst(
        new HubSpotAccounts([{ ...seed, basePath: emulator.url, searchRateLimitPerSecond: 5 }]),
      );
      assert.ok(unpaced >= 5, `unpaced burst got only ${unpaced} refusals`);
      assert.equal(paced, 0, 'the paced burst was rate limited');
      assert.equal(emulator.requests('paced').filter((r) => r.status === 429).length, unpaced);
    } finally {
      await emulator.close();
    }
  });
});
