import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, it } from 'node:test';
import { PROJECT_ROOT } from '../../src/app.ts';
import { startLocalKafka } from '../../src/devstack/localStack.ts';
import { freePort } from '../../src/devstack/process.ts';
import type { HealthReport } from '../../src/ops.ts';
import { testEnv, waitFor } from '../harness/pipeline.ts';

// Honest health: every `run` serves /healthz and /readyz, and they follow the broker: unhealthy within 30 s of
// losing it, healthy again once it is back. The broker is one of the test's own, killed with SIGKILL.
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
});

it('/healthz and /readyz of `consentgate run` turn 503 within 30 s of losing the broker and 200 again when it returns', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'consentgate-kafka-'));
  const kafka = await startLocalKafka({ dir });
  cleanups.push(() => kafka.stop(), () => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const env = testEnv(`h${Date.now().toString(36)}.`, { KAFKA_BROKERS: kafka.brokers, CONSENTGATE_OPS_PORT: String(port), CONSENTGATE_WORKERS: '1' });
  const child = spawn(process.execPath, [resolve(PROJECT_ROOT, 'bin/consentgate.js'), 'run'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-20_000)));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  cleanups.push(() => void child.kill('SIGKILL'));

  let last = ''; // what the last request got, for the failure message
  const get = async (path: string): Promise<{ status: number; body: HealthReport } | undefined> => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(3000) });
      const body = (await res.json()) as HealthReport;
      last = `${path} ${res.status} ${JSON.stringify(body)}`;
      return { status: res.status, body };
    } catch (err) {
      last = `${path}: ${(err as Error).message} (run ${child.exitCode === null ? 'running' : `exited ${child.exitCode}`})`;
      return undefined;
    }
  };
  const explain = (e: Error) => {
    throw new Error(`${e.message}; last: ${last}\n${stderr}`);
  };
  await waitFor('ready', async () => (await get('/readyz'))?.status === 200, 120_000).catch(explain);
  const healthy = await get('/healthz');
  assert.equal(healthy?.status, 200);
  assert.deepEqual([healthy!.body.checks.kafka!.ok, healthy!.body.checks.schemaRegistry!.ok, healthy!.body.ready], [true, true, true]);

  process.kill(kafka.pid(), 'SIGKILL');
  const lost = Date.now();
  await waitFor('unhealthy', async () => (await get('/healthz'))?.status === 503, 30_000).catch(explain);
  const down = (await get('/healthz'))!;
  assert.ok(Date.now() - lost <= 30_000);
  assert.equal(down.body.status, 'unhealthy');
  assert.equal(down.body.checks.kafka!.ok, false);
  assert.ok(down.body.checks.kafka!.error, 'says why');
  assert.equal(down.body.checks.schemaRegistry!.ok, true, 'the registry is not blamed');
  assert.equal((await get('/readyz'))?.status, 503);
  assert.equal(child.exitCode, null, 'the process stays up to recover');

  await kafka.restart();
  await waitFor('healthy again', async () => (await get('/healthz'))?.status === 200, 60_000).catch(explain);
  await waitFor('ready again', async () => (await get('/readyz'))?.status === 200, 120_000).catch(explain);
  child.kill('SIGTERM');
  assert.equal(await exited, 0, stderr);
});
