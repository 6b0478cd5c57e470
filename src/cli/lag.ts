// `consentgate lag`: a consumer group's lag per topic and partition, exact under exactly-once, with a status in the
// spirit of Burrow's (OK, WARN, STALL, STOP) and an exit code for scripts.
import { measureGroupLag, type GroupLag, type PartitionLag } from '../adapters/groupLag.ts';
import { createKafka } from '../adapters/kafka.ts';
import { createLogger } from '../adapters/logger.ts';
import { loadDefinitions } from '../app.ts';
import type { Config } from '../config.ts';

export type LagStatus = 'OK' | 'WARN' | 'STALL' | 'STOP';

/**
 * A partition's status: OK when nothing is left or it is within `maxLagSeconds`; STOP when records wait and the
 * group has no members; STALL when records wait and its committed offset has not moved since the previous sample
 * (with --watch); WARN when it is further behind than `maxLagSeconds` but moving — a backlog draining or a
 * deliberate replay, not an error.
 */
export function lagStatus(p: PartitionLag, previous: PartitionLag | undefined, members: number, maxLagSeconds: number): LagStatus {
  if (p.lag === 0) return 'OK';
  if (members === 0) return 'STOP';
  if (previous && previous.committed === p.committed) return 'STALL';
  return p.lagSeconds > maxLagSeconds ? 'WARN' : 'OK';
}

export interface LagRow extends PartitionLag {
  group: string;
  status: LagStatus;
}

export function lagRows(g: GroupLag, previous: GroupLag | undefined, maxLagSeconds: number): LagRow[] {
  return g.partitions.map((p) => {
    const before = previous?.partitions.find((q) => q.topic === p.topic && q.partition === p.partition);
    return { ...p, group: g.group, status: lagStatus(p, before, g.members, maxLagSeconds) };
  });
}

/** The table `lag` prints: one line per partition, then the group's state and its largest lag. */
export function formatLag(g: GroupLag, rows: LagRow[]): string {
  const header = ['TOPIC', 'PARTITION', 'COMMITTED', 'END', 'LAG', 'LAG_SECONDS', 'STATUS'];
  const cells = rows.map((r) => [r.topic, String(r.partition), r.committed === null ? '-' : String(r.committed), String(r.end), `${r.exact ? '' : '≤'}${r.lag}`, r.lagSeconds.toFixed(1), r.status]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i === 1 || (i >= 2 && i <= 5) ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ').trimEnd();
  const max = rows.reduce((m, r) => ({ lag: Math.max(m.lag, r.lag), seconds: Math.max(m.seconds, r.lagSeconds) }), { lag: 0, seconds: 0 });
  return [
    `group ${g.group}: ${g.state}, ${g.members} member${g.members === 1 ? '' : 's'}; max lag ${max.lag} records, ${max.seconds.toFixed(1)} s`,
    line(header), ...cells.map(line),
  ].join('\n');
}

const toJson = (r: LagRow) => ({ ...r, committed: r.committed === null ? null : String(r.committed), end: String(r.end) });

/** Prints the lag once (exit 1 when a partition is past --max-lag-seconds), or every --watch seconds until SIGINT. */
export async function lagCommand(o: { group?: string; watch?: number; json?: boolean; maxLagSeconds: number }, cfg: Config): Promise<void> {
  const group = o.group ?? loadDefinitions(cfg).topology.applicationId;
  const kafka = createKafka(cfg.kafka, createLogger('error'));
  const admin = kafka.admin();
  await admin.connect();
  try {
    let previous: GroupLag | undefined;
    for (;;) {
      const g = await measureGroupLag(kafka, admin, group);
      const rows = lagRows(g, previous, o.maxLagSeconds);
      console.log(o.json ? JSON.stringify({ group: g.group, state: g.state, members: g.members, at: new Date().toISOString(), partitions: rows.map(toJson) }) : formatLag(g, rows));
      if (o.watch === undefined) {
        if (rows.some((r) => r.lagSeconds > o.maxLagSeconds || r.status === 'STOP')) process.exitCode = 1;
        return;
      }
      previous = g;
      if (!o.json) console.log('');
      await new Promise((r) => setTimeout(r, o.watch! * 1000));
    }
  } finally {
    await admin.disconnect();
  }
}
