// Replay after a policy change (issue 14), the composition: the generation log, cutover markers, the dry run and
// the replay engine. The pure part is in domain/replay.ts, the processor in processors/replay.ts, the graph in
// topology.ts (replayGraph); the command line in cli/replay.ts.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createFieldTransforms, NO_KEY_TRANSFORMS } from './adapters/fieldCrypto.ts';
import { applyTopics, committedOffsets, createKafka, openProducer, topicOffsets, type Admin, type Kafka } from './adapters/kafka.ts';
import type { KeyStore } from './adapters/keyStore.ts';
import type { Logger } from './adapters/logger.ts';
import { registerSchemas, type SerdeRegistry } from './adapters/schemaRegistry.ts';
import { shredSeal } from './adapters/shredding.ts';
import { scanTopic, type PartitionOffsets } from './adapters/topicReader.ts';
import { applyTopology, loadDefinitions, missingKeys, openConfiguredKeyStore, PROJECT_ROOT, systemClock, topologySerdes } from './app.ts';
import type { Config } from './config.ts';
import { shreddingSinks, type Policy } from './domain/policy.ts';
import { changeOf, emptyTally, tallyRecord, type PolicyCutover, type ReplayChange, type ReplayTally } from './domain/replay.ts';
import type { SinkRecord } from './domain/fieldRules.ts';
import type { ConsentState, ConversationRecord, Decision } from './domain/types.ts';
import { checkConversationRecord } from './domain/validation.ts';
import { ConsentgateError } from './errors.ts';
import { cutoverMarker } from './processors/enforcement.ts';
import type { Retraction } from './processors/purge.ts';
import { Engine } from './runtime/engine.ts';
import { CONTROL_HEADER, isControl, type InRecord } from './runtime/records.ts';
import { generationTopic, parsePolicy, type Topology } from './runtime/topology.ts';
import { replayTopology, type ConsentgateDeps, type ReplayGraphDeps } from './topology.ts';

/** The record topics a replay decides again. */
export const RECORD_TOPICS = ['genesys.conversations', 'genesys.exports'] as const;

export type GenerationStatus = 'REPLAYING' | 'COMPLETE' | 'RETIRED' | 'DELETED';

/** policy.generations: one record per generation, the last one per key is its state. */
export interface GenerationRecord {
  generation: number;
  policyVersion: string;
  policy: string;
  replayId: string;
  from: string;
  status: GenerationStatus;
  previousGeneration: number;
  previousPolicyVersion: string;
  startedAt: number;
  completedAt: number | null;
  retiredAt: number | null;
  deleteAfter: number | null;
  supersededExports: string[];
}

/** What a replay needs open: Kafka, the live topology and its serdes. */
export interface ReplayContext {
  config: Config;
  kafka: Kafka;
  admin: Admin;
  topology: Topology<ConsentgateDeps>;
  /** The configured policy (the live one until a generation log says otherwise). */
  configured: Policy;
  serdes: SerdeRegistry;
  logger: Logger;
}

export async function openReplayContext(config: Config, logger: Logger): Promise<ReplayContext & { close(): Promise<void> }> {
  const { topology, policy } = loadDefinitions(config);
  const kafka = createKafka(config.kafka, logger);
  const admin = kafka.admin();
  await admin.connect();
  try {
    await applyTopology(admin, topology, { sinkGeneration: null }); // policy.generations and the other topics of this version, if missing
    const serdes = await topologySerdes(config, topology);
    return { config, kafka, admin, topology, configured: policy, serdes, logger, close: () => admin.disconnect() };
  } catch (err) {
    await admin.disconnect();
    throw err;
  }
}

/** A policy file for a new generation: valid against the topology, with the keys it needs configured. */
export function loadNewPolicy(c: Pick<ReplayContext, 'config' | 'topology'>, file: string): { policy: Policy; text: string } {
  let text: string;
  try {
    text = readFileSync(resolve(file), 'utf8');
  } catch (err) {
    throw new ConsentgateError('CONFIG_INVALID', `--policy ${file}: ${(err as Error).message}`);
  }
  try {
    const policy = parsePolicy(text, file, c.topology);
    const problems = missingKeys(policy, c.config);
    if (problems.length) throw new Error(problems.join('; '));
    return { policy, text };
  } catch (err) {
    if (err instanceof ConsentgateError) throw err;
    throw new ConsentgateError('CONFIG_INVALID', (err as Error).message);
  }
}

