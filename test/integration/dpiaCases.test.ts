import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { writeOrg } from '../../bench/dpiaOrg.ts';
import { buildArtifact, type AssessOptions } from '../../src/cli/dpia.ts';
import type { DpiaArtifact } from '../../src/domain/dpia.ts';
import { GenesysSimulator } from '../../src/simulator/index.ts';

// DPIAs of realistic integrations, as a privacy lead would try them: the Genesys API JSON of an integration and of
// its OAuth client, Terraform of the aws and genesyscloud providers, declared fields. Each case asserts the status,
// the risk, the findings by type and what they name, and that the justification names every destination.
const fx = (f: string) => join(import.meta.dirname, '../fixtures/dpia', f);
const AT = Date.parse('2026-12-01T09:00:00Z');
const assessed = (o: AssessOptions) => buildArtifact({ at: AT, ...o });
const findings = (a: DpiaArtifact, type: string) => a.findings.filter((f) => f.type === type).map((f) => f.title);
const dest = (a: DpiaArtifact, host: string) => a.destinations.find((d) => d.host === host)!;

const CASES: { name: string; input: AssessOptions; status: string; risk?: string; check(a: DpiaArtifact): void }[] = [
  {
    name: 'EU data through an EventBridge bus in us-east-1 to an EU CRM: a transfer, named, although the CRM is approved',
    input: { oauthClient: fx('contacts-export-client.json'), terraform: [fx('terraform-middleware')] },
    status: 'BLOCKED_FOR_DEPLOYMENT',
    check(a) {
      assert.match(findings(a, 'CROSS_BORDER_TRANSFER')[0]!, /from EU to US: events\.us-east-1\.amazonaws\.com is in AWS us-east-1, .* no SCC, DPF or BCR/);
      assert.equal(dest(a, 'api.crm-sync.example.eu').transfer, 'NONE');
      assert.equal(dest(a, 'events.us-east-1.amazonaws.com').transfer, 'UNSAFEGUARDED');
      assert.deepEqual(a.data_flows.map((f) => [f.destination, f.via]), [['api.crm-sync.example.eu', ['events.us-east-1.amazonaws.com']]]);
    },
  },
  {
    name: 'a Lambda function in us-east-1 (Terraform, no URL of its own) between Genesys and the EU CRM is a hop and a transfer',
    input: { oauthClient: fx('crm-sync-client.json'), terraform: [fx('cases/lambda-hop')] },
    status: 'BLOCKED_FOR_DEPLOYMENT',
    check(a) {
      const lambda = 'arn:aws:lambda:us-east-1::function:enrich-contacts';
      assert.deepEqual([dest(a, lambda).role, dest(a, lambda).jurisdiction, dest(a, lambda).transfer], ['HOP', 'US', 'UNSAFEGUARDED']);
      assert.ok(findings(a, 'CROSS_BORDER_TRANSFER').some((t) => t.includes(lambda)));
      assert.ok(!a.destinations.some((d) => d.host.startsWith('arn:aws:iam')), 'an IAM role is no destination');
      assert.deepEqual(a.data_flows.find((f) => f.destination === 'api.crm-sync.example.eu')!.via, [lambda]);
      assert.equal(a.mitigations.find((m) => m.control_id === 'M-01')!.status, 'Implemented', 'an ARN is no plain-HTTP call');
    },
  },
  {
    name: 'an allow-listed host in a non-adequate country without SCC is still a transfer',
    input: { oauthClient: fx('contacts-export-client.json'), destination: ['https://api.enrich.example.in/v2/contacts'], destinations: fx('cases/allow-in.json') },
    status: 'BLOCKED_FOR_DEPLOYMENT',
    check(a) {
      assert.deepEqual(findings(a, 'UNAPPROVED_DESTINATION'), []);
      assert.match(findings(a, 'CROSS_BORDER_TRANSFER')[0]!, /from EU to IN: api\.enrich\.example\.in/);
      assert.deepEqual([dest(a, 'api.enrich.example.in').approved, dest(a, 'api.enrich.example.in').located_by], [true, 'allow-list: Enrichment partner (India)']);
      assert.match(a.mitigations.find((m) => m.control_id === 'M-04')!.description, /transfer to IN \(api\.enrich\.example\.in\)/);
    },
  },
  {
    name: 'a US host under the Data Privacy Framework is a safeguarded transfer: no transfer finding',
    input: { oauthClient: fx('analytics-export-client.json'), destination: ['https://api.scored.example.us/score'], destinations: fx('cases/allow-in.json') },
    status: 'APPROVED_FOR_DEPLOYMENT',
    check(a) {
      assert.deepEqual(findings(a, 'CROSS_BORDER_TRANSFER'), []);
      assert.deepEqual([dest(a, 'api.scored.example.us').transfer, dest(a, 'api.scored.example.us').safeguards], ['SAFEGUARDED', ['DPF']]);
    },
  },
  {
    name: 'an unapproved API gateway in ap-south-1 is both unapproved and a transfer to India',
    input: { oauthClient: fx('contacts-export-client.json'), destination: ['https://abc123.execute-api.ap-south-1.amazonaws.com/prod/push'] },
    status: 'BLOCKED_FOR_DEPLOYMENT',
    check(a) {
      assert.match(findings(a, 'UNAPPROVED_DESTINATION')[0]!, /abc123\.execute-api\.ap-south-1\.amazonaws\.com \(IN, AWS ap-south-1\) is not an approved destination/);
      assert.match(findings(a, 'CROSS_BORDER_TRANSFER')[0]!, /from EU to IN/);
    },
  },
  {
    name: 'a vendor that can only soft-delete data kept for a year is a governance finding',
    input: { oauthClient: fx('contacts-export-client.json'), destination: ['https://warehouse.analytics.example.com/contacts'] },
    status: 'PENDING_APPROVAL',
    check(a) {
      assert.ok(findings(a, 'DATA_GOVERNANCE_MISMATCH').some((t) => /analytics-warehouse only soft-deletes/.test(t)));
      assert.equal(dest(a, 'warehouse.analytics.example.com').transfer, 'SAFEGUARDED', 'US under SCC/DPF (allow-list)');
    },
  },
  {
    name: 'an integration and the OAuth client it uses are one assessment; its declared fields classified; the vendor serving only it is checked',
    input: { integration: fx('cases/survey-webhook.json'), oauthClient: fx('cases/webhook-client.json'), destinations: fx('cases/allow-in.json') },
    status: 'PENDING_APPROVAL', // a name with a contact point: High
    risk: 'High',
    check(a) {
      assert.deepEqual([a.integration_kind, a.integration_id, a.evidence.scopes], ['INTEGRATION', 'int-survey', ['conversations:readonly']]);
      assert.match(a.data_flows[0]!.processing_nature, /authorised by OAuth client Survey webhook client \(oc-survey\)/);
      assert.deepEqual(a.evidence.fields, ['conversationId', 'customer.firstName', 'workEmail']);
      assert.ok(a.evidence.data_elements.some((e) => e.id === 'contact_points' && e.via.includes('declared field workEmail')));
      assert.ok(findings(a, 'DATA_GOVERNANCE_MISMATCH').some((t) => t.includes('survey-vendor')), a.findings.map((f) => f.title).join('\n'));
    },
  },
  {
    name: 'two URLs on one host are one destination and one data flow',
    input: { oauthClient: fx('crm-sync-client.json'), destination: ['https://api.crm-sync.example.eu/a', 'https://api.crm-sync.example.eu/b'] },
    status: 'BLOCKED_FOR_DEPLOYMENT',
    check(a) {
      assert.equal(a.data_flows.length, 1);
      assert.deepEqual(dest(a, 'api.crm-sync.example.eu').found_in, ['declared (--destination)']);
      assert.equal(a.destinations.length, 1);
    },
  },
  {
    name: 'an EventBridge integration in eu-west-1 with no personal data beyond events: approved, no transfer',
    input: { integration: fx('eventbridge-integration.json') },
    status: 'APPROVED_FOR_DEPLOYMENT',
    check(a) {
      assert.deepEqual(a.destinations.map((d) => [d.host, d.jurisdiction, d.transfer]), [['events.eu-west-1.amazonaws.com', 'EU', 'NONE']]);
    },
  },
];

