// Write rules per mapped field (docs/CONTACT_SYNC.md, "Write rules"), through the real workflow
// (runAction) against the emulator: each rule against a value a person (or another integration) set
// before and after this system's last write, fillIfEmpty against empty and non-empty values, a bad
// rule refused by validation, and the outcome naming per property what was written and what was left.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@hubspot/api-client';
import { timeSkippingEnv } from './helpers/temporal-env';
import { ACME, action, conversation, startHarness, type Harness } from './helpers/conversation-harness';
import type { ActionConfig, FieldMapping } from '../src/action/config';
import { ConversationInputError } from '../src/platform/client';

let h: Harness;
let acme: Client;
let seq = 0;
const A = ACME.accountId;
/** Another app connected to the same portal (a marketing tool, a data enrichment service). */
const OTHER_APP = 9_999;

before(async () => {
  h = await startHarness(await timeSkippingEnv(), [ACME]);
  acme = new Client({ accessToken: ACME.token, basePath: h.emulator.url, numberOfApiCallRetries: 0 });
});
after(async () => h?.close());

const email = () => `rules${++seq}@example.com`;

function rules(
  phone?: FieldMapping['writeRule'],
  firstname?: FieldMapping['writeRule'],
  extra: Partial<ActionConfig> = {},
): ActionConfig {
  return action({
    id: 'live',
    offlineSync: false,
    fieldMappings: [
      { hubspotProperty: 'email', astraField: 'email' },
      { hubspotProperty: 'firstname', astraField: 'first_name', ...(firstname ? { writeRule: firstname } : {}) },
      { hubspotProperty: 'phone', astraField: 'phone', ...(phone ? { writeRule: phone } : {}) },
    ],
    ...extra,
  });
}

/** One in-conversation run; the outcome and the HubSpot calls it cost (the cached property schema aside). */
async function run(config: ActionConfig, fields: Record<string, string>) {
  const before = h.emulator.requestCounts(A);
  const outcome = await h.run(() =>
    h.platform.runAction(conversation('chat', [config]), { actionId: config.id, fields }),
  );
  const now = h.emulator.requestCounts(A);
  const calls = Object.fromEntries(
    Object.entries(now)
      .map(([k, v]) => [k, v - (before[k] ?? 0)])
      .filter(([k, v]) => (v as number) > 0 && k !== 'properties.list'),
  );
  return { outcome, calls };
}

/** A contact this app created (its values written by this system), as an earlier run would have. */
async function ourContact(properties: Record<string, string>): Promise<string> {
  return (await acme.crm.contacts.basicApi.create({ properties, associations: [] })).id;
}

const contact = (id: string) => h.emulator.contacts(A).find((c) => c.id === id)!.properties;
const noValues = (outcome: object, ...values: string[]) => {
  const text = JSON.stringify(outcome);
  for (const v of values) assert.ok(!text.includes(v), 'the outcome carries a value');
};

