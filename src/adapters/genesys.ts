import platformClient from 'purecloud-platform-client-v2';
import { ConsentgateError } from '../errors.ts';
import type { Logger } from './logger.ts';

/** How to reach Genesys Cloud: a region (e.g. mypurecloud.ie) or a gateway base URL (the simulator, a proxy). */
export interface GenesysSettings {
  baseUrl?: string;
  region?: string;
  clientId: string;
  clientSecret: string;
  /** This client's own request budget; Genesys allows 3000/min per OAuth client and user, shared by every app. */
  requestsPerMinute: number;
  /** Attempts for a call failing with 5xx or a network error; 429s are waited out until `rateLimitDeadlineMs`. */
  maxAttempts: number;
  rateLimitDeadlineMs: number;
  timeoutMs: number;
}

// The SDK's typings describe plain responses; with extended responses on, every call resolves {status, headers, body}.
type SdkApi = Record<string, (...args: unknown[]) => Promise<unknown>>;
export interface GenesysApis {
  notifications: SdkApi;
  analytics: SdkApi;
  externalContacts: SdkApi;
  conversations: SdkApi;
  integrations: SdkApi;
  oauth: SdkApi;
  audit: SdkApi;
  gdpr: SdkApi;
}

interface Extended {
  status?: number;
  headers?: Record<string, string>;
  body?: unknown;
  code?: string;
  message?: string;
  response?: { status: number; headers: Record<string, string>; data: unknown };
}

export interface GenesysStats {
  requests: number;
  logins: number;
  retries: number;
  rateLimited: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Seconds → ms from Retry-After, else from inin-ratelimit-reset; undefined when neither says. */
export function retryAfterMs(headers: Record<string, string> | undefined): number | undefined {
  const h = headers ?? {};
  for (const name of ['retry-after', 'inin-ratelimit-reset']) {
    const v = Number(h[name]);
    if (h[name] !== undefined && Number.isFinite(v) && v >= 0) return v * 1000;
  }
  return undefined;
}

/**
 * The Genesys Cloud client every connector shares: the official SDK (`purecloud-platform-client-v2`) with what it
 * lacks for a long-running service. It logs in with client credentials and logs in again before the token
 * expires and after any 401 (the SDK refreshes only code-grant tokens); it retries 429 after Retry-After and 5xx
 * or network failures with exponential backoff (the JS SDK retries nothing); and it keeps to a request budget
 * and to the server's `inin-ratelimit-*` window. Errors leave as ConsentgateError with a GENESYS_* code.
 */
export class GenesysClient {
  readonly apis: GenesysApis;
  readonly stats: GenesysStats = { requests: 0, logins: 0, retries: 0, rateLimited: 0 };
  private readonly sdk: any;
  private tokenExpiresAt = 0;
  private tokenTtlMs = 0;
  private login?: Promise<void>;
  private readonly sent: number[] = [];
  private blockedUntil = 0;

  constructor(private readonly settings: GenesysSettings, private readonly logger: Logger, private readonly now: () => number = Date.now) {
    const pc = platformClient as any;
    this.sdk = new pc.ApiClientClass();
    this.sdk.config.live_reload_config = false;
    this.sdk.config.logger.log_level = 0;
    this.sdk.setReturnExtendedResponses(true);
    this.sdk.timeout = settings.timeoutMs;
    if (settings.baseUrl) {
      const u = new URL(settings.baseUrl);
      this.sdk.setGateway({ host: u.hostname, protocol: u.protocol.replace(':', ''), port: u.port ? Number(u.port) : -1 });
    } else if (settings.region) {
      this.sdk.setEnvironment(settings.region);
    }
    const api = (Ctor: new (c: unknown) => SdkApi) => new Ctor(this.sdk);
    this.apis = {
      notifications: api(pc.NotificationsApi),
      analytics: api(pc.AnalyticsApi),
      externalContacts: api(pc.ExternalContactsApi),
      conversations: api(pc.ConversationsApi),
      integrations: api(pc.IntegrationsApi),
      oauth: api(pc.OAuthApi),
      audit: api(pc.AuditApi),
      gdpr: api(pc.GeneralDataProtectionRegulationApi),
    };
  }

  /** Logs in now (once, however many callers ask at the same time). */
  ensureLoggedIn(force = false): Promise<void> {
    const margin = Math.min(60_000, this.tokenTtlMs * 0.2);
    if (!force && this.tokenExpiresAt - margin > this.now()) return Promise.resolve();
    this.login ??= this.doLogin().finally(() => (this.login = undefined));
    return this.login;
  }

