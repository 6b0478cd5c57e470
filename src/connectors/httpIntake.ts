import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { z } from 'zod';
import type { Logger } from '../adapters/logger.ts';
import type { Clock } from '../domain/clock.ts';
import { mapNotification, unwrapEventBridge, type Mapped } from '../domain/genesysEvents.ts';
import { normaliseEmail, normalisePhone, resolveConsent, type IdentityIndex } from '../domain/identity.ts';
import { CHANNELS, CONSENT_SOURCES, PURPOSES } from '../domain/types.ts';
import { Identifier } from '../domain/validation.ts';
import type { Origin, SourceSink } from './sink.ts';

const MAX_BODY = 512_000; // Genesys' own request.bytes.max
/** Deeper JSON is refused before it is parsed (an envelope is a few levels deep; 100,000 would exhaust the stack). */
const MAX_JSON_DEPTH = 64;
const INSECURE_WARNING_EVERY_MS = 60_000;
/** Bytes of an unwanted body read and dropped after it was answered, before the connection is cut. */
const DISCARD_MAX = 64 << 20;
/** How far ahead of this server's clock a sender's capture time may be (clock skew), at most. */
const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** What web forms, IVR flows and agent desktops POST to /v1/consent: the customer id, or an e-mail or phone of theirs. */
export const ConsentRequest = z.object({
  customerId: Identifier.optional(),
  /** Resolved through the identity graph (domain/identity.ts) when the sender does not know the customer id. */
  email: z.string().max(320).optional(),
  phone: z.string().max(64).optional(),
  /** Idempotency key: the same request sent twice states the same event. */
  eventId: Identifier.optional(),
  /** When the person gave or withdrew consent: ISO 8601 or epoch ms; defaults to the time of receipt. */
  capturedAt: z.union([z.iso.datetime({ offset: true }), z.number().int().positive()]).optional(),
  source: z.enum(CONSENT_SOURCES).default('API'),
  purposes: z.array(z.object({ purpose: z.enum(PURPOSES), granted: z.boolean(), channel: z.enum(CHANNELS).nullable().default(null) })).min(1),
}).transform((r, ctx) => {
  // The person, named once: the customer id, or an e-mail or phone in normal form (`identifier`).
  const named = (['customerId', 'email', 'phone'] as const).filter((k) => r[k] !== undefined);
  if (named.length !== 1) ctx.addIssue({ code: 'custom', path: [], message: `name the person by exactly one of customerId, email, phone (got ${named.length ? named.join(', ') : 'none'})` });
  const n = r.email !== undefined ? normaliseEmail(r.email) : r.phone !== undefined ? normalisePhone(r.phone) : null;
  if (n && !n.ok) ctx.addIssue({ code: 'custom', path: [r.email !== undefined ? 'email' : 'phone'], message: n.reason });
  return { ...r, identifier: n?.ok ? n.key : undefined };
});

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly details: string[] = []) {
    super(message);
  }
}

/**
 * The body of a JSON request: 415 for another content type, 413 past MAX_BODY (at once from Content-Length, else
 * as soon as the bytes pass it), 400 when nested deeper than MAX_JSON_DEPTH or not JSON. Returns the raw bytes
 * and, when it parses, the value.
 */
async function readJson(req: IncomingMessage): Promise<{ raw: Buffer; body?: unknown; problem?: string }> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') throw new HttpError(415, `content type must be application/json (got ${type ? JSON.stringify(type.slice(0, 100)) : 'none'})`);
  if (Number(req.headers['content-length']) > MAX_BODY) throw new HttpError(413, `body larger than ${MAX_BODY} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `body larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  const raw = Buffer.concat(chunks);
  if (jsonDepth(raw) > MAX_JSON_DEPTH) return { raw, problem: `JSON nested deeper than ${MAX_JSON_DEPTH} levels` };
  try {
    return { raw, body: JSON.parse(raw.toString('utf8')) as unknown };
  } catch {
    return { raw, problem: 'body is not JSON' };
  }
}

/** The deepest nesting of arrays and objects in JSON text (strings skipped), in one pass over the bytes. */
export function jsonDepth(raw: Buffer): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) max = Math.max(max, ++depth);
    else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export interface IntakeOptions {
  host: string;
  port: number;
  /** Every request needs `Authorization: Bearer <token>` (EventBridge API destinations send it as an API key header). */
  token?: string;
  /** POST /v1/erasure needs this one instead (destroying a customer's keys is not for every intake client). */
  erasureToken?: string;
  /** No token needed (a local test only; the intake says so in a warning every minute). */
  insecureNoAuth: boolean;
  /** Requests per second per client address; more are answered 429 with Retry-After. */
  rateLimitPerSecond: number;
  sink: SourceSink;
  clock: Clock;
  logger: Logger;
  consentIntake: boolean;
  eventBridge: boolean;
  enrich?: (m: Mapped) => Promise<Mapped>;
  /** The identity graph: consent given by e-mail or phone is resolved through it. */
  identity?: IdentityIndex;
  /** POST /v1/erasure (with the consent intake): the erasure flow, resolving what it did. */
  erase?: (r: { customerId: string; source: string; genesysDelete: boolean }) => Promise<unknown>;
  /** GET /healthz: 200 with the body when healthy, else 503. */
  health(): { healthy: boolean; body: unknown };
}

