// ConversationEntity: what a conversation workflow knows and decides, without the workflow around it. The
// values collected, the messages, the end, the actions' outcomes and which offline actions still have to
// run; what the state query answers, what the workflow returns, and what it carries into its next run
// (continue-as-new). The workflow function (conversation.ts) owns the handlers, the waits, the timers and
// the activities, and calls this class to change and read the state.
//
// Pure and deterministic: no workflow API here (no patched, log, timer or search attribute upsert), so
// it runs the same inside a workflow, where Date.now() is workflow time, and in plain unit tests
// (test/conversation-state.test.ts), which pass their own clock.
import type { SearchAttributeUpdatePair } from '@temporalio/common';
import type { ActionConfig } from '../src/action/config';
import { CARRIED_BUDGET_BYTES, utf8Length } from '../src/action/limits';
import { SUMMARY_FIELD } from '../src/action/names';
import {
  DEFAULT_OPTIONS,
  isVoice,
  type ActionRun,
  type CallDetails,
  type CarriedState,
  type ConvergenceCarried,
  type ConvergenceSummary,
  type ConversationInput,
  type ConversationOptions,
  type ConversationResult,
  type ConversationState,
  type ConversationStatus,
  type EndReason,
  type FieldValues,
  type KnownNote,
  type Rejection,
  type SyncStatus,
} from '../src/platform/definitions';
import {
  ChannelAttr,
  ConversationIdAttr,
  HubSpotAccountsAttr,
  StatusAttr,
  SyncStatusAttr,
} from '../src/platform/search-attributes';
import {
  checkActionId,
  checkCallDetails,
  checkCallerWorkspace,
  checkMessageSender,
  checkValues,
  overBudget,
  syncFingerprint,
  type Checked,
  type Values,
} from './checks';
import type { RunActionInput, RunActionResult } from './run-action';

/** Outcomes and rejections kept per run; older ones are in earlier runs' histories. */
export const MAX_OUTCOMES_PER_ACTION = 20;
export const MAX_REJECTIONS = 20;
/** Notes remembered per action (one per contact the conversation landed on). */
export const MAX_NOTES_PER_ACTION = 10;

/** A conversation's input once checked: the platform client applied the action schema's defaults. */
export type ConversationSetup = Omit<ConversationInput, 'actions'> & { actions: ActionConfig[] };

/** What the entity needs from the workflow it lives in. */
export interface ConversationContext {
  workflowId: string;
  /** The first run of this conversation: it names the conversation's notes unless an earlier run carried a name. */
  firstExecutionRunId: string;
  /** The conversation refuses callers that do not name its workspace (the workflow's workspace-bound-handlers marker). */
  workspaceBound: boolean;
  /** Milliseconds since the epoch; in a workflow, Date.now() is workflow time. */
  now?: () => number;
}

/** What the convergence checks show and carry (workflows/convergence.ts). */
export interface ConvergenceView {
  summary(): ConvergenceSummary | undefined;
  carried(): ConvergenceCarried | undefined;
  lastDueAtMs(): number | undefined;
}

/** A run of an action about to start: what it is given, and what decides afterwards whether it synced. */
export interface RunStart {
  config: ActionConfig;
  trigger: ActionRun['trigger'];
  request: RunActionInput;
  /** The fingerprint of the values the run uses. */
  used: string;
  /** The change count when the run started: values that come later are not synced by it. */
  changesAtStart: number;
  at: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The options given, each missing or invalid one replaced by its default. */
export function optionsOf(given: Partial<ConversationOptions> | undefined): ConversationOptions {
  const options = { ...DEFAULT_OPTIONS };
  for (const key of Object.keys(DEFAULT_OPTIONS) as Array<keyof ConversationOptions>) {
    const v = given?.[key];
    if (typeof v === 'number' && Number.isFinite(v) && v > 0) options[key] = v;
  }
  return options;
}

/** Notes carried by the first released version were a note id per action, contact unknown. */
function knownNotesOf(carried: CarriedState['noteIds'] | undefined): Record<string, KnownNote[]> {
  const out: Record<string, KnownNote[]> = {};
  for (const [actionId, v] of Object.entries(carried ?? {}))
    out[actionId] = typeof v === 'string' ? [{ contactId: '', noteId: v }] : [...v];
  return out;
}

const pushCapped = <T>(list: T[], item: T, max: number) => {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
};

export class ConversationEntity {
  readonly input: ConversationSetup;
  readonly options: ConversationOptions;
  readonly voice: boolean;
  readonly actionsById: Map<string, ActionConfig>;
  readonly offlineActions: ActionConfig[];
  /** Names the note of a (conversation, action): a conversation id reused after retention is a new conversation. */
  readonly conversationRef: string;

