import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';

const csv = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);

export const CONNECTORS = ['notifications', 'eventbridge-http', 'eventbridge-topic', 'consent-intake', 'writeback', 'integrations', 'session-executor', 'dpia', 'analytics-store', 'evidence-store'] as const;
export type ConnectorName = (typeof CONNECTORS)[number];
/** Connectors that call Genesys Cloud, so need its credentials. */
export const GENESYS_CONNECTORS: readonly ConnectorName[] = ['notifications', 'writeback', 'integrations', 'session-executor'];

export const DEFAULT_TOPICS = [
  'v2.detail.events.conversation.{id}.customer.start',
  'v2.detail.events.conversation.{id}.customer.end',
  'v2.externalcontacts.contacts.{id}',
  'v2.audits.entitytype.OAuthClient.entityid.{id}',
  'v2.audits.entitytype.Integration.entityid.{id}',
];

/** A URL setting: "required" only when it is missing, "not a URL" when it is something else. */
const url = (setting: string, example: string) =>
  z.url({ error: (iss) => (iss.input === undefined ? `required: set ${setting} (e.g. ${example})` : `not a URL: ${String(iss.input)} (set ${setting} to one, e.g. ${example})`) });

/** A file setting: a path this process can read (a PEM file of a CA, a certificate, a key). */
const readableFile = (setting: string) =>
  z.string().min(1).refine((path) => {
    try {
      accessSync(path, constants.R_OK);
      return true;
    } catch {
      return false;
    }
  }, { error: (iss) => `cannot read ${String(iss.input)} (${setting})` });

const GenesysSchema = z
  .strictObject({
    baseUrl: url('GENESYS_BASE_URL', 'http://127.0.0.1:8089').optional(),
    region: z.string().min(1).optional(),
    clientId: z.string().min(1, 'required: set GENESYS_CLIENT_ID'),
    clientSecret: z.string().min(1, 'required: set GENESYS_CLIENT_SECRET'),
    requestsPerMinute: z.number().int().positive().default(1500),
    maxAttempts: z.number().int().positive().default(8),
    rateLimitDeadlineMs: z.number().int().positive().default(300_000),
    timeoutMs: z.number().int().positive().default(16_000),
    /** Notification topics; `{id}` subscribes to every id, as EventBridge filters do. */
    topics: z.array(z.string().min(1)).min(1).default(DEFAULT_TOPICS),
    /** How far before a gap backfill looks for conversations that may have produced events during it. */
    backfillLookbackMs: z.number().int().nonnegative().default(3_600_000),
    /** How often OAuth clients and integrations are listed to catch changes no audit event reported. */
    listingIntervalMs: z.number().int().positive().default(300_000),
  })
  .refine((g) => g.baseUrl || g.region, { message: 'set GENESYS_REGION (e.g. mypurecloud.ie) or GENESYS_BASE_URL' });

