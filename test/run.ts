// `npm test`: one Kafka broker and one schema registry for the whole run, then every test file against them.
// Uses KAFKA_BROKERS/SCHEMA_REGISTRY_URL when set, containers when a container runtime answers, else the local stack.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalStack, stopLocalStack } from '../src/devstack/localStack.ts';
import { startContainerStack } from './harness/containers.ts';

const here = import.meta.dirname;
const files = ['unit', 'topology', 'integration', '.'].flatMap((dir) =>
  readdirSync(join(here, dir)).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join('test', dir, f)));

async function stack(): Promise<{ env: Record<string, string>; stop: () => Promise<void> }> {
  if (process.env.KAFKA_BROKERS && process.env.SCHEMA_REGISTRY_URL) {
    console.log(`using KAFKA_BROKERS=${process.env.KAFKA_BROKERS} SCHEMA_REGISTRY_URL=${process.env.SCHEMA_REGISTRY_URL}`);
    return { env: {}, stop: async () => {} };
  }
  const containers = await startContainerStack();
  if (containers) return containers;
  console.log('no container runtime: starting the local Kafka + Apicurio stack (jars from Maven Central, cached in .cache/)');
  const s = await startLocalStack({ dir: mkdtempSync(join(tmpdir(), 'consentgate-test-')), detached: false, log: console.log });
  console.log(`Kafka ${s.versions.kafka} at ${s.brokers}; ${s.versions.registry} at ${s.registryUrl}`);
  return { env: { KAFKA_BROKERS: s.brokers, SCHEMA_REGISTRY_URL: s.registryUrl }, stop: () => stopLocalStack(s) };
}

const s = await stack();
const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-timeout=600000', '--test-force-exit', ...files], {
  stdio: 'inherit',
  env: { ...process.env, ...s.env },
});
const code: number = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0))));
await s.stop();
process.exit(code);