  private readonly workflowId: string;
  private readonly workspaceBound: boolean;
  private readonly now: () => number;

  private fields: FieldValues;
  private summary: string | undefined;
  private lastActivityAtMs: number;
  private messageCount: number;
  /** Bumps on every message: the resettable wait watches it. */
  private activitySeq = 0;
  /** Bumps on every accepted change of values. */
  private changeSeq = 0;
  private lastChangeAtMs: number;
  private callHasEnded: boolean;
  /** Voice: the call's details (callEnded), logged on a HubSpot Call by actions that log engagements. */
  private call: CallDetails | undefined;
  private endedAtMs: number | undefined;
  private reason: EndReason | null;
  private current: ConversationStatus;
  private readonly notes: Record<string, KnownNote[]>;
  private readonly outcomes: Record<string, ActionRun[]>;
  private readonly rejections: Rejection[];
  /** Per offline action: the fingerprint of the values its last offline run used. */
  private readonly synced: Record<string, string>;
  /** Offline actions whose last run failed, with the change count when it started: new signals run them again. */
  private readonly failedAtChange: Record<string, number>;
  private readonly startedAtMs: number;
  private readonly runsBefore: number;
  /** The values this run started with, before any signal: what an operator retry session's other actions had synced. */
  private readonly startedWith: Record<string, string>;
  private runningCount = 0;
  /** Status and sync status last published as search attributes. */
  private published = '';
  // What the dormant wait compares with: taken when a sync starts and at each wake, never when the wait
  // begins. A signal that arrives with the sync's last activity result may be applied before or after
  // that result (the SDK orders the jobs of one activation its own way, and not always the same way on
  // a retried task); the wait must issue the same commands in both orders.
  private sinceActivity = 0;
  private sinceChange = 0;

  constructor(input: ConversationSetup, context: ConversationContext) {
    this.input = input;
    this.options = optionsOf(input.options);
    this.voice = isVoice(input.channel);
    this.actionsById = new Map(input.actions.map((a) => [a.id, a]));
    this.offlineActions = input.actions.filter((a) => a.offlineSync);
    this.workflowId = context.workflowId;
    this.workspaceBound = context.workspaceBound;
    this.now = context.now ?? (() => Date.now());
    const carried = input.carried;
    const initial = checkValues({ fields: input.fields, summary: input.summary });
    const initialValues: Values = initial.ok ? initial.value : {};
    this.fields = { ...(carried?.fields ?? {}), ...(initialValues.fields ?? {}) };
    this.summary = initialValues.summary ?? carried?.summary;
    this.lastActivityAtMs = carried?.lastActivityAtMs ?? this.now();
    this.messageCount = carried?.messageCount ?? 0;
    this.lastChangeAtMs = carried?.lastChangeAtMs ?? 0;
    this.callHasEnded = carried?.callEnded ?? false;
    this.call = carried?.call;
    this.endedAtMs = carried?.endedAtMs;
    this.reason = carried?.endReason ?? null;
    this.current = this.endedAtMs !== undefined ? 'ended' : 'active';
    this.notes = knownNotesOf(carried?.noteIds);
    this.outcomes = { ...(carried?.outcomes ?? {}) };
    this.rejections = [...(carried?.rejections ?? [])];
    this.synced = { ...(carried?.synced ?? {}) };
    this.failedAtChange = Object.fromEntries((carried?.failedOffline ?? []).map((id) => [id, -1]));
    this.startedAtMs = carried?.startedAtMs ?? this.now();
    this.runsBefore = carried?.runsBefore ?? 0;
    this.conversationRef = carried?.conversationRef ?? context.firstExecutionRunId;
    this.startedWith = Object.fromEntries(this.offlineActions.map((a) => [a.id, this.fingerprint(a)]));
  }

