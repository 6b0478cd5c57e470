import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { PROJECT_ROOT, type Pipeline } from '../../src/app.ts';
import type { Connectors } from '../../src/connectors/index.ts';
import type { EvidenceBundle } from '../../src/domain/evidence.ts';
import type { PurgeAck, PurgeCommand } from '../../src/domain/purge.ts';
import type { Decision } from '../../src/domain/types.ts';
import type { GenesysSimulator } from '../../src/simulator/index.ts';
import { startGenesysPipeline } from '../harness/genesys.ts';
import { ERASURE_TOKEN, postJson, type TopicClient, waitFor } from '../harness/pipeline.ts';
import { runCli } from '../harness/runProcess.ts';

// The evidence bundle on the real broker and PostgreSQL: a customer's whole story (opt-in, a forward to crm, an
// opt-out mid-call that ends the call, purges at vendors — one acknowledged late — and erasure) read back from the
// evidence store, through the API, the CLI and the HTML report in headless Chromium.
const HOUR = 3_600_000;
const TOKEN = 'evidence-token-0123456789abcdef';
let offset = 0;
const clock = { now: () => Date.now() + offset };
let rig: Awaited<ReturnType<typeof startGenesysPipeline>>;
let sim: GenesysSimulator;
let pipeline: Pipeline;
let connectors: Connectors;
let client: TopicClient;
let prefix: string;
before(async () => {
  prefix = `ev${Date.now().toString(36)}.`;
  rig = await startGenesysPipeline({
    seed: 17, prefix, clock,
    env: () => ({
      CONSENTGATE_CONNECTORS: 'notifications,consent-intake,session-executor,evidence-store', CONSENTGATE_SESSION_DISCONNECT_AFTER_MS: '300',
      CONSENTGATE_EVIDENCE_TOKEN: TOKEN, CONSENTGATE_EVIDENCE_PORT: '0', CONSENTGATE_EVIDENCE_SCHEMA: `ev_${prefix.replace(/[^a-z0-9]/g, '')}`,
    }),
  });
  ({ sim, pipeline, connectors, client } = rig);
});
after(() => rig?.stop());

