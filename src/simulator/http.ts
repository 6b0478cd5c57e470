import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TokenIssuer } from './auth.ts';
import { errorBody, type Problem } from './errors.ts';
import type { RestFaults } from './faults.ts';
import { rateLimitHeaders, tooManyRequests, type RateLimiter } from './rateLimit.ts';
import { match, type ApiResponse, type Route } from './router.ts';

export interface HttpStats {
  logins: number;
  requests: number;
  rateLimited: number;
  faults: number;
}

export interface HttpDeps {
  routes: Route[];
  tokens: TokenIssuer;
  /** Whether the credentials belong to a client allowed the client-credentials grant. */
  login: (clientId: string, secret: string) => boolean;
  apiLimiter: RateLimiter;
  tokenLimiter: RateLimiter;
  rateWindowSec: number;
  faults: RestFaults;
  stats: HttpStats;
  onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/** Genesys' `request.bytes.max`. */
const MAX_BODY_BYTES = 512_000;
const FAULT_CODES: Record<number, string> = { 500: 'internal.server.error', 502: 'bad.gateway', 503: 'service.unavailable', 504: 'gateway.timeout' };

type Answer = { status: number; headers: Record<string, string>; body?: unknown };

/** The REST front door: OAuth token endpoint, then for /api/v2: bearer auth, injected faults, rate limit, routing. */
export function createApiServer(deps: HttpDeps): Server {
  const server = createServer((req, res) => {
    readBody(req).then(
      (raw) => write(res, req.method === 'HEAD', handle(deps, req, raw)),
      () => write(res, false, problem({ status: 413, code: 'request.entity.too.large', message: `Request bodies are limited to ${MAX_BODY_BYTES} bytes` }, randomUUID())),
    );
  });
  server.on('upgrade', deps.onUpgrade);
  return server;
}

function handle(deps: HttpDeps, req: IncomingMessage, raw: string): Answer {
  deps.stats.requests++;
  const contextId = randomUUID();
  const url = new URL(req.url ?? '/', 'http://simulator');
  if (url.pathname === '/oauth/token' && req.method === 'POST') return token(deps, req, raw, contextId);
  if (!url.pathname.startsWith('/api/v2/')) return problem({ status: 404, code: 'not.found', message: 'The requested resource was not found.' }, contextId);

  const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  const grant = bearer ? deps.tokens.verify(bearer) : undefined;
  if (!grant) return problem({ status: 401, code: 'bad.credentials', message: 'Invalid login credentials.' }, contextId);

  const decision = deps.apiLimiter.take(grant.clientId);
  const limitHeaders = rateLimitHeaders(decision);
  const fault = deps.faults.next();
  if (fault) deps.stats.faults++;
  if (fault?.kind === 'rateLimit' || !decision.allowed) {
    deps.stats.rateLimited++;
    const retryAfter = fault?.kind === 'rateLimit' ? fault.retryAfterSec : decision.resetSec;
    return problem(tooManyRequests(decision.limit, deps.rateWindowSec, retryAfter), contextId, { ...limitHeaders, 'Retry-After': String(retryAfter) });
  }
  if (fault?.kind === 'fail') {
    if (fault.status === 429) deps.stats.rateLimited++;
    const p = fault.status === 429 ? tooManyRequests(decision.limit, deps.rateWindowSec, 1) : { status: fault.status, code: FAULT_CODES[fault.status] ?? 'simulated.fault', message: `Simulated failure (${fault.status})` };
    return problem(p, contextId, { ...limitHeaders, ...(fault.status === 429 ? { 'Retry-After': '1' } : {}) });
  }

  let body: unknown;
  try {
    body = raw ? JSON.parse(raw) : undefined;
  } catch {
    return problem({ status: 400, code: 'bad.request', message: 'The request body is not valid JSON' }, contextId, limitHeaders);
  }
  const method = req.method ?? 'GET';
  let pathMatched = false;
  for (const r of deps.routes) {
    const params = match(r, url.pathname);
    if (!params) continue;
    pathMatched = true;
    if (r.method !== method) continue;
    try {
      return render(r.handler({ method, params, query: url.searchParams, body, grant }), contextId, limitHeaders);
    } catch (err) {
      return problem({ status: 500, code: 'internal.server.error', message: `Simulator error: ${(err as Error).message}` }, contextId, limitHeaders);
    }
  }
  return pathMatched
    ? problem({ status: 405, code: 'method.not.allowed', message: `${method} is not supported on ${url.pathname}` }, contextId, limitHeaders)
    : problem({ status: 404, code: 'not.found', message: 'The requested resource was not found.' }, contextId, limitHeaders);
}

function token(deps: HttpDeps, req: IncomingMessage, raw: string, contextId: string): Answer {
  const form = new URLSearchParams(raw);
  const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  const [id, secret] = basic ? splitOnce(Buffer.from(basic, 'base64').toString('utf8')) : [form.get('client_id') ?? '', form.get('client_secret') ?? ''];
  const decision = deps.tokenLimiter.take(id);
  const headers = { 'ININ-Correlation-Id': contextId, ...rateLimitHeaders(decision) };
  if (!decision.allowed) {
    deps.stats.rateLimited++;
    return problem(tooManyRequests(decision.limit, deps.rateWindowSec, decision.resetSec), contextId, { ...headers, 'Retry-After': String(decision.resetSec) });
  }
  if (!deps.login(id, secret)) return { status: 401, headers, body: { error: 'invalid_client', description: 'client not found or invalid client credentials', error_description: 'invalid client credentials' } };
  if (form.get('grant_type') !== 'client_credentials') {
    return { status: 400, headers, body: { error: 'unsupported_grant_type', description: `grant_type '${form.get('grant_type') ?? ''}' is not supported; use client_credentials`, error_description: 'unsupported grant type' } };
  }
  deps.stats.logins++;
  return { status: 200, headers, body: deps.tokens.issue(id) };
}

function splitOnce(s: string): [string, string] {
  const i = s.indexOf(':');
  return i < 0 ? [s, ''] : [decodeURIComponent(s.slice(0, i)), decodeURIComponent(s.slice(i + 1))];
}

function render(r: ApiResponse, contextId: string, headers: Record<string, string>): Answer {
  if ('problem' in r) return problem(r.problem, contextId, headers);
  return { status: r.status, headers: { ...headers, ...r.headers, 'ININ-Correlation-Id': contextId }, ...(r.body !== undefined ? { body: r.body } : {}) };
}

function problem(p: Problem, contextId: string, headers: Record<string, string> = {}): Answer {
  return { status: p.status, headers: { ...headers, 'ININ-Correlation-Id': contextId }, body: errorBody(p, contextId) };
}

function write(res: ServerResponse, head: boolean, a: Answer): void {
  const text = a.body === undefined ? '' : JSON.stringify(a.body);
  res.writeHead(a.status, { ...a.headers, ...(text ? { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) } : {}) });
  res.end(head ? undefined : text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => (size > MAX_BODY_BYTES ? reject(new Error('too large')) : resolve(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}