  private async doLogin(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const started = this.now();
        const auth = await this.sdk.loginClientCredentialsGrant(this.settings.clientId, this.settings.clientSecret);
        this.stats.logins++;
        this.tokenTtlMs = Math.max(0, auth.tokenExpiryTime - Date.now());
        this.tokenExpiresAt = started + this.tokenTtlMs;
        return;
      } catch (err) {
        const e = err as Extended;
        const status = e.response?.status;
        if (status === 400 || status === 401 || status === 403) {
          throw new ConsentgateError('GENESYS_AUTH_FAILED', `client-credentials login for client ${this.settings.clientId} refused (HTTP ${status}): check GENESYS_CLIENT_ID/SECRET and the region`);
        }
        if (attempt >= this.settings.maxAttempts) {
          throw new ConsentgateError('GENESYS_UNAVAILABLE', `login failed ${attempt} times: ${status ? `HTTP ${status}` : e.code ?? e.message}`, true);
        }
        this.stats.retries++;
        await sleep(status === 429 ? (retryAfterMs(e.response?.headers) ?? 1000) : this.backoff(attempt));
      }
    }
  }

  private backoff(attempt: number): number {
    const base = Math.min(10_000, 200 * 2 ** (attempt - 1));
    return base / 2 + Math.random() * (base / 2);
  }

  /** Requests the own per-minute budget still allows now (0 while the server says its window is spent). */
  get remainingBudget(): number {
    const t = this.now();
    if (this.blockedUntil > t) return 0;
    return Math.max(0, this.settings.requestsPerMinute - this.sent.filter((at) => at > t - 60_000).length);
  }

  /** Waits for room in the own per-minute budget and outside a window the server said is spent. */
  private async budget(): Promise<void> {
    for (;;) {
      const t = this.now();
      while (this.sent.length && this.sent[0]! <= t - 60_000) this.sent.shift();
      const wait = Math.max(this.blockedUntil - t, this.sent.length >= this.settings.requestsPerMinute ? this.sent[0]! + 60_000 - t : 0);
      if (wait <= 0) {
        this.sent.push(t);
        return;
      }
      await sleep(wait);
    }
  }

  private observeWindow(headers: Record<string, string> | undefined): void {
    const allowed = Number(headers?.['inin-ratelimit-allowed']);
    const count = Number(headers?.['inin-ratelimit-count']);
    const reset = Number(headers?.['inin-ratelimit-reset']);
    if (allowed > 0 && count >= allowed && reset >= 0) this.blockedUntil = Math.max(this.blockedUntil, this.now() + reset * 1000);
  }

  /**
   * Runs one SDK call with login, budget and retries; resolves its body. `op` names the call in errors and logs
   * (never its arguments, which may hold personal data).
   */
  async call<T>(op: string, fn: (apis: GenesysApis) => Promise<unknown>): Promise<T> {
    const started = this.now();
    let relogins = 0;
    for (let attempt = 1; ; attempt++) {
      await this.ensureLoggedIn();
      await this.budget();
      this.stats.requests++;
      let res: Extended;
      try {
        res = (await fn(this.apis)) as Extended;
        this.observeWindow(res.headers);
        return res.body as T;
      } catch (err) {
        res = err as Extended;
      }
      this.observeWindow(res.headers);
      const status = res.status;
      if (status === 401 && relogins < 2) {
        relogins++;
        await this.ensureLoggedIn(true);
        continue;
      }
      if (status === 429) {
        this.stats.rateLimited++;
        if (this.now() - started > this.settings.rateLimitDeadlineMs) {
          throw new ConsentgateError('GENESYS_UNAVAILABLE', `${op}: still rate-limited (429) after ${this.settings.rateLimitDeadlineMs} ms`, true);
        }
        const wait = retryAfterMs(res.headers) ?? this.backoff(attempt);
        this.logger.debug({ op, waitMs: wait }, 'genesys rate limit: waiting as Retry-After says');
        this.blockedUntil = Math.max(this.blockedUntil, this.now() + wait);
        continue;
      }
      const transient = status === undefined || status === 408 || status >= 500;
      if (transient && attempt < this.settings.maxAttempts) {
        this.stats.retries++;
        const wait = this.backoff(attempt);
        this.logger.debug({ op, status: status ?? res.code, attempt, waitMs: Math.round(wait) }, 'genesys call failed: retrying');
        await sleep(wait);
        continue;
      }
      const body = res.body as { message?: string; code?: string } | undefined;
      const detail = status ? `HTTP ${status}${body?.code ? ` ${body.code}` : ''}${body?.message ? `: ${body.message}` : ''}` : (res.code ?? res.message ?? 'network error');
      if (transient) throw new ConsentgateError('GENESYS_UNAVAILABLE', `${op} failed after ${attempt} attempts: ${detail}`, true);
      throw Object.assign(new ConsentgateError(status === 401 ? 'GENESYS_AUTH_FAILED' : 'GENESYS_REJECTED', `${op}: ${detail}`), { status });
    }
  }
}
