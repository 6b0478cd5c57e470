import { randomBytes, randomUUID } from 'node:crypto';
import { createKafka, openProducer, type InRecord, type OutRecord } from '../../src/adapters/kafka.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { readTopic } from '../../src/adapters/topicReader.ts';
import { applyTopology, createPipeline, type Pipeline } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import type { Clock } from '../../src/domain/clock.ts';
import type { ConsentEvent, ConversationRecord, Purpose, Channel } from '../../src/domain/types.ts';

export const FIELD_KEY = 'a1'.repeat(32);
export const MASTER_KEY = 'c3'.repeat(32);
export const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The HTTP intake's tokens in every test configuration (the intake is closed without one). */
export const INTAKE_TOKEN = 'test-intake-token-0123456789abcdef';
export const ERASURE_TOKEN = 'test-erasure-token-0123456789abcdef';

/** POSTs a JSON body to the intake as its clients do: JSON content type, bearer token (the intake's by default). */
export function postJson(url: string, body: unknown, token: string | null = INTAKE_TOKEN): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: typeof body === 'string' ? body : JSON.stringify(body) });
}

/** The environment of one test's pipeline (in this process or a child): the shared stack, its own prefix and key-store schema. */
export function testEnv(prefix: string, extra: Record<string, string> = {}): Record<string, string | undefined> {
  return {
    KAFKA_BROKERS: process.env.KAFKA_BROKERS,
    SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL,
    CONSENTGATE_TOPIC_PREFIX: prefix,
    CONSENTGATE_FIELD_KEY: FIELD_KEY,
    CONSENTGATE_MASTER_KEY: MASTER_KEY,
    DATABASE_URL,
    CONSENTGATE_KEYSTORE_SCHEMA: `ks_${prefix.replace(/[^a-z0-9]/gi, '').toLowerCase()}`,
    CONSENTGATE_SESSION_TIMEOUT_MS: '6000',
    CONSENTGATE_OPS_PORT: '0',
    CONSENTGATE_INTAKE_TOKEN: INTAKE_TOKEN,
    CONSENTGATE_ERASURE_TOKEN: ERASURE_TOKEN,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...extra,
  };
}

/** Config for one test: the shared broker and registry, and a topic prefix of its own. */
export function testConfig(prefix = `t${randomUUID().slice(0, 8)}.`, extra: Record<string, string> = {}): Config {
  const r = loadConfig({ env: testEnv(prefix, extra) });
  if (!r.ok) throw new Error(`test config: ${r.problems.join('; ')} (run through npm test, which starts the stack)`);
  return r.config;
}

export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Starts a pipeline on fresh topics and waits until its tasks run; a step that hangs fails, named, within 90 s. */
export async function startPipeline(config: Config, clock?: Clock): Promise<Pipeline> {
  const p = await step('creating the pipeline (broker, registry, key store)', createPipeline(config, createLogger(config.logLevel), clock));
  await step('applying topics', applyTopology(p.admin, p.topology));
  await step('starting the engine', p.engine.start());
  await waitFor('tasks running', () => p.engine.ready, 60_000);
  return p;
}

function step<T>(what: string, work: Promise<T>, ms = 90_000): Promise<T> {
  let timer: NodeJS.Timeout;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`startPipeline: ${what} did not finish within ${ms} ms`)), ms); });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

export type Producer = Awaited<ReturnType<typeof openProducer>>;

/** Test-side client: produces encoded inputs and reads decoded outputs of a pipeline's topics. */
export class TopicClient {
  private constructor(readonly pipeline: Pipeline, private readonly producer: Producer) {}

  static async open(pipeline: Pipeline): Promise<TopicClient> {
    return new TopicClient(pipeline, await openProducer(pipeline.kafka));
  }

  name(logical: string): string {
    return this.pipeline.topology.topic(logical).name;
  }

  async consent(customerId: string, purposes: Partial<Record<Purpose, boolean>>, opts: { capturedAt?: number; channel?: Channel | null } = {}): Promise<ConsentEvent> {
    const e: ConsentEvent = {
      eventId: randomUUID(),
      customerId,
      capturedAt: opts.capturedAt ?? Date.now(),
      source: 'WEB',
      purposes: Object.entries(purposes).map(([purpose, granted]) => ({ purpose: purpose as Purpose, granted: granted!, channel: opts.channel ?? null })),
    };
    await this.send([{ topic: this.name('consent.events'), key: customerId, value: this.pipeline.serdes.forTopic('consent.events').encode(e) }]);
    return e;
  }

  async record(customerId: string | null, overrides: Partial<ConversationRecord> = {}, topic = 'genesys.conversations'): Promise<ConversationRecord> {
    const r = conversation(customerId, overrides);
    const value = topic === 'genesys.exports'
      ? this.pipeline.serdes.forTopic('genesys.exports').encode({ ...r, exportJobId: 'job-1', exportVersion: 3 })
      : this.pipeline.serdes.forTopic(topic).encode(r);
    await this.send([{ topic: this.name(topic), key: customerId ?? r.conversationId, value }]);
    return r;
  }

  send(records: OutRecord[]): Promise<void> {
    return this.producer.send(records);
  }

  async read<T>(logical: string): Promise<{ raw: InRecord; value: T }[]> {
    const rs = await readTopic(this.pipeline.kafka, this.name(logical));
    return Promise.all(rs.map(async (raw) => ({ raw, value: (await this.pipeline.serdes.forTopic(logical).decode(raw.value)) as T })));
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}

export function conversation(customerId: string | null, overrides: Partial<ConversationRecord> = {}): ConversationRecord {
  return {
    recordId: randomUUID(),
    conversationId: `conv-${randomBytes(4).toString('hex')}`,
    customerId,
    channel: 'VOICE',
    occurredAt: Date.now(),
    kind: 'segment',
    participants: [{ participantId: 'p1', purpose: 'customer', name: 'Ann Example', address: 'tel:+15550001', userId: null }],
    ani: '+15550001',
    dnis: '+18005550100',
    attributes: { email: 'ann@example.com' },
    transcript: 'I would like to cancel my order',
    ...overrides,
  };
}

export { createKafka };
