import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { loadTopology } from '../../src/topology.ts';

const exec = promisify(execFile);
const bin = join(import.meta.dirname, '../../bin/consentgate.js');
const run = (args: string[], env: Record<string, string | undefined>) =>
  exec(process.execPath, [bin, ...args], { env: { ...process.env, ...env } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

it('topics apply creates the topology once and is idempotent (it needs no crypto keys)', async () => {
  const env = { CONSENTGATE_TOPIC_PREFIX: `cli${randomUUID().slice(0, 8)}.`, CONSENTGATE_FIELD_KEY: '', CONSENTGATE_MASTER_KEY: '' };
  const first = await run(['topics', 'apply'], env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^created\s+cli\w+\.consent\.state \(6 partitions\)$/m);
  const second = await run(['topics', 'apply'], env);
  assert.equal(second.code, 0, second.stderr);
  const topics = first.stdout.split('\n').filter((l) => l.startsWith('created')).length;
  assert.equal(topics, loadTopology(join(import.meta.dirname, '../../topologies/consentgate.json')).topics.size, 'every topic of the catalog created');
  assert.equal(second.stdout.split('\n').filter((l) => l.startsWith('unchanged')).length, topics);
});

it('a bad configuration fails at start with every problem listed', async () => {
  const r = await run(['run'], { KAFKA_BROKERS: 'nohostport', SCHEMA_REGISTRY_URL: 'not a url', CONSENTGATE_FIELD_KEY: '' });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^consentgate: \[CONFIG_INVALID\] invalid configuration:$/m);
  assert.match(r.stderr, /kafka\.brokers\.0: expected host:port/);
  assert.match(r.stderr, /schemaRegistry\.url: not a URL: not a url/);
  assert.match(r.stderr, /fieldKey: required: policy \S+ pseudonymizes or encrypts fields: set CONSENTGATE_FIELD_KEY/, 'the pipeline\'s own needs listed with the rest');
  const pretty = await run(['run'], { LOG_FORMAT: 'loud' });
  assert.match(pretty.stderr, /logFormat: Invalid option: expected one of "json"\|"pretty"/);
});

it('describe prints the topology and the policy', async () => {
  const r = await run(['describe'], {});
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Processor: enforcement/);
  assert.match(r.stdout, /crm -> sink\.crm\s+requires MARKETING/);
});

it('connectors that need Genesys fail at start without credentials; unknown connectors are named', async () => {
  const missing = await run(['run'], { CONSENTGATE_CONNECTORS: 'notifications', GENESYS_CLIENT_ID: '', GENESYS_BASE_URL: '' });
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /genesys: connectors notifications need Genesys credentials/);
  const unknown = await run(['run'], { CONSENTGATE_CONNECTORS: 'consent-intake,bogus' });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /connectors\.1: Invalid option/);
});

it('the HTTP intake is closed by default: run refuses to start it without a token', async () => {
  const open = await run(['run'], { CONSENTGATE_CONNECTORS: 'consent-intake', CONSENTGATE_INTAKE_TOKEN: '' });
  assert.equal(open.code, 2);
  assert.match(open.stderr, /http\.token: the HTTP intake \(consent-intake\) needs CONSENTGATE_INTAKE_TOKEN \(16 or more characters\); only for a local test, --insecure-no-auth/);
  const help = await run(['run', '--help'], {});
  assert.match(help.stdout, /--insecure-no-auth\s+let the HTTP intake accept requests without a token/);
});

