import { identifierNoun, STRENGTH } from './identity.ts';
import type { AckStatus, PurgeReason, Vendor } from './purge.ts';
import type { ComplianceStatus, ConsentSource, ConsentState, IdentifierKind, LinkStrength, Purpose, PurposeConsent, Resolution } from './types.ts';

/**
 * The evidence bundle: one customer's answer to "what did you do with my data, and why", assembled from the
 * evidence store's rows (ids, reasons, versions and pseudonyms, never personal data). Pure: rows in, bundle out.
 */

export interface IdentifierRow {
  kind: IdentifierKind;
  /** The pipeline's HMAC pseudonym of the identifier (the value itself is not stored). */
  pseudonym: string;
  /** How many contacts hold it now (1: it links to this customer alone). */
  heldBy: number;
  modifiedAt: number;
}

export interface ConsentEventRow {
  eventId: string;
  source: ConsentSource;
  capturedAt: number;
  /** When the broker received it (the record timestamp). */
  receivedAt: number;
  purposes: PurposeConsent[];
  resolvedBy: Resolution | null;
}

export interface ConsentStateRow {
  version: number;
  complianceStatus: ComplianceStatus;
  /** Per purpose: the purpose-level grant (null: never stated) and channel overrides, with the event that set each. */
  purposes: { purpose: Purpose; granted: boolean | null; eventId: string | null; channels: { channel: string; granted: boolean; eventId: string }[] }[];
  updatedAt: number;
}

export interface DecisionRow {
  recordId: string;
  conversationId: string;
  sink: string;
  outcome: 'FORWARDED' | 'BLOCKED';
  reason: string;
  deniedPurposes: Purpose[];
  policyVersion: string;
  consentVersion: number | null;
  decidedAt: number;
  generation: number;
  replayId: string | null;
  resolvedBy: Resolution | null;
}

export interface PurgeCommandRow {
  commandId: string;
  requestId: string;
  vendor: string;
  reason: PurgeReason;
  purposes: Purpose[];
  issuedAt: number;
  dueAt: number;
  attempt: number;
}

export interface PurgeAckRow {
  requestId: string;
  vendor: string;
  status: AckStatus;
  reason: string | null;
  at: number;
}

export interface SessionRow {
  commandId: string;
  conversationId: string;
  reason: string;
  issuedAt: number;
  disconnectAt: number;
  outcome: string | null;
  outcomeAt: number | null;
  detail: string | null;
}

export interface ErasureRow {
  requestId: string;
  requestedAt: number;
  source: string;
  keysDestroyed: number;
  genesysGdprRequestId: string | null;
}

export interface DpiaRow {
  integrationId: string;
  integrationName: string | null;
  dpiaId: string | null;
  complianceStatus: string;
  overallRisk: string | null;
  destinations: string[];
  at: number;
}

/** Everything the store holds about one customer (decisions newest first, at most `decisionLimit`). */
export interface EvidenceRows {
  customerId: string;
  identifiers: IdentifierRow[];
  consentEvents: ConsentEventRow[];
  consentStates: ConsentStateRow[];
  decisions: DecisionRow[];
  decisionsTotal: number;
  purgeCommands: PurgeCommandRow[];
  purgeAcks: PurgeAckRow[];
  sessions: SessionRow[];
  erasures: ErasureRow[];
  /** The latest assessment of every integration (the bundle picks those whose destinations received the data). */
  dpias: DpiaRow[];
}

export type SlaStatus = 'MET' | 'LATE' | 'OVERDUE' | 'OPEN' | 'DENIED';

/** One purge request to one vendor: its first command (resends counted in `attempts`) and the vendor's answers. */
export interface VendorPurge extends Omit<PurgeCommandRow, 'commandId' | 'attempt'> {
  attempts: number;
  acks: { status: AckStatus; reason: string | null; at: number }[];
  /** COMPLETED by dueAt: MET; after it: LATE; DENIED; no answer yet: OPEN, or OVERDUE past dueAt. */
  sla: SlaStatus;
  completedAt: number | null;
}

export type TimelineKind = 'CONSENT' | 'DECISION' | 'PURGE_REQUESTED' | 'PURGE_ACKNOWLEDGED' | 'SESSION_ENDED' | 'ERASURE';

export interface TimelineEntry {
  at: number;
  kind: TimelineKind;
  text: string;
}

