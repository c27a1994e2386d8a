// Two workspaces on one worker, played as a hostile tenant would: the same conversation id in both,
// callers that bypass the platform client and name another workspace, and conversations started
// before conversations were scoped to workspaces (docs/PLATFORM_CONTRACT.md).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { timeSkippingEnv } from './helpers/temporal-env';
import { ACME, GLOBEX, action, startHarness, type Harness } from './helpers/conversation-harness';
import { ActionRefusedError, ConversationClient, type Conversation } from '../src/platform/client';
import {
  conversationWorkflowId,
  legacyConversationWorkflowId,
  messageSignal,
  runActionUpdate,
  stateQuery,
  WORKFLOW_TYPE,
} from '../src/platform/contract';

const WS_A = 'ws-alpha';
const WS_B = 'ws-beta';

let h: Harness;

before(async () => {
  // Each portal belongs to one workspace, as the account store keeps connections.
  h = await startHarness(await timeSkippingEnv(), [ACME, GLOBEX], {
    settings: (s) => ({ workspaceId: s.accountId === ACME.accountId ? WS_A : WS_B }),
  });
});
after(async () => {
  await h?.close();
});

let seq = 0;
const sharedId = () => `c-1001-${process.pid}-${++seq}`;
const live = (accountId: string) => action({ id: 'live', offlineSync: false, hubspotAccountId: accountId });
const contactsWith = (accountId: string, email: string) =>
  h.emulator.contacts(accountId).filter((c) => c.properties.email === email);