it('simulate genesys prints env lines a client can log in with', async () => {
  const child = spawn(process.execPath, [bin, 'simulate', 'genesys', '--seed', '5']);
  try {
    let out = '';
    for await (const chunk of child.stdout) {
      out += chunk;
      if (out.split('\n').length > 3) break;
    }
    const env = Object.fromEntries(out.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
    assert.deepEqual(Object.keys(env), ['GENESYS_BASE_URL', 'GENESYS_CLIENT_ID', 'GENESYS_CLIENT_SECRET']);
    const token = await fetch(`${env.GENESYS_BASE_URL}/oauth/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${env.GENESYS_CLIENT_ID}:${env.GENESYS_CLIENT_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    assert.equal(token.status, 200);
  } finally {
    child.kill('SIGTERM');
  }
});

it('export explains itself and refuses a bad interval', async () => {
  const help = await run(['export', '--help'], {});
  assert.equal(help.code, 0);
  assert.match(help.stdout, /resumes where it stopped/);
  const bad = await run(['export', '--from', 'yesterday', '--to', 'today'], { CONSENTGATE_FIELD_KEY: 'b2'.repeat(32) });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^consentgate: \[USAGE\] option '--from <time>' argument 'yesterday' is invalid/m);
  // Day-first dates are refused, not read as 11 January.
  const dayFirst = await run(['export', '--from', '01/11/2026', '--to', '2026-11-02'], {});
  assert.equal(dayFirst.code, 2);
  assert.match(dayFirst.stderr, /argument '01\/11\/2026' is invalid\. expected an ISO-8601 date/);
  const impossible = await run(['export', '--from', '2026-02-30', '--to', '2026-03-02'], {});
  assert.equal(impossible.code, 2);
  assert.match(impossible.stderr, /2026-02-30 is not a date/);
  const backwards = await run(['export', '--from', '2026-11-02', '--to', '2026-11-01T00:00:00Z'], {});
  assert.equal(backwards.code, 2);
  assert.match(backwards.stderr, /--from must be before --to/);
});

it('behaves like the tools people know: --version, help <command>, usage errors exit 2 naming the flag, one-line errors', async () => {
  const version = await run(['--version'], {});
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
  const help = await run(['help', 'run'], {});
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: consentgate run \[options\]/);
  assert.match(help.stdout, /--workers <n>/);
  assert.equal((await run(['run', '--help'], {})).stdout, help.stdout, 'run --help is run\'s own help');
  const typo = await run(['run', '--wrkers', '2'], {});
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /^consentgate: \[USAGE\] unknown option '--wrkers' \(Did you mean --workers\?\)$/m);
  const unknown = await run(['frobnicate'], {});
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  const negative = await run(['decrypt', '--topic', 'sink.crm', '--max', '-1'], {});
  assert.equal(negative.code, 2);
  assert.match(negative.stderr, /option '--max <n>' argument '-1' is invalid\. expected a whole number of at least 1/);
  const missing = await run(['dpia', 'assess', '--integration', '/nonexistent/integration.json'], {});
  assert.equal(missing.code, 2);
  assert.equal(missing.stderr, 'consentgate: [ENOENT] cannot read /nonexistent/integration.json: no such file or directory — check the path\n');
});

it('run --workers takes a whole number, and several workers need a PostgreSQL key store', async () => {
  const zero = await run(['run', '--workers', '0'], {});
  assert.equal(zero.code, 2);
  assert.match(zero.stderr, /option '--workers <n>' argument '0' is invalid\. expected a whole number from 1 to 256/);
  const env: Record<string, string | undefined> = { ...process.env, CONSENTGATE_FIELD_KEY: 'b2'.repeat(32), CONSENTGATE_MASTER_KEY: 'c3'.repeat(32) };
  delete env.DATABASE_URL;
  const shared = await exec(process.execPath, [bin, 'run', '--workers', '2'], { env }).then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => e);
  assert.equal(shared.code, 2);
  assert.match(shared.stderr, /cannot share the embedded key store \(PGlite\); set DATABASE_URL/);
});

it('two terminals: simulate genesys --save-env writes lines any shell sources; dev down stops it and deletes the local state it made', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'consentgate-dev-'));
  const inDir = (args: string[]) => exec(process.execPath, [bin, ...args], { cwd: dir, env: { ...process.env, CONSENTGATE_KEYSTORE_DIR: '', CONSENTGATE_DPIA_DIR: '' } });
  try {
    const sim = spawn(process.execPath, [bin, 'simulate', 'genesys', '--save-env', '.consentgate/dev.env'], { cwd: dir, stdio: 'ignore' });
    const envFile = join(dir, '.consentgate/dev.env');
    for (let i = 0; i < 100 && !existsSync(envFile); i++) await new Promise((r) => setTimeout(r, 100));
    // What another shell gets from `set -a; . .consentgate/dev.env; set +a`.
    const sourced = await exec('bash', ['-c', 'set -a; . .consentgate/dev.env; set +a; echo "$GENESYS_BASE_URL"'], { cwd: dir });
    assert.equal((await fetch(`${sourced.stdout.trim()}/oauth/token`, { method: 'POST' })).status, 401, 'the simulator answers at the sourced address');
    mkdirSync(join(dir, '.cache/keystore'), { recursive: true });
    writeFileSync(join(dir, '.cache/keystore/PG_VERSION'), '17\n'); // what PGlite leaves in its directory
    mkdirSync(join(dir, '.cache/dpia'), { recursive: true });
    const down = await inDir(['dev', 'down']);
    assert.match(down.stderr, /stopped the Genesys simulator/);
    assert.match(down.stderr, /deleted the embedded key store/);
    assert.match(down.stderr, /kept the DPIA store/);
    await new Promise<void>((resolve) => (sim.exitCode !== null ? resolve() : sim.once('exit', () => resolve())));
    assert.equal(existsSync(envFile), false, 'the env lines of what was stopped are gone');
    assert.equal(existsSync(join(dir, '.cache/keystore')), false);
    assert.equal(existsSync(join(dir, '.cache/dpia')), true);
    assert.match((await inDir(['simulate', 'stop'])).stderr, /no genesys simulator is running/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('an unreachable broker or a registry URL without its API path fails within the timeout, naming the setting and the address', async () => {
  const started = Date.now();
  const broker = await run(['topics', 'apply'], { KAFKA_BROKERS: '127.0.0.1:1', KAFKA_CONNECT_TIMEOUT_MS: '2000' });
  assert.equal(broker.code, 1);
  assert.equal(broker.stderr.trim().split('\n').length, 1, 'one line, no retry log');
  assert.match(broker.stderr, /^consentgate: \[KAFKA_UNAVAILABLE\] cannot reach Kafka at 127\.0\.0\.1:1 \(KAFKA_BROKERS\) within 2 s: .*ECONNREFUSED/);
  assert.ok(Date.now() - started < 15_000, 'gave up after the configured 2 s, not kafkajs\' retries');
  const registry = await run(['decrypt', '--topic', 'sink.crm'], { SCHEMA_REGISTRY_URL: process.env.SCHEMA_REGISTRY_URL!.replace(/\/apis\/ccompat\/v7$/, '') });
  assert.equal(registry.code, 2);
  assert.match(registry.stderr, /^consentgate: \[CONFIG_INVALID\] no schema registry API at http:\/\/\S+ \(SCHEMA_REGISTRY_URL\): GET \/subjects answered 404 — Apicurio serves the Confluent API under \/apis\/ccompat\/v7$/m);
});

it('a command that needs the embedded key store while another process holds it refuses clearly; a dead holder\'s lock is taken over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'consentgate-keys-'));
  const keys = join(dir, 'keystore');
  const holder = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
    `const { embeddedDb } = await import(${JSON.stringify(join(import.meta.dirname, '../../src/adapters/postgres.ts'))}); await embeddedDb(${JSON.stringify(keys)}).query('select 1'); console.log('holding'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    for await (const chunk of holder.stdout) if (String(chunk).includes('holding')) break;
    const env = { DATABASE_URL: '', CONSENTGATE_KEYSTORE_DIR: keys, CONSENTGATE_MASTER_KEY: 'c3'.repeat(32), CONSENTGATE_TOPIC_PREFIX: `busy${randomUUID().slice(0, 8)}.` };
    const noTopics = await run(['decrypt', '--topic', 'sink.crm'], env);
    assert.equal(noTopics.code, 2);
    assert.match(noTopics.stderr, /^consentgate: \[CONFIG_INVALID\] topic busy\w+\.sink\.crm does not exist: create the topology's topics with `consentgate topics apply`/m);
    assert.equal((await run(['topics', 'apply'], env)).code, 0);
    const busy = await run(['decrypt', '--topic', 'sink.crm'], env);
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, new RegExp(`^consentgate: \\[STORE_BUSY\\] the embedded database in ${keys} is in use by process ${holder.pid} .*set DATABASE_URL`, 'm'));
    holder.kill('SIGKILL'); // leaves its lock file behind
    await new Promise((r) => holder.once('exit', r));
    const after = await run(['decrypt', '--topic', 'sink.crm'], env);
    assert.equal(after.code, 0, after.stderr);
    assert.match(after.stderr, /0 records/);
  } finally {
    holder.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
