// `consentgate replay`: a dry-run diff of a policy change, building the new generation, and its status.
import { committedOffsets, topicOffsets } from '../adapters/kafka.ts';
import { createLogger } from '../adapters/logger.ts';
import type { Config } from '../config.ts';
import { REPLAY_CHANGES, type ReplayTally } from '../domain/replay.ts';
import {
  dryRun, liveGeneration, loadNewPolicy, openReplayContext, previousOf, readCutovers, readGenerations, recordPartitions, replay, replayOutcome, retire,
  type DryRunResult, type Progress, type ReplayContext, type ReplayResult,
} from '../replay.ts';
import { generationTopic } from '../runtime/topology.ts';
import type { Engine } from '../runtime/engine.ts';
import { replayTopology, type ReplayGraphDeps } from '../topology.ts';
import { UsageError } from './errors.ts';
import { progressBar } from './progress.ts';

const EXPLAIN: Record<string, string> = {
  keep: 'same outcome (and field rules) as under the previous generation',
  retract: 'forwarded under the previous generation, forbidden now: a purge command to each vendor of the sink',
  admit: 'blocked under the previous generation, permitted now: a late admission into the new generation',
  reshape: 'forwarded both times, under changed field rules: the new generation\'s copy differs',
};

function tallyTable(t: ReplayTally): string {
  const header = ['SINK', ...REPLAY_CHANGES.map((c) => c.toUpperCase())];
  const rows = Object.entries(t).map(([sink, c]) => [sink, ...REPLAY_CHANGES.map((k) => String(c[k]))]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line), '', ...REPLAY_CHANGES.map((c) => `  ${c}: ${EXPLAIN[c]}`)].join('\n');
}

export function formatDryRun(r: DryRunResult): string {
  return [
    `dry run: policy ${r.policyVersion} (generation ${r.generation}) replacing ${r.previousPolicyVersion} (generation ${r.previousGeneration}); ${r.records} retained record(s) from ${r.from}, decided against the current consent table; nothing written`,
    tallyTable(r.sinks),
  ].join('\n');
}

export function formatReplay(r: ReplayResult): string {
  return [
    `replay ${r.replayId}: generation ${r.generation} (policy ${r.policyVersion}) ${r.status === 'COMPLETE' ? 'complete' : r.status.toLowerCase()}${r.resumed ? ' (resumed)' : ''}: ${r.records} record(s) decided; ${r.retractions.records} record(s) retracted in ${r.retractions.requests} purge request(s)`,
    tallyTable(r.sinks),
    '',
    `Consumers can switch now: ${Object.entries(r.topics).map(([sink, topic]) => `${sink} → ${topic}`).join(', ')} (from the beginning; see README "Changing the policy").`,
  ].join('\n');
}

/** `consentgate replay --policy FILE [--from TIME|earliest] [--dry-run] [--json]`. */
export async function replayCommand(o: { policy: string; from: number | 'earliest'; dryRun?: boolean; json?: boolean; quiet?: boolean; opsPort?: number }, cfg: Config): Promise<void> {
  const c = await openReplayContext(cfg, createLogger(cfg.logLevel === 'info' ? 'warn' : cfg.logLevel));
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const next = loadNewPolicy(c, o.policy);
    const progress = progressBar(o.quiet);
    if (o.dryRun) {
      const r = await dryRun(c, next.policy, o.from, progress);
      console.log(o.json ? JSON.stringify(r) : formatDryRun(r));
      return;
    }
    const ops = o.opsPort === undefined ? undefined : await replayOps(c, { host: cfg.ops.host, port: o.opsPort });
    if (ops) progress.note(`operations endpoints at ${ops.url} (/metrics, /healthz, /readyz)`);
    try {
      const r = await replay(c, next, o.from, progress, { signal: abort.signal, onEngine: (e) => ops?.engine(e) });
      console.log(o.json ? JSON.stringify(r) : formatReplay(r));
    } finally {
      await ops?.stop();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await c.close();
  }
}

/**
 * The replay's operations endpoints (--ops-port): its engine's metrics (lag with cause "replay", decisions, the
 * replay's changes per sink), /healthz (Kafka) and /readyz (the replay engine's tasks run).
 */
async function replayOps(c: ReplayContext, at: { host: string; port: number }) {
  const { HealthMonitor, startOpsServer } = await import('../ops.ts');
  const { PrometheusExporter } = await import('../adapters/prometheus.ts');
  let engine: Engine<ReplayGraphDeps> | undefined;
  const health = new HealthMonitor({
    checks: [{ name: 'kafka', probe: async () => void (await c.admin.describeCluster()) }],
    engine: () => ({ ready: engine?.ready ?? false, detail: engine ? (engine.ready ? 'every replay task running' : 'joining the group or restoring') : 'not replaying (waiting for the cutover, or done)', partitions: engine?.metrics.assignedPartitions ?? [] }),
  });
  health.start();
  const exporter = new PrometheusExporter({});
  const server = await startOpsServer({
    ...at, health,
    metrics: async () => ({ contentType: exporter.contentType, body: engine ? await exporter.render(engine.metrics, { counters: {}, gauges: {} }) : '' }),
    status: () => ({ replaying: !!engine }),
  });
  return {
    url: server.url,
    engine: (e: Engine<ReplayGraphDeps> | undefined) => (engine = e ?? engine),
    stop: async () => {
      health.stop();
      await server.stop();
    },
  };
}

export interface StatusRow {
  topic: string;
  partition: number;
  /** The cutover offset (null: the live pipeline has not reached the marker yet). */
  cutover: string | null;
  /** The replay's committed offset (null: none yet). */
  replayed: string | null;
  /** Records left below the cutover. */
  remaining: number | null;
}

