import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { createKafka } from '../../src/adapters/kafka.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { readTopic } from '../../src/adapters/topicReader.ts';
import { loadDefinitions, PROJECT_ROOT, topologySerdes } from '../../src/app.ts';
import { freePort } from '../../src/devstack/process.ts';
import type { Channel, ConsentEvent, ConversationRecord, Purpose } from '../../src/domain/types.ts';
import { conversation, testConfig, testEnv, waitFor } from './pipeline.ts';

/** A `consentgate` command (the compiled bin) on the topics of `prefix`, with the test environment: exit code and output. */
export function runCli(args: string[], prefix: string, env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [resolve(PROJECT_ROOT, 'bin/consentgate.js'), ...args], { env: { ...process.env, ...testEnv(prefix, env) }, timeout: 120_000 }, (err, stdout, stderr) =>
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** `consentgate run` in a child process, on topics of its own, with its operations port. */
export interface RunProcess {
  prefix: string;
  opsPort: number;
  child: ChildProcess;
  /** The last 20 kB of its stderr. */
  stderr(): string;
  /** SIGTERM, and its exit code. */
  stop(): Promise<number | null>;
}

/** Starts `consentgate run` (the compiled bin) and resolves once GET /readyz answers 200; fails early if it exits. */
export async function startRun(o: { prefix?: string; workers?: number; env?: Record<string, string> } = {}): Promise<RunProcess> {
  const prefix = o.prefix ?? `r${randomUUID().slice(0, 8)}.`;
  const opsPort = await freePort();
  const env = testEnv(prefix, { CONSENTGATE_OPS_PORT: String(opsPort), CONSENTGATE_WORKERS: String(o.workers ?? 1), ...o.env });
  const child = spawn(process.execPath, [resolve(PROJECT_ROOT, 'bin/consentgate.js'), 'run'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const ready = async () => {
    if (child.exitCode !== null) throw new Error(`run exited ${child.exitCode}`);
    return (await fetch(`http://127.0.0.1:${opsPort}/readyz`).catch(() => undefined))?.status === 200;
  };
  await waitFor('run ready', ready, 120_000).catch((e: Error) => {
    child.kill('SIGKILL');
    throw new Error(`${e.message}\n${stderr}`);
  });
  return {
    prefix, opsPort, child,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Scrapes GET /metrics: series (as written) → value. */
export async function scrape(opsPort: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${opsPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

/**
 * A test-side client of a pipeline's topics (its own connections, as a producer upstream and a consumer downstream
 * would have): produces consent and conversation records, reads what the pipeline wrote.
 */
export async function topicsOf(prefix: string) {
  const config = testConfig(prefix);
  const { topology } = loadDefinitions(config);
  const kafka = createKafka(config.kafka, createLogger('error'));
  const serdes = await topologySerdes(config, topology);
  const name = (logical: string) => topology.topic(logical).name;
  const producer = kafka.producer({ idempotent: true });
  await producer.connect();
  const send = (logical: string, key: string, value: Buffer) => producer.send({ topic: name(logical), messages: [{ key, value }] });
  return {
    name,
    consent: (customerId: string, purposes: Partial<Record<Purpose, boolean>>, channel: Channel | null = null) => send('consent.events', customerId, serdes.forTopic<ConsentEvent>('consent.events').encode({
      eventId: randomUUID(), customerId, capturedAt: Date.now(), source: 'WEB',
      purposes: Object.entries(purposes).map(([purpose, granted]) => ({ purpose: purpose as Purpose, granted: granted!, channel })),
    })),
    record: (customerId: string, overrides: Partial<ConversationRecord> = {}) => send('genesys.conversations', customerId, serdes.forTopic('genesys.conversations').encode(conversation(customerId, overrides))),
    read: async <T>(logical: string) => Promise.all((await readTopic(kafka, name(logical))).map(async (raw) => ({ raw, value: (await serdes.forTopic(logical).decode(raw.value)) as T }))),
    malformed: (customerId: string) => send('genesys.conversations', customerId, Buffer.from('not avro at all')),
    count: async (logical: string) => (await readTopic(kafka, name(logical))).length,
    close: () => producer.disconnect(),
  };
}

/**
 * Traffic that exercises every kind of metric: `customers` grant every purpose, each gets `perCustomer` records
 * (forwarded to every sink), then the first withdraws marketing (opt-out propagation, a purge command to the CRM's
 * vendor) and one malformed record is dead-lettered. Resolves once every record is decided.
 */
export async function sendTraffic(prefix: string, o: { customers?: number; perCustomer?: number } = {}): Promise<{ records: number; customers: string[] }> {
  const t = await topicsOf(prefix);
  const customers = Array.from({ length: o.customers ?? 5 }, (_, i) => `cust-${randomUUID()}-${i}`);
  for (const c of customers) await t.consent(c, { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
  for (let i = 0; i < (o.perCustomer ?? 4); i++) for (const c of customers) await t.record(c);
  const records = customers.length * (o.perCustomer ?? 4);
  await waitFor('records decided', async () => (await t.count('audit.decisions')) >= records * 3, 60_000);
  await t.consent(customers[0]!, { MARKETING: false });
  await t.malformed(customers[1]!);
  await waitFor('the purge command sent', async () => (await t.count('purge.commands')) >= 1, 60_000);
  await waitFor('the malformed record dead-lettered', async () => (await t.count('dlq')) >= 1, 60_000);
  await t.close();
  return { records, customers };
}
