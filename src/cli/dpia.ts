import { appendFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { progressBar } from './progress.ts';
import { integrationFromGenesys, readJson, readJsonFile, scanSamples } from '../adapters/dpiaInputs.ts';
import { destinationsFromTerraform } from '../adapters/terraform.ts';
import { openDpiaStore, referenceData } from '../dpiaReference.ts';
import { z } from 'zod';
import { assess, driftOf, DpiaArtifactSchema, fingerprint, type AssessedIntegration, type DpiaArtifact } from '../domain/dpia.ts';
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
    ...a.data_flows.map((f) => `  ${[f.source, ...(f.via ?? []), f.destination].join(' → ')}: ${f.data_elements.join(', ') || '(no classified data)'} [${f.processing_nature}, ${f.frequency}]`),
    'Destinations:',
    ...(a.destinations ?? []).map((d) => `  ${d.host} [${d.role}] ${d.jurisdiction ?? 'jurisdiction unknown'} (${d.located_by}) — ${d.approved ? 'approved' : 'NOT approved'}; transfer ${d.transfer}: ${d.why}`),
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
  /** Declared data fields (JSON array), classified like scopes. */
  fields?: string;
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
  /** drift: the approved artifact to compare with when the store has no approved DPIA of the integration. */
  approved?: string;
}

/** A Genesys definition (the API's JSON) and where it came from: a file, or the org through the SDK. */
interface Definition {
  raw: unknown;
  source: string;
}

/**
 * One assessment per data flow: an integration and the OAuth client it uses are one flow (the client's scopes say
 * what it can read, the integration's configuration and Terraform where it goes), assessed together. The
 * definitions are the files `values` names, unless they were fetched (`dpia assess --genesys`).
 */
export async function buildArtifact(values: AssessOptions, reference = referenceData(values), fetched?: { integration?: Definition; oauthClient?: Definition }): Promise<DpiaArtifact> {
  const read = (file?: string): Definition | undefined => (file ? { raw: readJson(file), source: file } : undefined);
  const defs = fetched ?? { integration: read(values.integration), oauthClient: read(values.oauthClient) };
  if (!defs.oauthClient && !defs.integration) throw new UsageError('give --integration FILE, --oauth-client FILE, or both (consentgate dpia assess --help)');
  const at = new Date(atTime(values.at)).toISOString();
  const integration = defs.integration && integrationFromGenesys(defs.integration.raw, defs.integration.source);
  const client = defs.oauthClient && integrationFromGenesys(defs.oauthClient.raw, defs.oauthClient.source);
  if (integration && integration.kind !== 'INTEGRATION') throw new UsageError(`--integration ${defs.integration!.source}: this is an OAuth client (it has scopes); give it as --oauth-client`);
  if (client && client.kind !== 'OAUTH_CLIENT') throw new UsageError(`--oauth-client ${defs.oauthClient!.source}: this is an integration; give it as --integration`);
  const it = integration && client ? combine(integration, client) : (integration ?? client)!;
  if (values.fields) it.fields = [...new Set([...(it.fields ?? []), ...readFields(values.fields)])];
  for (const dir of values.terraform ?? []) it.destinations.push(...(await destinationsFromTerraform(dir)));
  for (const url of values.destination ?? []) {
    if (!URL.canParse(url)) throw new UsageError(`--destination ${url}: not a URL`);
    it.destinations.push({ url, host: new URL(url).hostname.toLowerCase(), foundIn: 'declared (--destination)' });
  }
  return assess({ integration: it, samples: scanSamples(values.samples ?? []), ...reference, at });
}

/** An integration and its OAuth client as one flow: the client's scopes, both definitions' destinations. */
function combine(integration: AssessedIntegration, client: AssessedIntegration): AssessedIntegration {
  return {
    ...integration,
    scopes: client.scopes,
    destinations: [...integration.destinations, ...client.destinations],
    definitionHash: fingerprint(`${integration.definitionHash}|${client.definitionHash}`),
    processingNature: `${integration.processingNature}, authorised by OAuth client ${client.name} (${client.id})`,
  };
}

