import { z } from 'zod';
import {
  elementsForScopes, matchDestination, maxRisk, riskRank, unknownScopes,
  type Classification, type DataElement, type Destinations, type RiskLevel,
} from './classification.ts';

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
  /** Outbound endpoints, each with where it was found (definition property, Terraform file and line, declared). */
  destinations: { url: string; host: string; foundIn: string }[];
  definitionHash: string;
  processingNature: string;
  frequency: string;
}

export interface VendorCapability {
  name: string;
  hosts: string[];
  retentionDays: number | null;
  deletion: 'HARD' | 'SOFT' | 'NONE';
}

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
  schema_version: z.literal(1),
  dpia_id: z.string(),
  integration_id: z.string(),
  integration_name: z.string(),
  integration_kind: z.enum(['OAUTH_CLIENT', 'INTEGRATION']),
  timestamp: z.iso.datetime({ offset: true }),
  data_flows: z.array(z.object({
    source: z.string(),
    destination: z.string(),
    data_elements: z.array(z.string()),
    processing_nature: z.string(),
    frequency: z.string(),
  })),
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

const SAFEGUARDS = ['SCC', 'DPF', 'BCR'];

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

  // Where it goes.
  let external = 0;
  for (const d of it.destinations) {
    external++;
    const approved = matchDestination(d.host, input.destinations);
    if (!approved) {
      add({ type: 'UNAPPROVED_DESTINATION', severity: 'HIGH', blocking: true, title: `${d.host} is not an approved destination`, evidence: [`${d.url} (${d.foundIn})`] });
    } else if (!input.destinations.adequate_jurisdictions.includes(approved.jurisdiction) && !approved.safeguards.some((s) => SAFEGUARDS.includes(s))) {
      add({
        type: 'CROSS_BORDER_TRANSFER', severity: 'HIGH', blocking: true,
        title: `data from ${input.destinations.source_jurisdiction} goes to ${approved.jurisdiction} (${approved.name}) without SCCs or another transfer safeguard`,
        evidence: [`${d.url} (${d.foundIn})`],
      });
    }
    if (d.url.startsWith('http://')) {
      add({ type: 'UNENCRYPTED_TRANSIT', severity: encryptionRequired ? 'HIGH' : 'MEDIUM', blocking: encryptionRequired, title: `${d.host} is reached without TLS`, evidence: [`${d.url} (${d.foundIn})`] });
    }
    for (const v of input.vendors.filter((x) => x.hosts.includes(d.host.toLowerCase()))) {
      if (v.deletion === 'NONE') {
        add({ type: 'DATA_GOVERNANCE_MISMATCH', severity: 'HIGH', blocking: false, title: `vendor ${v.name} cannot delete data: erasure requests cannot be honoured`, evidence: [`vendor registry: ${v.name} deletion NONE`] });
      }
      if (v.retentionDays !== null && elements.length && v.retentionDays !== sourceRetention) {
        const longer = v.retentionDays > sourceRetention;
        add({
          type: 'DATA_GOVERNANCE_MISMATCH', severity: longer ? 'HIGH' : 'MEDIUM', blocking: false,
          title: longer
            ? `vendor ${v.name} keeps data ${v.retentionDays} days, longer than the source's ${sourceRetention}`
            : `vendor ${v.name} deletes after ${v.retentionDays} days while the source keeps ${sourceRetention}: retention policies disagree`,
          evidence: [`vendor registry: ${v.name} retention ${v.retentionDays} d, deletion ${v.deletion}`, `source retention ${sourceRetention} d`],
        });
      }
    }
  }

  const impact = toLevel(maxRisk(elements.map((e) => e.risk)));
  const exposure = findings.some((f) => f.blocking) ? 'High' : external > 0 ? 'Medium' : 'Low';
  const score = overall(exposure, impact);
  const status: DpiaStatus = score === 'Critical' || findings.some((f) => f.blocking) ? 'BLOCKED_FOR_DEPLOYMENT' : score === 'High' ? 'PENDING_APPROVAL' : 'APPROVED_FOR_DEPLOYMENT';
  const worst = elements.filter((e) => toLevel(e.risk) === impact).map((e) => `${e.element.id} (${e.element.regulatory_category})`);
  const reasons = [
    worst.length ? `highest-risk data: ${worst.join(', ')}` : 'no classified personal data flows',
    `${external} external destination(s)`,
    ...findings.filter((f) => f.blocking).map((f) => f.title),
  ];
  const allTls = it.destinations.every((d) => d.url.startsWith('https://'));
  const mitigations: DpiaArtifact['mitigations'] = [
    { control_id: 'M-01', description: 'TLS 1.2+ for every outbound call', status: allTls ? 'Implemented' : 'Required' },
  ];
  if (encryptionRequired) mitigations.push({ control_id: 'M-02', description: 'Encrypt or crypto-shred personal fields the classification marks encryption_required before they leave', status: 'Pending Review' });
  if (elements.some((e) => riskRank(e.risk) >= riskRank('HIGH'))) mitigations.push({ control_id: 'M-03', description: 'Minimise: drop scopes and fields the integration does not need', status: 'Pending Review' });
  if (findings.some((f) => f.type === 'CROSS_BORDER_TRANSFER')) mitigations.push({ control_id: 'M-04', description: 'Standard Contractual Clauses (or relocate the endpoint) for the cross-border transfer', status: 'Required' });

  const dataFlows = (it.destinations.length ? it.destinations : [{ url: '', host: 'Genesys Cloud (no outbound destination found)', foundIn: '' }]).map((d) => ({
    source: 'Genesys Cloud CX',
    destination: d.host,
    data_elements: elements.map((e) => e.element.id),
    processing_nature: it.processingNature,
    frequency: it.frequency,
  }));
  const evidence: DpiaArtifact['evidence'] = {
    scopes: [...it.scopes].sort(),
    definition_hash: it.definitionHash,
    classification_version: c.version,
    data_elements: elements.map((e) => ({ id: e.element.id, risk_level: e.risk, regulatory_category: e.element.regulatory_category, via: e.via })),
    samples: input.samples,
  };
  const artifact: DpiaArtifact = {
    schema_version: 1,
    dpia_id: `DPIA-${it.id}-${fingerprint(canonicalJson({ it, samples: input.samples, c: c.version, at: input.at }))}`,
    integration_id: it.id,
    integration_name: it.name,
    integration_kind: it.kind,
    timestamp: input.at,
    data_flows: dataFlows,
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
  const hosts = (x: DpiaArtifact) => x.data_flows.map((f) => f.destination);
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
