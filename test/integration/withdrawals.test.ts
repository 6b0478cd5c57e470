import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { createLogger } from '../../src/adapters/logger.ts';
import { systemClock } from '../../src/app.ts';
import { startConnectors } from '../../src/connectors/index.ts';
import { histogramCount } from '../../src/runtime/histogram.ts';
import type { ConsentState, Decision } from '../../src/domain/types.ts';
import { postJson, startPipeline, testConfig, TopicClient, waitFor } from '../harness/pipeline.ts';

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** A pipeline with the consent intake; `post` sends a JSON body to /v1/consent. */
async function intakeRig() {
  const config = testConfig(undefined, { CONSENTGATE_CONNECTORS: 'consent-intake', CONSENTGATE_HTTP_PORT: '0' });
  const pipeline = await startPipeline(config);
  const connectors = await startConnectors({ config, kafka: pipeline.kafka, topology: pipeline.topology, serdes: pipeline.serdes, clock: systemClock, logger: createLogger(config.logLevel) });
  const client = await TopicClient.open(pipeline);
  cleanups.push(() => connectors.stop(), () => client.close(), () => pipeline.stop());
  const post = (body: object) => postJson(`${connectors.intake!.url}/v1/consent`, body);
  return { client, post, pipeline };
}

// Guarantee: withdrawals always win. On the real broker: a grant dated 2099 (refused by the intake, written by another
// producer) must not outrank a withdrawal sent through the intake afterwards without a capture time.
it('a grant dated in the future, then a withdrawal without a capture time: the intake refuses the first, the table never believes it, the withdrawal is in force', async () => {
  const { client, post, pipeline } = await intakeRig();
  const everything = ['MARKETING', 'ANALYTICS', 'THIRD_PARTY'].map((purpose) => ({ purpose, granted: true }));
  const refused = await post({ customerId: 'future-1', capturedAt: '2099-01-01T00:00:00Z', purposes: everything });
  assert.equal(refused.status, 400, 'the intake refuses a capture time from the future');
  assert.match(((await refused.json()) as { details: string[] }).details[0]!, /^capturedAt: 2099-01-01T00:00:00\.000Z is more than 5 minutes after this server's time/);
  // Any other producer (a Genesys contact field, an import) can still write one: the table must not believe it.
  await client.consent('future-1', { MARKETING: true, ANALYTICS: true, THIRD_PARTY: true }, { capturedAt: Date.UTC(2099, 0, 1) });
  await waitFor('the grant applied', async () => (await client.read<ConsentState>('consent.state')).some((s) => s.value.customerId === 'future-1'));
  assert.equal((await post({ customerId: 'future-1', purposes: [{ purpose: 'MARKETING', granted: false }] })).status, 202);
  await waitFor('the withdrawal applied', async () => (await client.read<ConsentState>('consent.state')).filter((s) => s.value.customerId === 'future-1').length >= 2);

  const r = await client.record('future-1');
  await waitFor('decided', async () => (await client.read<Decision>('audit.decisions')).filter((d) => d.value.recordId === r.recordId).length === 3);
  const outcomes = Object.fromEntries((await client.read<Decision>('audit.decisions')).filter((d) => d.value.recordId === r.recordId).map((d) => [d.value.sink, `${d.value.outcome}:${d.value.reason}`]));
  assert.deepEqual(outcomes, { crm: 'BLOCKED:CONSENT_WITHDRAWN', analytics: 'FORWARDED:CONSENT_GRANTED', thirdparty: 'FORWARDED:CONSENT_GRANTED' });
  const [latest] = (await client.read<ConsentState>('consent.state')).filter((s) => s.value.customerId === 'future-1').slice(-1);
  const analytics = latest!.value.purposes.find((p) => p.purpose === 'ANALYTICS')!.entry!;
  assert.ok(analytics.capturedAt <= Date.now(), 'the grant is stored as received, not as dated 2099');
  const propagation = pipeline.engine.metrics.histograms.optOutPropagationMs!;
  assert.equal(histogramCount(propagation), 1, 'the withdrawal counted once in the opt-out propagation histogram');
});

it('the intake answers ids too long, not valid Unicode or with control characters with 400 and writes nothing for them', async () => {
  const { client, post } = await intakeRig();
  for (const customerId of ['x'.repeat(200_000), 'a\uD800b', 'nul\u0000id']) {
    const res = await post({ customerId, purposes: [{ purpose: 'MARKETING', granted: false }] });
    assert.equal(res.status, 400, JSON.stringify(customerId.slice(0, 20)));
    assert.match(((await res.json()) as { details: string[] }).details.join(';'), /customerId: (longer than 256 characters|not valid Unicode|contains a control character)/);
  }
  assert.equal((await client.read('consent.events')).length, 0);
});
