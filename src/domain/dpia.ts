import { z } from 'zod';
import {
  elementsForFields, elementsForScopes, matchDestination, maxRisk, riskRank, TRANSFER_SAFEGUARDS, unknownFields, unknownScopes,
  type Classification, type DataElement, type Destinations, type RiskLevel,
} from './classification.ts';
import { isHop, locateHost } from './jurisdiction.ts';
import type { Vendor } from './purge.ts';

/**
 * The DPIA engine (GDPR Art. 35): an integration or OAuth client, its scopes, its destinations, payload samples and
 * the vendor registry in; the artifact of docs' guide out (`dpia_id`, `integration_name`, `timestamp`, `data_flows`,
 * `risk_assessment`, `mitigations`, `compliance_status`), with findings and evidence beside them. Pure and
 * deterministic: the same input gives the same artifact, byte for byte (the timestamp is part of the input).
 */

export const COMPLIANCE_STATUSES = ['APPROVED_FOR_DEPLOYMENT', 'PENDING_APPROVAL', 'BLOCKED_FOR_DEPLOYMENT'] as const;
export type DpiaStatus = (typeof COMPLIANCE_STATUSES)[number];
const LEVELS = ['Low', 'Medium', 'High', 'Critical'] as const;
type Level = (typeof LEVELS)[number];

export interface AssessedIntegration {
  id: string;
  name: string;
  kind: 'OAUTH_CLIENT' | 'INTEGRATION';
  scopes: string[];
  /** Data fields the integration declares it sends (its config, or --fields), classified like scopes. */
  fields?: string[];
  /** Outbound endpoints, each with where it was found (definition property, Terraform file and line, declared). */
  destinations: { url: string; host: string; foundIn: string }[];
  definitionHash: string;
  processingNature: string;
  frequency: string;
}

/** What a DPIA reads of the vendor registry (a governance record: retention, deletion, safeguards, whom it serves). */
export type VendorCapability = Pick<Vendor, 'name' | 'hosts' | 'retentionDays' | 'deletion' | 'contractualRetentionDays' | 'deletionSlaHours' | 'safeguards' | 'integrations'>;

export interface AssessmentInput {
  integration: AssessedIntegration;
  /** Content-scanner counts per sample (kind → findings), e.g. { CARD_NUMBER: 2 }. */
  samples: { name: string; counts: Record<string, number> }[];
  classification: Classification;
  destinations: Destinations;
  vendors: VendorCapability[];
  /** ISO time of the assessment: an input, so that the artifact is reproducible. */
  at: string;
}

export const FINDING_TYPES = [
  'UNKNOWN_SCOPE', 'CONTEXT_RAISED_RISK', 'SENSITIVE_CONTENT', 'UNAPPROVED_DESTINATION', 'CROSS_BORDER_TRANSFER',
  'UNENCRYPTED_TRANSIT', 'DATA_GOVERNANCE_MISMATCH',
] as const;

const Finding = z.object({
  id: z.string(),
  type: z.enum(FINDING_TYPES),
  severity: z.enum(['INFO', 'LOW', 'MEDIUM', 'HIGH', 'CRITICAL']),
  blocking: z.boolean(),
  title: z.string(),
  evidence: z.array(z.string()),
});
export type Finding = z.infer<typeof Finding>;

