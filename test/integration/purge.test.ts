import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openProducer } from '../../src/adapters/kafka.ts';
import { isShredded, shredUnseal } from '../../src/adapters/shredding.ts';
import { systemClock, type Pipeline } from '../../src/app.ts';
import { requestErasure } from '../../src/connectors/erasure.ts';
import type { ComplianceRecord, PurgeAck, PurgeCommand, PurgeEscalation } from '../../src/domain/purge.ts';
import type { Decision } from '../../src/domain/types.ts';
import type { DeadLetterValue } from '../../src/runtime/task.ts';
import { ERASURE_TOKEN, INTAKE_TOKEN, postJson, startPipeline, testConfig, TopicClient, waitFor } from '../harness/pipeline.ts';
import { genesysEnv } from '../harness/genesys.ts';
import { GenesysSimulator } from '../../src/simulator/index.ts';
import { startConnectors } from '../../src/connectors/index.ts';
import { createLogger } from '../../src/adapters/logger.ts';

// Right to erasure downstream, on the real broker and PostgreSQL: purge commands from lineage and the vendor registry,
// acknowledgements, the SLA tracker on an injected clock, restarts, and crypto-shredding.
const HOUR = 3_600_000;
let offset = 0;
const clock = { now: () => Date.now() + offset };
const config = testConfig();
let p: Pipeline;
let c: TopicClient;
after(async () => {
  await c?.close();
  await p?.stop();
});

const commands = async () => (await c.read<PurgeCommand>('purge.commands')).map((x) => x.value);
const compliance = async (customerId: string) => (await c.read<ComplianceRecord>('compliance.status')).filter((x) => x.raw.key?.toString() === customerId).map((x) => x.value).at(-1);
const decided = async (recordId: string) => (await c.read<Decision>('audit.decisions')).filter((d) => d.value.recordId === recordId).length === 3;
async function ack(cmd: PurgeCommand, status: PurgeAck['status']) {
  const value: PurgeAck = { requestId: cmd.requestId, vendor: cmd.vendor, customerId: cmd.customerId, status, reason: status === 'DENIED' ? 'legal hold' : null, at: clock.now() };
  await c.send([{ topic: c.name('purge.acks'), key: cmd.customerId, value: p.serdes.forTopic<PurgeAck>('purge.acks').encode(value) }]);
}