/** Declared data fields: a JSON array of names, or `{"fields": [...]}`. */
function readFields(file: string): string[] {
  return readJsonFile(file, z.union([z.array(z.string().min(1)), z.object({ fields: z.array(z.string().min(1)) }).transform((x) => x.fields)]));
}

export async function assessCommand(values: AssessOptions & { genesysId?: string }): Promise<void> {
  if (values.genesysId && (values.integration || values.oauthClient)) throw new UsageError('--genesys fetches the integration and its OAuth client: give no --integration or --oauth-client with it');
  const artifact = values.genesysId ? await assessFromGenesys(values.genesysId, values) : await buildArtifact(values);
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
  const store = await openStore();
  let r: ReturnType<typeof approve>;
  try {
    r = approve(a, { approver: values.approver, role: values.role, reason: values.reason, at: atTime(values.at), hours: values.hours }, await store.approvals(a.dpia_id));
    if (!r.ok) throw new UsageError(`not approved: ${r.reason}`, 'NOT_APPROVED');
    if ('already' in r) return void console.log(`nothing recorded: ${r.already}`);
    await store.recordArtifact(a, Date.parse(a.timestamp));
    await store.recordApproval(r.approval);
  } finally {
    await store.close();
  }
  const until = r.approval.expiresAt ? `, an exception until ${new Date(r.approval.expiresAt).toISOString()}` : '';
  console.log(`recorded ${r.approval.role} ${r.approval.approver}'s approval of ${a.dpia_id}${until}`);
}

/**
 * Compares one fresh assessment with the integration's last approved DPIA in the store, or — when the store has none
 * — with the artifact given (`--approved`), and says which; resolves whether it drifted.
 */