/** The artifact's own schema; every artifact is checked against it before it leaves the engine. */
export const DpiaArtifactSchema = z.object({
  /** 1: before destinations and via (still read: approvals and drift refer to stored artifacts). */
  schema_version: z.union([z.literal(1), z.literal(2)]),
  dpia_id: z.string(),
  integration_id: z.string(),
  integration_name: z.string(),
  integration_kind: z.enum(['OAUTH_CLIENT', 'INTEGRATION']),
  timestamp: z.iso.datetime({ offset: true }),
  data_flows: z.array(z.object({
    source: z.string(),
    destination: z.string(),
    /** The middleware the data passes on its way (event buses, functions, queues), in the order found. */
    via: z.array(z.string()).default([]),
    data_elements: z.array(z.string()),
    processing_nature: z.string(),
    frequency: z.string(),
  })),
  /** Every host (or ARN) the data reaches, where it is, whether it is approved, and what that means for a transfer. */
  destinations: z.array(z.object({
    host: z.string(),
    role: z.enum(['ENDPOINT', 'HOP']),
    jurisdiction: z.string().nullable(),
    /** How the jurisdiction is known: the allow-list entry, or the cloud or Genesys region the host names. */
    located_by: z.string(),
    approved: z.boolean(),
    approved_as: z.string().nullable(),
    safeguards: z.array(z.string()),
    transfer: z.enum(['NONE', 'ADEQUATE', 'SAFEGUARDED', 'UNSAFEGUARDED', 'UNKNOWN']),
    why: z.string(),
    found_in: z.array(z.string()),
  })).default([]),
  risk_assessment: z.object({
    likelihood: z.enum(LEVELS),
    impact: z.enum(LEVELS),
    overall_risk_score: z.enum(LEVELS),
    justification: z.string(),
  }),
  mitigations: z.array(z.object({ control_id: z.string(), description: z.string(), status: z.enum(['Implemented', 'Required', 'Pending Review']) })),
  compliance_status: z.enum(COMPLIANCE_STATUSES),
  findings: z.array(Finding),
  evidence: z.object({
    scopes: z.array(z.string()),
    fields: z.array(z.string()).default([]),
    definition_hash: z.string(),
    classification_version: z.string(),
    data_elements: z.array(z.object({ id: z.string(), risk_level: z.string(), regulatory_category: z.string(), via: z.array(z.string()) })),
    samples: z.array(z.object({ name: z.string(), counts: z.record(z.string(), z.number()) })),
  }),
});
export type DpiaArtifact = z.infer<typeof DpiaArtifactSchema>;

const toLevel = (r: RiskLevel): Level => LEVELS[riskRank(r)]!;

/** Likelihood × impact → overall (a conventional 4×3 matrix). */
function overall(likelihood: Level, impact: Level): Level {
  const l = Math.min(LEVELS.indexOf(likelihood), 2);
  const i = LEVELS.indexOf(impact);
  const table: Level[][] = [
    ['Low', 'Low', 'Medium'], // impact Low
    ['Low', 'Medium', 'High'], // Medium
    ['Medium', 'High', 'Critical'], // High
    ['High', 'Critical', 'Critical'], // Critical
  ];
  return table[i]![l]!;
}

/** FNV-1a 64-bit: a stable id for an input, no crypto needed (the artifact is not a secret). */
export function fingerprint(text: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return h.toString(16).padStart(16, '0');
}

