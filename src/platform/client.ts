// The platform client: the one typed way the platform drives conversation workflows.
// Every input is validated here with the contract's zod schemas before anything reaches Temporal.
import {
  Client,
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type WorkflowHandle,
} from '@temporalio/client';
import type { z } from 'zod';
import {
  callEndedSchema,
  callEndedSignal,
  conversationInputSchema,
  conversationPriority,
  conversationRefSchema,
  conversationTaskQueue,
  conversationWorkflowId,
  legacyConversationWorkflowId,
  DEFAULT_TASK_QUEUE,
  describeZodError,
  fieldsUpdatedSchema,
  fieldsUpdatedSignal,
  messageSchema,
  messageSignal,
  runActionSchema,
  runActionUpdate,
  safeValidate,
  stateQuery,
  WORKFLOW_TYPE,
  type ActionRun,
  type CallEnded,
  type ConversationInput,
  type ConversationRef,
  type ConversationResult,
  type ConversationState,
  type FieldsUpdate,
  type Message,
  type RunActionRequest,
} from './contract';
import { ChannelAttr, ConversationIdAttr, HubSpotAccountsAttr, StatusAttr, SyncStatusAttr } from './search-attributes';
import type { conversationWorkflow } from '../../workflows/conversation';

/** What the platform knows about a conversation when it talks to us: enough to start its workflow. */
export type Conversation = Omit<ConversationInput, 'carried' | 'operatorRetry' | 'workspaceId'> & {
  workspaceId: string;
};
export type { ConversationRef };

/** Thrown when the platform passes something the contract refuses. Nothing was sent to Temporal. */
export class ConversationInputError extends Error {
  override name = 'ConversationInputError';
}

/** Thrown when a runAction update is refused or fails; the message says why. */
export class ActionRefusedError extends Error {
  override name = 'ActionRefusedError';
}

const INTERNAL_KEYS = ['carried', 'operatorRetry'] as const;

