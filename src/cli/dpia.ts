import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { integrationFromGenesys, loadClassification, loadDestinations, readJsonFile, scanSamples } from '../adapters/dpiaInputs.ts';
import { destinationsFromTerraform } from '../adapters/terraform.ts';
import { PROJECT_ROOT } from '../app.ts';
import { assess, DpiaArtifactSchema, type DpiaArtifact } from '../domain/dpia.ts';
import { loadTopology, loadVendors } from '../runtime/topology.ts';
import { ConfigSchema } from '../config.ts';

export const DPIA_HELP = `consentgate dpia <assess|gate> …   (runs without Kafka: made for CI)

  dpia assess (--oauth-client FILE | --integration FILE) [--terraform DIR]… [--samples FILE|DIR]… [--destination URL]…
              [--at ISO-TIME] [--out FILE] [--report FILE]
      FILE is the Genesys API's own JSON (GET /api/v2/oauth/clients/{id}, or /api/v2/integrations/{id} with its
      config). Destinations are detected: URLs and EventBridge regions in the definition and in the Terraform
      (HCL parsed, variables resolved), plus any --destination. Samples are scanned for card numbers (Luhn), IBANs
      (mod-97), e-mail addresses, phone numbers and SSNs. Writes the DPIA artifact as JSON (stdout or --out) and a
      readable report (stderr or --report). --at fixes the timestamp: the same input then gives the same artifact.
      Classification, allowed destinations and vendors: topologies/{classification,destinations,vendors}.json
      (--classification, --destinations, --vendors to use others).

  dpia gate ARTIFACT
      Exit 0 when the artifact says APPROVED_FOR_DEPLOYMENT; 1 with a short reason when it is blocked or waits for
      approval; 2 when the file is not a valid DPIA artifact. Use it as the pipeline step:
        consentgate dpia gate dpia.json   (or, as the guide writes it: jq -r '.compliance_status' dpia.json)`;

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

async function assessCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      'oauth-client': { type: 'string' }, integration: { type: 'string' }, terraform: { type: 'string', multiple: true },
      samples: { type: 'string', multiple: true }, destination: { type: 'string', multiple: true }, at: { type: 'string' },
      out: { type: 'string' }, report: { type: 'string' },
      classification: { type: 'string' }, destinations: { type: 'string' }, vendors: { type: 'string' },
    },
  });
  const file = values['oauth-client'] ?? values.integration;
  if (!file || (values['oauth-client'] && values.integration)) throw Object.assign(new Error(`give one of --oauth-client or --integration\n\n${DPIA_HELP}`), { exitCode: 2 });
  const at = values.at ?? new Date().toISOString();
  if (!Number.isFinite(Date.parse(at))) throw Object.assign(new Error(`--at ${at}: not an ISO time`), { exitCode: 2 });
  const it = integrationFromGenesys(JSON.parse(readFileSync(file, 'utf8')), file);
  for (const dir of values.terraform ?? []) it.destinations.push(...(await destinationsFromTerraform(dir)));
  for (const url of values.destination ?? []) it.destinations.push({ url, host: new URL(url).hostname.toLowerCase(), foundIn: 'declared (--destination)' });
  const defaults = ConfigSchema.shape;
  const topology = loadTopology(resolve(PROJECT_ROOT, defaults.topologyFile.parse(undefined)));
  const vendors = loadVendors(values.vendors ?? resolve(PROJECT_ROOT, defaults.vendorsFile.parse(undefined)), topology);
  const artifact = assess({
    integration: it,
    samples: scanSamples(values.samples ?? []),
    classification: loadClassification(values.classification ?? resolve(PROJECT_ROOT, 'topologies/classification.json')),
    destinations: loadDestinations(values.destinations ?? resolve(PROJECT_ROOT, 'topologies/destinations.json')),
    vendors,
    at: new Date(at).toISOString(),
  });
  const json = JSON.stringify(artifact, null, 2) + '\n';
  if (values.out) writeFileSync(values.out, json);
  else process.stdout.write(json);
  if (values.report) writeFileSync(values.report, report(artifact) + '\n');
  else console.error(report(artifact));
}

function gateCommand(argv: string[]): void {
  const [file] = argv;
  if (!file) throw Object.assign(new Error(`dpia gate needs the artifact file\n\n${DPIA_HELP}`), { exitCode: 2 });
  const a = readJsonFile(file, DpiaArtifactSchema);
  if (a.compliance_status === 'APPROVED_FOR_DEPLOYMENT') {
    console.log(`DPIA ${a.dpia_id}: APPROVED_FOR_DEPLOYMENT (risk ${a.risk_assessment.overall_risk_score})`);
    return;
  }
  const blocking = a.findings.filter((f) => f.blocking).map((f) => `${f.id} ${f.title}`);
  const why = blocking.length ? blocking.join('; ') : `overall risk ${a.risk_assessment.overall_risk_score}: ${a.risk_assessment.justification}`;
  console.error(`DPIA ${a.dpia_id}: ${a.compliance_status} — ${why}`);
  process.exitCode = 1;
}

export async function dpiaCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'assess') return assessCommand(rest);
  if (sub === 'gate') return gateCommand(rest);
  throw Object.assign(new Error(`unknown dpia command ${sub ?? ''}\n\n${DPIA_HELP}`), { exitCode: 2 });
}