describe('DPIA of realistic integrations', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const a = await assessed(c.input);
      assert.equal(a.compliance_status, c.status, `${a.risk_assessment.justification}\n${a.findings.map((f) => `${f.type} ${f.title}`).join('\n')}`);
      if (c.risk) assert.equal(a.risk_assessment.overall_risk_score, c.risk);
      for (const d of a.destinations) assert.ok(a.risk_assessment.justification.includes(d.host), `the justification names ${d.host}: ${a.risk_assessment.justification}`);
      for (const d of a.destinations.filter((x) => x.jurisdiction)) assert.ok(a.risk_assessment.justification.includes(`${d.host} (${d.jurisdiction}`), 'and its jurisdiction');
      c.check(a);
    });
  }
});

// The CLI as CI runs it.
const exec = promisify(execFile);
const bin = join(import.meta.dirname, '../../bin/consentgate.js');
const env = { DATABASE_URL: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test', CONSENTGATE_DPIA_SCHEMA: `dpia_${randomUUID().slice(0, 8)}` };
const run = (args: string[], extra: Record<string, string> = {}) =>
  exec(process.execPath, [bin, 'dpia', ...args], { env: { ...process.env, ...env, ...extra } })
    .then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));
const artifactFile = async (o: AssessOptions) => {
  const file = join(mkdtempSync(join(tmpdir(), 'dpia-')), 'dpia.json');
  writeFileSync(file, JSON.stringify(await assessed(o)));
  return file;
};

