// The fast tests' in-memory HubSpot (helpers/fake-hubspot.ts) answers as the adapter does over HubSpot's
// API, for what the activities rely on: the same checks run through the port against both, the
// adapter talking to the emulator over HTTP. A behaviour the fake gets wrong fails here, not in
// production. No Temporal server: the emulator runs in this process.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { HubSpotAccounts } from '../src/hubspot/accounts';
import type { HubSpotAccountPort } from '../src/hubspot/port';
import { isOurs, ownershipProperties, writtenByUs } from '../src/hubspot/ownership';
import { startHubSpotEmulator, type HubSpotEmulator } from '../hubspot-emulator';
import { FakeAccount } from './helpers/fake-hubspot';

const APP_ID = 4242;

async function failure(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => assert.fail('expected the call to fail'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `not an ApplicationFailure: ${String(err)}`);
  return err;
}

/** HubSpot ids grow over time: the longer, then the larger, is the newer. */
const newer = (a: string, b: string) => a.length > b.length || (a.length === b.length && a > b);

function contract(name: string, open: () => Promise<HubSpotAccountPort>): void {
  describe(`the HubSpot port: ${name}`, () => {
    let account: HubSpotAccountPort;
    before(async () => {
      account = await open();
    });

    test('a created contact is ours by its record source, found by its email in any case, its writes ours in its history', async () => {
      const created = await account.createContact({ email: 'port.contract@example.com', firstname: 'Ada' });
      const read = await account.readContact(created.id, ownershipProperties(account.connection));
      assert.ok(read && isOurs(account.connection, read.properties));
      const found = await account.readContactByEmail('Port.Contract@Example.COM', ['firstname']);
      assert.equal(found?.id, created.id);
      assert.equal(found?.properties.firstname, 'Ada');
      await account.updateContact(created.id, { firstname: 'Augusta' });
      const { byId, missing } = await account.readContactsWithHistory([created.id, '999999990'], ['firstname']);
      assert.deepEqual(missing, ['999999990']);
      const history = byId.get(created.id)!.history.firstname!;
      assert.equal(history[0]?.value, 'Augusta', 'newest first');
      assert.ok(history.every(writtenByUs(account.connection)));
    });

    test('a second create of the email: HubSpotConflict, not retried, naming the existing id', async () => {
      const first = await account.readContactByEmail('port.contract@example.com', []);
      const f = await failure(account.createContact({ email: 'port.contract@example.com' }));
      assert.equal(f.type, 'HubSpotConflict');
      assert.equal(f.nonRetryable, true);
      assert.deepEqual(f.details, [first!.id]);
    });

    test('what is not there: null on reads, HubSpotNotFound on updates', async () => {
      assert.equal(await account.readContactByEmail('nobody.here@example.com', []), null);
      assert.equal(await account.readContact('999999991', []), null);
      assert.equal((await failure(account.updateContact('999999992', { firstname: 'X' }))).type, 'HubSpotNotFound');
      assert.equal((await failure(account.updateNote('999999993', 'x'))).type, 'HubSpotNotFound');
    });

    test("a note is on its contact's associations at once, readable by id; a newer note has a newer id", async () => {
      const contact = (await account.readContactByEmail('port.contract@example.com', []))!;
      const ts = new Date().toISOString();
      const one = await account.createNote({ body: '<p>one</p>', timestamp: ts, contactId: contact.id });
      const two = await account.createNote({ body: '<p>two</p>', timestamp: ts, contactId: contact.id });
      assert.ok(newer(two.id, one.id), `${two.id} is newer than ${one.id}`);
      assert.deepEqual((await account.noteIdsOfContact(contact.id)).sort(), [one.id, two.id].sort());
      assert.deepEqual(
        [...(await account.noteIdsOfContacts([contact.id])).get(contact.id)!].sort(),
        [one.id, two.id].sort(),
      );
      await account.updateNote(one.id, '<p>one again</p>');
      const { results, missing } = await account.readNotes([one.id, '999999994']);
      assert.equal(results.find((n) => n.id === one.id)?.properties.hs_note_body, '<p>one again</p>');
      assert.deepEqual(missing, ['999999994']);
      await account.archiveNote(two.id);
      assert.deepEqual(await account.noteIdsOfContact(contact.id), [one.id]);
    });

    test('a call whose signal has fired is abandoned, retryably', async () => {
      const f = await failure(account.readContact('1', [], { signal: AbortSignal.abort() }));
      assert.equal(f.type, 'HubSpotCallAborted');
      assert.equal(f.nonRetryable, false);
    });

    test('the property schema names the standard contact properties', async () => {
      const names = (await account.contactPropertySchema()).map((p) => p.name);
      for (const n of ['email', 'firstname', 'lastname']) assert.ok(names.includes(n), n);
    });
  });
}

let emulator: HubSpotEmulator | undefined;
after(async () => {
  await emulator?.close();
});

contract('the adapter against the emulator', async () => {
  emulator = await startHubSpotEmulator({
    port: 0,
    accounts: [
      {
        accountId: 'contract',
        token: 'contract-token-0123456789',
        appId: APP_ID,
        rateLimit: { perTenSeconds: 0, searchPerSecond: 0 },
      },
    ],
  });
  return new HubSpotAccounts([
    { accountId: 'contract', token: 'contract-token-0123456789', appId: APP_ID, basePath: emulator.url },
  ]).get('contract');
});
contract('the in-memory fake of the fast tests', async () => new FakeAccount('contract', { appId: APP_ID }));
