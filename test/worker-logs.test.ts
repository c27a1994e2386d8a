// The worker's log formats (src/worker/logging.ts): in development one readable line per event, SDK
// lines included; in production one JSON object per line; the workflow bundle's webpack report replaced
// by one summary line; task tokens and credentials out of both. The main job's own output in each format
// is checked end to end by main-job (readable) and metrics (JSON).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BundleLogger, createWorkerLogger, readableLogLine } from '../src/worker/logging';
import { loadConfig } from '../src/environment/config';

const READABLE = /^\d\d:\d\d:\d\d\.\d{3} (TRACE|DEBUG|INFO |WARN |ERROR) \[[a-z]+\] \S.*\n$/;

/** What the SDK's activity logger attaches to a line (its routing attributes and the task token). */
function activityMeta(extra: Record<string, unknown> = {}) {
  return {
    sdkComponent: 'activity',
    taskQueue: 'hubspot-contact-sync',
    isLocal: false,
    attempt: 1,
    namespace: 'default',
    activityId: '1',
    activityType: 'runContactSync',
    workflowId: 'conversation/acme/conv-1',
    workflowRunId: '9f6fb1c7-80a3-470b-a733-cce7d3b6eb84',
    workflowType: 'conversationWorkflow',
    taskToken: Buffer.from(randomBytes(90)).toString('base64'),
    ...extra,
  };
}

describe('worker log lines', () => {
  test('readable: one line per event, time, level, source, message and the attributes that say something', () => {
    const lines: string[] = [];
    const logger = createWorkerLogger('INFO', (l) => lines.push(l), 'readable');
    logger.info('Contact created', activityMeta({ accountId: 'acme-eu', contactId: '1001', properties: ['email'] }));
    logger.warn('Worker state changed', { sdkComponent: 'worker', taskQueue: 'hubspot-contact-sync-agent' });
    logger.info('ready. Ctrl-C stops it.', { source: 'worker' });
    logger.error('Activity failed\n    at runContactSync (activities/index.ts:1:1)\n    at next', {
      sdkComponent: 'activity',
      attempt: 3,
      error: new Error('HubSpot answered 503\nretrying'),
    });
    logger.debug('below the level: dropped');
    assert.equal(lines.length, 4, lines.join(''));
    for (const line of lines) {
      assert.match(line, READABLE);
      assert.equal(line.split('\n').length, 2, `more than one line: ${line}`);
    }
    const [created, state, ready, failed] = lines as [string, string, string, string];
    assert.match(
      created,
      / INFO {2}\[activity\] Contact created {2}activityType=runContactSync workflowId=conversation\/acme\/conv-1 accountId=acme-eu contactId=1001 properties=email\n$/,
    );
    // The SDK's routing attributes and the task token are left out; a first attempt says nothing of attempts.
    for (const noise of ['taskQueue', 'isLocal', 'namespace', 'activityId', 'workflowRunId', 'attempt', 'taskToken'])
      assert.ok(!created.includes(`${noise}=`), `${noise} in ${created}`);
    assert.match(state, / WARN {2}\[sdk\] Worker state changed {2}taskQueue=hubspot-contact-sync-agent\n$/);
    assert.match(ready, / INFO {2}\[worker\] ready\. Ctrl-C stops it\.\n$/);
    assert.match(
      failed,
      /\[activity\] Activity failed ⏎ at runContactSync .* attempt=3 error="Error: HubSpot answered 503 ⏎ retrying"/,
    );
  });

  test('JSON: one object per line with every attribute but the task token', () => {
    const lines: string[] = [];
    const logger = createWorkerLogger('INFO', (l) => lines.push(l), 'json');
    const meta = activityMeta({ accountId: 'acme-eu' });
    logger.info('Contact found', meta);
    assert.equal(lines.length, 1);
    assert.ok(lines[0]!.endsWith('}\n') && lines[0]!.split('\n').length === 2);
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(entry.level, 'INFO');
    assert.equal(entry.message, 'Contact found');
    assert.equal(entry.accountId, 'acme-eu');
    assert.equal(entry.workflowRunId, meta.workflowRunId);
    assert.equal(entry.taskToken, undefined);
    assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(!lines[0]!.includes(meta.taskToken.slice(0, 24)));
  });

  test('credentials are masked in readable lines too', () => {
    const token = 'pat-na1-11111111-2222-3333-4444-555555555555';
    const line = readableLogLine({
      timeMs: Date.now(),
      level: 'WARN',
      message: `call failed with Bearer ${token}`,
      meta: { sdkComponent: 'activity', request: { headers: { authorization: `Bearer ${token}` } }, note: token },
    });
    assert.ok(!line.includes(token), line);
    assert.match(line, /Bearer \[redacted\]/);
  });

  test("the bundle's webpack report becomes one summary line; the report itself only at DEBUG", () => {
    const lines: string[] = [];
    const bundle = new BundleLogger(createWorkerLogger('INFO', (l) => lines.push(l), 'readable'));
    // What the SDK's bundler logs (@temporalio/worker, workflow/bundler.js): the report, then the size.
    const report = [
      'asset workflow-bundle-7c3e.js 3.2 MiB [emitted] [immutable] (name: main)',
      'orphan modules 1.1 MiB [orphan] 120 modules',
      'runtime modules 1.2 KiB 6 modules',
      'WARNING in ./workflows/legacy/conversation-v1.ts',
      'Module not found: a warning',
      '',
      'webpack 5.105.0 compiled with 1 warning in 2412 ms',
    ].join('\n');
    bundle.info(report);
    bundle.info('Workflow bundle created', { size: '3.20MB' });
    const summary = bundle.summary(3_355_443, 2_412);
    assert.deepEqual(lines, [], 'the report or the size line reached the log at INFO');
    assert.equal(summary.level, 'WARN');
    assert.equal(
      summary.message,
      'workflow bundle built: 3.2 MB in 2.4 s, 1 webpack warning (LOG_LEVEL=DEBUG shows the report)',
    );
    assert.equal(
      new BundleLogger(createWorkerLogger()).summary(1_258_291, 3_400).message,
      'workflow bundle built: 1.2 MB in 3.4 s',
    );

    const debug: string[] = [];
    new BundleLogger(createWorkerLogger('DEBUG', (l) => debug.push(l), 'readable')).info(report);
    assert.equal(debug.length, 1);
    assert.match(debug[0]!, /DEBUG \[bundle\] asset workflow-bundle-7c3e\.js .* ⏎ webpack 5\.105\.0 compiled/);
  });

  test('LOG_FORMAT: readable in development, JSON in production, either on request; anything else is named', () => {
    assert.equal(loadConfig({}).env.LOG_FORMAT, 'readable');
    assert.equal(loadConfig({ LOG_FORMAT: 'json' }).env.LOG_FORMAT, 'json');
    const production = {
      WORKER_MODE: 'production',
      TEMPORAL_ADDRESS: 'temporal:7233',
      HUBSPOT_ACCOUNTS: '[{"accountId":"acme","token":"t","appId":1}]',
      TEMPORAL_TLS: 'true',
      ALLOW_UNENCRYPTED_PAYLOADS: 'true',
    };
    assert.equal(loadConfig(production).env.LOG_FORMAT, 'json');
    assert.equal(loadConfig({ ...production, LOG_FORMAT: 'readable' }).env.LOG_FORMAT, 'readable');
    assert.throws(() => loadConfig({ LOG_FORMAT: 'pretty' }), /LOG_FORMAT/);
  });
});