  // ---- what it is ---------------------------------------------------------------------------------

  get status(): ConversationStatus {
    return this.current;
  }
  get endReason(): EndReason | null {
    return this.reason;
  }
  /** Voice: the call has ended (callEnded). */
  get callEnded(): boolean {
    return this.callHasEnded;
  }
  /** Counts messages: a wait for the next one watches it. */
  get activity(): number {
    return this.activitySeq;
  }
  /** A run of an action is under way. */
  get running(): boolean {
    return this.runningCount > 0;
  }

  /** The key a (conversation, action) note is found again by. */
  conversationKey(actionId: string): string {
    return `${this.workflowId}:${this.conversationRef}:${actionId}`;
  }

  /** A stable fingerprint of what a run of this action would write now. */
  fingerprint(config: ActionConfig): string {
    return syncFingerprint(
      config.fieldMappings.map((m) => m.astraField).filter((f) => f !== SUMMARY_FIELD),
      this.fields,
      this.summary,
      // An action logging a Call also syncs call details that came later (no details: the fingerprint is as before).
      config.logAs === 'engagement' ? this.call : undefined,
    );
  }

  /**
   * Offline actions due to run: their last offline run used other values than the current ones, or it
   * failed and values came since (identical ones included: a failed sync is not a synced one).
   */
  unsynced(): ActionConfig[] {
    return this.offlineActions.filter(
      (a) =>
        this.synced[a.id] !== this.fingerprint(a) ||
        (this.failedAtChange[a.id] !== undefined && this.changeSeq > this.failedAtChange[a.id]!),
    );
  }

  syncStatus(): SyncStatus {
    if (this.runningCount > 0) return 'running';
    if (this.current !== 'ended' && this.offlineActions.length > 0) return 'pending';
    if (this.current === 'ended' && this.unsynced().length > 0) return 'pending';
    const latest = Object.values(this.outcomes)
      .map((runs) => runs[runs.length - 1])
      .filter((r): r is ActionRun => r !== undefined);
    if (latest.length === 0) return this.offlineActions.length > 0 ? 'pending' : 'none';
    if (latest.some((r) => r.result === 'failed')) return 'failed';
    if (latest.every((r) => r.result === 'skipped')) return 'skipped';
    return 'synced';
  }

  offlineSyncDueAt(): string | null {
    if (this.offlineActions.length === 0) return null;
    if (this.current === 'ended') return this.voice && this.unsynced().length > 0 ? iso(this.now()) : null;
    if (this.voice) return this.callHasEnded ? iso(this.now()) : null;
    return iso(this.lastActivityAtMs + this.options.inactivityTimeoutMs);
  }

  /** How long until the end rule fires without a new message: the call's safety timeout, or the text inactivity (may be negative). */
  untilEndMs(): number {
    const timeout = this.voice ? this.options.callSafetyTimeoutMs : this.options.inactivityTimeoutMs;
    return this.lastActivityAtMs + timeout - this.now();
  }

  /** The end of the retention (from the end, or now), or later while a convergence check is due. */
  retainedUntilMs(convergence?: ConvergenceView): number {
    return Math.max((this.endedAtMs ?? this.now()) + this.options.retentionMs, convergence?.lastDueAtMs() ?? 0);
  }

