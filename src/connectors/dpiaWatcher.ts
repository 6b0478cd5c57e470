import type { DpiaStore } from '../adapters/dpiaStore.ts';
import { integrationFromGenesys } from '../adapters/dpiaInputs.ts';
import { consumeBatches, type Kafka } from '../adapters/kafka.ts';
import { decodeWaiting } from '../adapters/schemaRegistry.ts';
import type { Logger } from '../adapters/logger.ts';
import type { SerdeRegistry } from '../adapters/schemaRegistry.ts';
import type { Clock } from '../domain/clock.ts';
import { assess, driftOf, type AssessmentInput } from '../domain/dpia.ts';
import type { IntegrationChange } from '../domain/genesysEvents.ts';
import type { Topology } from '../runtime/topology.ts';
import type { Sender } from './sink.ts';

export interface DpiaEvent {
  integrationId: string;
  changeId: string;
  integrationName: string | null;
  dpiaId: string | null;
  complianceStatus: string;
  overallRisk: string | null;
  blockingFindings: string[];
  approvedDpiaId: string | null;
  drifted: boolean;
  drift: string[];
  /** Hosts the assessed integration sends data to. */
  destinations: string[];
  at: number;
}

/**
 * The dpia topology: every OAuth-client or integration change on integrations.changes is assessed as it happens
 * (timestamped with the change, so a replay gives the same artifact), recorded in the DPIA store, compared with the
 * integration's last approved DPIA, and announced on dpia.events — drift is caught when it happens, not weekly.
 * At least once: a replayed change records nothing twice (artifacts are keyed by their id).
 */
export async function startDpiaWatcher(o: {
  kafka: Kafka; groupId: string; topology: Topology; serdes: SerdeRegistry; store: DpiaStore; sender: Sender; clock: Clock; logger: Logger;
  reference: Pick<AssessmentInput, 'classification' | 'destinations' | 'vendors'>;
}) {
  const changes = o.serdes.forTopic<IntegrationChange>('integrations.changes');
  const events = o.serdes.forTopic<DpiaEvent>('dpia.events');
  const topic = o.topology.topic('dpia.events').name;
  const stats = { assessed: 0, blocked: 0, drifted: 0, skipped: 0 };
  /** Artifacts in the store by compliance status (for /metrics), read at start and after each batch. */
  const artifacts = new Map<string, number>();
  const refreshArtifacts = async () => {
    const now = await o.store.artifactsByStatus().catch((err: Error) => (o.logger.warn({ err: err.message }, 'could not count DPIA artifacts'), undefined));
    if (!now) return;
    artifacts.clear();
    for (const [k, v] of now) artifacts.set(k, v);
  };
  await refreshArtifacts();
  const consumer = await consumeBatches(o.kafka, {
    groupId: o.groupId,
    topic: o.topology.topic('integrations.changes').name,
    async handle(records, heartbeat) {
      for (const r of records) {
        let c: IntegrationChange;
        try {
          c = await decodeWaiting(changes, r.value, { heartbeat, warn: (m) => o.logger.warn(m) });
        } catch (err) {
          stats.skipped++;
          o.logger.error({ offset: r.offset, partition: r.partition, err: (err as Error).message }, 'undecodable integration change skipped');
          continue;
        }
        const base = { integrationId: c.integrationId, changeId: c.changeId, integrationName: c.name, at: o.clock.now() };
        let event: DpiaEvent;
        if (c.definition === null) {
          event = { ...base, dpiaId: null, complianceStatus: 'REMOVED', overallRisk: null, blockingFindings: [], approvedDpiaId: null, drifted: false, drift: [], destinations: [] };
        } else {
          const artifact = assess({ ...o.reference, integration: integrationFromGenesys(JSON.parse(c.definition), `integrations.changes ${c.changeId}`), samples: [], at: new Date(c.occurredAt).toISOString() });
          await o.store.recordArtifact(artifact, c.occurredAt);
          const approved = await o.store.lastApproved(c.integrationId);
          const drift = approved && approved.dpia_id !== artifact.dpia_id ? driftOf(approved, artifact) : null;
          event = {
            ...base, dpiaId: artifact.dpia_id, complianceStatus: artifact.compliance_status, overallRisk: artifact.risk_assessment.overall_risk_score,
            blockingFindings: artifact.findings.filter((f) => f.blocking).map((f) => f.title), approvedDpiaId: approved?.dpia_id ?? null,
            drifted: drift?.drifted ?? false,
            drift: drift ? [...drift.newScopes.map((s) => `new scope ${s}`), ...drift.newDestinations.map((d) => `new destination ${d}`), ...drift.newFindingTypes.map((f) => `new finding ${f}`)] : [],
            destinations: artifact.destinations.map((d) => d.host),
          };
          stats.assessed++;
          if (artifact.compliance_status === 'BLOCKED_FOR_DEPLOYMENT') stats.blocked++;
          if (event.drifted) {
            stats.drifted++;
            o.logger.warn({ integrationId: c.integrationId, dpiaId: artifact.dpia_id, approved: approved?.dpia_id, drift: event.drift }, 'integration drifted from its approved DPIA');
          }
        }
        await o.sender.send([{ topic, key: c.integrationId, value: events.encode(event) }]);
      }
      await refreshArtifacts();
    },
  });
  return { stats, artifacts, stop: () => consumer.stop() };
}