type Topics = Pick<ReplayContext, 'kafka' | 'topology' | 'serdes'>;

/** Every value of a topic (tombstones skipped), decoded with its serde, in offset order per partition; none when it does not exist yet. */
async function scanValues<T>(c: Topics, logical: string, each: (value: T) => void, onRecords?: (n: number) => void): Promise<void> {
  const serde = c.serdes.forTopic<T>(logical);
  await scanTopic(c.kafka, c.topology.topic(logical).name, async (records) => {
    for (const r of records) if (r.value) each(await serde.decode(r.value));
    onRecords?.(records.length);
  }, { timeoutMs: 60_000, missingOk: true });
}

/** The generation log: the last record of each generation. */
export async function readGenerations(c: Topics): Promise<Map<number, GenerationRecord>> {
  const out = new Map<number, GenerationRecord>();
  await scanValues<GenerationRecord>(c, 'policy.generations', (g) => out.set(g.generation, g));
  return out;
}

export async function writeGeneration(c: Topics, g: GenerationRecord): Promise<void> {
  const producer = await openProducer(c.kafka);
  try {
    await producer.send([{ topic: c.topology.topic('policy.generations').name, key: String(g.generation), value: c.serdes.forTopic<GenerationRecord>('policy.generations').encode(g) }]);
  } finally {
    await producer.close();
  }
}

/**
 * The generation the live pipeline serves (or is switching to): the newest in the log that is not retired, else
 * the configured policy's.
 */
export function liveGeneration(c: Pick<ReplayContext, 'configured' | 'topology'>, log: Map<number, GenerationRecord>): { policy: Policy; record?: GenerationRecord } {
  const newest = [...log.values()].filter((g) => g.status !== 'RETIRED' && g.status !== 'DELETED' && g.generation > c.configured.generation).sort((a, b) => b.generation - a.generation)[0];
  return newest ? { policy: parsePolicy(newest.policy, `policy generation ${newest.generation} (policy.generations)`, c.topology), record: newest } : { policy: c.configured };
}

/** Where the live pipeline cut each partition of the record topics over, as "topic:partition" → the newest cutover. */
export async function readCutovers(c: Topics): Promise<Map<string, PolicyCutover>> {
  const out = new Map<string, PolicyCutover>();
  await scanValues<PolicyCutover>(c, 'policy.cutovers', (cut) => {
    const key = `${cut.topic}:${cut.partition}`;
    if ((out.get(key)?.generation ?? 0) <= cut.generation) out.set(key, cut);
  });
  return out;
}

/** Every partition of the record topics, as "topic:partition" keys (physical topic names). */
export function recordPartitions(t: Topology): { topic: string; partition: number; key: string }[] {
  return RECORD_TOPICS.flatMap((l) => {
    const def = t.topic(l);
    return Array.from({ length: def.partitions }, (_, partition) => ({ topic: def.name, partition, key: `${def.name}:${partition}` }));
  });
}

/** Where each partition of a record topic starts for `--from`: its log start (earliest) or the first record at or after a time. */
export async function startOffsets(c: Pick<ReplayContext, 'admin' | 'topology'>, from: number | 'earliest'): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  for (const l of RECORD_TOPICS) {
    const topic = c.topology.topic(l).name;
    const bounds = await topicOffsets(c.admin, topic);
    const byTime = from === 'earliest' ? undefined : new Map((await c.admin.fetchTopicOffsetsByTimestamp(topic, from)).map((s) => [s.partition, BigInt(s.offset)]));
    for (const [p, { low, high }] of bounds) {
      const at = byTime?.get(p);
      out.set(`${topic}:${p}`, at === undefined ? low : at < 0n ? high : at < low ? low : at);
    }
  }
  return out;
}

const partitionOffsets = (m: Map<string, bigint>, topic: string): PartitionOffsets =>
  new Map([...m].filter(([k]) => k.startsWith(`${topic}:`) && !k.slice(topic.length + 1).includes(':')).map(([k, v]) => [Number(k.slice(topic.length + 1)), v]));

