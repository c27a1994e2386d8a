// The HubSpot adapter (src/hubspot) as the activities use it: every call through the official client's
// typed APIs over real HTTP, to the emulator's 2026-09 paths; calls that end when they end (aborted at
// their timeout or by their caller, the pacing slot held until the request has closed); errors
// classified with the account named, HubSpot's "Existing ID" read, validation rules named, and no
// personal data or credential in any message, in bounded time whatever HubSpot answers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import {
  HubSpotAccounts,
  staticDirectory,
  type HubSpotAccount,
  type HubSpotAccountSettings,
} from '../src/hubspot/accounts';
import { AccountNeedsReconnect, type AccountDirectory, type HubSpotConnection } from '../src/hubspot/directory';
import { classifyHubSpotError, parseErrorBody, redact, validationDetails } from '../src/hubspot/errors';
import { dateVersionedPath } from '../src/hubspot/transport';
import { startHubSpotEmulator, type EmulatorAccountSeed, type HubSpotEmulator } from '../hubspot-emulator';
import {
  archiveContact,
  contactPropertyValidationRules,
  createContacts,
  createNotes,
  mergeContacts,
  readContacts,
  readNote,
  searchContacts,
  searchNotes,
  updateContacts,
  updateNotes,
  upsertContacts,
} from './helpers/hubspot-calls';

const TOKEN = 'pat-eu1-7f3a9c2e-51d4-4b8e-9a61-c0ffee15beef';
const SEED: EmulatorAccountSeed = {
  accountId: 'adapter',
  token: TOKEN,
  appId: 4242,
  rateLimit: { perTenSeconds: 0, searchPerSecond: 0 },
  // Searched only for a contact seeded before the test starts: no write has to wait for the index.
  searchLagMs: 0,
  customProperties: [{ name: 'favorite_product', label: 'Favorite product', type: 'string', fieldType: 'text' }],
  contacts: [
    {
      id: '7001',
      properties: {
        email: 'maria.garcia@example.com',
        firstname: 'Maria',
        hs_additional_emails: 'maria@garcia-consulting.example',
      },
    },
    { id: '7002', properties: { email: 'li.wei@example.com', firstname: 'Li' } },
    { id: '7003', properties: { email: 'merge.me@example.com', firstname: 'Dup' } },
  ],
  validationRules: {
    conditionalRequired: [{ property: 'lifecyclestage', values: ['customer'], requires: ['company'] }],
    propertyRules: { company: [{ ruleType: 'MAX_LENGTH', ruleArguments: ['200'] }] },
  },
};
const STRICT: EmulatorAccountSeed = {
  accountId: 'strict',
  token: 'strict-token-0123456789',
  appId: 4343,
  rateLimit: { perTenSeconds: 0, searchPerSecond: 0 },
  validationRules: { requiredOnCreate: ['lastname', 'company'] },
};

let emulator: HubSpotEmulator;
let accounts: HubSpotAccounts;
let account: HubSpotAccount;
/** Every failure message any test saw: scanned for the token at the end. */
const messages: string[] = [];

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => assert.fail('expected the call to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `not an ApplicationFailure: ${String(err)}`);
  messages.push(err.message);
  return err;
}

const settings = (s: EmulatorAccountSeed, extra: Partial<HubSpotAccountSettings> = {}): HubSpotAccountSettings => ({
  ...emulator.connection(s),
  ...extra,
});

before(async () => {
  emulator = await startHubSpotEmulator({ accounts: [SEED, STRICT] });
  accounts = new HubSpotAccounts(staticDirectory([settings(SEED), settings(STRICT, { kind: 'service-key' })]));
  account = await accounts.get(SEED.accountId);
});
after(async () => {
  await emulator?.close();
});

