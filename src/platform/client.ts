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
  conversationIdSchema,
  conversationInputSchema,
  conversationWorkflowId,
  DEFAULT_TASK_QUEUE,
  describeZodError,
  fieldsUpdatedSchema,
  fieldsUpdatedSignal,
  messageSchema,
  messageSignal,
  runActionSchema,
  runActionUpdate,
  stateQuery,
  WORKFLOW_TYPE,
  type ActionRun,
  type CallEnded,
  type ConversationInput,
  type ConversationResult,
  type ConversationState,
  type FieldsUpdate,
  type Message,
  type RunActionRequest,
} from './contract';
import { ChannelAttr, ConversationIdAttr, HubSpotAccountsAttr, StatusAttr, SyncStatusAttr } from './search-attributes';
import type { conversationWorkflow } from '../../workflows/conversation';

/** What the platform knows about a conversation when it talks to us: enough to start its workflow. */
export type Conversation = Omit<ConversationInput, 'carried' | 'operatorRetry'>;

/** Thrown when the platform passes something the contract refuses. Nothing was sent to Temporal. */
export class ConversationInputError extends Error {
  override name = 'ConversationInputError';
}

/** Thrown when a runAction update is refused or fails; the message says why. */
export class ActionRefusedError extends Error {
  override name = 'ActionRefusedError';
}

const INTERNAL_KEYS = ['carried', 'operatorRetry'] as const;

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ConversationInputError(`${what}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}

export interface ConversationClientOptions {
  client: Client;
  taskQueue?: string;
}

export class ConversationClient {
  readonly taskQueue: string;
  private readonly client: Client;

  constructor(options: ConversationClientOptions) {
    this.client = options.client;
    this.taskQueue = options.taskQueue ?? DEFAULT_TASK_QUEUE;
  }

  private startOptions(conversation: Conversation) {
    // `carried` and `operatorRetry` are the workflow's and the operator tools' own: never taken from the platform.
    for (const key of INTERNAL_KEYS) {
      if (conversation && typeof conversation === 'object' && key in conversation) {
        throw new ConversationInputError(`conversation: ${key}: internal to the workflow, the platform may not set it`);
      }
    }
    const input: ConversationInput = parse(conversationInputSchema, conversation, 'conversation');
    return {
      taskQueue: this.taskQueue,
      workflowId: conversationWorkflowId(input.conversationId),
      args: [input] as [ConversationInput],
      // Present from the first moment so operators can find the conversation; the workflow keeps them current.
      typedSearchAttributes: [
        { key: ConversationIdAttr, value: input.conversationId },
        { key: ChannelAttr, value: input.channel },
        { key: StatusAttr, value: 'active' },
        { key: SyncStatusAttr, value: input.actions.some((a) => a.offlineSync) ? 'pending' : 'none' },
        { key: HubSpotAccountsAttr, value: [...new Set(input.actions.map((a) => a.hubspotAccountId))] },
      ],
      staticSummary: `Conversation ${input.conversationId} (${input.channel})`,
    };
  }

  private async signalWithStart<A>(conversation: Conversation, signal: typeof messageSignal | typeof fieldsUpdatedSignal | typeof callEndedSignal, arg: A) {
    const handle = await this.client.workflow.signalWithStart<typeof conversationWorkflow, [A]>(WORKFLOW_TYPE, {
      ...this.startOptions(conversation),
      signal: signal as never,
      signalArgs: [arg],
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
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof conversationWorkflow>(WORKFLOW_TYPE, {
      ...this.startOptions(conversation),
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
    try {
      return await this.client.workflow.executeUpdateWithStart(runActionUpdate, { args: [req], startWorkflowOperation });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) throw new ActionRefusedError(err.cause?.message ?? err.message);
      throw err;
    }
  }

  /** The conversation's current state, or undefined when no conversation has this id. */
  async getState(conversationId: string): Promise<ConversationState | undefined> {
    const id = parse(conversationIdSchema, conversationId, 'conversationId');
    try {
      return await this.handle(id).query(stateQuery);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    }
  }

  /** The workflow handle of a conversation (its latest run), for waiting on its result or operator tools. */
  handle(conversationId: string): WorkflowHandle<typeof conversationWorkflow> {
    return this.client.workflow.getHandle<typeof conversationWorkflow>(conversationWorkflowId(conversationId));
  }

  /** Waits for the current session of the conversation to end and returns its result. */
  async result(conversationId: string): Promise<ConversationResult> {
    return this.handle(conversationId).result();
  }
}