/** Canonical JSON (sorted keys) so that equal inputs have equal fingerprints. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

export function assess(input: AssessmentInput): DpiaArtifact {
  const { integration: it, classification: c } = input;
  const findings: Finding[] = [];
  const add = (f: Omit<Finding, 'id'>) => findings.push({ ...f, id: `F-${String(findings.length + 1).padStart(2, '0')}` });

  // What flows: from the scopes, then from what the samples contain.
  const flowing = new Map<string, { element: DataElement; risk: RiskLevel; via: string[] }>();
  for (const { element, scopes } of elementsForScopes(it.scopes, c)) flowing.set(element.id, { element, risk: element.risk_level, via: scopes.map((s) => `scope ${s}`) });
  for (const s of unknownScopes(it.scopes, c)) {
    add({ type: 'UNKNOWN_SCOPE', severity: 'MEDIUM', blocking: false, title: `scope ${s} is not in the classification ${c.version}: its exposure is unassessed`, evidence: [`scope ${s}`] });
  }
  for (const { element, fields } of elementsForFields(it.fields ?? [], c)) {
    const hit = flowing.get(element.id) ?? { element, risk: element.risk_level, via: [] };
    hit.via.push(...fields.map((f) => `declared field ${f}`));
    flowing.set(element.id, hit);
  }
  for (const f of unknownFields(it.fields ?? [], c)) {
    add({ type: 'UNKNOWN_SCOPE', severity: 'LOW', blocking: false, title: `declared field ${f} is not in the classification ${c.version}: classify it`, evidence: [`declared field ${f}`] });
  }
  for (const sample of input.samples) {
    for (const [kind, n] of Object.entries(sample.counts)) {
      const id = c.scan_findings[kind];
      const element = c.data_elements.find((e) => e.id === id);
      if (!n || !element) continue;
      const hit = flowing.get(element.id) ?? { element, risk: element.risk_level, via: [] };
      hit.via.push(`${n}× ${kind} in sample ${sample.name}`);
      flowing.set(element.id, hit);
      add({ type: 'SENSITIVE_CONTENT', severity: element.risk_level, blocking: false, title: `sample ${sample.name} contains ${kind} (${element.regulatory_category}) although no field is declared as such`, evidence: [`${n} finding(s) of ${kind} in ${sample.name}`] });
    }
  }
  for (const rule of c.context_rules) {
    const target = flowing.get(rule.raise);
    if (!target || !rule.when_all.every((id) => flowing.has(id)) || riskRank(target.risk) >= riskRank(rule.to)) continue;
    target.risk = rule.to;
    add({ type: 'CONTEXT_RAISED_RISK', severity: 'INFO', blocking: false, title: `${rule.raise} raised to ${rule.to}: ${rule.reason}`, evidence: rule.when_all.map((id) => `flows: ${id}`) });
  }
  const elements = [...flowing.values()].sort((a, b) => a.element.id.localeCompare(b.element.id));
  const encryptionRequired = elements.some((e) => e.element.encryption_required);
  const sourceRetention = Math.max(0, ...elements.map((e) => e.element.default_retention_days));

  // Where it goes: one entry per host (two URLs on one host are one destination), each located and checked.
  const byHost = new Map<string, { urls: string[]; foundIn: string[]; evidence: string[] }>();
  for (const d of it.destinations) {
    const e = byHost.get(d.host) ?? { urls: [], foundIn: [], evidence: [] };
    if (!e.urls.includes(d.url)) e.urls.push(d.url);
    if (!e.foundIn.includes(d.foundIn)) e.foundIn.push(d.foundIn);
    if (!e.evidence.includes(`${d.url} (${d.foundIn})`)) e.evidence.push(`${d.url} (${d.foundIn})`);
    byHost.set(d.host, e);
  }
  const source = input.destinations.source_jurisdiction;
  const hopHosts = [...byHost.keys()].filter(isHop);
  const destinations: DpiaArtifact['destinations'] = [];
  for (const [host, d] of byHost) {
    const { evidence } = d;
    const approved = matchDestination(host, input.destinations);
    const located = locateHost(host);
    const jurisdiction = approved?.jurisdiction ?? located?.jurisdiction ?? null;
    const vendors = input.vendors.filter((x) => x.hosts.includes(host.toLowerCase()));
    const safeguards = [...new Set([...(approved?.safeguards ?? []), ...vendors.flatMap((v) => v.safeguards ?? [])])].filter((x) => (TRANSFER_SAFEGUARDS as readonly string[]).includes(x)).sort();
    const role = isHop(host) ? 'HOP' : 'ENDPOINT';
    const chain = role === 'HOP' ? `origin (${source}) → ${host}` : `origin (${source}) → ${[...hopHosts, host].join(' → ')}`;
    const where = located ? `${jurisdiction}, ${located.region}` : jurisdiction ?? 'unknown jurisdiction';
    const transfer: DpiaArtifact['destinations'][number]['transfer'] = jurisdiction === null ? 'UNKNOWN'
      : jurisdiction === source ? 'NONE' : input.destinations.adequate_jurisdictions.includes(jurisdiction) ? 'ADEQUATE' : safeguards.length ? 'SAFEGUARDED' : 'UNSAFEGUARDED';
    if (!approved) {
      add({ type: 'UNAPPROVED_DESTINATION', severity: 'HIGH', blocking: true, title: `${host} (${where}) is not an approved destination`, evidence });
    }
    if (transfer === 'UNSAFEGUARDED') {
      add({
        type: 'CROSS_BORDER_TRANSFER', severity: 'HIGH', blocking: true,
        title: `transfer (GDPR Ch. V) from ${source} to ${jurisdiction}: ${host} is in ${located?.region ?? approved?.name ?? jurisdiction}, outside the adequacy area, and no SCC, DPF or BCR is recorded`,
        evidence: [`chain: ${chain}`, ...evidence],
      });
    }
    if (d.urls.some((u) => u.startsWith('http://'))) {
      add({ type: 'UNENCRYPTED_TRANSIT', severity: encryptionRequired ? 'HIGH' : 'MEDIUM', blocking: encryptionRequired, title: `${host} is reached without TLS`, evidence: evidence.filter((e) => e.startsWith('http://')) });
    }
    const why = [
      approved ? `approved as ${approved.name}` : 'not on the allow-list',
      located ? `named region ${located.region}` : approved ? 'jurisdiction from the allow-list' : 'its jurisdiction cannot be read from the host name',
      transfer === 'UNSAFEGUARDED' ? `a transfer outside the adequacy area without safeguard` : transfer === 'SAFEGUARDED' ? `a transfer under ${safeguards.join(', ')}` : transfer === 'ADEQUATE' ? `${jurisdiction} is adequate` : transfer === 'NONE' ? `no transfer (same jurisdiction as the source)` : 'transfer status unknown',
    ].join('; ');
    destinations.push({
      host, role, jurisdiction, located_by: approved ? `allow-list: ${approved.name}` : located ? located.region : 'unknown',
      approved: approved !== undefined, approved_as: approved?.name ?? null, safeguards, transfer, why, found_in: d.foundIn,
    });
  }
  const external = destinations.length;

  // The vendors behind those hosts, and those the registry says serve this integration: their governance record.
  const served = input.vendors.filter((v) => v.hosts.some((h) => byHost.has(h)) || (v.integrations ?? []).some((x) => x === it.id || x === it.name));
  for (const v of served) {
    const record = `vendor registry: ${v.name} deletion ${v.deletion}, retention ${v.retentionDays ?? '?'} d${v.contractualRetentionDays != null ? `, contractual ${v.contractualRetentionDays} d` : ''}${v.deletionSlaHours != null ? `, deletion SLA ${v.deletionSlaHours} h` : ''}`;
    const obliged = elements.length > 0 && sourceRetention > 0;
    if (v.deletion === 'NONE') {
      add({ type: 'DATA_GOVERNANCE_MISMATCH', severity: 'HIGH', blocking: false, title: `vendor ${v.name} cannot delete data: erasure requests and the ${sourceRetention}-day retention cannot be honoured`, evidence: [record] });
    } else if (v.deletion === 'SOFT' && obliged) {
      add({ type: 'DATA_GOVERNANCE_MISMATCH', severity: 'MEDIUM', blocking: false, title: `vendor ${v.name} only soft-deletes: erased and expired records stay in its systems, against the ${sourceRetention}-day retention and erasure requests`, evidence: [record] });
    }
    if (v.retentionDays !== null && elements.length && v.retentionDays !== sourceRetention) {
      const longer = v.retentionDays > sourceRetention;
      add({
        type: 'DATA_GOVERNANCE_MISMATCH', severity: longer ? 'HIGH' : 'MEDIUM', blocking: false,
        title: longer
          ? `vendor ${v.name} keeps data ${v.retentionDays} days, longer than the source's ${sourceRetention}`
          : `vendor ${v.name} deletes after ${v.retentionDays} days while the source keeps ${sourceRetention}: retention policies disagree`,
        evidence: [record, `source retention ${sourceRetention} d`],
      });
    }
    if (v.contractualRetentionDays != null && elements.length && v.contractualRetentionDays < sourceRetention) {
      add({ type: 'DATA_GOVERNANCE_MISMATCH', severity: 'MEDIUM', blocking: false, title: `vendor ${v.name}'s contract allows ${v.contractualRetentionDays} days, shorter than the source's ${sourceRetention}: data older than that must not reach it, or the contract must change`, evidence: [record, `source retention ${sourceRetention} d`] });
    }
    if (v.contractualRetentionDays != null && v.retentionDays !== null && v.retentionDays > v.contractualRetentionDays) {
      add({ type: 'DATA_GOVERNANCE_MISMATCH', severity: 'HIGH', blocking: false, title: `vendor ${v.name} keeps data ${v.retentionDays} days, longer than its contract's ${v.contractualRetentionDays}`, evidence: [record] });
    }
    if (v.deletionSlaHours != null && v.deletionSlaHours > 30 * 24) {
      add({ type: 'DATA_GOVERNANCE_MISMATCH', severity: 'MEDIUM', blocking: false, title: `vendor ${v.name} deletes within ${v.deletionSlaHours} h of a request, beyond the month GDPR Art. 12(3) allows for an erasure`, evidence: [record] });
    }
  }

  const impact = toLevel(maxRisk(elements.map((e) => e.risk)));
  const exposure = findings.some((f) => f.blocking) ? 'High' : external > 0 ? 'Medium' : 'Low';
  const score = overall(exposure, impact);
  const status: DpiaStatus = score === 'Critical' || findings.some((f) => f.blocking) ? 'BLOCKED_FOR_DEPLOYMENT' : score === 'High' ? 'PENDING_APPROVAL' : 'APPROVED_FOR_DEPLOYMENT';
  const worst = elements.filter((e) => toLevel(e.risk) === impact).map((e) => `${e.element.id} (${e.element.regulatory_category})`);
  const reasons = [
    worst.length ? `highest-risk data: ${worst.join(', ')}` : 'no classified personal data flows',
    external ? `destinations: ${destinations.map((d) => `${d.host} (${d.jurisdiction ?? 'jurisdiction unknown'}; ${d.approved ? 'approved' : 'NOT approved'}; ${d.transfer === 'UNSAFEGUARDED' ? 'transfer WITHOUT safeguard' : d.transfer === 'SAFEGUARDED' ? `transfer under ${d.safeguards.join('/')}` : d.transfer === 'UNKNOWN' ? 'transfer status unknown' : 'no unsafeguarded transfer'})`).join(', ')}` : 'no external destination',
    ...findings.filter((f) => f.blocking).map((f) => f.title),
  ];
  const allTls = it.destinations.every((d) => d.url.startsWith('https://') || d.url.startsWith('arn:')); // an ARN is reached through the provider's TLS API
  const mitigations: DpiaArtifact['mitigations'] = [
    { control_id: 'M-01', description: 'TLS 1.2+ for every outbound call', status: allTls ? 'Implemented' : 'Required' },
  ];
  if (encryptionRequired) mitigations.push({ control_id: 'M-02', description: 'Encrypt or crypto-shred personal fields the classification marks encryption_required before they leave', status: 'Pending Review' });
  if (elements.some((e) => riskRank(e.risk) >= riskRank('HIGH'))) mitigations.push({ control_id: 'M-03', description: 'Minimise: drop scopes and fields the integration does not need', status: 'Pending Review' });
  const transfers = destinations.filter((d) => d.transfer === 'UNSAFEGUARDED');
  if (transfers.length) mitigations.push({ control_id: 'M-04', description: `Standard Contractual Clauses, the Data Privacy Framework or BCRs for the transfer to ${[...new Set(transfers.map((d) => d.jurisdiction))].join(', ')} (${transfers.map((d) => d.host).join(', ')}), or relocate it to an adequate region`, status: 'Required' });

  // One flow per endpoint, through the integration's hops; with hops only, each hop is where the data ends.
  const endpoints = destinations.filter((d) => d.role === 'ENDPOINT').map((d) => d.host);
  const flowTargets = endpoints.length ? endpoints.map((host) => ({ host, via: hopHosts })) : hopHosts.length ? hopHosts.map((host) => ({ host, via: [] as string[] })) : [{ host: 'Genesys Cloud (no outbound destination found)', via: [] as string[] }];
  const dataFlows = flowTargets.map((t) => ({
    source: `Genesys Cloud CX (${source})`,
    destination: t.host,
    via: t.via,
    data_elements: elements.map((e) => e.element.id),
    processing_nature: it.processingNature,
    frequency: it.frequency,
  }));
  const evidence: DpiaArtifact['evidence'] = {
    scopes: [...it.scopes].sort(),
    fields: [...(it.fields ?? [])].sort(),
    definition_hash: it.definitionHash,
    classification_version: c.version,
    data_elements: elements.map((e) => ({ id: e.element.id, risk_level: e.risk, regulatory_category: e.element.regulatory_category, via: e.via })),
    samples: input.samples,
  };
  const artifact: DpiaArtifact = {
    schema_version: 2,
    dpia_id: `DPIA-${it.id}-${fingerprint(canonicalJson({ it, samples: input.samples, c: c.version, at: input.at }))}`,
    integration_id: it.id,
    integration_name: it.name,
    integration_kind: it.kind,
    timestamp: input.at,
    data_flows: dataFlows,
    destinations,
    risk_assessment: { likelihood: exposure, impact, overall_risk_score: score, justification: reasons.join('; ') },
    mitigations,
    compliance_status: status,
    findings,
    evidence,
  };
  return DpiaArtifactSchema.parse(artifact);
}

export interface Drift {
  newScopes: string[];
  removedScopes: string[];
  newDestinations: string[];
  /** Finding types present now that the approved assessment did not have (e.g. UNENCRYPTED_TRANSIT). */
  newFindingTypes: string[];
  riskIncreased: boolean;
  drifted: boolean;
}

