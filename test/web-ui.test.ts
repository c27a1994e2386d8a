// An operator's view: the Temporal Web UI of the dev server, driven in Debian's Chromium, finds a
// conversation workflow by its search attribute and shows its workflow id. The screenshot is kept
// in test-artifacts/ for a person to look at.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { launchChromium, skipWithoutChromium } from './helpers/skips';
import { localEnv } from './helpers/temporal-env';
import { conversationWorkflowId, WORKFLOW_TYPE } from '../src/platform/contract';
import { ChannelAttr, ConversationIdAttr } from '../src/platform/search-attributes';

const artifacts = join(__dirname, '..', 'test-artifacts');

const TITLE = 'the Web UI finds a conversation by its ConversationId search attribute';
test(TITLE, { skip: skipWithoutChromium(TITLE) }, async () => {
  const { env, uiPort } = await localEnv();
  const conversationId = `ui-${Date.now()}`;
  const workflowId = conversationWorkflowId('ws-ui', conversationId);
  // No worker is needed for the workflow to be listed: it is started and waits for its first task.
  const handle = await env.client.workflow.start(WORKFLOW_TYPE, {
    taskQueue: 'web-ui-test',
    workflowId,
    args: [{ conversationId, workspaceId: 'ws-ui', channel: 'chat', actions: [] }],
    typedSearchAttributes: [
      { key: ConversationIdAttr, value: conversationId },
      { key: ChannelAttr, value: 'chat' },
    ],
  });
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const query = encodeURIComponent(`ConversationId="${conversationId}"`);
    const url = `http://127.0.0.1:${uiPort}/namespaces/default/workflows?query=${query}`;
    // Visibility is eventually consistent: reload until the list shows the workflow.
    let shown = false;
    for (let attempt = 0; attempt < 10 && !shown; attempt++) {
      await page.goto(url, { waitUntil: 'domcontentloaded' });
      shown = await page
        .getByText(workflowId)
        .first()
        .waitFor({ timeout: 5000 })
        .then(() => true)
        .catch(() => false);
    }
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'web-ui-conversation-search.png'), fullPage: true });
    assert.ok(shown, `the Web UI list filtered by ConversationId did not show ${workflowId}`);
    // The filtered list holds exactly the conversation searched for.
    assert.equal(await page.getByRole('link', { name: workflowId, exact: true }).count(), 1);
    assert.ok(
      await page
        .getByText(/^1 Workflow$/)
        .first()
        .isVisible(),
      'the list header does not say "1 Workflow"',
    );
  } finally {
    await browser.close();
    await handle.terminate('web UI test done');
  }
});
