import { consentStateCodec } from './domain/consentStateCodec.ts';
import type { FieldTransforms, SinkRecord } from './domain/fieldRules.ts';
import type { Policy } from './domain/policy.ts';
import { mergeLineage, type ComplianceRecord, type Lineage, type PurgeCommand, type PurgeEscalation, type Vendor } from './domain/purge.ts';
import type { PolicyCutover } from './domain/replay.ts';
import type { ActiveSessions, SessionCommand } from './domain/sessionGuard.ts';
import type { ConsentState, Decision } from './domain/types.ts';
import { consentTableProcessor } from './processors/consentTable.ts';
import { enforcementProcessor, type ShredKeys } from './processors/enforcement.ts';
import { applyErasure, purgeProcessor, type ErasureRequest, type Retraction } from './processors/purge.ts';
import { replayProcessor, type ReplayDeps } from './processors/replay.ts';
import { sessionGuardProcessor, sessionTrackerProcessor } from './processors/sessionGuard.ts';
import { TopologyBuilder, type BuildContext } from './runtime/builder.ts';
import { bindTopology, loadCatalog, type Topology } from './runtime/topology.ts';

/** What the consentgate processors need besides their stores, topics and serdes. */
export interface ConsentgateDeps {
  policy: Policy;
  vendors: Vendor[];
  transforms: FieldTransforms;
  /** Data keys of crypto-shredded fields; required when the policy shreds. */
  shredKeys?: ShredKeys;
  sessionDisconnectAfterMs: number;
  /** A policy generation's document (from a cutover marker), checked against this topology. */
  parsePolicy(text: string, where: string): Policy;
}

const SOURCE_OUTPUTS = ['genesys.conversations', 'consent.events', 'identity.contacts', 'integrations.changes', 'dlq'];

/**
 * The consentgate graph, declared once: `describe` prints it, the engine runs it, and the topic catalog
 * (topologies/consentgate.json) must declare every topic it names.
 */
