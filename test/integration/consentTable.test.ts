import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Pipeline } from '../../src/app.ts';
import { applyConsentEvent } from '../../src/domain/consentState.ts';
import type { Lineage } from '../../src/domain/purge.ts';
import type { ConsentState } from '../../src/domain/types.ts';
import { effectiveGrant } from '../../src/domain/policy.ts';
import { startPipeline, testConfig, TopicClient, waitFor } from '../harness/pipeline.ts';

const latest = async (c: TopicClient, customerId: string) => {
  const rows = await c.read<ConsentState>('consent.state');
  return rows.filter((r) => r.raw.key?.toString() === customerId).at(-1)?.value;
};

describe('consent-table on a real broker', () => {
  const config = testConfig();
  let p: Pipeline;
  let c: TopicClient;
  before(async () => {
    p = await startPipeline(config);
    c = await TopicClient.open(p);
  });
  after(async () => {
    await c?.close();
    await p?.stop();
  });

  it('folds events into consent.state with per-channel overrides and one compliance status', async () => {
    await c.consent('alice', { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true }, { capturedAt: 1000 });
    await c.consent('alice', { ANALYTICS: false }, { capturedAt: 2000, channel: 'CHAT' });
    await waitFor('two versions', async () => (await latest(c, 'alice'))?.version === 2);
    const s = (await latest(c, 'alice'))!;
    assert.equal(s.complianceStatus, 'PARTIAL_OPT_IN');
    assert.equal(effectiveGrant(s, 'ANALYTICS', 'CHAT'), 'withdrawn');
    assert.equal(effectiveGrant(s, 'ANALYTICS', 'VOICE'), 'granted');
    const rows = await c.read<ConsentState>('consent.state');
    const partition = rows.find((r) => r.raw.key?.toString() === 'alice')!.raw.partition;
    const consentEvents = await c.read('consent.events');
    assert.equal(partition, consentEvents.find((r) => r.raw.key?.toString() === 'alice')!.raw.partition, 'state is co-partitioned with its events');
  });

  it('resolves out-of-order events by capturedAt, and a stale event writes nothing', async () => {
    await c.consent('bob', { MARKETING: false }, { capturedAt: 5000 });
    await c.consent('bob', { MARKETING: true }, { capturedAt: 4000 });
    await c.consent('bob', { THIRD_PARTY: true }, { capturedAt: 4500 });
    await waitFor('bob processed', async () => (await latest(c, 'bob'))?.version === 2);
    const s = (await latest(c, 'bob'))!;
    assert.equal(effectiveGrant(s, 'MARKETING', 'EMAIL'), 'withdrawn');
    assert.equal(effectiveGrant(s, 'THIRD_PARTY', 'EMAIL'), 'granted');
    assert.equal((await c.read<ConsentState>('consent.state')).filter((r) => r.raw.key?.toString() === 'bob').length, 2);
  });

  it('restores the table from consent.state after a restart', async () => {
    await c.consent('carol', { MARKETING: true, ANALYTICS: true }, { capturedAt: 1000 });
    await waitFor('carol v1', async () => (await latest(c, 'carol'))?.version === 1);
    await c.close();
    await p.stop();
    p = await startPipeline(config);
    c = await TopicClient.open(p);
    // A later event for one purpose: the restored state keeps the other purpose and continues the version.
    await c.consent('carol', { MARKETING: false }, { capturedAt: 2000 });
    await waitFor('carol v2', async () => (await latest(c, 'carol'))?.version === 2);
    const s = (await latest(c, 'carol'))!;
    assert.equal(effectiveGrant(s, 'ANALYTICS', 'VOICE'), 'granted');
    assert.equal(effectiveGrant(s, 'MARKETING', 'VOICE'), 'withdrawn');
    // And records are still decided against the restored table.
    const r = await c.record('carol', { channel: 'VOICE' });
    await waitFor('decisions', async () => (await c.read<{ recordId: string }>('audit.decisions')).filter((d) => d.value.recordId === r.recordId).length === 3);
    const forwarded = await c.read<{ recordId: string }>('sink.analytics');
    assert.ok(forwarded.some((f) => f.value.recordId === r.recordId));
  });

  it('restores changelogs several fetches long, each paused on its own while it waits its turn', async () => {
    // Tiny batches: a changelog is paused 100 records ahead of what was applied. consent.state is restored first;
    // lineage.state, queued meanwhile, is paused — and consent.state must keep being fetched.
    const cfg = { ...testConfig(), maxBatchRecords: 20 };
    let q = await startPipeline(cfg);
    const writer = await TopicClient.open(q);
    const n = 30_000; // ~5,000 a partition: more than one 512 KB fetch of consent.state each
    const now = Date.now();
    const customers = Array.from({ length: n }, (_, i) => `restored-${i}`);
    const state = q.serdes.forTopic<ConsentState>('consent.state');
    const lineage = q.serdes.forTopic<Lineage>('lineage.state');
    for (let i = 0; i < n; i += 5000) {
      await writer.send(customers.slice(i, i + 5000).flatMap((customerId, k) => [
        { topic: writer.name('consent.state'), key: customerId, value: state.encode(applyConsentEvent(undefined, { eventId: randomUUID(), customerId, capturedAt: now, source: 'IMPORT', purposes: [{ purpose: 'ANALYTICS', granted: (i + k) % 2 === 0, channel: null }] }, now).state!) },
        { topic: writer.name('lineage.state'), key: customerId, value: lineage.encode({ customerId, sinks: [{ sink: 'analytics', purposes: ['ANALYTICS'], records: 1, firstAt: now, lastAt: now }], updatedAt: now }) },
      ]));
    }
    await writer.close();
    await q.stop();
    q = await startPipeline(cfg); // ready: every task restored every changelog
    const reader = await TopicClient.open(q);
    try {
      const [granted, withdrawn] = [await reader.record(customers[n - 2]!), await reader.record(customers[n - 1]!)];
      await waitFor('decisions', async () => (await reader.read<{ recordId: string }>('audit.decisions')).filter((d) => [granted.recordId, withdrawn.recordId].includes(d.value.recordId)).length === 6);
      const analytics = (await reader.read<{ recordId: string }>('sink.analytics')).map((f) => f.value.recordId);
      assert.ok(analytics.includes(granted.recordId), 'decided against the restored grant');
      assert.ok(!analytics.includes(withdrawn.recordId), 'decided against the restored withdrawal');
    } finally {
      await reader.close();
      await q.stop();
    }
  });
});
