import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, it } from 'node:test';
import { openDpiaStore } from '../../src/dpiaReference.ts';
import type { DpiaEvent } from '../../src/connectors/dpiaWatcher.ts';
import { startConnectorRig } from '../harness/genesys.ts';
import { waitFor } from '../harness/pipeline.ts';

let stop = async () => {};
after(() => stop());

it('integration changes are assessed as they happen; a change after approval is reported as drift', async () => {
  const r = await startConnectorRig({ connectors: 'integrations,dpia', env: { CONSENTGATE_DPIA_SCHEMA: `dpia_${randomUUID().slice(0, 8)}`, GENESYS_LISTING_INTERVAL_MS: '3600000' } });
  stop = () => r.stop();
  const events = async () => (await r.read<DpiaEvent>('dpia.events')).map((e) => e.value);
  await waitFor('the seeded integrations assessed', async () => (await events()).length > 0 && r.connectors.integrations!.stats.listings >= 1, 30_000);

  const client = r.sim.upsertOAuthClient({ name: 'Recording exporter', authorizedGrantType: 'CLIENT-CREDENTIALS', scope: ['analytics:aggregates:readonly'] }, { audit: false });
  await r.connectors.integrations!.listOnce();
  await waitFor('assessed', async () => (await events()).some((e) => e.integrationId === client.id));
  const first = (await events()).find((e) => e.integrationId === client.id)!;
  assert.equal(first.complianceStatus, 'APPROVED_FOR_DEPLOYMENT');
  assert.equal(first.drifted, false);

  // The DPO approved that; then someone adds the recordings scope in Genesys.
  const store = await openDpiaStore(r.config);
  try {
    assert.equal((await store.lastApproved(client.id))?.dpia_id, first.dpiaId);
    r.sim.upsertOAuthClient({ ...client, scope: ['analytics:aggregates:readonly', 'recordings:readonly'] }, { audit: false });
    await r.connectors.integrations!.listOnce();
    await waitFor('re-assessed', async () => (await events()).filter((e) => e.integrationId === client.id).length === 2);
    const second = (await events()).filter((e) => e.integrationId === client.id)[1]!;
    assert.equal(second.drifted, true);
    assert.deepEqual(second.drift, ['new scope recordings:readonly']);
    assert.equal(second.approvedDpiaId, first.dpiaId);
    assert.notEqual(second.complianceStatus, 'APPROVED_FOR_DEPLOYMENT');
    const chain = await store.verify();
    assert.ok(chain.ok && chain.entries >= 2);
    // The artifacts by status, as /metrics exports them (consentgate_dpia_artifacts{status}), match the store.
    const byStatus = await store.artifactsByStatus();
    assert.equal([...byStatus.values()].reduce((a, n) => a + n, 0), new Set((await events()).map((e) => e.dpiaId).filter(Boolean)).size);
    await waitFor('the watcher\'s counts caught up', () => [...r.connectors.dpia!.artifacts].join() === [...byStatus].join());
    const metrics = r.connectors.metrics().gauges;
    for (const [status, n] of byStatus) assert.equal(metrics[`consentgate_dpia_artifacts{status="${status}"}`], n);
  } finally {
    await store.close();
  }
});
