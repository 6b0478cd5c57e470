import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openProducer } from '../../src/adapters/kafka.ts';
import type { IntegrationChange } from '../../src/domain/genesysEvents.ts';
import type { ConsentEvent, ConversationRecord } from '../../src/domain/types.ts';
import { freePort } from '../../src/devstack/process.ts';
import type { DeadLetterValue } from '../../src/runtime/task.ts';
import { startConnectorRig } from '../harness/genesys.ts';
import { INTAKE_TOKEN, postJson, waitFor } from '../harness/pipeline.ts';

type Rig = Awaited<ReturnType<typeof startConnectorRig>>;
const rigs: Rig[] = [];
after(async () => {
  for (const r of rigs) await r.stop().catch(() => {});
});
async function rig(o: Parameters<typeof startConnectorRig>[0]): Promise<Rig> {
  const r = await startConnectorRig(o);
  rigs.push(r);
  return r;
}

const DETAIL = /^v2\.detail\.events\.conversation\.[^.]+\.(customer\.(?:start|end))$/;

/** The record ids of every customer.start/end event the simulator published, delivered or not. */
function publishedRecordIds(r: Rig): string[] {
  return r.sim.published.flatMap((p) => {
    const m = DETAIL.exec(p.topicName);
    if (!m) return [];
    const b = p.eventBody as { conversationId: string; participantId: string; sessionId: string };
    return [`${b.conversationId}:${b.participantId}:${b.sessionId}:${m[1]}`];
  });
}

/** Waits until genesys.conversations holds every published event, then asserts each exactly once. */
async function assertEveryEventOnce(r: Rig): Promise<void> {
  const expected = publishedRecordIds(r);
  let ids: string[] = [];
  await waitFor(`${expected.length} conversation records`, async () => {
    ids = (await r.read<ConversationRecord>('genesys.conversations')).map((x) => x.value.recordId);
    return expected.every((id) => ids.includes(id));
  }, 60_000);
  await r.connectors.notifications?.drained();
  ids = (await r.read<ConversationRecord>('genesys.conversations')).map((x) => x.value.recordId);
  assert.deepEqual([...ids].sort(), [...expected].sort(), 'every published event exactly once, nothing else');
}

function conversations(r: Rig, n: number, customerId: string | null = null): string[] {
  return Array.from({ length: n }, () => r.sim.startConversation({ customerId, mediaType: 'voice', ani: '+15550001' }).conversationId);
}