  /** What the state query answers. */
  state(convergence?: ConvergenceView): ConversationState {
    const checks = convergence?.summary();
    return {
      conversationId: this.input.conversationId,
      ...(this.input.workspaceId ? { workspaceId: this.input.workspaceId } : {}),
      channel: this.input.channel,
      status: this.current,
      syncStatus: this.syncStatus(),
      startedAt: iso(this.startedAtMs),
      lastMessageAt: this.messageCount > 0 ? iso(this.lastActivityAtMs) : null,
      messageCount: this.messageCount,
      offlineSyncDueAt: this.offlineSyncDueAt(),
      endReason: this.reason,
      retainedUntil:
        this.current === 'ended' && this.endedAtMs !== undefined ? iso(this.retainedUntilMs(convergence)) : null,
      runsBefore: this.runsBefore,
      outcomes: this.outcomes,
      rejections: this.rejections,
      ...(checks ? { convergence: checks } : {}),
    };
  }

  /** What the workflow returns when it completes. */
  result(convergence?: ConvergenceView): ConversationResult {
    return {
      ...this.state(convergence),
      actions: this.input.actions,
      options: this.options,
      finalFields: this.fields,
      finalSummary: this.summary,
      conversationRef: this.conversationRef,
      ...(this.input.workspaceId ? { workspaceId: this.input.workspaceId } : {}),
      // What an operator retry of this completed session needs to write what the session's runs wrote.
      ...(this.input.conversationUrl ? { conversationUrl: this.input.conversationUrl } : {}),
      ...(this.callHasEnded ? { callEnded: true } : {}),
      ...(this.call ? { call: this.call } : {}),
    };
  }

  /** The memo operators read in the Web UI: the actions, never personal data. */
  memo(): { actions: string[] } {
    return {
      actions: this.input.actions.map(
        (a) =>
          `${a.name} (${a.id}, ${a.offlineSync ? 'offline sync' : 'in conversation'}, account ${a.hubspotAccountId})`,
      ),
    };
  }

  /** The search attributes to upsert when the status or sync status changed since the last call; undefined when neither did. */
  publication(): SearchAttributeUpdatePair[] | undefined {
    const current = `${this.current}|${this.syncStatus()}`;
    if (current === this.published) return undefined;
    this.published = current;
    return [
      { key: ConversationIdAttr, value: this.input.conversationId },
      { key: ChannelAttr, value: this.input.channel },
      { key: StatusAttr, value: this.current },
      { key: SyncStatusAttr, value: this.syncStatus() },
      { key: HubSpotAccountsAttr, value: [...new Set(this.input.actions.map((a) => a.hubspotAccountId))] },
    ];
  }

  // ---- signals, updates and the query: checks ---------------------------------------------------

  /** Why a caller may not act on this conversation, or undefined when it may (see ConversationContext.workspaceBound). */
  foreignCaller(raw: unknown): string | undefined {
    return checkCallerWorkspace(raw, this.input.workspaceId, this.workspaceBound);
  }

  /** A message: applied, or refused and recorded (the rejection is returned). */
  onMessage(raw: unknown): Rejection | undefined {
    const checked = this.checkSignal(raw, () => {
      const from = checkMessageSender(raw);
      return from.ok ? undefined : from.reason;
    });
    if (!checked.ok) return this.refuse('message', checked.reason);
    this.merge(checked.value);
    this.messageCount++;
    this.lastActivityAtMs = this.now();
    this.activitySeq++;
    return undefined;
  }

  /** New field values or summary: applied, or refused and recorded (returned). */
  onFieldsUpdated(raw: unknown): Rejection | undefined {
    const checked = this.checkSignal(raw);
    if (!checked.ok) return this.refuse('fieldsUpdated', checked.reason);
    if (checked.value.fields === undefined && checked.value.summary === undefined)
      return this.refuse('fieldsUpdated', '(root): give fields, a summary, or both');
    this.merge(checked.value);
    return undefined;
  }

