import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { it } from 'node:test';
import { createKafka } from '../../src/adapters/kafka.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { applyTopology, loadDefinitions, PROJECT_ROOT, topologySerdes } from '../../src/app.ts';
import type { HealthReport } from '../../src/ops.ts';
import { testConfig, testEnv, waitFor } from '../harness/pipeline.ts';

// Replicas start at the same moment: three set-ups of one fresh application at once, five times — topics and
// registry subjects (with their compatibility rules) created by whichever comes first, the others find them.
it('three instances setting up the same topics and schemas at once all succeed, five times over', async () => {
  for (let round = 0; round < 5; round++) {
    const config = testConfig(`cs${randomUUID().slice(0, 8)}.`);
    const { topology } = loadDefinitions(config);
    const kafka = createKafka(config.kafka, createLogger('warn'));
    const admins = [kafka.admin(), kafka.admin(), kafka.admin()];
    await Promise.all(admins.map((a) => a.connect()));
    try {
      const results = await Promise.allSettled(admins.map(async (admin) => {
        await applyTopology(admin, topology);
        const serdes = await topologySerdes(config, topology);
        return serdes.forTopic('consent.events').encode({ eventId: 'e', customerId: 'c', capturedAt: 1, source: 'WEB', purposes: [] }).subarray(0, 5).toString('hex');
      }));
      const failed = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
      assert.deepEqual(failed, [], `round ${round}`);
      const headers = results.map((r) => (r as PromiseFulfilledResult<string>).value);
      assert.equal(new Set(headers).size, 1, 'one schema id for all three');
    } finally {
      await Promise.all(admins.map((a) => a.disconnect()));
    }
  }
});

it('three `consentgate run` processes of one fresh application started at once all come up and share the partitions, five times over', async () => {
  for (let round = 0; round < 5; round++) {
    const env = { ...process.env, ...testEnv(`cr${randomUUID().slice(0, 8)}.`, { CONSENTGATE_WORKERS: '1', LOG_LEVEL: 'info' }) };
    const runs = Array.from({ length: 3 }, () => {
      const child = spawn(process.execPath, [resolve(PROJECT_ROOT, 'bin/consentgate.js'), 'run'], { env, stdio: ['ignore', 'ignore', 'pipe'] });
      const r = { child, log: '', exit: new Promise<number | null>((res) => child.on('exit', (code) => res(code))) };
      child.stderr.on('data', (b: Buffer) => (r.log = (r.log + b.toString()).slice(-50_000)));
      return r;
    });
    try {
      const ops = (log: string) => /"ops":"(http:\/\/[^"]+)"[^\n]*"msg":"pipeline running"/.exec(log)?.[1];
      await waitFor(`round ${round}: all three running`, () => runs.every((r) => ops(r.log) !== undefined || r.child.exitCode !== null), 120_000);
      for (const r of runs) assert.equal(r.child.exitCode, null, `round ${round}: an instance exited at start:\n${r.log.slice(-3000)}`);
      // Each serves its own health, and the six partitions end up spread over the three, every task running.
      let owned: number[][] = [];
      await waitFor(`round ${round}: all three ready, the partitions spread over them`, async () => {
        const answers = await Promise.all(runs.map((r) => fetch(`${ops(r.log)}/readyz`).then(async (res) => ({ status: res.status, body: (await res.json()) as HealthReport }), () => undefined)));
        owned = answers.map((a) => a?.body.engine.partitions ?? []);
        return answers.every((a) => a?.status === 200) && owned.every((ps) => ps.length > 0) && owned.flat().sort().join() === '0,1,2,3,4,5';
      }, 120_000).catch((e: Error) => {
        throw new Error(`${e.message}: ${JSON.stringify(owned)}`);
      });
    } finally {
      for (const r of runs) r.child.kill('SIGTERM');
      const codes = await Promise.all(runs.map((r) => r.exit));
      assert.deepEqual(codes, [0, 0, 0], `round ${round}: clean exits${codes.some((c) => c !== 0) ? `; the log of the first that did not:\n${runs[codes.findIndex((c) => c !== 0)]!.log.slice(-3000)}` : ''}`);
    }
  }
});
