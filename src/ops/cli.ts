// Operator commands.
//   npm run ops -- state <workspaceId> <conversationId>
//   npm run ops -- retry <workspaceId> <conversationId> <actionId>
//   npm run ops -- validate-config <action-config.json>
//   npm run ops -- release status [deploymentName]
//   npm run ops -- release make-current <buildId> [deploymentName]
// Temporal and HubSpot settings come from the same environment variables as the worker
// (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, HUBSPOT_ACCOUNTS / HUBSPOT_ACCOUNTS_FILE, CODEC_KEYS).
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { ConfigError, loadConfig, temporalConnectionOptions } from '../environment/config';
import { dataConverterFromEnv } from '../codec/data-converter';
import { inspectConversation, OperatorError, retryAction } from './operator';
import { validateActionConfigFile } from './validate-config';
import { deploymentStatus, formatDeploymentStatus, makeBuildCurrent } from './releases';

const usage = `usage:
  npm run ops -- state <workspaceId> <conversationId>              the conversation's status, sync status and outcomes
  npm run ops -- retry <workspaceId> <conversationId> <actionId>   run an action again (after fixing what made it fail)
  npm run ops -- validate-config <config.json>        check an action config against its HubSpot account
  npm run ops -- release status [deployment]          builds of the worker deployment: which is current, which may stop (docs/RELEASES.md)
  npm run ops -- release make-current <buildId> [deployment]   new conversations start on that build; running ones stay on theirs
  (deployment: default TEMPORAL_DEPLOYMENT_NAME)`;

/** The deployment an ops release command acts on: the argument, else TEMPORAL_DEPLOYMENT_NAME. */
function deploymentNameOf(given: string | undefined): string {
  const name = given ?? loadConfig().env.TEMPORAL_DEPLOYMENT_NAME;
  if (!name)
    throw new OperatorError(
      'which worker deployment? Name it after the command or set TEMPORAL_DEPLOYMENT_NAME (as the worker has it)',
    );
  return name;
}

async function temporalClient(): Promise<{ client: Client; close(): Promise<void> }> {
  const { env } = loadConfig();
  // The same TLS, CA, server name and API key settings as the worker (src/environment/config.ts).
  const connection = await Connection.connect(temporalConnectionOptions(env));
  return {
    client: new Client({ connection, namespace: env.TEMPORAL_NAMESPACE, dataConverter: dataConverterFromEnv() }),
    close: () => connection.close(),
  };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'state': {
      if (args.length !== 2) break;
      const { client, close } = await temporalClient();
      try {
        const o = await inspectConversation(client, { workspaceId: args[0]!, conversationId: args[1]! });
        const s = o.state ?? o.result;
        process.stdout.write(`${o.workflowId} (run ${o.runId}): workflow ${o.workflowStatus}\n`);
        if (s) {
          process.stdout.write(
            `channel ${s.channel}, status ${s.status}, sync ${s.syncStatus}, messages ${s.messageCount}, last message ${s.lastMessageAt ?? '-'}, offline sync due ${s.offlineSyncDueAt ?? '-'}${s.endReason ? `, ended by ${s.endReason}` : ''}\n`,
          );
          for (const [actionId, runs] of Object.entries(s.outcomes)) {
            for (const r of runs)
              process.stdout.write(
                `  ${actionId} [${r.trigger} ${r.at}] ${r.result}: ${r.reason}${r.contactId ? ` (contact ${r.contactId}${r.noteId ? `, note ${r.noteId}` : ''})` : ''}\n`,
              );
          }
          for (const r of s.rejections) process.stdout.write(`  rejected ${r.kind} at ${r.at}: ${r.message}\n`);
        }
        return 0;
      } finally {
        await close();
      }
    }
    case 'retry': {
      if (args.length !== 3) break;
      const { client, close } = await temporalClient();
      try {
        process.stdout.write(`retrying action ${args[2]} of conversation ${args[1]} of workspace ${args[0]}...\n`);
        const run = await retryAction(client, { workspaceId: args[0]!, conversationId: args[1]! }, args[2]!);
        process.stdout.write(
          `${run.result}: ${run.reason}${run.contactId ? ` (contact ${run.contactId}${run.noteId ? `, note ${run.noteId}` : ''})` : ''}\n`,
        );
        return run.result === 'failed' ? 1 : 0;
      } finally {
        await close();
      }
    }
    case 'release': {
      const [sub, ...rest] = args;
      if (sub === 'status' && rest.length <= 1) {
        const name = deploymentNameOf(rest[0]);
        const { client, close } = await temporalClient();
        try {
          const status = await deploymentStatus(client, name);
          process.stdout.write(formatDeploymentStatus(status));
          return 0;
        } finally {
          await close();
        }
      }
      if (sub === 'make-current' && (rest.length === 1 || rest.length === 2)) {
        const name = deploymentNameOf(rest[1]);
        const { client, close } = await temporalClient();
        try {
          const { previousBuildId } = await makeBuildCurrent(client, name, rest[0]!, {
            log: (line) => process.stdout.write(`${line}\n`),
          });
          process.stdout.write(
            `build ${rest[0]} of worker deployment "${name}" is current: new conversations start on it.${previousBuildId && previousBuildId !== rest[0] ? ` Conversations running on build ${previousBuildId} finish there: keep its workers until \`npm run ops -- release status\` says they may stop.` : ''}\n`,
          );
          return 0;
        } finally {
          await close();
        }
      }
      break;
    }
    case 'validate-config': {
      if (args.length !== 1) break;
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(args[0]!, 'utf8'));
      } catch (err) {
        throw new OperatorError(`${args[0]} cannot be read as JSON: ${(err as Error).message}`);
      }
      const problems = await validateActionConfigFile(raw, loadConfig());
      if (problems.length === 0) {
        process.stdout.write(`${args[0]}: valid\n`);
        return 0;
      }
      process.stdout.write(`${args[0]}: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}\n`).join('')}`);
      return 1;
    }
  }
  process.stderr.write(`${usage}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    const known = err instanceof OperatorError || err instanceof ConfigError;
    process.stderr.write(`${known ? '' : 'failed: '}${(err as Error).message}\n`);
    process.exit(known ? 1 : 3);
  },
);
