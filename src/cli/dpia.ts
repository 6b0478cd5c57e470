import { writeFileSync } from 'node:fs';
import { integrationFromGenesys, readJson, readJsonFile, scanSamples } from '../adapters/dpiaInputs.ts';
import { destinationsFromTerraform } from '../adapters/terraform.ts';
import { openDpiaStore, referenceData } from '../dpiaReference.ts';
import { assess, driftOf, DpiaArtifactSchema, type DpiaArtifact } from '../domain/dpia.ts';
import { DpiaStore } from '../adapters/dpiaStore.ts';
import { approve, gate } from '../domain/dpiaApproval.ts';
import { ConfigSchema } from '../config.ts';
import { UsageError } from './errors.ts';

/** The DPIA store: PostgreSQL at DATABASE_URL, else an embedded PGlite in CONSENTGATE_DPIA_DIR (.cache/dpia). */
function openStore(): Promise<DpiaStore> {
  return openDpiaStore({
    databaseUrl: process.env.DATABASE_URL || undefined,
    dpiaStoreDir: process.env.CONSENTGATE_DPIA_DIR ?? ConfigSchema.shape.dpiaStoreDir.parse(undefined),
    dpiaStoreSchema: process.env.CONSENTGATE_DPIA_SCHEMA ?? ConfigSchema.shape.dpiaStoreSchema.parse(undefined),
  });
}

const atTime = (at: number | undefined): number => at ?? Date.now();

function report(a: DpiaArtifact): string {
  const lines = [
    `DPIA ${a.dpia_id} — ${a.integration_name} (${a.integration_kind} ${a.integration_id}) at ${a.timestamp}`,
    `Status: ${a.compliance_status}   risk ${a.risk_assessment.overall_risk_score} (likelihood ${a.risk_assessment.likelihood}, impact ${a.risk_assessment.impact})`,
    `Why: ${a.risk_assessment.justification}`,
    'Data flows:',
    ...a.data_flows.map((f) => `  ${f.source} → ${f.destination}: ${f.data_elements.join(', ') || '(no classified data)'} [${f.processing_nature}, ${f.frequency}]`),
    'Findings:',
    ...(a.findings.length ? a.findings.map((f) => `  ${f.id} ${f.severity}${f.blocking ? ' BLOCKING' : ''} ${f.type}: ${f.title}\n      evidence: ${f.evidence.join('; ')}`) : ['  none']),
    'Mitigations:',
    ...a.mitigations.map((m) => `  ${m.control_id} [${m.status}] ${m.description}`),
  ];
  return lines.join('\n');
}

/** The options of dpia assess (and drift), as the command line parsed them. */
export interface AssessOptions {
  oauthClient?: string;
  integration?: string;
  terraform?: string[];
  samples?: string[];
  destination?: string[];
  at?: number;
  out?: string;
  report?: string;
  store?: boolean;
  genesys?: boolean;
  classification?: string;
  destinations?: string;
  vendors?: string;
}

async function buildArtifact(values: AssessOptions): Promise<DpiaArtifact> {
  const file = values.oauthClient ?? values.integration;
  if (!file || (values.oauthClient && values.integration)) throw new UsageError('give one of --oauth-client FILE or --integration FILE (consentgate dpia assess --help)');
  const at = new Date(atTime(values.at)).toISOString();
  const it = integrationFromGenesys(readJson(file), file);
  for (const dir of values.terraform ?? []) it.destinations.push(...(await destinationsFromTerraform(dir)));
  for (const url of values.destination ?? []) {
    if (!URL.canParse(url)) throw new UsageError(`--destination ${url}: not a URL`);
    it.destinations.push({ url, host: new URL(url).hostname.toLowerCase(), foundIn: 'declared (--destination)' });
  }
  return assess({ integration: it, samples: scanSamples(values.samples ?? []), ...referenceData(values), at });
}

export async function assessCommand(values: AssessOptions): Promise<void> {
  const artifact = await buildArtifact(values);
  const json = JSON.stringify(artifact, null, 2) + '\n';
  if (values.out) writeFileSync(values.out, json);
  else process.stdout.write(json);
  if (values.report) writeFileSync(values.report, report(artifact) + '\n');
  else console.error(report(artifact));
  if (values.store) {
    const store = await openStore();
    await store.recordArtifact(artifact, Date.parse(artifact.timestamp)).finally(() => store.close());
  }
}

export async function gateCommand(file: string, values: { at?: number }): Promise<void> {
  const a = readJsonFile(file, DpiaArtifactSchema);
  let approvals: Awaited<ReturnType<DpiaStore['approvals']>> = [];
  if (a.compliance_status !== 'APPROVED_FOR_DEPLOYMENT') {
    const store = await openStore();
    approvals = await store.approvals(a.dpia_id).finally(() => store.close());
  }
  const r = gate(a, approvals, atTime(values.at));
  if (r.ok) {
    const until = r.validUntil ? ` until ${new Date(r.validUntil).toISOString()}` : '';
    console.log(`DPIA ${a.dpia_id}: deployable (${r.via === 'ARTIFACT' ? a.compliance_status : r.via === 'APPROVAL' ? 'approved' : 'exception'}${until}; risk ${a.risk_assessment.overall_risk_score})`);
    return;
  }
  const blocking = a.findings.filter((f) => f.blocking).map((f) => `${f.id} ${f.title}`);
  const why = blocking.length ? blocking.join('; ') : `overall risk ${a.risk_assessment.overall_risk_score}: ${a.risk_assessment.justification}`;
  console.error(`DPIA ${a.dpia_id}: ${r.reason} — ${why}`);
  process.exitCode = 1;
}