/**
 * What changed between the last approved assessment of an integration and a fresh one: the guide's continuous
 * compliance check (new scopes, new destinations, encryption disabled…). Any of these means the approval no longer
 * covers what runs.
 */
export function driftOf(approved: DpiaArtifact, current: DpiaArtifact): Drift {
  const minus = <T>(a: T[], b: T[]) => [...new Set(a)].filter((x) => !b.includes(x)).sort();
  // Every host the data reaches, hops included (an artifact of schema 1 has its data flows only).
  const hosts = (x: DpiaArtifact) => [...x.data_flows.flatMap((f) => [f.destination, ...(f.via ?? [])]), ...(x.destinations ?? []).map((d) => d.host)];
  const types = (x: DpiaArtifact) => x.findings.map((f) => f.type as string);
  const rank = (x: DpiaArtifact) => LEVELS.indexOf(x.risk_assessment.overall_risk_score);
  const d = {
    newScopes: minus(current.evidence.scopes, approved.evidence.scopes),
    removedScopes: minus(approved.evidence.scopes, current.evidence.scopes),
    newDestinations: minus(hosts(current), hosts(approved)),
    newFindingTypes: minus(types(current), types(approved)),
    riskIncreased: rank(current) > rank(approved),
  };
  return { ...d, drifted: d.newScopes.length > 0 || d.newDestinations.length > 0 || d.newFindingTypes.length > 0 || d.riskIncreased };
}
