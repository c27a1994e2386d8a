// The local HubSpot emulator, seen as a user of the official @hubspot/api-client (or plain HTTP) sees
// it: contacts, notes, calls and communications, associations, properties and property validation rules
// on the 2026-09 and the legacy v3/v4 paths; HubSpot's validation, auth, rate-limit and error shapes; its
// unkind parts (search lag, value limits, archive, merge, unique values, write rules, slow writes); the
// emulator's own 501 for operations it does not serve; injected faults; the /_emulator inspection API;
// and the CLI.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@hubspot/api-client';
import { AssociationSpecAssociationCategoryEnum } from '@hubspot/api-client/lib/codegen/crm/objects/notes/models/AssociationSpec';
import { FilterOperatorEnum } from '@hubspot/api-client/lib/codegen/crm/contacts/models/Filter';
import {
  EMULATOR_USER_ID,
  startHubSpotEmulator,
  type EmulatorAccountSeed,
  type HubSpotEmulator,
} from '../hubspot-emulator';
import { freePort } from '../src/worker/net';
import { classifyHubSpotError } from '../src/hubspot/errors';
import { FailureType } from '../src/action/failures';

const OFF = { perTenSeconds: 0, searchPerSecond: 0 };

const ADA_ID = '5001';
const BOB_ID = '5002';
const MAIN: EmulatorAccountSeed = {
  accountId: 'main',
  token: 'main-token',
  appId: 7001,
  rateLimit: OFF,
  customProperties: [
    { name: 'favorite_color', label: 'Favorite color', type: 'string', fieldType: 'text' },
    { name: 'segment_by_workflow', label: 'Segment', type: 'string', fieldType: 'text', readOnlyValue: true },
    { name: 'score_label', label: 'Score label', type: 'string', fieldType: 'text', calculated: true },
  ],
  contacts: [
    {
      id: ADA_ID,
      properties: {
        email: 'Ada.Lovelace@example.com',
        firstname: 'Ada',
        lastname: 'Lovelace',
        company: 'Analytical Engines',
        city: 'London',
        hs_additional_emails: 'ada@engines.example;countess@lovelace.example',
      },
    },
    {
      id: BOB_ID,
      properties: {
        email: 'bob@example.com',
        firstname: 'Bob',
        lastname: 'Builder',
        city: 'Leeds',
        favorite_color: 'teal',
      },
    },
    ...Array.from({ length: 25 }, (_, i) => ({
      properties: { email: `pager${i}@paging.example`, firstname: `Pager${i}`, company: 'Paging Co' },
    })),
  ],
};
const READ_ONLY: EmulatorAccountSeed = {
  accountId: 'reader',
  token: 'reader-token',
  appId: 7002,
  scopes: ['crm.objects.contacts.read'],
  rateLimit: OFF,
  contacts: [{ properties: { email: 'someone@reader.example', firstname: 'Some' } }],
};
const LIMITED: EmulatorAccountSeed = {
  accountId: 'limited',
  token: 'limited-token',
  appId: 7003,
  rateLimit: { perTenSeconds: 5, searchPerSecond: 0 },
};
const SEARCH_LIMITED: EmulatorAccountSeed = {
  accountId: 'search-limited',
  token: 'search-limited-token',
  appId: 7004,
  rateLimit: { perTenSeconds: 0, searchPerSecond: 2 },
};
const FAULTY: EmulatorAccountSeed = {
  accountId: 'faulty',
  token: 'faulty-token',
  appId: 7005,
  rateLimit: OFF,
  contacts: [{ id: '6001', properties: { email: 'steady@faulty.example', firstname: 'Steady' } }],
};
const INSPECT: EmulatorAccountSeed = {
  accountId: 'inspect',
  token: 'inspect-token',
  appId: 7006,
  rateLimit: OFF,
  contacts: [{ id: '7001', properties: { email: 'seeded@inspect.example', firstname: 'Seeded' } }],
};

let emulator: HubSpotEmulator;
const client = (token: string) => new Client({ accessToken: token, basePath: emulator.url, numberOfApiCallRetries: 0 });
let main: Client;

before(async () => {
  emulator = await startHubSpotEmulator({
    port: 0,
    accounts: [MAIN, READ_ONLY, LIMITED, SEARCH_LIMITED, FAULTY, INSPECT],
  });
  main = client(MAIN.token);
});
after(async () => emulator?.close());

/** What the 13.x client throws for a non-2xx answer: an ApiException with the HTTP status, parsed body and headers. */
interface ApiError {
  code: number;
  body: { status: string; message: string; category: string; correlationId: string; [k: string]: unknown };
  headers: Record<string, string>;
}
async function apiError(p: Promise<unknown>): Promise<ApiError> {
  const err = (await p.then(
    (v) => assert.fail(`expected an error, got ${JSON.stringify(v).slice(0, 300)}`),
    (e: unknown) => e,
  )) as ApiError & Error;
  assert.equal(err.constructor.name, 'ApiException', `not an HTTP error: ${String(err)}`);
  assert.equal(typeof err.code, 'number');
  return err;
}
/** A transport-level failure: no HTTP answer at all (the 14.x client's fetch rejects with "fetch failed"). */
async function networkError(p: Promise<unknown>): Promise<Error & { cause?: { code?: string } }> {
  const err = (await p.then(
    (v) => assert.fail(`expected a network error, got ${JSON.stringify(v).slice(0, 300)}`),
    (e: unknown) => e,
  )) as Error & { cause?: { code?: string } };
  assert.equal(err.constructor.name, 'TypeError', `not a network error: ${String(err)}`);
  assert.equal(err.message, 'fetch failed');
  assert.ok(err.cause, 'no cause');
  return err;
}
/** HubSpot's validation message: "Property values were not valid: [json]". */
function validationProblems(message: string): Array<{ error: string; name: string; message: string }> {
  const m = /^Property values were not valid: (\[.*\])$/s.exec(message);
  assert.ok(m, `not HubSpot's validation message: ${message}`);
  return JSON.parse(m[1]!);
}
const byEmail = (c: Client, email: string, properties?: string[]) =>
  c.crm.contacts.basicApi.getById(email, properties, undefined, undefined, false, 'email');
const eq = (propertyName: string, value: string) => ({
  filters: [{ propertyName, operator: FilterOperatorEnum.Eq, value }],
});
const searchContacts = (
  c: Client,
  filterGroups: ReturnType<typeof eq>[],
  extra: { limit?: number; after?: string; properties?: string[] } = {},
) =>
  c.crm.contacts.searchApi.doSearch({
    filterGroups,
    sorts: [],
    properties: extra.properties ?? [],
    limit: extra.limit ?? 10,
    after: extra.after ?? '0',
  });
