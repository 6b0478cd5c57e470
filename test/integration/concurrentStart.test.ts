import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { createKafka } from '../../src/adapters/kafka.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { applyTopology, loadDefinitions, topologySerdes } from '../../src/app.ts';
import { testConfig } from '../harness/pipeline.ts';

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