describe('dpia approve, drift and assess --all', () => {
  it('approving an approved artifact says so and exits 0; approving a pending one twice records one approval', async () => {
    const approved = await artifactFile({ integration: fx('eventbridge-integration.json') });
    const a = await run(['approve', approved, '--approver', 'Dana', '--role', 'DPO', '--reason', 'reviewed the flows and the vendor']);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /nothing recorded: DPIA-int-eb-\w+ is APPROVED_FOR_DEPLOYMENT by its assessment/);
    const pending = await artifactFile({ oauthClient: fx('contacts-export-client.json'), destination: ['https://warehouse.analytics.example.com/contacts'] });
    const first = await run(['approve', pending, '--approver', 'Dana', '--role', 'DPO', '--reason', 'soft deletion accepted until Q2']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /recorded DPO Dana's approval/);
    const again = await run(['approve', pending, '--approver', 'Dana', '--role', 'DPO', '--reason', 'soft deletion accepted until Q2']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing recorded: .* is approved already \(DPO Dana/);
    assert.equal((await run(['gate', pending])).code, 0);
  });

  it('drift works from the approved artifact it is given when the store has no record, and says which it used', async () => {
    const empty = { CONSENTGATE_DPIA_SCHEMA: `dpia_${randomUUID().slice(0, 8)}` }; // a store with no record of it
    const before = await artifactFile({ oauthClient: fx('contacts-export-client.json'), destination: ['https://api.crm-sync.example.eu/v1'] });
    const r = await run(['drift', '--oauth-client', fx('contacts-export-client.json'), '--terraform', fx('terraform-middleware'), '--approved', before], empty);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /compared with DPIA-oc-contacts-\w+ from .*dpia\.json \(the store has no approved DPIA of oc-contacts\)/);
    assert.match(r.stderr, /DRIFT .*new destinations events\.us-east-1\.amazonaws\.com/);
    const other = await artifactFile({ integration: fx('eventbridge-integration.json') });
    const wrong = await run(['drift', '--oauth-client', fx('contacts-export-client.json'), '--approved', other], empty);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /is a DPIA of int-eb, not of oc-contacts/);
  });

  it('assess --genesys <integrationId> fetches the integration and the OAuth client it uses through the SDK: one assessment', async () => {
    const sim = await GenesysSimulator.start({ seed: 71 });
    try {
      const client = sim.upsertOAuthClient({ name: 'Data actions client', authorizedGrantType: 'CLIENT-CREDENTIALS', scope: ['external-contacts:readonly'] }, { audit: false });
      const integration = sim.upsertIntegration({
        name: 'CRM data actions', integrationType: { id: 'custom-rest-actions' } as never,
        config: { current: { properties: { baseUrl: 'https://abc123.execute-api.ap-south-1.amazonaws.com/prod' }, credentials: { oauth: { id: client.id, name: 'client', type: 'userDefinedOAuth' } } } } as never,
      }, { audit: false });
      const r = await run(['assess', '--genesys', integration.id, '--at', '2026-12-01T09:00:00Z'], { GENESYS_BASE_URL: sim.baseUrl, GENESYS_CLIENT_ID: sim.clientId, GENESYS_CLIENT_SECRET: sim.clientSecret });
      assert.equal(r.code, 0, r.stderr);
      const a = JSON.parse(r.stdout) as DpiaArtifact;
      assert.deepEqual([a.integration_id, a.integration_kind, a.evidence.scopes], [integration.id, 'INTEGRATION', ['external-contacts:readonly']]);
      assert.match(a.data_flows[0]!.processing_nature, new RegExp(`OAuth client Data actions client \\(${client.id}\\)`));
      assert.ok(a.findings.some((f) => f.type === 'CROSS_BORDER_TRANSFER' && f.title.includes('to IN')));
      assert.match(r.stderr, /Destinations:\n  abc123\.execute-api\.ap-south-1\.amazonaws\.com \[HOP\] IN \(AWS ap-south-1\) — NOT approved; transfer UNSAFEGUARDED/);
      const missing = await run(['assess', '--genesys', 'no-such-integration'], { GENESYS_BASE_URL: sim.baseUrl, GENESYS_CLIENT_ID: sim.clientId, GENESYS_CLIENT_SECRET: sim.clientSecret });
      assert.equal(missing.code, 2, missing.stderr);
    } finally {
      await sim.close();
    }
  });

  it('assess --all: one artifact per flow, a summary, and a Markdown job summary for GitHub', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dpia-org-'));
    writeOrg(join(dir, 'org'), 24, 6);
    const summary = join(dir, 'summary.md');
    writeFileSync(summary, '');
    const r = await run(['assess', '--all', join(dir, 'org'), '--out-dir', join(dir, 'out'), '--at', '2026-12-01T09:00:00Z'], { GITHUB_STEP_SUMMARY: summary });
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { integration_id: string; compliance_status: string });
    assert.equal(lines.length, 24);
    assert.equal(readdirSync(join(dir, 'out')).length, 24);
    const flow = JSON.parse(readFileSync(join(dir, 'out', 'int-0.json'), 'utf8')) as DpiaArtifact;
    assert.deepEqual([flow.integration_kind, flow.evidence.scopes.length > 0], ['INTEGRATION', true], 'a directory\'s integration and OAuth client are one assessment');
    assert.match(r.stderr, /24 integrations assessed in [\d.]+ s: \d+ approved, \d+ pending approval, \d+ blocked/);
    const md = readFileSync(summary, 'utf8');
    assert.match(md, /^### DPIA: 24 integrations assessed/);
    assert.match(md, /\| Integration \| Status \| Risk \| Blocking findings \|/);
    assert.equal((await run(['assess', '--all', mkdtempSync(join(tmpdir(), 'dpia-empty-'))])).code, 2);
  });
});
