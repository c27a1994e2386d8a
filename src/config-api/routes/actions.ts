// The workspace's action configs: checked (shape, account, each mapping row against the portal's live
// property schema, warnings of the portal's write rules), saved and read.
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { actionConfigSchema } from '../../action/config';
import { validateFieldMappings, validationRuleWarnings } from '../../action/mapping-validation';
import { workspaceRoute } from '../auth';
import type { ConfigApiContext } from '../context';
import { actionParams, ApiError, fieldOf, wsParams } from '../http';
import { schemaOf } from './accounts';

interface ConfigCheck {
  problems: Array<{ field: string; message: string }>;
  warnings: string[];
  config?: z.output<typeof actionConfigSchema>;
}

/** Every problem of an action config in this workspace: its shape, its account, each mapping row. */
async function checkActionConfig(ctx: ConfigApiContext, workspaceId: string, raw: unknown): Promise<ConfigCheck> {
  const parsed = actionConfigSchema.safeParse(raw);
  if (!parsed.success)
    return {
      warnings: [],
      problems: parsed.error.issues.map((i) => ({ field: fieldOf(i, 'config'), message: i.message })),
    };
  const config = parsed.data;
  const accountId = config.hubspotAccountId;
  const connection = await ctx.store.workspaceConnection(workspaceId, accountId);
  if (!connection) {
    return {
      config,
      warnings: [],
      problems: [
        {
          field: 'config.hubspotAccountId',
          message: `HubSpot account ${accountId} is not connected in workspace ${workspaceId}`,
        },
      ],
    };
  }
  if (connection.status === 'needs-reconnect') {
    return {
      config,
      warnings: [],
      problems: [
        {
          field: 'config.hubspotAccountId',
          message: `HubSpot account ${accountId} needs to be reconnected before its schema can be checked`,
        },
      ],
    };
  }
  const schema = await schemaOf(ctx, accountId);
  const problems = validateFieldMappings(config, schema).map((message) => {
    const row = /^fieldMappings\[(\d+)\]/.exec(message);
    return { field: row ? `config.fieldMappings[${row[1]}]` : 'config.fieldMappings', message };
  });
  // What HubSpot exposes of the portal's write rules: format rules (the property validations API),
  // unique values (the schema), and required properties it refused a write without (learned).
  const learned = await ctx.portal.learnedRules(accountId).catch(() => []);
  const unreadable = `HubSpot account ${accountId}: its property validation rules could not be read, so writes may still be refused by them`;
  const warnings = await ctx.portal.validationRules(accountId).then(
    (rules) => validationRuleWarnings(config, rules, learned, schema),
    () => [unreadable, ...validationRuleWarnings(config, {}, learned, schema)],
  );
  return { config, problems, warnings };
}

const configBody = z.object({ config: z.unknown() }).strict();

export const actionConfigRoutes =
  (ctx: ConfigApiContext): FastifyPluginAsync =>
  async (app) => {
    const { store } = ctx;

    workspaceRoute(
      app,
      'POST',
      '/action-configs/validate',
      { params: wsParams, body: configBody },
      async ({ params, body }) => {
        const { problems, warnings } = await checkActionConfig(ctx, params.workspaceId, body.config);
        return { valid: problems.length === 0, problems, warnings };
      },
    );

    workspaceRoute(
      app,
      'PUT',
      '/action-configs/:actionId',
      { params: actionParams, body: configBody },
      async ({ params, body }) => {
        const { config, problems, warnings } = await checkActionConfig(ctx, params.workspaceId, body.config);
        if (problems.length || !config)
          throw new ApiError(
            422,
            'invalid_config',
            problems.map((p) => `${p.field}: ${p.message}`).join('; '),
            problems[0]?.field,
            { problems },
          );
        if (config.id !== params.actionId)
          throw new ApiError(
            422,
            'invalid_config',
            `config.id "${config.id}" is not the action id in the path (${params.actionId})`,
            'config.id',
          );
        await store.saveActionConfig(params.workspaceId, params.actionId, config);
        const saved = await store.actionConfig(params.workspaceId, params.actionId);
        return { actionId: params.actionId, config, savedAt: saved!.updatedAt, warnings };
      },
    );

    workspaceRoute(app, 'GET', '/action-configs/:actionId', { params: actionParams }, async ({ params }) => {
      const saved = await store.actionConfig(params.workspaceId, params.actionId);
      if (!saved)
        throw new ApiError(
          404,
          'not_found',
          `no action config ${params.actionId} in workspace ${params.workspaceId}`,
          'actionId',
        );
      return { actionId: params.actionId, config: saved.config, savedAt: saved.updatedAt };
    });
  };
