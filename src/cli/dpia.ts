import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { integrationFromGenesys, readJsonFile, scanSamples } from '../adapters/dpiaInputs.ts';
import { destinationsFromTerraform } from '../adapters/terraform.ts';
import { openDpiaStore, referenceData, systemClock } from '../app.ts';
import { createLogger } from '../adapters/logger.ts';
import { loadGenesysConfig } from '../config.ts';
import { GenesysClient } from '../adapters/genesys.ts';
import { fetchDefinition, listIntegrations } from '../connectors/integrations.ts';
import { assess, driftOf, DpiaArtifactSchema, type DpiaArtifact } from '../domain/dpia.ts';
import { DpiaStore } from '../adapters/dpiaStore.ts';
import { approve, gate } from '../domain/dpiaApproval.ts';

/** The DPIA store: PostgreSQL at DATABASE_URL, else an embedded PGlite in CONSENTGATE_DPIA_DIR (.cache/dpia). */
function openStore(): Promise<DpiaStore> {
  return openDpiaStore({
    databaseUrl: process.env.DATABASE_URL || undefined,
    dpiaStoreDir: process.env.CONSENTGATE_DPIA_DIR ?? '.cache/dpia',
    dpiaStoreSchema: process.env.CONSENTGATE_DPIA_SCHEMA ?? 'consentgate_dpia',
  });
}

const timeArg = (at: string | undefined): number => {
  const t = at === undefined ? Date.now() : Date.parse(at);
  if (!Number.isFinite(t)) throw Object.assign(new Error(`--at ${at}: not an ISO time`), { exitCode: 2 });
  return t;
};

export const DPIA_HELP = `consentgate dpia <assess|gate|approve|verify|drift> …   (runs without Kafka: made for CI)

  dpia assess (--oauth-client FILE | --integration FILE) [--terraform DIR]… [--samples FILE|DIR]… [--destination URL]…
              [--at ISO-TIME] [--out FILE] [--report FILE]
      FILE is the Genesys API's own JSON (GET /api/v2/oauth/clients/{id}, or /api/v2/integrations/{id} with its
      config). Destinations are detected: URLs and EventBridge regions in the definition and in the Terraform
      (HCL parsed, variables resolved), plus any --destination. Samples are scanned for card numbers (Luhn), IBANs
      (mod-97), e-mail addresses, phone numbers and SSNs. Writes the DPIA artifact as JSON (stdout or --out) and a
      readable report (stderr or --report). --at fixes the timestamp: the same input then gives the same artifact.
      Classification, allowed destinations and vendors: topologies/{classification,destinations,vendors}.json
      (--classification, --destinations, --vendors to use others).

  dpia gate ARTIFACT [--at ISO-TIME]
      Exit 0 when the artifact says APPROVED_FOR_DEPLOYMENT, or when the store holds an approval (PENDING_APPROVAL)
      or a valid exception (BLOCKED_FOR_DEPLOYMENT); 1 with a short reason otherwise; 2 when the file is not a
      valid DPIA artifact. The pipeline step: consentgate dpia gate dpia.json

  dpia approve ARTIFACT --approver NAME --role DPO|SECURITY_LEAD --reason TEXT [--hours N] [--at ISO-TIME]
      Records an approval in the store (and the artifact, if it is not there yet). For a blocked artifact it is a
      time-bound exception (72 h at most, the default); a Critical risk needs two distinct approvers.

  dpia verify
      Checks the store's hash chain; exit 1 naming the first entry that was altered or removed.

  dpia drift (--oauth-client FILE | --integration FILE | --genesys) [assess options] [--store]
      Re-assesses as it is now — one integration from its file, or with --genesys every OAuth client and
      integration of the org through the SDK (GENESYS_* settings) — and compares each with its last approved DPIA
      in the store: new scopes, new destinations, new findings (encryption disabled, a transfer…), a higher risk.
      Exit 0 without drift; 1 naming what drifted or was never approved (with --store, re-assessments recorded).

  The store is append-only with a hash-chained audit trail: PostgreSQL at DATABASE_URL, else an embedded PGlite in
  CONSENTGATE_DPIA_DIR (default .cache/dpia); schema CONSENTGATE_DPIA_SCHEMA (default consentgate_dpia).
  dpia assess --store also records the artifact.`;

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