describe('HubSpot calls on API version 2026-09, through the emulator', () => {
  test('reads a contact by primary or secondary email, any case; an unknown email is null', async () => {
    const maria = await account.readContactByEmail('Maria.Garcia@Example.com', ['email', 'firstname']);
    assert.equal(maria?.id, '7001');
    assert.equal(maria?.properties.firstname, 'Maria');
    assert.equal((await account.readContactByEmail('maria@garcia-consulting.example', ['email']))?.id, '7001');
    assert.equal(await account.readContactByEmail('nobody@example.com', ['email']), null);
  });

  test('creates, updates and reads a contact; a second create with the same email is a 409 carrying the existing id', async () => {
    const created = await account.createContact({ email: 'ada@example.com', firstname: 'Ada' });
    assert.match(created.id, /^\d+$/);
    const updated = await account.updateContact(created.id, { firstname: 'Augusta' });
    assert.equal(updated.properties.firstname, 'Augusta');
    assert.equal((await account.readContact(created.id, ['firstname']))?.properties.firstname, 'Augusta');

    const conflict = await failure(account.createContact({ email: 'ADA@example.com', firstname: 'Again' }));
    assert.equal(conflict.type, 'HubSpotConflict');
    assert.equal(conflict.nonRetryable, true);
    assert.deepEqual(conflict.details, [created.id]);
    assert.match(conflict.message, /^HubSpot account adapter: conflict during contact create \(409, existing id \d+\)/);
  });

  test('a merged-away contact reads as the surviving one; an archived one reads as null', async () => {
    const survivor = await mergeContacts(account, '7002', '7003');
    // Either id now reads as the surviving contact, whose id HubSpot may have changed.
    assert.equal((await account.readContact('7003', ['email']))?.id, survivor.id);
    assert.equal((await account.readContact('7002', ['email']))?.id, survivor.id);
    const gone = await account.createContact({ email: 'gone@example.com' });
    await archiveContact(account, gone.id);
    assert.equal(await account.readContact(gone.id, ['email']), null);
  });

  test('notes: created associated with the contact (read back through the association, not search), read, updated; a missing note', async () => {
    const contact = await account.createContact({ email: 'noted@example.com' });
    const note = await account.createNote({
      body: '<p>Hello</p>',
      timestamp: new Date().toISOString(),
      contactId: contact.id,
    });
    assert.deepEqual(await account.noteIdsOfContact(contact.id), [note.id]);
    assert.deepEqual((await account.noteIdsOfContacts([contact.id, '7001'])).get(contact.id), [note.id]);
    // A contact without notes, and one HubSpot does not know, have none.
    assert.deepEqual(await account.noteIdsOfContact('7002'), []);
    assert.deepEqual(await account.noteIdsOfContact('999999990'), []);
    assert.equal((await readNote(account, note.id))?.properties.hs_note_body, '<p>Hello</p>');
    await account.updateNote(note.id, '<p>Hello again</p>');
    assert.equal((await readNote(account, note.id))?.properties.hs_note_body, '<p>Hello again</p>');
    assert.equal(await readNote(account, '999999999'), null);
    const missing = await failure(account.updateNote('999999999', 'x'));
    assert.equal(missing.type, 'HubSpotNotFound');
    assert.equal(missing.nonRetryable, true);
  });

  test('one contact’s notes past a page (500): every page, through the 2026-09 batch read with its after', async () => {
    const contact = await account.createContact({ email: 'many.notes@example.com' });
    const ts = new Date().toISOString();
    const made: string[] = [];
    for (let i = 0; i < 6; i++) {
      const batch = await createNotes(
        account,
        Array.from({ length: i < 5 ? 100 : 3 }, (_, k) => ({
          body: `n${i}-${k}`,
          timestamp: ts,
          contactId: contact.id,
        })),
      );
      made.push(...batch.map((n) => n.id));
    }
    const before = emulator.requests(SEED.accountId).length;
    const ids = await account.noteIdsOfContact(contact.id);
    assert.deepEqual([...ids].sort(), [...made].sort());
    const sent = emulator.requests(SEED.accountId).slice(before);
    assert.deepEqual(
      sent.map((r) => [r.operation, r.path]),
      [
        ['associations.batchRead', '/crm/associations/2026-09/contacts/notes/batch/read'],
        ['associations.batchRead', '/crm/associations/2026-09/contacts/notes/batch/read'],
      ],
    );
  });

  test('batch calls: read by email (unknown ones listed as missing), create, update, upsert; note batches', async () => {
    const read = await readContacts(account, ['maria.garcia@example.com', 'unknown@example.com'], ['email'], {
      idProperty: 'email',
    });
    assert.deepEqual(
      read.results.map((r) => r.id),
      ['7001'],
    );
    assert.deepEqual(read.missing, ['unknown@example.com']);
    const made = await createContacts(account, [{ email: 'b1@example.com' }, { email: 'b2@example.com' }]);
    assert.equal(made.length, 2);
    const changed = await updateContacts(
      account,
      made.map((m) => ({ id: m.id, properties: { firstname: 'Batch' } })),
    );
    assert.deepEqual(
      changed.map((c) => c.properties.firstname),
      ['Batch', 'Batch'],
    );
    const upserted = await upsertContacts(
      account,
      [
        { id: 'b1@example.com', properties: { lastname: 'One' } },
        { id: 'b3@example.com', properties: { lastname: 'Three' } },
      ],
      'email',
    );
    assert.equal(upserted.length, 2);
    const notes = await createNotes(
      account,
      made.map((m) => ({ body: 'n', timestamp: new Date().toISOString(), contactId: m.id })),
    );
    await updateNotes(
      account,
      notes.map((n) => ({ id: n.id, body: 'm' })),
    );
    const back = await account.readNotes([...notes.map((n) => n.id), '999999998']);
    assert.deepEqual(
      back.results.map((n) => n.properties.hs_note_body),
      ['m', 'm'],
    );
    assert.deepEqual(back.missing, ['999999998']);
    await account.archiveNote(notes[0]!.id);
    assert.equal(await readNote(account, notes[0]!.id), null);
  });

  test('search, the contact-property schema (cached) and a property’s validation rules', async () => {
    const page = await searchContacts(account, {
      filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: 'maria.garcia@example.com' }] }],
      properties: ['email'],
    });
    assert.deepEqual(
      page.results.map((r) => r.id),
      ['7001'],
    );
    const notes = await searchNotes(account, {
      filterGroups: [{ filters: [{ propertyName: 'hs_note_body', operator: 'EQ', value: 'no such note' }] }],
    });
    assert.deepEqual(notes.results, []);
    const before = emulator.requestCounts(SEED.accountId)['properties.list'] ?? 0;
    const schema = await account.contactPropertySchema();
    assert.ok(schema.some((p) => p.name === 'favorite_product'));
    await account.contactPropertySchema();
    assert.equal(
      emulator.requestCounts(SEED.accountId)['properties.list'],
      before + 1,
      'the second read comes from the cache',
    );
    // The format rule only: HubSpot's API does not list the portal's conditional requirement on company.
    const rules = await contactPropertyValidationRules(account, 'company');
    assert.deepEqual(
      rules.map((r) => r.ruleType),
      ['MAX_LENGTH'],
    );
  });

  test('what goes over the wire is the 2026-09 API only', () => {
    const paths = emulator.requests(SEED.accountId).map((r) => r.path);
    assert.ok(paths.length > 20);
    const legacy = paths.filter(
      (p) => !/^\/crm\/(objects|properties|associations|property-validations)\/2026-09\//.test(p),
    );
    assert.deepEqual(legacy, []);
    for (const prefix of [
      '/crm/objects/2026-09/contacts/',
      '/crm/objects/2026-09/notes/search',
      '/crm/objects/2026-09/contacts/merge',
      '/crm/objects/2026-09/notes/batch/create',
      '/crm/associations/2026-09/contacts/notes/batch/read',
      '/crm/properties/2026-09/contacts',
    ]) {
      assert.ok(
        paths.some((p) => p.startsWith(prefix)),
        `no call to ${prefix}`,
      );
    }
    // No per-record association read: HubSpot's 2026-09 Associations spec does not declare one.
    assert.ok(!paths.some((p) => /\/associations\/notes$/.test(p)), 'a GET …/associations/notes was sent');
    assert.throws(
      () => dateVersionedPath('/crm/v4/objects/contacts/1/associations/notes'),
      /no 2026-09 equivalent is declared.*batch\/read/,
    );
    assert.equal(
      dateVersionedPath('/crm/v4/objects/contacts/1/associations/notes/2'),
      '/crm/objects/2026-09/contacts/1/associations/notes/2',
    );
    assert.throws(() => dateVersionedPath('/contacts/v1/contact/email/x'), /no 2026-09 equivalent/);
  });

  test('the latest X-HubSpot-RateLimit-* answer is kept per account', () => {
    const r = account.gauges().rateLimit;
    assert.ok(r && typeof r.dailyRemaining === 'number' && r.dailyRemaining > 0);
  });
});