export const ConfigSchema = z.strictObject({
  kafka: z.strictObject({
    brokers: z
      .array(z.string().regex(/^[^:\s]+:\d+$/, 'expected host:port'), { error: 'required: set KAFKA_BROKERS (host:port,…)' })
      .min(1, 'required: set KAFKA_BROKERS (host:port,…)'),
    clientId: z.string().default('consentgate'),
    /** How long a command tries to reach the brokers (and the registry) before it gives up, naming the setting. */
    connectTimeoutMs: z.number().int().positive().default(15_000),
    /** TLS to the brokers; implied by any of the PEM files below. */
    ssl: z.boolean().default(false),
    /** The CA(s) that signed the brokers' certificates (default: the system's), and a client certificate for mutual TLS. */
    sslCaFile: readableFile('KAFKA_SSL_CA_FILE').optional(),
    sslCertFile: readableFile('KAFKA_SSL_CERT_FILE').optional(),
    sslKeyFile: readableFile('KAFKA_SSL_KEY_FILE').optional(),
    sasl: z
      .strictObject({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
        username: z.string().min(1),
        password: z.string().min(1),
      })
      .optional(),
  }).refine((k) => k.ssl || !(k.sslCaFile || k.sslCertFile || k.sslKeyFile), { error: 'KAFKA_SSL=false, yet a TLS file (KAFKA_SSL_CA_FILE, _CERT_FILE, _KEY_FILE) is set: say which you mean', path: ['ssl'] })
    .refine((k) => !k.sslCertFile === !k.sslKeyFile, { error: 'a client certificate needs its key and a key its certificate: set both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE', path: ['sslCertFile'] }),
  schemaRegistry: z.strictObject({
    url: url('SCHEMA_REGISTRY_URL', 'http://127.0.0.1:8080/apis/ccompat/v7'),
    username: z.string().optional(),
    password: z.string().optional(),
    /** The CA that signed an https registry's certificate (default: the system's). */
    caFile: readableFile('SCHEMA_REGISTRY_CA_FILE').optional(),
  }),
  /** Prepended to every topic name (and the application id), so several pipelines can share a cluster. */
  topicPrefix: z.string().regex(/^[A-Za-z0-9._-]*$/, 'letters, digits, . _ - only').default(''),
  topologyFile: z.string().default('topologies/consentgate.json'),
  policyFile: z.string().default('topologies/policy.json'),
  vendorsFile: z.string().default('topologies/vendors.json'),
  /**
   * How long one attempt waits for the consent partition to catch up with its end offsets before the task holds
   * its records (undecided, in order) and tries again.
   */
  consentWaitMs: z.number().int().positive().default(500),
  /** How long a record may be held before it is finally blocked CONSENT_UNCONFIRMED (default 15 minutes). */
  maxHoldMs: z.number().int().positive().default(900_000),
  /** Worker processes of `consentgate run` (default: one per CPU; see src/workers.ts). */
  workers: z.number().int().positive().max(256).optional(),
  /**
   * The least time between the starts of a task's transactions (Kafka Streams' commit.interval.ms): records that
   * arrive meanwhile wait for the next one, unless a full batch (maxBatchRecords) is queued; consent records are
   * applied on arrival all the same. A transaction costs the broker ~5 ms of CPU whatever it holds (measured: a
   * 2-core machine's broker took more than a core at 1,000 records/s when every task committed back to back).
   */
  commitIntervalMs: z.number().int().min(0).default(100),
  /** Upper bound of input records decided in one transaction. */
  maxBatchRecords: z.number().int().positive().default(2000),
  /** 32-byte hex secret for pseudonyms (HMAC) and field encryption (AES-256-GCM); required by such field rules. */
  fieldKey: z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex characters').optional(),
  /** How long a conversation may stay live after an END_SESSION command before the executor disconnects it. */
  sessionDisconnectAfterMs: z.number().int().nonnegative().default(30_000),
  /** Attempts of the session-command executor per command (each with the Genesys client's own retries) before FAILED. */
  sessionMaxAttempts: z.number().int().positive().default(5),
  /** Consumer session timeout: how soon a crashed instance's partitions move to another. */
  sessionTimeoutMs: z.number().int().min(6000).default(10_000),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** JSON lines (for collectors) or pretty (for a human at a terminal); the logger reads LOG_FORMAT itself. */
  logFormat: z.enum(['json', 'pretty']).default('json'),
  /** PostgreSQL for the key store (and later the DPIA store); embedded PGlite in `keyStoreDir` when unset. */
  databaseUrl: z.string().regex(/^postgres(ql)?:\/\//, 'expected postgres://…').optional(),
  keyStoreDir: z.string().default('.cache/keystore'),
  /** The DPIA store (append-only, hash-chained): PGlite directory when DATABASE_URL is unset, and its schema. */
  dpiaStoreDir: z.string().default('.cache/dpia'),
  dpiaStoreSchema: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a lower-case SQL identifier').default('consentgate_dpia'),
  /** PostgreSQL schema of the key store (one per deployment sharing a database). */
  keyStoreSchema: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a lower-case SQL identifier').default('consentgate'),
  /** 32-byte hex master key that wraps the per-customer data keys of crypto-shredded fields. */
  masterKey: z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex characters').optional(),
  /** Genesys Cloud: a region (mypurecloud.ie, usw2.pure.cloud, …) or a gateway base URL (the simulator). */
  genesys: GenesysSchema.optional(),
  /** Which connectors `consentgate run` starts beside the pipeline. */
  connectors: z.array(z.enum(CONNECTORS)).default([]),
  /**
   * HTTP intake (consent intake API, EventBridge API destination): listen address, the bearer token every request
   * needs, the erasure endpoint's own token, and a per-client rate limit. Closed by default: without a token it does
   * not start unless `insecureNoAuth` says so.
   */
  http: z.strictObject({
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8088),
    token: z.string().min(16).optional(),
    erasureToken: z.string().min(16).optional(),
    insecureNoAuth: z.boolean().default(false),
    rateLimitPerSecond: z.number().int().positive().default(500),
  }).default({ host: '127.0.0.1', port: 8088, insecureNoAuth: false, rateLimitPerSecond: 500 }),
  /**
   * The consent-aware analytics store (connector analytics-store, `consentgate analytics`, `export-store`): PostgreSQL
   * at DATABASE_URL (else an embedded PGlite in `dir`), the schema of the reader views (raw tables in <schema>_raw),
   * the role readers are granted, and the read API (GET /v1/analytics/records), which starts when a readers file
   * (name → sink and SHA-256 of the bearer token; `consentgate analytics token` writes it) is given.
   */
  analytics: z.strictObject({
    dir: z.string().default('.cache/analytics'),
    schema: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a lower-case SQL identifier').default('consentgate_analytics'),
    readerRole: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a lower-case SQL identifier').default('consentgate_analytics_reader'),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8090),
    readersFile: readableFile('CONSENTGATE_ANALYTICS_READERS').optional(),
  }).default({ dir: '.cache/analytics', schema: 'consentgate_analytics', readerRole: 'consentgate_analytics_reader', host: '127.0.0.1', port: 8090 }),
  /**
   * The evidence store (connector evidence-store, `consentgate evidence`): PostgreSQL at DATABASE_URL (else an
   * embedded PGlite in `dir`), its schema, and GET /v1/evidence/{customerId} on host:port, which starts when a token
   * is set (CONSENTGATE_EVIDENCE_TOKEN; a token of its own: a bundle is everything about one person).
   */
  evidence: z.strictObject({
    dir: z.string().default('.cache/evidence'),
    schema: z.string().regex(/^[a-z_][a-z0-9_]*$/, 'a lower-case SQL identifier').default('consentgate_evidence'),
    host: z.string().default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8091),
    token: z.string().min(16, 'at least 16 characters').optional(),
  }).default({ dir: '.cache/evidence', schema: 'consentgate_evidence', host: '127.0.0.1', port: 8091 }),
  /** The operations endpoints every `run` serves (GET /healthz, /readyz); port 0 takes any free port. */
  ops: z.strictObject({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(9465) }).default({ host: '127.0.0.1', port: 9465 }),
}).superRefine((c, ctx) => {
  const http = c.connectors.filter((n) => n === 'consent-intake' || n === 'eventbridge-http');
  if (http.length && !c.http.token && !c.http.insecureNoAuth) {
    ctx.addIssue({ code: 'custom', path: ['http', 'token'], message: `the HTTP intake (${http.join(', ')}) needs CONSENTGATE_INTAKE_TOKEN (16 or more characters); only for a local test, --insecure-no-auth (CONSENTGATE_INSECURE_NO_AUTH=1) lets anyone who reaches the port write consent and erase customers` });
  }
  const needGenesys = c.connectors.filter((n) => GENESYS_CONNECTORS.includes(n));
  if (needGenesys.length && !c.genesys) {
    ctx.addIssue({ code: 'custom', path: ['genesys'], message: `connectors ${needGenesys.join(', ')} need Genesys credentials: set GENESYS_CLIENT_ID, GENESYS_CLIENT_SECRET and GENESYS_REGION or GENESYS_BASE_URL` });
  }
});