describe('notifications source', () => {
  it('puts conversation, consent and integration events in the right topics with the right keys', async () => {
    const r = await rig({ connectors: 'notifications,integrations' });
    const contact = r.sim.upsertContact({ firstName: 'Ann', lastName: 'Example' });
    r.sim.setConsent(contact.id, { marketing: true, analytics: false, source: 'Web', at: Date.now() });
    const [known] = conversations(r, 1, contact.id);
    r.sim.endConversation(known!);
    const [anonymous] = conversations(r, 1, null);
    const client = r.sim.upsertOAuthClient({ name: 'Vendor sync', authorizedGrantType: 'CLIENT-CREDENTIALS', scope: ['conversations:readonly'] });

    await assertEveryEventOnce(r);
    const records = await r.read<ConversationRecord>('genesys.conversations');
    assert.deepEqual(records.map((x) => [x.key, x.value.kind]).sort(), [[anonymous, 'customer.start'], [contact.id, 'customer.end'], [contact.id, 'customer.start']].sort());
    assert.equal(records.find((x) => x.key === anonymous)!.value.customerId, null);

    await waitFor('consent event', async () => (await r.read('consent.events')).length > 0);
    const [consent] = await r.read<ConsentEvent>('consent.events');
    assert.equal(consent!.key, contact.id);
    assert.equal(consent!.value.source, 'WEB');
    assert.deepEqual(consent!.value.purposes.map((p) => [p.purpose, p.granted]).sort(), [['ANALYTICS', false], ['MARKETING', true]]);

    await waitFor('audited change', async () => (await r.read<IntegrationChange>('integrations.changes')).some((c) => c.key === client.id && c.value.detectedBy === 'AUDIT'));
    const change = (await r.read<IntegrationChange>('integrations.changes')).find((c) => c.key === client.id && c.value.detectedBy === 'AUDIT')!.value;
    assert.equal(change.entityType, 'OAUTH_CLIENT');
    assert.equal(change.action, 'CREATE');
    assert.ok(change.definition?.includes('conversations:readonly'));
    assert.ok(!change.definition?.includes('"secret"'), 'secrets never leave');
  });

  it('loses no event across a dropped socket and a socket_closing, and duplicates none', async () => {
    const r = await rig({ connectors: 'notifications', sim: { socketClosingLeadMs: 300 } });
    const notifications = r.connectors.notifications!;
    conversations(r, 3, 'contact-a');
    r.sim.faults.dropSockets();
    const lost = conversations(r, 4, 'contact-b'); // published while no socket is open
    lost.forEach((id) => r.sim.endConversation(id));
    await waitFor('reconnected', () => notifications.connected && notifications.stats.connects >= 2);
    r.sim.faults.socketClosing();
    conversations(r, 3, 'contact-c');
    await waitFor('moved to a new socket', () => notifications.stats.connects >= 3);
    conversations(r, 2, 'contact-d');

    await assertEveryEventOnce(r);
    assert.ok(r.sim.published.some((p) => DETAIL.test(p.topicName) && p.deliveredTo === 0), 'some events were never delivered on a socket');
    assert.ok(notifications.stats.gaps >= 2 && notifications.stats.backfilledRecords >= 8);
  });

  it('absorbs a 429 storm and 5xx answers without losing or duplicating records', async () => {
    const r = await rig({ connectors: 'notifications' });
    r.sim.faults.rateLimitFor(2500, 1);
    r.sim.faults.dropSockets();
    conversations(r, 5, 'contact-e');
    await waitFor('backfill during the storm', () => r.connectors.notifications!.stats.backfilledRecords >= 5, 60_000);
    r.sim.faults.failNext(3, 503);
    r.sim.faults.dropSockets();
    conversations(r, 5, 'contact-f');
    await assertEveryEventOnce(r);
    assert.ok(r.connectors.genesys!.stats.rateLimited > 0, 'the client saw 429s');
    assert.ok(r.connectors.genesys!.stats.retries > 0, 'the client retried 5xx');
  });

  it('logs in again when the token expires mid-stream', async () => {
    const r = await rig({ connectors: 'notifications', sim: { tokenTtlSec: 1 } });
    const logins = r.sim.stats.logins;
    conversations(r, 2, 'contact-g');
    await new Promise((res) => setTimeout(res, 1500));
    r.sim.faults.expireTokens();
    r.sim.faults.dropSockets(); // the backfill needs REST calls with a valid token
    conversations(r, 3, 'contact-h');
    await assertEveryEventOnce(r);
    assert.ok(r.sim.stats.logins > logins, `re-logged in (${r.sim.stats.logins} logins)`);
  });

  it('dead-letters malformed events with their bytes and keeps streaming', async () => {
    const r = await rig({ connectors: 'notifications' });
    const bad = ['{not json', JSON.stringify({ topicName: 'v2.detail.events.conversation.x1.customer.start', eventBody: { conversationId: 'x1' } })];
    bad.forEach((t) => r.sim.faults.malformed(t));
    conversations(r, 1, 'contact-i');
    await assertEveryEventOnce(r);
    await waitFor('dead letters', async () => (await r.read('dlq')).length >= 2);
    const dlq = await r.read<DeadLetterValue>('dlq');
    assert.deepEqual(dlq.map((d) => d.value.value?.toString()).sort(), [...bad].sort());
    assert.match(dlq.find((d) => d.value.value?.toString() === bad[1])!.value.error, /eventTime/);
    assert.match(dlq.find((d) => d.value.value?.toString() === bad[0])!.value.error, /not JSON/);
  });
});

describe('EventBridge intake', () => {
  it('maps envelopes from an API destination and from a bridge topic exactly like socket events', async () => {
    const port = await freePort();
    const r = await rig({
      connectors: 'eventbridge-http,eventbridge-topic',
      env: { CONSENTGATE_HTTP_PORT: String(port) },
      sim: { eventBridge: { url: `http://127.0.0.1:${port}/v1/eventbridge`, headers: { authorization: `Bearer ${INTAKE_TOKEN}` } } },
    });
    const contact = r.sim.upsertContact({ firstName: 'Bo' });
    r.sim.setConsent(contact.id, { marketing: false, at: Date.now() });
    const [id] = conversations(r, 1, contact.id);
    r.sim.endConversation(id!);
    await assertEveryEventOnce(r);

    const producer = await openProducer(r.kafka);
    const envelope = {
      version: '0', id: 'e-1', 'detail-type': 'v2.externalcontacts.contacts.{id}', source: 'aws.partner/genesys.com/cloud/org/suffix',
      account: '1', time: new Date().toISOString(), region: 'eu-west-1', resources: [],
      detail: { topicName: 'v2.externalcontacts.contacts.bridge-1', version: '2', eventBody: { id: 'bridge-1', modifyDate: new Date().toISOString(), customFields: { consent_analytics_checkbox: true } }, metadata: {}, timestamp: new Date().toISOString() },
    };
    await producer.send([
      { topic: r.topology.topic('genesys.eventbridge').name, key: 'bridge-1', value: Buffer.from(JSON.stringify(envelope)) },
      { topic: r.topology.topic('genesys.eventbridge').name, key: 'junk', value: Buffer.from('<xml/>') },
    ]);
    await producer.close();
    await waitFor('bridge consent', async () => (await r.read<ConsentEvent>('consent.events')).some((e) => e.key === 'bridge-1'));
    const consents = await r.read<ConsentEvent>('consent.events');
    assert.deepEqual(consents.map((c) => c.key).sort(), [contact.id, 'bridge-1'].sort());
    await waitFor('junk in dlq', async () => (await r.read<DeadLetterValue>('dlq')).some((d) => d.value.value?.toString() === '<xml/>'));
  });
});

