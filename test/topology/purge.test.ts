import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { PurgeAck, PurgeCommand, PurgeEscalation } from '../../src/domain/purge.ts';
import { series } from '../../src/runtime/metrics.ts';
import { started, stopDrivers, type TopologyDriver } from './driver.ts';

// The purge topology's timer (re-sends and escalations) driven in memory. Its ticks are a second apart in real time.
afterEach(stopDrivers);
const HOUR = 3_600_000;
const ALL = { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true };
const NONE = { MARKETING: false, ANALYTICS: false, THIRD_PARTY: false };
const commands = (d: TopologyDriver) => d.output<PurgeCommand>('purge.commands');
const sent = (cs: PurgeCommand[], attempt: number) => cs.filter((c) => c.attempt === attempt).map((c) => `${c.customerId} → ${c.vendor}`).sort();

/** Customers whose records reached every sink, then who withdrew everything: a purge request to every vendor each. */
async function withdrawn(d: TopologyDriver, customers: string[]): Promise<PurgeCommand[]> {
  for (const c of customers) d.consent(c, ALL);
  await d.drained('consent.events');
  for (const c of customers) d.record(c);
  await d.drained('genesys.conversations');
  for (const c of customers) d.consent(c, NONE);
  await d.drained('consent.events');
  return commands(d);
}

function ack(d: TopologyDriver, c: PurgeCommand): void {
  const a: PurgeAck = { requestId: c.requestId, vendor: c.vendor, customerId: c.customerId, status: 'COMPLETED', reason: null, at: d.clock.now() };
  d.pipe('purge.acks', c.customerId, a);
}

describe('the purge timer in memory', () => {
  it('re-sends to the vendors of open requests only, also for one closed after the timer first walked the store, and counts only those outstanding', async () => {
    const d = await started();
    const first = await withdrawn(d, ['open-1', 'closed-1', 'closed-later']);
    const vendors = [...new Set(first.map((c) => c.vendor))];
    assert.ok(vendors.length >= 2, `purge commands to every vendor of a sink: ${vendors}`);
    for (const c of first.filter((x) => x.customerId === 'closed-1')) ack(d, c);
    await d.drained('purge.acks');
    // The timer has walked the store by now (its first tick comes with the task's first cycle): a request closed
    // afterwards must leave the records it visits.
    await new Promise((r) => setTimeout(r, 1100));
    for (const c of first.filter((x) => x.customerId === 'closed-later')) ack(d, c);
    await d.drained('purge.acks');
    // A quarter of the longest acknowledgement SLA (240 h): every silent vendor is asked again, and those with an SLA
    // of 24 or 48 h are overdue (escalated).
    d.clock.advance(60 * HOUR + 1);
    await d.until('a re-send', async () => sent(await commands(d), 2).length > 0, 3000);
    await new Promise((r) => setTimeout(r, 1100)); // one more tick: nothing else is sent
    const all = await commands(d);
    assert.deepEqual(sent(all, 2), vendors.map((v) => `open-1 → ${v}`).sort());
    assert.equal(all.filter((c) => c.attempt > 2).length, 0);
    const escalated = await d.output<PurgeEscalation>('purge.escalations');
    assert.ok(escalated.length > 0 && escalated.every((e) => e.customerId === 'open-1'), `escalations: ${escalated.map((e) => `${e.customerId} → ${e.vendor}`)}`);
    const g = d.gauges();
    for (const vendor of vendors) assert.equal(g[series('consentgate_purge_outstanding', { vendor })], 1, `outstanding at ${vendor}: open-1's request`);
  });
});