export type Config = z.infer<typeof ConfigSchema>;

export type ConfigResult = { ok: true; config: Config } | { ok: false; problems: string[] };

function fromEnv(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const kafka: Record<string, unknown> = {};
  if (env.KAFKA_BROKERS) kafka.brokers = csv(env.KAFKA_BROKERS);
  if (env.KAFKA_SSL_CA_FILE) kafka.sslCaFile = env.KAFKA_SSL_CA_FILE;
  if (env.KAFKA_SSL_CERT_FILE) kafka.sslCertFile = env.KAFKA_SSL_CERT_FILE;
  if (env.KAFKA_SSL_KEY_FILE) kafka.sslKeyFile = env.KAFKA_SSL_KEY_FILE;
  if (env.KAFKA_SSL) kafka.ssl = env.KAFKA_SSL === 'true';
  else if (kafka.sslCaFile || kafka.sslCertFile) kafka.ssl = true;
  if (env.KAFKA_CONNECT_TIMEOUT_MS) kafka.connectTimeoutMs = Number(env.KAFKA_CONNECT_TIMEOUT_MS);
  if (env.KAFKA_SASL_MECHANISM) {
    kafka.sasl = { mechanism: env.KAFKA_SASL_MECHANISM, username: env.KAFKA_SASL_USERNAME, password: env.KAFKA_SASL_PASSWORD };
  }
  if (Object.keys(kafka).length) out.kafka = kafka;
  if (env.SCHEMA_REGISTRY_URL) {
    out.schemaRegistry = { url: env.SCHEMA_REGISTRY_URL, username: env.SCHEMA_REGISTRY_USERNAME, password: env.SCHEMA_REGISTRY_PASSWORD, caFile: env.SCHEMA_REGISTRY_CA_FILE || undefined };
  }
  if (env.CONSENTGATE_TOPIC_PREFIX !== undefined) out.topicPrefix = env.CONSENTGATE_TOPIC_PREFIX;
  if (env.CONSENTGATE_POLICY_FILE) out.policyFile = env.CONSENTGATE_POLICY_FILE;
  if (env.CONSENTGATE_FIELD_KEY) out.fieldKey = env.CONSENTGATE_FIELD_KEY;
  if (env.CONSENTGATE_CONSENT_WAIT_MS) out.consentWaitMs = Number(env.CONSENTGATE_CONSENT_WAIT_MS);
  if (env.CONSENTGATE_MAX_HOLD_MS) out.maxHoldMs = Number(env.CONSENTGATE_MAX_HOLD_MS);
  if (env.CONSENTGATE_WORKERS) out.workers = Number(env.CONSENTGATE_WORKERS);
  if (env.CONSENTGATE_COMMIT_INTERVAL_MS) out.commitIntervalMs = Number(env.CONSENTGATE_COMMIT_INTERVAL_MS);
  if (env.CONSENTGATE_MAX_BATCH_RECORDS) out.maxBatchRecords = Number(env.CONSENTGATE_MAX_BATCH_RECORDS);
  if (env.CONSENTGATE_SESSION_TIMEOUT_MS) out.sessionTimeoutMs = Number(env.CONSENTGATE_SESSION_TIMEOUT_MS);
  if (env.CONSENTGATE_SESSION_DISCONNECT_AFTER_MS) out.sessionDisconnectAfterMs = Number(env.CONSENTGATE_SESSION_DISCONNECT_AFTER_MS);
  if (env.CONSENTGATE_SESSION_MAX_ATTEMPTS) out.sessionMaxAttempts = Number(env.CONSENTGATE_SESSION_MAX_ATTEMPTS);
  if (env.LOG_LEVEL) out.logLevel = env.LOG_LEVEL;
  if (env.LOG_FORMAT) out.logFormat = env.LOG_FORMAT;
  if (env.DATABASE_URL) out.databaseUrl = env.DATABASE_URL;
  if (env.CONSENTGATE_KEYSTORE_DIR) out.keyStoreDir = env.CONSENTGATE_KEYSTORE_DIR;
  if (env.CONSENTGATE_DPIA_DIR) out.dpiaStoreDir = env.CONSENTGATE_DPIA_DIR;
  if (env.CONSENTGATE_DPIA_SCHEMA) out.dpiaStoreSchema = env.CONSENTGATE_DPIA_SCHEMA;
  if (env.CONSENTGATE_KEYSTORE_SCHEMA) out.keyStoreSchema = env.CONSENTGATE_KEYSTORE_SCHEMA;
  if (env.CONSENTGATE_MASTER_KEY) out.masterKey = env.CONSENTGATE_MASTER_KEY;
  const genesys: Record<string, unknown> = {};
  if (env.GENESYS_BASE_URL) genesys.baseUrl = env.GENESYS_BASE_URL;
  if (env.GENESYS_REGION) genesys.region = env.GENESYS_REGION;
  if (env.GENESYS_CLIENT_ID) genesys.clientId = env.GENESYS_CLIENT_ID;
  if (env.GENESYS_CLIENT_SECRET) genesys.clientSecret = env.GENESYS_CLIENT_SECRET;
  if (env.GENESYS_REQUESTS_PER_MINUTE) genesys.requestsPerMinute = Number(env.GENESYS_REQUESTS_PER_MINUTE);
  if (env.GENESYS_TOPICS) genesys.topics = csv(env.GENESYS_TOPICS);
  if (env.GENESYS_MAX_ATTEMPTS) genesys.maxAttempts = Number(env.GENESYS_MAX_ATTEMPTS);
  if (env.GENESYS_LISTING_INTERVAL_MS) genesys.listingIntervalMs = Number(env.GENESYS_LISTING_INTERVAL_MS);
  if (env.GENESYS_BACKFILL_LOOKBACK_MS) genesys.backfillLookbackMs = Number(env.GENESYS_BACKFILL_LOOKBACK_MS);
  if (Object.keys(genesys).length) out.genesys = genesys;
  if (env.CONSENTGATE_CONNECTORS !== undefined) out.connectors = csv(env.CONSENTGATE_CONNECTORS);
  const http: Record<string, unknown> = {};
  if (env.CONSENTGATE_HTTP_HOST) http.host = env.CONSENTGATE_HTTP_HOST;
  if (env.CONSENTGATE_HTTP_PORT) http.port = Number(env.CONSENTGATE_HTTP_PORT);
  if (env.CONSENTGATE_INTAKE_TOKEN) http.token = env.CONSENTGATE_INTAKE_TOKEN;
  if (env.CONSENTGATE_ERASURE_TOKEN) http.erasureToken = env.CONSENTGATE_ERASURE_TOKEN;
  if (env.CONSENTGATE_INSECURE_NO_AUTH !== undefined) http.insecureNoAuth = ['1', 'true', 'yes'].includes(env.CONSENTGATE_INSECURE_NO_AUTH.toLowerCase());
  if (env.CONSENTGATE_INTAKE_RATE_LIMIT) http.rateLimitPerSecond = Number(env.CONSENTGATE_INTAKE_RATE_LIMIT);
  if (Object.keys(http).length) out.http = http;
  const sections = {
    analytics: { CONSENTGATE_ANALYTICS_DIR: 'dir', CONSENTGATE_ANALYTICS_SCHEMA: 'schema', CONSENTGATE_ANALYTICS_ROLE: 'readerRole', CONSENTGATE_ANALYTICS_HOST: 'host', CONSENTGATE_ANALYTICS_PORT: '#port', CONSENTGATE_ANALYTICS_READERS: 'readersFile' },
    evidence: { CONSENTGATE_EVIDENCE_DIR: 'dir', CONSENTGATE_EVIDENCE_SCHEMA: 'schema', CONSENTGATE_EVIDENCE_HOST: 'host', CONSENTGATE_EVIDENCE_PORT: '#port', CONSENTGATE_EVIDENCE_TOKEN: 'token' },
    ops: { CONSENTGATE_OPS_HOST: 'host', CONSENTGATE_OPS_PORT: '#port' },
  };
  for (const [name, fields] of Object.entries(sections)) {
    const section: Record<string, unknown> = {};
    // '#key': a number.
    for (const [variable, key] of Object.entries(fields)) if (env[variable]) section[key.replace('#', '')] = key.startsWith('#') ? Number(env[variable]) : env[variable];
    if (Object.keys(section).length) out[name] = section;
  }
  return out;
}

