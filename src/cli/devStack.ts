import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cacheRoot } from '../devstack/maven.ts';
import { isAlive } from '../devstack/process.ts';
import { startLocalStack, stopLocalStack, type LocalStack } from '../devstack/localStack.ts';

const stateDir = () => join(cacheRoot(), 'dev');
const stateFile = () => join(stateDir(), 'stack.json');

export function envLines(s: Pick<LocalStack, 'brokers' | 'registryUrl'>): string {
  return `KAFKA_BROKERS=${s.brokers}\nSCHEMA_REGISTRY_URL=${s.registryUrl}`;
}

function running(): LocalStack | undefined {
  if (!existsSync(stateFile())) return undefined;
  const s = JSON.parse(readFileSync(stateFile(), 'utf8')) as LocalStack;
  return isAlive(s.kafkaPid) && isAlive(s.registryPid) ? s : undefined;
}

/** `consentgate dev up`: starts Kafka + registry in the background (or finds them running) and prints env lines. */
export async function devUp(): Promise<void> {
  let s = running();
  if (!s) {
    const old = existsSync(stateFile()) ? (JSON.parse(readFileSync(stateFile(), 'utf8')) as LocalStack) : undefined;
    if (old) await stopLocalStack(old);
    rmSync(stateDir(), { recursive: true, force: true });
    mkdirSync(stateDir(), { recursive: true });
    s = await startLocalStack({ dir: stateDir(), detached: true, log: (m) => console.error(m) });
    writeFileSync(stateFile(), JSON.stringify(s, null, 2));
    console.error(`started Apache Kafka ${s.versions.kafka} and ${s.versions.registry} (logs in ${s.dir})`);
  } else {
    console.error(`already running (logs in ${s.dir})`);
  }
  console.log(envLines(s));
}

/** `consentgate dev down`: stops what `dev up` started and removes its data. */
export async function devDown(): Promise<void> {
  if (!existsSync(stateFile())) {
    console.error('no local stack is running');
    return;
  }
  const s = JSON.parse(readFileSync(stateFile(), 'utf8')) as LocalStack;
  await stopLocalStack(s);
  rmSync(stateDir(), { recursive: true, force: true });
  console.error('stopped');
}