/** `consentgate replay status [--generation N] [--json]`: per partition, how far the replay is from the cutover. */
export async function replayStatusCommand(o: { generation?: number; json?: boolean }, cfg: Config): Promise<void> {
  const c = await openReplayContext(cfg, createLogger('error'));
  try {
    const log = await readGenerations(c);
    const g = o.generation !== undefined ? log.get(o.generation) : [...log.values()].sort((a, b) => b.generation - a.generation)[0];
    if (!g) {
      if (o.generation !== undefined) throw new UsageError(`no generation ${o.generation} in ${c.topology.topic('policy.generations').name} (known: ${[...log.keys()].join(', ') || 'none'})`, 'CONFIG_INVALID');
      const live = liveGeneration(c, log).policy;
      console.log(o.json ? JSON.stringify({ generation: live.generation, policyVersion: live.version, status: 'LIVE', partitions: [] }) : `no replay yet: the live pipeline serves generation ${live.generation} (policy ${live.version}) from its configured policy`);
      return;
    }
    const cutovers = await readCutovers(c);
    const parts = recordPartitions(c.topology);
    const group = replayTopology(c.topology, g.generation).applicationId;
    const committed = await committedOffsets(c.admin, group, parts.map((p) => p.topic));
    const bounds = new Map<string, bigint>();
    for (const t of new Set(parts.map((p) => p.topic))) for (const [p, b] of await topicOffsets(c.admin, t)) bounds.set(`${t}:${p}`, b.low);
    const rows: StatusRow[] = parts.map((p) => {
      const cut = cutovers.get(p.key);
      const cutover = cut && cut.generation >= g.generation ? BigInt(cut.offset) : null;
      const at = committed.get(p.key) ?? null;
      const from = at ?? bounds.get(p.key) ?? 0n;
      return { topic: p.topic, partition: p.partition, cutover: cutover?.toString() ?? null, replayed: at?.toString() ?? null, remaining: g.status !== 'REPLAYING' ? 0 : cutover === null ? null : Math.max(0, Number(cutover - from)) };
    });
    const remaining = rows.reduce((n, r) => n + (r.remaining ?? 0), 0);
    const waiting = rows.filter((r) => r.cutover === null).length;
    const topics = Object.fromEntries([...c.topology.sinks].map(([sink, def]) => [sink, generationTopic(def, g.generation)]));
    const summary = g.status === 'COMPLETE'
      ? `generation ${g.generation} (policy ${g.policyVersion}) is complete since ${new Date(g.completedAt!).toISOString()}: consumers can switch to ${Object.values(topics).join(', ')}`
      : g.status === 'RETIRED' || g.status === 'DELETED' ? `generation ${g.generation} (policy ${g.policyVersion}) is ${g.status === 'RETIRED' ? `retired since ${new Date(g.retiredAt!).toISOString()} (its topics may be deleted from ${new Date(g.deleteAfter!).toISOString()} on)` : 'retired and its topics deleted'}; superseded exports: ${g.supersededExports.join(', ') || 'none'}`
        : `generation ${g.generation} (policy ${g.policyVersion}) is replaying (replay ${g.replayId}, from ${g.from}): ${remaining} record(s) left below the cutover${waiting ? `; ${waiting} partition(s) not cut over yet by the live pipeline` : ''} — consumers stay on generation ${g.previousGeneration} until it is complete`;
    if (o.json) {
      const outcome = g.status === 'COMPLETE' ? await replayOutcome(c, g, previousOf(c, log, g)) : undefined;
      console.log(JSON.stringify({ generation: g.generation, policyVersion: g.policyVersion, replayId: g.replayId, status: g.status, from: g.from, remaining, topics, partitions: rows, ...(outcome ? { sinks: outcome.sinks, retractions: outcome.retractions } : {}) }));
      return;
    }
    const header = ['TOPIC', 'PARTITION', 'CUTOVER', 'REPLAYED_TO', 'REMAINING'];
    const cells = rows.map((r) => [r.topic, String(r.partition), r.cutover ?? 'waiting', r.replayed ?? '-', r.remaining === null ? '-' : String(r.remaining)]);
    const widths = header.map((h, i) => Math.max(h.length, ...cells.map((x) => x[i]!.length)));
    const line = (x: string[]) => x.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
    console.log([summary, line(header), ...cells.map(line)].join('\n'));
  } finally {
    await c.close();
  }
}

/** `consentgate replay retire --generation N [--grace-hours H] [--json]`. */
export async function retireCommand(o: { generation: number; graceHours: number; json?: boolean }, cfg: Config): Promise<void> {
  const c = await openReplayContext(cfg, createLogger('error'));
  try {
    const r = await retire(c, o.generation, Math.round(o.graceHours * 3_600_000));
    if (o.json) {
      console.log(JSON.stringify(r));
      return;
    }
    const when = (t: number) => new Date(t).toISOString();
    console.log(r.action === 'retired'
      ? `generation ${r.generation} (policy ${r.policyVersion}) retired: ${r.topics.join(', ')} keep their records until ${when(r.deleteAfter)} (retention shortened), each partition ends with a notice naming its successor; run this again after then to delete them. ${r.supersededExports.length} export job(s) superseded${r.supersededExports.length ? `: ${r.supersededExports.join(', ')}` : ''}.`
      : r.action === 'deleted' ? `generation ${r.generation} (policy ${r.policyVersion}): ${r.topics.join(', ')} deleted (retired at ${when(r.retiredAt)})`
        : r.status === 'DELETED' ? `generation ${r.generation} (policy ${r.policyVersion}): its topics were deleted already`
          : `generation ${r.generation} (policy ${r.policyVersion}) is retired since ${when(r.retiredAt)}: its topics may be deleted from ${when(r.deleteAfter)} on (run this again then)`);
  } finally {
    await c.close();
  }
}
