import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, it } from 'node:test';
import { createKafka, type InRecord } from '../../src/adapters/kafka.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { readTopic } from '../../src/adapters/topicReader.ts';
import { loadDefinitions, PROJECT_ROOT, topologySerdes } from '../../src/app.ts';
import { stackEnv, startLocalStack, stopLocalStack, type LocalStack } from '../../src/devstack/localStack.ts';
import { freePort } from '../../src/devstack/process.ts';
import { makeCertificates } from '../../src/devstack/tls.ts';
import type { SinkRecord } from '../../src/domain/fieldRules.ts';
import type { ConsentEvent, Decision } from '../../src/domain/types.ts';
import { GenesysSimulator } from '../../src/simulator/index.ts';
import { genesysEnv } from '../harness/genesys.ts';
import { postJson, testConfig, testEnv, waitFor } from '../harness/pipeline.ts';

// Secured Kafka, tested: a stack of the test's own, started as `consentgate dev up --secure` starts it — the broker
// takes SASL/SCRAM-SHA-512 over TLS only, the registry HTTPS with basic auth only — and `consentgate run` with its
// connectors works over it; wrong credentials or an untrusted CA stop it at start with a clear error.
let stack: LocalStack;
let secure: Record<string, string>;
const dir = mkdtempSync(join(tmpdir(), 'consentgate-secure-'));
const cleanups: (() => Promise<void> | void)[] = [];

before(async () => {
  stack = await startLocalStack({ dir, detached: false, secure: true });
  secure = stackEnv(stack);
});
after(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => {});
  if (stack) await stopLocalStack(stack);
  rmSync(dir, { recursive: true, force: true });
});

/** `consentgate run` in a child process; resolves with its exit code and stderr once it exits. */
function run(env: Record<string, string | undefined>) {
  const child = spawn(process.execPath, [resolve(PROJECT_ROOT, 'bin/consentgate.js'), 'run'], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-20_000)));
  cleanups.push(() => void child.kill('SIGKILL'));
  const exited = new Promise<{ code: number | null; stderr: string }>((res) => child.on('exit', (code) => res({ code, stderr })));
  return { child, exited, stderr: () => stderr };
}

it('the pipeline and its connectors run over TLS + SCRAM, with the registry over HTTPS + basic auth', async () => {
  const sim = await GenesysSimulator.start({ seed: 5 });
  cleanups.push(() => sim.close());
  const [opsPort, httpPort] = [await freePort(), await freePort()];
  const prefix = `sec${Date.now().toString(36)}.`;
  const env = testEnv(prefix, {
    ...secure, ...genesysEnv(sim), CONSENTGATE_CONNECTORS: 'notifications,consent-intake', CONSENTGATE_HTTP_PORT: String(httpPort),
    CONSENTGATE_OPS_PORT: String(opsPort), CONSENTGATE_WORKERS: '1',
  });
  const p = run(env);
  await waitFor('ready', async () => (await fetch(`http://127.0.0.1:${opsPort}/readyz`).catch(() => undefined))?.status === 200, 120_000)
    .catch((e: Error) => { throw new Error(`${e.message}\n${p.stderr()}`); });

  // A client of its own reads the outcome, over the same secured connections.
  const config = testConfig(prefix, secure);
  const { topology } = loadDefinitions(config);
  const kafka = createKafka(config.kafka, createLogger('error'));
  const serdes = await topologySerdes(config, topology);
  const read = async <T>(logical: string) => Promise.all((await readTopic(kafka, topology.topic(logical).name)).map(async (r: InRecord) => (await serdes.forTopic(logical).decode(r.value)) as T));

  // Consent from the Genesys contact (notifications → consent.events), a conversation, an opt-out through the intake.
  const ann = sim.upsertContact({ firstName: 'Ann', lastName: 'Example' });
  sim.setConsent(ann.id, { marketing: true, analytics: false, thirdParty: false, source: 'Web', at: Date.now() });
  // On consent.events before the conversation starts (the table is applied before any record after it is decided).
  await waitFor('the consent event written', async () => (await read<ConsentEvent>('consent.events')).some((e) => e.customerId === ann.id), 30_000);
  const call = sim.startConversation({ customerId: ann.id, mediaType: 'voice', ani: '+15550001' });

  await waitFor('the conversation start decided for every sink', async () => (await read<Decision>('audit.decisions')).filter((d) => d.conversationId === call.conversationId).length >= 3, 60_000);
  const start = (await read<Decision>('audit.decisions')).filter((d) => d.conversationId === call.conversationId);
  assert.deepEqual(start.map((d) => `${d.sink}:${d.outcome}:${d.reason}`).sort(), ['analytics:BLOCKED:CONSENT_WITHDRAWN', 'crm:FORWARDED:CONSENT_GRANTED', 'thirdparty:BLOCKED:CONSENT_WITHDRAWN']);
  assert.deepEqual((await read<SinkRecord>('sink.crm')).map((r) => r.recordId), start.filter((d) => d.outcome === 'FORWARDED').map((d) => d.recordId));

  const res = await postJson(`http://127.0.0.1:${httpPort}/v1/consent`, { customerId: ann.id, source: 'WEB', purposes: [{ purpose: 'MARKETING', granted: false }] });
  assert.equal(res.status, 202, await res.text());
  sim.endConversation(call.conversationId);
  await waitFor('the end decided', async () => (await read<Decision>('audit.decisions')).some((d) => d.conversationId === call.conversationId && d.sink === 'crm' && d.recordId.endsWith('customer.end')), 60_000);
  const end = (await read<Decision>('audit.decisions')).find((d) => d.conversationId === call.conversationId && d.sink === 'crm' && d.recordId.endsWith('customer.end'))!;
  assert.equal(`${end.outcome}:${end.reason}`, 'BLOCKED:CONSENT_WITHDRAWN');
  assert.equal((await read<SinkRecord>('sink.crm')).length, 1, 'nothing more reached the CRM after the opt-out');

  p.child.kill('SIGTERM');
  assert.equal((await p.exited).code, 0, p.stderr());
});