export interface EvidenceBundle {
  customerId: string;
  generatedAt: number;
  identifiers: (IdentifierRow & { link: LinkStrength | 'NONE'; why: string; asked: boolean })[];
  consent: (ConsentEventRow & { stateAfter: ConsentStateRow | null })[];
  currentConsent: ConsentStateRow | null;
  decisions: DecisionRow[];
  decisionsTotal: number;
  /** Sinks that received the customer's records (FORWARDED at least once), with counts. */
  forwardedTo: { sink: string; records: number; first: number; last: number }[];
  purges: VendorPurge[];
  sessions: SessionRow[];
  erasures: ErasureRow[];
  dpias: (DpiaRow & { vendors: string[] })[];
  timeline: TimelineEntry[];
}

const iso = (ms: number) => new Date(ms).toISOString();

function identifierLink(r: IdentifierRow): { link: LinkStrength | 'NONE'; why: string } {
  const noun = identifierNoun(r.kind);
  if (r.heldBy > 1) return { link: 'NONE', why: `${r.heldBy} contacts hold this ${noun}: it resolves to nobody` };
  const link = STRENGTH[r.kind];
  const why = link === 'WEAK'
    ? `held by this contact alone, but a ${noun} is shared and recycled: withdrawals apply through it, grants and forwards do not`
    : `held by this contact alone: consent and records given with it apply to this customer`;
  return { link, why };
}

function slaOf(p: { dueAt: number; acks: { status: AckStatus; at: number }[] }, now: number): { sla: SlaStatus; completedAt: number | null } {
  const done = p.acks.find((a) => a.status === 'COMPLETED');
  if (done) return { sla: done.at <= p.dueAt ? 'MET' : 'LATE', completedAt: done.at };
  if (p.acks.some((a) => a.status === 'DENIED')) return { sla: 'DENIED', completedAt: null };
  return { sla: now > p.dueAt ? 'OVERDUE' : 'OPEN', completedAt: null };
}

const describePurposes = (ps: PurposeConsent[]) => ps.map((p) => `${p.granted ? 'granted' : 'withdrew'} ${p.purpose}${p.channel ? ` on ${p.channel}` : ''}`).join(', ');

/**
 * Rows → bundle: each consent event with the state it led to (the first state version whose entries name it), vendor
 * purges with their acknowledgements and SLA status, the DPIAs of the integrations whose destinations are hosts of
 * the vendors that read a sink the customer's records reached, and one timeline of all of it in time order.
 */
