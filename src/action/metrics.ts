// The action's own metrics, as the worker exports them to Prometheus through the Temporal runtime's
// meter (docs/OPERATIONS.md, "Metrics"): names, label names and histogram buckets, defined once for the
// workflow, the activities and the worker. Labels stay bounded: a HubSpot account id (the account this
// worker knows, else "unknown") or a workspace id at most; never a conversation id, a contact id or an email.

/** Counter: the outcome of every run. Labels: result, hubspot_account, trigger. */
export const SYNC_OUTCOMES = 'hubspot_contact_sync_outcomes';

/**
 * Histogram (ms): from the moment an offline sync was due (the conversation's end; for a voice call's
 * follow-up, the new values' arrival) to each of its successful outcomes. Label: hubspot_account.
 */
export const END_TO_SYNCED = 'hubspot_contact_sync_end_to_synced_ms';

/**
 * Histogram (ms): how long an in-conversation run's activity waited between being scheduled and starting
 * on a worker (per attempt), the agent's queue. Labels: the SDK's namespace, task_queue, activity_type.
 */
export const AGENT_QUEUE_WAIT = 'hubspot_contact_sync_agent_queue_wait_ms';

/** Counter: convergence checks of a contact. Labels: hubspot_account, result (clean | repaired). */
export const CONVERGENCE_CHECKS = 'hubspot_contact_sync_convergence_checks';

/**
 * Counter: repairs a convergence check made. Labels: hubspot_account, repair (duplicate_note_archived |
 * value_rewritten | note_body_rewritten).
 */
export const CONVERGENCE_REPAIRS = 'hubspot_contact_sync_convergence_repairs';

/** Gauge: OAuth connections whose refresh token HubSpot refused, per workspace. Label: workspace_id. */
export const CONNECTIONS_NEEDING_RECONNECT = 'hubspot_connections_needing_reconnect';

/**
 * Bucket boundaries (ms) of the histograms. The agent's budget (30 s by default) and the offline target
 * (p99 5 s) are boundaries, with one above each, so that a p99 beyond them is seen as such.
 */
export const HISTOGRAM_BUCKETS: Record<string, number[]> = {
  [AGENT_QUEUE_WAIT]: [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000],
  [END_TO_SYNCED]: [250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000, 300_000, 900_000, 3_600_000, 21_600_000],
};
