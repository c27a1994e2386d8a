// The setup page's "Recent syncs" in Debian's Chromium, end to end: a real worker writes its receipts to
// the account store, the emulator's OAuth revokes the account's authorisation, and the operator logged
// into the workspace sees the failed sync in red with its reason; a retry before reconnecting fails
// again; after "Reconnect" on the same page, Retry turns it green with a link to the new contact. Filters
// narrow the list; another workspace's syncs are never shown. A screenshot is kept in test-artifacts/
// (and, with DOCS_SCREENSHOT=1, written to docs/recent-syncs.png).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { launchChromium, skipWithoutChromium } from './helpers/skips';
import type { ReceiptWrite } from '../src/action/receipt';
import { StoreDirectory } from '../src/account-store/store-directory';
import { startConfigApi } from '../src/config-api/server';
import { RECENT_SYNCS_REFRESH_MS } from '../src/config-api/page-syncs';
import { DEMO_ACCOUNT } from '../hubspot-emulator';
import { HubSpotAccounts } from '../src/hubspot/accounts';
import { ConversationClient, type Conversation } from '../src/platform/client';
import { createConversationWorker, workflowsPath } from '../src/worker/worker';
import { waitForOutcome } from '../src/worker/development/connected-account-demo';
import { timeSkippingEnv, workflowBundle } from './helpers/temporal-env';
import { connectDirectly, memoryStore, oauthStack } from './accounts-support';

const artifacts = join(__dirname, '..', 'test-artifacts');
const API_TOKEN = 'page-syncs-test-config-api-token-0123456789';
const WS = 'ws-syncs';
const OTHER_WS = 'ws-syncs-other';

/** The colour the operator sees an outcome in, as [r, g, b]. */
async function colourOf(badge: Locator): Promise<[number, number, number]> {
  const css = await badge.evaluate(
    (e) => (globalThis as unknown as { getComputedStyle(e: unknown): { color: string } }).getComputedStyle(e).color,
  );
  const [r, g, b] = css.match(/\d+/g)!.map(Number) as [number, number, number];
  return [r, g, b];
}
const isRed = ([r, g, b]: number[]) => r! > 150 && g! < 80 && b! < 80;
const isGreen = ([r, g, b]: number[]) => g! > 90 && r! < 60 && g! > b!;

const rowsOf = (page: Page) => page.locator('#sync-receipts tbody tr');