/**
 * The sinks each record reached under generation `generation`: its FORWARDED decisions there (record id → sinks).
 * `below`: only records below these offsets ("topic:partition", the cutovers).
 */
export async function forwardsOf(c: Topics, generation: number, below?: Map<string, bigint>, onRecords?: (n: number) => void): Promise<Map<string, Set<string>>> {
  const out = new Map<string, Set<string>>();
  await scanValues<Decision>(c, 'audit.decisions', (d) => {
    if (d.outcome !== 'FORWARDED' || d.generation !== generation) return;
    const cut = below?.get(`${d.inputTopic}:${d.inputPartition}`);
    if (cut !== undefined && BigInt(d.inputOffset) >= cut) return;
    const sinks = out.get(d.recordId);
    if (sinks) sinks.add(d.sink);
    else out.set(d.recordId, new Set([d.sink]));
  }, onRecords);
  return out;
}

export interface Progress {
  /** A phase starts: `total` units of work (records), 0 when unknown. */
  phase(name: string, total: number): void;
  advance(n: number): void;
  /** A line for the operator (waiting, resumed, …). */
  note(message: string): void;
  stop(): void;
}

export interface DryRunResult {
  generation: number;
  policyVersion: string;
  previousGeneration: number;
  previousPolicyVersion: string;
  from: string;
  records: number;
  /** Per sink: keep, retract, admit, reshape. */
  sinks: ReplayTally;
  /** Consent events the live pipeline had not applied yet (the table read is that much behind). */
  consentLag: number;
}

/**
 * `replay --dry-run`: what the new policy would change at each sink for the retained records, decided against the
 * current consent table (the live pipeline's consent.state) — nothing is written.
 */
export async function dryRun(c: ReplayContext, next: Policy, from: number | 'earliest', progress: Progress): Promise<DryRunResult> {
  const log = await readGenerations(c);
  const known = log.get(next.generation);
  const previous = known ? previousOf(c, log, known) : liveGeneration(c, log).policy;
  checkSuccessor(previous, next, log);
  const consentLag = await liveConsentLag(c);
  if (consentLag > 0) progress.note(`the live pipeline has ${consentLag} consent event(s) not applied yet: counting against the consent table as it is`);

  // The table as its changelog has it: the last state per customer (an erasure leaves a state too, every purpose withdrawn).
  const table = new Map<string, ConsentState>();
  progress.phase('consent table', await remainingRecords(c.admin, c.topology.topic('consent.state').name));
  await scanValues<ConsentState>(c, 'consent.state', (st) => table.set(st.customerId, st), (n) => progress.advance(n));
  progress.phase('previous decisions', await remainingRecords(c.admin, c.topology.topic('audit.decisions').name));
  const before = await forwardsOf(c, previous.generation, undefined, (n) => progress.advance(n));

  const starts = await startOffsets(c, from);
  const tally = emptyTally(previous, next);
  let records = 0;
  const none = new Set<string>();
  for (const l of RECORD_TOPICS) {
    const topic = c.topology.topic(l).name;
    const serde = c.serdes.forTopic<ConversationRecord>(l);
    const bounds = await topicOffsets(c.admin, topic);
    const fromOffsets = partitionOffsets(starts, topic);
    progress.phase(l, [...bounds].reduce((n, [p, b]) => n + Number(b.high - (fromOffsets.get(p) ?? b.low)), 0));
    await scanTopic(c.kafka, topic, async (batch: InRecord[]) => {
      for (const r of batch) {
        if (isControl(r)) continue;
        let record: ConversationRecord;
        try {
          record = await serde.decode(r.value);
        } catch {
          continue; // dead-lettered by the live pipeline, decided by no generation
        }
        if (!checkConversationRecord(r.key?.toString('utf8') ?? null, record).ok) continue;
        tallyRecord(tally, previous, next, before.get(record.recordId) ?? none, record, record.customerId ? table.get(record.customerId) : undefined);
        records++;
      }
      progress.advance(batch.length);
    }, { from: fromOffsets, timeoutMs: 60_000 });
  }
  progress.stop();
  return { generation: next.generation, policyVersion: next.version, previousGeneration: previous.generation, previousPolicyVersion: previous.version, from: fromLabel(from), records, sinks: tally, consentLag };
}

const fromLabel = (from: number | 'earliest') => (from === 'earliest' ? 'earliest' : new Date(from).toISOString());