export const consentgateGraph = new TopologyBuilder<ConsentgateDeps>()
  .addStore('consent-table', { changelog: 'consent.state', key: 'customerId', value: 'ConsentState', codec: consentStateCodec })
  .addStore('active-sessions', { changelog: 'session.state', key: 'customerId', value: 'ActiveSessions' })
  .addStore('lineage', { changelog: 'lineage.state', key: 'customerId', value: 'LineageState' })
  .addStore('compliance', { changelog: 'compliance.status', key: 'customerId', value: 'ComplianceStatus' })
  .addStore('policy-cutovers', { changelog: 'policy.cutovers', key: 'input topic', value: 'PolicyCutover' })
  // Order matters where processors share an input: each sees the table after the ones before it.
  .addProcessor('consent-table', {
    doc: 'Folds consent.events into the consent-table store by capturedAt; each applied change goes to consent.state. Table updates never emit to sinks.',
    role: 'table', inputs: ['consent.events'], stores: ['consent-table'], outputs: ['dlq'],
  }, (c) => consentTableProcessor(c.store<ConsentState>('consent-table')))
  .addProcessor('session-guard', {
    doc: 'After the consent table applies a withdrawal of a guarded purpose, issues END_SESSION for each of the customer\'s conversations that was live when it was captured (once per conversation).',
    role: 'table', inputs: ['consent.events'], stores: ['active-sessions'], reads: ['consent-table'], outputs: ['session.commands'],
  }, (c) => sessionGuardProcessor(sessionGuardDeps(c)))
  .addProcessor('purge', {
    doc: 'A purpose-level withdrawal, an erasure request or a replay\'s retraction opens a purge request: PURGE_REQUEST on purge.commands for every vendor whose sinks received that customer\'s data for that purpose (lineage × vendor registry). Acks on purge.acks update compliance.status; FULLY_COMPLIANT once every vendor completed. A timer re-sends to vendors that never acknowledged and escalates overdue requests. An erasure also withdraws every purpose in the consent table.',
    role: 'table', inputs: ['consent.events', 'erasure.requests', 'purge.retractions', 'purge.acks'], stores: ['consent-table', 'compliance'], reads: ['lineage'], outputs: ['purge.commands', 'purge.escalations', 'dlq'],
  }, (c) => purgeProcessor({
    consent: c.store('consent-table'), lineage: c.store<Lineage>('lineage'), compliance: c.store<ComplianceRecord>('compliance'), vendors: c.deps.vendors,
    topics: { consentEvents: c.topic('consent.events'), erasures: c.topic('erasure.requests'), acks: c.topic('purge.acks'), retractions: c.topic('purge.retractions') },
    commands: { topic: c.topic('purge.commands'), serde: c.serdes.forTopic<PurgeCommand>('purge.commands') },
    escalations: { topic: c.topic('purge.escalations'), serde: c.serdes.forTopic<PurgeEscalation>('purge.escalations') },
  }))
  .addProcessor('enforcement', {
    doc: 'Stream-table join on customerId: each record is decided once per sink against the consent table; forwarded records are reduced by the sink\'s field rules. Each forward is recorded in the lineage store (which sinks received the customer\'s data, for which purposes). A cutover marker (written by consentgate replay) switches its partition of the topic to a later policy generation and that generation\'s sink topics, from the next record on (policy-cutovers store).',
    role: 'stream', inputs: ['genesys.conversations', 'genesys.exports'], stores: ['lineage', 'policy-cutovers'], reads: ['consent-table'],
    outputs: ['sink.crm', 'sink.analytics', 'sink.thirdparty', 'audit.decisions', 'dlq'],
  }, (c) => enforcementProcessor({
    store: c.store<ConsentState>('consent-table'), lineage: c.store<Lineage>('lineage'), policy: c.deps.policy,
    cutovers: c.store<PolicyCutover>('policy-cutovers'), parsePolicy: c.deps.parsePolicy,
    sinkTopic: (sink, generation) => ({ topic: c.generationTopic(c.sink(sink), generation), serde: c.serdes.forTopic<SinkRecord>(c.sink(sink)) }),
    decisionsTopic: c.topic('audit.decisions'), decisionSerde: c.serdes.forTopic<Decision>('audit.decisions'),
    transforms: c.deps.transforms, shredKeys: c.deps.shredKeys,
  }))
  .addProcessor('lineage-merge', {
    doc: 'Adds the deliveries a replay made to a new generation\'s sinks (lineage.deliveries) to the lineage store, so a later withdrawal or erasure reaches the vendors of records the replay admitted.',
    role: 'table', inputs: ['lineage.deliveries'], stores: ['lineage'], outputs: [],
  }, (c) => {
    const lineage = c.store<Lineage>('lineage');
    return { process: (_input, add: Lineage) => lineage.put(add.customerId, mergeLineage(lineage.get(add.customerId), add)) };
  })
  .addProcessor('session-tracker', {
    doc: 'Tracks live conversations per customer from customer.start/end records; a conversation starting after its customer already withdrew is not ended (its data is blocked anyway), one that was live when the withdrawal was captured is.',
    role: 'stream', inputs: ['genesys.conversations'], stores: ['active-sessions'], reads: ['consent-table'], outputs: ['session.commands'],
  }, (c) => sessionTrackerProcessor(sessionGuardDeps(c)))
  .addSink('crm', 'sink.crm')
  .addSink('analytics', 'sink.analytics')
  .addSink('thirdparty', 'sink.thirdparty')
  .withholdDeadLetters((store) => (key) => store<ComplianceRecord>('compliance').get(key)?.erased === true)
  .addSource('genesys-notifications', { from: 'Genesys Cloud', outputs: SOURCE_OUTPUTS, doc: 'Genesys notifications over WebSocket (client credentials, channel renewal, reconnect); after any gap, backfills conversations through the analytics query and contacts through the contact listing.' })
  .addSource('eventbridge-http', { from: 'HTTP', outputs: SOURCE_OUTPUTS, doc: 'EventBridge envelopes POSTed by an API destination to /v1/eventbridge; mapped exactly like WebSocket events.' })
  .addSource('eventbridge-topic', { from: 'genesys.eventbridge', outputs: SOURCE_OUTPUTS, doc: 'EventBridge envelopes written as JSON by an EventBridge-to-Kafka bridge.' })
  .addSource('consent-intake', { from: 'HTTP', outputs: ['consent.events', 'consent.pending', 'dlq'], doc: 'POST /v1/consent from web forms, IVR and agents, naming the customer id, an e-mail address or a phone number; validated, resolved through the identity graph (a withdrawal through any link, a grant through a strong one), acknowledged once on consent.events, or on consent.pending while the identifier resolves to nobody.' })
  .addSource('identity-resolver', { from: 'consent.pending, identity.contacts', outputs: ['consent.events', 'consent.pending'], doc: 'Keeps the consent statements given by an identifier no contact held; applies each (to consent.events) once a contact with that identifier appears, then tombstones it. Every connector process follows identity.contacts as a global table (the identity graph).' })
  .addSource('writeback', { from: 'consent.events', outputs: [], doc: 'Writes consent from consent.events (except what came from Genesys) back to the external contact\'s ComplianceConsent fields.' })
  .addSource('integrations', { from: 'Genesys Cloud', outputs: ['integrations.changes', 'connect.offsets'], doc: 'Periodic listing of OAuth clients and integrations, diffed against the last seen definitions; audit events are enriched with the current definition.' })
  .addSource('bulk-export', { from: 'Genesys Cloud', outputs: ['genesys.exports', 'connect.offsets', 'dlq'], doc: 'consentgate export: analytics conversation-detail jobs, page by page, each page and its cursor in one transaction.' })
  .addSource('session-executor', { from: 'session.commands', outputs: ['session.outcomes'], doc: 'Consumes session.commands; at disconnectAt, disconnects a conversation that is still live through Genesys (PATCH state disconnected) and records the outcome; failures are retried, then recorded as FAILED and logged.' })
  .addSource('erasure-intake', { from: 'HTTP', outputs: ['erasure.requests'], doc: 'POST /v1/erasure (consent-intake connector) and consentgate erase: destroy the customer\'s data keys, optionally file a Genesys GDPR_DELETE, then write the request to erasure.requests.' })
  .addSource('replay', { from: 'consentgate replay', outputs: ['policy.generations', 'genesys.conversations', 'genesys.exports', 'purge.retractions', 'lineage.deliveries'], doc: 'Builds a new policy generation from the retained records (its own application id and transactions: decisions, the generation\'s sink topics, retractions to the purge topology, its deliveries to the lineage), after writing a cutover marker to each partition of the record topics; policy.generations logs each generation and its state.' })
  .addSource('dpia', { from: 'integrations.changes', outputs: ['dpia.events'], doc: 'integrations.changes → assess each new definition (classification, allowed destinations, vendors), record it in the DPIA store, compare with the last approved DPIA (drift), emit dpia.events.' });

