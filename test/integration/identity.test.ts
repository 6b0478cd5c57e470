import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readTopic } from '../../src/adapters/topicReader.ts';
import type { Pipeline } from '../../src/app.ts';
import type { Connectors } from '../../src/connectors/index.ts';
import type { SinkRecord } from '../../src/domain/fieldRules.ts';
import type { ConsentEvent, Decision } from '../../src/domain/types.ts';
import type { GenesysSimulator } from '../../src/simulator/index.ts';
import { startGenesysPipeline } from '../harness/genesys.ts';
import { postJson, type TopicClient, waitFor } from '../harness/pipeline.ts';

// Identity resolution on the real broker: Genesys contacts (simulator → notifications connector) feed the identity
// graph; conversations that name no contact and consent given by e-mail or phone resolve through it.
let rig: Awaited<ReturnType<typeof startGenesysPipeline>>;
let sim: GenesysSimulator;
let pipeline: Pipeline;
let connectors: Connectors;
let client: TopicClient;
before(async () => {
  rig = await startGenesysPipeline({ seed: 16, env: () => ({ CONSENTGATE_CONNECTORS: 'notifications,consent-intake' }) });
  ({ sim, pipeline, connectors, client } = rig);
});
after(() => rig?.stop());

const ALL = { marketing: true, analytics: true, thirdParty: true, source: 'Web' } as const;
const known = (contactId: string) => waitFor(`contact ${contactId} in the identity graph`, () => connectors.graph!.index.has(contactId));
const decisionsOf = async (conversationId: string, n: number) => {
  let ds: Decision[] = [];
  await waitFor(`${n} decisions of ${conversationId}`, async () => (ds = (await client.read<Decision>('audit.decisions')).map((d) => d.value).filter((d) => d.conversationId === conversationId)).length >= n, 60_000);
  return ds;
};
const outcomes = (ds: Decision[]) => Object.fromEntries(ds.map((d) => [d.sink, `${d.outcome}:${d.reason}`]));
const pendingRecords = () => readTopic(pipeline.kafka, pipeline.topology.topic('consent.pending').name);
const consent = (body: Record<string, unknown>) => postJson(`${connectors.intake!.url}/v1/consent`, { source: 'WEB', ...body });