const noteToContact = (contactId: string) => ({
  to: { id: contactId },
  types: [{ associationCategory: AssociationSpecAssociationCategoryEnum.HubspotDefined, associationTypeId: 202 }],
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let uniq = 0;
const freshEmail = (tag: string) => `${tag}.${Date.now()}.${++uniq}@fresh.example`;

// ---- contacts -------------------------------------------------------------------------------------

describe('contacts: read', () => {
  test('getById by record id returns the default properties plus the requested ones', async () => {
    const ada = await main.crm.contacts.basicApi.getById(ADA_ID, ['company', 'city', 'favorite_color']);
    assert.equal(ada.id, ADA_ID);
    assert.equal(ada.properties.email, 'Ada.Lovelace@example.com');
    assert.equal(ada.properties.firstname, 'Ada');
    assert.equal(ada.properties.lastname, 'Lovelace');
    assert.equal(ada.properties.hs_object_id, ADA_ID);
    assert.equal(ada.properties.company, 'Analytical Engines');
    assert.equal(ada.properties.city, 'London');
    assert.equal(ada.properties.favorite_color, null, 'a requested property with no value comes back as null');
    assert.ok(ada.properties.createdate && !Number.isNaN(Date.parse(ada.properties.createdate)));
    assert.ok(ada.createdAt instanceof Date && ada.updatedAt instanceof Date);
    assert.equal(ada.archived, false);
    assert.ok(!('phone' in ada.properties), 'a property not asked for and not a default came back');
  });

  test('getById with idProperty email is case-insensitive and finds secondary emails', async () => {
    for (const email of [
      'ada.lovelace@example.com',
      'ADA.LOVELACE@EXAMPLE.COM',
      'Ada@Engines.Example',
      'countess@lovelace.example',
    ]) {
      const hit = await byEmail(main, email, ['city']);
      assert.equal(hit.id, ADA_ID, email);
      assert.equal(hit.properties.email, 'Ada.Lovelace@example.com', 'the primary email is reported');
      assert.equal(hit.properties.city, 'London');
    }
    const bob = await byEmail(main, 'bob@example.com', ['favorite_color']);
    assert.equal(bob.id, BOB_ID);
    assert.equal(bob.properties.favorite_color, 'teal');
  });

  test('an unknown contact is a 404 OBJECT_NOT_FOUND, by id and by email', async () => {
    for (const p of [main.crm.contacts.basicApi.getById('999999999'), byEmail(main, 'nobody@nowhere.example')]) {
      const err = await apiError(p);
      assert.equal(err.code, 404);
      assert.equal(err.body.status, 'error');
      assert.equal(err.body.category, 'OBJECT_NOT_FOUND');
      assert.equal(typeof err.body.message, 'string');
      assert.match(err.body.correlationId, /^[0-9a-f-]{36}$/);
    }
  });

  test('search by email EQ matches the primary (any case) and a secondary email', async () => {
    for (const email of ['ada.lovelace@EXAMPLE.com', 'ada@engines.example']) {
      const r = await searchContacts(main, [eq('email', email)], { properties: ['company'] });
      assert.equal(r.total, 1, email);
      assert.equal(r.results[0]!.id, ADA_ID);
      assert.equal(r.results[0]!.properties.company, 'Analytical Engines');
    }
    const none = await searchContacts(main, [eq('email', 'nobody@nowhere.example')]);
    assert.equal(none.total, 0);
    assert.deepEqual(none.results, []);
  });

  test('search by another property, and OR across filter groups', async () => {
    const london = await searchContacts(main, [eq('city', 'London')]);
    assert.deepEqual(
      london.results.map((r) => r.id),
      [ADA_ID],
    );
    const either = await searchContacts(main, [eq('city', 'London'), eq('city', 'Leeds')]);
    assert.deepEqual(either.results.map((r) => r.id).sort(), [ADA_ID, BOB_ID].sort());
    assert.equal(either.total, 2);
  });

  test('search pages with limit/after and paging.next.after', async () => {
    for (const limit of [10, 12, 25, 200]) {
      const seen: string[] = [];
      let after: string | undefined = '0';
      let pages = 0;
      while (after !== undefined && pages < 10) {
        const page = await searchContacts(main, [eq('company', 'Paging Co')], { limit, after });
        assert.equal(page.total, 25);
        pages++;
        assert.equal(page.results.length, Math.min(limit, 25 - (pages - 1) * limit), `limit ${limit}, page ${pages}`);
        seen.push(...page.results.map((r) => r.id));
        after = page.paging?.next?.after;
      }
      assert.equal(pages, Math.ceil(25 / limit), `limit ${limit}: ${pages} pages`);
      assert.equal(new Set(seen).size, 25, `limit ${limit}: pages overlap or skip`);
    }
  });
});

describe('contacts: write', () => {
  test('create answers 201 and records the app as the record source', async () => {
    const email = freshEmail('create');
    const t0 = Date.now();
    const res = await main.crm.contacts.basicApi.createWithHttpInfo({
      properties: { email, firstname: 'New', jobtitle: 'Engineer' },
      associations: [],
    });
    assert.equal(res.httpStatusCode, 201);
    const created = res.data;
    assert.match(created.id, /^\d+$/);
    assert.equal(created.properties.email, email);
    assert.equal(created.properties.jobtitle, 'Engineer');
    assert.equal(created.properties.hs_object_id, created.id);
    const createdate = Date.parse(created.properties.createdate!);
    assert.ok(
      createdate >= t0 - 1000 && createdate <= Date.now() + 1000,
      `createdate ${created.properties.createdate}`,
    );

    const read = await main.crm.contacts.basicApi.getById(created.id, [
      'hs_object_source',
      'hs_object_source_id',
      'jobtitle',
    ]);
    assert.equal(read.properties.hs_object_source, 'INTEGRATION');
    assert.equal(read.properties.hs_object_source_id, String(MAIN.appId));
    assert.equal(read.properties.jobtitle, 'Engineer');
    assert.equal((await byEmail(main, email.toUpperCase())).id, created.id);
  });

  test('a contact a person adds in the UI has record source CRM_UI and no app', async () => {
    const id = emulator.addContact(MAIN.accountId, { email: freshEmail('ui'), firstname: 'Typed' });
    const read = await main.crm.contacts.basicApi.getById(id, ['hs_object_source', 'hs_object_source_id']);
    assert.equal(read.properties.hs_object_source, 'CRM_UI');
    assert.equal(read.properties.hs_object_source_id, null);
  });

  test('creating an existing email, in another case or as a secondary email, is a 409 naming the existing id', async () => {
    for (const email of ['ADA.lovelace@example.COM', 'Countess@Lovelace.example']) {
      const err = await apiError(
        main.crm.contacts.basicApi.create({ properties: { email, firstname: 'Dup' }, associations: [] }),
      );
      assert.equal(err.code, 409);
      assert.equal(err.body.category, 'CONFLICT');
      assert.match(err.body.message, new RegExp(`Existing ID: ${ADA_ID}\\b`));
    }
    assert.equal(
      emulator.contacts(MAIN.accountId).filter((c) => c.properties.firstname === 'Dup').length,
      0,
      'a duplicate was stored',
    );
  });

  test('update (PATCH) changes the properties and lastmodifieddate, not createdate', async () => {
    const created = await main.crm.contacts.basicApi.create({
      properties: { email: freshEmail('upd'), firstname: 'Before' },
      associations: [],
    });
    await sleep(15);
    const updated = await main.crm.contacts.basicApi.update(created.id, {
      properties: { firstname: 'After', city: 'Paris' },
    });
    assert.equal(updated.properties.firstname, 'After');
    assert.equal(updated.properties.city, 'Paris');
    assert.equal(updated.properties.createdate, created.properties.createdate);
    assert.ok(
      Date.parse(updated.properties.lastmodifieddate!) > Date.parse(created.properties.lastmodifieddate!),
      'lastmodifieddate did not move',
    );
    assert.ok(updated.updatedAt.getTime() > created.updatedAt.getTime());
    const read = await main.crm.contacts.basicApi.getById(created.id, ['city']);
    assert.equal(read.properties.firstname, 'After');
    assert.equal(read.properties.city, 'Paris');
    assert.equal(read.properties.lastmodifieddate, updated.properties.lastmodifieddate);
  });

  test('update by email (idProperty) and changing the email moves the lookup', async () => {
    const old = freshEmail('move');
    const created = await main.crm.contacts.basicApi.create({ properties: { email: old }, associations: [] });
    const renamed = freshEmail('moved');
    await main.crm.contacts.basicApi.update(old.toUpperCase(), { properties: { email: renamed } }, 'email');
    assert.equal((await byEmail(main, renamed)).id, created.id);
    assert.equal((await apiError(byEmail(main, old))).code, 404, 'the old email still finds the contact');
    const err = await apiError(
      main.crm.contacts.basicApi.update(created.id, { properties: { email: 'bob@example.com' } }),
    );
    assert.equal(err.code, 409);
    assert.match(err.body.message, new RegExp(`Existing ID: ${BOB_ID}\\b`));
  });

  test('an email with + and other URL-special characters is found by email', async () => {
    const email = `o'brien+crm.${++uniq}@fresh.example`;
    const created = await main.crm.contacts.basicApi.create({ properties: { email }, associations: [] });
    assert.equal((await byEmail(main, email)).id, created.id);
    // Search trails writes (see "search-index lag"): this test is about matching, so the index catches up first.
    emulator.flushSearchIndex(MAIN.accountId);
    assert.equal((await searchContacts(main, [eq('email', email.toUpperCase())])).results[0]?.id, created.id);
  });

  test('updating an unknown contact is a 404', async () => {
    const err = await apiError(main.crm.contacts.basicApi.update('999999998', { properties: { firstname: 'X' } }));
    assert.equal(err.code, 404);
    assert.equal(err.body.category, 'OBJECT_NOT_FOUND');
  });
});

describe('contacts: batch', () => {
  test('batch read returns the found contacts and a 207 OBJECT_NOT_FOUND error naming the unknown ids', async () => {
    const res = await main.crm.contacts.batchApi.readWithHttpInfo({
      inputs: [{ id: ADA_ID }, { id: '999999997' }, { id: BOB_ID }],
      properties: ['city'],
      propertiesWithHistory: [],
    });
    assert.equal(res.httpStatusCode, 207);
    const body = res.data as {
      results: Array<{ id: string; properties: Record<string, string | null> }>;
      errors?: Array<{ category: string; context?: { ids?: string[] } }>;
      numErrors?: number;
    };
    assert.deepEqual(body.results.map((r) => r.id).sort(), [ADA_ID, BOB_ID]);
    assert.equal(body.results.find((r) => r.id === ADA_ID)!.properties.city, 'London');
    assert.equal(body.numErrors, 1);
    assert.equal(body.errors?.[0]?.category, 'OBJECT_NOT_FOUND');
    assert.deepEqual(body.errors?.[0]?.context?.ids, ['999999997']);
  });

  test('batch read with no unknown ids is a 200 without errors; by email it is case-insensitive', async () => {
    const res = await main.crm.contacts.batchApi.readWithHttpInfo({
      idProperty: 'email',
      inputs: [{ id: 'BOB@example.com' }, { id: 'ada@engines.example' }],
      properties: [],
      propertiesWithHistory: [],
    });
    assert.equal(res.httpStatusCode, 200);
    assert.deepEqual(res.data.results.map((r) => r.id).sort(), [ADA_ID, BOB_ID]);
    assert.equal((res.data as { errors?: unknown[] }).errors, undefined);
  });

  test('batch create creates all, with the app as record source', async () => {
    const emails = [freshEmail('bc'), freshEmail('bc')];
    const res = await main.crm.contacts.batchApi.createWithHttpInfo({
      inputs: emails.map((email, i) => ({ properties: { email, firstname: `Batch${i}` }, associations: [] })),
    });
    assert.equal(res.httpStatusCode, 201);
    assert.equal(res.data.status, 'COMPLETE');
    assert.deepEqual(res.data.results.map((r) => r.properties.email).sort(), [...emails].sort());
    for (const email of emails) {
      const stored = emulator.contacts(MAIN.accountId).find((c) => c.properties.email === email);
      assert.ok(stored, `${email} not stored`);
      assert.equal(stored.properties.hs_object_source_id, String(MAIN.appId));
    }
  });

  test('batch update applies the known ids and reports the missing one (207)', async () => {
    const c = await main.crm.contacts.basicApi.create({
      properties: { email: freshEmail('bu'), firstname: 'One' },
      associations: [],
    });
    const res = await main.crm.contacts.batchApi.updateWithHttpInfo({
      inputs: [
        { id: c.id, properties: { firstname: 'Two' } },
        { id: '999999996', properties: { firstname: 'Ghost' } },
      ],
    });
    assert.equal(res.httpStatusCode, 207);
    const body = res.data as {
      results: Array<{ id: string; properties: Record<string, string | null> }>;
      errors?: Array<{ category: string; context?: { ids?: string[] } }>;
      numErrors?: number;
    };
    assert.deepEqual(
      body.results.map((r) => [r.id, r.properties.firstname]),
      [[c.id, 'Two']],
    );
    assert.equal(body.numErrors, 1);
    assert.equal(body.errors?.[0]?.category, 'OBJECT_NOT_FOUND');
    assert.deepEqual(body.errors?.[0]?.context?.ids, ['999999996']);
    assert.equal((await main.crm.contacts.basicApi.getById(c.id)).properties.firstname, 'Two');
  });

  test('batch upsert by email creates the new and updates the existing (matched in any case)', async () => {
    const fresh = freshEmail('ups');
    const countBefore = emulator.contacts(MAIN.accountId).length;
    const res = await main.crm.contacts.batchApi.upsert({
      inputs: [
        { id: fresh, idProperty: 'email', properties: { firstname: 'Upserted' } },
        { id: 'BOB@EXAMPLE.COM', idProperty: 'email', properties: { jobtitle: 'Foreman' } },
      ],
    });
    const created = res.results.find((r) => r.properties.email === fresh);
    const updated = res.results.find((r) => r.id === BOB_ID);
    assert.ok(created && updated, JSON.stringify(res.results));
    assert.equal(created._new, true);
    assert.equal(updated._new, false);
    assert.equal(emulator.contacts(MAIN.accountId).length, countBefore + 1);
    const bob = await main.crm.contacts.basicApi.getById(BOB_ID, ['jobtitle']);
    assert.equal(bob.properties.jobtitle, 'Foreman');
    assert.equal(bob.properties.email, 'bob@example.com', 'the upsert id overwrote the stored email');
    assert.equal((await byEmail(main, fresh, ['hs_object_source'])).properties.hs_object_source, 'INTEGRATION');
  });

  test('a batch of 101 inputs is a 400 and writes nothing', async () => {
    const before = emulator.contacts(MAIN.accountId).length;
    const inputs = Array.from({ length: 101 }, (_, i) => ({
      properties: { email: `too-many-${i}@batch.example` },
      associations: [],
    }));
    const err = await apiError(main.crm.contacts.batchApi.create({ inputs }));
    assert.equal(err.code, 400);
    assert.equal(err.body.category, 'VALIDATION_ERROR');
    assert.equal(emulator.contacts(MAIN.accountId).length, before);
    const read = await apiError(
      main.crm.contacts.batchApi.read({
        inputs: Array.from({ length: 101 }, (_, i) => ({ id: String(i) })),
        properties: [],
        propertiesWithHistory: [],
      }),
    );
    assert.equal(read.code, 400);
    // 100 is still fine.
    const ok = await main.crm.contacts.batchApi.read({
      inputs: Array.from({ length: 100 }, () => ({ id: ADA_ID })),
      properties: [],
      propertiesWithHistory: [],
    });
    assert.deepEqual(
      ok.results.map((r) => r.id),
      [ADA_ID],
    );
  });
});

// ---- notes ----------------------------------------------------------------------------------------

describe('notes', () => {
  let noteId: string;

  test('create a note associated to a contact, read it back with its association', async () => {
    const timestamp = new Date().toISOString();
    const created = await main.crm.objects.notes.basicApi.createWithHttpInfo({
      properties: { hs_note_body: 'Ada asked about pricing', hs_timestamp: timestamp },
      associations: [noteToContact(ADA_ID)],
    });
    assert.equal(created.httpStatusCode, 201);
    noteId = created.data.id;
    assert.equal(created.data.properties.hs_note_body, 'Ada asked about pricing');

    const withAssoc = await main.crm.objects.notes.basicApi.getById(
      noteId,
      ['hs_note_body', 'hs_timestamp'],
      undefined,
      ['contacts'],
    );
    assert.equal(withAssoc.properties.hs_note_body, 'Ada asked about pricing');
    assert.equal(withAssoc.properties.hs_timestamp, timestamp);
    assert.deepEqual(
      withAssoc.associations?.contacts?.results.map((r) => r.id),
      [ADA_ID],
    );
    const without = await main.crm.objects.notes.basicApi.getById(noteId, ['hs_note_body']);
    assert.equal(without.associations, undefined, 'associations came back without being asked for');
    const stored = emulator.notes(MAIN.accountId).find((n) => n.id === noteId);
    assert.deepEqual(stored?.associations.contacts, [ADA_ID]);
  });

  test('update a note', async () => {
    const updated = await main.crm.objects.notes.basicApi.update(noteId, {
      properties: { hs_note_body: 'Ada bought the plan' },
    });
    assert.equal(updated.properties.hs_note_body, 'Ada bought the plan');
    const read = await main.crm.objects.notes.basicApi.getById(noteId, ['hs_note_body']);
    assert.equal(read.properties.hs_note_body, 'Ada bought the plan');
  });

  test('search notes by associations.contact and by a property', async () => {
    const other = await main.crm.objects.notes.basicApi.create({
      properties: { hs_note_body: 'Bob note', hs_timestamp: String(Date.now()) },
      associations: [noteToContact(BOB_ID)],
    });
    const search = (filterGroups: ReturnType<typeof eq>[]) =>
      main.crm.objects.notes.searchApi.doSearch({
        filterGroups,
        sorts: [],
        properties: ['hs_note_body'],
        limit: 10,
        after: '0',
      });
    // Search trails writes (see "search-index lag"): this test is about the filters, so the index catches up first.
    emulator.flushSearchIndex(MAIN.accountId);
    const forAda = await search([eq('associations.contact', ADA_ID)]);
    assert.deepEqual(
      forAda.results.map((r) => r.id),
      [noteId],
    );
    assert.equal(forAda.results[0]!.properties.hs_note_body, 'Ada bought the plan');
    const forBob = await search([eq('associations.contact', BOB_ID)]);
    assert.deepEqual(
      forBob.results.map((r) => r.id),
      [other.id],
    );
    const byBody = await search([eq('hs_note_body', 'Bob note')]);
    assert.deepEqual(
      byBody.results.map((r) => r.id),
      [other.id],
    );
    const nobody = await search([eq('associations.contact', '999999995')]);
    assert.equal(nobody.total, 0);
  });

  test('a note associated to an unknown contact is a 400 and is not stored', async () => {
    const before = emulator.notes(MAIN.accountId).length;
    const err = await apiError(
      main.crm.objects.notes.basicApi.create({
        properties: { hs_note_body: 'orphan', hs_timestamp: new Date().toISOString() },
        associations: [noteToContact('999999994')],
      }),
    );
    assert.equal(err.code, 400);
    assert.equal(err.body.category, 'VALIDATION_ERROR');
    assert.match(err.body.message, /999999994/);
    assert.equal(emulator.notes(MAIN.accountId).length, before);
    const wrongType = await apiError(
      main.crm.objects.notes.basicApi.create({
        properties: { hs_note_body: 'typed', hs_timestamp: new Date().toISOString() },
        associations: [
          {
            to: { id: ADA_ID },
            types: [
              { associationCategory: AssociationSpecAssociationCategoryEnum.HubspotDefined, associationTypeId: 1 },
            ],
          },
        ],
      }),
    );
    assert.equal(wrongType.code, 400, 'a note-to-contact association with type 1 (contact to company) was accepted');
    assert.equal(emulator.notes(MAIN.accountId).length, before);
  });

  test('a note without hs_timestamp, or with an unknown property, is a 400', async () => {
    const noTs = await apiError(
      main.crm.objects.notes.basicApi.create({ properties: { hs_note_body: 'x' }, associations: [] }),
    );
    assert.equal(noTs.code, 400);
    assert.deepEqual(
      validationProblems(noTs.body.message).map((p) => p.error),
      ['REQUIRED_PROPERTY'],
    );
    const unknown = await apiError(
      main.crm.objects.notes.basicApi.create({
        properties: { hs_timestamp: '1700000000000', colour: 'x' },
        associations: [],
      }),
    );
    assert.equal(unknown.code, 400);
    assert.deepEqual(
      validationProblems(unknown.body.message).map((p) => [p.error, p.name]),
      [['PROPERTY_DOESNT_EXIST', 'colour']],
    );
  });
});

// ---- properties -----------------------------------------------------------------------------------

describe('properties', () => {
  test('the list holds the standard contact properties and the seeded custom ones', async () => {
    const { results } = await main.crm.properties.coreApi.getAll('contacts');
    const byName = new Map(results.map((p) => [p.name, p]));
    for (const name of [
      'email',
      'firstname',
      'lastname',
      'phone',
      'mobilephone',
      'company',
      'jobtitle',
      'website',
      'city',
      'state',
      'country',
      'zip',
    ]) {
      const p = byName.get(name);
      assert.ok(p, `${name} is missing`);
      assert.equal(p.type, 'string', name);
      assert.equal(p.hubspotDefined, true, name);
      assert.equal(p.modificationMetadata?.readOnlyValue, false, name);
    }
    assert.equal(byName.get('phone')!.fieldType, 'phonenumber');
    const stage = byName.get('lifecyclestage');
    assert.equal(stage?.type, 'enumeration');
    assert.ok(stage.options.some((o) => o.value === 'lead') && stage.options.some((o) => o.value === 'customer'));
    for (const name of ['createdate', 'lastmodifieddate', 'hs_object_id']) {
      assert.equal(byName.get(name)?.modificationMetadata?.readOnlyValue, true, `${name} should be read-only`);
    }
    assert.equal(byName.get('createdate')!.type, 'datetime');
    const custom = byName.get('favorite_color');
    assert.equal(custom?.hubspotDefined, false);
    assert.equal(custom.label, 'Favorite color');
    assert.equal(byName.get('segment_by_workflow')?.modificationMetadata?.readOnlyValue, true);
    assert.equal(byName.get('score_label')?.calculated, true);
  });

  test('get one property; an unknown one is a 404', async () => {
    const p = await main.crm.properties.coreApi.getByName('contacts', 'lifecyclestage');
    assert.equal(p.name, 'lifecyclestage');
    assert.equal(p.type, 'enumeration');
    const custom = await main.crm.properties.coreApi.getByName('contacts', 'favorite_color');
    assert.equal(custom.fieldType, 'text');
    const err = await apiError(main.crm.properties.coreApi.getByName('contacts', 'no_such_property'));
    assert.equal(err.code, 404);
    assert.match(err.body.message, /no_such_property/);
  });

  test('a property seeded in another account is not in this one', async () => {
    const reader = client(FAULTY.token);
    const err = await apiError(reader.crm.properties.coreApi.getByName('contacts', 'favorite_color'));
    assert.equal(err.code, 404);
  });
});

// ---- validation -----------------------------------------------------------------------------------

describe('validation', () => {
  const create = (properties: Record<string, string>) =>
    main.crm.contacts.basicApi.create({ properties, associations: [] });
  const cases: Array<[string, Record<string, string>, string, string]> = [
    ['an invalid email', { email: 'jane.doe@@example' }, 'INVALID_EMAIL', 'email'],
    [
      'an unknown property',
      { email: 'unknown-prop@valid.example', shoe_size: '42' },
      'PROPERTY_DOESNT_EXIST',
      'shoe_size',
    ],
    [
      'a read-only standard property',
      { email: 'ro@valid.example', createdate: '2020-01-01' },
      'READ_ONLY_VALUE',
      'createdate',
    ],
    [
      'a read-only custom property',
      { email: 'ro2@valid.example', segment_by_workflow: 'vip' },
      'READ_ONLY_VALUE',
      'segment_by_workflow',
    ],
    ['a calculated property', { email: 'calc@valid.example', score_label: 'hot' }, 'READ_ONLY_VALUE', 'score_label'],
    [
      'an option not in the enumeration',
      { email: 'opt@valid.example', lifecyclestage: 'bogus' },
      'INVALID_OPTION',
      'lifecyclestage',
    ],
  ];
  for (const [what, properties, code, name] of cases) {
    test(`${what} is a 400 VALIDATION_ERROR ${code}, and nothing is written`, async () => {
      const before = emulator.contacts(MAIN.accountId).length;
      const err = await apiError(create(properties));
      assert.equal(err.code, 400);
      assert.equal(err.body.category, 'VALIDATION_ERROR');
      assert.match(err.body.message, new RegExp(code));
      const problems = validationProblems(err.body.message);
      assert.deepEqual(
        problems.map((p) => [p.error, p.name]),
        [[code, name]],
      );
      assert.equal(emulator.contacts(MAIN.accountId).length, before);
    });
  }

  test('the same validation applies to updates, listing every problem', async () => {
    const err = await apiError(
      main.crm.contacts.basicApi.update(BOB_ID, {
        properties: { email: 'not an email', hs_object_id: '1', nope: 'x' },
      }),
    );
    assert.equal(err.code, 400);
    assert.equal(err.body.category, 'VALIDATION_ERROR');
    assert.deepEqual(
      validationProblems(err.body.message)
        .map((p) => p.error)
        .sort(),
      ['INVALID_EMAIL', 'PROPERTY_DOESNT_EXIST', 'READ_ONLY_VALUE'],
    );
    assert.equal((await main.crm.contacts.basicApi.getById(BOB_ID)).properties.email, 'bob@example.com');
  });

  test('a batch with one invalid input is refused as a whole', async () => {
    const good = freshEmail('good');
    const err = await apiError(
      main.crm.contacts.batchApi.create({
        inputs: [
          { properties: { email: good }, associations: [] },
          { properties: { email: 'bad@' }, associations: [] },
        ],
      }),
    );
    assert.equal(err.code, 400);
    assert.match(err.body.message, /INVALID_EMAIL/);
    assert.equal(
      emulator.contacts(MAIN.accountId).some((c) => c.properties.email === good),
      false,
    );
  });
});

// ---- auth -----------------------------------------------------------------------------------------

describe('auth', () => {
  test('a wrong token is a 401 INVALID_AUTHENTICATION', async () => {
    const err = await apiError(client('not-a-real-token').crm.contacts.basicApi.getById(ADA_ID));
    assert.equal(err.code, 401);
    assert.equal(err.body.category, 'INVALID_AUTHENTICATION');
    assert.equal(err.body.status, 'error');
  });

  test('a token without the write scope can read but writing is a 403 MISSING_SCOPES', async () => {
    const reader = client(READ_ONLY.token);
    assert.equal((await byEmail(reader, 'someone@reader.example')).properties.firstname, 'Some');
    const before = emulator.contacts(READ_ONLY.accountId).length;
    const err = await apiError(
      reader.crm.contacts.basicApi.create({ properties: { email: 'new@reader.example' }, associations: [] }),
    );
    assert.equal(err.code, 403);
    assert.equal(err.body.category, 'MISSING_SCOPES');
    const errors = err.body.errors as Array<{ context: { requiredGranularScopes: string[] } }>;
    assert.deepEqual(errors[0]!.context.requiredGranularScopes, ['crm.objects.contacts.write']);
    assert.equal(emulator.contacts(READ_ONLY.accountId).length, before);
    const upd = await apiError(
      reader.crm.contacts.basicApi.update(emulator.contacts(READ_ONLY.accountId)[0]!.id, {
        properties: { firstname: 'X' },
      }),
    );
    assert.equal(upd.code, 403);
    const schema = await apiError(reader.crm.properties.coreApi.getAll('contacts'));
    assert.equal(schema.code, 403, 'the schema read scope is needed for properties');
  });

  test('one account’s token does not see another account’s contacts', async () => {
    const err = await apiError(byEmail(client(READ_ONLY.token), 'bob@example.com'));
    assert.equal(err.code, 404);
  });
});

// ---- rate limits ----------------------------------------------------------------------------------

describe('rate limits', () => {
  test('the ten-second limit: headers count down, the 6th call is a 429 RATE_LIMIT with Retry-After', async () => {
    const c = client(LIMITED.token);
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await c.apiRequest({
        method: 'GET',
        path: '/crm/v3/objects/contacts/nobody@limited.example',
        qs: { idProperty: 'email' },
      });
      assert.equal(res.status, 404);
      assert.equal(res.headers.get('x-hubspot-ratelimit-max'), '5');
      remaining.push(res.headers.get('x-hubspot-ratelimit-remaining') ?? 'missing');
    }
    assert.deepEqual(remaining, ['4', '3', '2', '1', '0']);
    const err = await apiError(byEmail(c, 'nobody@limited.example'));
    assert.equal(err.code, 429);
    assert.equal(err.body.category, 'RATE_LIMITS');
    assert.equal(err.body.errorType, 'RATE_LIMIT');
    assert.equal(err.body.policyName, 'TEN_SECONDLY_ROLLING');
    const retryAfter = Number(err.headers['retry-after']);
    assert.ok(retryAfter >= 1 && retryAfter <= 10, `Retry-After ${err.headers['retry-after']}`);
    assert.equal(err.headers['x-hubspot-ratelimit-remaining'], '0');
    // Other accounts are not affected.
    assert.equal((await byEmail(main, 'bob@example.com')).id, BOB_ID);
  });

  test('search has a per-second limit: the 3rd search within a second is a 429 SECONDLY; a second later it passes', async () => {
    const c = client(SEARCH_LIMITED.token);
    const search = () => searchContacts(c, [eq('email', 'x@search.example')]);
    const settled = await Promise.allSettled([search(), search(), search()]);
    const statuses = settled.map((s) => (s.status === 'fulfilled' ? 200 : (s.reason as ApiError).code));
    assert.deepEqual([...statuses].sort(), [200, 200, 429]);
    const refused = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult;
    const err = refused.reason as ApiError;
    assert.equal(err.body.policyName, 'SECONDLY');
    assert.equal(err.body.category, 'RATE_LIMITS');
    assert.equal(err.body.errorType, 'RATE_LIMIT');
    assert.ok(Number(err.headers['retry-after']) >= 1);
    // Non-search calls are not held to the search limit.
    assert.equal((await apiError(byEmail(c, 'x@search.example'))).code, 404);
    await sleep(1_050);
    assert.equal((await search()).total, 0);
  });
});

// ---- faults ---------------------------------------------------------------------------------------

describe('faults', () => {
  const c = () => client(FAULTY.token);
  const steady = () => byEmail(c(), 'steady@faulty.example');

  test('failNext 429: HubSpot’s rate-limit answer once, then normal', async () => {
    emulator.failNext(FAULTY.accountId, 'contacts.get', '429');
    const err = await apiError(steady());
    assert.equal(err.code, 429);
    assert.equal(err.body.category, 'RATE_LIMITS');
    assert.equal(err.headers['retry-after'], '1');
    assert.equal((await steady()).id, '6001');
  });

  test('failNext 500 and 503, with a count', async () => {
    emulator.failNext(FAULTY.accountId, 'contacts.get', '500');
    emulator.failNext(FAULTY.accountId, 'contacts.get', '503', 2);
    const e500 = await apiError(steady());
    assert.equal(e500.code, 500);
    assert.equal(e500.body.category, 'INTERNAL_ERROR');
    for (let i = 0; i < 2; i++) {
      const e503 = await apiError(steady());
      assert.equal(e503.code, 503);
      assert.equal(e503.body.category, 'SERVICE_UNAVAILABLE');
    }
    assert.equal((await steady()).id, '6001');
  });

  test('a fault queued for one operation leaves the others alone', async () => {
    emulator.failNext(FAULTY.accountId, 'contacts.create', '500');
    assert.equal((await steady()).id, '6001');
    const err = await apiError(
      c().crm.contacts.basicApi.create({ properties: { email: freshEmail('f') }, associations: [] }),
    );
    assert.equal(err.code, 500);
  });

  test('failNext timeout: the call hangs, then the connection drops (a socket error, no HTTP answer)', async () => {
    emulator.setFaults(FAULTY.accountId, { timeoutMs: 300 });
    try {
      emulator.failNext(FAULTY.accountId, 'contacts.get', 'timeout');
      const t0 = Date.now();
      const err = await networkError(steady());
      const elapsed = Date.now() - t0;
      assert.match(String(err.cause?.code), /ECONNRESET|UND_ERR_SOCKET/);
      assert.ok(elapsed >= 280, `dropped after ${elapsed} ms, before the 300 ms hold`);
      assert.ok(elapsed < 3_000, `held ${elapsed} ms`);
      assert.equal((await steady()).id, '6001');
    } finally {
      emulator.setFaults(FAULTY.accountId, null);
    }
  });

  test('failNext lost-response: the client sees a network error, but the contact was created', async () => {
    const email = freshEmail('lost');
    emulator.failNext(FAULTY.accountId, 'contacts.create', 'lost-response');
    await networkError(
      c().crm.contacts.basicApi.create({ properties: { email, firstname: 'Lost' }, associations: [] }),
    );
    const stored = emulator.contacts(FAULTY.accountId).filter((x) => x.properties.email === email);
    assert.equal(stored.length, 1);
    assert.equal(stored[0]!.properties.firstname, 'Lost');
    // A naive retry now meets the contact that was written.
    const retry = await apiError(
      c().crm.contacts.basicApi.create({ properties: { email, firstname: 'Lost' }, associations: [] }),
    );
    assert.equal(retry.code, 409);
    assert.match(retry.body.message, new RegExp(`Existing ID: ${stored[0]!.id}`));
  });

  test('random faults reproduce: the same seed gives the same statuses, another seed different ones', async () => {
    const statuses = async (seed: number) => {
      emulator.setFaults(FAULTY.accountId, { serverErrorRate: 0.5, operations: ['contacts.get'] }, seed);
      const out: number[] = [];
      for (let i = 0; i < 20; i++)
        out.push(
          await steady().then(
            () => 200,
            (e: ApiError) => e.code,
          ),
        );
      return out;
    };
    try {
      const a = await statuses(42);
      const b = await statuses(42);
      const other = await statuses(4242);
      assert.deepEqual(a, b);
      assert.notDeepEqual(a, other);
      assert.ok(a.includes(200) && a.some((s) => s >= 500), `no mix of outcomes: ${a}`);
      assert.ok(
        a.every((s) => [200, 500, 503].includes(s)),
        `${a}`,
      );
      // The filter on operations: searches are untouched.
      const ok = await searchContacts(c(), [eq('email', 'steady@faulty.example')]);
      assert.equal(ok.total, 1);
    } finally {
      emulator.setFaults(FAULTY.accountId, null);
    }
  });

  test('latencyMs delays each answer by at least the latency', async () => {
    const timed = async () => {
      const t0 = performance.now();
      await steady();
      return performance.now() - t0;
    };
    await timed();
    emulator.setFaults(FAULTY.accountId, { latencyMs: 150 });
    try {
      const slow = await timed();
      assert.ok(slow >= 145, `answered after ${slow.toFixed(1)} ms`);
    } finally {
      emulator.setFaults(FAULTY.accountId, null);
    }
    const fast = await timed();
    assert.ok(fast < 145, `still slow after clearing the faults: ${fast.toFixed(1)} ms`);
  });

  test('failNext 423 on a bulk upsert: Locked, and the same call stays locked for 2 s; nothing is written meanwhile', async () => {
    const email = freshEmail('locked');
    const upsert = () =>
      c().crm.contacts.batchApi.upsert({
        inputs: [{ id: email, idProperty: 'email', properties: { firstname: 'Locked' } }],
      });
    emulator.failNext(FAULTY.accountId, 'contacts.batchUpsert', '423');
    const first = await apiError(upsert());
    const t0 = Date.now(); // the lock started before this
    assert.equal(first.code, 423);
    assert.equal(first.body.status, 'error');
    assert.ok(first.body.correlationId && first.body.category && first.body.message);
    const again = await apiError(upsert());
    assert.equal(again.code, 423, 'a retry within the 2 s lock got through');
    assert.equal(emulator.contacts(FAULTY.accountId).filter((x) => x.properties.email === email).length, 0);
    // Other operations are not locked.
    assert.equal((await steady()).id, '6001');
    await sleep(Math.max(0, 2_050 - (Date.now() - t0)));
    assert.equal((await upsert()).results[0]!.properties.email, email);
  });

  test('failNext 477: Migration in Progress with Retry-After, for every call of the account until it ends', async () => {
    emulator.failNext(FAULTY.accountId, 'contacts.get', '477', 1, { retryAfterSeconds: 1 });
    const first = await apiError(steady());
    const t0 = Date.now(); // the migration started before this
    assert.equal(first.code, 477);
    assert.equal(first.headers['retry-after'], '1');
    // The whole account is migrating: a create is refused too, and writes nothing.
    const email = freshEmail('migrating');
    const create = await apiError(c().crm.contacts.basicApi.create({ properties: { email }, associations: [] }));
    assert.equal(create.code, 477);
    assert.ok(Number(create.headers['retry-after']) >= 1);
    assert.equal(emulator.contacts(FAULTY.accountId).filter((x) => x.properties.email === email).length, 0);
    await sleep(Math.max(0, 1_050 - (Date.now() - t0)));
    assert.equal((await steady()).id, '6001');
  });

  test('random 423s (lockedRate) hit bulk writes only', async () => {
    emulator.setFaults(FAULTY.accountId, { lockedRate: 1 }, 3);
    try {
      assert.equal((await steady()).id, '6001');
      assert.equal(
        (
          await apiError(
            c().crm.contacts.batchApi.create({
              inputs: [{ properties: { email: freshEmail('bulk') }, associations: [] }],
            }),
          )
        ).code,
        423,
      );
    } finally {
      emulator.setFaults(FAULTY.accountId, null);
    }
  });

  test('injected faults are visible in the request log', () => {
    const faults = emulator
      .requests(FAULTY.accountId)
      .map((r) => r.fault)
      .filter(Boolean);
    for (const f of [
      'injected-429',
      'injected-500',
      'injected-503',
      'injected-timeout',
      'injected-lost-response',
      'injected-423',
      'locked',
      'injected-477',
      'migration',
    ]) {
      assert.ok(faults.includes(f), `${f} not logged`);
    }
  });
});

// ---- inspection API -------------------------------------------------------------------------------

describe('inspection API (/_emulator)', () => {
  const get = async (path: string) => {
    const res = await fetch(`${emulator.url}/_emulator${path}`);
    return { status: res.status, body: (await res.json()) as any };
  };
  const send = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${emulator.url}/_emulator${path}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const inspect = () => client(INSPECT.token);

  test('health and the accounts list', async () => {
    const health = await get('/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok', accounts: 6 });
    const { body } = await get('/accounts');
    const ids = body.accounts.map((a: { accountId: string }) => a.accountId).sort();
    assert.deepEqual(ids, ['faulty', 'inspect', 'limited', 'main', 'reader', 'search-limited']);
    const row = body.accounts.find((a: { accountId: string }) => a.accountId === 'inspect');
    assert.equal(row.appId, INSPECT.appId);
    assert.equal(row.contacts, 1);
    assert.equal(row.notes, 0);
  });

  test('contacts and notes of an account', async () => {
    const contact = await inspect().crm.contacts.basicApi.create({
      properties: { email: 'made@inspect.example', firstname: 'Made' },
      associations: [],
    });
    await inspect().crm.objects.notes.basicApi.create({
      properties: { hs_note_body: 'inspected', hs_timestamp: new Date().toISOString() },
      associations: [noteToContact(contact.id)],
    });
    const contacts = await get('/accounts/inspect/contacts');
    assert.deepEqual(contacts.body.results.map((c: { properties: { email: string } }) => c.properties.email).sort(), [
      'made@inspect.example',
      'seeded@inspect.example',
    ]);
    const made = contacts.body.results.find((c: { id: string }) => c.id === contact.id);
    assert.equal(made.properties.hs_object_source_id, String(INSPECT.appId));
    const notes = await get('/accounts/inspect/notes');
    assert.equal(notes.body.results.length, 1);
    assert.equal(notes.body.results[0].properties.hs_note_body, 'inspected');
    assert.deepEqual(notes.body.results[0].associations.contacts, [contact.id]);
    const unknown = await get('/accounts/nope/contacts');
    assert.equal(unknown.status, 400);
    assert.match(unknown.body.message, /no account "nope"/);
  });

  test('requests and request counts per operation', async () => {
    const before = (await get('/accounts/inspect/request-counts')).body as Record<string, number>;
    await byEmail(inspect(), 'seeded@inspect.example');
    await apiError(byEmail(inspect(), 'missing@inspect.example'));
    await searchContacts(inspect(), [eq('email', 'seeded@inspect.example')]);
    await inspect().crm.contacts.basicApi.create({ properties: { email: freshEmail('count') }, associations: [] });
    await inspect().crm.properties.coreApi.getAll('contacts');
    const after = (await get('/accounts/inspect/request-counts')).body as Record<string, number>;
    const delta = (op: string) => (after[op] ?? 0) - (before[op] ?? 0);
    assert.equal(delta('contacts.get'), 2);
    assert.equal(delta('contacts.search'), 1);
    assert.equal(delta('contacts.create'), 1);
    assert.equal(delta('properties.list'), 1);
    assert.deepEqual(emulator.requestCounts(INSPECT.accountId), after);

    const { body } = await get('/accounts/inspect/requests');
    const last = body.results
      .slice(-5)
      .map((r: { operation: string; method: string; status: number; accountId: string }) => [
        r.operation,
        r.method,
        r.status,
        r.accountId,
      ]);
    assert.deepEqual(last, [
      ['contacts.get', 'GET', 200, 'inspect'],
      ['contacts.get', 'GET', 404, 'inspect'],
      ['contacts.search', 'POST', 200, 'inspect'],
      ['contacts.create', 'POST', 201, 'inspect'],
      ['properties.list', 'GET', 200, 'inspect'],
    ]);
    assert.equal(body.results[body.results.length - 5].path, '/crm/v3/objects/contacts/seeded%40inspect.example');
    // A 401 has no account; it counts in the totals only.
    const totalsBefore = emulator.requestCounts()['contacts.get'] ?? 0;
    await apiError(client('wrong').crm.contacts.basicApi.getById('1'));
    assert.equal(emulator.requestCounts()['contacts.get'], totalsBefore + 1);
    assert.equal(emulator.requests().at(-1)?.status, 401);
    assert.equal(emulator.requests().at(-1)?.accountId, undefined);
  });

  test('PUT faults (with a seed) and clearing them', async () => {
    const put = await send('PUT', '/accounts/inspect/faults', {
      serverErrorRate: 1,
      operations: ['contacts.get'],
      seed: 7,
    });
    assert.equal(put.status, 200);
    assert.equal(put.body.faults.serverErrorRate, 1);
    const err = await apiError(byEmail(inspect(), 'seeded@inspect.example'));
    assert.ok([500, 503].includes(err.code));
    await searchContacts(inspect(), []); // another operation passes
    await send('PUT', '/accounts/inspect/faults', null);
    assert.equal((await byEmail(inspect(), 'seeded@inspect.example')).properties.firstname, 'Seeded');
  });

  test('PUT faults seeds reproduce, like setFaults', async () => {
    const run = async () => {
      await send('PUT', '/accounts/inspect/faults', { serverErrorRate: 0.5, operations: ['contacts.get'], seed: 99 });
      const out: number[] = [];
      for (let i = 0; i < 12; i++)
        out.push(
          await byEmail(inspect(), 'seeded@inspect.example').then(
            () => 200,
            (e: ApiError) => e.code,
          ),
        );
      return out;
    };
    try {
      assert.deepEqual(await run(), await run());
    } finally {
      await send('PUT', '/accounts/inspect/faults', null);
    }
  });

  test('POST fail-next queues faults for an operation', async () => {
    const queued = await send('POST', '/accounts/inspect/fail-next', {
      operation: 'contacts.get',
      kind: '503',
      count: 2,
    });
    assert.equal(queued.status, 200);
    assert.equal(queued.body.queued, 2);
    for (let i = 0; i < 2; i++) assert.equal((await apiError(byEmail(inspect(), 'seeded@inspect.example'))).code, 503);
    assert.equal((await byEmail(inspect(), 'seeded@inspect.example')).id, '7001');
    const bad = await send('POST', '/accounts/inspect/fail-next', { kind: '500' });
    assert.equal(bad.status, 400);
  });

  test('POST accounts adds an account at run time', async () => {
    const added = await send('POST', '/accounts', {
      accountId: 'runtime',
      token: 'runtime-token',
      appId: 7099,
      rateLimit: OFF,
    });
    assert.equal(added.status, 201);
    const rt = client('runtime-token');
    const created = await rt.crm.contacts.basicApi.create({
      properties: { email: 'rt@runtime.example' },
      associations: [],
    });
    assert.equal(
      (await rt.crm.contacts.basicApi.getById(created.id, ['hs_object_source_id'])).properties.hs_object_source_id,
      '7099',
    );
    assert.equal((await send('POST', '/accounts', { accountId: 'x' })).status, 400);
    assert.equal(
      (await send('POST', '/accounts', { accountId: 'runtime', token: 't2', appId: 1 })).status,
      400,
      'a duplicate account was accepted',
    );
  });

  test('an unknown inspection route is a 404', async () => {
    assert.equal((await get('/nothing-here')).status, 404);
  });

  // Last: this puts every account back to its seeds.
  test('POST reset puts the store back to the seeds', async () => {
    await main.crm.contacts.basicApi.update(BOB_ID, { properties: { firstname: 'Changed' } });
    emulator.failNext(INSPECT.accountId, 'contacts.get', '500');
    const reset = await send('POST', '/reset');
    assert.equal(reset.status, 200);
    assert.deepEqual(reset.body, { reset: true });

    assert.deepEqual(
      emulator.contacts(INSPECT.accountId).map((c) => c.properties.email),
      ['seeded@inspect.example'],
    );
    assert.equal(emulator.notes(INSPECT.accountId).length, 0);
    assert.equal(emulator.notes(MAIN.accountId).length, 0);
    assert.equal(emulator.contacts(MAIN.accountId).length, MAIN.contacts!.length);
    const bob = await main.crm.contacts.basicApi.getById(BOB_ID, ['jobtitle']);
    assert.equal(bob.properties.firstname, 'Bob');
    assert.equal(bob.properties.jobtitle, null);
    assert.equal(
      (await byEmail(inspect(), 'seeded@inspect.example')).id,
      '7001',
      'the queued fault survived the reset',
    );
    assert.deepEqual(emulator.requestCounts(INSPECT.accountId), { 'contacts.get': 1 });
    assert.equal((await get('/health')).body.accounts, 6, 'the account added at run time survived the reset');
    assert.equal((await apiError(client('runtime-token').crm.contacts.basicApi.getById('1'))).code, 401);
    // Rate-limit windows start again too.
    const limited = await client(LIMITED.token).apiRequest({ method: 'GET', path: '/crm/v3/objects/contacts/1' });
    assert.equal(limited.headers.get('x-hubspot-ratelimit-remaining'), '4');
  });
});

