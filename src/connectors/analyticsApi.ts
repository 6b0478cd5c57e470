import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import type { AnalyticsDb, CheckedRow, PageQuery } from '../adapters/analyticsDb.ts';
import { close, listen, urlOf } from '../adapters/httpServer.ts';
import type { Logger } from '../adapters/logger.ts';
import { decodeCursor, encodeCursor, permitsRow, storedSinks } from '../domain/analyticsStore.ts';
import type { Clock } from '../domain/clock.ts';
import type { Policy, SinkPolicy } from '../domain/policy.ts';
import { CHANNELS } from '../domain/types.ts';
import { ConsentgateError } from '../errors.ts';

/** A reader of the read API: bound to one sink, known by the SHA-256 of its bearer token (the file holds no secret). */
export interface Reader {
  name: string;
  sink: string;
  tokenSha256: string;
}

export const ReadersFile = z.strictObject({
  readers: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, . _ - only'), z.strictObject({
    sink: z.string().min(1),
    tokenSha256: z.string().regex(/^[0-9a-f]{64}$/, 'the SHA-256 of the token, 64 lower-case hex characters'),
  })),
});

export const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** The readers of `file`, each bound to a sink the policy stores. */
export function loadReaders(file: string, policy: Policy): Reader[] {
  let parsed: z.infer<typeof ReadersFile>;
  try {
    parsed = ReadersFile.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch (err) {
    const detail = err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message;
    throw new ConsentgateError('CONFIG_INVALID', `readers file ${file}: ${detail}`);
  }
  const stored = new Set(storedSinks(policy).map((s) => s.name));
  const readers = Object.entries(parsed.readers).map(([name, r]) => ({ name, ...r }));
  const wrong = readers.filter((r) => !stored.has(r.sink));
  if (wrong.length) throw new ConsentgateError('CONFIG_INVALID', `readers file ${file}: ${wrong.map((r) => `reader ${r.name} reads ${r.sink}, which the policy does not store (stored: ${[...stored].join(', ')})`).join('; ')}`);
  return readers;
}

const PARAMS = ['sink', 'from', 'to', 'channel', 'pageSize', 'cursor'] as const;
const time = z.union([z.string().regex(/^\d+$/).transform(Number), z.iso.datetime({ offset: true }).or(z.iso.date()).transform((s) => Date.parse(s))], { error: 'an ISO-8601 time (2026-11-01T09:00:00Z) or epoch milliseconds' });
const Query = z.strictObject({
  sink: z.string().optional(),
  from: time.optional(),
  to: time.optional(),
  channel: z.enum(CHANNELS, { error: `one of ${CHANNELS.join(', ')}` }).optional(),
  pageSize: z.string().regex(/^\d+$/, 'a whole number from 1 to 1000').transform(Number).pipe(z.number().int().min(1, 'a whole number from 1 to 1000').max(1000, 'a whole number from 1 to 1000')).default(100),
  cursor: z.string().transform((c, ctx) => decodeCursor(c) ?? (ctx.addIssue({ code: 'custom', message: 'not a cursor this API returned' }), z.NEVER)).optional(),
}).refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, { error: 'from must be before to', path: ['from'] });

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly problems: string[] = []) {
    super(message);
  }
}

/** A stored row checked against current consent: what the API and the export give a reader. */
export function publicRow(r: CheckedRow) {
  return { recordId: r.recordId, customerId: r.customerId, conversationId: r.conversationId, channel: r.channel, occurredAt: new Date(r.occurredAt).toISOString(), kind: r.kind, generation: r.generation, record: r.record };
}

/**
 * A page of `sink` for a reader: rows whose customer grants the sink's purposes now — by the reader view's condition,
 * evaluated in the database, and again in code on the consent state read with the row, before anything is built from
 * it (the guide's server-side check). It scans windows of the stored rows in order until the page is full, the rows
 * end, or ten pages' worth were scanned (then the page is short and `next` continues the scan). `withheld` counts rows
 * that passed the database's check and failed the code's (it stays 0 unless the two disagree).
 */
export async function readCheckedPage(store: AnalyticsDb, sink: SinkPolicy, q: PageQuery): Promise<{ rows: CheckedRow[]; withheld: number; next: string | null }> {
  const rows: CheckedRow[] = [];
  let withheld = 0;
  let after = q.after;
  for (let scanned = 0; scanned < 10 * q.limit;) {
    const window = await store.scan(sink, { ...q, after, limit: Math.max(2 * q.limit, 200) });
    for (const r of window) {
      if (!r.permitted) continue;
      if (!permitsRow(sink, r, r.consent)) withheld++;
      else if (rows.push(r) === q.limit) return { rows, withheld, next: encodeCursor(r) };
    }
    scanned += window.length;
    if (window.length < Math.max(2 * q.limit, 200)) return { rows, withheld, next: null };
    after = window.at(-1)!;
  }
  return { rows, withheld, next: after ? encodeCursor(after) : null };
}

