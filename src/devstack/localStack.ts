import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkRegistry } from '../adapters/preflight.ts';
import { ensureKafkaLibs, ensureRegistryDist } from './maven.ts';
import { findJava } from './java.ts';
import { freePort, isAlive, portAnswers, startService, stopService, waitUntil } from './process.ts';
import { makeCertificates, type Certificates } from './tls.ts';
import { APICURIO_MIN_JAVA, APICURIO_VERSION, KAFKA_VERSION } from './versions.ts';

/** A running local stack: what clients need to reach it, and the pids to stop. */
export interface LocalStack {
  brokers: string;
  registryUrl: string;
  kafkaPid: number;
  registryPid: number;
  dir: string;
  versions: { kafka: string; registry: string };
  /** Set when started with `secure`: what a client needs besides the addresses. */
  secure?: SecureAccess;
}

/**
 * A secured stack's client side: the broker takes SASL/SCRAM-SHA-512 over TLS only, the registry HTTPS with basic
 * auth only; both certificates are signed by the CA in `caFile`.
 */
export interface SecureAccess {
  caFile: string;
  kafkaUser: string;
  kafkaPassword: string;
  registryUser: string;
  registryPassword: string;
}

/** The client settings of a stack, as environment variables (what `dev up` prints). */
export function stackEnv(s: Pick<LocalStack, 'brokers' | 'registryUrl' | 'secure'>): Record<string, string> {
  const env: Record<string, string> = { KAFKA_BROKERS: s.brokers, SCHEMA_REGISTRY_URL: s.registryUrl };
  if (!s.secure) return env;
  return {
    ...env,
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: s.secure.caFile,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: s.secure.kafkaUser,
    KAFKA_SASL_PASSWORD: s.secure.kafkaPassword,
    SCHEMA_REGISTRY_CA_FILE: s.secure.caFile,
    SCHEMA_REGISTRY_USERNAME: s.secure.registryUser,
    SCHEMA_REGISTRY_PASSWORD: s.secure.registryPassword,
  };
}

/** Every variable `stackEnv` may set (what `dev down` removes again). */
export const STACK_ENV_KEYS = Object.keys(stackEnv({ brokers: '', registryUrl: '', secure: { caFile: '', kafkaUser: '', kafkaPassword: '', registryUser: '', registryPassword: '' } }));

export interface StartOptions {
  /** Working folder for data and logs (created). */
  dir: string;
  /** Keep the services running after this process exits (`consentgate dev up`). */
  detached: boolean;
  log?: (msg: string) => void;
  /** TLS and authentication on every client-facing port (certificates made with openssl into `dir`/tls). */
  secure?: boolean;
}

/** What the services of a secured stack are started with (the passwords are random, per stack). */
interface Secrets extends SecureAccess {
  certificates: Certificates;
  brokerPassword: string;
}

function makeSecrets(dir: string): Secrets {
  const certificates = makeCertificates(join(dir, 'tls'));
  // base64url: nothing to escape in JAAS quotes or the storage tool's SCRAM argument.
  const password = () => randomBytes(18).toString('base64url');
  return {
    certificates, caFile: certificates.caFile, brokerPassword: password(),
    kafkaUser: 'consentgate', kafkaPassword: password(), registryUser: 'consentgate', registryPassword: password(),
  };
}