describe('HubSpot’s waits: 423 Locked and 477 Migration in Progress are retried after the wait HubSpot asks for', () => {
  test('423 on a bulk upsert: retryable after 2 s (HubSpot’s lock); sooner it is still locked, after it the upsert lands', async () => {
    emulator.failNext(SEED.accountId, 'contacts.batchUpsert', '423');
    const upsert = () =>
      upsertContacts(account, [{ id: 'locked.upsert@example.com', properties: { firstname: 'Locked' } }], 'email');
    const f = await failure(upsert());
    const t0 = Date.now();
    assert.deepEqual([f.type, f.nonRetryable, f.nextRetryDelay], ['HubSpotLocked', false, 2_000]);
    assert.match(
      f.message,
      /^HubSpot account adapter answered 423 Locked during contact batch upsert .*retrying in 2000 ms/,
    );
    assert.equal((await failure(upsert())).type, 'HubSpotLocked', 'the lock was gone before its 2 s');
    await new Promise((r) => setTimeout(r, Math.max(0, Number(f.nextRetryDelay) - (Date.now() - t0))));
    assert.equal((await upsert())[0]!.properties.email, 'locked.upsert@example.com');
  });

  test('477 during an account migration: retryable after its Retry-After; then the call succeeds', async () => {
    emulator.failNext(SEED.accountId, 'contacts.get', '477', 1, { retryAfterSeconds: 1 });
    const f = await failure(account.readContactByEmail('maria.garcia@example.com', ['email']));
    const t0 = Date.now();
    assert.deepEqual([f.type, f.nonRetryable, f.nextRetryDelay], ['HubSpotMigrating', false, 1_000]);
    assert.match(
      f.message,
      /is being migrated by HubSpot \(477 Migration in Progress\) during contact lookup by email; retrying in 1 s/,
    );
    await new Promise((r) => setTimeout(r, Math.max(0, Number(f.nextRetryDelay) - (Date.now() - t0))));
    assert.equal(
      (await account.readContactByEmail('maria.garcia@example.com', ['email']))?.properties.email,
      'maria.garcia@example.com',
    );
  });

  test('a Retry-After on a 423 is honoured when longer than 2 s; a 477’s is capped at 24 hours', () => {
    const answer = (code: number, retryAfter: string) => ({ code, body: '{}', headers: { 'retry-after': retryAfter } });
    assert.equal(classifyHubSpotError(answer(423, '5'), 'a', 'op').nextRetryDelay, 5_000);
    assert.equal(classifyHubSpotError(answer(423, '1'), 'a', 'op').nextRetryDelay, 2_000);
    assert.equal(classifyHubSpotError(answer(477, '3600'), 'a', 'op').nextRetryDelay, 3_600_000);
    assert.equal(classifyHubSpotError(answer(477, '999999'), 'a', 'op').nextRetryDelay, 86_400_000);
  });
});