describe('purge and erasure', () => {
  it('a withdrawal purges exactly the vendors that received data for that purpose; acks make the customer FULLY_COMPLIANT', async () => {
    p = await startPipeline(config, clock);
    c = await TopicClient.open(p);
    await c.consent('ann', { MARKETING: true, ANALYTICS: true, THIRD_PARTY: false });
    const r = await c.record('ann');
    await waitFor('decided', () => decided(r.recordId));
    await c.consent('ann', { MARKETING: false });
    await waitFor('purge command', async () => (await commands()).some((x) => x.customerId === 'ann'));
    await new Promise((res) => setTimeout(res, 500));
    const mine = (await commands()).filter((x) => x.customerId === 'ann');
    assert.deepEqual(mine.map((x) => [x.vendor, x.retentionPolicyId, x.purposes, x.reason, x.attempt]), [['crm-sync', 'RP-CRM-365D', ['MARKETING'], 'WITHDRAWAL', 1]]);
    assert.equal((await compliance('ann'))!.status, 'PURGE_PENDING');

    await ack(mine[0]!, 'IN_PROGRESS');
    await ack(mine[0]!, 'COMPLETED');
    await waitFor('FULLY_COMPLIANT', async () => (await compliance('ann'))?.status === 'FULLY_COMPLIANT');
  });

  it('a silent vendor gets the request again and is escalated after its SLA, across a restart', async () => {
    await c.consent('bo', { MARKETING: false, ANALYTICS: true, THIRD_PARTY: false });
    const r = await c.record('bo');
    await waitFor('decided', () => decided(r.recordId));
    await c.consent('bo', { ANALYTICS: false });
    await waitFor('purge command', async () => (await commands()).some((x) => x.customerId === 'bo'));
    const bo = (await commands()).filter((x) => x.customerId === 'bo');
    assert.deepEqual(bo.map((x) => x.vendor).sort(), ['analytics-warehouse', 'consentgate-store'], 'both vendors of the analytics sink (the store\'s connector does not run here: it never answers either)');
    const first = bo.find((x) => x.vendor === 'analytics-warehouse');

    // Restart mid-way: the open request lives in compliance.status and survives.
    await p.stop();
    p = await startPipeline(config, clock);
    offset += 7 * HOUR; // past a quarter of the 24 h SLA, without any acknowledgement
    await waitFor('re-sent', async () => (await commands()).some((x) => x.customerId === 'bo' && x.attempt === 2), 15_000);
    assert.equal((await compliance('bo'))!.status, 'PURGE_PENDING');

    offset += 18 * HOUR; // past the SLA
    const escalations = async () => (await c.read<PurgeEscalation>('purge.escalations')).filter((e) => e.value.customerId === 'bo' && e.value.vendor === 'analytics-warehouse');
    await waitFor('escalated', async () => (await escalations()).length > 0, 15_000);
    const [escalation] = await escalations();
    assert.deepEqual([escalation!.value.vendor, escalation!.value.requestId, escalation!.value.status], ['analytics-warehouse', first!.requestId, 'SENT']);
    await waitFor('overdue', async () => (await compliance('bo'))?.status === 'PURGE_OVERDUE');
    assert.ok((p.engine.metrics.counters.consentgate_purge_escalations_total ?? 0) >= 1);
    await new Promise((res) => setTimeout(res, 1500));
    assert.equal((await escalations()).length, 1, 'escalated once');
  });

  it('erasure: every earlier shredded field in every sink becomes unreadable, no key is minted again, later records are blocked', async () => {
    await c.consent('cy', { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true });
    const before = [await c.record('cy'), await c.record('cy', {}, 'genesys.exports')];
    await waitFor('decided', async () => (await Promise.all(before.map((r) => decided(r.recordId)))).every(Boolean));
    // Each copy in a shredding sink: its shredded fields hold references, their values sealed in `shredded`.
    const sinkCopies = async () => {
      const out: string[] = [];
      for (const s of ['sink.crm', 'sink.thirdparty']) {
        for (const x of await c.read<{ customerId: string; participants: { address: string | null }[]; ani: string | null; shredded: string | null }>(s)) {
          if (x.value.customerId !== 'cy') continue;
          assert.ok(isShredded(x.value.ani) && isShredded(x.value.participants[0]!.address), `${s}: ani and address shredded`);
          out.push(x.value.shredded!);
        }
      }
      return out;
    };
    const sealed = await sinkCopies();
    assert.equal(sealed.length, 4, 'both records in crm and thirdparty');
    const lookup = (id: string) => p.keyStore!.keyById(id);
    assert.ok((await Promise.all(sealed.map((v) => shredUnseal(v, lookup)))).every((u) => u.ok), 'readable before the erasure');

    const producer = await openProducer(p.kafka);
    const request = await requestErasure({ customerId: 'cy', source: 'TEST', genesysDelete: false, keyStore: p.keyStore, sender: producer, topology: p.topology, serdes: p.serdes, clock: systemClock });
    await producer.close();
    assert.ok(request.keysDestroyed >= 2, 'crm (MARKETING) and thirdparty (THIRD_PARTY) keys destroyed');

    // Every old copy, read raw from the topics, is now unreadable.
    const after = await Promise.all((await sinkCopies()).map((v) => shredUnseal(v, lookup)));
    assert.deepEqual([...new Set(after.map((u) => (u.ok ? 'READABLE' : u.reason)))], ['KEY_DESTROYED']);

    // Purges go to every vendor that received anything; the customer is marked erased.
    await waitFor('erasure purges', async () => (await commands()).filter((x) => x.customerId === 'cy' && x.reason === 'ERASURE').length === 4);
    await waitFor('erased', async () => (await compliance('cy'))?.erased === true);

    // A later record is not forwarded, and no key is minted for the customer.
    const later = await c.record('cy');
    await waitFor('later decided', () => decided(later.recordId));
    const ds = (await c.read<Decision>('audit.decisions')).filter((d) => d.value.recordId === later.recordId).map((d) => d.value.outcome);
    assert.deepEqual(ds, ['BLOCKED', 'BLOCKED', 'BLOCKED']);
    assert.equal(await p.keyStore!.isDestroyed('cy'), true);
    const again = await p.keyStore!.ensureKeys([{ customerId: 'cy', purpose: 'MARKETING' }]);
    assert.equal(again.get('cy/MARKETING'), 'destroyed');

    // Malformed input of the erased customer reaches the dlq without its original bytes.
    await c.send([{ topic: c.name('genesys.conversations'), key: 'cy', value: Buffer.from('{"name":"Cy Example","ani":"+15550009"}') }]);
    await waitFor('dead letter', async () => (await c.read<DeadLetterValue>('dlq')).some((d) => d.value.key?.toString() === 'cy'));
    const [dead] = (await c.read<DeadLetterValue>('dlq')).filter((d) => d.value.key?.toString() === 'cy');
    assert.equal(dead!.value.value, null);
    assert.match(dead!.value.error, /withheld: the customer is erased/);

    // Nothing brings a key back: a restart (store restore, topic replay) still finds only ciphertext.
    await p.stop();
    p = await startPipeline(config, clock);
    assert.deepEqual([...new Set((await Promise.all((await sinkCopies()).map((v) => shredUnseal(v, (id) => p.keyStore!.keyById(id))))).map((u) => (u.ok ? 'READABLE' : u.reason)))], ['KEY_DESTROYED']);
  });
});