/** A new generation must come right after the live one, and may not reuse a generation number with another policy. */
function checkSuccessor(previous: Policy, next: Policy, log: Map<number, GenerationRecord>): void {
  const known = log.get(next.generation);
  if (known && known.policyVersion !== next.version) {
    throw new ConsentgateError('CONFIG_INVALID', `generation ${next.generation} was built with policy ${known.policyVersion}, not ${next.version}: give the new policy "generation": ${Math.max(...log.keys()) + 1}`);
  }
  if (!known && next.generation !== previous.generation + 1) {
    throw new ConsentgateError('CONFIG_INVALID', `the live pipeline serves generation ${previous.generation} (policy ${previous.version}): the new policy must say "generation": ${previous.generation + 1}, not ${next.generation}`);
  }
}

/** Records between the start and the end of every partition of a topic. */
async function remainingRecords(admin: Admin, topic: string): Promise<number> {
  return [...(await topicOffsets(admin, topic)).values()].reduce((n, o) => n + Number(o.high - o.low), 0);
}

/** Consent events and erasures the live pipeline has not committed yet. */
async function liveConsentLag(c: Pick<ReplayContext, 'admin' | 'topology'>): Promise<number> {
  const topics = ['consent.events', 'erasure.requests'].map((l) => c.topology.topic(l).name);
  const committed = await committedOffsets(c.admin, c.topology.applicationId, topics);
  let lag = 0;
  for (const t of topics) for (const [p, o] of await topicOffsets(c.admin, t)) lag += Number(o.high - (committed.get(`${t}:${p}`) ?? o.low));
  return lag;
}

export interface ReplayResult {
  generation: number;
  policyVersion: string;
  replayId: string;
  status: GenerationStatus;
  /** Records of the retained streams the replay decided, and what each sink's new generation holds. */
  records: number;
  sinks: ReplayTally;
  retractions: { requests: number; records: number };
  topics: Record<string, string>;
  resumed: boolean;
}

/**
 * `replay` (not a dry run): builds generation `next` from the retained records, exactly once and resumable.
 * 1. the generation log gets (or already has) the generation as REPLAYING, with its replay id;
 * 2. the generation's sink topics exist; a cutover marker goes to every partition of the record topics, unless the
 *    live pipeline has cut that partition over already;
 * 3. once the live pipeline has cut every partition over (its policy.cutovers), the replay engine (its own group and
 *    transactional ids) decides every record from `from` up to each cutover; killed, it resumes where it committed;
 * 4. the generation is COMPLETE in the log, and the result is counted from what the replay wrote.
 */
export async function replay(c: ReplayContext, next: { policy: Policy; text: string }, from: number | 'earliest', progress: Progress, o: { signal?: AbortSignal; onEngine?(engine: Engine<ReplayGraphDeps> | undefined): void } = {}): Promise<ReplayResult> {
  const log = await readGenerations(c);
  const existing = log.get(next.policy.generation);
  const previous = existing ? previousOf(c, log, existing) : liveGeneration(c, log).policy;
  checkSuccessor(previous, next.policy, log);
  const record: GenerationRecord = existing ?? {
    generation: next.policy.generation, policyVersion: next.policy.version, policy: next.text, replayId: randomUUID(), from: fromLabel(from),
    status: 'REPLAYING', previousGeneration: previous.generation, previousPolicyVersion: previous.version, startedAt: Date.now(), completedAt: null, retiredAt: null, deleteAfter: null, supersededExports: [],
  };
  const sinkTopics = Object.fromEntries([...c.topology.sinks].map(([sink, def]) => [sink, generationTopic(def, next.policy.generation)]));
  if (existing && existing.status !== 'REPLAYING') {
    progress.note(`generation ${record.generation} is ${existing.status.toLowerCase()} already (replay ${record.replayId})`);
    return { ...(await replayOutcome(c, record, previous)), topics: sinkTopics, resumed: true };
  }
  // A policy that shreds needs the key store beside the running pipeline: found out before anything is written.
  const keyStore = shreddingSinks(next.policy).length ? await openKeyStoreBeside(c) : undefined;
  try {
    return await build(c, { next, previous, record, existing, hasPrevious: log.has(previous.generation), from, sinkTopics, keyStore }, progress, o);
  } finally {
    await keyStore?.close().catch(() => {});
  }
}