/**
 * GET /v1/analytics/records?from=&to=&channel=&pageSize=&cursor=[&sink=] for dashboards: a bearer token per reader
 * (401 without a known one), each reader bound to its sink (403 for another), parameters validated (400 naming each
 * bad one), keyset paging with an opaque cursor; every row re-checked against current consent before the JSON is built.
 */
export class AnalyticsApi {
  readonly stats = { ok: 0, badRequest: 0, unauthorized: 0, forbidden: 0, rows: 0, withheld: 0 };
  private server?: Server;
  private readonly hashes: { reader: Reader; hash: Buffer }[];

  constructor(private readonly o: { host: string; port: number; readers: Reader[]; store: AnalyticsDb; policy: Policy; clock: Clock; logger: Logger }) {
    this.hashes = o.readers.map((reader) => ({ reader, hash: Buffer.from(reader.tokenSha256, 'hex') }));
  }

  get url(): string {
    return urlOf(this.server!);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await listen(this.server, this.o.host, this.o.port);
  }

  stop(): Promise<void> {
    return close(this.server);
  }

  private reader(req: IncomingMessage): Reader {
    const m = /^Bearer (.+)$/i.exec(req.headers.authorization ?? '');
    if (!m) throw new HttpError(401, 'a bearer token is required (Authorization: Bearer <token>)');
    const hash = createHash('sha256').update(m[1]!.trim()).digest();
    const found = this.hashes.find((h) => timingSafeEqual(h.hash, hash));
    if (!found) throw new HttpError(401, 'unknown token');
    return found.reader;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let status = 200;
    let body: unknown;
    let reader: Reader | undefined;
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== '/v1/analytics/records') throw new HttpError(404, `no such endpoint: ${url.pathname.slice(0, 200)} (GET /v1/analytics/records)`);
      if (req.method !== 'GET') throw new HttpError(405, 'only GET');
      reader = this.reader(req);
      const unknown = [...new Set(url.searchParams.keys())].filter((k) => !(PARAMS as readonly string[]).includes(k));
      const repeated = PARAMS.filter((k) => url.searchParams.getAll(k).length > 1);
      const parsed = Query.safeParse(Object.fromEntries([...url.searchParams].filter(([k]) => (PARAMS as readonly string[]).includes(k))));
      const problems = [
        ...unknown.map((k) => `${k.slice(0, 100)}: unknown parameter (known: ${PARAMS.join(', ')})`),
        ...repeated.map((k) => `${k}: given more than once`),
        ...(parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)),
      ];
      if (problems.length || !parsed.success) throw new HttpError(400, `bad parameters: ${problems.map((p) => p.split(':')[0]).join(', ')}`, problems);
      const q = parsed.data;
      const sinkName = q.sink ?? reader.sink;
      if (sinkName !== reader.sink) throw new HttpError(403, `reader ${reader.name} may read ${reader.sink} only, not ${sinkName.slice(0, 100)}`);
      const sink = this.o.policy.sinks.find((s) => s.name === sinkName)!;
      const page = await readCheckedPage(this.o.store, sink, { from: q.from, to: q.to, channel: q.channel, after: q.cursor, limit: q.pageSize });
      this.stats.ok++;
      this.stats.rows += page.rows.length;
      this.stats.withheld += page.withheld;
      body = { sink: sinkName, policyVersion: this.o.policy.version, checkedAt: new Date(this.o.clock.now()).toISOString(), records: page.rows.map(publicRow), nextCursor: page.next };
    } catch (err) {
      if (!(err instanceof HttpError)) {
        this.o.logger.error({ err: (err as Error).message }, 'analytics read API request failed');
        err = new HttpError(500, 'the store could not be read');
      }
      const e = err as HttpError;
      status = e.status;
      if (status === 400) this.stats.badRequest++;
      if (status === 401) this.stats.unauthorized++;
      if (status === 403) this.stats.forbidden++;
      body = { error: e.message, ...(e.problems.length ? { problems: e.problems } : {}) };
    }
    this.o.logger.debug({ reader: reader?.name, status }, 'analytics read API request');
    res.writeHead(status, { 'content-type': 'application/json', ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}) });
    res.end(JSON.stringify(body));
  }
}