describe('refusals HubSpot makes: named, not retried, no values', () => {
  test('a write-validation rule (required on create): the rule and the missing properties are named', async () => {
    const strict = await accounts.get(STRICT.accountId);
    assert.equal(strict.connection.kind, 'service-key');
    const f = await failure(
      strict.createContact({ email: 'someone.private@example.com', lastname: 'Secret-Lastname' }),
    );
    assert.equal(f.type, 'HubSpotValidationError');
    assert.equal(f.nonRetryable, true);
    assert.match(
      f.message,
      /^HubSpot account strict refused the contact create by a validation rule of the portal \(400 VALIDATION_ERROR\): rule REQUIRED_PROPERTY: missing company: the rule requires lastname, company/,
    );
    assert.deepEqual(f.details, [
      {
        validationRules: [
          { rule: 'REQUIRED_PROPERTY', missing: ['company'], required: ['lastname', 'company'], condition: [] },
        ],
      },
    ]);
    assert.ok(!f.message.includes('someone.private') && !f.message.includes('Secret-Lastname'), f.message);
  });

  test('a conditional-required rule names the condition property', async () => {
    const c = await account.createContact({ email: 'cond@example.com' });
    const f = await failure(account.updateContact(c.id, { lifecyclestage: 'customer' }));
    assert.equal(f.nonRetryable, true);
    assert.match(
      f.message,
      /rule CONDITIONALLY_REQUIRED_PROPERTY: missing company: the rule requires company: when lifecyclestage has the value the rule names/,
    );
  });

  test('an invalid email: the property and the code, never the value', async () => {
    const f = await failure(account.createContact({ email: 'jane.doe@@example' }));
    assert.equal(f.type, 'HubSpotValidationError');
    assert.match(f.message, /refused the contact create \(400 VALIDATION_ERROR\): property "email": INVALID_EMAIL/);
    assert.ok(!f.message.includes('jane.doe'), f.message);
  });

  test('a token HubSpot does not know: 401, not retried, the account named, the token not quoted', async () => {
    const bad = new HubSpotAccounts([
      { accountId: 'wrong', token: 'pat-na1-00000000-dead-beef-0000-000000000000', appId: 1, basePath: emulator.url },
    ]);
    const f = await failure((await bad.get('wrong')).readContactByEmail('maria.garcia@example.com', ['email']));
    assert.equal(f.type, 'HubSpotAuthenticationFailed');
    assert.equal(f.nonRetryable, true);
    assert.match(
      f.message,
      /^HubSpot account wrong rejected the credentials \(401 INVALID_AUTHENTICATION\) during contact lookup by email/,
    );
    assert.ok(!f.message.includes('dead-beef'));
  });

  test('an unknown account names only the asked id; a directory that says needs-reconnect fails at once, named', async () => {
    const f = await failure(accounts.get('nope'));
    assert.equal(f.type, 'UnknownHubSpotAccount');
    assert.equal(f.nonRetryable, true);
    assert.equal(f.message, 'HubSpot account nope is not connected to this worker');
    assert.ok(!f.message.includes(SEED.accountId) && !f.message.includes(STRICT.accountId));

    const base = staticDirectory([settings(SEED)]);
    const revoked: AccountDirectory = {
      ...base,
      connection: async (id) => ({ ...(await base.connection(id))!, status: 'needs-reconnect' }),
    };
    const r = await failure(new HubSpotAccounts(revoked).get(SEED.accountId));
    assert.equal(r.type, 'HubSpotAccountNeedsReconnect');
    assert.equal(r.nonRetryable, true);
    assert.match(r.message, /^HubSpot account adapter needs to be reconnected/);

    const refusing: AccountDirectory = {
      ...base,
      accessToken: async () => {
        throw new AccountNeedsReconnect(SEED.accountId);
      },
    };
    const t = await failure((await new HubSpotAccounts(refusing).get(SEED.accountId)).readContact('7001', ['email']));
    assert.equal(t.type, 'HubSpotAccountNeedsReconnect');
  });
});

