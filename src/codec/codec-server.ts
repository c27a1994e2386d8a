// The codec server: lets the Temporal Web UI (and CLI) show decrypted payloads to operators, without
// the Temporal server ever holding the keys. It speaks Temporal's remote-codec protocol:
// POST /decode and /encode with {"payloads": [{metadata, data}]} (base64 fields).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';

export interface CodecServerOptions {
  codec: PayloadCodec;
  port?: number;
  host?: string;
  /** Origins allowed to call from a browser (the Web UI's URL), e.g. http://localhost:8233. */
  corsOrigins: string[];
  /** When set, requests must carry `Authorization: Bearer <token>`. */
  authToken?: string;
  /** Largest request body accepted. */
  maxBodyBytes?: number;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const toPayload = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v as Uint8Array).toString('base64')])),
  data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
});

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export async function startCodecServer(options: CodecServerOptions): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    if (origin && options.corsOrigins.includes(origin)) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization, X-Namespace');
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Vary', 'Origin');
    }
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'OPTIONS') {
      res.writeHead(origin && options.corsOrigins.includes(origin) ? 204 : 403);
      return res.end();
    }
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/health') return send(200, { status: 'ok' });
    if (req.method !== 'POST' || (path !== '/encode' && path !== '/decode')) return send(404, { message: 'POST /encode or /decode' });
    if (options.authToken) {
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ') || !sameToken(auth.slice(7), options.authToken)) return send(401, { message: 'missing or wrong bearer token' });
    }
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
    if (!Array.isArray(body.payloads)) return send(400, { message: 'body must be {"payloads": [...]}' });
    try {
      const payloads = body.payloads.map(toPayload);
      const out = path === '/encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
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
  await new Promise<void>((resolveListen) => server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolveListen));
  const { port } = server.address() as { port: number };
  return {
    server,
    url: `http://${options.host ?? '127.0.0.1'}:${port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
