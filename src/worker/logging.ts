// The worker's log lines, in one of two formats: `json` (production: one JSON object per line, for a
// log pipeline) or `readable` (development: one line per event, "time level [source] message key=value"),
// chosen by LOG_FORMAT. Every line of the process goes through here: the main job's own lines, the SDK's
// (worker lifecycle, workflow and activity loggers, the core's forwarded logs) and the workflow bundle's
// build, summarised in one line. Whatever the format, task tokens and credentials are removed; the
// project logs ids, counts and outcomes only, never an email, a phone or a summary.
import { DefaultLogger, type LogLevel, type Logger, type LogMetadata } from '@temporalio/worker';

export const LOG_FORMATS = ['readable', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

// The SDK adds the activity's task token to its log attributes (and to some messages): a task token lets
// whoever holds it complete or fail that activity, so it never leaves the process. Bearer values and
// HubSpot private-app tokens are masked too, should one reach a message.
const TOKEN_KEYS = new Set([
  'taskToken',
  'base64TaskToken',
  'token',
  'authorization',
  'apiKey',
  'accessToken',
  'refreshToken',
]);
// Linear: no nested quantifiers; each alternative is a literal prefix followed by one bounded class.
const SECRET_PATTERNS: Array<[RegExp, string]> = [
  [/\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/g, '$1 [redacted]'],
  [/\bpat-[a-z0-9]{2,6}-[0-9a-f-]{20,}/gi, '[redacted-token]'],
  // A task token is protobuf, base64 in logs: long runs of base64 characters.
  [/[A-Za-z0-9+/]{48,}={0,2}/g, '[redacted]'],
];

/** Masks token-like values in a log message. */
export function redactLogText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** Log attributes without task tokens or other credentials; errors become {name, message}, masked. */
export function safeLogMeta(meta: Record<string, unknown> | undefined, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta ?? {})) {
    if (TOKEN_KEYS.has(key)) continue;
    if (value instanceof Error) out[key] = { name: value.name, message: redactLogText(value.message) };
    else if (typeof value === 'string') out[key] = redactLogText(value);
    else if (value && typeof value === 'object' && !Array.isArray(value) && depth < 3)
      out[key] = safeLogMeta(value as Record<string, unknown>, depth + 1);
    else out[key] = value;
  }
  return out;
}

export interface LogEvent {
  timeMs: number;
  level: LogLevel;
  message: string;
  meta?: LogMetadata;
}

/** The JSON line of an event (production): every attribute kept, credentials removed. */
export function jsonLogLine(event: LogEvent): string {
  return `${JSON.stringify({
    time: new Date(event.timeMs).toISOString(),
    level: event.level,
    message: redactLogText(event.message),
    ...safeLogMeta(event.meta),
  })}\n`;
}

// The readable line leaves out what only a log pipeline needs: the SDK's routing ids (the workflow id,
// the activity type and the attempt stay).
const ROUTING_KEYS = new Set([
  'sdkComponent',
  'source',
  'namespace',
  'runId',
  'workflowRunId',
  'workflowType',
  'activityId',
  'isLocal',
]);
/** The longest attribute value a readable line shows; longer ones are cut with an ellipsis. */
const MAX_VALUE = 160;

function readableValue(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (Array.isArray(value)) text = value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(',');
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    text = typeof o.name === 'string' && typeof o.message === 'string' ? `${o.name}: ${o.message}` : JSON.stringify(o);
  } else text = String(value);
  text = oneLine(text);
  if (text.length > MAX_VALUE) text = `${text.slice(0, MAX_VALUE - 1)}…`;
  return /[\s"=]/.test(text) || text === '' ? JSON.stringify(text) : text;
}

