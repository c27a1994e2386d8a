// The workspace's HubSpot accounts (connections): listed, read, added with a private app token or a
// service key, disconnected (the refresh token revoked at HubSpot), and their mappable properties read
// from the portal's live schema. A connection of another workspace is "not found".
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { OAuthError } from '../../account-store/oauth-client';
import type { StoredConnection } from '../../account-store/store';
import { AccountNeedsReconnect, AccountNotConnected } from '../../account-store/store-directory';
import type { HubSpotPropertyDefinition } from '../../action/mapping-validation';
import { isNeedsReconnect } from '../../hubspot/errors';
import { workspaceRoute } from '../auth';
import type { ConfigApiContext } from '../context';
import { accountParams, ApiError, wsParams } from '../http';
import { HubSpotSchemaError, mappableProperties } from '../properties';

/** A connection as the API shows it: never a token. */
export const connectionView = (c: StoredConnection) => ({
  accountId: c.accountId,
  workspaceId: c.workspaceId,
  kind: c.kind,
  ...(c.portalId !== undefined ? { portalId: c.portalId } : {}),
  appId: c.appId,
  scopes: c.scopes,
  status: c.status,
  ...(c.statusReason ? { statusReason: c.statusReason } : {}),
  connectedAt: c.createdAt,
  updatedAt: c.updatedAt,
});

const notFound = (workspaceId: string, accountId: string) =>
  new ApiError(404, 'not_found', `no HubSpot account ${accountId} in workspace ${workspaceId}`, 'accountId');
const needsReconnect = (accountId: string) =>
  new ApiError(409, 'needs_reconnect', `HubSpot account ${accountId} needs to be reconnected`, 'accountId');

async function ownConnection(ctx: ConfigApiContext, workspaceId: string, accountId: string): Promise<StoredConnection> {
  const c = await ctx.store.workspaceConnection(workspaceId, accountId);
  if (!c) throw notFound(workspaceId, accountId);
  return c;
}

/** The portal's contact-property schema, or the API error that says why it could not be read. */
export async function schemaOf(ctx: ConfigApiContext, accountId: string): Promise<HubSpotPropertyDefinition[]> {
  try {
    return await ctx.portal.schema(accountId);
  } catch (err) {
    if (err instanceof AccountNeedsReconnect) throw new ApiError(409, 'needs_reconnect', err.message, 'accountId');
    if (err instanceof AccountNotConnected) throw new ApiError(404, 'not_found', err.message, 'accountId');
    if (err instanceof HubSpotSchemaError) throw new ApiError(502, 'hubspot_error', err.message);
    if (isNeedsReconnect(err)) throw needsReconnect(accountId);
    throw new ApiError(502, 'hubspot_error', `HubSpot account ${accountId}: the property schema could not be read`);
  }
}

const privateAppBody = z
  .object({
    token: z.string().min(10).max(500),
    appId: z.number().int().positive(),
    portalId: z.number().int().positive().optional(),
    kind: z.enum(['private-app', 'service-key']).default('private-app'),
  })
  .strict();

export const accountRoutes =
  (ctx: ConfigApiContext): FastifyPluginAsync =>
  async (app) => {
    const { store, oauth } = ctx;

    workspaceRoute(
      app,
      'POST',
      '/connections/private-app',
      { params: wsParams, body: privateAppBody },
      async ({ params, body }, reply) => {
        const c = await store.saveStaticConnection({
          workspaceId: params.workspaceId,
          kind: body.kind,
          appId: body.appId,
          portalId: body.portalId,
          token: body.token,
        });
        reply.status(201);
        return { connection: connectionView(c) };
      },
    );

    workspaceRoute(app, 'GET', '/connections', { params: wsParams }, async ({ params }) => ({
      connections: (await store.listConnections(params.workspaceId)).map(connectionView),
      addAccount: Boolean(oauth),
    }));

    workspaceRoute(app, 'GET', '/connections/:accountId', { params: accountParams }, async ({ params }) => ({
      connection: connectionView(await ownConnection(ctx, params.workspaceId, params.accountId)),
    }));

    workspaceRoute(app, 'DELETE', '/connections/:accountId', { params: accountParams }, async ({ params }) => {
      await ownConnection(ctx, params.workspaceId, params.accountId);
      const gone = await store.disconnect(params.workspaceId, params.accountId);
      if (!gone) throw notFound(params.workspaceId, params.accountId);
      let revoked = false;
      let revokeError: string | undefined;
      if (gone.refreshToken && oauth) {
        try {
          await oauth.revoke(gone.refreshToken);
          revoked = true;
        } catch (err) {
          revokeError = err instanceof OAuthError ? err.message : 'the revocation call failed';
        }
      }
      return {
        accountId: params.accountId,
        status: 'disconnected',
        refreshTokenRevoked: revoked,
        ...(revokeError ? { revokeError } : {}),
      };
    });

    workspaceRoute(app, 'GET', '/connections/:accountId/properties', { params: accountParams }, async ({ params }) => {
      const c = await ownConnection(ctx, params.workspaceId, params.accountId);
      if (c.status === 'needs-reconnect') throw needsReconnect(c.accountId);
      return { accountId: c.accountId, ...mappableProperties(c.accountId, await schemaOf(ctx, c.accountId)) };
    });
  };
