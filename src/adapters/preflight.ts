// Before a command works with Kafka or the schema registry: can it reach them? A failure names the setting and the
// address and comes within the configured timeout, instead of kafkajs' retries logging a line each for ~20 s.
import type { Config } from '../config.ts';
import { ConsentgateError, errorChain } from '../errors.ts';
import { Kafka, kafkaConnection, logLevel } from './kafka.ts';
import { certificateProblem, fetchTrusting } from './tls.ts';

/** A quiet client for these checks: no retries of its own, no log lines. */
const quietKafka = (cfg: Config['kafka']) => new Kafka({
  clientId: `${cfg.clientId}-preflight`, ...kafkaConnection(cfg),
  logLevel: logLevel.NOTHING, connectionTimeout: Math.min(cfg.connectTimeoutMs, 5000), retry: { retries: 0 },
});

/** Connects to the brokers (retrying while they start) until `kafka.connectTimeoutMs` has passed. */
export async function checkKafka(cfg: Config['kafka']): Promise<void> {
  const deadline = Date.now() + cfg.connectTimeoutMs;
  const kafka = quietKafka(cfg);
  let last: Error | undefined;
  while (Date.now() < deadline) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      await admin.describeCluster();
      return;
    } catch (err) {
      last = err as Error;
      const refused = setupProblem(cfg, err);
      if (refused) throw refused;
      await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }
  const why = (last as { cause?: Error } | undefined)?.cause?.message ?? last?.message ?? 'no answer';
  // A TLS listener answers a plaintext client by closing the connection; a SASL one, one that does not authenticate too.
  const hint = /closed/i.test(why) && (!cfg.ssl || !cfg.sasl) ? ` — does its listener take ${cfg.ssl ? 'SASL (KAFKA_SASL_MECHANISM)' : 'TLS (KAFKA_SSL=true)'}?` : ' — is it running? (consentgate dev up starts a local one)';
  throw new ConsentgateError('KAFKA_UNAVAILABLE', `cannot reach Kafka at ${cfg.brokers.join(',')} (KAFKA_BROKERS) within ${cfg.connectTimeoutMs / 1000} s: ${why}${hint}`);
}

/**
 * A connection the brokers answered but refused — the SASL credentials, or a TLS certificate this client does not
 * trust — which waiting does not mend: said at once, naming the settings to fix.
 */
export function setupProblem(cfg: Config['kafka'], err: unknown): ConsentgateError | undefined {
  const at = `Kafka at ${cfg.brokers.join(',')} (KAFKA_BROKERS)`;
  const tls = certificateProblem(err);
  if (tls) {
    return new ConsentgateError('CONFIG_INVALID', `${at}: ${tls} — set KAFKA_SSL_CA_FILE to the PEM file of the CA that signed the brokers' certificates${cfg.ssl ? '' : ', or KAFKA_SSL=false for a plaintext listener'}`);
  }
  for (const e of errorChain(err)) {
    if (e.name === 'KafkaJSSASLAuthenticationError') {
      const who = cfg.sasl ? `the SASL credentials of user "${cfg.sasl.username}" (${cfg.sasl.mechanism})` : 'the connection';
      return new ConsentgateError('CONFIG_INVALID', `${at} refused ${who}: ${e.message} — check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD`);
    }
  }
  return undefined;
}

/** Fails naming the first of `topics` that does not exist (a command that reads or writes them, not creates them). */
export async function checkTopics(cfg: Config['kafka'], topics: string[]): Promise<void> {
  const admin = quietKafka(cfg).admin();
  try {
    await admin.connect();
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length) {
      throw new ConsentgateError('CONFIG_INVALID', `topic ${missing.join(', ')} does not exist: create the topology's topics with \`consentgate topics apply\` (with the same CONSENTGATE_TOPIC_PREFIX)`);
    }
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * checkRegistry, waiting while the registry cannot be reached or answers 5xx (not while it says the URL or the
 * credentials are wrong): `consentgate run` started during a registry outage starts once it is back.
 */
export async function waitForRegistry(cfg: Config['schemaRegistry'], timeoutMs: number, say: (message: string) => void): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await checkRegistry(cfg, timeoutMs);
    } catch (err) {
      if (!(err instanceof ConsentgateError) || err.code !== 'SCHEMA_REGISTRY_UNAVAILABLE') throw err;
      const delay = Math.min(15_000, 1000 * 2 ** attempt);
      say(`${err.message}; waiting for it, next try in ${delay / 1000} s`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** Asks the registry for its subjects: unreachable, or no Confluent-compatible API at that URL, is said as such. */
export async function checkRegistry(cfg: Config['schemaRegistry'], timeoutMs: number): Promise<void> {
  const url = cfg.url.replace(/\/+$/, '');
  const headers: Record<string, string> = cfg.username ? { authorization: `Basic ${Buffer.from(`${cfg.username}:${cfg.password ?? ''}`).toString('base64')}` } : {};
  let res: Awaited<ReturnType<ReturnType<typeof fetchTrusting>>>;
  try {
    res = await fetchTrusting(cfg)(`${url}/subjects`, { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const tls = certificateProblem(err);
    if (tls) throw new ConsentgateError('CONFIG_INVALID', `the schema registry at ${url} (SCHEMA_REGISTRY_URL): ${tls} — set SCHEMA_REGISTRY_CA_FILE to the PEM file of the CA that signed it`);
    const why = (err as { cause?: Error }).cause?.message ?? (err as Error).message;
    throw new ConsentgateError('SCHEMA_REGISTRY_UNAVAILABLE', `cannot reach the schema registry at ${url} (SCHEMA_REGISTRY_URL) within ${timeoutMs / 1000} s: ${why} — is it running? (consentgate dev up starts a local one)`);
  }
  if (res.status === 404) {
    throw new ConsentgateError('CONFIG_INVALID', `no schema registry API at ${url} (SCHEMA_REGISTRY_URL): GET /subjects answered 404 — Apicurio serves the Confluent API under /apis/ccompat/v7`);
  }
  if (res.status === 401 || res.status === 403) {
    throw new ConsentgateError('CONFIG_INVALID', `the schema registry at ${url} refused the credentials (${res.status}): set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD`);
  }
  if (!res.ok) throw new ConsentgateError('SCHEMA_REGISTRY_UNAVAILABLE', `the schema registry at ${url} (SCHEMA_REGISTRY_URL) answered ${res.status} to GET /subjects`);
}