  /** The call ended: applied, or refused and recorded (returned). */
  onCallEnded(raw: unknown): Rejection | undefined {
    const checked = this.checkSignal(raw);
    if (!checked.ok) return this.refuse('callEnded', checked.reason);
    // A text conversation has no call: the signal and its values are refused as a whole.
    if (!this.voice) return this.refuse('callEnded', `the conversation is on ${this.input.channel}, not voice`);
    const details = checkCallDetails(raw);
    if (!details.ok) return this.refuse('callEnded', details.reason);
    this.merge(checked.value);
    if (details.value) this.call = details.value;
    this.callHasEnded = true;
    return undefined;
  }

  /** Why a runAction update is refused (before anything is written to history), or undefined. */
  runActionRefusal(raw: unknown): string | undefined {
    const foreign = this.foreignCaller(raw);
    if (foreign) return `runAction refused: ${foreign}`;
    const id = checkActionId(raw);
    if (!id.ok) return `runAction refused: ${id.reason}`;
    const action = this.actionsById.get(id.value);
    if (!action)
      return `runAction refused: no action "${id.value}" in this conversation (known: ${this.knownActions()})`;
    if (action.offlineSync)
      return `runAction refused: action "${action.id}" runs by offline sync after the conversation ends, not on demand`;
    const values = checkValues(raw);
    if (!values.ok) return `runAction refused: ${values.reason}`;
    const overflow = overBudget(this.fields, values.value.fields);
    if (overflow) return `runAction refused: ${overflow}`;
    if (this.current !== 'active') return 'runAction refused: the conversation has ended';
    return undefined;
  }

  /** Why a retryAction update is refused, or undefined. */
  retryActionRefusal(raw: unknown): string | undefined {
    const foreign = this.foreignCaller(raw);
    if (foreign) return `retryAction refused: ${foreign}`;
    const id = checkActionId(raw);
    if (!id.ok) return `retryAction refused: ${id.reason}`;
    if (!this.actionsById.has(id.value))
      return `retryAction refused: no action "${id.value}" in this conversation (known: ${this.knownActions()})`;
    return undefined;
  }

  /** The values a runAction update (its validator accepted them) brings, merged when it brings any. */
  runActionValues(request: unknown): void {
    const values = checkValues(request);
    if (values.ok && (values.value.fields || values.value.summary !== undefined)) this.merge(values.value);
  }

  /** An in-conversation run's budget ends then, counted from when the agent asks (a queued run waits within it). */
  actionDeadlineMs(): number {
    return this.now() + this.options.actionTimeoutMs;
  }

  private knownActions(): string {
    return [...this.actionsById.keys()].join(', ') || 'none';
  }

  /** The caller, then the signal's own rule, then its values and the conversation's budget. */
  private checkSignal(raw: unknown, own?: () => string | undefined): Checked<Values> {
    const foreign = this.foreignCaller(raw);
    if (foreign) return { ok: false, reason: foreign };
    const ownReason = own?.();
    if (ownReason) return { ok: false, reason: ownReason };
    const checked = checkValues(raw);
    if (!checked.ok) return checked;
    const overflow = overBudget(this.fields, checked.value.fields);
    if (overflow) return { ok: false, reason: overflow };
    return checked;
  }

  private merge(update: Values): void {
    if (update.fields) this.fields = { ...this.fields, ...update.fields };
    if (update.summary !== undefined) this.summary = update.summary;
    this.changeSeq++;
    this.lastChangeAtMs = this.now();
  }

  /** Records a refused signal (the last MAX_REJECTIONS are kept); the conversation goes on. */
  private refuse(kind: Rejection['kind'], reason: string): Rejection {
    const rejection: Rejection = { at: iso(this.now()), kind, message: `${kind} signal refused: ${reason}` };
    pushCapped(this.rejections, rejection, MAX_REJECTIONS);
    return rejection;
  }