describe('the same conversation id in two workspaces', () => {
  test('is two conversations: no write crosses into the other portal, each reads only its own state', async () => {
    const id = sharedId();
    const a: Conversation = { conversationId: id, workspaceId: WS_A, channel: 'chat', actions: [live(ACME.accountId)] };
    const b: Conversation = {
      conversationId: id,
      workspaceId: WS_B,
      channel: 'chat',
      actions: [live(GLOBEX.accountId)],
    };
    await h.run(async () => {
      const runA = await h.platform.runAction(a, {
        actionId: 'live',
        fields: { email: `alice.${id}@alpha.test`, first_name: 'Alice' },
      });
      assert.equal(runA.result, 'created', runA.reason);
      const runB = await h.platform.runAction(b, {
        actionId: 'live',
        fields: { email: `bob.${id}@beta.test`, first_name: 'Bob' },
      });
      assert.equal(runB.result, 'created', runB.reason);

      // B's customer went to B's portal only; A's portal never saw B's customer, nor B's portal A's.
      assert.equal(contactsWith(GLOBEX.accountId, `bob.${id}@beta.test`).length, 1);
      assert.equal(
        contactsWith(ACME.accountId, `bob.${id}@beta.test`).length,
        0,
        "workspace B's customer was written into workspace A's portal",
      );
      assert.equal(contactsWith(GLOBEX.accountId, `alice.${id}@alpha.test`).length, 0);

      const stateA = await h.platform.getState(a);
      const stateB = await h.platform.getState(b);
      assert.equal(stateA?.workspaceId, WS_A);
      assert.equal(stateB?.workspaceId, WS_B);
      assert.deepEqual(
        stateA?.outcomes['live']?.map((r) => r.contactId),
        [runA.contactId],
      );
      assert.deepEqual(
        stateB?.outcomes['live']?.map((r) => r.contactId),
        [runB.contactId],
        "workspace B read workspace A's outcomes",
      );
      assert.notEqual(h.platform.handle(a).workflowId, h.platform.handle(b).workflowId);
    });
  });

  test('a caller that bypasses the client and names another workspace is refused, named, with nothing applied', async () => {
    const id = sharedId();
    const a: Conversation = { conversationId: id, workspaceId: WS_A, channel: 'chat', actions: [live(ACME.accountId)] };
    await h.run(async () => {
      await h.platform.recordMessage(a, {
        from: 'customer',
        fields: { email: `carol.${id}@alpha.test`, first_name: 'Carol' },
      });
      const handle = h.env.client.workflow.getHandle(conversationWorkflowId(WS_A, id));
      const requests = h.emulator.requests(ACME.accountId).length;

      // Signals: recorded as rejected, never applied.
      await handle.signal(messageSignal, { workspaceId: WS_B, from: 'customer', fields: { first_name: 'Mallory' } });
      await handle.signal(messageSignal, { from: 'customer', fields: { first_name: 'Nobody' } });
      // Update and query: refused outright.
      await assert.rejects(
        handle.executeUpdate(runActionUpdate, {
          args: [{ workspaceId: WS_B, actionId: 'live', fields: { email: `mallory.${id}@beta.test` } }],
        }),
        (e: unknown) =>
          e instanceof WorkflowUpdateFailedError &&
          /runAction refused: the conversation belongs to another workspace/.test(String(e.cause?.message)),
      );
      await assert.rejects(
        handle.query(stateQuery, { workspaceId: WS_B }),
        /state refused: the conversation belongs to another workspace/,
      );
      await assert.rejects(handle.query(stateQuery), /state refused: .*workspace/);
      // The refusal never tells the other tenant whose conversation it is.
      await assert.rejects(handle.query(stateQuery, { workspaceId: WS_B }), (e: Error) => !e.message.includes(WS_A));

      const state = await h.platform.getState(a);
      assert.equal(state?.messageCount, 1, 'a foreign message was counted');
      assert.deepEqual(
        state?.rejections.map((r) => r.message),
        [
          'message signal refused: the conversation belongs to another workspace',
          'message signal refused: workspaceId: the caller must name its workspace',
        ],
      );
      assert.equal(h.emulator.requests(ACME.accountId).length, requests, 'a foreign request reached HubSpot');
      // The owner's own values are intact.
      const own = await h.platform.runAction(a, { actionId: 'live' });
      assert.equal(own.result, 'created', own.reason);
      assert.equal(contactsWith(ACME.accountId, `carol.${id}@alpha.test`)[0]?.properties.firstname, 'Carol');
      assert.equal(contactsWith(ACME.accountId, `mallory.${id}@beta.test`).length, 0);
    });
  });

  test("a conversation naming another workspace's account is refused by the worker", async () => {
    const id = sharedId();
    // Workspace B's conversation names workspace A's portal.
    const forged: Conversation = {
      conversationId: id,
      workspaceId: WS_B,
      channel: 'chat',
      actions: [live(ACME.accountId)],
    };
    await h.run(async () => {
      const run = await h.platform.runAction(forged, { actionId: 'live', fields: { email: `eve.${id}@beta.test` } });
      assert.equal(run.result, 'failed');
      assert.match(run.reason, /workspace/);
      assert.equal(contactsWith(ACME.accountId, `eve.${id}@beta.test`).length, 0);
    });
  });
});

