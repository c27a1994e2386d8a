// The codec server: lets the Temporal Web UI (and CLI) show decrypted payloads to operators, without
// the Temporal server ever holding the keys. It speaks Temporal's remote-codec protocol:
// POST /decode and /encode with {"payloads": [{metadata, data}]} (base64 fields) and the namespace in
// the X-Namespace header.
//
// Who may do what: /decode needs a decode token, /encode an encode token (no encode token: /encode is
// off, so nobody can mint ciphertext the worker would accept). Requests must name an allowed
// namespace, and a payload is only decoded for the namespace it is bound to. The Host header must be
// one of the allowed hosts (a page on another site that rebinds its DNS name to this address is
// refused), and browsers get CORS answers for the configured origins only.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { isEncrypted, payloadBinding } from './encryption-codec';

export class CodecServerConfigError extends Error {
  override name = 'CodecServerConfigError';
}

export interface CodecServerOptions {
  codec: PayloadCodec;
  port?: number;
  host?: string;
  /** Origins allowed to call from a browser (the Web UI's URL), e.g. http://localhost:8233. */
  corsOrigins: string[];
  /** Bearer tokens that may call /decode. */
  decodeTokens?: string[];
  /** Same as one decode token (the earlier option name). */
  authToken?: string;
  /** Bearer tokens that may call /encode. None: /encode is refused for everyone. */
  encodeTokens?: string[];
  /** Namespaces whose payloads this server decodes (X-Namespace). */
  namespaces?: string[];
  /**
   * Host header values accepted, "name" (any port) or "name:port". The loopback names with the
   * listening port are always accepted.
   */
  allowedHosts?: string[];
  /** Development only: start without any decode token (loopback addresses only). */
  allowUnauthenticated?: boolean;
  /** Largest request body accepted. */
  maxBodyBytes?: number;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const toPayload = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(
    Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v as Uint8Array).toString('base64')]),
  ),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

function matchesToken(given: string, tokens: readonly string[]): boolean {
  const a = Buffer.from(given);
  let ok = false;
  for (const token of tokens) {
    const b = Buffer.from(token);
    // Every token is compared (no early exit), each in constant time for its length.
    if (a.length === b.length && timingSafeEqual(a, b)) ok = true;
  }
  return ok;
}

const LOOPBACK = ['localhost', '127.0.0.1', '[::1]'];
const isLoopback = (host: string) => LOOPBACK.includes(host) || host === '::1';

export async function startCodecServer(
  options: CodecServerOptions,
): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const host = options.host ?? '127.0.0.1';
  const decodeTokens = [...(options.decodeTokens ?? []), ...(options.authToken ? [options.authToken] : [])].filter(
    Boolean,
  );
  const encodeTokens = (options.encodeTokens ?? []).filter(Boolean);
  const namespaces = new Set(options.namespaces ?? ['default']);
  if (decodeTokens.length === 0) {
    if (!options.allowUnauthenticated)
      throw new CodecServerConfigError(
        'the codec server needs a decode token (CODEC_SERVER_AUTH_TOKEN_FILE or CODEC_SERVER_AUTH_TOKEN)',
      );
    if (!isLoopback(host))
      throw new CodecServerConfigError(
        `without a decode token the codec server listens on loopback only, not on ${host}`,
      );
  }
  const origins = new Set(options.corsOrigins);
  let hosts: Set<string> = new Set();

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    const hostHeader = (req.headers.host ?? '').toLowerCase();
    const hostName = hostHeader.replace(/:\d+$/, '');
    if (!hosts.has(hostHeader) && !hosts.has(hostName)) return send(421, { message: 'host not allowed' });

    const origin = req.headers.origin;
    const originAllowed = origin !== undefined && origins.has(origin);
    if (originAllowed) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization, X-Namespace');
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Max-Age', '600');
    }
    res.setHeader('Vary', 'Origin');
    if (req.method === 'OPTIONS') {
      res.writeHead(originAllowed ? 204 : 403);
      return res.end();
    }
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/health') return send(200, { status: 'ok' });
    if (req.method !== 'POST' || (path !== '/encode' && path !== '/decode'))
      return send(404, { message: 'POST /encode or /decode' });
    if (origin !== undefined && !originAllowed) return send(403, { message: 'origin not allowed' });

    const auth = req.headers.authorization ?? '';
    const bearer = auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (path === '/encode') {
      if (encodeTokens.length === 0) return send(403, { message: '/encode is off on this codec server' });
      if (bearer === undefined || !matchesToken(bearer, encodeTokens))
        return send(401, { message: 'missing or wrong bearer token for /encode' });
    } else if (decodeTokens.length > 0 && (bearer === undefined || !matchesToken(bearer, decodeTokens))) {
      return send(401, { message: 'missing or wrong bearer token' });
    }
    const namespace = req.headers['x-namespace'];
    if (typeof namespace !== 'string' || !namespace) return send(400, { message: 'X-Namespace header missing' });
    if (!namespaces.has(namespace)) return send(403, { message: `namespace "${namespace}" is not served here` });

    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > maxBody) return send(413, { message: `body larger than ${maxBody} bytes` });
      chunks.push(chunk as Buffer);
    }
    let body: { payloads?: JsonPayload[] };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(400, { message: 'body is not JSON' });
    }
    if (!body || !Array.isArray(body.payloads)) return send(400, { message: 'body must be {"payloads": [...]}' });
    try {
      const payloads = body.payloads.map(toPayload);
      if (path === '/encode') {
        // No workflow is named: the ciphertext is bound to the namespace.
        const out = await options.codec.encode(payloads, { type: 'workflow', namespace, workflowId: '' });
        return send(200, { payloads: out.map(toJson) });
      }
      const out: Payload[] = [];
      for (const p of payloads) {
        // Plaintext is shown as it is; ciphertext only for the namespace it is bound to.
        if (!isEncrypted(p)) {
          out.push(p);
          continue;
        }
        const binding = payloadBinding(p);
        if (binding && binding.namespace !== namespace)
          return send(403, { message: `a payload belongs to another namespace than "${namespace}"` });
        out.push(...(await options.codec.decode([p])));
      }
      return send(200, { payloads: out.map(toJson) });
    } catch (err) {
      return send(400, { message: (err as Error).message });
    }
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: (err as Error).message }));
    });
  });
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', rejectListen);
    server.listen(options.port ?? 0, host, resolveListen);
  });
  const { port } = server.address() as { port: number };
  hosts = new Set([
    ...LOOPBACK.map((h) => `${h}:${port}`),
    ...(options.allowedHosts ?? []).map((h) => h.toLowerCase()),
  ]);
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    server,
    url: `http://${urlHost}:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