/** The address of a conversation out of a Conversation or a ConversationRef. */
function pickRef(conversation: ConversationRef): unknown {
  if (typeof conversation !== 'object' || conversation === null) return conversation;
  return { workspaceId: conversation.workspaceId, conversationId: conversation.conversationId };
}

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = safeValidate(schema, value);
  if (!parsed.success) throw new ConversationInputError(`${what}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

export interface ConversationClientOptions {
  client: Client;
  taskQueue?: string;
  /**
   * Conversations started before conversations were scoped to workspaces run under the id
   * `conversation-<conversationId>`. While this is on (the default), every call first looks for such a
   * conversation still running and uses it when it belongs to the caller's workspace (one Describe call
   * per conversation and process; answers that none exists are remembered). Turn it off once none runs
   * (docs/PLATFORM_CONTRACT.md, "Conversations started before workspaces").
   */
  findLegacyConversations?: boolean;
  /**
   * The workspace that conversations started without any workspace belong to (a platform that ran
   * a single workspace before). Unset: such conversations are reached by no workspace; they still
   * finish their offline syncs on their own.
   */
  legacyWorkspaceId?: string;
}

/** How many "no running legacy conversation" answers a client remembers. */
const LEGACY_CACHE_SIZE = 10_000;

export class ConversationClient {
  readonly taskQueue: string;
  private readonly client: Client;
  private readonly findLegacy: boolean;
  private readonly legacyWorkspaceId?: string;
  /** Conversations (workspace/conversation) known to have no running legacy workflow of theirs. */
  private readonly noLegacy = new Set<string>();

  constructor(options: ConversationClientOptions) {
    this.client = options.client;
    this.taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
    this.findLegacy = options.findLegacyConversations ?? true;
    this.legacyWorkspaceId = options.legacyWorkspaceId;
  }

  /**
   * The workflow id of a conversation of this workspace: its running legacy workflow when there is one
   * and it belongs to the caller's workspace, else the workspace-scoped id.
   */
  private async workflowIdOf(ref: ConversationRef): Promise<string> {
    const scoped = conversationWorkflowId(ref.workspaceId, ref.conversationId);
    if (!this.findLegacy) return scoped;
    const key = `${ref.workspaceId}/${ref.conversationId}`;
    if (this.noLegacy.has(key)) return scoped;
    const legacy = this.client.workflow.getHandle<typeof conversationWorkflow>(
      legacyConversationWorkflowId(ref.conversationId),
    );
    let running = false;
    try {
      running = (await legacy.describe()).status.name === 'RUNNING';
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    let ours = false;
    if (running) {
      // Its owner is in its own state: the query refuses a caller of another workspace.
      const state = await legacy.query(stateQuery, { workspaceId: ref.workspaceId }).catch((err: unknown) => {
        if (err instanceof Error && /belongs to another workspace/.test(err.message)) return undefined;
        throw err;
      });
      ours =
        state !== undefined &&
        (state.workspaceId === undefined
          ? this.legacyWorkspaceId === ref.workspaceId
          : state.workspaceId === ref.workspaceId);
      if (ours) return legacy.workflowId; // not remembered: it completes one day, and then the scoped id applies
    }
    // A legacy workflow is never started again by this client: "none of ours" stays true.
    if (this.noLegacy.size >= LEGACY_CACHE_SIZE) this.noLegacy.delete(this.noLegacy.values().next().value!);
    this.noLegacy.add(key);
    return scoped;
  }

  private async startOptions(conversation: Conversation) {
    // `carried` and `operatorRetry` are the workflow's and the operator tools' own: never taken from the platform.
    for (const key of INTERNAL_KEYS) {
      if (conversation && typeof conversation === 'object' && key in conversation) {
        throw new ConversationInputError(`conversation: ${key}: internal to the workflow, the platform may not set it`);
      }
    }
    const input = parse(conversationInputSchema, conversation, 'conversation');
    return {
      input,
      // The agent's lane when the conversation has an in-conversation action (docs/TEMPORAL.md).
      taskQueue: conversationTaskQueue(this.taskQueue, input.actions),
      workflowId: await this.workflowIdOf(input),
      args: [input] as [ConversationInput],
      // Present from the first moment so operators can find the conversation; the workflow keeps them current.
      typedSearchAttributes: [
        { key: ConversationIdAttr, value: input.conversationId },
        { key: ChannelAttr, value: input.channel },
        { key: StatusAttr, value: 'active' },
        { key: SyncStatusAttr, value: input.actions.some((a) => a.offlineSync) ? 'pending' : 'none' },
        { key: HubSpotAccountsAttr, value: [...new Set(input.actions.map((a) => a.hubspotAccountId))] },
      ],
      staticSummary: `Conversation ${input.conversationId} of workspace ${input.workspaceId} (${input.channel})`,
      // The agent's conversations go first, and conversations are shared fairly between HubSpot accounts.
      priority: conversationPriority(input),
    };
  }

  private async signalWithStart<A extends object>(
    conversation: Conversation,
    signal: typeof messageSignal | typeof fieldsUpdatedSignal | typeof callEndedSignal,
    arg: A,
  ) {
    const { input, ...options } = await this.startOptions(conversation);
    const handle = await this.client.workflow.signalWithStart<typeof conversationWorkflow, [A]>(WORKFLOW_TYPE, {
      ...options,
      args: [input as ConversationInput],
      signal: signal as never,
      // The workflow checks the caller's workspace against its own.
      signalArgs: [{ ...arg, workspaceId: input.workspaceId }],
    });
    return { workflowId: handle.workflowId, runId: handle.signaledRunId };
  }

  /**
   * Records a message. The first message starts the conversation's workflow (signal-with-start); a
   * message after the end, while the conversation is kept (retention), continues it.
   */
  async recordMessage(conversation: Conversation, message: Message) {
    return this.signalWithStart(conversation, messageSignal, parse(messageSchema, message, 'message'));
  }

  /** New field values and/or the summary. Does not restart the inactivity wait. */
  async updateFields(conversation: Conversation, update: FieldsUpdate) {
    return this.signalWithStart(conversation, fieldsUpdatedSignal, parse(fieldsUpdatedSchema, update, 'fieldsUpdated'));
  }

  /**
   * The call ended (voice): offline actions run right after. Send the final fields and summary with it.
   * Safe to repeat: a repeated callEnded with the same values costs no HubSpot call.
   */
  async endCall(conversation: Conversation, final: CallEnded = {}) {
    return this.signalWithStart(conversation, callEndedSignal, parse(callEndedSchema, final, 'callEnded'));
  }

  /**
   * Runs an in-conversation action and returns its outcome (a Temporal Update). Works whether or not
   * the conversation's workflow exists yet. A refused request throws ActionRefusedError with the reason.
   */
  async runAction(conversation: Conversation, request: RunActionRequest): Promise<ActionRun> {
    const req = parse(runActionSchema, request, 'runAction');
    const { input, ...options } = await this.startOptions(conversation);
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof conversationWorkflow>(WORKFLOW_TYPE, {
      ...options,
      args: [input as ConversationInput],
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    try {
      return await this.client.workflow.executeUpdateWithStart(runActionUpdate, {
        args: [{ ...req, workspaceId: input.workspaceId }],
        startWorkflowOperation,
      });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new ActionRefusedError(err.cause?.message ?? err.message);
      throw err;
    }
  }

  /** The conversation's current state, or undefined when this workspace has no conversation with this id. */
  async getState(conversation: ConversationRef): Promise<ConversationState | undefined> {
    const ref = parse(conversationRefSchema, pickRef(conversation), 'conversation');
    try {
      return await this.client.workflow
        .getHandle<typeof conversationWorkflow>(await this.workflowIdOf(ref))
        .query(stateQuery, { workspaceId: ref.workspaceId });
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * The workflow handle of a conversation of a workspace (its latest run, workspace-scoped id), for
   * waiting on its result or operator tools. A conversation started before workspaces: see result().
   */
  handle(conversation: ConversationRef): WorkflowHandle<typeof conversationWorkflow> {
    const ref = parse(conversationRefSchema, pickRef(conversation), 'conversation');
    return this.client.workflow.getHandle<typeof conversationWorkflow>(
      conversationWorkflowId(ref.workspaceId, ref.conversationId),
    );
  }

  /** Waits for the current session of the conversation to end and returns its result. */
  async result(conversation: ConversationRef): Promise<ConversationResult> {
    const ref = parse(conversationRefSchema, pickRef(conversation), 'conversation');
    return this.client.workflow.getHandle<typeof conversationWorkflow>(await this.workflowIdOf(ref)).result();
  }
}
