import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { after, it } from 'node:test';
import { promisify } from 'node:util';
import { createKafka } from '../../src/adapters/kafka.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { readTopic } from '../../src/adapters/topicReader.ts';
import { loadDefinitions, PROJECT_ROOT, topologySerdes } from '../../src/app.ts';
import type { Decision } from '../../src/domain/types.ts';
import type { HealthReport } from '../../src/ops.ts';
import { testConfig, testEnv, waitFor } from '../harness/pipeline.ts';
import { startRun, topicsOf, type RunProcess } from '../harness/runProcess.ts';

// Scale-out, tested: three `run` instances in one group under steady load; one is SIGKILLed; its partitions move to
// the other two, the lag drains back to 0 (as `consentgate lag` reports it), and a read_committed reader finds every
// input decided exactly once per sink.
const cleanups: (() => Promise<unknown> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});

it('three instances under steady load, one SIGKILLed: its partitions move, lag drains to 0, every input decided once per sink', async () => {
  const prefix = `so${randomUUID().slice(0, 8)}.`;
  const instances: RunProcess[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await startRun({ prefix });
    cleanups.push(() => r.stop());
    instances.push(r);
  }
  const partitionsOf = async (r: RunProcess) => ((await (await fetch(`http://127.0.0.1:${r.opsPort}/healthz`)).json()) as HealthReport).engine.partitions;
  await waitFor('the six partitions spread over the three', async () => {
    const owned = await Promise.all(instances.map(partitionsOf));
    return owned.every((p) => p.length > 0) && owned.flat().sort().join() === '0,1,2,3,4,5';
  }, 60_000);

  // Steady load, ~100 records/s for 14 s, from 50 customers who granted everything; the victim dies 5 s in.
  const t = await topicsOf(prefix);
  const customers = Array.from({ length: 50 }, (_, i) => `so-${i}`);
  for (const c of customers) await t.consent(c, { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
  let sent = 0;
  const started = Date.now();
  const victim = instances[1]!;
  let killedAt = 0;
  while (Date.now() - started < 14_000) {
    await Promise.all(Array.from({ length: 15 }, () => t.record(customers[sent++ % customers.length]!)));
    if (!killedAt && Date.now() - started > 5000) {
      victim.child.kill('SIGKILL');
      killedAt = Date.now();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await t.close();
  const survivors = instances.filter((r) => r !== victim);
  await waitFor('the victim\'s partitions moved to the survivors', async () => (await Promise.all(survivors.map(partitionsOf))).flat().sort().join() === '0,1,2,3,4,5', 60_000);

  // Lag back to 0, as `consentgate lag` sees the group from outside: every partition, two members.
  const lag = async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [resolve(PROJECT_ROOT, 'bin/consentgate.js'), 'lag', '--json'], { env: { ...process.env, ...testEnv(prefix) } });
    return JSON.parse(stdout) as { members: number; partitions: { topic: string; lag: number }[] };
  };
  await waitFor('lag drained to 0', async () => {
    const l = await lag().catch(() => undefined);
    return l !== undefined && l.members === 2 && l.partitions.every((p) => p.lag === 0) && l.partitions.filter((p) => p.topic === `${prefix}genesys.conversations`).length === 6;
  }, 90_000);

  const config = testConfig(prefix);
  const kafka = createKafka(config.kafka, createLogger('error'));
  const serde = (await topologySerdes(config, loadDefinitions(config).topology)).forTopic<Decision>('audit.decisions');
  const decisions = await Promise.all((await readTopic(kafka, t.name('audit.decisions'))).map((r) => serde.decode(r.value)));
  const perRecord = new Map<string, string[]>();
  for (const d of decisions) perRecord.set(d.recordId, [...(perRecord.get(d.recordId) ?? []), d.sink]);
  assert.equal(perRecord.size, sent, 'every input record decided');
  for (const [id, sinks] of perRecord) assert.deepEqual(sinks.sort(), ['analytics', 'crm', 'thirdparty'], `record ${id}: one decision per sink`);
  assert.ok(decisions.every((d) => d.outcome === 'FORWARDED'), 'none blocked by the move (no CONSENT_UNCONFIRMED)');
  assert.ok(killedAt > 0 && sent >= 1000, `steady load before and after the kill (${sent} records)`);
});