// ---- a local HTTP server that answers as each test needs ---------------------------------------------

interface Seen {
  method: string;
  path: string;
  authorization?: string;
  arrivedAt: number;
  /** When the client closed the request before any answer. */
  abortedAt?: number;
}
interface Local {
  url: string;
  seen: Seen[];
  server: Server;
}
async function localServer(handle: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void): Promise<Local> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const s: Seen = {
      method: req.method ?? '',
      path: new URL(req.url ?? '/', 'http://x').pathname,
      authorization: req.headers.authorization,
      arrivedAt: Date.now(),
    };
    seen.push(s);
    res.on('close', () => {
      if (!res.writableEnded) s.abortedAt = Date.now();
    });
    req.resume();
    req.on('end', () => handle(req, res, s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, seen, server };
}
const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
};
const closeServer = (l: Local) =>
  new Promise<void>((r) => {
    l.server.closeAllConnections();
    l.server.close(() => r());
  });
/** Waits (briefly) for the in-process server to read the close that the kernel has already delivered. */
async function closedSoon(seen: Seen | undefined): Promise<boolean> {
  for (let i = 0; i < 100 && !seen?.abortedAt; i++) await new Promise((r) => setTimeout(r, 1));
  return seen?.abortedAt !== undefined;
}

describe('calls that end when they end', { timeout: 20_000 }, () => {
  test('a call past its timeout is aborted: the socket is closed by the time it fails, and it fails retryably', async () => {
    const local = await localServer(() => undefined); // never answers
    try {
      const hs = new HubSpotAccounts([{ accountId: 'slow', token: TOKEN, appId: 1, basePath: local.url }], {
        requestTimeoutMs: 300,
      });
      const a = await hs.get('slow');
      const started = Date.now();
      const f = await failure(a.updateContact('1', { firstname: 'X' }));
      const elapsed = Date.now() - started;
      assert.equal(f.type, 'HubSpotUnreachable');
      assert.equal(f.nonRetryable, false);
      assert.match(
        f.message,
        /^HubSpot account slow could not be reached during contact update \(ETIMEDOUT: no answer within 300 ms; the request was aborted\)/,
      );
      assert.ok(elapsed >= 290 && elapsed < 2000, `failed after ${elapsed} ms`);
      assert.equal(local.seen.length, 1);
      assert.ok(await closedSoon(local.seen[0]), 'the server saw the request closed');
      assert.equal(a.gauges().callsInFlight, 0);
    } finally {
      await closeServer(local);
    }
  });

  test('a write abandoned at its timeout closes its request: a server that applies only what a connected caller sent never applies it; the retry lands', async () => {
    const hs = new HubSpotAccounts([settings(SEED)], { requestTimeoutMs: 300 });
    const a = await hs.get(SEED.accountId);
    const contact = await a.createContact({ email: 'slow.write@example.com', firstname: 'Before' });
    // The emulator's kinder slow write: applied at the end of its hold only if the request is still open.
    emulator.setFaults(SEED.accountId, {
      operations: ['contacts.update'],
      slowWriteRate: 1,
      slowWriteMs: 1_000,
      slowWriteIfConnected: true,
    });
    try {
      const f = await failure(a.updateContact(contact.id, { firstname: 'Abandoned' }));
      assert.equal(f.type, 'HubSpotUnreachable');
    } finally {
      emulator.setFaults(SEED.accountId, null);
    }
    await a.updateContact(contact.id, { firstname: 'Retried' });
    await new Promise((r) => setTimeout(r, 1_200)); // past the hold of the abandoned write
    assert.equal((await a.readContact(contact.id, ['firstname']))?.properties.firstname, 'Retried');
    const slow = emulator.requests(SEED.accountId).filter((r) => r.fault === 'injected-slow-write');
    assert.equal(slow.length, 1);
    assert.equal(slow[0]!.status, 0, 'the abandoned write was dropped, not applied');
  });

  test('the caller’s abort ends the request at once; a Temporal cancellation comes back as itself', async () => {
    const local = await localServer(() => undefined);
    try {
      const hs = new HubSpotAccounts([{ accountId: 'abort', token: TOKEN, appId: 1, basePath: local.url }], {
        requestTimeoutMs: 10_000,
      });
      const a = await hs.get('abort');
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 100);
      const started = Date.now();
      const f = await failure(
        a.createNote({ body: 'x', timestamp: new Date().toISOString(), contactId: '1' }, { signal: controller.signal }),
      );
      const elapsed = Date.now() - started;
      assert.equal(f.type, 'HubSpotCallAborted');
      assert.equal(f.nonRetryable, false);
      assert.ok(elapsed < 1_000, `ended after ${elapsed} ms`);
      assert.ok(await closedSoon(local.seen[0]), 'the server saw the request closed');

      const cancel = new AbortController();
      setTimeout(() => cancel.abort(new CancelledFailure('activity cancelled')), 50);
      const err = await a.readContact('1', ['email'], { signal: cancel.signal }).catch((e: unknown) => e);
      assert.ok(err instanceof CancelledFailure);
      assert.ok(await closedSoon(local.seen[1]));
    } finally {
      await closeServer(local);
    }
  });

  test('the pacing slot of an aborted call is held until its request has closed; a queued call gives up with its caller', async () => {
    let searches = 0;
    const local = await localServer((req, res) => {
      // The first search hangs; later ones answer.
      if (req.url?.includes('/search') && searches++ === 0) return;
      json(res, 200, { total: 0, results: [] });
    });
    try {
      // One search a second, no headroom: the second search may go 1 s after the first has ended.
      const hs = new HubSpotAccounts(
        [{ accountId: 'paced', token: TOKEN, appId: 1, basePath: local.url, searchRateLimitPerSecond: 1 }],
        { requestTimeoutMs: 300, rateLimitShare: 1 },
      );
      const a = await hs.get('paced');
      const search = (o = {}) => searchContacts(a, { filterGroups: [] }, o);
      const first = failure(search());
      const second = search();
      const queued = new AbortController();
      const third = failure(search({ signal: queued.signal }));
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(a.gauges().callsInFlight, 1, 'only the first search is out');
      queued.abort();
      assert.equal((await third).type, 'HubSpotCallAborted');
      assert.equal(local.seen.length, 1, 'the abandoned queued call was never sent');
      assert.equal((await first).type, 'HubSpotUnreachable');
      await second;
      const [one, two] = local.seen;
      assert.ok(one!.abortedAt, 'the first search was aborted');
      assert.ok(two!.arrivedAt >= one!.abortedAt!, 'the next call went only after the aborted one had closed');
      assert.ok(
        two!.arrivedAt - one!.arrivedAt >= 1_250,
        `the window counted the first call from its end (${two!.arrivedAt - one!.arrivedAt} ms)`,
      );
    } finally {
      await closeServer(local);
    }
  });
});