const ErasureBody = z.object({ customerId: Identifier, source: z.string().min(1).default('API'), genesysDelete: z.boolean().default(false) });

/**
 * The HTTP intake: POST /v1/consent (the consent intake API), POST /v1/erasure (erasure requests), POST
 * /v1/eventbridge (EventBridge envelopes from an
 * API destination, one or an array), GET /healthz. A request is answered 2xx only once what it carried is on
 * Kafka (or, when invalid, in the dlq with its bytes): a caller that gets an error may safely retry.
 */
export class HttpIntake {
  private server?: Server;
  private warning?: NodeJS.Timeout;
  private readonly limiter: RateLimiterMemory;
  readonly stats = { consentAccepted: 0, consentRejected: 0, consentPending: 0, consentRefused: 0, envelopes: 0, rateLimited: 0 };

  constructor(private readonly o: IntakeOptions) {
    this.limiter = new RateLimiterMemory({ points: o.rateLimitPerSecond, duration: 1 });
  }

  get url(): string {
    const a = this.server!.address() as AddressInfo;
    return `http://${a.address}:${a.port}`;
  }

  async start(): Promise<void> {
    if (!this.o.token && !this.o.insecureNoAuth) throw new Error('the HTTP intake needs a token (or insecureNoAuth)');
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: Error) => {
        if (err instanceof HttpError) {
          // A body left unread (413, 415, 401 …): answer at once and close the connection; the rest of the body is
          // read and dropped meanwhile (a client answered while it still sends may otherwise never see the answer),
          // up to DISCARD_MAX bytes, then the connection is cut.
          if (!req.complete) {
            res.setHeader('connection', 'close');
            let dropped = 0;
            req.on('data', (c: Buffer) => {
              if ((dropped += c.length) > DISCARD_MAX) req.destroy();
            });
            req.resume();
          }
          return json(res, err.status, { error: err.message, details: err.details });
        }
        this.o.logger.error({ err: err.message, path: req.url }, 'intake request failed');
        json(res, 503, { error: 'could not write to Kafka; retry' });
      });
    });
    if (this.o.insecureNoAuth) {
      const warn = () => this.o.logger.warn({ url: this.url }, 'the HTTP intake accepts requests WITHOUT a token (--insecure-no-auth): anyone who reaches it can write consent and erase customers');
      this.server.once('listening', warn);
      this.warning = setInterval(warn, INSECURE_WARNING_EVERY_MS).unref();
    }
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.o.port, this.o.host, resolve);
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.warning);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Whether the request carries `token` (compared as SHA-256 digests, so in constant time whatever the lengths). */
  private carries(req: IncomingMessage, token: string | undefined): boolean {
    if (this.o.insecureNoAuth) return true;
    if (!token) return false;
    // Only the Bearer scheme (RFC 6750): a bare token, or one under another scheme, is no credential.
    const given = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    return given !== undefined && timingSafeEqual(digest(given), digest(token));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') {
      const h = this.o.health();
      return json(res, h.healthy ? 200 : 503, h.body);
    }
    try {
      await this.limiter.consume(req.socket.remoteAddress ?? 'unknown');
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      this.stats.rateLimited++;
      res.setHeader('retry-after', String(Math.max(1, Math.ceil(err.msBeforeNext / 1000))));
      throw new HttpError(429, `more than ${this.o.rateLimitPerSecond} requests a second from this client`);
    }
    if (req.method === 'POST' && path === '/v1/erasure' && this.o.consentIntake && this.o.erase) {
      if (!this.o.erasureToken && !this.o.insecureNoAuth) throw new HttpError(403, 'POST /v1/erasure needs a token of its own: set CONSENTGATE_ERASURE_TOKEN');
      if (!this.carries(req, this.o.erasureToken)) throw new HttpError(401, 'missing or wrong bearer token (the erasure token)');
      return this.erasure(req, res);
    }
    if (!this.carries(req, this.o.token)) throw new HttpError(401, 'missing or wrong bearer token');
    if (req.method === 'POST' && path === '/v1/consent' && this.o.consentIntake) return this.consent(req, res);
    if (req.method === 'POST' && path === '/v1/eventbridge' && this.o.eventBridge) return this.eventBridge(req, res);
    throw new HttpError(404, `no route ${req.method} ${path}`);
  }

  private async consent(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { raw, body, problem } = await readJson(req);
    const origin: Origin = { source: 'consent-intake', what: 'POST /v1/consent', raw };
    if (problem) {
      await this.o.sink.write([{ mapped: { kind: 'invalid', reason: problem }, origin }]);
      this.stats.consentRejected++;
      throw new HttpError(400, problem);
    }
    const parsed = ConsentRequest.safeParse(body);
    if (!parsed.success) {
      const details = parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
      await this.o.sink.write([{ mapped: { kind: 'invalid', reason: details.join('; ') }, origin }]);
      this.stats.consentRejected++;
      throw new HttpError(400, 'invalid consent request', details);
    }
    const r = parsed.data;
    const now = this.o.clock.now();
    const capturedAt = typeof r.capturedAt === 'string' ? Date.parse(r.capturedAt) : (r.capturedAt ?? now);
    if (capturedAt > now + MAX_FUTURE_SKEW_MS) {
      // Never stored as dated (the consent table counts no statement as captured after it was received), but a
      // capture time from the future is the sender's error: say so.
      const reason = `capturedAt: ${new Date(capturedAt).toISOString()} is more than ${MAX_FUTURE_SKEW_MS / 60_000} minutes after this server's time ${new Date(now).toISOString()}`;
      await this.o.sink.write([{ mapped: { kind: 'invalid', reason }, origin }]);
      this.stats.consentRejected++;
      throw new HttpError(400, 'invalid consent request', [reason]);
    }
    const statement = { eventId: r.eventId ?? randomUUID(), capturedAt, source: r.source, purposes: r.purposes };
    let mapped: Mapped;
    let answer: Record<string, unknown> = {};
    if (r.customerId !== undefined) mapped = { kind: 'consent', key: r.customerId, value: { ...statement, customerId: r.customerId } };
    else {
      if (!this.o.identity) throw new HttpError(400, 'invalid consent request', ['this intake runs without the identity graph: name the customerId']);
      const identifier = r.identifier!;
      const resolved = resolveConsent(this.o.identity, identifier, statement);
      if (resolved.kind === 'refused') {
        this.stats.consentRefused++;
        throw new HttpError(422, 'not applied', [resolved.reason]);
      }
      if (resolved.kind === 'pending') {
        mapped = { kind: 'pending', key: statement.eventId, value: { identifier, statement, receivedAt: now, reason: resolved.reason } };
        answer = { pending: true, reason: `${resolved.reason}: kept, and applied when a contact with it appears` };
      } else {
        mapped = { kind: 'consent', key: resolved.event.customerId, value: { ...resolved.event, resolvedBy: resolved.resolution } };
        answer = { customerId: resolved.event.customerId, resolvedBy: resolved.resolution };
        if (resolved.droppedGrants.length) answer.notApplied = { purposes: resolved.droppedGrants, reason: 'a grant needs a strong link (a contact id, an e-mail address or an external id); a phone number is weak' };
      }
    }
    const written = await this.o.sink.write([{ mapped, origin }]);
    if (written.deadLettered) {
      this.stats.consentRejected++;
      throw new HttpError(400, 'invalid consent request', ['see the dlq for the reason']);
    }
    if (mapped.kind === 'pending') this.stats.consentPending++;
    else this.stats.consentAccepted++;
    json(res, 202, { accepted: true, eventId: statement.eventId, capturedAt, duplicate: written.duplicates > 0, ...answer });
  }

  private async erasure(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { body, problem } = await readJson(req);
    if (problem) throw new HttpError(400, problem);
    const parsed = ErasureBody.safeParse(body);
    if (!parsed.success) throw new HttpError(400, 'invalid erasure request', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`));
    json(res, 202, await this.o.erase!(parsed.data));
  }

  private async eventBridge(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { raw, body, problem } = await readJson(req);
    const envelopes = Array.isArray(body) ? body : [body];
    const items: { mapped: Mapped; origin: Origin }[] = [];
    for (const env of envelopes) {
      const envRaw = Array.isArray(body) ? Buffer.from(JSON.stringify(env)) : raw;
      const inner = problem ? { ok: false as const, reason: problem } : unwrapEventBridge(env);
      const origin: Origin = { source: 'eventbridge-http', what: inner.ok ? inner.topicName : 'envelope', raw: envRaw };
      const mapped: Mapped = inner.ok ? mapNotification(inner.topicName, inner.eventBody) : { kind: 'invalid', reason: inner.reason };
      items.push({ mapped: this.o.enrich ? await this.o.enrich(mapped).catch(() => mapped) : mapped, origin });
    }
    this.stats.envelopes += envelopes.length;
    // Invalid envelopes are answered 200 too: they are in the dlq, and a retry would not make them valid.
    json(res, 200, await this.o.sink.write(items));
  }
}