const evidence = (path: string, token = TOKEN) => fetch(`${connectors.evidenceApi!.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
const ALL = { marketing: true, analytics: true, thirdParty: true, source: 'Web' } as const;

it('the bundle of one customer holds each fact of their story in order, and nothing about anyone else', async () => {
  const eve = sim.upsertContact({ firstName: 'Eve', lastName: 'Evidence', workEmail: 'eve@example.com', cellPhone: { e164: '+447700900555' } });
  const other = sim.upsertContact({ firstName: 'Olu', lastName: 'Other', workEmail: 'olu@example.com' });
  sim.setConsent(eve.id, { ...ALL, at: clock.now() });
  sim.setConsent(other.id, { ...ALL, at: clock.now() });
  const decisionsOf = async (conversationId: string) => (await client.read<Decision>('audit.decisions')).map((d) => d.value).filter((d) => d.conversationId === conversationId);
  await waitFor('both contacts known', () => connectors.graph!.index.has(eve.id) && connectors.graph!.index.has(other.id));

  // Opted in, and forwarded: a call of Eve's and one of the other customer's.
  const call = sim.startConversation({ customerId: eve.id, mediaType: 'voice', ani: 'tel:+447700900555' });
  const otherCall = sim.startConversation({ customerId: other.id, mediaType: 'chat', ani: 'olu@example.com' });
  await waitFor('the calls decided', async () => (await decisionsOf(call.conversationId)).length === 3 && (await decisionsOf(otherCall.conversationId)).length === 3, 60_000);
  assert.ok((await decisionsOf(call.conversationId)).some((d) => d.sink === 'crm' && d.outcome === 'FORWARDED'));

  // Opts out of MARKETING and ANALYTICS during the call: the guard ends it, purges go to the vendors that got the data.
  const optOut = await postJson(`${connectors.intake!.url}/v1/consent`, { email: 'EVE@example.com', source: 'PHONE', purposes: [{ purpose: 'MARKETING', granted: false }, { purpose: 'ANALYTICS', granted: false }] });
  assert.equal(optOut.status, 202);
  const purges = async () => (await client.read<PurgeCommand>('purge.commands')).map((x) => x.value).filter((x) => x.customerId === eve.id);
  await waitFor('purge commands to crm-sync and analytics-warehouse', async () => {
    const vendors = new Set((await purges()).map((p) => p.vendor));
    return vendors.has('crm-sync') && vendors.has('analytics-warehouse');
  }, 60_000);
  await waitFor('the call ended', async () => (await client.read<{ customerId: string; outcome: string }>('session.outcomes')).some((o) => o.value.customerId === eve.id), 60_000);
  const ack = async (vendor: string) => {
    const cmd = (await purges()).find((p) => p.vendor === vendor)!;
    const value: PurgeAck = { requestId: cmd.requestId, vendor, customerId: eve.id, status: 'COMPLETED', reason: null, at: clock.now() };
    await client.send([{ topic: client.name('purge.acks'), key: eve.id, value: pipeline.serdes.forTopic<PurgeAck>('purge.acks').encode(value) }]);
  };
  await ack('crm-sync'); // within its 24 h
  offset += 26 * HOUR;
  await ack('analytics-warehouse'); // 26 h later: past its 24 h

  // Erased: data keys destroyed, erasure purges to every vendor.
  const erased = await postJson(`${connectors.intake!.url}/v1/erasure`, { customerId: eve.id }, ERASURE_TOKEN);
  assert.equal(erased.status, 202);

  let bundle!: EvidenceBundle;
  await waitFor('the whole story in the evidence store', async () => {
    const res = await evidence(`/v1/evidence/${eve.id}`);
    if (res.status !== 200) return false;
    bundle = (await res.json()) as EvidenceBundle;
    return bundle.erasures.length === 1 && bundle.purges.filter((p) => p.acks.length).length === 2 && bundle.sessions.some((s) => s.outcome) && bundle.consent.length >= 2 &&
      bundle.purges.filter((p) => p.reason === 'ERASURE').length === 4; // every vendor that received data

  }, 60_000);

  const first = (pred: (t: EvidenceBundle['timeline'][number]) => boolean, what: string) => {
    const i = bundle.timeline.findIndex(pred);
    assert.ok(i >= 0, `the timeline has ${what}:\n${bundle.timeline.map((t) => `${t.kind} ${t.text}`).join('\n')}`);
    return i;
  };
  const optIn = first((t) => t.kind === 'CONSENT' && t.text.includes('granted MARKETING'), 'the opt-in');
  const forwarded = first((t) => t.kind === 'DECISION' && t.text.includes('forwarded to crm'), 'the forward to crm');
  const withdrawal = first((t) => t.kind === 'CONSENT' && t.text.includes('withdrew MARKETING') && t.text.includes('given by email'), 'the opt-out by e-mail');
  const ended = first((t) => t.kind === 'SESSION_ENDED' && t.text.includes(call.conversationId), 'the ended call');
  const purged = first((t) => t.kind === 'PURGE_REQUESTED' && t.text.includes('crm-sync'), 'the purge request');
  const onTime = first((t) => t.kind === 'PURGE_ACKNOWLEDGED' && t.text.startsWith('crm-sync answered COMPLETED') && t.text.includes('within its SLA'), 'crm-sync on time');
  const late = first((t) => t.kind === 'PURGE_ACKNOWLEDGED' && t.text.startsWith('analytics-warehouse answered COMPLETED') && t.text.includes('after its SLA'), 'analytics-warehouse late');
  const erasure = first((t) => t.kind === 'ERASURE', 'the erasure');
  assert.ok(optIn < forwarded && forwarded < withdrawal && withdrawal < ended && withdrawal < purged && purged < onTime && onTime < late && late < erasure, 'in that order');
  for (let i = 1; i < bundle.timeline.length; i++) assert.ok(bundle.timeline[i - 1]!.at <= bundle.timeline[i]!.at, 'the timeline is in time order');

  assert.deepEqual(Object.fromEntries(bundle.purges.filter((p) => p.reason === 'WITHDRAWAL').map((p) => [p.vendor, p.sla])), { 'crm-sync': 'MET', 'analytics-warehouse': 'LATE', 'consentgate-store': 'OVERDUE' });
  assert.ok(bundle.erasures[0]!.keysDestroyed >= 1, 'key destruction recorded');
  assert.deepEqual(bundle.forwardedTo.map((f) => f.sink).sort(), ['analytics', 'crm', 'thirdparty']);
  const withdrawn = bundle.consent.find((c) => c.purposes.some((p) => !p.granted))!;
  assert.deepEqual({ ...withdrawn.resolvedBy }, { identifier: 'EMAIL', link: 'STRONG' });
  assert.ok(withdrawn.stateAfter && withdrawn.stateAfter.purposes.find((p) => p.purpose === 'MARKETING')!.granted === false, 'the state after the opt-out');
  assert.deepEqual(bundle.identifiers.map((i) => [i.kind, i.link]).sort(), [['EMAIL', 'STRONG'], ['PHONE', 'WEAK']]);
  assert.ok(bundle.decisions.every((d) => d.conversationId === call.conversationId), 'only Eve\'s decisions');
  const text = JSON.stringify(bundle);
  for (const foreign of [other.id, otherCall.conversationId, 'olu@example.com']) assert.ok(!text.includes(foreign), `nothing about the other customer (${foreign})`);
  for (const pii of ['eve@example.com', '+447700900555', 'Evidence']) assert.ok(!text.includes(pii), `no personal data in the bundle (${pii})`);

  // The same bundle by e-mail and by phone; an identifier of nobody, a wrong token.
  const byEmail = (await (await evidence(`/v1/evidence?email=${encodeURIComponent('Eve@Example.com')}`)).json()) as EvidenceBundle;
  assert.equal(byEmail.customerId, eve.id);
  assert.ok(byEmail.identifiers.find((i) => i.kind === 'EMAIL')!.asked);
  assert.equal((await evidence(`/v1/evidence?phone=${encodeURIComponent('+44 7700 900555')}`)).status, 200);
  assert.equal((await evidence('/v1/evidence?email=nobody@example.com')).status, 404);
  assert.equal((await evidence(`/v1/evidence/${eve.id}`, 'wrong-token-0123456789abcdef')).status, 401);
  assert.equal((await evidence(`/v1/evidence/${eve.id}?email=eve@example.com`)).status, 400);

  // The CLI gives the same bundle from the store (PostgreSQL, so it may run beside the pipeline).
  const cli = await runCli(['evidence', '--email', 'eve@example.com'], prefix, rig.env);
  assert.equal(cli.code, 0, cli.stderr);
  const fromCli = JSON.parse(cli.stdout) as EvidenceBundle;
  assert.deepEqual(fromCli.timeline.map((t) => t.text), bundle.timeline.map((t) => t.text));
  assert.equal((await runCli(['evidence', 'no-such-customer'], prefix, rig.env)).code, 1);
  assert.equal((await runCli(['evidence', '--email', 'not-an-address'], prefix, rig.env)).code, 2);

  // The HTML report as a reader sees it.
  const browser: Browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    const html = await (await evidence(`/v1/evidence/${eve.id}?format=html`)).text();
    await page.setContent(html);
    const headings = await page.locator('h2').allInnerTexts();
    for (const h of ['Summary', 'Timeline', 'Identifiers and how they link', 'Consent statements', 'Purge requests to vendors', 'Live sessions ended', 'Erasure and key destruction']) {
      assert.ok(headings.some((x) => x.startsWith(h)), `section ${h}`);
    }
    const purgeRows = await page.locator('section:has(h2:text("Purge requests")) tbody tr').allInnerTexts();
    assert.ok(purgeRows.some((r) => r.includes('analytics-warehouse') && r.includes('LATE')), purgeRows.join('\n'));
    const body = await page.locator('body').innerText();
    assert.ok(!body.includes('eve@example.com') && !body.includes(other.id));
    const dir = join(PROJECT_ROOT, 'test-artifacts');
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, 'evidence-report.png'), fullPage: true });
  } finally {
    await browser.close();
  }
});
