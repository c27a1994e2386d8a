// "Created by this system" for each kind of credential (docs/CONTACT_SYNC.md): an app's contacts are
// recognised by HubSpot's record source; where that cannot identify us (a service key), by the marker
// property the operator chose, written on every contact this system creates.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { timeSkippingEnv } from './helpers/temporal-env';
import { action, conversation, startHarness, type Harness } from './helpers/conversation-harness';
import type { EmulatorAccountSeed } from '../hubspot-emulator';

const SERVICE_KEY: EmulatorAccountSeed = {
  accountId: 'keyed',
  token: 'service-key-token',
  appId: 7373,
  rateLimit: { perTenSeconds: 0, searchPerSecond: 0 },
  customProperties: [
    { name: 'created_by_system', label: 'Created by the agent platform', type: 'string', fieldType: 'text' },
  ],
};
const MARKER = { property: 'created_by_system', value: 'agent-platform' };

let h: Harness;
before(async () => {
  h = await startHarness(await timeSkippingEnv(), [SERVICE_KEY], {
    settings: () => ({ kind: 'service-key', ownershipMarker: MARKER }),
  });
});
after(async () => h?.close());

// Updating existing contacts is not allowed: only contacts this system created are updated.
const live = action({
  id: 'live',
  offlineSync: false,
  hubspotAccountId: SERVICE_KEY.accountId,
  allowCreate: true,
  allowUpdateExisting: false,
});

describe('a service key with an ownership marker property', () => {
  test('its own contacts carry the marker and are fully updated; a contact someone else created gets only the note', async () => {
    await h.run(async () => {
      const conv = conversation('chat', [live]);
      const created = await h.platform.runAction(conv, {
        actionId: 'live',
        fields: { email: `own.${process.pid}@example.com`, first_name: 'First' },
        summary: 'One.',
      });
      assert.equal(created.result, 'created', created.reason);
      const contact = h.emulator.contacts(SERVICE_KEY.accountId).find((c) => c.id === created.contactId)!;
      assert.equal(contact.properties.created_by_system, MARKER.value, 'the marker was not written on create');
      const again = await h.platform.runAction(conv, {
        actionId: 'live',
        fields: { first_name: 'Second' },
        summary: 'Two.',
      });
      assert.equal(again.result, 'updated', again.reason);
      assert.equal(
        h.emulator.contacts(SERVICE_KEY.accountId).find((c) => c.id === created.contactId)!.properties.firstname,
        'Second',
      );

      const theirs = h.emulator.addContact(SERVICE_KEY.accountId, {
        email: `theirs.${process.pid}@example.com`,
        firstname: 'Kept',
      });
      const other = conversation('chat', [live]);
      const noteOnly = await h.platform.runAction(other, {
        actionId: 'live',
        fields: { email: `theirs.${process.pid}@example.com`, first_name: 'Changed' },
        summary: 'Three.',
      });
      assert.equal(noteOnly.result, 'note_only', noteOnly.reason);
      assert.equal(
        h.emulator.contacts(SERVICE_KEY.accountId).find((c) => c.id === theirs)!.properties.firstname,
        'Kept',
      );
    });
  });
});