const ASSESS_OPTIONS = {
  'oauth-client': { type: 'string' }, integration: { type: 'string' }, terraform: { type: 'string', multiple: true },
  samples: { type: 'string', multiple: true }, destination: { type: 'string', multiple: true }, at: { type: 'string' },
  out: { type: 'string' }, report: { type: 'string' }, store: { type: 'boolean' }, genesys: { type: 'boolean' },
  classification: { type: 'string' }, destinations: { type: 'string' }, vendors: { type: 'string' },
} as const;
type AssessValues = ReturnType<typeof parseArgs<{ args: string[]; options: typeof ASSESS_OPTIONS }>>['values'];

async function buildArtifact(values: AssessValues): Promise<DpiaArtifact> {
  const file = values['oauth-client'] ?? values.integration;
  if (!file || (values['oauth-client'] && values.integration)) throw Object.assign(new Error(`give one of --oauth-client or --integration\n\n${DPIA_HELP}`), { exitCode: 2 });
  const at = new Date(timeArg(values.at)).toISOString();
  const it = integrationFromGenesys(JSON.parse(readFileSync(file, 'utf8')), file);
  for (const dir of values.terraform ?? []) it.destinations.push(...(await destinationsFromTerraform(dir)));
  for (const url of values.destination ?? []) it.destinations.push({ url, host: new URL(url).hostname.toLowerCase(), foundIn: 'declared (--destination)' });
  return assess({ integration: it, samples: scanSamples(values.samples ?? []), ...referenceData(values), at });
}

async function assessCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: ASSESS_OPTIONS });
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

async function gateCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { at: { type: 'string' } } });
  const [file] = positionals;
  if (!file) throw Object.assign(new Error(`dpia gate needs the artifact file\n\n${DPIA_HELP}`), { exitCode: 2 });
  const a = readJsonFile(file, DpiaArtifactSchema);
  let approvals: Awaited<ReturnType<DpiaStore['approvals']>> = [];
  if (a.compliance_status !== 'APPROVED_FOR_DEPLOYMENT') {
    const store = await openStore();
    approvals = await store.approvals(a.dpia_id).finally(() => store.close());
  }
  const r = gate(a, approvals, timeArg(values.at));
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

async function approveCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: true,
    options: { approver: { type: 'string' }, role: { type: 'string' }, reason: { type: 'string' }, hours: { type: 'string' }, at: { type: 'string' } },
  });
  const [file] = positionals;
  if (!file) throw Object.assign(new Error(`dpia approve needs the artifact file\n\n${DPIA_HELP}`), { exitCode: 2 });
  const a = readJsonFile(file, DpiaArtifactSchema);
  const r = approve(a, { approver: values.approver ?? '', role: values.role ?? '', reason: values.reason ?? '', at: timeArg(values.at), hours: values.hours ? Number(values.hours) : undefined });
  if (!r.ok) throw Object.assign(new Error(`not approved: ${r.reason}`), { exitCode: 2 });
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
async function assessGenesys(values: AssessValues): Promise<DpiaArtifact[]> {
  const g = loadGenesysConfig();
  if (!g.ok) throw Object.assign(new Error(`dpia drift --genesys needs Genesys settings:\n${g.problems.map((p) => `  - ${p}`).join('\n')}`), { exitCode: 2 });
  const genesys = new GenesysClient(g.genesys, createLogger(process.env.LOG_LEVEL ?? 'warn'), () => systemClock.now());
  const at = new Date(timeArg(values.at)).toISOString();
  const reference = referenceData(values);
  const out: DpiaArtifact[] = [];
  for (const x of await listIntegrations(genesys)) {
    const raw = await fetchDefinition(genesys, x.type, x.id);
    out.push(assess({ integration: integrationFromGenesys(raw, `Genesys ${x.type} ${x.id}`), samples: [], ...reference, at }));
  }
  return out;
}

async function driftCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: ASSESS_OPTIONS });
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

async function verifyCommand(): Promise<void> {
  const store = await openStore();
  const r = await store.verify().finally(() => store.close());
  if (r.ok) return void console.log(`DPIA audit trail intact: ${r.entries} entries`);
  console.error(`DPIA audit trail broken at entry ${r.brokenAt} of ${r.entries}: ${r.problem}`);
  process.exitCode = 1;
}

export async function dpiaCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'assess') return assessCommand(rest);
  if (sub === 'gate') return gateCommand(rest);
  if (sub === 'approve') return approveCommand(rest);
  if (sub === 'verify') return verifyCommand();
  if (sub === 'drift') return driftCommand(rest);
  throw Object.assign(new Error(`unknown dpia command ${sub ?? ''}\n\n${DPIA_HELP}`), { exitCode: 2 });
}
