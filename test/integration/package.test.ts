import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const work = mkdtempSync(join(tmpdir(), 'consentgate-package-'));
after(() => rmSync(work, { recursive: true, force: true }));

// The README's CI example, from another repository: the packed package installed there, `npx consentgate dpia …`.
it('npm pack gives a package that installs elsewhere and runs the DPIA gate from there, without dev-only dependencies', async () => {
  const { stdout } = await exec('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: root }); // npm test built dist/
  const [{ filename, files }] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
  const paths = files.map((f) => f.path);
  assert.ok(paths.includes('dist/cli/main.js') && paths.includes('topologies/policy.json') && paths.includes('schemas/Decision.avsc'));
  assert.ok(!paths.some((p) => p.startsWith('src/') || p.startsWith('test/')), 'sources and tests stay out of the package');

  const project = join(work, 'other-repo');
  await exec('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'other-repo', version: '1.0.0', private: true }));
  await exec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, filename)], { cwd: project, timeout: 300_000 });
  assert.ok(!existsSync(join(project, 'node_modules/tsx')), 'tsx is not a runtime dependency');
  assert.ok(!existsSync(join(project, 'node_modules/testcontainers')), 'testcontainers is not a runtime dependency');

  copyFileSync(join(root, 'test/fixtures/dpia/eventbridge-integration.json'), join(project, 'integration.json'));
  const env = { ...process.env, DATABASE_URL: '', CONSENTGATE_DPIA_DIR: '.dpia' };
  const npx = (...args: string[]) => exec('npx', ['--no-install', 'consentgate', ...args], { cwd: project, env });
  assert.match((await npx('--version')).stdout, /^\d+\.\d+\.\d+\n$/);
  await npx('dpia', 'assess', '--integration', 'integration.json', '--out', 'dpia.json', '--report', 'dpia.txt');
  const gate = await npx('dpia', 'gate', 'dpia.json');
  assert.match(gate.stdout, /deployable \(APPROVED_FOR_DEPLOYMENT/);
  // The integration and its OAuth client as one flow, and a whole directory of flows, from the installed package.
  copyFileSync(join(root, 'test/fixtures/dpia/cases/survey-webhook.json'), join(project, 'survey.json'));
  copyFileSync(join(root, 'test/fixtures/dpia/cases/webhook-client.json'), join(project, 'survey-client.json'));
  const one = JSON.parse((await npx('dpia', 'assess', '--integration', 'survey.json', '--oauth-client', 'survey-client.json', '--report', 'survey.txt')).stdout) as { integration_id: string; evidence: { scopes: string[] } };
  assert.deepEqual([one.integration_id, one.evidence.scopes], ['int-survey', ['conversations:readonly']]);
  mkdirSync(join(project, 'flows'));
  for (const f of ['integration.json', 'survey.json', 'survey-client.json']) copyFileSync(join(project, f), join(project, 'flows', f));
  const all = await npx('dpia', 'assess', '--all', 'flows', '--out-dir', 'artifacts', '--quiet');
  assert.match(all.stderr, /3 integrations assessed/);
  assert.equal(readdirSync(join(project, 'artifacts')).length, 3);
  assert.equal(existsSync(join(project, 'node_modules/consentgate/.cache')), false, 'no state written inside the installed package');
});
