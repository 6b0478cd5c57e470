import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { applyConsentEvent } from '../../src/domain/consentState.ts';
import type { Policy, SinkPolicy } from '../../src/domain/policy.ts';
import { emptyTally, fieldRulesDiffer, replayChange, tallyRecord } from '../../src/domain/replay.ts';
import type { ConsentState, Purpose } from '../../src/domain/types.ts';

const sink = (name: string, requires: Purpose[], fields: SinkPolicy['fields'] = {}): SinkPolicy => ({ name, requires, fields, defaultAction: 'drop' });
const consent = (granted: Partial<Record<Purpose, boolean>>): ConsentState => applyConsentEvent(undefined, {
  eventId: 'e1', customerId: 'c', capturedAt: 1000, source: 'WEB',
  purposes: Object.entries(granted).map(([purpose, g]) => ({ purpose: purpose as Purpose, granted: g!, channel: null })),
}, 1000).state!;
const record = { customerId: 'c', channel: 'VOICE' as const };

describe('replay after a policy change (what each record becomes, against current consent)', () => {
  const marketingOnly = consent({ MARKETING: true, ANALYTICS: false });

  it('retract: forwarded before, blocked by the new requirement; admit: blocked before, permitted now; keep otherwise', () => {
    const crm = sink('crm', ['MARKETING']);
    const crmNeedsAnalytics = sink('crm', ['MARKETING', 'ANALYTICS']);
    assert.equal(replayChange({ forwarded: true, sink: crm }, crmNeedsAnalytics, record, marketingOnly), 'retract');
    assert.equal(replayChange({ forwarded: false, sink: crmNeedsAnalytics }, crm, record, marketingOnly), 'admit');
    assert.equal(replayChange({ forwarded: true, sink: crm }, crm, record, marketingOnly), 'keep');
    assert.equal(replayChange({ forwarded: false, sink: crm }, crm, { customerId: null, channel: 'VOICE' }, undefined), 'keep', 'still no subject');
  });

  it('reshape: forwarded both times under changed field rules; a removed sink retracts what it got; a new one admits', () => {
    const before = sink('crm', ['MARKETING'], { ani: 'keep' });
    const after = sink('crm', ['MARKETING'], { ani: 'pseudonymize' });
    assert.equal(fieldRulesDiffer(before, after), true);
    assert.equal(fieldRulesDiffer(before, sink('crm', ['MARKETING', 'ANALYTICS'], { ani: 'keep' })), false, 'requirements are not field rules');
    assert.equal(replayChange({ forwarded: true, sink: before }, after, record, marketingOnly), 'reshape');
    assert.equal(replayChange({ forwarded: true, sink: before }, undefined, record, marketingOnly), 'retract');
    assert.equal(replayChange({ forwarded: false }, sink('newsink', ['MARKETING']), record, marketingOnly), 'admit');
  });

  it('tallies every sink of either policy', () => {
    const oldPolicy: Policy = { version: '1', generation: 1, sinks: [sink('crm', ['MARKETING']), sink('gone', ['MARKETING'])], sessionGuard: { purposes: [] } };
    const newPolicy: Policy = { version: '2', generation: 2, sinks: [sink('crm', ['MARKETING', 'ANALYTICS']), sink('fresh', ['MARKETING'])], sessionGuard: { purposes: [] } };
    const t = emptyTally(oldPolicy, newPolicy);
    tallyRecord(t, oldPolicy, newPolicy, new Set(['crm', 'gone']), record, marketingOnly);
    tallyRecord(t, oldPolicy, newPolicy, new Set(), record, undefined);
    assert.deepEqual(t, {
      crm: { keep: 1, retract: 1, admit: 0, reshape: 0 },
      fresh: { keep: 1, retract: 0, admit: 1, reshape: 0 },
      gone: { keep: 1, retract: 1, admit: 0, reshape: 0 },
    });
  });
});
