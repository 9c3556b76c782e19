/**
 * The admin HTTP server, apart from SIP: health for load balancers and orchestrators, Prometheus
 * metrics, and the JSON API the `pushwake` CLI talks to. `node:http`: a handful of routes, no
 * templating, nothing a framework would save; one dependency less on the path operators rely on
 * when everything else is on fire.
 *
 *   GET    /healthz                       alive (never needs the token)
 *   GET    /readyz                        engine connected, store reachable, APNs key loaded (503 + why)
 *   GET    /metrics                       Prometheus text
 *   GET    /api/status                    a short summary
 *   GET    /api/bindings[?aor=A&limit=N]  bindings of an AOR, or any (at most limit)
 *   DELETE /api/bindings?aor=A[&device=K] forget an AOR's bindings, or one device's
 *   GET    /                              the status page (the token, if any, as ?token=)
 *   GET    /api/calls                     parked and ringing calls
 *   GET    /api/overview                  the status page's data
 *   POST   /api/push                      a test push: {"aor": A} or {"token": T, "topic"?: X}, with "confirm": true
 *   POST   /api/reload                    re-read the config file
 *
 * With `admin.token` set, everything but /healthz and /readyz needs `Authorization: Bearer <token>`.
 * Errors are JSON `{ "error": { "code": "ADMIN_…", "message": … } }`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { STATUS_PAGE } from './status-page.js';

export interface Check {
  ok: boolean;
  detail: string;
}

/** What the admin server asks of the pushwake it serves. */
export interface AdminTarget {
  metrics: Registry;
  readiness(): Promise<Record<string, Check>>;
  status(): Promise<Record<string, unknown>>;
  bindings(query: { aor?: string; limit: number }): Promise<unknown[]>;
  removeBindings(aor: string, deviceKey?: string): Promise<number>;
  calls(): unknown[];
  /** The status page's data: calls now, the last calls, wake latency, push results, unanswered devices. */
  overview(): Promise<unknown>;
  testPush(target: { aor?: string; token?: string; topic?: string }): Promise<unknown>;
  reload(): Promise<unknown>;
}

export class AdminError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
    this.name = 'AdminError';
  }
}

/** Largest request body the API reads. */
const MAX_BODY_BYTES = 64 * 1024;
const MAX_LIST = 10_000;

export interface RunningAdmin {
  url: string;
  stop(): Promise<void>;
}

/** `host:port` (IPv6 in brackets) of `admin.listen`. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(listen);
  if (!m?.[1] || !m[2]) throw new Error(`admin.listen must be host:port (got ${listen})`);
  return { host: m[1], port: Number(m[2]) };
}

export async function startAdminServer(listen: string, token: string, target: AdminTarget, onError: (err: Error) => void): Promise<RunningAdmin> {
  const { host, port } = parseListen(listen);
  const server = createServer((req, res) => {
    route(req, res, token, target).catch((err: unknown) => {
      const e = err instanceof AdminError ? err : new AdminError(500, 'ADMIN_INTERNAL', err instanceof Error ? err.message : String(err));
      if (e.status >= 500) onError(err instanceof Error ? err : new Error(String(err)));
      if (!res.headersSent) json(res, e.status, { error: { code: e.code, message: e.message } });
      else res.end();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxConnections = 256;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(err.code === 'EADDRINUSE'
      ? `admin.listen ${listen} is in use (set admin.listen to another address, or to "" to turn the admin server off)`
      : `admin.listen ${listen}: ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown}:${addr.port}`,
    stop: () => closeServer(server),
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function route(req: IncomingMessage, res: ServerResponse, token: string, target: AdminTarget): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  const method = req.method ?? 'GET';
  const path = url.pathname;
  if (method === 'GET' && (path === '/' || path === '/index.html')) {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Security-Policy': "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'" });
    res.end(STATUS_PAGE);
    return;
  }
  if (method === 'GET' && path === '/healthz') return json(res, 200, { status: 'ok', uptimeSeconds: Math.round(process.uptime()) });
  if (method === 'GET' && path === '/readyz') {
    const checks = await target.readiness();
    const failing = Object.entries(checks).filter(([, c]) => !c.ok).map(([name, c]) => `${name}: ${c.detail}`);
    return json(res, failing.length === 0 ? 200 : 503, { ready: failing.length === 0, ...(failing.length ? { reason: failing.join('; ') } : {}), checks });
  }
  authorize(req, token);
  if (method === 'GET' && path === '/metrics') {
    const text = await target.metrics.metrics();
    res.writeHead(200, { 'Content-Type': target.metrics.contentType });
    res.end(text);
    return;
  }
  if (method === 'GET' && path === '/api/status') return json(res, 200, await target.status());
  if (path === '/api/bindings') {
    const aor = url.searchParams.get('aor') ?? undefined;
    if (method === 'GET') {
      const limit = Math.min(MAX_LIST, Number(url.searchParams.get('limit') ?? 1000) || 1000);
      return json(res, 200, { bindings: await target.bindings({ ...(aor ? { aor } : {}), limit }) });
    }
    if (method === 'DELETE') {
      if (!aor) throw new AdminError(400, 'ADMIN_BAD_REQUEST', 'aor is required');
      const device = url.searchParams.get('device') ?? undefined;
      const removed = await target.removeBindings(aor, device);
      if (removed === 0) throw new AdminError(404, 'ADMIN_NOT_FOUND', `no binding of ${aor}${device ? ` for device ${device}` : ''}`);
      return json(res, 200, { removed });
    }
  }
  if (method === 'GET' && path === '/api/calls') return json(res, 200, { calls: target.calls() });
  if (method === 'GET' && path === '/api/overview') return json(res, 200, await target.overview());
  if (method === 'POST' && path === '/api/push') {
    const body = await readJson(req);
    if (body['confirm'] !== true) throw new AdminError(400, 'ADMIN_CONFIRM_REQUIRED', 'a VoIP test push shows as a call on the phone: send "confirm": true');
    const aor = typeof body['aor'] === 'string' ? body['aor'] : undefined;
    const tok = typeof body['token'] === 'string' ? body['token'] : undefined;
    const topic = typeof body['topic'] === 'string' ? body['topic'] : undefined;
    if (!aor === !tok) throw new AdminError(400, 'ADMIN_BAD_REQUEST', 'give exactly one of aor and token');
    return json(res, 200, await target.testPush({ ...(aor ? { aor } : {}), ...(tok ? { token: tok } : {}), ...(topic ? { topic } : {}) }));
  }
  if (method === 'POST' && path === '/api/reload') return json(res, 200, await target.reload());
  throw new AdminError(404, 'ADMIN_NOT_FOUND', `no route ${method} ${path}`);
}

function authorize(req: IncomingMessage, token: string): void {
  if (token === '') return;
  const given = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new AdminError(401, 'ADMIN_UNAUTHORIZED', 'missing or wrong bearer token (admin.token)');
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new AdminError(413, 'ADMIN_BODY_TOO_LARGE', `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new AdminError(400, 'ADMIN_BAD_REQUEST', 'the body must be a JSON object');
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(text);
}
