// The README's command blocks, run as written: the Quickstart's demo against this run's stack, and the Operations
// block line by line in one bash session in a throwaway directory (its own `dev up` stack, simulator and key store).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, it } from 'node:test';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

/** The first ```sh block after the heading that starts with `heading`. */
function shBlock(heading: string): string {
  const at = readme.indexOf(`\n## ${heading}`);
  assert.ok(at >= 0, `README has a "## ${heading}" section`);
  const m = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, `the ${heading} section has a sh block`);
  return m[1]!;
}

/** Runs a bash script; resolves with its exit code and its output (stdout and stderr, interleaved). */
function bash(script: string, o: { cwd: string; env: NodeJS.ProcessEnv; timeoutMs: number }): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

it('Quickstart: the demo runs as written (npm ci and npm test are what this run is)', async () => {
  const lines = shBlock('Quickstart').split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter(Boolean);
  const commands = lines.flatMap((l) => l.split('&&').map((c) => c.trim())).filter((c) => c !== 'npm ci' && c !== 'npm test');
  assert.deepEqual(commands, ['npm run demo']);
  const r = await bash(commands.join(' && '), { cwd: root, env: process.env, timeoutMs: 300_000 });
  assert.equal(r.code, 0, r.output.slice(-3000));
  assert.match(r.output, /sink\s+outcome\s+reason\s+count/);
});

const dir = mkdtempSync(join(tmpdir(), 'consentgate-readme-'));
after(async () => {
  await bash('node bin/consentgate.js dev down', { cwd: dir, env: process.env, timeoutMs: 60_000 }); // whatever the block left running
  rmSync(dir, { recursive: true, force: true });
});

it('Operations: every line runs as written, in order, in one shell on a fresh checkout', async () => {
  for (const d of ['bin', 'topologies']) symlinkSync(join(root, d), join(dir, d));
  // The jars this run already fetched, so that `dev up` starts without downloading them again.
  mkdirSync(join(dir, '.cache'));
  for (const jars of ['kafka-4.4.0', 'apicurio-registry-3.3.3']) if (existsSync(join(root, '.cache', jars))) symlinkSync(join(root, '.cache', jars), join(dir, '.cache', jars));
  writeFileSync(join(dir, 'operations.sh'), `set -euo pipefail\nset -x\n${shBlock('Operations')}`);
  // A fresh shell: none of this run's settings.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(KAFKA_|SCHEMA_REGISTRY_|CONSENTGATE_|GENESYS_|DATABASE_URL|LOG_)/.test(k)));
  const r = await bash('bash operations.sh', { cwd: dir, env, timeoutMs: 480_000 });
  assert.equal(r.code, 0, r.output.slice(-4000));
  assert.match(r.output, /"keysDestroyed":[1-9]/, 'the erasure found the customer\'s keys');
  assert.equal(existsSync(join(dir, '.cache/dev')), false, 'dev down removed the stack');
});
