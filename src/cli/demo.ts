import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { committedOffsets, topicOffsets } from '../adapters/kafka.ts';
import { createLogger } from '../adapters/logger.ts';
import { readTopic } from '../adapters/topicReader.ts';
import { PROJECT_ROOT, systemClock } from '../app.ts';
import type { Config } from '../config.ts';
import { dryRun, loadNewPolicy, openReplayContext, replay } from '../replay.ts';
import { startConnectors } from '../connectors/index.ts';
import type { EvidenceBundle } from '../domain/evidence.ts';
import type { Decision } from '../domain/types.ts';
import { GenesysSimulator } from '../simulator/index.ts';
import { startEphemeralPipeline } from './ephemeralPipeline.ts';
import { progressBar } from './progress.ts';
import { formatDryRun, formatReplay } from './replay.ts';

const CUSTOMERS = Number(process.env.DEMO_CUSTOMERS ?? 200);
const CONVERSATIONS = Number(process.env.DEMO_CONVERSATIONS ?? 1500);
const CONSENT_CHANGES = Number(process.env.DEMO_CONSENT_CHANGES ?? 150);

const say = (msg: string) => console.log(msg);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `npm run demo`: a local stack (unless KAFKA_BROKERS is set), a Genesys Cloud simulator as the source, the
 * pipeline with the notifications, consent-intake, write-back, integrations, session-executor and evidence-store connectors, seeded traffic (opt-ins,
 * opt-outs mid-conversation, conversations without a known customer, a dropped socket, malformed events) and
 * a summary of what reached which sink and why; then a policy change, its dry run and its replay.
 */
