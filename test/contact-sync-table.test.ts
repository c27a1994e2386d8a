// The decision table of docs/CONTACT_SYNC.md, every row × summary present or absent × a property mapped to `summary` or not,
// run through the real workflow (runAction) against the emulator. Asserts the final HubSpot state,
// the outcome, and the number of HubSpot calls each case costs (docs/CONTACT_SYNC.md's table).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@hubspot/api-client';
import { timeSkippingEnv } from './helpers/temporal-env';
import { ACME, action, conversation, startHarness, type Harness } from './helpers/conversation-harness';
import type { ActionConfig } from '../src/action/config';

let h: Harness;
let acme: Client;
let seq = 0;

before(async () => {
  h = await startHarness(await timeSkippingEnv(), [ACME]);
  acme = new Client({ accessToken: ACME.token, basePath: h.emulator.url, numberOfApiCallRetries: 0 });
});
after(async () => h?.close());

type Existing = 'none' | 'ours' | 'theirs';
const BEFORE = { firstname: 'Before', phone: '+1 555 0100', message: 'old summary' };

const rows: Array<{
  name: string;
  existing: Existing;
  allowCreate: boolean;
  allowUpdateExisting: boolean;
  expected: string;
  write: 'create' | 'update' | 'none';
}> = [
  {
    name: 'not found, allowCreate ON',
    existing: 'none',
    allowCreate: true,
    allowUpdateExisting: false,
    expected: 'created',
    write: 'create',
  },
  {
    name: 'not found, allowCreate OFF',
    existing: 'none',
    allowCreate: false,
    allowUpdateExisting: true,
    expected: 'skipped',
    write: 'none',
  },
  {
    name: 'found, ours, allowCreate ON',
    existing: 'ours',
    allowCreate: true,
    allowUpdateExisting: false,
    expected: 'updated',
    write: 'update',
  },
  {
    name: 'found, not ours, allowUpdateExisting ON',
    existing: 'theirs',
    allowCreate: true,
    allowUpdateExisting: true,
    expected: 'updated',
    write: 'update',
  },
  {
    name: 'found, ours, allowCreate OFF, allowUpdateExisting ON',
    existing: 'ours',
    allowCreate: false,
    allowUpdateExisting: true,
    expected: 'updated',
    write: 'update',
  },
  {
    name: 'found, not ours, allowUpdateExisting OFF',
    existing: 'theirs',
    allowCreate: true,
    allowUpdateExisting: false,
    expected: 'note_only',
    write: 'none',
  },
  {
    name: 'found, ours, allowCreate OFF, allowUpdateExisting OFF',
    existing: 'ours',
    allowCreate: false,
    allowUpdateExisting: false,
    expected: 'note_only',
    write: 'none',
  },
];

describe('contact sync: every row of the decision table', () => {
  for (const row of rows) {
    for (const withSummary of [true, false]) {
      for (const summaryProperty of [true, false]) {
        test(`${row.name}; ${withSummary ? 'summary' : 'no summary'}; ${summaryProperty ? 'summary mapped to a property' : 'summary not mapped'}`, async () => {
          const email = `case${++seq}@example.com`;
          const accountId = ACME.accountId;
          let contactId: string | undefined;
          if (row.existing === 'ours') {
            // Created earlier through the API by this app: HubSpot records the app as the source.
            contactId = (
              await acme.crm.contacts.basicApi.create({ properties: { email, ...BEFORE }, associations: [] })
            ).id;
          } else if (row.existing === 'theirs') {
            // Created by a person in the CRM, and found through a secondary email.
            contactId = h.emulator.addContact(accountId, {
              email: `primary.${email}`,
              hs_additional_emails: email,
              ...BEFORE,
            });
          }
          const config: ActionConfig = action({
            id: 'live',
            offlineSync: false,
            hubspotAccountId: accountId,
            allowCreate: row.allowCreate,
            allowUpdateExisting: row.allowUpdateExisting,
            fieldMappings: [
              { hubspotProperty: 'email', astraField: 'email' },
              { hubspotProperty: 'firstname', astraField: 'first_name' },
              { hubspotProperty: 'phone', astraField: 'phone' },
              ...(summaryProperty ? [{ hubspotProperty: 'message', astraField: 'summary' }] : []),
            ],
          });
          const summary = withSummary ? 'Asked for <b>pricing</b> & a demo' : undefined;
          const before = h.emulator.requestCounts(accountId);
          const outcome = await h.run(() =>
            h.platform.runAction(conversation('chat', [config]), {
              actionId: 'live',
              fields: { email, first_name: 'After', phone: '' },
              summary,
            }),
          );
          const after = h.emulator.requestCounts(accountId);
          const calls = Object.fromEntries(
            Object.entries(after)
              .map(([k, v]) => [k, v - (before[k] ?? 0)])
              .filter(([, v]) => (v as number) > 0),
          );

          const expectedResult = !withSummary && row.expected === 'note_only' ? 'skipped' : row.expected;
          assert.equal(outcome.result, expectedResult, outcome.reason);
          const contacts = h.emulator
            .contacts(accountId)
            .filter((c) =>
              [c.properties.email, ...(c.properties.hs_additional_emails ?? '').split(';')].includes(email),
            );
          const { 'properties.list': _schema, ...callsBeyondSchema } = calls; // the property schema is fetched once per account, then cached
          if (row.existing === 'none' && !row.allowCreate) {
            assert.equal(contacts.length, 0, 'created a contact without allowCreate');
            assert.deepEqual(callsBeyondSchema, { 'contacts.get': 1 });
            return;
          }
          assert.equal(contacts.length, 1, 'exactly one contact');
          const contact = contacts[0]!;
          if (contactId) assert.equal(contact.id, contactId);
          const p = contact.properties;
          if (row.write === 'none') {
            assert.equal(p.firstname, 'Before', 'a property of an existing contact was changed');
            assert.equal(p.message, 'old summary', 'the summary property was written although updates are not allowed');
          } else {
            assert.equal(p.firstname, 'After');
            assert.equal(
              p.phone ?? null,
              row.existing === 'none' ? null : '+1 555 0100',
              'an empty value blanked out CRM data',
            );
            if (summaryProperty && withSummary) assert.equal(p.message, summary);
            else assert.equal(p.message ?? null, row.existing === 'none' ? null : 'old summary');
          }
          if (row.existing === 'theirs') assert.equal(p.email, `primary.${email}`, 'the lookup email was rewritten');
          const notes = h.emulator.notes(accountId).filter((n) => n.associations.contacts.includes(contact.id));
          if (withSummary) {
            assert.equal(notes.length, 1, 'one summary note');
            assert.match(notes[0]!.properties.hs_note_body ?? '', /Asked for &lt;b&gt;pricing&lt;\/b&gt; &amp; a demo/);
            assert.equal(outcome.noteId, notes[0]!.id);
          } else {
            assert.equal(notes.length, 0, 'a note without a summary');
          }
          // The HubSpot calls this case costs: docs/CONTACT_SYNC.md's table.
          const writes =
            row.write === 'create' ? { 'contacts.create': 1 } : row.write === 'update' ? { 'contacts.update': 1 } : {};
          // A contact created by this run cannot carry this conversation's note yet: no search.
          // A first run writes the note without looking: no note of this conversation can exist yet.
          const note = !withSummary ? {} : { 'notes.create': 1 };
          assert.deepEqual(callsBeyondSchema, { 'contacts.get': 1, ...writes, ...note });
        });
      }
    }
  }
});
