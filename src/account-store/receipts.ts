// Sync receipts (docs/ACCOUNTS.md, "Receipts"): one row per run of the action, keyed by the run, so that
// every attempt of a run writes the same row. An attempt that starts inserts it ("not finished") unless
// it exists; an attempt that ends replaces it, unless a later attempt has written it already. Read per
// workspace, newest first, with keyset pagination; rows older than the retention are deleted by sweep().
import {
  contactRecordUrl,
  engagementRecordUrl,
  type Receipt,
  type ReceiptRecorder,
  type ReceiptTrigger,
  type ReceiptWrite,
} from '../action/receipt';
import type { SyncResult } from '../action/plan';
import type { Queryable } from './db';

export interface ReceiptFilter {
  actionId?: string;
  outcome?: SyncResult;
  conversationId?: string;
  /** Runs started at or after (epoch ms). */
  sinceMs?: number;
  /** Runs started before (epoch ms). */
  untilMs?: number;
}

export interface ReceiptPage {
  receipts: Receipt[];
  nextCursor?: string;
}

/** The API's bounds for a page. */
export const RECEIPT_PAGE = { default: 50, max: 200 } as const;

/** Thrown for a cursor this store did not hand out. */
export class BadReceiptCursor extends Error {
  override name = 'BadReceiptCursor';
}

type Row = Record<string, unknown>;

const COLUMNS = `receipt_id, workspace_id, action_id, conversation_id, trigger, outcome, reason, account_id, portal_id,
  contact_id, record_object, record_id, properties_written, properties_left, hubspot_calls, attempts, finished,
  started_at, finished_at`;

const json = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;
const iso = (v: unknown) => new Date(v as string).toISOString();

function toReceipt(r: Row): Receipt {
  const portalId = r.portal_id === null || r.portal_id === undefined ? undefined : Number(r.portal_id);
  const contactId = r.contact_id ? String(r.contact_id) : undefined;
  const contactUrl = contactRecordUrl(portalId, contactId);
  const recordUrl = engagementRecordUrl(portalId, contactId);
  const startedAt = iso(r.started_at);
  const finishedAt = iso(r.finished_at);
  return {
    id: String(r.receipt_id),
    workspaceId: String(r.workspace_id),
    actionId: String(r.action_id),
    conversationId: String(r.conversation_id),
    trigger: r.trigger as ReceiptTrigger,
    outcome: r.outcome as SyncResult,
    reason: String(r.reason),
    hubspot: {
      accountId: String(r.account_id),
      ...(portalId !== undefined ? { portalId } : {}),
      ...(contactId ? { contactId } : {}),
      ...(contactUrl ? { contactUrl } : {}),
      ...(r.record_object && r.record_id
        ? {
            record: {
              object: r.record_object as 'note' | 'call' | 'communication',
              id: String(r.record_id),
              ...(recordUrl ? { url: recordUrl } : {}),
            },
          }
        : {}),
    },
    propertiesWritten: json<string[]>(r.properties_written),
    propertiesLeft: json<Array<{ name: string; why: string }>>(r.properties_left),
    hubspotCalls: Number(r.hubspot_calls),
    attempts: Number(r.attempts),
    finished: Boolean(r.finished),
    startedAt,
    finishedAt,
    durationMs: Math.max(0, Date.parse(finishedAt) - Date.parse(startedAt)),
  };
}

function encodeCursor(r: Receipt): string {
  return Buffer.from(JSON.stringify([Date.parse(r.startedAt), r.id])).toString('base64url');
}

function decodeCursor(cursor: string): [number, string] {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isFinite(v[0]) && typeof v[1] === 'string')
      return [v[0] as number, v[1]];
  } catch {
    // fall through
  }
  throw new BadReceiptCursor('not a cursor this API handed out (use nextCursor of the previous page)');
}

function params(w: ReceiptWrite): unknown[] {
  return [
    w.id,
    w.workspaceId,
    w.actionId,
    w.conversationId,
    w.trigger,
    w.outcome,
    w.reason,
    w.accountId,
    w.portalId ?? null,
    w.contactId ?? null,
    w.record?.object ?? null,
    w.record?.id ?? null,
    JSON.stringify(w.propertiesWritten),
    JSON.stringify(w.propertiesLeft),
    w.hubspotCalls,
    w.attempts,
    w.finished,
    new Date(w.startedAtMs).toISOString(),
    new Date(w.finishedAtMs).toISOString(),
    w.workflowId ?? null,
    w.workflowRunId ?? null,
  ];
}

const INSERT = `INSERT INTO sync_receipts (receipt_id, workspace_id, action_id, conversation_id, trigger, outcome, reason,
    account_id, portal_id, contact_id, record_object, record_id, properties_written, properties_left, hubspot_calls,
    attempts, finished, started_at, finished_at, workflow_id, workflow_run_id)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14::jsonb, $15, $16, $17, $18, $19, $20, $21)`;

export class ReceiptStore implements ReceiptRecorder {
  constructor(private readonly db: Queryable) {}

  async started(write: ReceiptWrite): Promise<void> {
    // A retried attempt keeps what the earlier one recorded (its failure and reason); it only counts itself.
    await this.db.query(
      `${INSERT} ON CONFLICT (receipt_id) DO UPDATE SET attempts = EXCLUDED.attempts
         WHERE sync_receipts.attempts < EXCLUDED.attempts`,
      params({ ...write, finished: false }),
    );
  }