function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = b && typeof b === 'object' && !Array.isArray(b) && v && typeof v === 'object' && !Array.isArray(v)
      ? merge(b as Record<string, unknown>, v as Record<string, unknown>)
      : v;
  }
  return out;
}

/**
 * Reads the optional JSON config file (`--config` or CONSENTGATE_CONFIG), overlays the environment, and validates
 * once. A bad config lists every problem, each with its path.
 */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; overrides?: Record<string, unknown> } = {}): ConfigResult {
  const env = opts.env ?? process.env;
  const file = opts.file ?? env.CONSENTGATE_CONFIG;
  let raw: Record<string, unknown> = {};
  if (file) {
    if (!existsSync(file)) return { ok: false, problems: [`config file ${file}: not found`] };
    try {
      raw = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      return { ok: false, problems: [`config file ${file}: ${(err as Error).message}`] };
    }
  }
  const merged = merge(merge(merge({ kafka: {}, schemaRegistry: {} }, raw), fromEnv(env)), opts.overrides ?? {});
  const parsed = ConfigSchema.safeParse(merged);
  if (parsed.success) return { ok: true, config: parsed.data };
  return { ok: false, problems: parsed.error.issues.flatMap(problemLines) };
}

/** One line per problem; an unknown key is named with the closest known one (a typo such as `kafak`). */
function problemLines(issue: z.core.$ZodIssue): string[] {
  const where = issue.path.join('.');
  if (issue.code !== 'unrecognized_keys') return [`${where || '(root)'}: ${issue.message}`];
  let shape: z.ZodType = ConfigSchema;
  for (const k of issue.path) shape = unwrap(shape).shape?.[String(k)] ?? shape;
  const known = Object.keys(unwrap(shape).shape ?? {});
  return issue.keys.map((key) => {
    const near = closest(key, known);
    return `${where ? `${where}.` : ''}${key}: unknown setting${near ? ` (did you mean ${where ? `${where}.` : ''}${near}?)` : ''}`;
  });
}