describe('identity resolution', () => {
  it('a chat identified only by an e-mail address is decided against that contact\'s consent, and reaches the sinks it allows', async () => {
    const ada = sim.upsertContact({ firstName: 'Ada', lastName: 'L', workEmail: 'Ada.L@example.com', cellPhone: { e164: '+447700900101' } });
    sim.setConsent(ada.id, { marketing: true, analytics: false, thirdParty: true, source: 'Web', at: Date.now() });
    await known(ada.id);
    const chat = sim.startConversation({ customerId: null, mediaType: 'chat', ani: 'ada.l@EXAMPLE.com' });
    const ds = await decisionsOf(chat.conversationId, 3);
    assert.deepEqual(outcomes(ds), { crm: 'FORWARDED:CONSENT_GRANTED', analytics: 'BLOCKED:CONSENT_WITHDRAWN', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
    for (const d of ds) {
      assert.equal(d.customerId, ada.id);
      assert.deepEqual({ ...d.resolvedBy }, { identifier: 'EMAIL', link: 'STRONG' });
    }
    const crm = (await client.read<SinkRecord>('sink.crm')).filter((r) => r.value.conversationId === chat.conversationId);
    assert.deepEqual(crm.map((r) => r.raw.key?.toString()), [ada.id], 'keyed by the resolved customer');
  });

  it('a phone number two contacts share resolves to neither: NO_SUBJECT, nobody\'s consent used', async () => {
    const a = sim.upsertContact({ firstName: 'Kim', lastName: 'A', workPhone: { e164: '+442079460000' } });
    const b = sim.upsertContact({ firstName: 'Kim', lastName: 'B', workPhone: { e164: '+442079460000' } });
    sim.setConsent(a.id, { ...ALL, at: Date.now() });
    sim.setConsent(b.id, { ...ALL, at: Date.now() });
    await known(a.id);
    await known(b.id);
    const call = sim.startConversation({ customerId: null, mediaType: 'voice', ani: 'tel:+442079460000' });
    const ds = await decisionsOf(call.conversationId, 3);
    assert.deepEqual(outcomes(ds), { crm: 'BLOCKED:NO_SUBJECT', analytics: 'BLOCKED:NO_SUBJECT', thirdparty: 'BLOCKED:NO_SUBJECT' });
    assert.ok(ds.every((d) => d.customerId === null && d.resolvedBy === null));
  });

  it('an opt-out by phone applies to the one contact with that number; a grant by phone is refused and a call from it is not forwarded', async () => {
    const cy = sim.upsertContact({ firstName: 'Cy', lastName: 'P', cellPhone: { e164: '+15555550177' } });
    sim.setConsent(cy.id, { ...ALL, at: Date.now() - 60_000 });
    await known(cy.id);
    const optOut = await consent({ phone: 'tel:+1 (555) 555-0177', purposes: [{ purpose: 'MARKETING', granted: false }] });
    assert.equal(optOut.status, 202);
    const body = (await optOut.json()) as { customerId: string; resolvedBy: unknown };
    assert.deepEqual([body.customerId, body.resolvedBy], [cy.id, { identifier: 'PHONE', link: 'WEAK' }]);
    const grant = await consent({ phone: '+15555550177', purposes: [{ purpose: 'MARKETING', granted: true }] });
    assert.equal(grant.status, 422);
    assert.match(JSON.stringify(await grant.json()), /a grant needs a strong link/);

    // Decided after the opt-out was acknowledged: the contact's own conversation is blocked for crm.
    const named = sim.startConversation({ customerId: cy.id, mediaType: 'voice', ani: 'tel:+15555550177' });
    assert.deepEqual(outcomes(await decisionsOf(named.conversationId, 3)), { crm: 'BLOCKED:CONSENT_WITHDRAWN', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
    // A call from the number alone resolves weakly: attributed to Cy, forwarded nowhere.
    const byPhone = sim.startConversation({ customerId: null, mediaType: 'voice', ani: 'tel:+15555550177' });
    const ds = await decisionsOf(byPhone.conversationId, 3);
    assert.deepEqual(outcomes(ds), { crm: 'BLOCKED:CONSENT_WITHDRAWN', analytics: 'BLOCKED:IDENTITY_WEAK', thirdparty: 'BLOCKED:IDENTITY_WEAK' });
    assert.ok(ds.every((d) => d.customerId === cy.id && d.resolvedBy?.link === 'WEAK'));
    const events = (await client.read<ConsentEvent>('consent.events')).map((e) => e.value).filter((e) => e.customerId === cy.id && e.resolvedBy);
    assert.deepEqual(events.map((e) => e.purposes.map((p) => `${p.purpose}:${p.granted}`)), [['MARKETING:false']], 'the refused grant never reached consent.events');
  });

  it('consent given by e-mail before the contact exists is kept, and applied once a contact with that address appears', async () => {
    const res = await consent({ email: 'Dee.New@example.com', purposes: [{ purpose: 'MARKETING', granted: true }, { purpose: 'ANALYTICS', granted: true }, { purpose: 'THIRD_PARTY', granted: false }] });
    assert.equal(res.status, 202);
    const body = (await res.json()) as { pending: boolean; eventId: string };
    assert.equal(body.pending, true);
    await waitFor('the statement kept on consent.pending', async () => (await pendingRecords()).some((r) => r.key?.toString() === body.eventId));

    const dee = sim.upsertContact({ firstName: 'Dee', lastName: 'N', personalEmail: 'dee.new@example.com' });
    await waitFor('the statement applied to the new contact', async () =>
      (await client.read<ConsentEvent>('consent.events')).some((e) => e.value.eventId === body.eventId && e.value.customerId === dee.id), 30_000);
    const chat = sim.startConversation({ customerId: dee.id, mediaType: 'chat', ani: 'dee.new@example.com' });
    assert.deepEqual(outcomes(await decisionsOf(chat.conversationId, 3)), { crm: 'FORWARDED:CONSENT_GRANTED', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'BLOCKED:CONSENT_WITHDRAWN' });
    await waitFor('the pending statement tombstoned', async () => (await pendingRecords()).some((r) => r.key?.toString() === body.eventId && r.value === null));
  });

  it('the intake refuses a request naming no one, two identifiers, or an identifier that is not one', async () => {
    for (const bad of [{}, { customerId: 'x', email: 'a@example.com' }, { email: 'not-an-address' }, { phone: 'anonymous' }, { phone: '0207 946 0000' }]) {
      const res = await consent({ ...bad, purposes: [{ purpose: 'MARKETING', granted: false }] });
      assert.equal(res.status, 400, JSON.stringify(bad));
    }
  });
});