async function openKeyStoreBeside(c: ReplayContext): Promise<KeyStore> {
  try {
    return await openConfiguredKeyStore(c.config);
  } catch (err) {
    if ((err as { code?: string }).code !== 'STORE_BUSY') throw err;
    throw new ConsentgateError('CONFIG_INVALID', `the new policy crypto-shreds fields, so the replay mints data keys while \`consentgate run\` runs, and the embedded key store admits one process (${(err as Error).message.split(':')[0]}): set DATABASE_URL to a PostgreSQL server both reach`);
  }
}

async function build(
  c: ReplayContext,
  b: { next: { policy: Policy; text: string }; previous: Policy; record: GenerationRecord; existing?: GenerationRecord; hasPrevious: boolean; from: number | 'earliest'; sinkTopics: Record<string, string>; keyStore?: KeyStore },
  progress: Progress,
  o: { signal?: AbortSignal; onEngine?(engine: Engine<ReplayGraphDeps> | undefined): void },
): Promise<ReplayResult> {
  const { next, previous, record, existing, from, sinkTopics } = b;
  if (existing) progress.note(`resuming replay ${record.replayId} of generation ${record.generation} (started ${new Date(record.startedAt).toISOString()}, from ${record.from}${record.from !== fromLabel(from) ? `, as first given, not ${fromLabel(from)}` : ''})`);
  else {
    // The generation replaced is logged too (the configured one has no record yet): its policy is what a later
    // status, dry run or retirement compares with.
    if (!b.hasPrevious) await writeGeneration(c, { ...record, generation: previous.generation, policyVersion: previous.version, policy: readFileSync(resolve(PROJECT_ROOT, c.config.policyFile), 'utf8'), replayId: '', from: 'earliest', status: 'COMPLETE', previousGeneration: 0, previousPolicyVersion: '', completedAt: record.startedAt });
    await writeGeneration(c, record);
  }
  const startFrom = existing ? (record.from === 'earliest' ? 'earliest' : Date.parse(record.from)) : from;

  await createGenerationTopics(c, next.policy.generation);
  const parts = recordPartitions(c.topology);
  const cutovers = await cutOver(c, next, parts, progress, o.signal);
  progress.phase('previous decisions', await remainingRecords(c.admin, c.topology.topic('audit.decisions').name));
  const before = await forwardsOf(c, previous.generation, cutovers, (n) => progress.advance(n));
  await replayUpTo(c, { policy: next.policy, previous, replayId: record.replayId, from: startFrom, parts, cutovers, before, keyStore: b.keyStore }, progress, o);
  const complete: GenerationRecord = { ...record, status: 'COMPLETE', completedAt: Date.now() };
  await writeGeneration(c, complete);
  progress.stop();
  return { ...(await replayOutcome(c, complete, previous)), topics: sinkTopics, resumed: !!existing };
}

/** The generation's sink topics, configured as the catalog declares the sink topics, with their schemas registered. */
async function createGenerationTopics(c: ReplayContext, generation: number): Promise<void> {
  const defs = [...c.topology.sinks.values()].map((def) => ({ ...def, name: generationTopic(def, generation) }));
  await applyTopics(c.admin, defs.map((d) => ({ name: d.name, partitions: d.partitions, config: d.config })));
  await registerSchemas({ ...c.config.schemaRegistry, schemasDir: resolve(PROJECT_ROOT, 'schemas'), topology: { topics: new Map(defs.map((d) => [d.logical, d])) } as Topology });
}

/**
 * A cutover marker to every partition of the record topics the live pipeline has not cut over to the generation
 * yet, then waits until it has cut every one over: "topic:partition" → the marker's offset.
 */