async function reportDrift(store: DpiaStore, current: DpiaArtifact, record: boolean, given?: { file: string; artifact: DpiaArtifact }): Promise<boolean> {
  const stored = await store.lastApproved(current.integration_id);
  const fallback = given && given.artifact.integration_id === current.integration_id ? given : undefined;
  const approved = stored ?? fallback?.artifact;
  if (approved) console.error(stored ? `compared with ${stored.dpia_id}, the last approved DPIA in the store` : `compared with ${approved.dpia_id} from ${fallback!.file} (the store has no approved DPIA of ${current.integration_id})`);
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

/** The SDK client of the connectors, for the commands that read the org (GENESYS_* settings). */
async function genesysForDpia(what: string) {
  // The Genesys SDK and the logger load only here: assess and gate (CI) need neither.
  const [{ loadGenesysConfig }, { GenesysClient }, { createLogger }, integrations] = await Promise.all([
    import('../config.ts'), import('../adapters/genesys.ts'), import('../adapters/logger.ts'), import('../connectors/integrations.ts'),
  ]);
  const g = loadGenesysConfig();
  if (!g.ok) throw new UsageError(`${what} needs Genesys settings: ${g.problems.join('; ')}`, 'CONFIG_INVALID');
  return { genesys: new GenesysClient(g.genesys, createLogger(process.env.LOG_LEVEL ?? 'warn'), () => Date.now()), ...integrations };
}

/**
 * `dpia assess --genesys <integrationId>`: the integration and the OAuth client it uses, fetched through the SDK and
 * assessed as one flow. The client is the one whose id appears in the integration's configuration (its credentials
 * or properties); an integration naming none is assessed alone.
 */
export async function assessFromGenesys(integrationId: string, values: AssessOptions): Promise<DpiaArtifact> {
  const { genesys, fetchDefinition } = await genesysForDpia('dpia assess --genesys');
  const integration = await fetchDefinition(genesys, 'INTEGRATION', integrationId).catch((err: Error) => {
    throw new UsageError(`--genesys ${integrationId}: no such integration in the org (${err.message})`);
  });
  const clients = await genesys.call<{ entities?: { id: string }[] }>('getOauthClients', (a) => a.oauth.getOauthClients!());
  const text = JSON.stringify((integration as { config?: unknown }).config ?? {});
  const clientId = (clients.entities ?? []).map((c) => c.id).find((id) => text.includes(`"${id}"`));
  return buildArtifact(values, referenceData(values), {
    integration: { raw: integration, source: `Genesys integration ${integrationId}` },
    oauthClient: clientId ? { raw: await fetchDefinition(genesys, 'OAUTH_CLIENT', clientId), source: `Genesys OAuth client ${clientId}` } : undefined,
  });
}

/** Every OAuth client and integration of the org, as Genesys returns them now (the SDK client of the connectors). */
async function assessGenesys(values: AssessOptions): Promise<DpiaArtifact[]> {
  const { genesys, fetchDefinition, listIntegrations } = await genesysForDpia('dpia drift --genesys');
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
  const given = values.approved ? { file: values.approved, artifact: readJsonFile(values.approved, DpiaArtifactSchema) } : undefined;
  const current = values.genesys ? await assessGenesys(values) : [await buildArtifact(values)];
  if (given && !values.genesys && given.artifact.integration_id !== current[0]!.integration_id) {
    throw new UsageError(`--approved ${given.file} is a DPIA of ${given.artifact.integration_id}, not of ${current[0]!.integration_id}`);
  }
  const store = await openStore();
  try {
    let drifted = 0;
    for (const a of current) if (await reportDrift(store, a, values.store ?? false, given)) drifted++;
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

/** One data flow of `assess --all`: a directory (its JSON definitions, Terraform, samples) or a lone JSON file. */
interface FlowInput {
  where: string;
  integration?: string;
  oauthClient?: string;
  fields?: string;
  terraform: string[];
  samples: string[];
}

/**
 * The flows under DIR: each subdirectory is one flow (its `*.json` an integration and/or the OAuth client it uses —
 * told apart by their content — `fields.json` its declared fields, `*.tf`/`*.tfvars` its Terraform, `samples/` its
 * payload samples); each JSON file directly in DIR is a flow of its own.
 */
function flowsUnder(dir: string): FlowInput[] {
  const flows: FlowInput[] = [];
  const kindOf = (file: string) => {
    const d = readJson(file) as Record<string, unknown>;
    return Array.isArray(d?.scope) || typeof d?.authorizedGrantType === 'string' ? 'oauthClient' : 'integration';
  };
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const path = join(dir, entry.name);
    if (entry.isFile() && entry.name.endsWith('.json')) flows.push({ where: path, [kindOf(path)]: path, terraform: [], samples: [] });
    if (!entry.isDirectory()) continue;
    const files = readdirSync(path).sort();
    const flow: FlowInput = { where: path, terraform: files.some((f) => f.endsWith('.tf')) ? [path] : [], samples: files.includes('samples') ? [join(path, 'samples')] : [] };
    for (const f of files.filter((x) => x.endsWith('.json'))) {
      const file = join(path, f);
      if (f === 'fields.json') flow.fields = file;
      else {
        const kind = kindOf(file);
        if (flow[kind]) throw new UsageError(`${path}: two ${kind === 'oauthClient' ? 'OAuth clients' : 'integrations'} (${basename(flow[kind]!)}, ${f}); one flow per directory`);
        flow[kind] = file;
      }
    }
    if (flow.integration || flow.oauthClient) flows.push(flow);
  }
  return flows;
}

const MD_ESCAPE = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * `dpia assess --all DIR`: every flow under DIR assessed (reference data read once), one artifact each in --out-dir,
 * a progress bar, a summary table on stderr, JSON lines on stdout, and a Markdown job summary when
 * GITHUB_STEP_SUMMARY names a file. Exit 0 when all were assessed (gate each artifact to block).
 */
export async function assessAllCommand(dir: string, values: AssessOptions & { outDir?: string; quiet?: boolean }): Promise<void> {
  const flows = flowsUnder(dir);
  if (!flows.length) throw new UsageError(`${dir}: no integration or OAuth client JSON found (see consentgate dpia assess --help)`);
  const reference = referenceData(values);
  if (values.outDir) mkdirSync(values.outDir, { recursive: true });
  const began = performance.now();
  const progress = progressBar(values.quiet, 'integrations');
  progress.phase('assessing', flows.length);
  const rows: { where: string; artifact: DpiaArtifact }[] = [];
  const store = values.store ? await openStore() : undefined;
  try {
    for (const f of flows) {
      const artifact = await buildArtifact({ ...values, integration: f.integration, oauthClient: f.oauthClient, fields: f.fields, terraform: [...(values.terraform ?? []), ...f.terraform], samples: [...(values.samples ?? []), ...f.samples] }, reference);
      if (values.outDir) writeFileSync(join(values.outDir, `${artifact.integration_id.replace(/[^A-Za-z0-9._-]/g, '_')}.json`), JSON.stringify(artifact, null, 2) + '\n');
      await store?.recordArtifact(artifact, Date.parse(artifact.timestamp));
      console.log(JSON.stringify({ where: f.where, integration_id: artifact.integration_id, dpia_id: artifact.dpia_id, compliance_status: artifact.compliance_status, risk: artifact.risk_assessment.overall_risk_score, blocking: artifact.findings.filter((x) => x.blocking).map((x) => x.type) }));
      rows.push({ where: f.where, artifact });
      progress.advance(1);
    }
  } finally {
    progress.stop();
    await store?.close();
  }
  const seconds = (performance.now() - began) / 1000;
  const count = (s: string) => rows.filter((r) => r.artifact.compliance_status === s).length;
  const headline = `${rows.length} integrations assessed in ${seconds.toFixed(1)} s: ${count('APPROVED_FOR_DEPLOYMENT')} approved, ${count('PENDING_APPROVAL')} pending approval, ${count('BLOCKED_FOR_DEPLOYMENT')} blocked`;
  const worst = [...rows].sort((a, b) => STATUS_ORDER.indexOf(a.artifact.compliance_status) - STATUS_ORDER.indexOf(b.artifact.compliance_status)).slice(0, 50);
  const blockingOf = (a: DpiaArtifact) => {
    const titles = a.findings.filter((x) => x.blocking).map((x) => x.title);
    return titles.length ? `${titles.slice(0, 2).join('; ')}${titles.length > 2 ? ` (+${titles.length - 2} more)` : ''}` : '—';
  };
  const line = (r: (typeof rows)[number]) => [r.artifact.integration_name, r.artifact.compliance_status, r.artifact.risk_assessment.overall_risk_score, blockingOf(r.artifact)];
  console.error(`${headline}\n${['INTEGRATION', 'STATUS', 'RISK', 'BLOCKING'].join('\t')}\n${worst.map((r) => line(r).join('\t')).join('\n')}${rows.length > worst.length ? `\n… ${rows.length - worst.length} more (stdout has every one)` : ''}`);
  if (process.env.GITHUB_STEP_SUMMARY) {
    const md = [`### DPIA: ${headline}`, '', '| Integration | Status | Risk | Blocking findings |', '|---|---|---|---|', ...worst.map((r) => `| ${line(r).map(MD_ESCAPE).join(' | ')} |`), ''];
    appendFileSync(process.env.GITHUB_STEP_SUMMARY, md.join('\n') + '\n');
  }
}

const STATUS_ORDER = ['BLOCKED_FOR_DEPLOYMENT', 'PENDING_APPROVAL', 'APPROVED_FOR_DEPLOYMENT'];
