import assert from 'node:assert/strict';
import { it } from 'node:test';
import { HealthMonitor } from '../../src/ops.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('a dependency counts as down once no probe succeeded for downAfterMs (failing or hanging), and up at its next answer', async () => {
  let mode: 'ok' | 'fail' | 'hang' = 'ok';
  let engineReady = false;
  const m = new HealthMonitor({
    checks: [
      { name: 'kafka', probe: () => (mode === 'ok' ? Promise.resolve() : mode === 'fail' ? Promise.reject(new Error('connect ECONNREFUSED')) : new Promise<void>(() => {})) },
      { name: 'schemaRegistry', probe: () => Promise.resolve() },
    ],
    engine: () => ({ ready: engineReady, detail: engineReady ? 'every task running' : 'restoring', partitions: [0] }),
    intervalMs: 5, timeoutMs: 50, downAfterMs: 300,
  });
  m.start();
  try {
    await sleep(20);
    assert.deepEqual([m.report().status, m.report().ready], ['healthy', false], 'healthy, not ready while restoring');
    engineReady = true;
    assert.equal(m.report().ready, true);
    mode = 'fail';
    await sleep(50);
    assert.equal(m.report().status, 'healthy', 'a blip shorter than downAfterMs is not an outage');
    await sleep(400);
    const down = m.report();
    assert.deepEqual([down.status, down.ready, down.checks.kafka!.ok, down.checks.kafka!.error, down.checks.schemaRegistry!.ok], ['unhealthy', false, false, 'connect ECONNREFUSED', true]);
    mode = 'ok';
    await sleep(30);
    assert.equal(m.report().status, 'healthy');
    mode = 'hang';
    await sleep(500);
    assert.deepEqual([m.report().status, m.report().checks.kafka!.error], ['unhealthy', 'no answer within 50 ms']);
  } finally {
    m.stop();
  }
});