async function cutOver(c: ReplayContext, next: { policy: Policy; text: string }, parts: ReturnType<typeof recordPartitions>, progress: Progress, signal?: AbortSignal): Promise<Map<string, bigint>> {
  let cutovers = await readCutovers(c);
  const missing = () => parts.filter((p) => (cutovers.get(p.key)?.generation ?? 0) < next.policy.generation);
  if (missing().length) {
    const producer = await openProducer(c.kafka);
    try {
      await producer.send(missing().map((p) => ({ topic: p.topic, partition: p.partition, ...cutoverMarker(next.text, next.policy) })));
    } finally {
      await producer.close();
    }
  }
  let noted = Date.now() - 8000; // the first note after 2 s: a running pipeline cuts over well before
  while (missing().length) {
    if (signal?.aborted) throw new ConsentgateError('INTERRUPTED', 'interrupted while waiting for the cutover; run the same command again to resume');
    if (Date.now() - noted > 10_000) {
      progress.note(`waiting for the live pipeline (group ${c.topology.applicationId}) to reach the cutover markers: ${parts.length - missing().length}/${parts.length} partitions cut over — is \`consentgate run\` running?`);
      noted = Date.now();
    }
    await new Promise((r) => setTimeout(r, 500));
    cutovers = await readCutovers(c);
  }
  return new Map(parts.map((p) => [p.key, BigInt(cutovers.get(p.key)!.offset)]));
}

/**
 * Runs the replay engine (group and transactional ids `<application id>-replay-g<N>`) until every partition of the
 * record topics is committed past its cutover. Its group starts at `from` the first time, at its commits after.
 */
async function replayUpTo(
  c: ReplayContext,
  r: { policy: Policy; previous: Policy; replayId: string; from: number | 'earliest'; parts: ReturnType<typeof recordPartitions>; cutovers: Map<string, bigint>; before: Map<string, Set<string>>; keyStore?: KeyStore },
  progress: Progress,
  o: { signal?: AbortSignal; onEngine?(engine: Engine<ReplayGraphDeps> | undefined): void },
): Promise<void> {
  const { parts, cutovers } = r;
  const topology = replayTopology(c.topology, r.policy.generation);
  const group = topology.applicationId;
  const starts = await startOffsets(c, r.from);
  if ((await committedOffsets(c.admin, group, parts.map((p) => p.topic))).size === 0) {
    for (const l of RECORD_TOPICS) {
      const topic = c.topology.topic(l).name;
      await c.admin.setOffsets({ groupId: group, topic, partitions: [...partitionOffsets(starts, topic)].map(([partition, offset]) => ({ partition, offset: String(offset) })) });
    }
  }
  await applyTopology(c.admin, topology, { sinkGeneration: null }); // the replay's consent-table changelog
  const serdes = await topologySerdes(c.config, topology);
  const { keyStore } = r;
  const engine = new Engine({
    kafka: c.kafka, admin: c.admin, topology, serdes, clock: systemClock, logger: c.logger,
    consentWaitMs: c.config.consentWaitMs, maxHoldMs: c.config.maxHoldMs, commitIntervalMs: c.config.commitIntervalMs, maxBatchRecords: c.config.maxBatchRecords, sessionTimeoutMs: c.config.sessionTimeoutMs, lagCause: 'replay',
    deps: {
      policy: r.policy, previous: r.previous, replayId: r.replayId,
      cutover: (topic, partition) => cutovers.get(`${topic}:${partition}`)!,
      forwardedBefore: (id) => r.before.get(id),
      transforms: c.config.fieldKey ? createFieldTransforms(c.config.fieldKey) : NO_KEY_TRANSFORMS,
      shredKeys: keyStore && { ensureKeys: (x: Parameters<KeyStore['ensureKeys']>[0]) => keyStore.ensureKeys(x), seal: shredSeal },
    },
  });
  let failure: Error | undefined;
  engine.on('error', (err: Error) => (failure = err));
  try {
    await engine.start();
    o.onEngine?.(engine);
    progress.phase(`replaying into generation ${r.policy.generation}`, parts.reduce((n, p) => n + Math.max(0, Number(cutovers.get(p.key)! - (starts.get(p.key) ?? 0n))), 0));
    for (let done = 0; ;) {
      if (failure) throw failure;
      if (o.signal?.aborted) throw new ConsentgateError('INTERRUPTED', 'interrupted; what was committed stays: run the same command again to resume');
      const at = await committedOffsets(c.admin, group, parts.map((p) => p.topic));
      const replayed = replayedRecords(parts, starts, cutovers, at);
      progress.advance(replayed - done);
      done = replayed;
      // Past the cutover: the marker (at the cutover offset) is consumed too. A start past it: nothing to replay.
      if (parts.every((p) => (at.get(p.key) ?? starts.get(p.key) ?? 0n) > cutovers.get(p.key)! || (starts.get(p.key) ?? 0n) > cutovers.get(p.key)!)) return;
      await new Promise((res) => setTimeout(res, 500));
    }
  } finally {
    o.onEngine?.(undefined);
    await engine.stop();
  }
}