function sessionGuardDeps(c: BuildContext<ConsentgateDeps>) {
  return {
    consent: c.store<ConsentState>('consent-table'),
    sessions: c.store<ActiveSessions>('active-sessions'),
    policy: { purposes: c.deps.policy.sessionGuard.purposes, disconnectAfterMs: c.deps.sessionDisconnectAfterMs },
    commandsTopic: c.topic('session.commands'),
    commandSerde: c.serdes.forTopic<SessionCommand>('session.commands'),
  };
}

/** The consentgate topology: the topic catalog in `file` (names prefixed with `prefix`) bound to its graph. */
export function loadTopology(file: string, prefix = ''): Topology<ConsentgateDeps> {
  return bindTopology(loadCatalog(file, prefix), consentgateGraph);
}

/** What the replay's processors need besides their stores, topics and serdes (see processors/replay.ts). */
export type ReplayGraphDeps = Pick<ReplayDeps, 'policy' | 'previous' | 'replayId' | 'cutover' | 'forwardedBefore' | 'transforms' | 'shredKeys'>;

const REPLAY_TABLE = 'replay.consent-table';

/**
 * The graph `consentgate replay` runs (its own application id, group and transactions): its own consent table,
 * folded from consent.events and erasure.requests exactly as the live one (so a withdrawal acknowledged during the
 * replay is applied before the records after it are decided), and the replay processor writing the new generation.
 */
