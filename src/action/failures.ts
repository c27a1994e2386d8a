// The type names of the ApplicationFailures the worker raises and recognises, in one place: the HubSpot
// adapter classifies HubSpot's answers into them, the activities and the workflow decide on them, the
// configuration API maps them to its answers. A failure's type is recorded in workflow histories and
// read back on replay (a ContactConflict decides what a run does next), so a value here never changes:
// rename the key if a name reads badly, never the string. Whether a type is retried is decided where
// the failure is raised (retryable or nonRetryable); the lists below only say it for the reader.
// Imported by workflow code: the SDK's failure class only, no I/O.
import { ApplicationFailure } from '@temporalio/common';

export const FailureType = {
  // ---- HubSpot's answers (src/hubspot/errors.ts), retried by Temporal ----
  /** 429: HubSpot's rate limit; retried after the wait HubSpot names. */
  HubSpotRateLimited: 'HubSpotRateLimited',
  /** 423: records locked by a sync in progress; retried after 2 s or HubSpot's Retry-After. */
  HubSpotLocked: 'HubSpotLocked',
  /** 477: the account moves between data hosting locations; retried after HubSpot's Retry-After. */
  HubSpotMigrating: 'HubSpotMigrating',
  /** 5xx (but 501), or an answer that did not say what became of an input. */
  HubSpotUnavailable: 'HubSpotUnavailable',
  /** No answer at all: connection refused or reset, lost response, the call's own timeout. */
  HubSpotUnreachable: 'HubSpotUnreachable',
  /** The call's caller gave up on it (its time ran out or it was cancelled); the request was aborted. */
  HubSpotCallAborted: 'HubSpotCallAborted',
  /** No access token could be had from the account directory, or an expired one not dropped. */
  HubSpotCredentialsUnavailable: 'HubSpotCredentialsUnavailable',

  // ---- HubSpot's answers, not retried ----
  /** 401: the credentials were refused. */
  HubSpotAuthenticationFailed: 'HubSpotAuthenticationFailed',
  /** 403: the credentials lack a scope. */
  HubSpotMissingScopes: 'HubSpotMissingScopes',
  /** 404: the record is gone (merged or deleted). */
  HubSpotNotFound: 'HubSpotNotFound',
  /** 409: a record with this unique value exists; details [existingId] when HubSpot names it. */
  HubSpotConflict: 'HubSpotConflict',
  /** 400: a value or a portal's validation rule refused; details [{ validationRules }] for a rule. */
  HubSpotValidationError: 'HubSpotValidationError',
  /** Any other 4xx, and 501 Not Implemented. */
  HubSpotRequestFailed: 'HubSpotRequestFailed',
  /** The account's connection was revoked or expired: an operator must reconnect it. */
  HubSpotAccountNeedsReconnect: 'HubSpotAccountNeedsReconnect',
  /** The account is not connected to this worker. */
  UnknownHubSpotAccount: 'UnknownHubSpotAccount',

  // ---- the action run (activities/, workflows/run-action.ts), not retried ----
  /** A contact with the email appeared since the lookup, created by someone else; details [existingId]. */
  ContactConflict: 'ContactConflict',
  /** The in-conversation action's time budget ran out before a step could start. */
  ActionBudgetExhausted: 'ActionBudgetExhausted',

  // ---- the run's receipt (activities/receipts.ts), retried by Temporal ----
  /**
   * An offline run's HubSpot work is done but the receipts database did not answer: the attempt fails
   * with the run's result in its heartbeat, and the next one writes the receipt without calling HubSpot.
   */
  ReceiptStoreUnavailable: 'ReceiptStoreUnavailable',

  // ---- the conversation workflow (workflows/conversation.ts), not retried ----
  /** A start that bypassed the platform client's validation. */
  InvalidConversationInput: 'InvalidConversationInput',
  /** An operator retry of an action the conversation does not have. */
  UnknownAction: 'UnknownAction',
} as const;

export type FailureType = (typeof FailureType)[keyof typeof FailureType];

/** The type of a failure, or undefined for anything but an ApplicationFailure. */
export function failureTypeOf(err: unknown): string | undefined {
  return err instanceof ApplicationFailure ? (err.type ?? undefined) : undefined;
}