export async function approveCommand(file: string, values: { approver: string; role: string; reason: string; hours?: number; at?: number }): Promise<void> {
  const a = readJsonFile(file, DpiaArtifactSchema);
  const r = approve(a, { approver: values.approver, role: values.role, reason: values.reason, at: atTime(values.at), hours: values.hours });
  if (!r.ok) throw new UsageError(`not approved: ${r.reason}`, 'NOT_APPROVED');
  const store = await openStore();
  try {
    await store.recordArtifact(a, Date.parse(a.timestamp));
    await store.recordApproval(r.approval);
  } finally {
    await store.close();
  }
  const until = r.approval.expiresAt ? `, an exception until ${new Date(r.approval.expiresAt).toISOString()}` : '';
  console.log(`recorded ${r.approval.role} ${r.approval.approver}'s approval of ${a.dpia_id}${until}`);
}

/** Compares one fresh assessment with the integration's last approved DPIA; resolves whether it drifted. */
async function reportDrift(store: DpiaStore, current: DpiaArtifact, record: boolean): Promise<boolean> {
  const approved = await store.lastApproved(current.integration_id);
  if (!approved) {
    console.log(JSON.stringify({ integration_id: current.integration_id, approved_dpia: null, current_dpia: current.dpia_id, current_status: current.compliance_status, drifted: true }));
    console.error(`UNAPPROVED ${current.integration_name} (${current.integration_id}): no approved DPIA on record; assessed as ${current.compliance_status}`);
    if (record) await store.recordArtifact(current, Date.parse(current.timestamp));
    return true;
  }
  const drift = driftOf(approved, current);
  console.log(JSON.stringify({ integration_id: current.integration_id, approved_dpia: approved.dpia_id, current_dpia: current.dpia_id, current_status: current.compliance_status, ...drift }));
  if (!drift.drifted) {
    console.error(`${current.integration_name}: no drift from ${approved.dpia_id}`);
    return false;
  }
  if (record) await store.recordArtifact(current, Date.parse(current.timestamp));
  const what = [
    drift.newScopes.length && `new scopes ${drift.newScopes.join(', ')}`,
    drift.newDestinations.length && `new destinations ${drift.newDestinations.join(', ')}`,
    drift.newFindingTypes.length && `new findings ${drift.newFindingTypes.join(', ')}`,
    drift.riskIncreased && `risk ${approved.risk_assessment.overall_risk_score} → ${current.risk_assessment.overall_risk_score}`,
  ].filter(Boolean).join('; ');
  console.error(`DRIFT ${current.integration_name}: ${what}. The approval of ${approved.dpia_id} no longer covers it: re-assessed as ${current.compliance_status}`);
  return true;
}

/** Every OAuth client and integration of the org, as Genesys returns them now (the SDK client of the connectors). */
async function assessGenesys(values: AssessOptions): Promise<DpiaArtifact[]> {
  // The Genesys SDK and the logger load only here: assess and gate (CI) need neither.
  const [{ loadGenesysConfig }, { GenesysClient }, { createLogger }, { fetchDefinition, listIntegrations }] = await Promise.all([
    import('../config.ts'), import('../adapters/genesys.ts'), import('../adapters/logger.ts'), import('../connectors/integrations.ts'),
  ]);
  const g = loadGenesysConfig();
  if (!g.ok) throw new UsageError(`dpia drift --genesys needs Genesys settings: ${g.problems.join('; ')}`, 'CONFIG_INVALID');
  const genesys = new GenesysClient(g.genesys, createLogger(process.env.LOG_LEVEL ?? 'warn'), () => Date.now());
  const at = new Date(atTime(values.at)).toISOString();
  const reference = referenceData(values);
  const out: DpiaArtifact[] = [];
  for (const x of await listIntegrations(genesys)) {
    const raw = await fetchDefinition(genesys, x.type, x.id);
    out.push(assess({ integration: integrationFromGenesys(raw, `Genesys ${x.type} ${x.id}`), samples: [], ...reference, at }));
  }
  return out;
}

export async function driftCommand(values: AssessOptions): Promise<void> {
  const current = values.genesys ? await assessGenesys(values) : [await buildArtifact(values)];
  const store = await openStore();
  try {
    let drifted = 0;
    for (const a of current) if (await reportDrift(store, a, values.store ?? false)) drifted++;
    if (values.genesys) console.error(`dpia drift: ${current.length} integrations checked, ${drifted} drifted or unapproved`);
    if (drifted) process.exitCode = 1;
  } finally {
    await store.close();
  }
}

export async function verifyCommand(): Promise<void> {
  const store = await openStore();
  const r = await store.verify().finally(() => store.close());
  if (r.ok) return void console.log(`DPIA audit trail intact: ${r.entries} entries`);
  console.error(`DPIA audit trail broken at entry ${r.brokenAt} of ${r.entries}: ${r.problem}`);
  process.exitCode = 1;
}
