import { GenesysClient } from '../adapters/genesys.ts';
import { openProducer, type Kafka } from '../adapters/kafka.ts';
import type { Logger } from '../adapters/logger.ts';
import type { SerdeRegistry } from '../adapters/schemaRegistry.ts';
import { GENESYS_CONNECTORS, type Config } from '../config.ts';
import type { Clock } from '../domain/clock.ts';
import type { Mapped } from '../domain/genesysEvents.ts';
import type { ConsentEvent } from '../domain/types.ts';
import type { HealthReport } from '../ops.ts';
import type { Topology } from '../runtime/topology.ts';
import { Checkpoints } from './checkpoints.ts';
import { startEventBridgeTopic } from './eventBridgeTopic.ts';
import { HttpIntake } from './httpIntake.ts';
import { IntegrationWatcher } from './integrations.ts';
import { NotificationsSource } from './notifications.ts';
import { SourceSink } from './sink.ts';
import { startWriteback } from './writeback.ts';
import { startSessionExecutor } from './sessionExecutor.ts';
import { series } from '../runtime/metrics.ts';
import { requestErasure } from './erasure.ts';
import { startDpiaWatcher } from './dpiaWatcher.ts';
import { openDpiaStore, referenceData } from '../dpiaReference.ts';
import type { KeyStore } from '../adapters/keyStore.ts';
import { loadDefinitions, openAnalyticsStore } from '../app.ts';
import { AnalyticsApi, loadReaders } from './analyticsApi.ts';
import { startAnalyticsStore } from './analyticsStore.ts';
import { IdentityGraph, startPendingResolver } from './identity.ts';
import { identifierPseudonym, openEvidenceStore } from '../evidence.ts';
import { EvidenceApi } from './evidenceApi.ts';
import { startEvidenceStore } from './evidenceStore.ts';

/** Connectors that write conversation records or consent, and so resolve identities. */
const IDENTITY_CONNECTORS: Config['connectors'] = ['notifications', 'eventbridge-http', 'eventbridge-topic', 'consent-intake'];

export interface ConnectorDeps {
  config: Config;
  /** The pipeline's key store, for erasure (crypto-shredding); absent when the policy shreds nothing. */
  keyStore?: KeyStore;
  kafka: Kafka;
  topology: Topology;
  serdes: SerdeRegistry;
  clock: Clock;
  logger: Logger;
  /** The process's health (run's HealthMonitor): the intake's GET /healthz answers with it, 503 when unhealthy. */
  health?: () => HealthReport;
}

export interface Connectors {
  sink: SourceSink;
  genesys?: GenesysClient;
  notifications?: NotificationsSource;
  integrations?: IntegrationWatcher;
  intake?: HttpIntake;
  /** The identity graph this process follows (with any connector that writes records or consent). */
  graph?: IdentityGraph;
  identity?: Awaited<ReturnType<typeof startPendingResolver>>;
  writeback?: Awaited<ReturnType<typeof startWriteback>>;
  sessionExecutor?: Awaited<ReturnType<typeof startSessionExecutor>>;
  dpia?: Awaited<ReturnType<typeof startDpiaWatcher>>;
  analyticsStore?: Awaited<ReturnType<typeof startAnalyticsStore>>;
  analyticsApi?: AnalyticsApi;
  evidenceStore?: Awaited<ReturnType<typeof startEvidenceStore>>;
  evidenceApi?: EvidenceApi;
  stats(): Record<string, unknown>;
  /** Whether the connectors are connected (readiness): the notifications source has its WebSocket open. */
  readiness(): { ready: boolean; detail?: string };
  /** The connectors' figures as metric series (runtime/metrics.ts) for /metrics. */
  metrics(): { counters: Record<string, number>; gauges: Record<string, number> };
  stop(): Promise<void>;
}

export function genesysClient(config: Config, logger: Logger, clock: Clock): GenesysClient {
  if (!config.genesys) throw new Error('Genesys is not configured: set GENESYS_CLIENT_ID, GENESYS_CLIENT_SECRET and GENESYS_REGION or GENESYS_BASE_URL');
  return new GenesysClient(config.genesys, logger.child({ component: 'genesys' }), () => clock.now());
}