export function assembleBundle(rows: EvidenceRows, o: { vendors: Vendor[]; now: number; asked?: string }): EvidenceBundle {
  const states = [...rows.consentStates].sort((a, b) => a.version - b.version);
  const names = (s: ConsentStateRow, eventId: string) => s.purposes.some((p) => p.eventId === eventId || p.channels.some((c) => c.eventId === eventId));
  const consent = [...rows.consentEvents].sort((a, b) => a.receivedAt - b.receivedAt || a.capturedAt - b.capturedAt)
    .map((e) => ({ ...e, stateAfter: states.find((s) => names(s, e.eventId)) ?? null }));

  const forwarded = new Map<string, { sink: string; records: number; first: number; last: number }>();
  for (const d of rows.decisions) {
    if (d.outcome !== 'FORWARDED') continue;
    const f = forwarded.get(d.sink) ?? { sink: d.sink, records: 0, first: d.decidedAt, last: d.decidedAt };
    f.records++;
    f.first = Math.min(f.first, d.decidedAt);
    f.last = Math.max(f.last, d.decidedAt);
    forwarded.set(d.sink, f);
  }

  const requests = new Map<string, VendorPurge>();
  for (const c of [...rows.purgeCommands].sort((a, b) => a.issuedAt - b.issuedAt)) {
    const key = `${c.requestId}/${c.vendor}`;
    const p = requests.get(key);
    if (p) p.attempts = Math.max(p.attempts, c.attempt);
    else requests.set(key, { requestId: c.requestId, vendor: c.vendor, reason: c.reason, purposes: c.purposes, issuedAt: c.issuedAt, dueAt: c.dueAt, attempts: c.attempt, acks: [], sla: 'OPEN', completedAt: null });
  }
  for (const a of [...rows.purgeAcks].sort((x, y) => x.at - y.at)) requests.get(`${a.requestId}/${a.vendor}`)?.acks.push({ status: a.status, reason: a.reason, at: a.at });
  const purges = [...requests.values()].map((p) => ({ ...p, ...slaOf(p, o.now) }));

  const receivedBy = new Map<string, string[]>();
  for (const v of o.vendors) {
    if (!v.sinks.some((s) => forwarded.has(s))) continue;
    for (const h of v.hosts) receivedBy.set(h.toLowerCase(), [...(receivedBy.get(h.toLowerCase()) ?? []), v.name]);
  }
  const dpias = rows.dpias
    .map((d) => ({ ...d, vendors: [...new Set(d.destinations.flatMap((h) => receivedBy.get(h.toLowerCase()) ?? []))] }))
    .filter((d) => d.vendors.length > 0);

  const timeline: TimelineEntry[] = [
    ...consent.map((e) => ({ at: e.receivedAt, kind: 'CONSENT' as const, text: `${describePurposes(e.purposes)} (source ${e.source}, captured ${iso(e.capturedAt)}${e.resolvedBy ? `, given by ${e.resolvedBy.identifier.toLowerCase()}` : ''})${e.stateAfter ? `: consent version ${e.stateAfter.version}, ${e.stateAfter.complianceStatus}` : ': changed nothing (older than what was known)'}` })),
    ...rows.decisions.map((d) => ({ at: d.decidedAt, kind: 'DECISION' as const, text: `record ${d.recordId} ${d.outcome === 'FORWARDED' ? 'forwarded to' : 'withheld from'} ${d.sink}: ${d.reason}${d.deniedPurposes.length ? ` (${d.deniedPurposes.join(', ')})` : ''}, policy ${d.policyVersion}, consent version ${d.consentVersion ?? 'none'}${d.resolvedBy ? `, customer found by ${d.resolvedBy.identifier.toLowerCase()} (${d.resolvedBy.link.toLowerCase()})` : ''}` })),
    ...purges.map((p) => ({ at: p.issuedAt, kind: 'PURGE_REQUESTED' as const, text: `purge requested from ${p.vendor} (${p.reason}${p.purposes.length ? `: ${p.purposes.join(', ')}` : ''}), due ${iso(p.dueAt)}` })),
    ...purges.flatMap((p) => p.acks.map((a) => ({ at: a.at, kind: 'PURGE_ACKNOWLEDGED' as const, text: `${p.vendor} answered ${a.status}${a.reason ? ` (${a.reason})` : ''}${a.status === 'COMPLETED' ? (a.at <= p.dueAt ? ', within its SLA' : `, ${Math.round((a.at - p.dueAt) / 60_000)} min after its SLA`) : ''}` }))),
    ...rows.sessions.map((s) => ({ at: s.issuedAt, kind: 'SESSION_ENDED' as const, text: `live conversation ${s.conversationId} ordered ended (${s.reason})${s.outcome ? `: ${s.outcome}${s.outcomeAt ? ` at ${iso(s.outcomeAt)}` : ''}` : ''}` })),
    ...rows.erasures.map((e) => ({ at: e.requestedAt, kind: 'ERASURE' as const, text: `erasure requested (source ${e.source}): ${e.keysDestroyed} data key(s) destroyed${e.genesysGdprRequestId ? `, Genesys GDPR request ${e.genesysGdprRequestId}` : ''}` })),
  ].sort((a, b) => a.at - b.at);

  return {
    customerId: rows.customerId,
    generatedAt: o.now,
    identifiers: rows.identifiers.map((r) => ({ ...r, ...identifierLink(r), asked: r.pseudonym === o.asked })),
    consent,
    currentConsent: states.at(-1) ?? null,
    decisions: rows.decisions,
    decisionsTotal: rows.decisionsTotal,
    forwardedTo: [...forwarded.values()],
    purges,
    sessions: rows.sessions,
    erasures: rows.erasures,
    dpias,
    timeline,
  };
}

/** A consent state as the evidence store keeps it: grants and the events that set them, no capture details. */
export function stateRowOf(s: ConsentState): ConsentStateRow {
  return {
    version: s.version,
    complianceStatus: s.complianceStatus,
    purposes: s.purposes.map((p) => ({
      purpose: p.purpose, granted: p.entry?.granted ?? null, eventId: p.entry?.eventId ?? null,
      channels: p.channels.map((c) => ({ channel: c.channel, granted: c.granted, eventId: c.eventId })),
    })),
    updatedAt: s.updatedAt,
  };
}