  // ---- runs ---------------------------------------------------------------------------------------

  /** A run starts now (runs of one action are serialised by the workflow): what it is given. */
  runStarted(config: ActionConfig, trigger: ActionRun['trigger'], deadlineMs?: number): RunStart {
    this.runningCount++;
    const at = this.now();
    const request: RunActionInput = {
      config,
      workspaceId: this.input.workspaceId,
      fields: this.fields,
      summary: this.summary,
      conversationKey: this.conversationKey(config.id),
      knownNoteIds: (this.notes[config.id] ?? []).map((n) => n.noteId),
      mayHaveWritten: this.failedSinceLastNote(config.id),
      timestamp: iso(at),
      channel: this.input.channel,
      ...(this.call ? { call: this.call } : {}),
      ...(this.input.conversationUrl ? { conversationUrl: this.input.conversationUrl } : {}),
      mode: trigger === 'in-conversation' ? 'in-conversation' : 'offline',
      deadlineMs: trigger === 'in-conversation' ? (deadlineMs ?? at + this.options.actionTimeoutMs) : undefined,
      retryWindowMs: this.options.offlineRetryWindowMs,
      // The receipt's trigger: an offline run of an action that has run offline before is a follow-up.
      receipt: {
        trigger: trigger === 'offline' && this.synced[config.id] !== undefined ? 'follow-up' : trigger,
        conversationId: this.input.conversationId,
      },
    };
    return { config, trigger, request, used: this.fingerprint(config), changesAtStart: this.changeSeq, at };
  }

  /** A run's outcome: an offline run marks its values synced (or failed), and the outcome and its note are recorded. */
  runFinished(start: RunStart, outcome: Omit<RunActionResult, 'accountLabel' | 'sent'>): ActionRun {
    const { config, trigger } = start;
    const result: ActionRun = { ...outcome, actionId: config.id, trigger, at: iso(start.at) };
    if (config.offlineSync && trigger !== 'in-conversation') {
      this.synced[config.id] = start.used;
      if (result.result === 'failed') this.failedAtChange[config.id] = start.changesAtStart;
      else delete this.failedAtChange[config.id];
    }
    this.record(result);
    return result;
  }

  /** A run ended, whichever way (the workflow calls it in a finally). */
  runSettled(): void {
    this.runningCount--;
  }

  /** Records an outcome (the last MAX_OUTCOMES_PER_ACTION per action are kept) and the note it wrote. */
  record(run: ActionRun): void {
    pushCapped((this.outcomes[run.actionId] ??= []), run, MAX_OUTCOMES_PER_ACTION);
    if (run.noteId && run.contactId) {
      const known = (this.notes[run.actionId] ?? []).filter((n) => n.noteId !== run.noteId);
      known.push({ contactId: run.contactId, noteId: run.noteId });
      this.notes[run.actionId] = known.slice(-MAX_NOTES_PER_ACTION);
    }
  }

  /** A convergence check kept another note than the one known, or archived known ones. */
  notesChanged(actionId: string, contactId: string, kept: string | undefined, archived: string[]): void {
    const known = (this.notes[actionId] ?? []).filter((n) => !archived.includes(n.noteId) && n.noteId !== kept);
    if (kept) known.push({ contactId, noteId: kept });
    this.notes[actionId] = known.slice(-MAX_NOTES_PER_ACTION);
  }

  /** The notes known for an action (one per contact the conversation landed on). */
  knownNotes(actionId: string): KnownNote[] {
    return [...(this.notes[actionId] ?? [])];
  }

