// The workspace's sync receipts (docs/ACCOUNTS.md, "Receipts"): listed newest first with filters and
// pages, read one by one, and a failed sync retried (the operator retry on the conversation's dormant
// workflow), answered with the receipt of the new run. A receipt of another workspace is "not found".
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { RECEIPT_OUTCOMES, type Receipt } from '../../action/receipt';
import { BadReceiptCursor, RECEIPT_PAGE } from '../../account-store/receipts';
import { inspectConversation, OperatorError, retryAction } from '../../ops/operator';
import { workspaceRoute } from '../auth';
import type { ConfigApiContext } from '../context';
import { ApiError, wsParams } from '../http';

const receiptParams = wsParams.extend({
  receiptId: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, 'a receipt id'),
});

const text = z.string().trim().min(1).max(200);
const time = z.iso.datetime({ offset: true }).describe('ISO 8601 date-time');

const listQuery = z
  .object({
    actionId: text.optional(),
    outcome: z.enum(RECEIPT_OUTCOMES).optional(),
    conversationId: text.optional(),
    since: time.optional().describe('runs started at or after'),
    until: time.optional().describe('runs started before'),
    limit: z.coerce.number().int().min(1).max(RECEIPT_PAGE.max).default(RECEIPT_PAGE.default),
    cursor: z.string().min(1).max(500).optional(),
  })
  .strict();

/** How long the retry route looks for the new run's receipt after the run answered (it is written before). */
const RECEIPT_WAIT_MS = 5_000;
/** Clocks of the worker that wrote the receipt and of this service may differ by this much. */
const CLOCK_SKEW_MS = 5_000;

const notFound = (workspaceId: string, receiptId: string) =>
  new ApiError(404, 'not_found', `no receipt ${receiptId} in workspace ${workspaceId}`, 'receiptId');

export const receiptRoutes =
  (ctx: ConfigApiContext): FastifyPluginAsync =>
  async (app) => {
    const receipts = ctx.store.receipts;

    workspaceRoute(app, 'GET', '/receipts', { params: wsParams, query: listQuery }, async ({ params, query }) => {
      const sinceMs = query.since ? Date.parse(query.since) : undefined;
      const untilMs = query.until ? Date.parse(query.until) : undefined;
      if (sinceMs !== undefined && untilMs !== undefined && untilMs <= sinceMs)
        throw new ApiError(400, 'invalid_input', 'query.until: must be later than query.since', 'query.until');
      try {
        return await receipts.list(
          params.workspaceId,
          {
            ...(query.actionId ? { actionId: query.actionId } : {}),
            ...(query.outcome ? { outcome: query.outcome } : {}),
            ...(query.conversationId ? { conversationId: query.conversationId } : {}),
            ...(sinceMs !== undefined ? { sinceMs } : {}),
            ...(untilMs !== undefined ? { untilMs } : {}),
          },
          query.limit,
          query.cursor,
        );
      } catch (err) {
        if (err instanceof BadReceiptCursor)
          throw new ApiError(400, 'invalid_input', `query.cursor: ${err.message}`, 'query.cursor');
        throw err;
      }
    });

    workspaceRoute(app, 'GET', '/receipts/:receiptId', { params: receiptParams }, async ({ params }) => {
      const receipt = await receipts.get(params.workspaceId, params.receiptId);
      if (!receipt) throw notFound(params.workspaceId, params.receiptId);
      return receipt;
    });

    workspaceRoute(app, 'POST', '/receipts/:receiptId/retry', { params: receiptParams }, async ({ params }) => {
      const { workspaceId } = params;
      const receipt = await receipts.get(workspaceId, params.receiptId);
      if (!receipt) throw notFound(workspaceId, params.receiptId);
      if (receipt.outcome !== 'failed')
        throw new ApiError(
          409,
          'not_failed',
          `receipt ${receipt.id}: the run ended ${receipt.outcome}; only a failed sync can be retried`,
          'receiptId',
        );
      if (receipt.trigger === 'convergence-repair')
        throw new ApiError(
          409,
          'not_retryable',
          `receipt ${receipt.id} is a convergence repair, not a sync`,
          'receiptId',
        );
      const later = await receipts.laterSuccess(
        workspaceId,
        receipt.conversationId,
        receipt.actionId,
        Date.parse(receipt.startedAt),
      );
      if (later)
        throw new ApiError(
          409,
          'already_succeeded',
          `a later run of action ${receipt.actionId} in conversation ${receipt.conversationId} already ended ${later.outcome} (receipt ${later.id})`,
          'receiptId',
          { receiptId: later.id },
        );
      if (!ctx.operatorClient)
        throw new ApiError(503, 'retry_unavailable', 'retries are not available: this service has no Temporal client');
      const client = await ctx.operatorClient();
      const ref = { workspaceId, conversationId: receipt.conversationId };
      const askedAt = Date.now();
      try {
        await inspectConversation(client, ref);
      } catch (err) {
        if (!(err instanceof OperatorError)) throw err;
        throw new ApiError(
          410,
          'conversation_not_retained',
          `conversation ${receipt.conversationId} of workspace ${workspaceId} is no longer kept by Temporal (its history passed the retention), so there are no values to retry with`,
          'receiptId',
        );
      }
      try {
        await retryAction(client, ref, receipt.actionId);
      } catch (err) {
        if (err instanceof OperatorError || err instanceof WorkflowUpdateFailedError)
          throw new ApiError(
            409,
            'not_retryable',
            `conversation ${receipt.conversationId}: ${(err instanceof WorkflowUpdateFailedError ? err.cause?.message : undefined) ?? err.message}`,
            'receiptId',
          );
        throw err;
      }
      // The run's receipt is written before the run answers; the worker's clock may differ from ours.
      let fresh: Receipt | undefined;
      for (const until = Date.now() + RECEIPT_WAIT_MS; !fresh && Date.now() < until;) {
        fresh = await receipts.operatorRetryAfter(
          workspaceId,
          receipt.conversationId,
          receipt.actionId,
          askedAt - CLOCK_SKEW_MS,
        );
        if (!fresh) await new Promise((r) => setTimeout(r, 200));
      }
      if (!fresh)
        throw new ApiError(
          502,
          'receipt_missing',
          `the retry of action ${receipt.actionId} in conversation ${receipt.conversationId} ran, but its receipt was not found (is the worker writing receipts to this database?)`,
        );
      return { receipt: fresh };
    });
  };
