import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigSchema } from '../config.ts';
import { cacheRoot } from '../devstack/maven.ts';
import { isAlive } from '../devstack/process.ts';
import { STACK_ENV_KEYS, stackEnv, startLocalStack, stopLocalStack, type LocalStack } from '../devstack/localStack.ts';
import { ConsentgateError } from '../errors.ts';
import { devEnvFile, removeEnvLines, sourceHint, stopSimulator, writeEnvLines } from './devEnv.ts';

const stateDir = () => join(cacheRoot(), 'dev');
const stateFile = () => join(stateDir(), 'stack.json');

export function envLines(s: Pick<LocalStack, 'brokers' | 'registryUrl' | 'secure'>): string {
  return Object.entries(stackEnv(s)).map(([k, v]) => `${k}=${v}`).join('\n');
}

function running(): LocalStack | undefined {
  if (!existsSync(stateFile())) return undefined;
  const s = JSON.parse(readFileSync(stateFile(), 'utf8')) as LocalStack;
  return isAlive(s.kafkaPid) && isAlive(s.registryPid) ? s : undefined;
}

/**
 * `consentgate dev up`: starts Kafka + registry in the background (or finds them running), prints env lines and
 * writes them to .consentgate/dev.env. `secure`: TLS and SCRAM/basic-auth users on both (see startLocalStack).
 */
export async function devUp(o: { secure?: boolean } = {}): Promise<void> {
  let s = running();
  if (s && !s.secure !== !o.secure) {
    throw new ConsentgateError('CONFIG_INVALID', `a local stack ${s.secure ? 'with' : 'without'} TLS and authentication is running already; stop it with \`consentgate dev down\` first`);
  }
  if (!s) {
    const old = existsSync(stateFile()) ? (JSON.parse(readFileSync(stateFile(), 'utf8')) as LocalStack) : undefined;
    if (old) await stopLocalStack(old);
    rmSync(stateDir(), { recursive: true, force: true });
    mkdirSync(stateDir(), { recursive: true });
    s = await startLocalStack({ dir: stateDir(), detached: true, secure: o.secure, log: (m) => console.error(m) });
    writeFileSync(stateFile(), JSON.stringify(s, null, 2), { mode: 0o600 });
    console.error(`started Apache Kafka ${s.versions.kafka} and ${s.versions.registry}${s.secure ? ' with TLS (CA in ' + s.secure.caFile + ') and SCRAM-SHA-512 / basic-auth users' : ''} (logs in ${s.dir})`);
  } else {
    console.error(`already running (logs in ${s.dir})`);
  }
  writeEnvLines(devEnvFile(), envLines(s).split('\n'));
  console.error(`wrote ${devEnvFile()} (${sourceHint('.consentgate/dev.env')})`);
  console.log(envLines(s));
}

/**
 * `consentgate dev down`: stops what `dev up` and a background `simulate genesys` started and deletes their data,
 * with the embedded key store (its data keys belong to the records just deleted); the DPIA store stays.
 */
export async function devDown(): Promise<void> {
  if (await stopSimulator()) console.error('stopped the Genesys simulator');
  if (existsSync(stateFile())) {
    const s = JSON.parse(readFileSync(stateFile(), 'utf8')) as LocalStack;
    await stopLocalStack(s);
    rmSync(stateDir(), { recursive: true, force: true });
    console.error('stopped Kafka and the schema registry and deleted their data');
  } else {
    console.error('no local stack is running');
  }
  removeEnvLines(devEnvFile(), STACK_ENV_KEYS);
  // Only a directory PGlite made (PG_VERSION in it) is deleted, never the working directory or one above it.
  const keyStore = resolve(process.env.CONSENTGATE_KEYSTORE_DIR || ConfigSchema.shape.keyStoreDir.parse(undefined));
  if (existsSync(join(keyStore, 'PG_VERSION')) && !process.cwd().startsWith(keyStore)) {
    rmSync(keyStore, { recursive: true, force: true });
    console.error(`deleted the embedded key store ${keyStore}`);
  }
  const dpia = resolve(process.env.CONSENTGATE_DPIA_DIR || ConfigSchema.shape.dpiaStoreDir.parse(undefined));
  if (existsSync(dpia)) console.error(`kept the DPIA store ${dpia} (approvals and the audit trail; delete it by hand if you mean to)`);
}