  /** A run of this action failed after the last one that wrote its note: a note it wrote may be unknown to us. */
  failedSinceLastNote(actionId: string): boolean {
    const list = this.outcomes[actionId] ?? [];
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i]!.noteId) return false;
      if (list[i]!.result === 'failed') return true;
    }
    return false;
  }

  // ---- the end, the sync and the retention --------------------------------------------------------

  /** The end rule fired (or the call ended). */
  end(reason: EndReason): void {
    this.reason = reason;
  }

  /** The offline sync starts: what the dormant wait compares with is taken now. */
  syncStarting(): void {
    this.markWake();
    this.current = 'ending';
  }

  /** The offline sync (or an operator retry) is done: the conversation is dormant until its retention ends. */
  syncDone(): void {
    this.endedAtMs = this.now();
    this.current = 'ended';
  }

  /**
   * An operator retry session runs only the retried action: the conversation's other offline actions ran
   * before it completed, with the values this session started with (`lateValues`; without it, with the
   * current ones, as histories before the late-values-synced marker did).
   */
  operatorRetryStarting(retried: ActionConfig, lateValues: boolean): void {
    this.current = 'ending';
    for (const a of this.offlineActions)
      if (a.id !== retried.id) this.synced[a.id] = lateValues ? this.startedWith[a.id]! : this.fingerprint(a);
  }

  /** Dormant: a message, a change of values or an unsynced action since the last wake. */
  woken(): boolean {
    return this.activitySeq !== this.sinceActivity || this.changeSeq !== this.sinceChange || this.unsynced().length > 0;
  }

  /** Takes what the dormant wait compares with; true when a message came since the last time. */
  markWake(): boolean {
    const messaged = this.activitySeq !== this.sinceActivity;
    this.sinceActivity = this.activitySeq;
    this.sinceChange = this.changeSeq;
    return messaged;
  }

  /** Text, dormant: new values continue the conversation; it ends again after its inactivity wait from their arrival. */
  resume(): void {
    this.lastActivityAtMs = Math.max(this.lastActivityAtMs, this.lastChangeAtMs);
    this.current = 'active';
  }

  // ---- continue-as-new ----------------------------------------------------------------------------

  /** What the next run carries, trimmed to the carried-state budget: the oldest outcomes, then rejections, go first. */
  carried(convergence?: ConvergenceView): CarriedState {
    const checks = convergence?.carried();
    const next: CarriedState = {
      fields: this.fields,
      summary: this.summary,
      lastActivityAtMs: this.lastActivityAtMs,
      messageCount: this.messageCount,
      noteIds: this.notes,
      outcomes: Object.fromEntries(Object.entries(this.outcomes).map(([id, runs]) => [id, [...runs]])),
      rejections: [...this.rejections],
      runsBefore: this.runsBefore + 1,
      startedAtMs: this.startedAtMs,
      synced: this.synced,
      failedOffline: Object.keys(this.failedAtChange),
      lastChangeAtMs: this.lastChangeAtMs,
      conversationRef: this.conversationRef,
      ...(checks ? { convergence: checks } : {}),
      ...(this.callHasEnded ? { callEnded: true } : {}),
      ...(this.call ? { call: this.call } : {}),
      ...(this.endedAtMs !== undefined ? { endedAtMs: this.endedAtMs } : {}),
      ...(this.reason ? { endReason: this.reason } : {}),
    };
    while (utf8Length(JSON.stringify(next)) > CARRIED_BUDGET_BYTES) {
      const longest = Object.values(next.outcomes).sort((a, b) => b.length - a.length)[0];
      if (longest && longest.length > 1) longest.shift();
      else if (next.rejections.length > 0) next.rejections.shift();
      else break;
    }
    return next;
  }

  /** The input of the next run (continue-as-new): this one's, with the options resolved and the carried state. */
  continuation(convergence?: ConvergenceView): ConversationInput {
    return {
      conversationId: this.input.conversationId,
      channel: this.input.channel,
      ...(this.input.workspaceId ? { workspaceId: this.input.workspaceId } : {}),
      ...(this.input.conversationUrl ? { conversationUrl: this.input.conversationUrl } : {}),
      actions: this.input.actions,
      options: this.options,
      carried: this.carried(convergence),
    };
  }
}