describe('credentials: expiry, refresh, secrecy', () => {
  test('401 EXPIRED_AUTHENTICATION: the directory drops the token and the call is retried once with a fresh one', async () => {
    const local = await localServer((req, res) => {
      if (req.headers.authorization === 'Bearer fresh-token-1234567890')
        return json(res, 200, {
          id: '1',
          properties: { email: 'x' },
          archived: false,
          createdAt: new Date().toISOString(),
          updatedAt: new Date().toISOString(),
        });
      json(res, 401, {
        status: 'error',
        message: 'The OAuth token used to make this call expired 2 minute(s) ago.',
        correlationId: 'c0ffee00-0000-4000-8000-000000000001',
        category: 'EXPIRED_AUTHENTICATION',
      });
    });
    try {
      let token = 'stale-token-1234567890';
      const invalidated: string[] = [];
      const connection: HubSpotConnection = {
        accountId: 'oauth',
        appId: 9,
        kind: 'oauth',
        status: 'connected',
        basePath: local.url,
      };
      const directory: AccountDirectory = {
        connection: async (id) => (id === 'oauth' ? connection : undefined),
        accessToken: async () => token,
        invalidate: async (_id, t) => {
          invalidated.push(t);
          token = 'fresh-token-1234567890';
        },
        accountIds: async () => ['oauth'],
      };
      const a = await new HubSpotAccounts(directory).get('oauth');
      assert.equal((await a.readContact('1', ['email']))?.id, '1');
      assert.deepEqual(invalidated, ['stale-token-1234567890']);
      assert.deepEqual(
        local.seen.map((s) => s.authorization),
        ['Bearer stale-token-1234567890', 'Bearer fresh-token-1234567890'],
      );

      // Expired again right after the refresh: one retry only, then a named failure.
      token = 'stale-token-1234567890';
      directory.invalidate = async (_id, t) => void invalidated.push(t);
      const f = await failure(a.readContact('1', ['email']));
      assert.equal(f.type, 'HubSpotAuthenticationFailed');
      assert.match(f.message, /^HubSpot account oauth rejected the credentials \(401 EXPIRED_AUTHENTICATION\)/);
      assert.equal(local.seen.length, 4);
    } finally {
      await closeServer(local);
    }
  });

  test('an answer that quotes the token, an email and a URL: none of them reaches the message', async () => {
    const local = await localServer((req, res) => {
      const auth = req.headers.authorization ?? '';
      const said = `Scope check failed for ${auth} on https://api.hubapi.com/crm/v3/objects/contacts/jane%40example.com?idProperty=email&hapikey=${TOKEN} for jane@example.com`;
      if (req.url?.includes('/notes'))
        return json(res, 403, {
          status: 'error',
          message: said,
          category: 'MISSING_SCOPES',
          correlationId: 'c0ffee00-0000-4000-8000-000000000002',
        });
      json(res, 400, { status: 'error', message: said, category: 'VALIDATION_ERROR' });
    });
    try {
      const a = await new HubSpotAccounts([{ accountId: 'leaky', token: TOKEN, appId: 1, basePath: local.url }]).get(
        'leaky',
      );
      const scopes = await failure(readNote(a, '1'));
      assert.equal(scopes.type, 'HubSpotMissingScopes');
      const invalid = await failure(a.updateContact('1', { firstname: 'x' }));
      assert.equal(invalid.type, 'HubSpotValidationError');
      for (const m of [scopes.message, invalid.message]) {
        for (const secret of [TOKEN, 'jane', 'example.com', 'hapikey', 'idProperty'])
          assert.ok(!m.includes(secret), `"${secret}" in: ${m}`);
      }
    } finally {
      await closeServer(local);
    }
  });

  test('no failure message seen in this file carries a token', () => {
    assert.ok(messages.length >= 15, `only ${messages.length} messages collected`);
    for (const m of messages) {
      for (const token of [
        TOKEN,
        STRICT.token,
        'stale-token-1234567890',
        'fresh-token-1234567890',
        'pat-na1-00000000-dead-beef-0000-000000000000',
      ]) {
        assert.ok(!m.includes(token), `token in: ${m}`);
      }
      assert.ok(!/Bearer\s+[A-Za-z0-9]/.test(m), `credential in: ${m}`);
    }
  });
});

