import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { randomUUID } from 'node:crypto';
import type { Decision } from '../../src/domain/types.ts';
import { conversation, startPipeline, testConfig, testEnv, TopicClient, waitFor } from '../harness/pipeline.ts';

it('a processor killed mid-stream and restarted gives every input exactly one decision per sink', async () => {
  const prefix = `eos${randomUUID().slice(0, 8)}.`;
  const config = testConfig(prefix);
  // The test side: applies topics and reads outputs; the pipeline under test runs in a child process we SIGKILL.
  const first = await startPipeline(config);
  const c = await TopicClient.open(first);
  const customers = Array.from({ length: 40 }, (_, i) => `k${i}`);
  for (const id of customers) await c.consent(id, { MARKETING: true, ANALYTICS: id.endsWith('1') ? false : true });
  await c.close();
  await first.stop();

  const env = { ...process.env, ...testEnv(prefix) };
  const child = spawn(process.execPath, [join(import.meta.dirname, '../../bin/consentgate.js'), 'run'], { env, stdio: ['ignore', 'ignore', 'inherit'] });

  const second = await startPipeline(testConfig(prefix)).catch((e) => { child.kill('SIGKILL'); throw e; });
  // `second` shares the group with the child: wait until the child owns partitions, so the kill hits real work.
  await waitFor('the child to join the group', () => second.engine.metrics.assignedPartitions.length < second.topology.topic('consent.events').partitions, 60_000)
    .catch((e) => { child.kill('SIGKILL'); throw e; });
  const client = await TopicClient.open(second);
  const total = 3000;
  const records = Array.from({ length: total }, (_, i) => conversation(customers[i % customers.length]!));
  const ser = second.serdes.forTopic('genesys.conversations');
  let sent = 0;
  for (let i = 0; i < total; i += 100) {
    await client.send(records.slice(i, i + 100).map((r) => ({ topic: client.name('genesys.conversations'), key: r.customerId, value: ser.encode(r) })));
    sent += 100;
    if (sent === 1000) {
      // Kill while the child is mid-stream: some of its partitions have decisions committed, some not yet.
      await waitFor('the child to commit some decisions', async () => (await client.read('audit.decisions')).length >= 900, 60_000);
      child.kill('SIGKILL');
    }
  }
  await waitFor('every record decided', async () => (await client.read('audit.decisions')).length >= total * 3, 120_000);
  await new Promise((r) => setTimeout(r, 1000));
  const decisions = (await client.read<Decision>('audit.decisions')).map((d) => d.value);
  const counts = new Map<string, number>();
  for (const d of decisions) counts.set(`${d.recordId}/${d.sink}`, (counts.get(`${d.recordId}/${d.sink}`) ?? 0) + 1);
  const missing = records.flatMap((r) => ['crm', 'analytics', 'thirdparty'].filter((s) => !counts.has(`${r.recordId}/${s}`)));
  const duplicated = [...counts].filter(([, n]) => n > 1);
  assert.deepEqual({ missing: missing.length, duplicated: duplicated.length }, { missing: 0, duplicated: 0 });
  assert.equal(decisions.length, total * 3);
  // Forwarded records match forwarded decisions one to one.
  const forwarded = decisions.filter((d) => d.sink === 'crm' && d.outcome === 'FORWARDED').length;
  assert.equal((await client.read('sink.crm')).length, forwarded);
  await client.close();
  await second.stop();
});
