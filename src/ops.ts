import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ConsentgateError } from './errors.ts';
import { STATUS_PAGE } from './statusPage.ts';

/** One dependency the process needs: probed every few seconds; failing when it has not answered for a while. */
export interface HealthCheck {
  name: string;
  /** Resolves when the dependency answers; rejects (or times out) when it does not. */
  probe(): Promise<void>;
}

export interface CheckState {
  ok: boolean;
  /** Milliseconds since the last successful probe (undefined: none yet). */
  lastOkAgoMs?: number;
  /** Why the last probe failed (no PII: connection errors and statuses). */
  error?: string;
}

export interface HealthReport {
  status: 'healthy' | 'unhealthy';
  /** Healthy, and every task restored and running: ready for traffic. */
  ready: boolean;
  checks: Record<string, CheckState>;
  engine: EngineHealth;
}

/** What the engine says of itself: whether every task runs, in words, and the partitions this process owns. */
export interface EngineHealth {
  ready: boolean;
  detail: string;
  partitions: number[];
}

/**
 * Health of a `run` process, as a load balancer or an orchestrator asks it: each dependency (Kafka, the schema
 * registry) is probed every `intervalMs` with a timeout, and counts as down once no probe has succeeded for
 * `downAfterMs` (a blip is not an outage); the engine says whether its tasks run. With the defaults a lost broker
 * shows within 5 + 5 + 15 s, and the first answer after it returns makes the process healthy again.
 */
export class HealthMonitor {
  private readonly state = new Map<string, { lastOk?: number; lastError?: string; inFlight: boolean }>();
  private readonly started = Date.now();
  private timer?: NodeJS.Timeout;

  constructor(private readonly o: { checks: HealthCheck[]; engine: () => EngineHealth; intervalMs?: number; timeoutMs?: number; downAfterMs?: number }) {
    for (const c of o.checks) this.state.set(c.name, { inFlight: false });
  }

  start(): void {
    this.probeAll();
    this.timer = setInterval(() => this.probeAll(), this.o.intervalMs ?? 5000).unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  report(): HealthReport {
    const now = Date.now();
    const downAfter = this.o.downAfterMs ?? 15_000;
    const checks: Record<string, CheckState> = {};
    for (const [name, s] of this.state) {
      // Before its first answer a pending check counts from the start (grace); one whose probe failed is down at once.
      const ok = now - (s.lastOk ?? this.started) < downAfter && (s.lastOk !== undefined || s.lastError === undefined);
      checks[name] = { ok, ...(s.lastOk !== undefined ? { lastOkAgoMs: now - s.lastOk } : {}), ...(!ok && s.lastError ? { error: s.lastError } : {}) };
    }
    const engine = this.o.engine();
    const healthy = Object.values(checks).every((c) => c.ok);
    return { status: healthy ? 'healthy' : 'unhealthy', ready: healthy && engine.ready, checks, engine };
  }

  private probeAll(): void {
    for (const c of this.o.checks) {
      const s = this.state.get(c.name)!;
      if (s.inFlight) continue; // a hung probe keeps ageing the last success; no pile-up behind it
      s.inFlight = true;
      const timeoutMs = this.o.timeoutMs ?? 5000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs); });
      Promise.race([c.probe(), timeout]).then(
        () => {
          s.lastOk = Date.now();
          s.lastError = undefined;
        },
        (err: Error) => {
          s.lastError = err.message.slice(0, 300);
        },
      ).finally(() => {
        clearTimeout(timer);
        s.inFlight = false;
      });
    }
  }
}

/**
 * The operations endpoints of every `run`: GET /healthz (200 healthy, 503 not: Kafka or the registry unreachable),
 * GET /readyz (200 once healthy and every task runs), GET /metrics (Prometheus text format) and the status page
 * (GET / and its data, GET /status.json). A handful of fixed GET routes, so node:http without a router.
 */
export async function startOpsServer(o: {
  host: string; port: number; health: HealthMonitor;
  metrics: () => Promise<{ contentType: string; body: string }>;
  /** The status page's data (GET /status.json); the page itself is GET /. */
  status: () => unknown;
}): Promise<{ url: string; stop(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && (path === '/' || path === '/status.json')) {
      const page = path === '/';
      res.writeHead(200, { 'content-type': page ? 'text/html; charset=utf-8' : 'application/json', 'cache-control': 'no-store' });
      res.end(page ? STATUS_PAGE : JSON.stringify(o.status()));
      return;
    }
    if (req.method === 'GET' && path === '/metrics') {
      o.metrics().then(({ contentType, body }) => {
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(body);
      }, (err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(`metrics unavailable: ${err.message}\n`);
      });
      return;
    }
    const report = o.health.report();
    const send = (ok: boolean) => {
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(report));
    };
    if (req.method === 'GET' && path === '/healthz') return send(report.status === 'healthy');
    if (req.method === 'GET' && path === '/readyz') return send(report.ready);
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: `no route ${req.method} ${path}`, routes: ['GET /', 'GET /status.json', 'GET /healthz', 'GET /readyz', 'GET /metrics'] }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'EADDRINUSE'
      ? new ConsentgateError('CONFIG_INVALID', `the operations port ${o.host}:${o.port} is in use (another consentgate run?): set CONSENTGATE_OPS_PORT (0: any free port)`)
      : err));
    server.listen(o.port, o.host, resolve);
  });
  const a = server.address() as AddressInfo;
  return { url: `http://${a.address}:${a.port}`, stop: () => new Promise<void>((r) => server.close(() => r())) };
}