export const replayGraph = new TopologyBuilder<ReplayGraphDeps>()
  .addStore('consent-table', { changelog: REPLAY_TABLE, key: 'customerId', value: 'ConsentState', codec: consentStateCodec })
  .addProcessor('consent-table', {
    doc: 'Folds consent.events into the replay\'s consent table (invalid events were dead-lettered by the live pipeline already: skipped).',
    role: 'table', inputs: ['consent.events'], stores: ['consent-table'], outputs: [],
  }, (c) => consentTableProcessor(c.store<ConsentState>('consent-table'), { invalid: 'skip' }))
  .addProcessor('erasures', {
    doc: 'An erasure withdraws every purpose of the customer in the replay\'s consent table.',
    role: 'table', inputs: ['erasure.requests'], stores: ['consent-table'], outputs: [],
  }, (c) => {
    const consent = c.store<ConsentState>('consent-table');
    return { process: (input, r: ErasureRequest, ctx) => { if (r.customerId && input.key?.toString('utf8') === r.customerId) applyErasure(consent, r, input, ctx); } };
  })
  .addProcessor('replay', {
    doc: 'Decides each retained record below its partition\'s cutover under the new policy: decisions (generation, replay id), the permitted records on the new generation\'s sink topics, retractions of what the previous generation forwarded and the new one forbids, lineage deliveries.',
    role: 'stream', inputs: ['genesys.conversations', 'genesys.exports'], stores: [], reads: ['consent-table'],
    outputs: ['sink.crm', 'sink.analytics', 'sink.thirdparty', 'audit.decisions', 'purge.retractions', 'lineage.deliveries'],
  }, (c) => replayProcessor({
    ...c.deps,
    store: c.store<ConsentState>('consent-table'),
    sinkTopic: (sink, generation) => ({ topic: c.generationTopic(c.sink(sink), generation), serde: c.serdes.forTopic<SinkRecord>(c.sink(sink)) }),
    decisionsTopic: c.topic('audit.decisions'), decisionSerde: c.serdes.forTopic<Decision>('audit.decisions'),
    retractions: { topic: c.topic('purge.retractions'), serde: c.serdes.forTopic<Retraction>('purge.retractions') },
    deliveries: { topic: c.topic('lineage.deliveries'), serde: c.serdes.forTopic<Lineage>('lineage.deliveries') },
  }))
  .addSink('crm', 'sink.crm')
  .addSink('analytics', 'sink.analytics')
  .addSink('thirdparty', 'sink.thirdparty');

/**
 * The replay of generation `generation` as a topology of its own: the live catalog's topics it uses, its consent
 * table's changelog (`<application id>-replay-g<N>-consent-table`) and its application id (`…-replay-g<N>`).
 */
export function replayTopology(live: Topology<ConsentgateDeps>, generation: number): Topology<ReplayGraphDeps> {
  const applicationId = `${live.applicationId}-replay-g${generation}`;
  const used = ['consent.events', 'erasure.requests', 'genesys.conversations', 'genesys.exports', 'sink.crm', 'sink.analytics', 'sink.thirdparty', 'audit.decisions', 'purge.retractions', 'lineage.deliveries', 'dlq'];
  const topics = new Map(used.map((l) => [l, live.topic(l)]));
  const events = live.topic('consent.events');
  topics.set(REPLAY_TABLE, { logical: REPLAY_TABLE, name: `${applicationId}-consent-table`, partitions: events.partitions, valueSchema: 'ConsentState', config: live.topic('consent.state').config, generations: false });
  const topic = (logical: string) => {
    const def = topics.get(logical);
    if (!def) throw new Error(`the replay topology has no topic ${logical}`);
    return def;
  };
  return bindTopology({ file: `${live.file} (replay of generation ${generation})`, applicationId, description: `Replay building policy generation ${generation}`, topics, topic }, replayGraph);
}