export async function runDemo(): Promise<void> {
  const sim = await GenesysSimulator.start({ seed: 42 });
  say(`Genesys Cloud simulator at ${sim.baseUrl} (seed 42)`);
  // The intake is closed by default: tokens of this run's own for the consent intake and for erasure.
  const tokens = { intake: randomBytes(24).toString('hex'), erasure: randomBytes(24).toString('hex'), evidence: randomBytes(24).toString('hex') };
  const post = (url: string, token: string, body: unknown) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });
  const { pipeline, config, stop } = await startEphemeralPipeline({
    name: 'demo',
    topicPrefix: process.env.CONSENTGATE_TOPIC_PREFIX ?? `demo-${Date.now()}.`,
    log: say,
    env: {
      GENESYS_BASE_URL: sim.baseUrl, GENESYS_CLIENT_ID: sim.clientId, GENESYS_CLIENT_SECRET: sim.clientSecret,
      CONSENTGATE_CONNECTORS: 'notifications,consent-intake,writeback,integrations,session-executor,evidence-store', CONSENTGATE_HTTP_PORT: '0',
      CONSENTGATE_INTAKE_TOKEN: tokens.intake, CONSENTGATE_ERASURE_TOKEN: tokens.erasure, CONSENTGATE_EVIDENCE_TOKEN: tokens.evidence, CONSENTGATE_EVIDENCE_PORT: '0',
      CONSENTGATE_EVIDENCE_DIR: process.env.CONSENTGATE_EVIDENCE_DIR ?? mkdtempSync(join(tmpdir(), 'consentgate-demo-evidence-')),
      CONSENTGATE_SESSION_DISCONNECT_AFTER_MS: process.env.CONSENTGATE_SESSION_DISCONNECT_AFTER_MS ?? '1000',
    },
  });
  const { topology, serdes, engine, kafka, admin } = pipeline;
  const connectors = await startConnectors({ config, kafka, topology, serdes, clock: systemClock, logger: createLogger(config.logLevel), keyStore: pipeline.keyStore });
  try {
    say(`topics applied with prefix "${config.topicPrefix}"; pipeline and connectors starting`);
    await engine.start();
    say(`connectors: ${config.connectors.join(', ')}; consent intake at ${connectors.intake!.url}/v1/consent`);

    const traffic = sim.traffic({ seed: 42, customers: CUSTOMERS, conversations: CONVERSATIONS, consentChanges: CONSENT_CHANGES, perSecond: 800 });
    await sleep(1000);
    say('  the notification socket drops mid-stream (Genesys keeps nothing for it): the connector reconnects and backfills');
    sim.faults.dropSockets();
    while (connectors.notifications!.stats.connects < 2) await sleep(20);
    sim.faults.malformed('{"topicName":"v2.detail.events.conversation.x.customer.start","eventBody":{"conversationId":"x"}}');
    const summary = await traffic;
    say(`  simulated ${summary.contactIds.length} customers (${summary.contactIdsWithoutConsent.length} never asked), ${summary.conversationIds.length} conversations (${summary.anonymousConversationIds.length} without an external contact), ${summary.consentChangeContactIds.length} consent changes in Genesys`);
    const optOuts = summary.contactIds.slice(0, 20);
    // Five of them are on a call when they opt out, and stay on it: the guard ends those calls.
    for (const customerId of optOuts.slice(0, 5)) sim.startConversation({ customerId, mediaType: 'voice' });
    await sleep(500);
    for (const customerId of optOuts) {
      await post(`${connectors.intake!.url}/v1/consent`, tokens.intake, { customerId, source: 'WEB', purposes: [{ purpose: 'MARKETING', granted: false }] });
    }
    say(`  ${optOuts.length} customers opted out of MARKETING through the consent intake API, 5 of them during a call`);
    const erased = summary.contactIds[summary.contactIds.length - 1]!;
    const erasure = await post(`${connectors.intake!.url}/v1/erasure`, tokens.erasure, { customerId: erased, genesysDelete: true });
    say(`  one customer asked for erasure: ${JSON.stringify(await erasure.json())}`);
    await connectors.notifications!.drained();

    const inputs = [topology.topic('consent.events').name, topology.topic('genesys.conversations').name];
    const started = Date.now();
    for (let lag = Infinity; lag > 0 && Date.now() - started < 120_000; await sleep(500)) {
      const committed = await committedOffsets(admin, engine.groupId, inputs);
      lag = 0;
      for (const t of inputs) for (const [p, o] of await topicOffsets(admin, t)) lag += Number(o.high - (committed.get(`${t}:${p}`) ?? 0n));
      if (lag > 0) say(`  consumer lag ${lag}`);
    }

    const decisions = await Promise.all((await readTopic(kafka, topology.topic('audit.decisions').name)).map((r) => serdes.forTopic<Decision>('audit.decisions').decode(r.value)));
    const counts = new Map<string, number>();
    for (const d of decisions) {
      const k = `${d.sink.padEnd(11)} ${d.outcome.padEnd(9)} ${d.reason}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    }
    const s = connectors.stats() as { sink: Record<string, number>; notifications: Record<string, number>; writeback: Record<string, number> };
    say('');
    say(`connectors: ${s.sink.written} records written, ${s.sink.duplicates} duplicates skipped, ${s.sink.deadLettered} dead-lettered; ` +
      `${s.notifications.gaps} socket gap(s), ${s.notifications.backfilledRecords} records backfilled; ${s.writeback.written} consents written back to Genesys`);
    say(`pipeline: ${engine.metrics.processedRecords} input records in ${engine.metrics.committedTransactions} transactions`);
    say('sink        outcome   reason                 count');
    for (const [k, n] of [...counts].sort()) say(`${k.padEnd(46)} ${n}`);
    const resolved = decisions.filter((d) => d.resolvedBy);
    const byLink = (link: string) => resolved.filter((d) => d.resolvedBy!.link === link).length;
    const noSubject = decisions.filter((d) => d.reason === 'NO_SUBJECT').length;
    say(`identity graph: ${resolved.length} decisions of records without an external contact resolved through it (${byLink('STRONG')} by e-mail: decided on consent; ${byLink('WEAK')} by phone: IDENTITY_WEAK unless consent blocks; ${byLink('CONFLICT')} conflicts); NO_SUBJECT ${noSubject} of ${decisions.length} decisions (it would be ${noSubject + byLink('STRONG') + byLink('WEAK')} without the graph)`);
    say(`dead-lettered: ${(await readTopic(kafka, topology.topic('dlq').name)).length}`);
    for (const sink of topology.sinks.values()) say(`${sink.name}: ${(await readTopic(kafka, sink.name)).length} records`);
    say(`${topology.topic('integrations.changes').name}: ${(await readTopic(kafka, topology.topic('integrations.changes').name)).length} integration changes for the DPIA`);
    const purges = new Map<string, number>();
    for (const r of await readTopic(kafka, topology.topic('purge.commands').name)) {
      const c = await serdes.forTopic<{ vendor: string; reason: string }>('purge.commands').decode(r.value);
      purges.set(`${c.reason} → ${c.vendor}`, (purges.get(`${c.reason} → ${c.vendor}`) ?? 0) + 1);
    }
    say(`purge commands to vendors (from lineage × vendor registry): ${[...purges].sort().map(([k, v]) => `${k} ${v}`).join(', ')}`);
    const commands = (await readTopic(kafka, topology.topic('session.commands').name)).length;
    await sleep(config.sessionDisconnectAfterMs + 1000); // the executor acts after the grace period
    const outcomes = new Map<string, number>();
    for (const r of await readTopic(kafka, topology.topic('session.outcomes').name)) {
      const o = (await serdes.forTopic<{ outcome: string }>('session.outcomes').decode(r.value)).outcome;
      outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
    }
    say(`session guard: ${commands} END_SESSION commands for conversations live when their customer opted out; after the ${config.sessionDisconnectAfterMs} ms grace: ${[...outcomes].map(([k, v]) => `${k} ${v}`).join(', ') || 'none yet'}`);
    await evidenceOf(connectors.evidenceApi!.url, tokens.evidence, optOuts[0]!);
    await policyChange(config);
  } finally {
    await connectors.stop();
    await stop();
    await sim.close();
  }
}

/** The evidence bundle of one customer who opted out during a call: a few lines here, the whole report in a file. */
async function evidenceOf(url: string, token: string, customerId: string): Promise<void> {
  const get = async (format: string) => {
    for (let attempt = 0; ; attempt++) { // the evidence store may still be writing the last facts
      const res = await fetch(`${url}/v1/evidence/${customerId}${format}`, { headers: { authorization: `Bearer ${token}` } });
      if (res.ok || attempt === 20) return res;
      await sleep(250);
    }
  };
  const res = await get('');
  if (!res.ok) return say(`evidence: ${res.status} ${await res.text()}`);
  const b = (await res.json()) as EvidenceBundle;
  const file = join(mkdtempSync(join(tmpdir(), 'consentgate-demo-')), 'evidence.html');
  writeFileSync(file, await (await get('?format=html')).text());
  say('');
  say(`evidence of customer ${customerId} (opted out during a call): ${b.timeline.length} facts on one timeline — ${b.consent.length} consent statement(s), ${b.decisionsTotal} decision(s), forwarded to ${b.forwardedTo.map((f) => f.sink).join(', ') || 'no sink'}, ${b.sessions.length} session(s) ended, purges ${b.purges.map((p) => `${p.vendor} ${p.sla}`).join(', ') || 'none'}`);
  say(`  the readable report: ${file} (also GET /v1/evidence/{customerId}?format=html, consentgate evidence <customerId> --html FILE)`);
}

/**
 * The demo's last act: a policy change. Generation 2 makes the CRM need ANALYTICS consent as well and drops dnis from
 * the analytics sink; a dry run shows what that changes, the replay builds generation 2 (cutover, retractions).
 */
async function policyChange(config: Config): Promise<void> {
  const doc = JSON.parse(readFileSync(resolve(PROJECT_ROOT, config.policyFile), 'utf8')) as { version: string; generation?: number; sinks: Record<string, { requires: string[]; fields: Record<string, string> }> };
  Object.assign(doc, { version: `${doc.version}-demo-gen2`, generation: (doc.generation ?? 1) + 1 });
  doc.sinks.crm!.requires = [...new Set([...doc.sinks.crm!.requires, 'ANALYTICS'])];
  doc.sinks.analytics!.fields.dnis = 'drop';
  const file = join(mkdtempSync(join(tmpdir(), 'consentgate-demo-')), 'policy-gen2.json');
  writeFileSync(file, JSON.stringify(doc, null, 2));
  say('');
  say(`policy change: generation ${doc.generation} (${file}) — crm now needs MARKETING and ANALYTICS; analytics drops dnis`);
  const c = await openReplayContext(config, createLogger('warn'));
  try {
    const next = loadNewPolicy(c, file);
    say(formatDryRun(await dryRun(c, next.policy, 'earliest', progressBar())));
    say('');
    say(formatReplay(await replay(c, next, 'earliest', progressBar())));
  } finally {
    await c.close();
  }
}
