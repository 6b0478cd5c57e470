import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { Logger } from '../adapters/logger.ts';
import type { Clock } from '../domain/clock.ts';
import { mapNotification, unwrapEventBridge, type Mapped } from '../domain/genesysEvents.ts';
import { CHANNELS, CONSENT_SOURCES, PURPOSES, type ConsentEvent } from '../domain/types.ts';
import { Identifier } from '../domain/validation.ts';
import type { Origin, SourceSink } from './sink.ts';

const MAX_BODY = 512_000; // Genesys' own request.bytes.max
/** How far ahead of this server's clock a sender's capture time may be (clock skew), at most. */
const MAX_FUTURE_SKEW_MS = 5 * 60_000;

/** What web forms, IVR flows and agent desktops POST to /v1/consent. */
export const ConsentRequest = z.object({
  customerId: Identifier,
  /** Idempotency key: the same request sent twice states the same event. */
  eventId: Identifier.optional(),
  /** When the person gave or withdrew consent: ISO 8601 or epoch ms; defaults to the time of receipt. */
  capturedAt: z.union([z.iso.datetime({ offset: true }), z.number().int().positive()]).optional(),
  source: z.enum(CONSENT_SOURCES).default('API'),
  purposes: z.array(z.object({ purpose: z.enum(PURPOSES), granted: z.boolean(), channel: z.enum(CHANNELS).nullable().default(null) })).min(1),
});

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly details: string[] = []) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, `body larger than ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

export interface IntakeOptions {
  host: string;
  port: number;
  /** When set, every request needs `Authorization: Bearer <token>` (EventBridge API destinations send it as an API key header). */
  token?: string;
  sink: SourceSink;
  clock: Clock;
  logger: Logger;
  consentIntake: boolean;
  eventBridge: boolean;
  enrich?: (m: Mapped) => Promise<Mapped>;
  /** POST /v1/erasure (with the consent intake): the erasure flow, resolving what it did. */
  erase?: (r: { customerId: string; source: string; genesysDelete: boolean }) => Promise<unknown>;
  health(): unknown;
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
  readonly stats = { consentAccepted: 0, consentRejected: 0, envelopes: 0 };

  constructor(private readonly o: IntakeOptions) {}

  get url(): string {
    const a = this.server!.address() as AddressInfo;
    return `http://${a.address}:${a.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: Error) => {
        if (err instanceof HttpError) return json(res, err.status, { error: err.message, details: err.details });
        this.o.logger.error({ err: err.message, path: req.url }, 'intake request failed');
        json(res, 503, { error: 'could not write to Kafka; retry' });
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.o.port, this.o.host, resolve);
    });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private authorized(req: IncomingMessage): boolean {
    if (!this.o.token) return true;
    // Only the Bearer scheme (RFC 6750): a bare token, or one under another scheme, is no credential.
    const given = Buffer.from(/^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1] ?? '');
    const want = Buffer.from(this.o.token);
    return given.length === want.length && timingSafeEqual(given, want);
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return json(res, 200, this.o.health());
    if (!this.authorized(req)) throw new HttpError(401, 'missing or wrong bearer token');
    if (req.method === 'POST' && path === '/v1/consent' && this.o.consentIntake) return this.consent(req, res);
    if (req.method === 'POST' && path === '/v1/erasure' && this.o.consentIntake && this.o.erase) return this.erasure(req, res);
    if (req.method === 'POST' && path === '/v1/eventbridge' && this.o.eventBridge) return this.eventBridge(req, res);
    throw new HttpError(404, `no route ${req.method} ${path}`);
  }

  private async consent(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const origin: Origin = { source: 'consent-intake', what: 'POST /v1/consent', raw };
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      await this.o.sink.write([{ mapped: { kind: 'invalid', reason: 'body is not JSON' }, origin }]);
      this.stats.consentRejected++;
      throw new HttpError(400, 'body is not JSON');
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
    const event: ConsentEvent = { eventId: r.eventId ?? randomUUID(), customerId: r.customerId, capturedAt, source: r.source, purposes: r.purposes };
    const written = await this.o.sink.write([{ mapped: { kind: 'consent', key: event.customerId, value: event }, origin }]);
    if (written.deadLettered) {
      this.stats.consentRejected++;
      throw new HttpError(400, 'invalid consent request', ['see the dlq for the reason']);
    }
    this.stats.consentAccepted++;
    json(res, 202, { accepted: true, eventId: event.eventId, capturedAt: event.capturedAt, duplicate: written.duplicates > 0 });
  }

  private async erasure(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req)).toString('utf8'));
    } catch {
      throw new HttpError(400, 'body is not JSON');
    }
    const parsed = ErasureBody.safeParse(body);
    if (!parsed.success) throw new HttpError(400, 'invalid erasure request', parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`));
    json(res, 202, await this.o.erase!(parsed.data));
  }

  private async eventBridge(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      body = undefined;
    }
    const envelopes = Array.isArray(body) ? body : [body];
    const items: { mapped: Mapped; origin: Origin }[] = [];
    for (const env of envelopes) {
      const envRaw = Array.isArray(body) ? Buffer.from(JSON.stringify(env)) : raw;
      const inner = body === undefined ? { ok: false as const, reason: 'body is not JSON' } : unwrapEventBridge(env);
      const origin: Origin = { source: 'eventbridge-http', what: inner.ok ? inner.topicName : 'envelope', raw: envRaw };
      const mapped: Mapped = inner.ok ? mapNotification(inner.topicName, inner.eventBody) : { kind: 'invalid', reason: inner.reason };
      items.push({ mapped: this.o.enrich ? await this.o.enrich(mapped).catch(() => mapped) : mapped, origin });
    }
    this.stats.envelopes += envelopes.length;
    // Invalid envelopes are answered 200 too: they are in the dlq, and a retry would not make them valid.
    json(res, 200, await this.o.sink.write(items));
  }
}