it('a wrong password or an untrusted CA stops `run` at start, at once, with an error naming what to fix', async () => {
  const other = makeCertificates(join(dir, 'other-ca'), 'a CA nobody trusts').caFile;
  const base = testEnv(`secbad${Date.now().toString(36)}.`, { ...secure, CONSENTGATE_WORKERS: '1', KAFKA_CONNECT_TIMEOUT_MS: '4000' });
  const cases: [string, Record<string, string>, number, RegExp][] = [
    ['wrong Kafka password', { KAFKA_SASL_PASSWORD: 'not-the-password' }, 2, /\[CONFIG_INVALID\] Kafka at .* refused the SASL credentials of user "consentgate" \(scram-sha-512\): .*authentication failed.* — check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/i],
    ['untrusted broker CA', { KAFKA_SSL_CA_FILE: other }, 2, /\[CONFIG_INVALID\] Kafka at .*: its certificate is not signed by a CA this client trusts \(.*\) — set KAFKA_SSL_CA_FILE/],
    ['wrong registry password', { SCHEMA_REGISTRY_PASSWORD: 'not-the-password' }, 2, /\[CONFIG_INVALID\] the schema registry at https:.* refused the credentials \(401\): set SCHEMA_REGISTRY_USERNAME and SCHEMA_REGISTRY_PASSWORD/],
    ['untrusted registry CA', { SCHEMA_REGISTRY_CA_FILE: other }, 2, /\[CONFIG_INVALID\] the schema registry at https:.*: its certificate is not signed by a CA this client trusts .* — set SCHEMA_REGISTRY_CA_FILE/],
    ['plaintext to the TLS listener', { KAFKA_SSL: 'false', KAFKA_SSL_CA_FILE: '' }, 1, /\[KAFKA_UNAVAILABLE\] cannot reach Kafka at .* within 4 s: .* — does its listener take TLS \(KAFKA_SSL=true\)\?/],
  ];
  for (const [what, change, code, message] of cases) {
    const t0 = Date.now();
    const r = await run({ ...base, ...change }).exited;
    assert.equal(r.code, code, `${what}: ${r.stderr}`);
    assert.match(r.stderr, message, what);
    assert.ok(Date.now() - t0 < 20_000, `${what}: failed within seconds, not after retries (${Date.now() - t0} ms)`);
  }
});
