// What every route of the configuration API shares: the JSON error ({ error, message, field? }), input
// parsed with zod into errors that name the bad field, the ids in paths, and the one error handler.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';

/** A JSON error: { error, message, field? } with the HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export const workspaceIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'a workspace id: letters, digits, . _ : - (at most 128)');
const accountIdSchema = z.string().min(1).max(200);
const actionIdSchema = z.string().trim().min(1).max(200);
export const wsParams = z.object({ workspaceId: workspaceIdSchema });
export const accountParams = wsParams.extend({ accountId: accountIdSchema });
export const actionParams = wsParams.extend({ actionId: actionIdSchema });

/** The field an issue is about, as the API names it: `body.config.fieldMappings[0]`. */
export function fieldOf(issue: z.core.$ZodIssue, part: string): string {
  const path = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  return `${part}${path}`;
}

/** The value, parsed; or a 400 invalid_input naming every bad field (the first as `field`). */
export function parse<T extends z.ZodType>(schema: T, value: unknown, part: string): z.output<T> {
  const r = schema.safeParse(value ?? {});
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ field: fieldOf(i, part), message: i.message }));
  throw new ApiError(400, 'invalid_input', issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues[0]!.field, {
    issues,
  });
}

/**
 * One error handler, JSON that names the bad field; fastify's own refusals keep their status; anything
 * else is a 500 that says nothing, logged by the error's name only. Also the 404 of an unknown route,
 * the security headers of every answer, and one log line per request (never a token, a body or a query).
 */
export function useJsonErrors(app: FastifyInstance, log: (line: string) => void): void {
  app.setErrorHandler((err: unknown, req, reply) => {
    if (err instanceof ApiError) {
      return reply
        .status(err.status)
        .send({ error: err.code, message: err.message, ...(err.field ? { field: err.field } : {}), ...err.extra });
    }
    const e = err as { statusCode?: number; code?: string; message?: string; name?: string };
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      // Fastify's own refusals (bad JSON, body too large, unsupported type): their messages carry no secret.
      const field = e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'content-type' : 'body';
      return reply.status(e.statusCode).send({ error: 'bad_request', message: e.message ?? 'bad request', field });
    }
    log(`config-api: ${req.method} ${req.routeOptions.url ?? '?'} failed: ${e.name ?? 'Error'}`);
    return reply.status(500).send({ error: 'internal', message: 'internal error' });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.status(404).send({ error: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );
  app.addHook('onResponse', async (req, reply) => {
    log(
      `config-api: ${req.method} ${req.routeOptions.url ?? req.url.split('?')[0]} ${reply.statusCode} ${Math.round(reply.elapsedTime)}ms`,
    );
  });
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('Cache-Control', 'no-store');
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    return payload;
  });
}
