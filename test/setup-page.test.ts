// The operators' page in Debian's Chromium: log in with a one-time link, click "Add account", approve
// on the emulator's consent page, land back with the account listed and its mappable properties shown;
// a conversation then syncs into the new account through the worker; then disconnect it. The page never holds the API token. A screenshot is kept in test-artifacts/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, skipWithoutChromium } from './helpers/skips';
import { startConfigApi } from '../src/config-api/server';
import { DEMO_ACCOUNT } from '../hubspot-emulator';
import { HubSpotAccounts } from '../src/hubspot/accounts';
import { ConversationClient } from '../src/platform/client';
import { createConversationWorker, workflowsPath } from '../src/worker/worker';
import { waitForOutcome } from '../src/worker/development/connected-account-demo';
import { timeSkippingEnv, workflowBundle } from './helpers/temporal-env';
import { oauthStack } from './accounts-support';

const artifacts = join(__dirname, '..', 'test-artifacts');
const API_TOKEN = 'page-test-config-api-token-0123456789';

const TITLE = 'the setup page connects a HubSpot portal through the consent page';
test(TITLE, { skip: skipWithoutChromium(TITLE) }, async () => {
  const { emulator, store, port, oauth, directory } = await oauthStack();
  const api = await startConfigApi({ store, directory, oauth, apiToken: API_TOKEN, port });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    page.on('dialog', (d) => void d.accept());

    // Without a session the page sends the browser to the login form.
    await page.goto(`${api.url}/`);
    assert.match(page.url(), /\/login$/);
    await page.goto(`${api.url}${api.oneTimeLoginPath('ws-page')}`);
    await page.getByRole('heading', { name: /HubSpot accounts of workspace/ }).waitFor();
    await page.getByText('No HubSpot account is connected yet').waitFor();

    await page.getByRole('button', { name: 'Add account' }).click();
    await page.waitForURL(`${emulator.url}/oauth/authorize?**`);
    await page.getByRole('heading', { name: /Connect .* to HubSpot/ }).waitFor();
    await page.getByRole('button', { name: 'Connect app' }).click();

    await page.waitForURL(`${api.url}/**`);
    await page.getByText(/Connected HubSpot account hubspot-/).waitFor();
    const rows = page.locator('#accounts tbody tr');
    assert.equal(await rows.count(), 1);
    const [connection] = await store.listConnections('ws-page');
    assert.ok(connection);
    assert.equal(await rows.first().getAttribute('data-account-id'), connection.accountId);
    assert.match((await rows.first().innerText()).replace(/\s+/g, ' '), /oauth connected/);
    // The account's mappable properties are shown, with the refused ones and why.
    await page.locator('#mappable').getByRole('cell', { name: 'favorite_product', exact: true }).waitFor();
    await page
      .locator('#not-offered')
      .getByText(/read-only in HubSpot/)
      .first()
      .waitFor();

    // The page never holds the API token or a HubSpot token.
    const tokens = await store.tokens(connection.accountId);
    const html = await page.content();
    const cookies = JSON.stringify(await page.context().cookies());
    for (const secret of [API_TOKEN, tokens!.accessToken!, tokens!.refreshToken!]) {
      assert.ok(!html.includes(secret) && !cookies.includes(secret), 'a token reached the browser');
    }
    const session = (await page.context().cookies()).find((c) => c.name === 'config_session');
    assert.equal(session?.httpOnly, true);

    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'setup-page-connected.png'), fullPage: true });

    // A conversation of the workspace syncs into the account just connected, through the worker.
    const env = await timeSkippingEnv();
    const taskQueue = `setup-page-${process.pid}`;
    const platform = new ConversationClient({ client: env.client, taskQueue });
    const worker = await createConversationWorker({
      connection: env.nativeConnection,
      namespace: env.namespace,
      taskQueue,
      hubspot: new HubSpotAccounts(directory),
      workflowBundle: await workflowBundle(workflowsPath),
    });
    const conversation = {
      conversationId: `setup-page-call-${process.pid}`,
      channel: 'voice' as const,
      workspaceId: 'ws-page',
      actions: [
        {
          id: 'hubspot',
          name: 'HubSpot',
          intent: 'Save the caller',
          offlineSync: true,
          hubspotAccountId: connection.accountId,
          allowCreate: true,
          allowUpdateExisting: false,
          fieldMappings: [
            { hubspotProperty: 'email', astraField: 'email' },
            { hubspotProperty: 'favorite_product', astraField: 'product' },
          ],
          customFields: [],
        },
      ],
    };
    const outcome = await worker.runUntil(async () => {
      await platform.recordMessage(conversation, {
        from: 'customer',
        fields: { email: 'page.caller@example.com', product: 'Starter' },
      });
      await platform.endCall(conversation, { summary: 'Wants the Starter plan.' });
      const o = await waitForOutcome(platform, conversation, 'hubspot', 60_000);
      await platform
        .handle(conversation)
        .terminate('test finished')
        .catch(() => undefined);
      return o;
    });
    assert.equal(outcome?.result, 'created', outcome?.reason);
    const contact = [...emulator.account(DEMO_ACCOUNT.accountId).contacts.values()].find(
      (c) => c.properties.email === 'page.caller@example.com',
    );
    assert.equal(contact?.properties.favorite_product, 'Starter');
    assert.equal(contact?.properties.hs_object_source_id, '2000001');

    // A session is bound to its workspace: another workspace's API answers 404.
    const other = await page.evaluate(async () => (await fetch('/v1/workspaces/ws-other/connections')).status);
    assert.equal(other, 404);

    await page.getByRole('button', { name: 'Disconnect' }).click();
    await page.getByText(/Disconnected hubspot-/).waitFor();
    await page.getByText('No HubSpot account is connected yet').waitFor();
    assert.deepEqual(await store.listConnections('ws-page'), []);

    // "Log out" ends the session on the server: the cookie the browser held no longer opens the page.
    const held = (await page.context().cookies()).find((c) => c.name === 'config_session')!.value;
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.waitForURL(`${api.url}/login`);
    assert.equal(
      (await fetch(`${api.url}/`, { headers: { cookie: `config_session=${held}` }, redirect: 'manual' })).status,
      303,
    );
  } finally {
    await browser.close();
    await api.close();
    await store.close();
    await emulator.close();
  }
});