/** The previous generation's policy of a generation in the log. */
export function previousOf(c: Pick<ReplayContext, 'configured' | 'topology'>, log: Map<number, GenerationRecord>, g: GenerationRecord): Policy {
  const p = log.get(g.previousGeneration);
  return p ? parsePolicy(p.policy, `policy generation ${p.generation} (policy.generations)`, c.topology) : c.configured.generation === g.previousGeneration ? c.configured : (() => {
    throw new ConsentgateError('CONFIG_INVALID', `generation ${g.generation} replaced generation ${g.previousGeneration} (policy ${g.previousPolicyVersion}), which is neither in policy.generations nor the configured policy`);
  })();
}

/** Records decided so far: per partition, from its start up to the committed offset, at most up to the cutover. */
function replayedRecords(parts: { key: string }[], starts: Map<string, bigint>, cutovers: Map<string, bigint>, committed: Map<string, bigint>): number {
  let n = 0;
  for (const p of parts) {
    const start = starts.get(p.key) ?? 0n;
    const at = committed.get(p.key) ?? start;
    const cut = cutovers.get(p.key)!;
    n += Math.max(0, Number((at < cut ? at : cut) - start));
  }
  return n;
}

/**
 * What a replay wrote, counted from the topics (so a replay resumed after a crash counts its whole work): per sink the
 * changes against the previous generation's forwards, and its retractions.
 */
export async function replayOutcome(c: ReplayContext, g: GenerationRecord, previous: Policy): Promise<Omit<ReplayResult, 'topics' | 'resumed'>> {
  const next = parsePolicy(g.policy, `policy generation ${g.generation}`, c.topology);
  const mine: Decision[] = [];
  const before = new Map<string, Set<string>>();
  await scanValues<Decision>(c, 'audit.decisions', (d) => {
    if (d.replayId === g.replayId) mine.push(d);
    else if (d.generation === previous.generation && d.outcome === 'FORWARDED') (before.get(d.recordId) ?? before.set(d.recordId, new Set()).get(d.recordId)!).add(d.sink);
  });
  const tally = emptyTally(previous, next);
  const recordIds = new Set<string>();
  const newSinks = new Map(next.sinks.map((s) => [s.name, s]));
  const oldSinks = new Map(previous.sinks.map((s) => [s.name, s]));
  for (const d of mine) {
    recordIds.add(d.recordId);
    const change: ReplayChange = changeOf({ forwarded: before.get(d.recordId)?.has(d.sink) ?? false, sink: oldSinks.get(d.sink) }, d.outcome === 'FORWARDED' ? newSinks.get(d.sink) : undefined);
    tally[d.sink]![change]++;
  }
  const retractions = { requests: 0, records: 0 };
  await scanValues<Retraction>(c, 'purge.retractions', (x) => {
    if (x.replayId !== g.replayId) return;
    retractions.requests++;
    retractions.records += x.recordIds.length;
  });
  return { generation: g.generation, policyVersion: g.policyVersion, replayId: g.replayId, status: g.status, records: recordIds.size, sinks: tally, retractions };
}


export interface RetireResult {
  generation: number;
  policyVersion: string;
  status: 'RETIRED' | 'DELETED';
  topics: string[];
  retiredAt: number;
  deleteAfter: number;
  supersededExports: string[];
  /** What this run did: retired it now, deleted its topics now, or nothing yet (within the grace period). */
  action: 'retired' | 'deleted' | 'waiting';
}

/** The control header value of the record a retirement appends to every partition of a retired generation's topics. */
export const CONTROL_GENERATION_RETIRED = 'generation-retired';

/**
 * `replay retire --generation N`: the guide's "disable older export versions". Only a generation older than the live
 * one, once its successor is complete. The first run retires it: retention of its sink topics shortened to the grace
 * period, a control record in each partition saying which topic replaced it, the export jobs it decided marked
 * superseded, RETIRED in the log (the pipeline then refuses to run with its policy). A run after the grace period
 * deletes its topics (DELETED).
 */