/** A message on one line: line breaks (a stack, a multi-line report) become " ⏎ ". */
function oneLine(text: string): string {
  return text.replace(/\s*(?:\r\n|\r|\n)\s*/g, ' ⏎ ').trim();
}

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * The readable line of an event (development): local time, level, the source in brackets (the main job's
 * `worker`, the SDK's `workflow`, `activity`, `sdk` or `core`, the `bundle`), the message, then the
 * attributes as key=value, on one line whatever the message holds.
 */
export function readableLogLine(event: LogEvent): string {
  const d = new Date(event.timeMs);
  const time = `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
  const meta = safeLogMeta(event.meta);
  // `[worker]` is the main job's own lines; the SDK's worker lines (its lifecycle) are `[sdk]`.
  const source =
    typeof meta.source === 'string'
      ? meta.source
      : meta.sdkComponent === undefined || meta.sdkComponent === 'worker'
        ? 'sdk'
        : String(meta.sdkComponent);
  // A workflow's or an activity's task queue is the conversation's lane: its workflow id says more.
  const hidden = (key: string) => ROUTING_KEYS.has(key) || (key === 'taskQueue' && source !== 'sdk');
  const attributes = Object.entries(meta)
    .filter(([key, value]) => !hidden(key) && value !== undefined && !(key === 'attempt' && value === 1))
    .map(([key, value]) => `${key}=${readableValue(value)}`);
  const message = oneLine(redactLogText(event.message));
  return `${time} ${event.level.padEnd(5)} [${source}] ${message}${attributes.length ? `  ${attributes.join(' ')}` : ''}\n`;
}

/**
 * The worker's logger (Runtime.install, the main job's lines, the bundle): `json` by default, `readable`
 * in development. Lines below `level` are dropped.
 */
export function createWorkerLogger(
  level: LogLevel = 'INFO',
  write: (line: string) => void = (line) => process.stdout.write(line),
  format: LogFormat = 'json',
): DefaultLogger {
  const line = format === 'readable' ? readableLogLine : jsonLogLine;
  return new DefaultLogger(level, ({ level: entryLevel, message, meta, timestampNanos }) =>
    write(line({ timeMs: Number(timestampNanos / 1_000_000n), level: entryLevel, message, meta })),
  );
}

/** The webpack report's warnings ("WARNING in …") and errors ("ERROR in …"). */
function countReport(report: string): { warnings: number; errors: number } {
  return {
    warnings: (report.match(/^WARNING in /gm) ?? []).length,
    errors: (report.match(/^ERROR in /gm) ?? []).length,
  };
}

/**
 * A logger for bundleWorkflowCode that keeps its whole webpack report (one multi-line message) out of the
 * log: the report goes to DEBUG, and `summary()` gives the line that replaces it. Warnings and errors the
 * bundler logs otherwise pass through.
 */
export class BundleLogger implements Logger {
  private warnings = 0;
  private errors = 0;

  constructor(private readonly logger: Logger) {}

  log(level: LogLevel, message: string, meta?: LogMetadata): void {
    if (message.startsWith('Workflow bundle created')) return; // the summary says it, with the time
    // The bundler's only other lines: webpack's report, at INFO (ERROR when the build failed).
    if (level === 'INFO' || level === 'ERROR') {
      const counted = countReport(message);
      this.warnings += counted.warnings;
      this.errors += counted.errors;
      this.logger.log(counted.errors ? 'ERROR' : 'DEBUG', message, { source: 'bundle', ...meta });
      return;
    }
    this.logger.log(level, message, { source: 'bundle', ...meta });
  }
  trace(message: string, meta?: LogMetadata): void {
    this.log('TRACE', message, meta);
  }
  debug(message: string, meta?: LogMetadata): void {
    this.log('DEBUG', message, meta);
  }
  info(message: string, meta?: LogMetadata): void {
    this.log('INFO', message, meta);
  }
  warn(message: string, meta?: LogMetadata): void {
    this.log('WARN', message, meta);
  }
  error(message: string, meta?: LogMetadata): void {
    this.log('ERROR', message, meta);
  }

  /** "workflow bundle built: 1.2 MB in 3.4 s" (with the report's warnings, if any), logged once the bundle is built. */
  summary(bytes: number, elapsedMs: number): { message: string; level: LogLevel } {
    const mb = (bytes / 1024 / 1024).toFixed(1);
    const warned = this.warnings
      ? `, ${this.warnings} webpack warning${this.warnings === 1 ? '' : 's'} (LOG_LEVEL=DEBUG shows the report)`
      : '';
    return {
      message: `workflow bundle built: ${mb} MB in ${(elapsedMs / 1000).toFixed(1)} s${warned}`,
      level: this.warnings ? 'WARN' : 'INFO',
    };
  }
}
