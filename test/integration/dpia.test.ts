import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DpiaStore } from '../../src/adapters/dpiaStore.ts';
import { GenesysSimulator } from '../../src/simulator/index.ts';
import type { DpiaArtifact } from '../../src/domain/dpia.ts';

// The DPIA command as CI runs it: no Kafka, real files (Genesys API JSON, Terraform, payload samples).
const exec = promisify(execFile);
const bin = join(import.meta.dirname, '../../bin/consentgate.js');
const fx = (f: string) => join(import.meta.dirname, '../fixtures/dpia', f);
const AT = '2026-11-23T10:00:00.000Z';
const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
let storeEnv: Record<string, string> = { DATABASE_URL, CONSENTGATE_DPIA_SCHEMA: `dpia_${randomUUID().slice(0, 8)}` };
const run = (args: string[]) =>
  exec(process.execPath, [bin, 'dpia', ...args], { env: { ...process.env, ...storeEnv } })
    .then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }));

async function assessed(args: string[]): Promise<{ artifact: DpiaArtifact; text: string; file: string; report: string }> {
  const r = await run(['assess', ...args, '--at', AT]);
  assert.equal(r.code, 0, r.stderr);
  const file = join(mkdtempSync(join(tmpdir(), 'dpia-')), 'dpia.json');
  writeFileSync(file, r.stdout);
  return { artifact: JSON.parse(r.stdout) as DpiaArtifact, text: r.stdout, file, report: r.stderr };
}
const types = (a: DpiaArtifact) => a.findings.map((f) => f.type);
/** A client as GET /api/v2/oauth/clients/{id} returns it, in a file. */
async function clientFile(client: object): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'dpia-')), 'client.json');
  writeFileSync(file, JSON.stringify(client));
  return file;
}

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
    assert.match(transfer.title, /from EU to US: events.us-east-1.amazonaws.com is in AWS us-east-1/);
    assert.match(transfer.evidence[0]!, /^chain: origin \(EU\) → events.us-east-1.amazonaws.com/);
    assert.match(transfer.evidence.join(' '), /main\.tf: module\.eventbridge_middleware\.aws_account_region/);
    assert.ok(artifact.data_flows.some((f) => f.destination === 'api.crm-sync.example.eu'), 'the variable-built CRM URL is resolved');
    assert.equal(artifact.compliance_status, 'BLOCKED_FOR_DEPLOYMENT');
  });

  it('a vendor deleting after 90 days while the source keeps 365 is a data governance mismatch; a name with a contact point is raised', async () => {
    const { artifact } = await assessed(['--oauth-client', fx('contacts-export-client.json'), '--destination', 'https://warehouse.analytics.example.com/contacts']);
    const mismatches = artifact.findings.filter((f) => f.type === 'DATA_GOVERNANCE_MISMATCH').map((f) => f.title);
    assert.ok(mismatches.some((t) => /analytics-warehouse deletes after 90 days while the source keeps 365/.test(t)), mismatches.join('\n'));
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

describe('approvals, exceptions and the audit trail', () => {
  const hours = (n: number) => new Date(Date.parse(AT) + n * 3_600_000).toISOString();

  it('a Critical block needs a time-bound exception from two distinct approvers, which expires by itself', async () => {
    const { file } = await assessed(['--oauth-client', fx('crm-sync-client.json'), '--destination', 'https://api.crm-sync.example.eu/v1/sync']);
    const approveAs = (approver: string, role: string, extra: string[] = []) => run(['approve', file, '--approver', approver, '--role', role, '--reason', 'Urgent fix for a production incident, INC-4711', '--at', hours(0), ...extra]);
    assert.equal((await run(['gate', file, '--at', hours(1)])).code, 1);
    assert.equal((await approveAs('alice', 'DPO')).code, 0);
    assert.equal((await approveAs('alice', 'DPO')).code, 0);
    const one = await run(['gate', file, '--at', hours(1)]);
    assert.equal(one.code, 1);
    assert.match(one.stderr, /needs 2 distinct approvers, has 1 \(alice\)/);
    assert.equal((await approveAs('bob', 'SECURITY_LEAD')).code, 0);
    const two = await run(['gate', file, '--at', hours(1)]);
    assert.equal(two.code, 0, two.stderr);
    assert.match(two.stdout, new RegExp(`exception until ${hours(72).replace(/[.]/g, '\\.')}`));
    const later = await run(['gate', file, '--at', hours(73)]);
    assert.equal(later.code, 1);
    assert.match(later.stderr, /expired; re-assess/);
    assert.equal((await approveAs('carol', 'INTERN')).code, 2, 'only a DPO or a security lead approves');
    assert.equal((await run(['approve', file, '--approver', 'dan', '--role', 'DPO', '--reason', 'ok'])).code, 2, 'a reason is required');
    assert.equal((await approveAs('erin', 'DPO', ['--hours', '100'])).code, 2, 'no exception beyond 72 h');
  });

  it('the hash chain verifies, and a row altered behind the back of the trigger is found', async () => {
    const { file } = await assessed(['--oauth-client', fx('contacts-export-client.json'), '--destination', 'https://warehouse.analytics.example.com/contacts', '--store']);
    assert.equal((await run(['approve', file, '--approver', 'alice', '--role', 'DPO', '--reason', 'Reviewed the mismatch with the vendor, accepted'])).code, 0);
    const ok = await run(['verify']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /intact: \d+ entries/);
    const db = new pg.Client({ connectionString: DATABASE_URL });
    await db.connect();
    const s = `"${storeEnv.CONSENTGATE_DPIA_SCHEMA}"`;
    try {
      await assert.rejects(db.query(`UPDATE ${s}.dpia_audit SET body = body WHERE seq = 1`), /append-only/);
      await db.query(`ALTER TABLE ${s}.dpia_audit DISABLE TRIGGER append_only`);
      await db.query(`UPDATE ${s}.dpia_audit SET body = replace(body, 'BLOCKED_FOR_DEPLOYMENT', 'APPROVED_FOR_DEPLOYMENT') WHERE seq = (SELECT min(seq) FROM ${s}.dpia_audit)`);
      await db.query(`ALTER TABLE ${s}.dpia_audit ENABLE TRIGGER append_only`);
    } finally {
      await db.end();
    }
    const broken = await run(['verify']);
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /broken at entry 1 of \d+: its content does not match its hash/);
  });

  it('drift: new scopes, new destinations or disabled encryption leave the approval behind', async () => {
    storeEnv = { DATABASE_URL, CONSENTGATE_DPIA_SCHEMA: `dpia_${randomUUID().slice(0, 8)}` };
    const args = ['--oauth-client', fx('contacts-export-client.json'), '--destination', 'https://warehouse.analytics.example.com/contacts'];
    const { file, artifact } = await assessed([...args, '--store']);
    assert.equal(artifact.compliance_status, 'PENDING_APPROVAL');
    assert.equal((await run(['drift', ...args, '--at', AT])).code, 1, 'nothing approved yet');
    assert.equal((await run(['approve', file, '--approver', 'alice', '--role', 'DPO', '--reason', 'Contacts export reviewed with the vendor'])).code, 0);
    const same = await run(['drift', ...args, '--at', AT]);
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stderr, /no drift/);

    const wider = join(mkdtempSync(join(tmpdir(), 'dpia-')), 'client.json');
    const client = JSON.parse(readFileSync(fx('contacts-export-client.json'), 'utf8')) as { scope: string[] };
    writeFileSync(wider, JSON.stringify({ ...client, scope: [...client.scope, 'recordings:readonly'] }));
    const scoped = await run(['drift', '--oauth-client', wider, '--destination', 'https://warehouse.analytics.example.com/contacts', '--at', AT, '--store']);
    assert.equal(scoped.code, 1);
    assert.match(scoped.stderr, /DRIFT .*new scopes recordings:readonly.*risk High → Critical/);
    const plain = await run(['drift', '--oauth-client', fx('contacts-export-client.json'), '--destination', 'http://warehouse.analytics.example.com/contacts', '--at', AT]);
    assert.equal(plain.code, 1);
    assert.deepEqual((JSON.parse(plain.stdout) as { newFindingTypes: string[] }).newFindingTypes, ['UNENCRYPTED_TRANSIT']);
  });

  it('drift --genesys checks every OAuth client and integration of the org through the SDK', async () => {
    const sim = await GenesysSimulator.start({ seed: 61 });
    storeEnv = { DATABASE_URL, CONSENTGATE_DPIA_SCHEMA: `dpia_${randomUUID().slice(0, 8)}`, GENESYS_BASE_URL: sim.baseUrl, GENESYS_CLIENT_ID: sim.clientId, GENESYS_CLIENT_SECRET: sim.clientSecret };
    const store = await DpiaStore.open({ databaseUrl: DATABASE_URL, schema: storeEnv.CONSENTGATE_DPIA_SCHEMA });
    try {
      const first = await run(['drift', '--genesys', '--store', '--at', AT]);
      assert.equal(first.code, 1, 'nothing was ever approved');
      const lines = first.stdout.trim().split('\n').map((l) => JSON.parse(l) as { integration_id: string; current_dpia: string });
      assert.match(first.stderr, new RegExp(`${lines.length} integrations checked, ${lines.length} drifted or unapproved`));
      for (const l of lines) await store.recordApproval({ dpiaId: l.current_dpia, approver: 'alice', role: 'DPO', reason: 'baseline review of the org', at: Date.parse(AT), expiresAt: null });
      const steady = await run(['drift', '--genesys', '--at', AT]);
      assert.equal(steady.code, 0, steady.stderr);

      const client = sim.upsertOAuthClient({ name: 'Quiet reporting client', authorizedGrantType: 'CLIENT-CREDENTIALS', scope: ['analytics:aggregates:readonly'] }, { audit: false });
      await store.recordArtifact((await assessed(['--oauth-client', await clientFile(client)])).artifact, Date.parse(AT));
      sim.upsertOAuthClient({ ...client, scope: ['analytics:aggregates:readonly', 'external-contacts:readonly'] }, { audit: false });
      const drifted = await run(['drift', '--genesys', '--at', AT]);
      assert.equal(drifted.code, 1);
      assert.match(drifted.stderr, /DRIFT Quiet reporting client: new scopes external-contacts:readonly/);
    } finally {
      await store.close();
      await sim.close();
    }
  });

  it('works the same on the embedded PGlite store', async () => {
    storeEnv = { DATABASE_URL: '', CONSENTGATE_DPIA_DIR: mkdtempSync(join(tmpdir(), 'dpia-store-')) };
    const { file } = await assessed(['--oauth-client', fx('contacts-export-client.json'), '--terraform', fx('terraform-middleware'), '--store']);
    for (const [who, role] of [['alice', 'DPO'], ['bob', 'SECURITY_LEAD']]) {
      assert.equal((await run(['approve', file, '--approver', who!, '--role', role!, '--reason', 'SCCs signed with the middleware provider', '--at', hours(0)])).code, 0);
    }
    assert.equal((await run(['gate', file, '--at', hours(2)])).code, 0);
    assert.equal((await run(['verify'])).code, 0);
  });
});
