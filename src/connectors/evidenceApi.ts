import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { EvidenceDb } from '../adapters/evidenceDb.ts';
import { close, listen, urlOf } from '../adapters/httpServer.ts';
import type { Logger } from '../adapters/logger.ts';
import type { Clock } from '../domain/clock.ts';
import type { Vendor } from '../domain/purge.ts';
import { evidenceBundle, type Subject } from '../evidence.ts';
import { renderEvidenceHtml } from '../evidenceReport.ts';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * GET /v1/evidence/{customerId} (or ?email= / ?phone=): the customer's evidence bundle as JSON, or the HTML report
 * with ?format=html, behind a bearer token of its own. Two routes on one path: node:http is enough.
 */
export class EvidenceApi {
  private server?: Server;
  readonly stats = { ok: 0, notFound: 0, badRequest: 0, unauthorized: 0 };
  private readonly token: Buffer;

  constructor(private readonly o: { host: string; port: number; token: string; store: EvidenceDb; vendors: Vendor[]; pseudonym: (key: string) => string; clock: Clock; logger: Logger }) {
    this.token = digest(o.token);
  }

  get url(): string {
    return urlOf(this.server!);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        this.o.logger.error({ err: err.message }, 'evidence request failed');
        this.send(res, 503, { error: 'the evidence store could not be read; retry' });
      });
    });
    await listen(this.server, this.o.host, this.o.port);
  }

  stop(): Promise<void> {
    return close(this.server);
  }

  private send(res: ServerResponse, status: number, body: unknown, html?: string): void {
    res.writeHead(status, { 'content-type': html === undefined ? 'application/json' : 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end(html ?? JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const m = /^\/v1\/evidence(?:\/([^/]+))?$/.exec(url.pathname);
    if (!m) return this.send(res, 404, { error: `no such endpoint: ${url.pathname.slice(0, 200)} (GET /v1/evidence/{customerId})` });
    if (req.method !== 'GET') return this.send(res, 405, { error: 'GET only' });
    const given = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (given === undefined || !timingSafeEqual(digest(given), this.token)) {
      this.stats.unauthorized++;
      return this.send(res, 401, { error: 'missing or wrong bearer token (the evidence token)' });
    }
    const email = url.searchParams.get('email');
    const phone = url.searchParams.get('phone');
    const subjects: Subject[] = [
      ...(m[1] ? [{ customerId: decodeURIComponent(m[1]) }] : []), ...(email !== null ? [{ email }] : []), ...(phone !== null ? [{ phone }] : []),
    ];
    if (subjects.length !== 1) {
      this.stats.badRequest++;
      return this.send(res, 400, { error: 'name the customer by exactly one of /v1/evidence/{customerId}, ?email=, ?phone=' });
    }
    const r = await evidenceBundle(this.o.store, { subject: subjects[0]!, vendors: this.o.vendors, pseudonym: this.o.pseudonym, now: this.o.clock.now() });
    if (!r.ok) {
      if (r.status === 404) this.stats.notFound++;
      else this.stats.badRequest++;
      return this.send(res, r.status, { error: r.message });
    }
    this.stats.ok++;
    if (url.searchParams.get('format') === 'html') return this.send(res, 200, null, renderEvidenceHtml(r.bundle));
    this.send(res, 200, r.bundle);
  }
}
