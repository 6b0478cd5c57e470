import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { createLogger } from '../../src/adapters/logger.ts';
import { systemClock, type Pipeline } from '../../src/app.ts';
import { startConnectors, type Connectors } from '../../src/connectors/index.ts';
import type { SinkRecord } from '../../src/domain/fieldRules.ts';
import type { Decision } from '../../src/domain/types.ts';
import { GenesysSimulator } from '../../src/simulator/index.ts';
import { genesysEnv } from '../harness/genesys.ts';
import { postJson, startPipeline, testConfig, TopicClient, waitFor } from '../harness/pipeline.ts';

let cleanup = async () => {};
after(() => cleanup());

it('Genesys data flows through consent enforcement: consent from the contact, an opt-out through the intake', async () => {
  const sim = await GenesysSimulator.start({ seed: 21, channelTtlMs: 2_000 });
  const config = testConfig(undefined, { ...genesysEnv(sim), CONSENTGATE_CONNECTORS: 'notifications,consent-intake,writeback', CONSENTGATE_HTTP_PORT: '0' });
  let pipeline: Pipeline | undefined;
  let connectors: Connectors | undefined;
  cleanup = async () => {
    await connectors?.stop();
    await pipeline?.stop();
    await sim.close();
  };
  pipeline = await startPipeline(config);
  connectors = await startConnectors({ config, kafka: pipeline.kafka, topology: pipeline.topology, serdes: pipeline.serdes, clock: systemClock, logger: createLogger(config.logLevel) });
  const client = await TopicClient.open(pipeline);

  const ann = sim.upsertContact({ firstName: 'Ann', lastName: 'Example' });
  sim.setConsent(ann.id, { marketing: true, analytics: false, thirdParty: false, source: 'Web', at: Date.now() });
  const live = sim.startConversation({ customerId: ann.id, mediaType: 'voice', ani: '+15550001' });
  const anonymous = sim.startConversation({ customerId: null, mediaType: 'chat' });

  const decided = async (n: number) => (await client.read<Decision>('audit.decisions')).length >= n;
  await waitFor('start records decided', () => decided(6), 60_000);

  // Mid-conversation opt-out through the intake; once it is acknowledged, the conversation's end is blocked.
  const res = await postJson(`${connectors.intake!.url}/v1/consent`, { customerId: ann.id, source: 'WEB', purposes: [{ purpose: 'MARKETING', granted: false }] });
  assert.equal(res.status, 202);
  sim.endConversation(live.conversationId);
  await waitFor('end record decided', () => decided(9), 60_000);

  const decisions = (await client.read<Decision>('audit.decisions')).map((d) => d.value);
  const of = (conversationId: string, kind: string, sink: string) => {
    const d = decisions.find((x) => x.conversationId === conversationId && x.recordId.endsWith(kind) && x.sink === sink)!;
    return `${d.outcome}:${d.reason}`;
  };
  assert.equal(of(live.conversationId, 'customer.start', 'crm'), 'FORWARDED:CONSENT_GRANTED');
  assert.equal(of(live.conversationId, 'customer.start', 'analytics'), 'BLOCKED:CONSENT_WITHDRAWN');
  assert.equal(of(live.conversationId, 'customer.end', 'crm'), 'BLOCKED:CONSENT_WITHDRAWN');
  assert.equal(of(anonymous.conversationId, 'customer.start', 'crm'), 'BLOCKED:NO_SUBJECT');

  const crm = await client.read<SinkRecord>('sink.crm');
  assert.deepEqual(crm.map((r) => [r.raw.key?.toString(), r.value.recordId]), [[ann.id, decisions.find((d) => d.sink === 'crm' && d.outcome === 'FORWARDED')!.recordId]]);
  assert.equal((await client.read('sink.analytics')).length, 0);

  // The opt-out reached the Genesys contact, and the channel was renewed (not replaced) while all this ran.
  await waitFor('write-back', () => sim.contact(ann.id)?.customFields?.consent_marketing_checkbox === false);
  await waitFor('a renewal', () => connectors!.notifications!.stats.renewals >= 1, 10_000);
  assert.equal(connectors.notifications!.stats.channels, 1);
  assert.equal(connectors.notifications!.stats.connects, 1);
  await client.close();
});