/** The outcomes listed, top to bottom, once there are `count` rows. */
async function outcomesShown(page: Page, count: number): Promise<string[]> {
  for (const until = Date.now() + 15_000; ;) {
    const rows = await rowsOf(page).all();
    if (rows.length === count) return Promise.all(rows.map(async (r) => (await r.getAttribute('data-outcome')) ?? ''));
    if (Date.now() > until) throw new Error(`the page lists ${rows.length} syncs, not ${count}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const TITLE = 'the setup page shows a failed sync in red, and Retry turns it green with a link to the contact';
test(TITLE, { skip: skipWithoutChromium(TITLE) }, async () => {
  // The directory's default cache (5 s): a connection that needs reconnecting is read again, so the
  // reconnected account is used by the very next run.
  const { emulator, store, port, oauth, directory } = await oauthStack();
  const env = await timeSkippingEnv();
  const api = await startConfigApi({
    store,
    directory,
    oauth,
    apiToken: API_TOKEN,
    port,
    operatorClient: async () => env.client,
  });
  const taskQueue = `setup-page-syncs-${process.pid}`;
  const platform = new ConversationClient({ client: env.client, taskQueue });
  const worker = await createConversationWorker({
    connection: env.nativeConnection,
    namespace: env.namespace,
    taskQueue,
    hubspot: new HubSpotAccounts(directory),
    receipts: store.receipts,
    workflowBundle: await workflowBundle(workflowsPath),
  });
  const browser = await launchChromium();
  const conversations: Conversation[] = [];
  try {
    const connection = await connectDirectly(store, oauth, WS);
    const accountId = connection.accountId;
    const conversationOf = (workspaceId: string, name: string): Conversation => {
      const c: Conversation = {
        conversationId: `${name}-${process.pid}`,
        channel: 'voice',
        workspaceId,
        actions: [
          {
            id: 'hubspot',
            name: 'HubSpot',
            intent: 'Save the caller',
            offlineSync: true,
            hubspotAccountId: accountId,
            allowCreate: true,
            allowUpdateExisting: false,
            fieldMappings: [{ hubspotProperty: 'email', astraField: 'email' }],
            customFields: [],
          },
        ],
      };
      conversations.push(c);
      return c;
    };
    const call = conversationOf(WS, 'syncs-call');
    const intruder = conversationOf(OTHER_WS, 'syncs-intruder');

    await worker.runUntil(async () => {
      // The portal's authorisation is revoked and the access token has expired: the sync fails at once.
      const t = await store.tokens(accountId);
      await oauth.revoke(t!.refreshToken!);
      await store.db.query('UPDATE hubspot_connections SET access_expires_at = $2 WHERE account_id = $1', [
        accountId,
        new Date(Date.now() - 1000),
      ]);
      for (const [c, email] of [
        [call, 'syncs.caller@example.com'],
        [intruder, 'syncs.intruder@example.com'],
      ] as const) {
        await platform.recordMessage(c, { from: 'customer', fields: { email } });
        await platform.endCall(c, { summary: 'Asked for a callback.' });
        const outcome = await waitForOutcome(platform, c, 'hubspot', 60_000);
        assert.equal(outcome?.result, 'failed', outcome?.reason);
      }

      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      page.on('dialog', (d) => void d.accept());
      await page.goto(`${api.url}${api.oneTimeLoginPath(WS)}`);
      await page.getByRole('heading', { name: 'Recent syncs' }).waitFor();

      // The failed sync, in red, with its reason naming the account; nothing of the other workspace.
      const failed = rowsOf(page).first();
      await failed.waitFor();
      assert.equal(await rowsOf(page).count(), 1);
      assert.equal(await failed.getAttribute('data-outcome'), 'failed');
      assert.ok(isRed(await colourOf(failed.locator('.outcome'))), 'a failed sync is shown in red');
      const failedText = await failed.innerText();
      assert.match(failedText, /needs to be reconnected/);
      assert.ok(failedText.includes(accountId) && failedText.includes(call.conversationId));
      assert.ok(!(await page.content()).includes(intruder.conversationId), "another workspace's sync is shown");
      const [otherReceipt] = (await store.receipts.list(OTHER_WS)).receipts;
      assert.ok(otherReceipt, 'the other workspace has a receipt of its own');
      const status = (path: string) => page.evaluate(async (p) => (await fetch(p)).status, path);
      assert.equal(await status(`/v1/workspaces/${OTHER_WS}/receipts`), 404);
      assert.equal(await status(`/v1/workspaces/${WS}/receipts/${otherReceipt.id}`), 404);

      // Retried while the account still needs reconnecting, it fails again: a second red row on top.
      await failed.getByRole('button', { name: 'Retry' }).click();
      await page.getByText(/failed again: .*needs to be reconnected/).waitFor();
      assert.deepEqual(await outcomesShown(page, 2), ['failed', 'failed']);
      assert.match(await rowsOf(page).first().innerText(), /retried by an operator/);

      // The operator reconnects the account on the same page, then retries: the sync turns green.
      const account = page.locator(`#accounts tbody tr[data-account-id="${accountId}"]`);
      await account.getByText('needs-reconnect').waitFor();
      await account.getByRole('button', { name: 'Reconnect' }).click();
      await page.waitForURL(`${emulator.url}/oauth/authorize?**`);
      await page.getByRole('button', { name: 'Connect app' }).click();
      await page.waitForURL(`${api.url}/**`);
      await page.getByText(`Connected HubSpot account ${accountId}.`).waitFor();
      await rowsOf(page).nth(1).waitFor();

      await rowsOf(page).first().getByRole('button', { name: 'Retry' }).click();
      await page.getByText(/Retried hubspot for conversation .*: created\./).waitFor();
      assert.deepEqual(await outcomesShown(page, 3), ['created', 'failed', 'failed']);
      const green = rowsOf(page).first();
      assert.equal(await green.getAttribute('data-outcome'), 'created');
      assert.ok(isGreen(await colourOf(green.locator('.outcome'))), 'a created contact is shown in green');
      const contact = [...emulator.account(DEMO_ACCOUNT.accountId).contacts.values()].find(
        (c) => c.properties.email === 'syncs.caller@example.com',
      );
      assert.ok(contact, 'the retry created the contact in HubSpot');
      const link = green.getByRole('link', { name: `Contact ${contact.id}` });
      assert.equal(
        await link.getAttribute('href'),
        `https://app.hubspot.com/contacts/${connection.portalId}/record/0-1/${contact.id}`,
      );
      // Both failed runs are made good by the later one: no Retry is offered any more.
      assert.equal(await page.getByRole('button', { name: 'Retry' }).count(), 0);
      assert.equal(await page.getByText('a later run succeeded').count(), 2);

      // Filters: by outcome, by time, by action; "Clear" shows all again.
      await page.locator('#sync-filters select[name=outcome]').selectOption('failed');
      await page.getByRole('button', { name: 'Apply' }).click();
      assert.deepEqual(await outcomesShown(page, 2), ['failed', 'failed']);
      await page.getByRole('button', { name: 'Clear' }).click();
      await page.locator('#sync-filters input[name=actionId]').fill('another-action');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.getByText('No sync matches these filters.').waitFor();
      assert.equal(await rowsOf(page).count(), 0);
      await page.getByRole('button', { name: 'Clear' }).click();
      // An hour after the newest run: runs are timed by Temporal's clock, which the time-skipping test
      // server moves ahead of the wall clock (by how much depends on the machine's pace).
      await outcomesShown(page, 3);
      const started = await Promise.all(
        (await rowsOf(page).all()).map(async (r) =>
          Date.parse((await r.locator('td').first().getAttribute('title')) ?? ''),
        ),
      );
      const inAnHour = new Date(Math.max(Date.now(), ...started) + 3600_000);
      const local = new Date(inAnHour.getTime() - inAnHour.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
      await page.locator('#sync-filters input[name=since]').fill(local);
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.getByText('No sync matches these filters.').waitFor();
      await page.getByRole('button', { name: 'Clear' }).click();
      assert.deepEqual(await outcomesShown(page, 3), ['created', 'failed', 'failed']);

      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: join(artifacts, 'setup-page-recent-syncs.png'), fullPage: true });
      if (process.env.DOCS_SCREENSHOT === '1')
        await page.locator('#syncs').screenshot({ path: join(__dirname, '..', 'docs', 'recent-syncs.png') });
      await page.close();
    });
  } finally {
    for (const c of conversations)
      await platform
        .handle(c)
        .terminate('test finished')
        .catch(() => undefined);
    await browser.close();
    await api.close();
    await store.close();
    await emulator.close();
  }
});

