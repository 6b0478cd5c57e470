import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { openProducer } from '../../src/adapters/kafka.ts';
import { identitiesOfContact } from '../../src/domain/identity.ts';
import type { ExportRecord } from '../../src/domain/types.ts';
import { genesysEnv, startConnectorRig } from '../harness/genesys.ts';
import { waitFor } from '../harness/pipeline.ts';

const BIN = join(import.meta.dirname, '../../bin/consentgate.js');

function runExport(env: Record<string, string>, args: string[], killAfterPage?: number): Promise<{ code: number | null; signal: string | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'export', ...args], { env: { ...process.env, ...env } });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      const pages = [...stderr.matchAll(/page (\d+),/g)].map((m) => Number(m[1]));
      if (killAfterPage !== undefined && pages.some((p) => p >= killAfterPage)) child.kill('SIGKILL');
    });
    child.on('exit', (code, signal) => resolve({ code, signal, stderr, stdout }));
  });
}

let stop = async () => {};
after(() => stop());

it('a bulk export killed mid-way resumes from its last committed page: every conversation once', async () => {
  const r = await startConnectorRig({ connectors: '', sim: { jobResultsPageSize: 10 } });
  stop = () => r.stop();
  const t0 = Date.now();
  const traffic = await r.sim.traffic({ seed: 11, customers: 40, conversations: 150, consentChanges: 0 });
  // The contacts' identifiers, as the notifications connector writes them: the export resolves through them too.
  const producer = await openProducer(r.kafka);
  await producer.send(traffic.contactIds.map((id) => ({
    topic: r.topology.topic('identity.contacts').name, key: id,
    value: r.serdes.forTopic('identity.contacts').encode(identitiesOfContact(r.sim.contact(id) as never)),
  })));
  await producer.close();
  const conversationIds = r.sim.published
    .filter((p) => /customer\.start$/.test(p.topicName))
    .map((p) => (p.eventBody as { conversationId: string }).conversationId);
  assert.equal(conversationIds.length, 150);

  const env = {
    ...genesysEnv(r.sim),
    KAFKA_BROKERS: process.env.KAFKA_BROKERS!,
    SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL!,
    CONSENTGATE_TOPIC_PREFIX: r.config.topicPrefix,
    CONSENTGATE_FIELD_KEY: r.config.fieldKey!,
    LOG_LEVEL: 'warn',
  };
  const args = ['--from', new Date(t0 - 60_000).toISOString(), '--to', new Date(Date.now() + 60_000).toISOString(), '--name', 'nightly', '--page-size', '10'];

  const killed = await runExport(env, args, 4);
  assert.equal(killed.signal, 'SIGKILL', `the first run was killed mid-way:\n${killed.stderr}`);
  // Every page the export reported committed is there (the last transaction's markers may land a moment after
  // its commit returned), and it was killed before the last page.
  const reported = Math.max(...[...killed.stderr.matchAll(/→ (\d+) records/g)].map((m) => Number(m[1])));
  assert.ok(reported > 0, killed.stderr);
  let before: unknown[] = [];
  await waitFor('the reported pages readable', async () => (before = await r.read<ExportRecord>('genesys.exports')).length >= reported, 10_000);
  assert.ok(before.length < 150, `killed mid-way: ${before.length} records committed before the kill, ${reported} reported`);

  const resumed = await runExport(env, args);
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.match(resumed.stderr, /\(resumed\)/);
  const summary = JSON.parse(resumed.stdout) as { records: number; done: boolean; pages: number };
  assert.equal(summary.done, true);

  const records = await r.read<ExportRecord>('genesys.exports');
  const ids = records.map((x) => x.value.recordId);
  assert.equal(new Set(ids).size, ids.length, 'no record written twice');
  assert.deepEqual([...new Set(records.map((x) => x.value.conversationId))].sort(), [...conversationIds].sort());
  assert.equal(summary.records, records.length);
  const resolved = records.filter((x) => x.value.resolvedBy);
  assert.ok(resolved.some((x) => x.value.resolvedBy!.identifier === 'EMAIL' && x.value.resolvedBy!.link === 'STRONG' && traffic.contactIds.includes(x.value.customerId!)),
    'a conversation from a known contact\'s e-mail address, without its contact id, is exported as that contact\'s');
  assert.ok(resolved.every((x) => traffic.anonymousConversationIds.includes(x.value.conversationId)), 'only records that named no contact were resolved');
  for (const x of records) {
    assert.equal(x.key, x.value.customerId ?? x.value.conversationId);
    assert.equal(x.value.exportVersion, 1);
    assert.ok(x.value.exportJobId.length > 0);
  }

  const again = await runExport(env, args);
  assert.equal(again.code, 0);
  assert.equal((await r.read('genesys.exports')).length, records.length, 'a finished export does nothing');
});