const JVM_FLAGS = ['-server', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35', '-Djava.awt.headless=true'];

function serverProperties(dataDir: string, port: number, controllerPort: number, secrets?: Secrets): string {
  // Secured: the one client listener (also the brokers' own) takes SCRAM over TLS; the KRaft controller listener
  // stays plaintext on the loopback interface (it serves the controller protocol only).
  const listener = secrets ? 'SASL_SSL' : 'PLAINTEXT';
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=${listener}://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=${listener}://127.0.0.1:${port}`,
    `inter.broker.listener.name=${listener}`,
    'controller.listener.names=CONTROLLER',
    `listener.security.protocol.map=CONTROLLER:PLAINTEXT,${listener}:${listener}`,
    ...(secrets ? [
      'sasl.enabled.mechanisms=SCRAM-SHA-512',
      'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
      `listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="broker" password="${secrets.brokerPassword}";`,
      'ssl.keystore.type=PEM',
      `ssl.keystore.location=${secrets.certificates.keystoreFile}`,
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${secrets.caFile}`,
    ] : []),
    `log.dirs=${dataDir}`,
    'num.partitions=1',
    'auto.create.topics.enable=false',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=6',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=6',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    // Let tests observe compaction of consent.state without waiting for the production defaults.
    'log.cleaner.backoff.ms=1000',
    '',
  ].join('\n');
}

const LOG4J2 = `Configuration:
  status: warn
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: WARN
      AppenderRef:
        - ref: STDOUT
`;

async function startKafka(dir: string, detached: boolean, log: (m: string) => void, secrets?: Secrets) {
  const libs = await ensureKafkaLibs(log);
  const java = findJava(17);
  const [port, controllerPort] = [await freePort(), await freePort()];
  const dataDir = join(dir, 'kafka-data');
  mkdirSync(dataDir, { recursive: true });
  const props = join(dir, 'server.properties');
  writeFileSync(props, serverProperties(dataDir, port, controllerPort, secrets), { mode: 0o600 });
  const log4j = join(dir, 'log4j2.yaml');
  writeFileSync(log4j, LOG4J2);
  const cp = ['-cp', `${libs}/*`, `-Dlog4j2.configurationFile=${log4j}`];
  // 16 random bytes as base64url; one starting with '-' would be read as an option by the storage tool.
  let clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
  const logFile = join(dir, 'kafka.log');
  // In KRaft, SCRAM users are created when the storage is formatted.
  const users = secrets ? [['broker', secrets.brokerPassword], [secrets.kafkaUser, secrets.kafkaPassword]].flatMap(([name, password]) => ['--add-scram', `SCRAM-SHA-512=[name=${name},password=${password}]`]) : [];
  const format = startService(java, [...cp, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props, ...users], { cwd: dir, logFile, detached: false });
  await waitUntil('kafka storage format', async () => !isAlive(format), { timeoutMs: 60_000, alive: () => true, logFile });
  if (!existsSync(join(dataDir, 'meta.properties'))) throw new Error(`formatting Kafka storage failed; see ${logFile}`);
  const launch = () => startService(java, ['-Xms256m', '-Xmx1g', ...JVM_FLAGS, ...cp, 'kafka.Kafka', props], { cwd: dir, logFile, detached });
  return { pid: launch(), port, logFile, launch };
}

async function startRegistry(dir: string, detached: boolean, log: (m: string) => void, fixedPort?: number, storageDir?: string, secrets?: Secrets) {
  const dist = await ensureRegistryDist(log);
  const java = findJava(APICURIO_MIN_JAVA);
  const [port, managementPort, plainPort] = [fixedPort ?? await freePort(), await freePort(), await freePort()];
  const logFile = join(dir, 'registry.log');
  // Quarkus reads config/application.properties in its working directory: the secrets stay off the command line.
  if (secrets) writeRegistrySecurity(dir, secrets);
  const args = [
    '-Xms128m', '-Xmx512m', ...JVM_FLAGS,
    ...(secrets ? [`-Dquarkus.http.ssl-port=${port}`, `-Dquarkus.http.port=${plainPort}`] : [`-Dquarkus.http.port=${port}`]),
    '-Dquarkus.http.host=127.0.0.1',
    // Quarkus' management interface defaults to 0.0.0.0:9000: a second stack on the machine would fail to bind it.
    `-Dquarkus.management.port=${managementPort}`, '-Dquarkus.management.host=127.0.0.1',
    '-Dquarkus.http.access-log.enabled=false', '-Dquarkus.log.level=WARN',
    // The schema-registry client reads /config/{subject} before registering and rejects Apicurio's "NONE".
    '-Dapicurio.rules.global.compatibility=BACKWARD',
    // In memory by default; in an H2 file when given a storage directory (its schemas survive a restart).
    ...(storageDir ? [`-Dapicurio.datasource.url=jdbc:h2:file:${join(storageDir, 'registry-db')};WRITE_DELAY=0`] : []),
    '-jar', join(dist, 'quarkus-run.jar'),
  ];
  const pid = startService(java, args, { cwd: dir, logFile, detached });
  return { pid, port, logFile };
}

/** HTTPS only, every path behind basic auth (Quarkus' embedded user store; Apicurio's own auth needs an OIDC server). */
function writeRegistrySecurity(dir: string, secrets: Secrets): void {
  mkdirSync(join(dir, 'config'), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'config', 'application.properties'), [
    'quarkus.http.insecure-requests=disabled',
    `quarkus.http.ssl.certificate.files=${secrets.certificates.certFile}`,
    `quarkus.http.ssl.certificate.key-files=${secrets.certificates.keyFile}`,
    'quarkus.http.auth.basic=true',
    'quarkus.http.auth.permission.all.paths=/*',
    'quarkus.http.auth.permission.all.policy=authenticated',
    'quarkus.security.users.embedded.enabled=true',
    'quarkus.security.users.embedded.plain-text=true',
    `quarkus.security.users.embedded.users.${secrets.registryUser}=${secrets.registryPassword}`,
    `quarkus.security.users.embedded.roles.${secrets.registryUser}=sr-admin`,
    '',
  ].join('\n'), { mode: 0o600 });
}

/** True once the registry serves its API (to the secured stack's user, over TLS). */
async function registryAnswers(url: string, secure?: SecureAccess): Promise<boolean> {
  await checkRegistry({ url, ...(secure ? { username: secure.registryUser, password: secure.registryPassword, caFile: secure.caFile } : {}) }, 2000);
  return true;
}

/**
 * Starts Apache Kafka (KRaft, one combined node) and Apicurio Registry on free 127.0.0.1 ports, fetching their jars
 * from Maven Central on first use, and waits until both answer.
 */
export async function startLocalStack(opts: StartOptions): Promise<LocalStack> {
  const log = opts.log ?? (() => {});
  mkdirSync(opts.dir, { recursive: true });
  const secrets = opts.secure ? makeSecrets(opts.dir) : undefined;
  const [kafka, registry] = await Promise.all([startKafka(opts.dir, opts.detached, log, secrets), startRegistry(opts.dir, opts.detached, log, undefined, undefined, secrets)]);
  const registryUrl = `${secrets ? 'https' : 'http'}://127.0.0.1:${registry.port}/apis/ccompat/v7`;
  const secure = secrets && { caFile: secrets.caFile, kafkaUser: secrets.kafkaUser, kafkaPassword: secrets.kafkaPassword, registryUser: secrets.registryUser, registryPassword: secrets.registryPassword };
  try {
    await Promise.all([
      waitUntil('Kafka broker', () => portAnswers(kafka.port), { timeoutMs: 120_000, alive: () => isAlive(kafka.pid), logFile: kafka.logFile }),
      waitUntil('schema registry', () => registryAnswers(registryUrl, secure), { timeoutMs: 180_000, alive: () => isAlive(registry.pid), logFile: registry.logFile }),
    ]);
  } catch (err) {
    await Promise.all([stopService(kafka.pid), stopService(registry.pid)]);
    throw err;
  }
  return {
    brokers: `127.0.0.1:${kafka.port}`,
    registryUrl,
    kafkaPid: kafka.pid,
    registryPid: registry.pid,
    dir: opts.dir,
    versions: { kafka: KAFKA_VERSION, registry: `Apicurio Registry ${APICURIO_VERSION}` },
    ...(secure ? { secure } : {}),
  };
}

/**
 * An Apicurio Registry of its own on `port` (default: a free one), its schemas kept in `dir` (so a registry started
 * again on the same directory has them), answering when this resolves; for tests that kill and restart a registry
 * without touching the shared one.
 */
export async function startLocalRegistry(opts: { dir: string; port?: number }): Promise<{ pid: number; port: number; url: string }> {
  mkdirSync(opts.dir, { recursive: true });
  const r = await startRegistry(opts.dir, false, () => {}, opts.port, opts.dir);
  const url = `http://127.0.0.1:${r.port}/apis/ccompat/v7`;
  try {
    await waitUntil('schema registry', () => registryAnswers(url), { timeoutMs: 180_000, alive: () => isAlive(r.pid), logFile: r.logFile });
  } catch (err) {
    await stopService(r.pid);
    throw err;
  }
  return { pid: r.pid, port: r.port, url };
}

/**
 * A Kafka broker of its own (KRaft, one node) for tests that kill it: `restart` starts it again on the same
 * port and data (what it had committed is there).
 */
export async function startLocalKafka(opts: { dir: string }): Promise<{ brokers: string; pid(): number; restart(): Promise<void>; stop(): Promise<void> }> {
  mkdirSync(opts.dir, { recursive: true });
  const k = await startKafka(opts.dir, false, () => {});
  let pid = k.pid;
  const answering = () => waitUntil('Kafka broker', () => portAnswers(k.port), { timeoutMs: 120_000, alive: () => isAlive(pid), logFile: k.logFile });
  await answering();
  return {
    brokers: `127.0.0.1:${k.port}`,
    pid: () => pid,
    restart: async () => {
      pid = k.launch();
      await answering();
    },
    stop: () => stopService(pid),
  };
}

export async function stopLocalStack(stack: Pick<LocalStack, 'kafkaPid' | 'registryPid'>): Promise<void> {
  await Promise.all([stopService(stack.kafkaPid), stopService(stack.registryPid)]);
}
