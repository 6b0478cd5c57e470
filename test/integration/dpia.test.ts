import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { DpiaArtifact } from '../../src/domain/dpia.ts';

// The DPIA command as CI runs it: no Kafka, real files (Genesys API JSON, Terraform, payload samples).
const exec = promisify(execFile);
const bin = join(import.meta.dirname, '../../bin/consentgate.js');
const fx = (f: string) => join(import.meta.dirname, '../fixtures/dpia', f);
const AT = '2026-11-23T10:00:00.000Z';
const run = (args: string[]) =>
  exec(process.execPath, [bin, 'dpia', ...args]).then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));

async function assessed(args: string[]): Promise<{ artifact: DpiaArtifact; text: string; file: string; report: string }> {
  const r = await run(['assess', ...args, '--at', AT]);
  assert.equal(r.code, 0, r.stderr);
  const file = join(mkdtempSync(join(tmpdir(), 'dpia-')), 'dpia.json');
  writeFileSync(file, r.stdout);
  return { artifact: JSON.parse(r.stdout) as DpiaArtifact, text: r.stdout, file, report: r.stderr };
}
const types = (a: DpiaArtifact) => a.findings.map((f) => f.type);

describe('dpia assess and gate', () => {
  it('a CRM sync receiving call recordings is CRITICAL and blocked; the gate fails with the reason', async () => {
    const { artifact, text, file, report } = await assessed(['--oauth-client', fx('crm-sync-client.json'), '--destination', 'https://api.crm-sync.example.eu/v1/sync']);
    assert.equal(artifact.compliance_status, 'BLOCKED_FOR_DEPLOYMENT');
    assert.equal(artifact.risk_assessment.overall_risk_score, 'Critical');
    assert.ok(artifact.data_flows[0]!.data_elements.includes('call_recording_audio'));
    assert.match(artifact.risk_assessment.justification, /call_recording_audio \(RECORDING_BIOMETRIC\)/);
    assert.ok(!text.includes('should-never-leave'), 'the client secret never reaches the artifact');
    assert.match(report, /Status: BLOCKED_FOR_DEPLOYMENT/);
    const gate = await run(['gate', file]);
    assert.equal(gate.code, 1);
    assert.match(gate.stderr, /BLOCKED_FOR_DEPLOYMENT — overall risk Critical/);
  });

  it('an export of aggregated data to an approved destination is approved; the gate passes; same input, same bytes', async () => {
    const args = ['--oauth-client', fx('analytics-export-client.json'), '--destination', 'https://warehouse.analytics.example.com/ingest', '--samples', fx('sample-aggregates.json')];
    const a = await assessed(args);
    assert.equal(a.artifact.compliance_status, 'APPROVED_FOR_DEPLOYMENT');
    assert.equal(a.artifact.risk_assessment.overall_risk_score, 'Low');
    assert.equal((await run(['gate', a.file])).code, 0);
    const b = await assessed(args);
    assert.equal(b.text, a.text);
  });

  it('a middleware hop in another region, found in the Terraform, is a cross-border transfer without safeguards', async () => {
    const { artifact } = await assessed(['--oauth-client', fx('contacts-export-client.json'), '--terraform', fx('terraform-middleware')]);
    const transfer = artifact.findings.find((f) => f.type === 'CROSS_BORDER_TRANSFER')!;
    assert.ok(transfer, types(artifact).join(', '));
    assert.match(transfer.title, /from EU goes to US/);
    assert.match(transfer.evidence.join(' '), /main\.tf: module\.eventbridge_middleware\.aws_account_region/);
    assert.ok(artifact.data_flows.some((f) => f.destination === 'api.crm-sync.example.eu'), 'the variable-built CRM URL is resolved');
    assert.equal(artifact.compliance_status, 'BLOCKED_FOR_DEPLOYMENT');
  });

  it('a vendor deleting after 90 days while the source keeps 365 is a data governance mismatch; a name with a contact point is raised', async () => {
    const { artifact } = await assessed(['--oauth-client', fx('contacts-export-client.json'), '--destination', 'https://warehouse.analytics.example.com/contacts']);
    const mismatch = artifact.findings.find((f) => f.type === 'DATA_GOVERNANCE_MISMATCH')!;
    assert.match(mismatch.title, /analytics-warehouse deletes after 90 days while the source keeps 365/);
    assert.ok(artifact.findings.some((f) => f.type === 'CONTEXT_RAISED_RISK' && /contact_identity raised to HIGH/.test(f.title)));
  });

  it('card numbers in a transcript sample raise the risk although no field is named as PII', async () => {
    const plain = await assessed(['--integration', fx('eventbridge-integration.json')]);
    assert.equal(plain.artifact.compliance_status, 'APPROVED_FOR_DEPLOYMENT');
    assert.deepEqual(plain.artifact.data_flows.map((f) => f.destination), ['events.eu-west-1.amazonaws.com']);
    const scanned = await assessed(['--integration', fx('eventbridge-integration.json'), '--samples', fx('sample-transcript.txt')]);
    assert.equal(scanned.artifact.compliance_status, 'BLOCKED_FOR_DEPLOYMENT');
    assert.ok(scanned.artifact.findings.some((f) => f.type === 'SENSITIVE_CONTENT' && /CARD_NUMBER/.test(f.title)));
    assert.ok(!scanned.text.includes('4111 1111 1111 1111'), 'evidence holds counts, never the values');
  });

  it('the gate refuses what is not a DPIA artifact with exit code 2', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'dpia-')), 'bogus.json');
    writeFileSync(file, JSON.stringify({ compliance_status: 'APPROVED_FOR_DEPLOYMENT' }));
    const r = await run(['gate', file]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /dpia_id/);
    assert.equal((await run(['assess'])).code, 2);
    assert.ok(readFileSync(fx('crm-sync-client.json'), 'utf8').includes('recordings:readonly'));
  });
});