/** Starts the connectors named in `config.connectors`, all writing through one validating sink. */
export async function startConnectors(d: ConnectorDeps): Promise<Connectors> {
  const { config, kafka, topology, serdes, clock } = d;
  const on = new Set(config.connectors);
  const logger = d.logger.child({ component: 'connectors' });
  const producer = await openProducer(kafka);
  const stops: (() => Promise<void>)[] = [];
  // The identity graph (a global table of identity.contacts) for every connector that writes records or consent.
  const graph = IDENTITY_CONNECTORS.some((n) => on.has(n)) ? await IdentityGraph.start({ kafka, topology, serdes, logger }) : undefined;
  if (graph) stops.push(() => graph.stop());
  const sink = new SourceSink({ sender: producer, topology, serdes, clock, logger, identity: graph?.index });
  const out: Connectors = {
    sink,
    graph,
    stats: () => ({
      sink: sink.stats,
      genesys: out.genesys?.stats,
      notifications: out.notifications?.stats,
      integrations: out.integrations?.stats,
      intake: out.intake?.stats,
      identity: out.identity && { contacts: graph!.index.contacts, ...out.identity.stats },
      writeback: out.writeback?.stats,
      sessionExecutor: out.sessionExecutor?.stats,
      dpia: out.dpia?.stats,
      analyticsStore: out.analyticsStore?.stats,
      analyticsApi: out.analyticsApi?.stats,
      evidenceStore: out.evidenceStore?.stats,
      evidenceApi: out.evidenceApi?.stats,
    }),
    readiness: () => {
      if (out.notifications && !out.notifications.connected) return { ready: false, detail: 'the notifications source is not connected' };
      return { ready: true };
    },
    metrics: () => {
      const counters: Record<string, number> = {};
      const gauges: Record<string, number> = {};
      const add = (name: string, labels: Record<string, string>, value: number | undefined) => {
        if (value !== undefined) counters[series(name, labels)] = value;
      };
      for (const [result, n] of Object.entries(sink.stats)) add('consentgate_source_records_total', { result }, n);
      const n = out.notifications?.stats;
      add('consentgate_connector_events_total', { connector: 'notifications' }, n?.messages);
      add('consentgate_connector_gaps_total', { connector: 'notifications' }, n?.gaps);
      add('consentgate_connector_backfilled_records_total', { connector: 'notifications' }, n?.backfilledRecords);
      const g = out.genesys;
      add('consentgate_genesys_requests_total', {}, g?.stats.requests);
      add('consentgate_genesys_rate_limited_total', {}, g?.stats.rateLimited);
      add('consentgate_genesys_retries_total', {}, g?.stats.retries);
      if (g) gauges[series('consentgate_genesys_rate_budget_remaining')] = g.remainingBudget;
      for (const [outcome, k] of Object.entries(out.sessionExecutor?.stats ?? {})) add('consentgate_session_outcomes_total', { outcome }, k);
      for (const [result, k] of Object.entries(out.intake?.stats ?? {})) add('consentgate_intake_requests_total', { result }, k);
      if (graph) gauges[series('consentgate_identity_contacts')] = graph.index.contacts;
      if (out.identity) {
        gauges[series('consentgate_identity_pending_consents')] = out.identity.stats.pending;
        add('consentgate_identity_released_consents_total', {}, out.identity.stats.released);
      }
      for (const [result, k] of Object.entries(out.dpia?.stats ?? {})) add('consentgate_dpia_assessments_total', { result }, k);
      for (const [status, k] of out.dpia?.artifacts ?? []) gauges[series('consentgate_dpia_artifacts', { status })] = k;
      const a = out.analyticsStore?.stats;
      add('consentgate_analytics_store_rows_total', {}, a?.rows);
      add('consentgate_analytics_store_consent_states_total', {}, a?.consentStates);
      add('consentgate_analytics_store_purges_total', {}, a?.purges);
      add('consentgate_analytics_store_purged_rows_total', {}, a?.purgedRows);
      add('consentgate_analytics_store_redelivered_batches_total', {}, a?.redelivered);
      for (const [result, k] of Object.entries(out.analyticsApi?.stats ?? {})) add('consentgate_analytics_api_total', { result }, k);
      add('consentgate_evidence_store_records_total', {}, out.evidenceStore?.stats.records);
      for (const [result, k] of Object.entries(out.evidenceApi?.stats ?? {})) add('consentgate_evidence_api_total', { result }, k);
      return { counters, gauges };
    },
    async stop() {
      sink.stop();
      for (const s of stops.reverse()) await s().catch((err: Error) => logger.warn({ err: err.message }, 'connector stop failed'));
      await producer.close().catch(() => {});
    },
  };
  try {
    const needGenesys = GENESYS_CONNECTORS.some((n) => on.has(n));
    if (needGenesys || (config.genesys && on.has('consent-intake'))) { // the intake files GDPR_DELETE requests
      out.genesys = genesysClient(config, logger, clock);
      await out.genesys.ensureLoggedIn();
    }
    let enrich: ((m: Mapped) => Promise<Mapped>) | undefined;
    if (on.has('integrations')) {
      const checkpoints = await Checkpoints.load(kafka, topology, serdes, clock);
      out.integrations = new IntegrationWatcher({ genesys: out.genesys!, sink, checkpoints, checkpointSender: producer, clock, logger, intervalMs: config.genesys!.listingIntervalMs });
      out.integrations.start();
      enrich = out.integrations.enrich;
      stops.push(() => out.integrations!.stop());
    }
    if (on.has('notifications')) {
      const g = config.genesys!;
      out.notifications = new NotificationsSource({ genesys: out.genesys!, sink, topics: g.topics, backfillLookbackMs: g.backfillLookbackMs, clock, logger, enrich });
      await out.notifications.start();
      stops.push(() => out.notifications!.stop());
    }
    if (on.has('consent-intake')) {
      const r = (out.identity = await startPendingResolver({ kafka, topology, serdes, graph: graph!, sender: producer, clock, logger }));
      stops.push(() => r.stop());
    }
    if (on.has('consent-intake') || on.has('eventbridge-http')) {
      out.intake = new HttpIntake({
        ...config.http, sink, clock, logger, enrich, identity: graph?.index,
        consentIntake: on.has('consent-intake'),
        eventBridge: on.has('eventbridge-http'),
        erase: (r) => requestErasure({ ...r, keyStore: d.keyStore, genesys: out.genesys, sender: producer, topology, serdes, clock }),
        health: () => {
          const report = d.health?.();
          return { healthy: report ? report.status === 'healthy' : true, body: { ...report, connectors: [...on], stats: out.stats() } };
        },
      });
      await out.intake.start();
      logger.info({ url: out.intake.url }, 'HTTP intake listening');
      stops.push(() => out.intake!.stop());
    }
    if (on.has('eventbridge-topic')) {
      const c = await startEventBridgeTopic({ kafka, groupId: `${topology.applicationId}-eventbridge`, topic: topology.topic('genesys.eventbridge').name, sink, enrich });
      stops.push(() => c.stop());
    }
    if (on.has('writeback')) {
      const w = (out.writeback = await startWriteback({
        kafka, groupId: `${topology.applicationId}-writeback`, topic: topology.topic('consent.events').name,
        serde: serdes.forTopic<ConsentEvent>('consent.events'), genesys: out.genesys!, logger,
      }));
      stops.push(() => w.stop());
    }
    if (on.has('session-executor')) {
      const e = (out.sessionExecutor = await startSessionExecutor({
        kafka, groupId: `${topology.applicationId}-session-executor`, topology, serdes, genesys: out.genesys!, sender: producer, clock, logger,
        maxAttempts: config.sessionMaxAttempts,
      }));
      stops.push(() => e.stop());
    }
    if (on.has('dpia')) {
      const store = await openDpiaStore(config);
      const w = (out.dpia = await startDpiaWatcher({ kafka, groupId: `${topology.applicationId}-dpia`, topology, serdes, store, sender: producer, clock, logger, reference: referenceData() }));
      stops.push(async () => {
        await w.stop();
        await store.close();
      });
    }
    if (on.has('analytics-store')) {
      const { policy, vendors } = loadDefinitions(config);
      const store = openAnalyticsStore(config, policy);
      stops.push(() => store.db.close());
      const s = (out.analyticsStore = await startAnalyticsStore({ kafka, topology, serdes, policy, vendors, store, sender: producer, clock, logger }));
      stops.push(() => s.stop());
      if (config.analytics.readersFile) {
        const api = (out.analyticsApi = new AnalyticsApi({ ...config.analytics, readers: loadReaders(config.analytics.readersFile, policy), store, policy, clock, logger: logger.child({ component: 'analytics-api' }) }));
        await api.start();
        logger.info({ url: api.url }, 'analytics read API listening');
        stops.push(() => api.stop());
      }
    }
    if (on.has('evidence-store')) {
      const store = openEvidenceStore(config);
      stops.push(() => store.db.close());
      const pseudonym = identifierPseudonym(config);
      const e = (out.evidenceStore = await startEvidenceStore({ kafka, topology, serdes, store, pseudonym, sender: producer, clock, logger }));
      stops.push(() => e.stop());
      if (config.evidence.token) {
        const api = (out.evidenceApi = new EvidenceApi({ ...config.evidence, token: config.evidence.token, store, vendors: loadDefinitions(config).vendors, pseudonym, clock, logger: logger.child({ component: 'evidence-api' }) }));
        await api.start();
        logger.info({ url: api.url }, 'evidence API listening');
        stops.push(() => api.stop());
      }
    }
  } catch (err) {
    await out.stop();
    throw err;
  }
  return out;
}