describe('erasure through the intake API', () => {
  it('destroys keys, files a Genesys GDPR_DELETE through the SDK and writes the request', async () => {
    const sim = await GenesysSimulator.start({ seed: 51 });
    const cfg = testConfig(undefined, { ...genesysEnv(sim), CONSENTGATE_CONNECTORS: 'consent-intake', CONSENTGATE_HTTP_PORT: '0' });
    const pipeline = await startPipeline(cfg);
    const connectors = await startConnectors({ config: cfg, kafka: pipeline.kafka, topology: pipeline.topology, serdes: pipeline.serdes, clock: systemClock, logger: createLogger(cfg.logLevel), keyStore: pipeline.keyStore });
    const client = await TopicClient.open(pipeline);
    try {
      const contact = sim.upsertContact({ firstName: 'Dee', workEmail: 'dee@example.com' });
      const bad = await postJson(`${connectors.intake!.url}/v1/erasure`, { genesysDelete: 'yes' }, ERASURE_TOKEN);
      assert.equal(bad.status, 400);
      assert.equal((await postJson(`${connectors.intake!.url}/v1/erasure`, { customerId: contact.id }, INTAKE_TOKEN)).status, 401, 'the intake token does not erase');
      const res = await postJson(`${connectors.intake!.url}/v1/erasure`, { customerId: contact.id, genesysDelete: true }, ERASURE_TOKEN);
      assert.equal(res.status, 202);
      const body = (await res.json()) as { requestId: string; genesysGdprRequestId: string };
      assert.ok(body.genesysGdprRequestId);
      await waitFor('Genesys deleted the contact', () => !sim.contact(contact.id), 15_000);
      const written = (await client.read<{ requestId: string; genesysGdprRequestId: string }>('erasure.requests')).map((r) => r.value);
      assert.deepEqual(written.map((r) => [r.requestId, r.genesysGdprRequestId]), [[body.requestId, body.genesysGdprRequestId]]);
      assert.equal(await pipeline.keyStore!.isDestroyed(contact.id), true);
    } finally {
      await connectors.stop();
      await client.close();
      await pipeline.stop();
      await sim.close();
    }
  });
});