describe('write rule keepPersonEdits', () => {
  test('a value a person changed after our last write is left; the other values are written; the outcome says which and why', async () => {
    const to = email();
    const id = await ourContact({ email: to, firstname: 'Ann', phone: '+1 555 0001' });
    h.emulator.editContact(A, id, { phone: '+1 555 0002' }); // a salesperson corrects the number by hand
    const { outcome, calls } = await run(rules('keepPersonEdits'), {
      email: to,
      first_name: 'Anna',
      phone: '+1 555 0999',
    });
    assert.equal(outcome.result, 'updated', outcome.reason);
    assert.equal(contact(id).phone, '+1 555 0002', "the person's correction was overwritten");
    assert.equal(contact(id).firstname, 'Anna', 'a value under overwrite was not written');
    assert.deepEqual(outcome.propertiesWritten, ['firstname']);
    assert.deepEqual(outcome.propertiesLeft, [{ property: 'phone', rule: 'keepPersonEdits', why: 'set-by-a-person' }]);
    assert.match(
      outcome.reason,
      /left by their write rules: phone \(keepPersonEdits: set by a person since this system's last write\)/,
    );
    noValues(outcome, '+1 555', 'Anna');
    // The history comes with the lookup itself: no call more than an overwrite run.
    assert.deepEqual(calls, { 'contacts.get': 1, 'contacts.update': 1 });
  });

  test("a person's change before our last write does not hold our next write back", async () => {
    const to = email();
    const id = await ourContact({ email: to, phone: '+1 555 0011' });
    h.emulator.editContact(A, id, { phone: '+1 555 0012' });
    await acme.crm.contacts.basicApi.update(id, { properties: { phone: '+1 555 0013' } }); // this system writes after the person
    const { outcome } = await run(rules('keepPersonEdits'), { email: to, first_name: 'Bo', phone: '+1 555 0014' });
    assert.equal(outcome.result, 'updated', outcome.reason);
    assert.equal(contact(id).phone, '+1 555 0014');
    assert.deepEqual(outcome.propertiesWritten.sort(), ['firstname', 'phone']);
    assert.equal(outcome.propertiesLeft, undefined);
    const history = h.emulator.propertyHistory(A, id, ['phone']).phone!;
    assert.deepEqual(
      history.slice(0, 2).map((v) => [v.sourceType, v.sourceId]),
      [
        ['INTEGRATION', String(ACME.appId)],
        ['INTEGRATION', String(ACME.appId)],
      ],
    );
  });

  test("another integration's write since ours is left; a run of ours that left it does not count as our write", async () => {
    const to = email();
    const id = await ourContact({ email: to, phone: '+1 555 0021' });
    h.emulator.editContact(A, id, { phone: '+1 555 0022' }, { appId: OTHER_APP });
    const first = await run(rules('keepPersonEdits'), { email: to, first_name: 'Cy', phone: '+1 555 0023' });
    assert.deepEqual(first.outcome.propertiesLeft, [
      { property: 'phone', rule: 'keepPersonEdits', why: 'set-by-another-integration' },
    ]);
    assert.equal(contact(id).phone, '+1 555 0022');
    // Our run wrote firstname only: the phone is still the other integration's on the next run too.
    const second = await run(rules('keepPersonEdits'), { email: to, first_name: 'Cy', phone: '+1 555 0024' });
    assert.deepEqual(second.outcome.propertiesLeft, [
      { property: 'phone', rule: 'keepPersonEdits', why: 'set-by-another-integration' },
    ]);
    assert.equal(contact(id).phone, '+1 555 0022');
  });

  test('on a contact a person created, the values they typed are kept and the empty ones filled', async () => {
    const to = email();
    const id = h.emulator.addContact(A, { email: to, phone: '+1 555 0031' }); // no first name yet
    const { outcome } = await run(rules('keepPersonEdits', 'keepPersonEdits'), {
      email: to,
      first_name: 'Dee',
      phone: '+1 555 0032',
    });
    assert.equal(outcome.result, 'updated', outcome.reason);
    assert.equal(contact(id).phone, '+1 555 0031');
    assert.equal(contact(id).firstname, 'Dee');
    assert.deepEqual(outcome.propertiesWritten, ['firstname']);
    assert.deepEqual(outcome.propertiesLeft, [{ property: 'phone', rule: 'keepPersonEdits', why: 'set-by-a-person' }]);
  });

  test('when every mapped value is left, no contact write is made and the note is still written', async () => {
    const to = email();
    const id = h.emulator.addContact(A, { email: to, firstname: 'Eve', phone: '+1 555 0041' });
    const before = h.emulator.requestCounts(A);
    const outcome = await h.run(() =>
      h.platform.runAction(conversation('chat', [rules('keepPersonEdits', 'keepPersonEdits')]), {
        actionId: 'live',
        fields: { email: to, first_name: 'Eva', phone: '+1 555 0042' },
        summary: 'Asked for a call back',
      }),
    );
    assert.equal(outcome.result, 'updated', outcome.reason);
    assert.deepEqual(outcome.propertiesWritten, []);
    assert.deepEqual(
      outcome.propertiesLeft?.map((l) => l.property),
      ['firstname', 'phone'],
    );
    assert.equal(
      (h.emulator.requestCounts(A)['contacts.update'] ?? 0) - (before['contacts.update'] ?? 0),
      0,
      'a contact write with nothing in it',
    );
    assert.deepEqual([contact(id).firstname, contact(id).phone], ['Eve', '+1 555 0041']);
    assert.equal(h.emulator.noteAssociations(A, id).length, 1, 'the summary note');
  });
});

describe('write rule overwrite (the default)', () => {
  test("a person's change after our last write is overwritten, as without rules", async () => {
    const to = email();
    const id = await ourContact({ email: to, phone: '+1 555 0051' });
    h.emulator.editContact(A, id, { phone: '+1 555 0052' });
    const { outcome, calls } = await run(rules(undefined), { email: to, first_name: 'Flo', phone: '+1 555 0053' });
    assert.equal(contact(id).phone, '+1 555 0053');
    assert.equal(outcome.propertiesLeft, undefined);
    assert.deepEqual(calls, { 'contacts.get': 1, 'contacts.update': 1 });
    const explicit = await run(rules('overwrite'), { email: to, first_name: 'Flo', phone: '+1 555 0054' });
    assert.equal(contact(id).phone, '+1 555 0054');
    assert.equal(explicit.outcome.propertiesLeft, undefined);
  });
});

describe('write rule fillIfEmpty', () => {
  test('an empty property is filled, one with a value is left, whoever set it', async () => {
    const to = email();
    const id = await ourContact({ email: to, firstname: 'Gus' }); // our own value, phone empty
    const { outcome } = await run(rules('fillIfEmpty', 'fillIfEmpty'), {
      email: to,
      first_name: 'Gustav',
      phone: '+1 555 0061',
    });
    assert.equal(outcome.result, 'updated', outcome.reason);
    assert.equal(contact(id).phone, '+1 555 0061', 'an empty property was not filled');
    assert.equal(contact(id).firstname, 'Gus', 'a value was overwritten under fillIfEmpty');
    assert.deepEqual(outcome.propertiesWritten, ['phone']);
    assert.deepEqual(outcome.propertiesLeft, [{ property: 'firstname', rule: 'fillIfEmpty', why: 'has-a-value' }]);
    noValues(outcome, 'Gus', '+1 555');
    // Filled once: the next run leaves it.
    const again = await run(rules('fillIfEmpty', 'fillIfEmpty'), {
      email: to,
      first_name: 'Gustav',
      phone: '+1 555 0062',
    });
    assert.equal(contact(id).phone, '+1 555 0061');
    assert.equal(again.outcome.result, 'skipped', again.outcome.reason);
    assert.deepEqual(
      again.outcome.propertiesLeft?.map((l) => [l.property, l.why]),
      [
        ['firstname', 'has-a-value'],
        ['phone', 'has-a-value'],
      ],
    );
  });

  test('a contact the run creates gets every mapped value', async () => {
    const to = email();
    const { outcome } = await run(rules('fillIfEmpty', 'keepPersonEdits'), {
      email: to,
      first_name: 'Hal',
      phone: '+1 555 0071',
    });
    assert.equal(outcome.result, 'created', outcome.reason);
    assert.deepEqual(
      [contact(outcome.contactId!).firstname, contact(outcome.contactId!).phone],
      ['Hal', '+1 555 0071'],
    );
    assert.equal(outcome.propertiesLeft, undefined);
  });

  test('the decision table still comes first: updates not allowed, nothing is written whatever the rule', async () => {
    const to = email();
    const id = h.emulator.addContact(A, { email: to });
    const { outcome } = await run(rules('fillIfEmpty', undefined, { allowUpdateExisting: false }), {
      email: to,
      first_name: 'Ida',
      phone: '+1 555 0081',
    });
    assert.equal(outcome.result, 'skipped', outcome.reason);
    assert.equal(contact(id).phone ?? null, null);
  });
});

describe('write rule validation', () => {
  test('a bad rule is refused before anything runs, naming the row and the allowed rules', async () => {
    const config = rules(undefined) as ActionConfig;
    config.fieldMappings[2] = { ...config.fieldMappings[2]!, writeRule: 'keepEdits' as never };
    const before = h.emulator.requestCounts(A);
    await assert.rejects(
      h.run(() =>
        h.platform.runAction(conversation('chat', [config]), {
          actionId: 'live',
          fields: { email: email(), phone: '+1 555 0091' },
        }),
      ),
      (err: Error) => {
        assert.ok(err instanceof ConversationInputError, String(err));
        assert.match(
          err.message,
          /fieldMappings\[2\]\.writeRule: unknown write rule "keepEdits": the allowed write rules are overwrite, fillIfEmpty, keepPersonEdits/,
        );
        return true;
      },
    );
    assert.deepEqual(h.emulator.requestCounts(A), before, 'HubSpot was called');
  });
});

describe('lookups that read property history', () => {
  test('are batched apart, at most 50 a call, each with its own history; lookups without history stay one batch', async () => {
    const account = await h.hubspot.get(A);
    const emails = Array.from({ length: 60 }, () => email());
    for (const e of emails) h.emulator.addContact(A, { email: e, phone: `+1 555 1${e.length}` });
    const count = () => h.emulator.requestCounts(A)['contacts.batchRead'] ?? 0;
    const start = count();
    const withHistory = await Promise.all(
      emails.map((e) => account.readContactByEmail(e, ['phone'], { lane: 'offline' }, ['phone'])),
    );
    assert.equal(count() - start, 2);
    for (const [i, c] of withHistory.entries()) {
      assert.equal(c?.properties.email, emails[i]);
      assert.equal(c?.history?.phone?.[0]?.sourceType, 'CRM_UI');
    }
    const middle = count();
    const without = await Promise.all(emails.map((e) => account.readContactByEmail(e, ['phone'], { lane: 'offline' })));
    assert.equal(count() - middle, 1);
    assert.ok(without.every((c) => c && c.history === undefined));
  });
});
