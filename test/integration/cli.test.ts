import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const bin = join(import.meta.dirname, '../../bin/consentgate.js');
const run = (args: string[], env: Record<string, string | undefined>) =>
  exec(process.execPath, [bin, ...args], { env: { ...process.env, ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

it('topics apply creates the topology once and is idempotent', async () => {
  const env = { CONSENTGATE_TOPIC_PREFIX: `cli${randomUUID().slice(0, 8)}.`, CONSENTGATE_FIELD_KEY: 'b2'.repeat(32) };
  const first = await run(['topics', 'apply'], env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^created\s+cli\w+\.consent\.state \(6 partitions\)$/m);
  const second = await run(['topics', 'apply'], env);
  assert.equal(second.code, 0, second.stderr);
  assert.equal(second.stdout.split('\n').filter((l) => l.startsWith('unchanged')).length, 9);
});

it('a bad configuration fails at start with every problem listed', async () => {
  const r = await run(['run'], { KAFKA_BROKERS: 'nohostport', SCHEMA_REGISTRY_URL: 'not a url' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /kafka\.brokers\.0: expected host:port/);
  assert.match(r.stderr, /schemaRegistry\.url/);
});

it('describe prints the topology and the policy', async () => {
  const r = await run(['describe'], {});
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Processor: enforcement/);
  assert.match(r.stdout, /crm -> sink\.crm\s+requires MARKETING/);
});