describe('conversations started before workspaces (legacy workflow ids)', () => {
  /**
   * A conversation as the platform client started it before: id conversation-<id>, its owner in the
   * input only. One started with no workspace at all is met today as the continuation (continue-as-new)
   * of such a conversation: a new start must name its workspace.
   */
  async function startLegacy(id: string, workspaceId: string | undefined, actions = [live(ACME.accountId)]) {
    const now = Date.now();
    const carried = {
      fields: {},
      lastActivityAtMs: now,
      messageCount: 0,
      noteIds: {},
      outcomes: {},
      rejections: [],
      runsBefore: 1,
      startedAtMs: now,
    };
    return h.env.client.workflow.start(WORKFLOW_TYPE, {
      taskQueue: h.taskQueue,
      workflowId: legacyConversationWorkflowId(id),
      args: [{ conversationId: id, channel: 'chat', actions, ...(workspaceId ? { workspaceId } : { carried }) }],
    });
  }

  test("keep working for their own workspace; another workspace's same id gets its own conversation", async () => {
    const id = sharedId();
    await h.run(async () => {
      const legacy = await startLegacy(id, WS_A);
      const a: Conversation = {
        conversationId: id,
        workspaceId: WS_A,
        channel: 'chat',
        actions: [live(ACME.accountId)],
      };
      const b: Conversation = {
        conversationId: id,
        workspaceId: WS_B,
        channel: 'chat',
        actions: [live(GLOBEX.accountId)],
      };

      // The owner's client finds the running legacy conversation.
      const sentA = await h.platform.recordMessage(a, { from: 'customer', fields: { email: `dave.${id}@alpha.test` } });
      assert.equal(sentA.workflowId, legacy.workflowId);
      const runA = await h.platform.runAction(a, { actionId: 'live' });
      assert.equal(runA.result, 'created', runA.reason);
      assert.equal((await h.platform.getState(a))?.messageCount, 1);

      // Another workspace with the same id: a conversation of its own, nothing reaches the legacy one.
      const other = new ConversationClient({ client: h.env.client, taskQueue: h.taskQueue });
      const sentB = await other.recordMessage(b, { from: 'customer', fields: { email: `erin.${id}@beta.test` } });
      assert.equal(sentB.workflowId, conversationWorkflowId(WS_B, id));
      assert.equal((await other.getState(b))?.workspaceId, WS_B);
      assert.equal((await other.getState(b))?.messageCount, 1);
      const legacyState = await legacy.query(stateQuery, { workspaceId: WS_A });
      assert.equal(legacyState.messageCount, 1, "workspace B's message reached workspace A's legacy conversation");
      await other.handle(b).terminate('test finished');
      await legacy.terminate('test finished');
    });
  });

  test('one started without any workspace is reached only by the workspace the client names for them', async () => {
    const id = sharedId();
    await h.run(async () => {
      const legacy = await startLegacy(id, undefined);
      const withOwner = new ConversationClient({
        client: h.env.client,
        taskQueue: h.taskQueue,
        legacyWorkspaceId: WS_A,
      });
      const a: Conversation = {
        conversationId: id,
        workspaceId: WS_A,
        channel: 'chat',
        actions: [live(ACME.accountId)],
      };
      const b: Conversation = {
        conversationId: id,
        workspaceId: WS_B,
        channel: 'chat',
        actions: [live(GLOBEX.accountId)],
      };
      assert.equal((await withOwner.recordMessage(a, { from: 'customer' })).workflowId, legacy.workflowId);
      assert.equal(
        (await withOwner.recordMessage(b, { from: 'customer' })).workflowId,
        conversationWorkflowId(WS_B, id),
      );
      // A client that names no owner for them leaves them alone.
      const plain = new ConversationClient({ client: h.env.client, taskQueue: h.taskQueue });
      const c: Conversation = { ...a, conversationId: id };
      assert.equal((await plain.recordMessage(c, { from: 'customer' })).workflowId, conversationWorkflowId(WS_A, id));
      for (const ref of [a, b])
        await h.env.client.workflow
          .getHandle(conversationWorkflowId(ref.workspaceId, id))
          .terminate('test finished')
          .catch(() => undefined);
      await legacy.terminate('test finished');
    });
  });

  test('the client refuses a call that names no workspace, before anything reaches Temporal', async () => {
    const { workspaceId: _dropped, ...noWorkspace } = {
      conversationId: sharedId(),
      workspaceId: WS_A,
      channel: 'chat' as const,
      actions: [live(ACME.accountId)],
    };
    await assert.rejects(
      h.platform.recordMessage(noWorkspace as never, { from: 'customer' }),
      /conversation: workspaceId/,
    );
    await assert.rejects(h.platform.getState({ conversationId: 'x' } as never), /conversation: workspaceId/);
    await assert.rejects(
      h.platform.runAction(noWorkspace as never, { actionId: 'live' }),
      (e: unknown) => !(e instanceof ActionRefusedError) && /workspaceId/.test(String(e)),
    );
  });
});