/** The object schema inside optional/default/refinement wrappers. */
function unwrap(t: z.ZodType): { shape?: Record<string, z.ZodType> } {
  let cur = t as unknown as { shape?: Record<string, z.ZodType>; unwrap?: () => z.ZodType; def?: { innerType?: z.ZodType } };
  for (let i = 0; i < 5 && !cur.shape; i++) {
    const inner = cur.def?.innerType ?? cur.unwrap?.();
    if (!inner) break;
    cur = inner as unknown as typeof cur;
  }
  return cur;
}

/** The known name within edit distance 2 of `name` (case-insensitive), if one is. */
function closest(name: string, known: string[]): string | undefined {
  let best: { k: string; d: number } | undefined;
  for (const k of known) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d <= 2 && (!best || d < best.d)) best = { k, d };
  }
  return best?.k;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** Only the Genesys settings (GENESYS_* in the environment), for commands that need no Kafka (dpia drift --genesys). */
export function loadGenesysConfig(env: NodeJS.ProcessEnv = process.env): { ok: true; genesys: z.infer<typeof GenesysSchema> } | { ok: false; problems: string[] } {
  const r = GenesysSchema.safeParse(fromEnv(env).genesys ?? {});
  if (r.success) return { ok: true, genesys: r.data };
  return { ok: false, problems: r.error.issues.map((i) => `genesys${i.path.length ? '.' + i.path.join('.') : ''}: ${i.message}`) };
}