// ---- the unkind parts: API version 2026-09, search lag, limits, archive, merge, associations, -----
// ---- unique values, write rules, slow writes ---------------------------------------------------------

type Body = any;
/** Plain HTTP to an emulator, as any HubSpot client would send it. */
async function call(
  e: HubSpotEmulator,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Body; text: string }> {
  const res = await fetch(`${e.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, text };
}
const V = '/crm/objects/2026-09';
const emailFilter = (email: string) => ({
  filterGroups: [{ filters: [{ propertyName: 'email', operator: 'EQ', value: email }] }],
  properties: ['firstname', 'city'],
});
const searchIds = async (e: HubSpotEmulator, token: string, body: unknown, type = 'contacts') => {
  const r = await call(e, token, 'POST', `${V}/${type}/search`, body);
  assert.equal(r.status, 200, r.text);
  return r.body.results as Array<{ id: string; properties: Record<string, string | null> }>;
};
const UNKIND: EmulatorAccountSeed = {
  accountId: 'unkind',
  token: 'unkind-token',
  appId: 7101,
  rateLimit: OFF,
  customProperties: [
    { name: 'customer_number', label: 'Customer number', type: 'string', fieldType: 'text', hasUniqueValue: true },
    { name: 'notes_text', label: 'Notes', type: 'string', fieldType: 'textarea' },
  ],
  contacts: [
    {
      id: '8001',
      properties: { email: 'first@unkind.example', firstname: 'First', city: 'Oslo', customer_number: 'C-1' },
    },
    {
      id: '8002',
      properties: {
        email: 'second@unkind.example',
        firstname: 'Second',
        lastname: 'Person',
        hs_additional_emails: 'second.alias@unkind.example',
      },
    },
  ],
};
/** One emulator for this part, with a short fixed lag so that the tests see it without waiting long. */
let unkind: HubSpotEmulator;
const LAG_MS = 400;
const U = UNKIND.token;
const unkindClient = () => new Client({ accessToken: U, basePath: unkind.url, numberOfApiCallRetries: 0 });
before(async () => {
  unkind = await startHubSpotEmulator({ port: 0, accounts: [UNKIND], searchLagMs: LAG_MS });
});
after(async () => unkind?.close());
const createNoteFor = async (contactId: string, body = 'a note') => {
  const r = await call(unkind, U, 'POST', `${V}/notes`, {
    properties: { hs_note_body: body, hs_timestamp: new Date().toISOString() },
    associations: [noteToContact(contactId)],
  });
  assert.equal(r.status, 201, r.text);
  return r.body.id as string;
};

describe('API version 2026-09 paths (and the legacy ones)', () => {
  test('objects, search, batch and properties answer on /crm/objects/2026-09 and /crm/properties/2026-09, through the official client', async () => {
    const hs = unkindClient();
    const json = async (r: Response) => ({ status: r.status, body: (await r.json()) as Body });
    const email = freshEmail('dated');
    const created = await json(
      await hs.apiRequest({
        method: 'POST',
        path: `${V}/contacts`,
        body: { properties: { email, firstname: 'Dated' } },
      }),
    );
    assert.equal(created.status, 201);
    const id = created.body.id as string;
    const read = await json(
      await hs.apiRequest({
        method: 'GET',
        path: `${V}/contacts/${encodeURIComponent(email)}`,
        qs: { idProperty: 'email', properties: 'firstname' },
      }),
    );
    assert.equal(read.body.id, id);
    assert.equal(read.body.properties.firstname, 'Dated');
    const patched = await json(
      await hs.apiRequest({ method: 'PATCH', path: `${V}/contacts/${id}`, body: { properties: { city: 'Bergen' } } }),
    );
    assert.equal(patched.body.properties.city, 'Bergen');
    const batch = await json(
      await hs.apiRequest({
        method: 'POST',
        path: `${V}/contacts/batch/read`,
        body: { inputs: [{ id }, { id: '1' }], properties: ['city'] },
      }),
    );
    assert.equal(batch.status, 207);
    assert.deepEqual(
      batch.body.results.map((r: { id: string }) => r.id),
      [id],
    );
    const search = await json(
      await hs.apiRequest({ method: 'POST', path: `${V}/contacts/search`, body: { filterGroups: [], limit: 1 } }),
    );
    assert.equal(search.status, 200);
    const props = await json(
      await hs.apiRequest({ method: 'GET', path: '/crm/properties/2026-09/contacts/customer_number' }),
    );
    assert.equal(props.body.hasUniqueValue, true);
    const list = await json(await hs.apiRequest({ method: 'GET', path: '/crm/properties/2026-09/contacts' }));
    assert.ok(list.body.results.some((p: { name: string }) => p.name === 'email'));
    // A 409 keeps HubSpot's message on the dated path too.
    const dup = await json(
      await hs.apiRequest({
        method: 'POST',
        path: `${V}/contacts`,
        body: { properties: { email: email.toUpperCase() } },
      }),
    );
    assert.equal(dup.status, 409);
    assert.equal(dup.body.message, `Contact already exists. Existing ID: ${id}`);
    // The legacy path and the typed client still work, on the same data.
    assert.equal((await hs.crm.contacts.basicApi.getById(id, ['city'])).properties.city, 'Bergen');
  });

  test('the request log names the path and its API version', async () => {
    await call(unkind, U, 'GET', `${V}/contacts/8001`);
    await call(unkind, U, 'GET', '/crm/v3/objects/contacts/8001');
    await call(unkind, U, 'GET', '/crm/v4/objects/contacts/8001/associations/notes');
    const last = unkind
      .requests(UNKIND.accountId)
      .slice(-3)
      .map((r) => [r.operation, r.apiVersion, r.path, r.status]);
    assert.deepEqual(last, [
      ['contacts.get', '2026-09', `${V}/contacts/8001`, 200],
      ['contacts.get', 'v3', '/crm/v3/objects/contacts/8001', 200],
      ['associations.list', 'v4', '/crm/v4/objects/contacts/8001/associations/notes', 200],
    ]);
  });

  test('notes: create, read, update, batch create/read/update on the dated path', async () => {
    const id = await createNoteFor('8001', 'dated note');
    const read = await call(unkind, U, 'GET', `${V}/notes/${id}?properties=hs_note_body&associations=contacts`);
    assert.equal(read.body.properties.hs_note_body, 'dated note');
    assert.deepEqual(
      read.body.associations.contacts.results.map((r: { id: string }) => r.id),
      ['8001'],
    );
    assert.equal(
      (await call(unkind, U, 'PATCH', `${V}/notes/${id}`, { properties: { hs_note_body: 'changed' } })).body.properties
        .hs_note_body,
      'changed',
    );
    const ts = new Date().toISOString();
    const created = await call(unkind, U, 'POST', `${V}/notes/batch/create`, {
      inputs: [1, 2].map((i) => ({
        properties: { hs_note_body: `b${i}`, hs_timestamp: ts },
        associations: [noteToContact('8002')],
      })),
    });
    assert.equal(created.status, 201, created.text);
    const ids = created.body.results.map((r: { id: string }) => r.id) as string[];
    const updated = await call(unkind, U, 'POST', `${V}/notes/batch/update`, {
      inputs: [
        { id: ids[0], properties: { hs_note_body: 'b1!' } },
        { id: '999999990', properties: { hs_note_body: 'x' } },
      ],
    });
    assert.equal(updated.status, 207);
    assert.deepEqual(updated.body.errors[0].context.ids, ['999999990']);
    const readBack = await call(unkind, U, 'POST', `${V}/notes/batch/read`, {
      inputs: ids.map((i) => ({ id: i })),
      properties: ['hs_note_body'],
    });
    assert.equal(readBack.status, 200);
    assert.deepEqual(
      readBack.body.results.map((r: { properties: { hs_note_body: string } }) => r.properties.hs_note_body).sort(),
      ['b1!', 'b2'],
    );
  });

  test('an unknown API version is not a route', async () => {
    assert.equal((await call(unkind, U, 'GET', '/crm/objects/2025-09/contacts/8001')).status, 404);
  });
});

describe('search-index lag', () => {
  test('by default search trails writes by 2 to 5 seconds per write', () => {
    // The emulator at the top of this file was started without a lag option.
    assert.deepEqual(emulator.searchLag(MAIN.accountId), { minMs: 2_000, maxMs: 5_000 });
  });

  test('a just-created contact is not found; a just-updated one matches on its old values; reads by id and email are exact', async () => {
    const email = freshEmail('lag');
    const created = await call(unkind, U, 'POST', `${V}/contacts`, {
      properties: { email, firstname: 'Early', city: 'Tromsø' },
    });
    const id = created.body.id as string;
    assert.deepEqual(await searchIds(unkind, U, emailFilter(email)), [], 'search saw the create at once');
    assert.equal(
      (await call(unkind, U, 'GET', `${V}/contacts/${encodeURIComponent(email)}?idProperty=email`)).status,
      200,
      'a read by email is exact',
    );
    await sleep(LAG_MS + 100);
    const found = await searchIds(unkind, U, emailFilter(email));
    assert.deepEqual(
      found.map((r) => [r.id, r.properties.firstname]),
      [[id, 'Early']],
    );

    await call(unkind, U, 'PATCH', `${V}/contacts/${id}`, { properties: { firstname: 'Late', city: 'Narvik' } });
    const cityFilter = (city: string) => ({
      filterGroups: [{ filters: [{ propertyName: 'city', operator: 'EQ', value: city }] }],
      properties: ['firstname'],
    });
    assert.deepEqual(
      (await searchIds(unkind, U, cityFilter('Tromsø'))).map((r) => [r.id, r.properties.firstname]),
      [[id, 'Early']],
      'the old values still match',
    );
    assert.deepEqual(await searchIds(unkind, U, cityFilter('Narvik')), [], 'the new values matched at once');
    assert.equal(
      (await call(unkind, U, 'GET', `${V}/contacts/${id}?properties=city`)).body.properties.city,
      'Narvik',
      'a read by id is exact',
    );
    await sleep(LAG_MS + 100);
    assert.deepEqual(await searchIds(unkind, U, cityFilter('Tromsø')), []);
    assert.deepEqual(
      (await searchIds(unkind, U, cityFilter('Narvik'))).map((r) => [r.id, r.properties.firstname]),
      [[id, 'Late']],
    );
  });

  test('a just-created note is not found by its contact; a changed email is found under the old one until the index catches up', async () => {
    const noteId = await createNoteFor('8002', 'fresh');
    const byContact = {
      filterGroups: [{ filters: [{ propertyName: 'associations.contact', operator: 'EQ', value: '8002' }] }],
    };
    assert.ok(!(await searchIds(unkind, U, byContact, 'notes')).some((r) => r.id === noteId));
    const old = freshEmail('old');
    const c = await call(unkind, U, 'POST', `${V}/contacts`, { properties: { email: old } });
    unkind.flushSearchIndex(UNKIND.accountId);
    const renamed = freshEmail('new');
    await call(unkind, U, 'PATCH', `${V}/contacts/${c.body.id}`, { properties: { email: renamed } });
    assert.deepEqual(
      (await searchIds(unkind, U, emailFilter(old))).map((r) => r.id),
      [c.body.id],
    );
    assert.deepEqual(await searchIds(unkind, U, emailFilter(renamed)), []);
    await sleep(LAG_MS + 100);
    assert.ok((await searchIds(unkind, U, byContact, 'notes')).some((r) => r.id === noteId));
    assert.deepEqual(await searchIds(unkind, U, emailFilter(old)), []);
    assert.deepEqual(
      (await searchIds(unkind, U, emailFilter(renamed))).map((r) => r.id),
      [c.body.id],
    );
  });

  test('each write draws its own lag within the range: none is visible before minMs, all by maxMs', async () => {
    const own = await startHubSpotEmulator({
      port: 0,
      accounts: [{ ...UNKIND, contacts: [] }],
      searchLagMs: { minMs: 150, maxMs: 450 },
    });
    try {
      const t0 = Date.now();
      const emails = Array.from({ length: 8 }, () => freshEmail('jitter'));
      for (const email of emails)
        assert.equal((await call(own, U, 'POST', `${V}/contacts`, { properties: { email } })).status, 201);
      const seenAt = new Map<string, number>();
      while (seenAt.size < emails.length && Date.now() - t0 < 3_000) {
        const all = await call(own, U, 'POST', `${V}/contacts/search`, {
          filterGroups: [],
          limit: 100,
          properties: ['email'],
        });
        for (const r of all.body.results as Array<{ properties: { email: string } }>)
          if (!seenAt.has(r.properties.email)) seenAt.set(r.properties.email, Date.now() - t0);
        await sleep(15);
      }
      assert.equal(seenAt.size, emails.length, 'some writes never became visible');
      const times = [...seenAt.values()];
      assert.ok(Math.min(...times) >= 150, `a write was visible after ${Math.min(...times)} ms`);
      assert.ok(Math.max(...times) < 1_500, `a write took ${Math.max(...times)} ms`);
      assert.ok(Math.max(...times) - Math.min(...times) >= 40, `no jitter: ${times.join(', ')}`);
    } finally {
      await own.close();
    }
  });

  test('the lag is set per account: a seed, setSearchLag, and the inspection API; 0 turns it off', async () => {
    const own = await startHubSpotEmulator({
      port: 0,
      accounts: [
        { ...UNKIND, contacts: [] },
        { ...INSPECT, searchLagMs: 0 },
      ],
    });
    try {
      assert.deepEqual(own.searchLag(UNKIND.accountId), { minMs: 2_000, maxMs: 5_000 });
      assert.deepEqual(own.searchLag(INSPECT.accountId), { minMs: 0, maxMs: 0 });
      const email = freshEmail('nolag');
      await call(own, INSPECT.token, 'POST', `${V}/contacts`, { properties: { email } });
      assert.equal(
        (await searchIds(own, INSPECT.token, emailFilter(email))).length,
        1,
        'with the lag off a write is searchable at once',
      );

      const hidden = freshEmail('hidden');
      await call(own, U, 'POST', `${V}/contacts`, { properties: { email: hidden } });
      assert.equal((await searchIds(own, U, emailFilter(hidden))).length, 0);
      // Turning the lag off makes what was hidden visible at once.
      const put = await fetch(`${own.url}/_emulator/accounts/unkind/search-lag`, {
        method: 'PUT',
        body: JSON.stringify(0),
      });
      assert.deepEqual(await put.json(), { minMs: 0, maxMs: 0 });
      assert.equal((await searchIds(own, U, emailFilter(hidden))).length, 1);
      own.setSearchLag(UNKIND.accountId, { minMs: 10_000, maxMs: 10_000 });
      const later = freshEmail('later');
      await call(own, U, 'POST', `${V}/contacts`, { properties: { email: later } });
      assert.equal((await searchIds(own, U, emailFilter(later))).length, 0);
      const flushed = await fetch(`${own.url}/_emulator/accounts/unkind/flush-search`, { method: 'POST' });
      assert.equal(flushed.status, 200);
      assert.equal(
        (await searchIds(own, U, emailFilter(later))).length,
        1,
        'flush-search did not make the write visible',
      );
      assert.deepEqual(await (await fetch(`${own.url}/_emulator/accounts/unkind/search-lag`)).json(), {
        minMs: 10_000,
        maxMs: 10_000,
      });
    } finally {
      await own.close();
    }
  });
});

describe('the 65,536-character limit', () => {
  const LIMIT = 65_536;
  test('a contact property value over the limit is a 400 VALIDATION_ERROR naming the property, never quoting the value; at the limit it is stored', async () => {
    const value = 'Zq'.repeat(LIMIT / 2) + 'Z';
    for (const [method, path] of [
      ['POST', `${V}/contacts`],
      ['PATCH', `${V}/contacts/8001`],
      ['POST', '/crm/v3/objects/contacts'],
    ] as const) {
      const r = await call(unkind, U, method, path, { properties: { email: freshEmail('long'), notes_text: value } });
      assert.equal(r.status, 400, `${method} ${path}`);
      assert.equal(r.body.category, 'VALIDATION_ERROR');
      const [problem] = validationProblems(r.body.message);
      assert.equal(problem!.name, 'notes_text');
      assert.equal(problem!.error, 'MAX_LENGTH_EXCEEDED');
      assert.equal(r.body.errors[0].context.propertyName[0], 'notes_text');
      assert.ok(!r.text.includes('ZqZqZq'), 'the value was echoed');
      assert.ok(r.text.length < 2_000, `a ${r.text.length}-character error`);
    }
    assert.equal(
      (await call(unkind, U, 'GET', `${V}/contacts/8001?properties=notes_text`)).body.properties.notes_text,
      null,
      'the refused update was applied',
    );
    const atLimit = await call(unkind, U, 'POST', `${V}/contacts`, {
      properties: { email: freshEmail('limit'), notes_text: 'y'.repeat(LIMIT) },
    });
    assert.equal(atLimit.status, 201);
    const batch = await call(unkind, U, 'POST', `${V}/contacts/batch/create`, {
      inputs: [
        { properties: { email: freshEmail('b') } },
        { properties: { email: freshEmail('b'), notes_text: value } },
      ],
    });
    assert.equal(batch.status, 400, 'one long value refuses the whole batch');
  });

  test('hs_note_body over the limit is a 400 on create and update; at the limit it is stored', async () => {
    const ts = new Date().toISOString();
    const tooLong = await call(unkind, U, 'POST', `${V}/notes`, {
      properties: { hs_note_body: 'Qx'.repeat(LIMIT / 2 + 1), hs_timestamp: ts },
      associations: [noteToContact('8001')],
    });
    assert.equal(tooLong.status, 400);
    assert.equal(validationProblems(tooLong.body.message)[0]!.name, 'hs_note_body');
    assert.ok(!tooLong.text.includes('QxQxQx'));
    const ok = await call(unkind, U, 'POST', `${V}/notes`, {
      properties: { hs_note_body: 'n'.repeat(LIMIT), hs_timestamp: ts },
      associations: [noteToContact('8001')],
    });
    assert.equal(ok.status, 201);
    const upd = await call(unkind, U, 'PATCH', `${V}/notes/${ok.body.id}`, {
      properties: { hs_note_body: 'n'.repeat(LIMIT + 1) },
    });
    assert.equal(upd.status, 400);
    assert.equal(
      unkind.notes(UNKIND.accountId).find((n) => n.id === ok.body.id)!.properties.hs_note_body!.length,
      LIMIT,
    );
  });
});

describe('archive (DELETE)', () => {
  test('a deleted contact reads 404, frees its email, loses its note associations, and leaves search after the lag', async () => {
    const email = freshEmail('del');
    const id = (await call(unkind, U, 'POST', `${V}/contacts`, { properties: { email, firstname: 'Doomed' } })).body
      .id as string;
    const noteId = await createNoteFor(id);
    unkind.flushSearchIndex(UNKIND.accountId);
    const del = await call(unkind, U, 'DELETE', `${V}/contacts/${id}`);
    assert.equal(del.status, 204);
    assert.equal((await call(unkind, U, 'GET', `${V}/contacts/${id}`)).status, 404);
    assert.equal(
      (await call(unkind, U, 'GET', `${V}/contacts/${encodeURIComponent(email)}?idProperty=email`)).status,
      404,
    );
    const archived = await call(unkind, U, 'GET', `${V}/contacts/${id}?archived=true`);
    assert.equal(archived.body.archived, true);
    assert.ok(archived.body.archivedAt);
    const note = await call(unkind, U, 'GET', `${V}/notes/${noteId}?associations=contacts`);
    assert.equal(note.status, 200, 'the note went with the contact');
    assert.equal(note.body.associations, undefined, 'the note is still associated with the deleted contact');
    assert.deepEqual(
      (await searchIds(unkind, U, emailFilter(email))).map((r) => r.id),
      [id],
      'search dropped the contact at once',
    );
    await sleep(LAG_MS + 100);
    assert.deepEqual(await searchIds(unkind, U, emailFilter(email)), []);
    // The email is free again.
    assert.equal((await call(unkind, U, 'POST', `${V}/contacts`, { properties: { email } })).status, 201);
    assert.equal(
      unkind.archived(UNKIND.accountId).contacts.some((c) => c.id === id),
      true,
    );
    // HubSpot answers 204 for an id it does not have.
    assert.equal((await call(unkind, U, 'DELETE', `${V}/contacts/999999991`)).status, 204);
  });

  test('the official client archives a contact and a note on the legacy paths; a deleted note leaves its contact', async () => {
    const hs = unkindClient();
    const c = await hs.crm.contacts.basicApi.create({
      properties: { email: freshEmail('legacy-del') },
      associations: [],
    });
    const n = await hs.crm.objects.notes.basicApi.create({
      properties: { hs_note_body: 'x', hs_timestamp: new Date().toISOString() },
      associations: [noteToContact(c.id)],
    });
    await hs.crm.objects.notes.basicApi.archive(n.id);
    assert.equal((await apiError(hs.crm.objects.notes.basicApi.getById(n.id))).code, 404);
    assert.deepEqual(unkind.noteAssociations(UNKIND.accountId, c.id), []);
    assert.deepEqual(
      (await call(unkind, U, 'GET', `/crm/v4/objects/contacts/${c.id}/associations/notes`)).body.results,
      [],
    );
    await hs.crm.contacts.basicApi.archive(c.id);
    assert.equal((await apiError(hs.crm.contacts.basicApi.getById(c.id))).code, 404);
  });

  test('deleteContact and deleteNote play a person deleting in HubSpot’s UI', async () => {
    const id = unkind.addContact(UNKIND.accountId, { email: freshEmail('ui-del') });
    const noteId = await createNoteFor(id);
    assert.equal(unkind.deleteNote(UNKIND.accountId, noteId), true);
    assert.equal(unkind.deleteNote(UNKIND.accountId, noteId), false);
    assert.equal((await call(unkind, U, 'GET', `${V}/notes/${noteId}`)).status, 404);
    assert.equal(unkind.deleteContact(UNKIND.accountId, id), true);
    assert.equal(unkind.deleteContact(UNKIND.accountId, id), false);
    assert.equal(unkind.contactIdNow(UNKIND.accountId, id), undefined);
    assert.equal((await call(unkind, U, 'GET', `${V}/contacts/${id}`)).status, 404);
  });
});

describe('contact merge', () => {
  test('POST merge: a new record; both old ids read as it; the primary wins; the other’s emails become secondary; notes follow', async () => {
    const primaryEmail = freshEmail('primary');
    const otherEmail = freshEmail('other');
    const p = (
      await call(unkind, U, 'POST', `${V}/contacts`, {
        properties: { email: primaryEmail, firstname: 'Prime', city: 'Paris' },
      })
    ).body.id as string;
    const o = (
      await call(unkind, U, 'POST', `${V}/contacts`, {
        properties: { email: otherEmail, firstname: 'Other', city: 'Lyon', jobtitle: 'Chef' },
      })
    ).body.id as string;
    const pNote = await createNoteFor(p, 'on primary');
    const oNote = await createNoteFor(o, 'on other');
    const merged = await call(unkind, U, 'POST', `${V}/contacts/merge`, { primaryObjectId: p, objectIdToMerge: o });
    assert.equal(merged.status, 200, merged.text);
    const id = merged.body.id as string;
    assert.ok(id !== p && id !== o, 'HubSpot gives the merged record a new id');
    for (const old of [p, o]) {
      const r = await call(
        unkind,
        U,
        'GET',
        `${V}/contacts/${old}?properties=city,jobtitle,hs_additional_emails,hs_merged_object_ids`,
      );
      assert.equal(r.status, 200);
      assert.equal(r.body.id, id, `${old} does not read as the merged record`);
      assert.equal(r.body.properties.firstname, 'Prime');
      assert.equal(r.body.properties.city, 'Paris');
      assert.equal(r.body.properties.jobtitle, 'Chef', 'the other contact’s value did not fill the gap');
      assert.equal(r.body.properties.email, primaryEmail);
      assert.equal(r.body.properties.hs_additional_emails, otherEmail);
      assert.deepEqual(r.body.properties.hs_merged_object_ids.split(';').sort(), [p, o].sort());
    }
    for (const email of [primaryEmail, otherEmail])
      assert.equal(
        (await call(unkind, U, 'GET', `${V}/contacts/${encodeURIComponent(email)}?idProperty=email`)).body.id,
        id,
      );
    assert.deepEqual(
      unkind.noteAssociations(UNKIND.accountId, id),
      [pNote, oNote].sort((x, y) => Number(x) - Number(y)),
    );
    assert.deepEqual(
      unkind.noteAssociations(UNKIND.accountId, o),
      unkind.noteAssociations(UNKIND.accountId, id),
      'an old id does not follow the merge',
    );
    const note = await call(unkind, U, 'GET', `${V}/notes/${oNote}?associations=contacts`);
    assert.deepEqual(
      note.body.associations.contacts.results.map((r: { id: string }) => r.id),
      [id],
    );
    // Writes to an old id land on the merged record; creating either email is a conflict naming it.
    assert.equal(
      (await call(unkind, U, 'PATCH', `${V}/contacts/${o}`, { properties: { company: 'Merged Inc' } })).body.id,
      id,
    );
    const dup = await call(unkind, U, 'POST', `${V}/contacts`, { properties: { email: otherEmail } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.message, `Contact already exists. Existing ID: ${id}`);
    assert.equal(
      unkind.contacts(UNKIND.accountId).filter((c) => [p, o, id].includes(c.id)).length,
      1,
      'the old records are still listed',
    );
    assert.equal(unkind.contactIdNow(UNKIND.accountId, p), id);
  });

  test('the official client merges on the legacy path; merging a contact with itself is a 400, an unknown id a 404', async () => {
    const hs = unkindClient();
    const a = await hs.crm.contacts.basicApi.create({ properties: { email: freshEmail('ma') }, associations: [] });
    const b = await hs.crm.contacts.basicApi.create({ properties: { email: freshEmail('mb') }, associations: [] });
    const merged = await hs.crm.contacts.basicApi.merge({ primaryObjectId: a.id, objectIdToMerge: b.id });
    assert.equal((await hs.crm.contacts.basicApi.getById(b.id)).id, merged.id);
    assert.equal(
      (await call(unkind, U, 'POST', `${V}/contacts/merge`, { primaryObjectId: a.id, objectIdToMerge: merged.id }))
        .status,
      400,
    );
    assert.equal(
      (
        await call(unkind, U, 'POST', `${V}/contacts/merge`, {
          primaryObjectId: merged.id,
          objectIdToMerge: '999999992',
        })
      ).status,
      404,
    );
  });

  test('mergeContacts plays a person merging in HubSpot’s UI; search sees the merge after the lag', async () => {
    const e1 = freshEmail('ui-m1');
    const e2 = freshEmail('ui-m2');
    const c1 = unkind.addContact(UNKIND.accountId, { email: e1, firstname: 'One' });
    const c2 = unkind.addContact(UNKIND.accountId, { email: e2, firstname: 'Two' });
    unkind.flushSearchIndex(UNKIND.accountId);
    const id = unkind.mergeContacts(UNKIND.accountId, c2, c1);
    assert.deepEqual(
      (await searchIds(unkind, U, emailFilter(e1))).map((r) => r.id),
      [c1],
      'search saw the merge at once',
    );
    await sleep(LAG_MS + 100);
    assert.deepEqual(
      (await searchIds(unkind, U, emailFilter(e1))).map((r) => [r.id, r.properties.firstname]),
      [[id, 'Two']],
    );
    assert.deepEqual(
      (await searchIds(unkind, U, emailFilter(e2))).map((r) => r.id),
      [id],
    );
  });
});

describe('contact → notes associations (exact, v4 and 2026-09 shapes)', () => {
  test('GET on the v4 path lists the notes at once (no lag), with the contact-to-note type, paged; 2026-09 declares no such GET', async () => {
    const c = (await call(unkind, U, 'POST', `${V}/contacts`, { properties: { email: freshEmail('assoc') } })).body
      .id as string;
    const notes = [await createNoteFor(c), await createNoteFor(c), await createNoteFor(c)];
    const path = `/crm/v4/objects/contacts/${c}/associations/notes`;
    const r = await call(unkind, U, 'GET', path);
    assert.equal(r.status, 200, path);
    assert.deepEqual(
      r.body.results.map((x: { toObjectId: string }) => x.toObjectId),
      notes,
    );
    // An unlabelled association carries no label (the spec's label is a string when present).
    assert.deepEqual(r.body.results[0].associationTypes, [{ category: 'HUBSPOT_DEFINED', typeId: 201 }]);
    assert.equal(r.body.paging, undefined);
    const page1 = await call(unkind, U, 'GET', `${path}?limit=2`);
    assert.deepEqual(
      page1.body.results.map((x: { toObjectId: string }) => x.toObjectId),
      notes.slice(0, 2),
    );
    assert.deepEqual(page1.body.paging, { next: { after: '2' } });
    const page2 = await call(unkind, U, 'GET', `${path}?limit=2&after=${page1.body.paging.next.after}`);
    assert.deepEqual(
      page2.body.results.map((x: { toObjectId: string }) => x.toObjectId),
      notes.slice(2),
    );
    assert.equal((await call(unkind, U, 'GET', '/crm/v4/objects/contacts/999999993/associations/notes')).status, 404);
    // HubSpot's 2026-09 Associations spec has no GET …/contacts/{id}/associations/notes: not a route here.
    const dated = await call(unkind, U, 'GET', `${V}/contacts/${c}/associations/notes`);
    assert.equal(dated.status, 404);
    assert.match(dated.body.message, /No route/);
    // The official client's v4 API reads the same.
    const page = await unkindClient().crm.associations.v4.basicApi.getPage('contacts', c, 'notes');
    assert.deepEqual(
      page.results.map((x) => String(x.toObjectId)),
      notes,
    );
  });

  test('batch read: 207 with per-input errors in the StandardError shape (unknown id, a contact without notes), both path versions', async () => {
    const c = (await call(unkind, U, 'POST', `${V}/contacts`, { properties: { email: freshEmail('batch-assoc') } }))
      .body.id as string;
    const n = await createNoteFor(c);
    for (const path of [
      '/crm/associations/2026-09/contacts/notes/batch/read',
      '/crm/v4/associations/contacts/notes/batch/read',
    ]) {
      const r = await call(unkind, U, 'POST', path, { inputs: [{ id: c }, { id: '999999994' }] });
      assert.equal(r.status, 207, path);
      assert.deepEqual(r.body.results, [
        { from: { id: c }, to: [{ toObjectId: n, associationTypes: [{ category: 'HUBSPOT_DEFINED', typeId: 201 }] }] },
      ]);
      assert.equal(r.body.numErrors, r.body.errors.length);
      const unknown = r.body.errors.find(
        (e: { context: { fromObjectId: string[] } }) => e.context.fromObjectId[0] === '999999994',
      );
      assert.deepEqual(
        [unknown.status, unknown.category, unknown.errors, unknown.links],
        ['error', 'OBJECT_NOT_FOUND', [], {}],
      );
      const ok = await call(unkind, U, 'POST', path, { inputs: [{ id: c }] });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.errors, undefined);
    }
    // The official client's v4 batch API takes the 207 as an answer.
    const viaClient = await unkindClient().crm.associations.v4.batchApi.getPage('contacts', 'notes', {
      inputs: [{ id: c }, { id: '999999994' }],
    });
    assert.deepEqual(
      viaClient.results.map((row) => [row._from.id, row.to.map((t) => String(t.toObjectId))]),
      [[c, [n]]],
    );
    const empty = unkind.addContact(UNKIND.accountId, { email: freshEmail('no-notes') });
    const r = await call(unkind, U, 'POST', '/crm/associations/2026-09/contacts/notes/batch/read', {
      inputs: [{ id: empty }],
    });
    assert.equal(r.status, 207);
    assert.equal(r.body.errors[0].subCategory, 'crm.associations.NO_ASSOCIATIONS_FOUND');
    assert.deepEqual(r.body.results, []);
  });

  test('batch read pages each input: 500 notes a page, paging.next.after sent back with the same id', async () => {
    const c = (await call(unkind, U, 'POST', `${V}/contacts`, { properties: { email: freshEmail('many-notes') } })).body
      .id as string;
    const ts = new Date().toISOString();
    const made: string[] = [];
    for (let i = 0; i < 6; i++) {
      const inputs = Array.from({ length: i < 5 ? 100 : 2 }, (_, k) => ({
        properties: { hs_note_body: `n${i}-${k}`, hs_timestamp: ts },
        associations: [noteToContact(c)],
      }));
      const r = await call(unkind, U, 'POST', `${V}/notes/batch/create`, { inputs });
      made.push(...r.body.results.map((x: { id: string }) => x.id));
    }
    const path = '/crm/associations/2026-09/contacts/notes/batch/read';
    const first = await call(unkind, U, 'POST', path, { inputs: [{ id: c }] });
    assert.equal(first.body.results[0].to.length, 500);
    assert.deepEqual(first.body.results[0].paging, { next: { after: '500' } });
    const second = await call(unkind, U, 'POST', path, {
      inputs: [{ id: c, after: first.body.results[0].paging.next.after }],
    });
    assert.equal(second.body.results[0].to.length, 2);
    assert.equal(second.body.results[0].paging, undefined);
    const all = [...first.body.results[0].to, ...second.body.results[0].to].map(
      (t: { toObjectId: string }) => t.toObjectId,
    );
    assert.deepEqual(all.sort(), [...made].sort());
  });
});

describe('unique-value properties', () => {
  test('a create or update reusing a unique value another contact holds is a 400 VALIDATION_ERROR naming the property, not the value', async () => {
    for (const [method, path, body] of [
      ['POST', `${V}/contacts`, { properties: { email: freshEmail('uniq'), customer_number: 'C-1' } }],
      ['PATCH', `${V}/contacts/8002`, { properties: { customer_number: 'C-1' } }],
      [
        'POST',
        `${V}/contacts/batch/upsert`,
        { inputs: [{ id: freshEmail('uniq-up'), idProperty: 'email', properties: { customer_number: 'C-1' } }] },
      ],
    ] as const) {
      const r = await call(unkind, U, method, path, body);
      assert.equal(r.status, 400, `${method} ${path}: ${r.text}`);
      assert.equal(r.body.category, 'VALIDATION_ERROR');
      const [problem] = validationProblems(r.body.message);
      assert.deepEqual([problem!.name, problem!.error], ['customer_number', 'DUPLICATE_VALUE']);
      assert.ok(!r.text.includes('C-1'), 'the value was echoed');
    }
    // The holder may write its own value again; a batch giving two inputs one value is refused.
    assert.equal(
      (
        await call(unkind, U, 'PATCH', `${V}/contacts/8001`, {
          properties: { customer_number: 'C-1', firstname: 'First' },
        })
      ).status,
      200,
    );
    const twice = await call(unkind, U, 'POST', `${V}/contacts/batch/create`, {
      inputs: [1, 2].map(() => ({ properties: { email: freshEmail('u2'), customer_number: 'C-77' } })),
    });
    assert.equal(twice.status, 400);
    // A unique value reads a contact, like an email.
    assert.equal((await call(unkind, U, 'GET', `${V}/contacts/C-1?idProperty=customer_number`)).body.id, '8001');
  });

  test('a value becomes free when its holder is deleted or changes it', async () => {
    const c = (
      await call(unkind, U, 'POST', `${V}/contacts`, {
        properties: { email: freshEmail('holder'), customer_number: 'C-9' },
      })
    ).body.id as string;
    assert.equal(
      (
        await call(unkind, U, 'POST', `${V}/contacts`, {
          properties: { email: freshEmail('taker'), customer_number: 'C-9' },
        })
      ).status,
      400,
    );
    await call(unkind, U, 'PATCH', `${V}/contacts/${c}`, { properties: { customer_number: 'C-10' } });
    assert.equal(
      (
        await call(unkind, U, 'POST', `${V}/contacts`, {
          properties: { email: freshEmail('taker'), customer_number: 'C-9' },
        })
      ).status,
      201,
    );
    unkind.deleteContact(UNKIND.accountId, c);
    assert.equal(
      (
        await call(unkind, U, 'POST', `${V}/contacts`, {
          properties: { email: freshEmail('taker'), customer_number: 'C-10' },
        })
      ).status,
      201,
    );
  });
});

describe('write-validation rules (API version 2026-09)', () => {
  const RULED: EmulatorAccountSeed = {
    accountId: 'ruled',
    token: 'ruled-token',
    appId: 7102,
    rateLimit: OFF,
    searchLagMs: 0,
    contacts: [{ id: '9101', properties: { email: 'existing@ruled.example', phone: '+1 555 0100' } }],
    validationRules: {
      requiredOnCreate: ['phone'],
      conditionalRequired: [
        { property: 'lifecyclestage', values: ['customer', 'evangelist'], requires: ['company', 'jobtitle'] },
      ],
      propertyRules: {
        zip: [
          { ruleType: 'ALPHANUMERIC', ruleArguments: ['NUMERIC_ONLY'] },
          { ruleType: 'MAX_LENGTH', ruleArguments: ['5'] },
        ],
        website: [{ ruleType: 'REGEX', ruleArguments: ['^https://'] }],
        firstname: [{ ruleType: 'MIN_LENGTH', ruleArguments: ['2'] }],
      },
    },
  };
  let ruled: HubSpotEmulator;
  const R = RULED.token;
  before(async () => {
    ruled = await startHubSpotEmulator({ port: 0, accounts: [RULED] });
  });
  after(async () => ruled?.close());

  test('a create without a required-on-create property is a 400 naming it, with the required properties in context; the legacy path does not apply the rule', async () => {
    const r = await call(ruled, R, 'POST', `${V}/contacts`, {
      properties: { email: freshEmail('noPhone'), firstname: 'Nophone' },
    });
    assert.equal(r.status, 400);
    assert.equal(r.body.category, 'VALIDATION_ERROR');
    assert.equal(r.body.errors.length, 1);
    assert.equal(r.body.errors[0].code, 'REQUIRED_PROPERTY');
    assert.match(r.body.errors[0].message, /"phone"/);
    assert.deepEqual(r.body.errors[0].context, { propertyName: ['phone'], requiredProperties: ['phone'] });
    assert.ok(!r.text.includes('Nophone'), 'a value was echoed');
    assert.equal(
      (
        await call(ruled, R, 'POST', `${V}/contacts`, {
          properties: { email: freshEmail('phone'), phone: '+1 555 0101' },
        })
      ).status,
      201,
    );
    // Updates need no create-form property; the legacy v3 path predates the rules.
    assert.equal((await call(ruled, R, 'PATCH', `${V}/contacts/9101`, { properties: { city: 'Austin' } })).status, 200);
    assert.equal(
      (await call(ruled, R, 'POST', '/crm/v3/objects/contacts', { properties: { email: freshEmail('legacy') } }))
        .status,
      201,
    );
    const batch = await call(ruled, R, 'POST', `${V}/contacts/batch/create`, {
      inputs: [{ properties: { email: freshEmail('b1'), phone: '1' } }, { properties: { email: freshEmail('b2') } }],
    });
    assert.equal(batch.status, 400, 'one input without the required property refuses the batch');
  });

  test('conditional required: setting the condition without the required properties is refused, on create and update', async () => {
    const create = await call(ruled, R, 'POST', `${V}/contacts`, {
      properties: { email: freshEmail('cond'), phone: '1', lifecyclestage: 'customer', company: 'Acme' },
    });
    assert.equal(create.status, 400);
    assert.deepEqual(
      create.body.errors.map((e: { code: string; context: { propertyName: string[] } }) => [
        e.code,
        e.context.propertyName[0],
      ]),
      [['CONDITIONALLY_REQUIRED_PROPERTY', 'jobtitle']],
    );
    assert.deepEqual(create.body.errors[0].context.requiredProperties, ['company', 'jobtitle']);
    assert.deepEqual(create.body.errors[0].context.conditionProperty, ['lifecyclestage']);
    const update = await call(ruled, R, 'PATCH', `${V}/contacts/9101`, {
      properties: { lifecyclestage: 'evangelist' },
    });
    assert.equal(update.status, 400);
    assert.deepEqual(
      update.body.errors.map((e: { context: { propertyName: string[] } }) => e.context.propertyName[0]),
      ['company', 'jobtitle'],
    );
    assert.equal(
      (
        await call(ruled, R, 'PATCH', `${V}/contacts/9101`, {
          properties: { lifecyclestage: 'evangelist', company: 'Acme', jobtitle: 'CTO' },
        })
      ).status,
      200,
    );
    // Another stage is not under the rule; clearing a required property under it is refused.
    assert.equal(
      (
        await call(ruled, R, 'POST', `${V}/contacts`, {
          properties: { email: freshEmail('lead'), phone: '1', lifecyclestage: 'lead' },
        })
      ).status,
      201,
    );
    assert.equal((await call(ruled, R, 'PATCH', `${V}/contacts/9101`, { properties: { jobtitle: '' } })).status, 400);
  });

  test('format rules refuse a value that breaks them, on every path, naming the property and not the value', async () => {
    for (const path of [`${V}/contacts`, '/crm/v3/objects/contacts']) {
      const r = await call(ruled, R, 'POST', path, {
        properties: {
          email: freshEmail('fmt'),
          phone: '1',
          zip: '12a4567',
          website: 'http://plain.example',
          firstname: 'J',
        },
      });
      assert.equal(r.status, 400, path);
      const problems = validationProblems(r.body.message).map((p) => [p.name, p.error]);
      assert.deepEqual(problems, [
        ['zip', 'INVALID_NUMERIC'],
        ['zip', 'INVALID_MAX_LENGTH'],
        ['website', 'INVALID_REGEX'],
        ['firstname', 'INVALID_MIN_LENGTH'],
      ]);
      assert.ok(!r.text.includes('12a4567') && !r.text.includes('plain.example'), 'a value was echoed');
    }
    assert.equal(
      (
        await call(ruled, R, 'POST', `${V}/contacts`, {
          properties: {
            email: freshEmail('fmt-ok'),
            phone: '1',
            zip: '12345',
            website: 'https://ok.example',
            firstname: 'Jo',
          },
        })
      ).status,
      201,
    );
  });

  test('the property validations API lists the format rules only; required properties show only in refusals; setValidationRules replaces them', async () => {
    const zip = await call(ruled, R, 'GET', '/crm/property-validations/2026-09/contacts/zip');
    assert.equal(zip.status, 200);
    assert.deepEqual(zip.body.results, [
      { ruleType: 'ALPHANUMERIC', ruleArguments: ['NUMERIC_ONLY'], shouldApplyNormalization: false },
      { ruleType: 'MAX_LENGTH', ruleArguments: ['5'], shouldApplyNormalization: false },
    ]);
    // phone is required on create and company conditionally required, yet HubSpot's API lists no rule
    // for them: its 27 rule types have none for that (the refusals above are the only trace).
    assert.deepEqual(
      (await call(ruled, R, 'GET', '/crm/property-validations/2026-09/contacts/phone')).body.results,
      [],
    );
    assert.deepEqual((await call(ruled, R, 'GET', '/crm/property-validations/2026-09/0-1/company')).body.results, []);
    assert.deepEqual((await call(ruled, R, 'GET', '/crm/property-validations/2026-09/contacts/city')).body.results, []);
    assert.equal(
      (await call(ruled, R, 'GET', '/crm/property-validations/2026-09/contacts/no_such_property')).status,
      404,
    );
    const all = await call(ruled, R, 'GET', '/crm/property-validations/2026-09/contacts');
    assert.deepEqual(
      all.body.results.map((r: { propertyName: string }) => r.propertyName),
      ['firstname', 'website', 'zip'],
    );
    // A rule type HubSpot does not publish cannot be seeded.
    assert.throws(
      () =>
        ruled.setValidationRules(RULED.accountId, {
          propertyRules: { zip: [{ ruleType: 'REQUIRED_ON_CREATE' as 'REGEX', ruleArguments: [] }] },
        }),
      /not one HubSpot publishes/,
    );
    const bad = await fetch(`${ruled.url}/_emulator/accounts/ruled/validation-rules`, {
      method: 'PUT',
      body: JSON.stringify({ propertyRules: { zip: [{ ruleType: 'CONDITIONALLY_REQUIRED', ruleArguments: [] }] } }),
    });
    assert.equal(bad.status, 400);
    assert.equal(
      (await call(ruled, R, 'GET', '/crm/property-validations/2026-09/contacts/zip')).body.results.length,
      2,
      'a refused seed changed the rules',
    );

    ruled.setValidationRules(RULED.accountId, { requiredOnCreate: ['city'] });
    try {
      assert.equal(
        (await call(ruled, R, 'POST', `${V}/contacts`, { properties: { email: freshEmail('city') } })).status,
        400,
      );
      assert.equal(
        (
          await call(ruled, R, 'POST', `${V}/contacts`, {
            properties: { email: freshEmail('city'), city: 'Oslo', zip: 'abc' },
          })
        ).status,
        201,
        'the old rules still apply',
      );
      const put = await fetch(`${ruled.url}/_emulator/accounts/ruled/validation-rules`, {
        method: 'PUT',
        body: 'null',
      });
      assert.equal(put.status, 200);
      assert.equal(
        (await call(ruled, R, 'POST', `${V}/contacts`, { properties: { email: freshEmail('free') } })).status,
        201,
      );
    } finally {
      ruled.setValidationRules(RULED.accountId, RULED.validationRules!);
    }
  });
});

describe('slow-write fault', () => {
  test('a held write is applied at the end of the hold when the caller waited, and the fault log says so', async () => {
    const email = freshEmail('slow-ok');
    unkind.failNext(UNKIND.accountId, 'contacts.create', 'slow-write', 1, { holdMs: 300 });
    const t0 = Date.now();
    const r = await call(unkind, U, 'POST', `${V}/contacts`, { properties: { email } });
    assert.equal(r.status, 201);
    assert.ok(Date.now() - t0 >= 290, `answered after ${Date.now() - t0} ms`);
    const entry = unkind.faultLog(UNKIND.accountId).at(-1)!;
    assert.equal(entry.kind, 'slow-write');
    assert.equal(entry.outcome, 'applied');
    assert.equal(entry.operation, 'contacts.create');
    assert.deepEqual(entry.ids, [r.body.id]);
    assert.ok(entry.endedAt - entry.at >= 290);
  });

  test('by default a held write is applied when the hold ends even though its caller aborted: HubSpot may apply a request it fully received', async () => {
    const email = freshEmail('slow-abort-applied');
    unkind.failNext(UNKIND.accountId, 'contacts.create', 'slow-write', 1, { holdMs: 600 });
    const controller = new AbortController();
    const pending = fetch(`${unkind.url}${V}/contacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${U}`, 'content-type': 'application/json' },
      body: JSON.stringify({ properties: { email } }),
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 150);
    await assert.rejects(pending, /abort/i);
    assert.equal(
      unkind.contacts(UNKIND.accountId).some((c) => c.properties.email === email),
      false,
      'applied before its hold ended',
    );
    await sleep(700);
    const landed = unkind.contacts(UNKIND.accountId).filter((c) => c.properties.email === email);
    assert.equal(landed.length, 1, 'the write its caller abandoned was not applied');
    const entry = unkind.faultLog(UNKIND.accountId).at(-1)!;
    assert.deepEqual(
      [entry.kind, entry.outcome, entry.ids, entry.callerLeft],
      ['slow-write', 'applied', [landed[0]!.id], true],
    );
    assert.ok(entry.endedAt - entry.at >= 590, 'applied before its hold ended');
    assert.equal(
      unkind
        .requests(UNKIND.accountId)
        .filter((x) => x.fault === 'injected-slow-write')
        .at(-1)?.status,
      201,
    );
  });

  test('the kinder variant ("slow-write-if-connected"): a caller that aborts before the hold ends leaves nothing written', async () => {
    const email = freshEmail('slow-abort');
    unkind.failNext(UNKIND.accountId, 'contacts.create', 'slow-write-if-connected', 1, { holdMs: 600 });
    const controller = new AbortController();
    const pending = fetch(`${unkind.url}${V}/contacts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${U}`, 'content-type': 'application/json' },
      body: JSON.stringify({ properties: { email } }),
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 150);
    await assert.rejects(pending, /abort/i);
    await sleep(700);
    assert.equal(
      unkind.contacts(UNKIND.accountId).some((c) => c.properties.email === email),
      false,
      'the abandoned write landed',
    );
    const entry = unkind.faultLog(UNKIND.accountId).at(-1)!;
    assert.deepEqual([entry.kind, entry.outcome, entry.ids], ['slow-write-if-connected', 'dropped', undefined]);
    assert.ok(entry.endedAt - entry.at < 500, 'the drop was not noticed when the caller left');
    assert.equal(
      unkind
        .requests(UNKIND.accountId)
        .filter((x) => x.fault === 'injected-slow-write')
        .at(-1)?.status,
      0,
    );
  });

  test('a caller that only stops waiting (a Promise.race timeout) keeps the connection open: the late write lands', async () => {
    const email = freshEmail('slow-race');
    unkind.failNext(UNKIND.accountId, 'contacts.create', 'slow-write', 1, { holdMs: 400 });
    const request = unkindClient().crm.contacts.basicApi.create({ properties: { email }, associations: [] });
    const timedOut = await Promise.race([request.then(() => false), sleep(100).then(() => true)]);
    assert.equal(timedOut, true);
    assert.equal(
      unkind.contacts(UNKIND.accountId).some((c) => c.properties.email === email),
      false,
    );
    await request;
    assert.equal(
      unkind.contacts(UNKIND.accountId).filter((c) => c.properties.email === email).length,
      1,
      'the write the caller gave up on did not land',
    );
    assert.equal(unkind.faultLog(UNKIND.accountId).at(-1)!.outcome, 'applied');
  });

  test('random slow writes of the kinder variant (slowWriteIfConnected) drop what an aborted caller sent', async () => {
    unkind.setFaults(UNKIND.accountId, {
      slowWriteRate: 1,
      slowWriteMs: 400,
      slowWriteIfConnected: true,
      operations: ['contacts.create'],
    });
    try {
      const email = freshEmail('slow-random-kind');
      const controller = new AbortController();
      const pending = fetch(`${unkind.url}${V}/contacts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${U}`, 'content-type': 'application/json' },
        body: JSON.stringify({ properties: { email } }),
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(), 100);
      await assert.rejects(pending, /abort/i);
      await sleep(500);
      assert.equal(
        unkind.contacts(UNKIND.accountId).some((c) => c.properties.email === email),
        false,
      );
      assert.deepEqual(
        [unkind.faultLog(UNKIND.accountId).at(-1)!.kind, unkind.faultLog(UNKIND.accountId).at(-1)!.outcome],
        ['slow-write-if-connected', 'dropped'],
      );
    } finally {
      unkind.setFaults(UNKIND.accountId, null);
    }
  });

  test('random slow writes (slowWriteRate, slowWriteMs), and holding a read', async () => {
    unkind.setFaults(UNKIND.accountId, { slowWriteRate: 1, slowWriteMs: 150, operations: ['contacts.get'] });
    try {
      const t0 = Date.now();
      assert.equal((await call(unkind, U, 'GET', `${V}/contacts/8001`)).status, 200);
      assert.ok(Date.now() - t0 >= 140);
      assert.equal(unkind.faultLog(UNKIND.accountId).at(-1)!.operation, 'contacts.get');
      const viaApi = await fetch(`${unkind.url}/_emulator/accounts/unkind/fault-log`);
      assert.equal(
        ((await viaApi.json()) as { results: unknown[] }).results.length,
        unkind.faultLog(UNKIND.accountId).length,
      );
    } finally {
      unkind.setFaults(UNKIND.accountId, null);
    }
  });
});

describe('property history (propertiesWithHistory)', () => {
  test('each write adds a version, newest first, with its source: the app for API writes, the user for a person in the UI', async () => {
    const email = freshEmail('history');
    const created = await call(unkind, U, 'POST', `${V}/contacts`, { properties: { email, firstname: 'One' } });
    const id = created.body.id as string;
    await call(unkind, U, 'PATCH', `${V}/contacts/${id}`, { properties: { firstname: 'Two' } });
    unkind.editContact(UNKIND.accountId, id, { firstname: 'Person' });
    await call(unkind, U, 'POST', `${V}/contacts/batch/update`, {
      inputs: [{ id, properties: { firstname: 'Three' } }],
    });
    const read = await call(unkind, U, 'POST', `${V}/contacts/batch/read`, {
      inputs: [{ id }],
      properties: ['firstname'],
      propertiesWithHistory: ['firstname', 'nonexistent_property'],
    });
    assert.equal(read.status, 200, read.text);
    const history = (
      read.body.results as Array<{ propertiesWithHistory: Record<string, Array<Record<string, unknown>>> }>
    )[0]!.propertiesWithHistory;
    assert.deepEqual(Object.keys(history), ['firstname'], 'a property without versions is ignored, as HubSpot does');
    assert.deepEqual(
      history.firstname!.map((v) => [v.value, v.sourceType, v.sourceId, v.updatedByUserId]),
      [
        ['Three', 'INTEGRATION', String(UNKIND.appId), undefined],
        ['Person', 'CRM_UI', `userId:${EMULATOR_USER_ID}`, EMULATOR_USER_ID],
        ['Two', 'INTEGRATION', String(UNKIND.appId), undefined],
        ['One', 'INTEGRATION', String(UNKIND.appId), undefined],
      ],
    );
    for (const v of history.firstname!)
      assert.ok(!Number.isNaN(Date.parse(String(v.timestamp))), 'each version has a timestamp');
    // The same through the official client on a single read, and for a note's body.
    const single = await unkindClient().crm.contacts.basicApi.getById(id, ['firstname'], ['firstname']);
    assert.deepEqual(
      single.propertiesWithHistory?.firstname?.map((v) => v.value),
      ['Three', 'Person', 'Two', 'One'],
    );
    assert.ok(single.propertiesWithHistory?.firstname?.[0]?.timestamp instanceof Date);
    const note = await call(unkind, U, 'POST', `${V}/notes`, {
      properties: { hs_note_body: 'first', hs_timestamp: new Date().toISOString() },
      associations: [noteToContact(id)],
    });
    await call(unkind, U, 'POST', `${V}/notes/batch/update`, {
      inputs: [{ id: note.body.id, properties: { hs_note_body: 'second' } }],
    });
    const notes = await call(unkind, U, 'POST', `${V}/notes/batch/read`, {
      inputs: [{ id: note.body.id }],
      properties: ['hs_note_body'],
      propertiesWithHistory: ['hs_note_body'],
    });
    assert.deepEqual(
      (
        notes.body.results as Array<{ propertiesWithHistory: Record<string, Array<{ value: string }>> }>
      )[0]!.propertiesWithHistory.hs_note_body!.map((v) => v.value),
      ['second', 'first'],
    );
  });

  test('a merged record carries the versions of both records, newest first', async () => {
    const a = unkind.addContact(UNKIND.accountId, { email: freshEmail('hist-a'), city: 'Lyon' });
    const b = unkind.addContact(UNKIND.accountId, { email: freshEmail('hist-b') });
    await sleep(5);
    await call(unkind, U, 'PATCH', `${V}/contacts/${b}`, { properties: { city: 'Nice' } });
    const merged = unkind.mergeContacts(UNKIND.accountId, a, b);
    assert.deepEqual(
      unkind.propertyHistory(UNKIND.accountId, merged, ['city']).city!.map((v) => [v.value, v.sourceType]),
      [
        ['Nice', 'INTEGRATION'],
        ['Lyon', 'CRM_UI'],
      ],
    );
  });
});

describe('calls and communications (Calls, Communications 2026-09)', () => {
  const ts = () => new Date().toISOString();
  const freshContact = async () => {
    const r = await call(unkind, U, 'POST', `${V}/contacts`, { properties: { email: freshEmail('engagement') } });
    assert.equal(r.status, 201, r.text);
    return r.body.id as string;
  };
  const SYSTEM = ['hs_createdate', 'hs_lastmodifieddate', 'hs_object_id'];

  test('a read returns the properties asked for and the system ones: no body, title, channel or timestamp unasked', async () => {
    const hs = unkindClient();
    const created = await hs.crm.objects.calls.basicApi.create({
      properties: { hs_call_title: 'Title', hs_call_body: 'Body', hs_call_direction: 'INBOUND', hs_timestamp: ts() },
      associations: [],
    });
    const one = await hs.crm.objects.calls.basicApi.getById(created.id, ['hs_call_direction']);
    assert.deepEqual(Object.keys(one.properties).sort(), ['hs_call_direction', ...SYSTEM]);
    assert.equal(one.properties.hs_call_direction, 'INBOUND');
    const comm = await call(unkind, U, 'POST', `${V}/communications`, {
      properties: {
        hs_communication_body: 'Body',
        hs_communication_channel_type: 'SMS',
        hs_communication_logged_from: 'CRM',
        hs_timestamp: ts(),
      },
    });
    assert.equal(comm.status, 201, comm.text);
    const none = await hs.crm.objects.communications.batchApi.read({
      inputs: [{ id: comm.body.id }],
      properties: [],
      propertiesWithHistory: [],
    });
    assert.deepEqual(Object.keys(none.results[0]!.properties).sort(), SYSTEM);
    const asked = await call(unkind, U, 'GET', `${V}/communications/${comm.body.id}?properties=hs_communication_body`);
    assert.deepEqual(Object.keys(asked.body.properties).sort(), ['hs_communication_body', ...SYSTEM]);
    assert.equal(asked.body.properties.hs_communication_body, 'Body');
  });

  test('an operation the specs declare that the emulator does not serve answers its own 501, not a 404, writing nothing; the worker does not retry it', async () => {
    const hs = unkindClient();
    const search = await apiError(
      hs.crm.objects.calls.searchApi.doSearch({ filterGroups: [], sorts: [], properties: [], limit: 10, after: '0' }),
    );
    assert.equal(search.code, 501);
    assert.equal(search.body.category, 'EMULATOR_NOT_IMPLEMENTED');
    assert.match(search.body.message, /calls\.search .*not implemented in the emulator/);
    assert.equal((await apiError(hs.crm.objects.communications.basicApi.getPage())).code, 501);
    const before = [
      ...unkind.engagements(UNKIND.accountId, 'calls'),
      ...unkind.engagements(UNKIND.accountId, 'communications'),
    ];
    const contact = await freshContact();
    const unserved: Array<[string, string, unknown?]> = [
      ...['calls', 'communications', '0-48', '0-18'].flatMap((type): Array<[string, string, unknown]> =>
        ['create', 'update', 'upsert', 'archive'].map((kind) => [
          'POST',
          `${V}/${type}/batch/${kind}`,
          { inputs: [{ id: '1', properties: { hs_timestamp: ts() } }] },
        ]),
      ),
      ['GET', `${V}/0-48`],
      ['POST', `/crm/v3/objects/communications/search`, { filterGroups: [] }],
      ['GET', `${V}/contacts`],
      ['POST', `${V}/notes/batch/upsert`, { inputs: [] }],
      [
        'PUT',
        `${V}/calls/1/associations/contacts/${contact}`,
        [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: 194 }],
      ],
      ['POST', `/crm/associations/2026-09/contacts/calls/batch/create`, { inputs: [] }],
    ];
    for (const [method, path, body] of unserved) {
      const r = await call(unkind, U, method, path, body);
      assert.equal(r.status, 501, `${method} ${path}: ${r.text}`);
      assert.equal(r.body.category, 'EMULATOR_NOT_IMPLEMENTED', `${method} ${path}`);
    }
    const after = [
      ...unkind.engagements(UNKIND.accountId, 'calls'),
      ...unkind.engagements(UNKIND.accountId, 'communications'),
    ];
    assert.equal(after.length, before.length, 'an unserved batch write wrote something');
    // A path HubSpot does not have stays a 404.
    assert.equal((await call(unkind, U, 'PUT', `${V}/calls/1`, { properties: {} })).status, 404);
    // The worker reads the 501 as a failure no retry changes, not as "the record is gone" or an outage.
    const failure = classifyHubSpotError(search, UNKIND.accountId, 'call search');
    assert.equal(failure.type, FailureType.HubSpotRequestFailed);
    assert.equal(failure.nonRetryable, true);
    assert.match(failure.message, /answered 501 Not Implemented during call search/);
  });

  test('the type ids 0-48 and 0-18 name calls and communications on the object and association paths', async () => {
    const contact = await freshContact();
    for (const [typeId, object, typeToContact, props] of [
      ['0-48', 'calls', 194, { hs_call_body: 'by type id' }],
      ['0-18', 'communications', 81, { hs_communication_body: 'by type id', hs_communication_logged_from: 'CRM' }],
    ] as const) {
      const created = await call(unkind, U, 'POST', `${V}/${typeId}`, {
        properties: { ...props, hs_timestamp: ts() },
        associations: [
          {
            to: { id: contact },
            types: [{ associationCategory: 'HUBSPOT_DEFINED', associationTypeId: typeToContact }],
          },
        ],
      });
      assert.equal(created.status, 201, created.text);
      const id = created.body.id as string;
      const read = await call(unkind, U, 'GET', `${V}/${object}/${id}`);
      assert.equal(read.status, 200, read.text);
      assert.equal((await call(unkind, U, 'GET', `${V}/${typeId}/${id}`)).status, 200);
      const assoc = await call(unkind, U, 'POST', `/crm/associations/2026-09/contacts/${typeId}/batch/read`, {
        inputs: [{ id: contact }],
      });
      assert.equal(assoc.status, 200, assoc.text);
      assert.deepEqual(
        assoc.body.results[0].to.map((t: { toObjectId: string }) => t.toObjectId),
        [id],
      );
    }
  });

  test('a batch read that asks for property history takes at most 50 inputs (contacts, notes, calls, communications); without history 100', async () => {
    const ids = (n: number) => Array.from({ length: n }, (_, i) => ({ id: String(990_000_000 + i) }));
    for (const [type, name] of [
      ['calls', 'hs_call_body'],
      ['communications', 'hs_communication_body'],
      ['notes', 'hs_note_body'],
      ['contacts', 'firstname'],
    ]) {
      const path = `${V}/${type}/batch/read`;
      const over = await call(unkind, U, 'POST', path, {
        inputs: ids(51),
        properties: [],
        propertiesWithHistory: [name],
      });
      assert.equal(over.status, 400, `${type}: ${over.text}`);
      assert.equal(over.body.category, 'VALIDATION_ERROR');
      assert.match(over.body.message, /Batch input limit exceeded: 51 inputs, at most 50 with propertiesWithHistory/);
      const fifty = await call(unkind, U, 'POST', path, {
        inputs: ids(50),
        properties: [],
        propertiesWithHistory: [name],
      });
      assert.equal(fifty.status, 207, `${type}: 50 unknown ids with history: ${fifty.text}`);
      const plain = await call(unkind, U, 'POST', path, {
        inputs: ids(100),
        properties: [name],
        propertiesWithHistory: [],
      });
      assert.equal(plain.status, 207, `${type}: 100 unknown ids without history: ${plain.text}`);
    }
    const viaClient = await apiError(
      unkindClient().crm.objects.calls.batchApi.read({
        inputs: ids(51),
        properties: [],
        propertiesWithHistory: ['hs_call_body'],
      }),
    );
    assert.equal(viaClient.code, 400);
    assert.equal(viaClient.body.category, 'VALIDATION_ERROR');
  });

  test('an empty hs_timestamp is refused saying it is empty', async () => {
    const created = await call(unkind, U, 'POST', `${V}/calls`, {
      properties: { hs_call_body: 'x', hs_timestamp: ts() },
    });
    const r = await call(unkind, U, 'PATCH', `${V}/calls/${created.body.id}`, { properties: { hs_timestamp: '' } });
    assert.equal(r.status, 400, r.text);
    assert.deepEqual(
      r.body.errors.map((e: { code: string; message: string }) => [e.code, e.message]),
      [['INVALID_DATE', 'hs_timestamp cannot be empty']],
    );
  });
});

describe('inspection API: archive, merge and associations as a person in HubSpot’s UI', () => {
  test('DELETE contacts/notes, POST merge and GET a contact’s notes', async () => {
    const base = `${unkind.url}/_emulator/accounts/unkind`;
    const a = unkind.addContact(UNKIND.accountId, { email: freshEmail('insp-a') });
    const b = unkind.addContact(UNKIND.accountId, { email: freshEmail('insp-b') });
    const n = await createNoteFor(b);
    const merged = (await (
      await fetch(`${base}/merge`, { method: 'POST', body: JSON.stringify({ primaryObjectId: a, objectIdToMerge: b }) })
    ).json()) as { id: string };
    assert.equal(unkind.contactIdNow(UNKIND.accountId, b), merged.id);
    assert.deepEqual(await (await fetch(`${base}/contacts/${b}/notes`)).json(), { results: [n] });
    assert.deepEqual(await (await fetch(`${base}/notes/${n}`, { method: 'DELETE' })).json(), { archived: true });
    assert.deepEqual(await (await fetch(`${base}/contacts/${merged.id}`, { method: 'DELETE' })).json(), {
      archived: true,
    });
    assert.equal((await call(unkind, U, 'GET', `${V}/contacts/${a}`)).status, 404);
    assert.equal(
      (
        await fetch(`${base}/merge`, {
          method: 'POST',
          body: JSON.stringify({ primaryObjectId: a, objectIdToMerge: '1' }),
        })
      ).status,
      404,
    );
  });
});

// ---- CLI ------------------------------------------------------------------------------------------

interface Cli {
  child: ChildProcess;
  url: string;
  output: () => string;
  stop(): Promise<number | null>;
}

function startCli(args: string[]): Promise<Cli> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'hubspot-emulator/cli.ts', ...args], {
    cwd: join(__dirname, '..'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    return exited;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the CLI did not start in 10 s: ${out}`));
    }, 10_000);
    const check = () => {
      // The banner ends with the inspection URL line.
      const m = /listening on (http:\/\/\S+)\n[\s\S]*inspect: \S+\n/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      child.stdout!.off('data', check);
      resolve({ child, url: m[1]!, output: () => out, stop });
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the CLI exited (${code}) before listening: ${out}`));
    });
  });
}

function runCliToExit(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'hubspot-emulator/cli.ts', ...args], {
      cwd: join(__dirname, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output: out });
    });
  });
}

describe('CLI', () => {
  test('--port: the demo account answers a lookup of maria.garcia@example.com; SIGTERM stops it', async () => {
    const port = await freePort();
    const cli = await startCli(['--port', String(port)]);
    try {
      assert.equal(cli.url, `http://127.0.0.1:${port}`);
      assert.match(cli.output(), /account "demo": token "demo-token"/);
      assert.match(cli.output(), /search index lag: 2000-5000 ms after each write/);
      const demo = new Client({ accessToken: 'demo-token', basePath: cli.url, numberOfApiCallRetries: 0 });
      const maria = await demo.crm.contacts.basicApi.getById(
        'maria.garcia@example.com',
        ['phone'],
        undefined,
        undefined,
        false,
        'email',
      );
      assert.equal(maria.properties.firstname, 'Maria');
      assert.equal(maria.properties.lastname, 'Garcia');
      assert.equal(maria.properties.phone, '+34 600 000 001');
      assert.equal(
        (
          await demo.crm.contacts.basicApi.getById(
            'maria@garcia-consulting.example',
            [],
            undefined,
            undefined,
            false,
            'email',
          )
        ).id,
        maria.id,
      );
      const health = await fetch(`${cli.url}/_emulator/health`);
      assert.deepEqual(await health.json(), { status: 'ok', accounts: 1 });
    } finally {
      assert.equal(await cli.stop(), 0, 'the CLI did not exit cleanly on SIGTERM');
    }
  });

  test('--seed-file replaces the demo account with the file’s accounts; a bad file exits 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-emulator-'));
    try {
      const seedFile = join(dir, 'accounts.json');
      const seeds: EmulatorAccountSeed[] = [
        {
          accountId: 'file-acct',
          token: 'file-token',
          appId: 8080,
          rateLimit: OFF,
          contacts: [{ id: '9001', properties: { email: 'from.file@seed.example', firstname: 'Filed' } }],
        },
      ];
      writeFileSync(seedFile, JSON.stringify(seeds));
      const cli = await startCli(['--port', '0', '--seed-file', seedFile, '--search-lag-ms', '0']);
      try {
        assert.match(cli.output(), /account "file-acct": token "file-token", app id 8080/);
        assert.match(cli.output(), /search index lag: none/);
        const c = new Client({ accessToken: 'file-token', basePath: cli.url, numberOfApiCallRetries: 0 });
        // With --search-lag-ms 0 a write is searchable at once.
        const created = await c.crm.contacts.basicApi.create({
          properties: { email: 'instant@seed.example' },
          associations: [],
        });
        assert.equal((await searchContacts(c, [eq('email', 'instant@seed.example')])).results[0]?.id, created.id);
        const hit = await c.crm.contacts.basicApi.getById(
          'FROM.FILE@seed.example',
          [],
          undefined,
          undefined,
          false,
          'email',
        );
        assert.equal(hit.id, '9001');
        assert.equal(hit.properties.firstname, 'Filed');
        const demo = new Client({ accessToken: 'demo-token', basePath: cli.url, numberOfApiCallRetries: 0 });
        assert.equal((await apiError(demo.crm.contacts.basicApi.getById('1'))).code, 401);
      } finally {
        await cli.stop();
      }

      const badFile = join(dir, 'bad.json');
      writeFileSync(badFile, JSON.stringify([{ accountId: 'no-token' }]));
      const [bad, badPort, badLag] = await Promise.all([
        runCliToExit(['--port', '0', '--seed-file', badFile]),
        runCliToExit(['--port', 'nope']),
        runCliToExit(['--port', '0', '--search-lag-ms', '5000-2000']),
      ]);
      assert.equal(badLag.code, 2);
      assert.match(badLag.output, /0 <= minMs <= maxMs/);
      assert.equal(bad.code, 2);
      assert.match(bad.output, /must be a JSON array of \{accountId, token, appId/);
      assert.equal(badPort.code, 2);
      assert.match(badPort.output, /--port nope is not a port/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// ---- robustness -----------------------------------------------------------------------------------

describe('robustness', () => {
  test('a JSON null or array body is a 400 VALIDATION_ERROR, not a server error, and is logged', async () => {
    for (const body of ['null', '[]']) {
      const res = await fetch(`${emulator.url}/crm/v3/objects/contacts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${MAIN.token}`, 'content-type': 'application/json' },
        body,
      });
      assert.equal(res.status, 400, body);
      assert.equal(((await res.json()) as { category: string }).category, 'VALIDATION_ERROR');
    }
    assert.ok(
      emulator.requests(MAIN.accountId).filter((r) => r.operation === 'contacts.create' && r.status === 400).length >=
        2,
    );
  });

  test('a search limit of 0 is refused, so that no client pages forever', async () => {
    const err = await apiError(searchContacts(main, [eq('company', 'Paging Co')], { limit: 0 }));
    assert.equal(err.code, 400);
  });

  test('a batch update with a conflicting email writes nothing', async () => {
    const err = await apiError(
      main.crm.contacts.batchApi.update({
        inputs: [
          { id: BOB_ID, properties: { firstname: 'Half-written' } },
          { id: ADA_ID, properties: { email: 'bob@example.com' } },
        ],
      }),
    );
    assert.equal(err.code, 409);
    assert.equal(
      (await main.crm.contacts.basicApi.getById(BOB_ID)).properties.firstname,
      'Bob',
      'the first input was applied',
    );
  });

  test('a batch upsert naming one email twice (in any case) is a 400 and writes nothing', async () => {
    const email = freshEmail('twice');
    const err = await apiError(
      main.crm.contacts.batchApi.upsert({
        inputs: [
          { id: email, idProperty: 'email', properties: { firstname: 'One' } },
          { id: email.toUpperCase(), idProperty: 'email', properties: { firstname: 'Two' } },
        ],
      }),
    );
    assert.equal(err.code, 400);
    assert.equal(
      emulator.contacts(MAIN.accountId).filter((c) => c.properties.email?.toLowerCase() === email).length,
      0,
    );
  });

  test('a reset gives seeded contacts the same ids again', async () => {
    const ids = () =>
      emulator
        .contacts(MAIN.accountId)
        .map((c) => `${c.id}:${c.properties.email}`)
        .sort();
    const before = ids();
    emulator.reset();
    assert.deepEqual(ids(), before);
  });

  test('closing the emulator ends a call held by a timeout fault at once', async () => {
    const own = await startHubSpotEmulator({ port: 0, accounts: [{ ...FAULTY, rateLimit: OFF }] });
    own.failNext(FAULTY.accountId, 'contacts.get', 'timeout'); // held 30 s by default
    const held = new Client({
      accessToken: FAULTY.token,
      basePath: own.url,
      numberOfApiCallRetries: 0,
    }).crm.contacts.basicApi
      .getById('6001')
      .catch((e: unknown) => e);
    await sleep(100);
    const started = Date.now();
    await own.close();
    await held;
    assert.ok(Date.now() - started < 2_000, `close() waited ${Date.now() - started} ms for the held call`);
  });
});