describe('classification and redaction in bounded time, whatever the input', () => {
  const within = (what: string, fn: () => unknown, ms = 200) => {
    const started = performance.now();
    fn();
    const took = performance.now() - started;
    assert.ok(took < ms, `${what} took ${took.toFixed(0)} ms`);
  };
  const apiError = (code: number, body: unknown) => Object.assign(new Error('HTTP-Code'), { code, body, headers: {} });
  const adversarial = [
    '[{'.repeat(32_768),
    'a'.repeat(65_536),
    '.'.repeat(65_536),
    '@'.repeat(65_536),
    'a@'.repeat(32_768),
    'a.'.repeat(32_768) + '@',
    '%40'.repeat(21_845),
    'http://'.repeat(9_362),
    'x?y=&'.repeat(13_107),
    `Property values were not valid: [${'{"name":"a",'.repeat(5_000)}`,
    `Existing ID: ${'9'.repeat(65_536)}`,
    'Bearer '.repeat(9_362),
  ];

  test('redact, classify (400, 403, 409, network) and parse each adversarial string under 200 ms', () => {
    for (const s of adversarial) {
      const label = JSON.stringify(s.slice(0, 12));
      within(`redact ${label}`, () => redact(s, [TOKEN]));
      within(`400 ${label}`, () =>
        classifyHubSpotError(apiError(400, { message: s, category: 'VALIDATION_ERROR' }), 'acct', 'contact create'),
      );
      within(`400 raw ${label}`, () => classifyHubSpotError(apiError(400, s), 'acct', 'contact create'));
      within(`403 ${label}`, () => classifyHubSpotError(apiError(403, { message: s }), 'acct', 'note read'));
      within(`409 ${label}`, () => classifyHubSpotError(apiError(409, { message: s }), 'acct', 'contact create'));
      within(`network ${label}`, () => classifyHubSpotError(new Error(s), 'acct', 'contact read'));
      within(`details ${label}`, () =>
        validationDetails(
          parseErrorBody({
            message: s,
            errors: Array.from({ length: 1_000 }, () => ({ code: s.slice(0, 100), context: { propertyName: [s] } })),
          }),
        ),
      );
      within(`account ${label}`, () => classifyHubSpotError(new Error('x'), s, 'contact read'));
    }
  });

  test('what redaction removes: emails (also %40-encoded), URLs, query strings, bearer credentials, given secrets', () => {
    const out = redact(
      `jane@example.com at https://evil.example/x?y=1 path /crm/v3/objects/contacts/jane%40example.com or /a/b?email=x&z=1, Authorization: Bearer abc.def and ${TOKEN}`,
      [TOKEN],
    );
    assert.equal(
      out,
      '[email] at [url] path [email] or /a/b?[query], Authorization: [credential] [credential] and [credential]',
    );
    assert.equal(redact('plain words (kept)'), 'plain words (kept)');
    assert.ok(redact('x'.repeat(10_000)).length <= 300);
  });

  test('a 409 without an Existing ID has no details; the embedded property list of a 400 gives names and codes only', () => {
    const f = classifyHubSpotError(
      Object.assign(new Error(''), { code: 409, body: { message: 'Conflict' }, headers: {} }),
      'acct',
      'contact create',
    );
    assert.deepEqual(f.details, []);
    const v = classifyHubSpotError(
      Object.assign(new Error(''), {
        code: 400,
        body: {
          category: 'VALIDATION_ERROR',
          message:
            'Property values were not valid: [{"isValid":false,"message":"Email address x@y is invalid","error":"INVALID_EMAIL","name":"email"}]',
        },
        headers: {},
      }),
      'acct',
      'contact create',
    );
    assert.equal(
      v.message,
      'HubSpot account acct refused the contact create (400 VALIDATION_ERROR): property "email": INVALID_EMAIL',
    );
  });
});