describe('consent intake and write-back', () => {
  it('accepts valid consent, rejects invalid with reasons, and writes consent back to the Genesys contact', async () => {
    const r = await rig({ connectors: 'consent-intake,writeback' });
    const contact = r.sim.upsertContact({ firstName: 'Cy' });
    const url = `${r.connectors.intake!.url}/v1/consent`;
    const capturedAt = '2026-11-23T10:00:00.000Z';
    const ok = await postJson(url, { customerId: contact.id, source: 'WEB', capturedAt, purposes: [{ purpose: 'MARKETING', granted: false }, { purpose: 'ANALYTICS', granted: true }] });
    assert.equal(ok.status, 202);
    const { eventId } = (await ok.json()) as { eventId: string };
    const badBody = JSON.stringify({ customerId: '', purposes: [{ purpose: 'SPAM', granted: 'yes' }] });
    const bad = await postJson(url, badBody);
    assert.equal(bad.status, 400);
    const problem = (await bad.json()) as { details: string[] };
    assert.ok(problem.details.some((d) => d.startsWith('customerId')) && problem.details.some((d) => d.startsWith('purposes.0.purpose')), problem.details.join('; '));

    const events = await r.read<ConsentEvent>('consent.events');
    assert.deepEqual(events.map((e) => [e.key, e.value.eventId, e.value.capturedAt]), [[contact.id, eventId, Date.parse(capturedAt)]]);
    assert.deepEqual((await r.read<DeadLetterValue>('dlq')).map((d) => d.value.value?.toString()), [badBody]);

    await waitFor('write-back', () => r.sim.contact(contact.id)?.customFields?.consent_marketing_checkbox === false);
    const fields = r.sim.contact(contact.id)!.customFields!;
    assert.equal(fields.consent_analytics_checkbox, true);
    assert.equal(fields.last_consent_timestamp_datetime, capturedAt);
    assert.equal(fields.consent_source_text, 'Web');
  });
});

describe('intake authentication', () => {
  it('with a token, only `Authorization: Bearer <token>` is accepted (not a bare token, another scheme or a wrong one)', async () => {
    const token = 'a-token-of-32-characters-exactly';
    const r = await rig({ connectors: 'consent-intake', env: { CONSENTGATE_INTAKE_TOKEN: token } });
    const post = (authorization?: string) => fetch(`${r.connectors.intake!.url}/v1/consent`, {
      method: 'POST', headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ customerId: 'auth-1', purposes: [{ purpose: 'MARKETING', granted: false }] }),
    });
    for (const refused of [undefined, token, `Basic ${token}`, `Bearer ${token}x`, `Bearer ${token.slice(1)}`]) assert.equal((await post(refused)).status, 401, String(refused));
    assert.equal((await post(`Bearer ${token}`)).status, 202);
    assert.deepEqual((await r.read<ConsentEvent>('consent.events')).map((e) => e.key), ['auth-1'], 'only the authenticated request was written');
  });
});

describe('integration changes', () => {
  it('catches changes no audit event reported, remembers what it saw across restarts', async () => {
    const r = await rig({ connectors: 'integrations', env: { GENESYS_LISTING_INTERVAL_MS: '3600000' } });
    await waitFor('initial listing', () => r.connectors.integrations!.stats.listings >= 1);
    const initial = new Set((await r.read<IntegrationChange>('integrations.changes')).map((c) => c.value.changeId));
    assert.ok(initial.size > 0, 'the seeded clients and integrations are reported once');

    const shadow = r.sim.upsertIntegration({ name: 'Shadow webhook' }, { audit: false });
    const [victim] = (await r.read<IntegrationChange>('integrations.changes')).filter((c) => c.value.entityType === 'OAUTH_CLIENT');
    r.sim.deleteOAuthClient(victim!.key, { audit: false });
    assert.equal(await r.connectors.integrations!.listOnce(), 2);

    await r.restartConnectors();
    await waitFor('listing after restart', () => r.connectors.integrations!.stats.listings >= 1);
    assert.equal(await r.connectors.integrations!.listOnce(), 0, 'nothing new after a restart');
    const changes = (await r.read<IntegrationChange>('integrations.changes')).filter((c) => !initial.has(c.value.changeId)).map((c) => [c.key, c.value.action, c.value.detectedBy]);
    assert.deepEqual(changes.sort(), [[shadow.id, 'CREATE', 'LISTING'], [victim!.key, 'DELETE', 'LISTING']].sort());
  });
});