  async finished(write: ReceiptWrite): Promise<void> {
    // The run's start stays the first attempt's; an attempt older than the one recorded changes nothing.
    await this.db.query(
      `${INSERT} ON CONFLICT (receipt_id) DO UPDATE SET
         outcome = EXCLUDED.outcome, reason = EXCLUDED.reason, account_id = EXCLUDED.account_id,
         portal_id = COALESCE(EXCLUDED.portal_id, sync_receipts.portal_id), contact_id = EXCLUDED.contact_id,
         record_object = EXCLUDED.record_object, record_id = EXCLUDED.record_id,
         properties_written = EXCLUDED.properties_written, properties_left = EXCLUDED.properties_left,
         hubspot_calls = GREATEST(EXCLUDED.hubspot_calls, sync_receipts.hubspot_calls), attempts = EXCLUDED.attempts,
         finished = EXCLUDED.finished, finished_at = EXCLUDED.finished_at
         WHERE sync_receipts.attempts <= EXCLUDED.attempts`,
      params({ ...write, finished: true }),
    );
  }

  /** One receipt of the workspace; undefined for an unknown id and for another workspace's. */
  async get(workspaceId: string, receiptId: string): Promise<Receipt | undefined> {
    const { rows } = await this.db.query(
      `SELECT ${COLUMNS} FROM sync_receipts WHERE workspace_id = $1 AND receipt_id = $2`,
      [workspaceId, receiptId],
    );
    return rows[0] ? toReceipt(rows[0]) : undefined;
  }

  /** The workspace's receipts, newest first (by the run's start), `limit` a page. */
  async list(
    workspaceId: string,
    filter: ReceiptFilter = {},
    limit: number = RECEIPT_PAGE.default,
    cursor?: string,
  ): Promise<ReceiptPage> {
    const where = ['workspace_id = $1'];
    const args: unknown[] = [workspaceId];
    const add = (sql: (n: string) => string, value: unknown) => {
      args.push(value);
      where.push(sql(`$${args.length}`));
    };
    if (filter.actionId !== undefined) add((n) => `action_id = ${n}`, filter.actionId);
    if (filter.outcome !== undefined) add((n) => `outcome = ${n}`, filter.outcome);
    if (filter.conversationId !== undefined) add((n) => `conversation_id = ${n}`, filter.conversationId);
    if (filter.sinceMs !== undefined) add((n) => `started_at >= ${n}`, new Date(filter.sinceMs).toISOString());
    if (filter.untilMs !== undefined) add((n) => `started_at < ${n}`, new Date(filter.untilMs).toISOString());
    if (cursor) {
      const [atMs, id] = decodeCursor(cursor);
      args.push(new Date(atMs).toISOString(), id);
      where.push(`(started_at, receipt_id) < ($${args.length - 1}::timestamptz, $${args.length})`);
    }
    const size = Math.min(Math.max(1, Math.trunc(limit)), RECEIPT_PAGE.max);
    args.push(size + 1);
    const { rows } = await this.db.query(
      `SELECT ${COLUMNS} FROM sync_receipts WHERE ${where.join(' AND ')}
        ORDER BY started_at DESC, receipt_id DESC LIMIT $${args.length}`,
      args,
    );
    const receipts = rows.slice(0, size).map(toReceipt);
    return rows.length > size ? { receipts, nextCursor: encodeCursor(receipts.at(-1)!) } : { receipts };
  }

  /** A finished run of this conversation's action, started after `afterMs`, that did not fail. */
  async laterSuccess(
    workspaceId: string,
    conversationId: string,
    actionId: string,
    afterMs: number,
  ): Promise<Receipt | undefined> {
    const { rows } = await this.db.query(
      `SELECT ${COLUMNS} FROM sync_receipts
        WHERE workspace_id = $1 AND conversation_id = $2 AND action_id = $3 AND started_at > $4
          AND finished AND outcome <> 'failed' AND trigger <> 'convergence-repair'
        ORDER BY started_at DESC LIMIT 1`,
      [workspaceId, conversationId, actionId, new Date(afterMs).toISOString()],
    );
    return rows[0] ? toReceipt(rows[0]) : undefined;
  }

  /** The newest finished operator-retry run of this conversation's action that finished at or after `sinceMs`. */
  async operatorRetryAfter(
    workspaceId: string,
    conversationId: string,
    actionId: string,
    sinceMs: number,
  ): Promise<Receipt | undefined> {
    const { rows } = await this.db.query(
      `SELECT ${COLUMNS} FROM sync_receipts
        WHERE workspace_id = $1 AND conversation_id = $2 AND action_id = $3 AND trigger = 'operator-retry'
          AND finished AND finished_at >= $4
        ORDER BY started_at DESC, receipt_id DESC LIMIT 1`,
      [workspaceId, conversationId, actionId, new Date(sinceMs).toISOString()],
    );
    return rows[0] ? toReceipt(rows[0]) : undefined;
  }

  /** Deletes the receipts of runs started before `beforeMs`; how many. */
  async sweep(beforeMs: number): Promise<number> {
    const r = await this.db.query(`DELETE FROM sync_receipts WHERE started_at < $1`, [
      new Date(beforeMs).toISOString(),
    ]);
    return r.rowCount;
  }
}