export async function retire(c: ReplayContext, generation: number, graceMs: number, now = Date.now()): Promise<RetireResult> {
  const log = await readGenerations(c);
  const live = liveGeneration(c, log);
  const g = log.get(generation);
  const topics = [...c.topology.sinks.values()].map((def) => generationTopic(def, generation));
  if (generation >= live.policy.generation) {
    throw new ConsentgateError('CONFIG_INVALID', `generation ${generation} is ${generation === live.policy.generation ? 'the live one' : 'newer than the live one'} (generation ${live.policy.generation}): only an older generation retires`);
  }
  const successor = log.get(generation + 1);
  if (successor && successor.status === 'REPLAYING') {
    throw new ConsentgateError('CONFIG_INVALID', `generation ${generation + 1} is still replaying: consumers of generation ${generation} have nowhere complete to go yet (see consentgate replay status)`);
  }
  if (!g) throw new ConsentgateError('CONFIG_INVALID', `no generation ${generation} in ${c.topology.topic('policy.generations').name} (known: ${[...log.keys()].join(', ') || 'none'})`);
  if (g.status === 'RETIRED' || g.status === 'DELETED') {
    const result = { generation, policyVersion: g.policyVersion, topics, retiredAt: g.retiredAt!, deleteAfter: g.deleteAfter!, supersededExports: g.supersededExports };
    if (g.status === 'DELETED' || now < g.deleteAfter!) return { ...result, status: g.status, action: 'waiting' };
    const existing = new Set(await c.admin.listTopics());
    await c.admin.deleteTopics({ topics: topics.filter((t) => existing.has(t)) });
    await writeGeneration(c, { ...g, status: 'DELETED' });
    return { ...result, status: 'DELETED', action: 'deleted' };
  }
  // The export jobs whose records this generation decided: superseded now.
  const sinks = [...c.topology.sinks.values()];
  const exports = new Set<string>();
  for (const def of sinks) {
    const serde = c.serdes.forTopic<SinkRecord>(def.logical);
    await scanTopic(c.kafka, generationTopic(def, generation), async (records) => {
      for (const r of records) if (r.value && !isControl(r)) {
        const id = (await serde.decode(r.value)).exportJobId;
        if (id) exports.add(id);
      }
    }, { timeoutMs: 60_000 });
  }
  // Every partition ends with a record saying the generation is retired and which topic to read instead.
  const notices = [];
  for (const def of sinks) {
    const topic = generationTopic(def, generation);
    const value = Buffer.from(JSON.stringify({ retiredGeneration: generation, readInstead: generationTopic(def, live.policy.generation), retiredAt: new Date(now).toISOString() }));
    for (const partition of (await topicOffsets(c.admin, topic)).keys()) notices.push({ topic, partition, key: null, value, headers: { [CONTROL_HEADER]: CONTROL_GENERATION_RETIRED } });
  }
  const producer = await openProducer(c.kafka);
  try {
    await producer.send(notices);
  } finally {
    await producer.close();
  }
  await c.admin.alterConfigs({ validateOnly: false, resources: topics.map((name) => ({ type: 2, name, configEntries: [{ name: 'retention.ms', value: String(graceMs) }] })) });
  const retired: GenerationRecord = { ...g, status: 'RETIRED', retiredAt: now, deleteAfter: now + graceMs, supersededExports: [...exports].sort() };
  await writeGeneration(c, retired);
  return { generation, policyVersion: g.policyVersion, status: 'RETIRED', topics, retiredAt: now, deleteAfter: now + graceMs, supersededExports: retired.supersededExports, action: 'retired' };
}

/** Why the pipeline may not run `policy`: its generation is retired (a consumer could be reading its topics' last records). */
export function retiredProblem(log: Map<number, GenerationRecord>, policy: Policy, live: Policy): string | undefined {
  const g = log.get(policy.generation);
  if (g?.status !== 'RETIRED' && g?.status !== 'DELETED') return undefined;
  return `policy ${policy.version} is generation ${policy.generation}, ${g.status.toLowerCase()} at ${new Date(g.retiredAt!).toISOString()}: nothing writes its topics any more — configure the live generation's policy (generation ${live.generation}, ${live.version}; CONSENTGATE_POLICY_FILE)`;
}