const HOSTILE =
  'the page shows every value of a receipt as text, shows new syncs as they end, and pages through older ones';
test(HOSTILE, { skip: skipWithoutChromium(HOSTILE) }, async () => {
  const store = await memoryStore();
  const api = await startConfigApi({ store, directory: new StoreDirectory(store), apiToken: API_TOKEN });
  const browser = await launchChromium();
  try {
    const base = Date.now() - 3600_000;
    const receipt = (n: number, over: Partial<ReceiptWrite> = {}): ReceiptWrite => ({
      id: `rcpt_page${n}`,
      workspaceId: WS,
      actionId: 'hubspot',
      conversationId: `older-${n}`,
      trigger: 'offline',
      outcome: 'updated',
      reason: 'Updated the contact; summary note written',
      accountId: 'acme-eu',
      portalId: 7_654_321,
      contactId: String(1000 + n),
      record: { object: 'note', id: String(2000 + n) },
      propertiesWritten: ['firstname'],
      propertiesLeft: [],
      hubspotCalls: 3,
      attempts: 1,
      startedAtMs: base + n * 1000,
      finishedAtMs: base + n * 1000 + 500,
      finished: true,
      ...over,
    });
    for (let n = 1; n <= 30; n++) await store.receipts.finished(receipt(n));
    // Values the page must never run as markup: they come from the platform, HubSpot and operators.
    const markup = '<img src=x onerror="window.__injected=1">';
    await store.receipts.finished(
      receipt(31, {
        actionId: `<b>${markup}</b>`,
        conversationId: `conv-${markup}`,
        outcome: 'failed',
        reason: `HubSpot refused: <script>window.__injected=2</script>${markup}`,
        contactId: `"><svg onload="window.__injected=3">`,
        record: { object: 'call', id: markup },
        propertiesWritten: [markup],
        propertiesLeft: [{ name: markup, why: '<i>why</i>' }],
      }),
    );

    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(`${api.url}${api.oneTimeLoginPath(WS)}`);
    const top = rowsOf(page).first();
    await top.waitFor();
    assert.equal(await top.getAttribute('data-outcome'), 'failed');
    const text = await top.innerText();
    for (const shown of [`conv-${markup}`, '<script>window.__injected=2</script>', `left: ${markup} (<i>why</i>)`])
      assert.ok(text.includes(shown), `the row shows ${shown} as text`);
    assert.equal(await page.locator('#sync-receipts img, #sync-receipts svg, #sync-receipts script').count(), 0);
    assert.equal(await page.evaluate(() => (globalThis as { __injected?: number }).__injected), undefined);
    // The contact link stays on HubSpot's record page, the id encoded into its path.
    const href = await top.getByRole('link', { name: /^Contact / }).getAttribute('href');
    assert.ok(href?.startsWith('https://app.hubspot.com/contacts/7654321/record/0-1/'), href ?? 'no link');

    // A sync that ends while the page is open appears on top without a reload.
    await store.receipts.finished(receipt(32, { conversationId: 'arrived-while-open', startedAtMs: Date.now() }));
    await page.getByRole('button', { name: 'arrived-while-open' }).waitFor({ timeout: RECENT_SYNCS_REFRESH_MS + 5000 });
    assert.equal(await rowsOf(page).first().getAttribute('data-receipt-id'), 'rcpt_page32');

    // 25 syncs a page, newest first; "Show older syncs" loads the rest.
    assert.equal(await rowsOf(page).count(), 25);
    await page.getByRole('button', { name: 'Show older syncs' }).click();
    await outcomesShown(page, 32);
    assert.equal(await rowsOf(page).last().getAttribute('data-receipt-id'), 'rcpt_page1');
    assert.ok(await page.getByRole('button', { name: 'Show older syncs' }).isHidden());
  } finally {
    await browser.close();
    await api.close();
    await store.close();
  }
});
