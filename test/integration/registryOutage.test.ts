import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, it } from 'node:test';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { registerSchemas } from '../../src/adapters/schemaRegistry.ts';
import { PROJECT_ROOT } from '../../src/app.ts';
import { startLocalRegistry } from '../../src/devstack/localStack.ts';
import { freePort, isAlive, stopService } from '../../src/devstack/process.ts';
import type { Decision } from '../../src/domain/types.ts';
import { conversation, startPipeline, testConfig, testEnv, TopicClient, waitFor } from '../harness/pipeline.ts';

// Guarantee: a registry outage loses nothing. Each test runs a registry of its own (the shared one stays up), kills
// it with SIGKILL and starts it again.
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ALL = { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true };

/** A registry of the test's own; started again on the same directory, it keeps its schemas (as a production one does). */
async function ownRegistry(again?: { port: number; dir: string }) {
  const dir = again?.dir ?? mkdtempSync(join(tmpdir(), 'consentgate-registry-'));
  const r = await startLocalRegistry({ dir, port: again?.port });
  cleanups.push(() => stopService(r.pid), () => rmSync(dir, { recursive: true, force: true }));
  return { ...r, dir };
}

/** The record schema with one more field (a default): what a newer producer writes. */
function newerRecordSchema(): avro.Type {
  const schema = JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'schemas/ConversationRecord.avsc'), 'utf8')) as { fields: object[] };
  return avro.Type.forSchema({ ...schema, fields: [...schema.fields, { name: 'queueId', type: ['null', 'string'], default: null }] } as avro.Schema);
}

it('records in a schema the pipeline must fetch wait while the registry is down, are never dead-lettered for it, and are decided once when it is back', async () => {
  let registry = await ownRegistry();
  const config = testConfig(undefined, { SCHEMA_REGISTRY_URL: registry.url });
  const pipeline = await startPipeline(config);
  const client = await TopicClient.open(pipeline);
  cleanups.push(() => client.close(), () => pipeline.stop());
  let failed: Error | undefined;
  pipeline.engine.on('error', (err: Error) => (failed = err));

  // Registered as written, defaults included (else the registry judges a compatible evolution incompatible).
  const latest = await (await fetch(`${registry.url}/subjects/${client.name('genesys.conversations')}-value/versions/latest`)).json() as { schema: string };
  assert.deepEqual(avro.Type.forSchema(JSON.parse(latest.schema) as avro.Schema).schema({ exportAttrs: true }), avro.Type.forSchema(JSON.parse(readFileSync(resolve(PROJECT_ROOT, 'schemas/ConversationRecord.avsc'), 'utf8')) as avro.Schema).schema({ exportAttrs: true }));
  assert.match(latest.schema, /"default"/);
  const newer = newerRecordSchema();
  const subject = `${client.name('genesys.conversations')}-value`;
  const { id } = await new SchemaRegistry({ host: registry.url }).register({ type: SchemaType.AVRO, schema: JSON.stringify(newer.schema({ exportAttrs: true })) }, { subject });
  await client.consent('c1', ALL);
  const before = await client.record('c1');
  const decisionsOf = async (recordId: string) => (await client.read<Decision>('audit.decisions')).filter((d) => d.value.recordId === recordId);
  await waitFor('the first record decided', async () => (await decisionsOf(before.recordId)).length === 3);

  process.kill(registry.pid, 'SIGKILL');
  await waitFor('the registry is gone', () => !isAlive(registry.pid));
  const header = Buffer.alloc(5);
  header.writeInt32BE(id, 1);
  const v2 = { ...conversation('c1'), queueId: 'q-7' };
  await client.send([{ topic: client.name('genesys.conversations'), key: 'c1', value: Buffer.concat([header, newer.toBuffer(v2)]) }]);
  const behind = await client.record('c1'); // in the current schema, behind the one that waits
  await sleep(6000); // several attempts, each with the registry client's own retries
  assert.equal((await decisionsOf(v2.recordId)).length, 0, 'not decided while its schema cannot be fetched');
  assert.equal((await decisionsOf(behind.recordId)).length, 0, 'the records behind it wait too: order per partition');
  assert.equal((await client.read('dlq')).length, 0, 'nothing dead-lettered for an outage');
  assert.equal(failed, undefined, 'the pipeline keeps running');

  // The registry comes back on its storage; registering the schemas again (as every starting instance does) finds them.
  registry = await ownRegistry(registry);
  assert.equal((await fetch(`${registry.url}/schemas/ids/${id}`)).status, 200, 'the restarted registry serves the schema the waiting record needs');
  await registerSchemas({ url: registry.url, schemasDir: resolve(PROJECT_ROOT, 'schemas'), topology: pipeline.topology });
  const again = await new SchemaRegistry({ host: registry.url }).register({ type: SchemaType.AVRO, schema: JSON.stringify(newer.schema({ exportAttrs: true })) }, { subject });
  assert.equal(again.id, id);
  await waitFor('both decided', async () => (await decisionsOf(v2.recordId)).length === 3 && (await decisionsOf(behind.recordId)).length === 3, 60_000).catch(async (e) => {
    throw new Error(`${e.message}: ${JSON.stringify({ v2: (await decisionsOf(v2.recordId)).length, behind: (await decisionsOf(behind.recordId)).length, dlq: (await client.read<{ error: string }>("dlq")).map((d) => d.value.error), failed: failed?.message, m: pipeline.engine.metrics })}`);
  });
  for (const r of [before, v2, behind]) {
    const ds = await decisionsOf(r.recordId);
    assert.deepEqual(ds.map((d) => `${d.value.sink}:${d.value.outcome}`).sort(), ['analytics:FORWARDED', 'crm:FORWARDED', 'thirdparty:FORWARDED'], 'once per sink');
  }
  assert.equal((await client.read('dlq')).length, 0);
  assert.equal(failed, undefined);
});

it('`consentgate run` started while the registry is unreachable waits for it, saying so, and starts when it comes up', async () => {
  const port = await freePort();
  const env = testEnv(`ro${Date.now().toString(36)}.`, { SCHEMA_REGISTRY_URL: `http://127.0.0.1:${port}/apis/ccompat/v7`, CONSENTGATE_WORKERS: '1', LOG_LEVEL: 'info' });
  const child = spawn(process.execPath, [resolve(PROJECT_ROOT, 'bin/consentgate.js'), 'run'], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  cleanups.push(() => void child.kill('SIGKILL'));

  await waitFor('a waiting line', () => /\[SCHEMA_REGISTRY_UNAVAILABLE\] cannot reach the schema registry at http:\/\/127\.0\.0\.1:\d+\/apis\/ccompat\/v7 .*; waiting for it, next try in \d+ s/.test(stderr), 30_000);
  await sleep(3000);
  assert.equal(child.exitCode, null, `still running, not exited:\n${stderr}`);
  await ownRegistry({ port, dir: mkdtempSync(join(tmpdir(), 'consentgate-registry-')) });
  await waitFor('the pipeline running', () => /"msg":"pipeline running"/.test(stderr), 90_000).catch((err: Error) => {
    throw new Error(`${err.message}\nstdout:\n${stdout.slice(-3000)}\nstderr:\n${stderr.slice(-3000)}`);
  });
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
});
