import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureKafkaLibs, ensureRegistryDist } from './maven.ts';
import { findJava } from './java.ts';
import { freePort, isAlive, portAnswers, startService, stopService, waitUntil } from './process.ts';
import { APICURIO_MIN_JAVA, APICURIO_VERSION, KAFKA_VERSION } from './versions.ts';

/** A running local stack: what clients need to reach it, and the pids to stop. */
export interface LocalStack {
  brokers: string;
  registryUrl: string;
  kafkaPid: number;
  registryPid: number;
  dir: string;
  versions: { kafka: string; registry: string };
}

export interface StartOptions {
  /** Working folder for data and logs (created). */
  dir: string;
  /** Keep the services running after this process exits (`consentgate dev up`). */
  detached: boolean;
  log?: (msg: string) => void;
}

const JVM_FLAGS = ['-server', '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35', '-Djava.awt.headless=true'];

function serverProperties(dataDir: string, port: number, controllerPort: number): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'inter.broker.listener.name=PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
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

async function startKafka(dir: string, detached: boolean, log: (m: string) => void) {
  const libs = await ensureKafkaLibs(log);
  const java = findJava(17);
  const [port, controllerPort] = [await freePort(), await freePort()];
  const dataDir = join(dir, 'kafka-data');
  mkdirSync(dataDir, { recursive: true });
  const props = join(dir, 'server.properties');
  writeFileSync(props, serverProperties(dataDir, port, controllerPort));
  const log4j = join(dir, 'log4j2.yaml');
  writeFileSync(log4j, LOG4J2);
  const cp = ['-cp', `${libs}/*`, `-Dlog4j2.configurationFile=${log4j}`];
  // 16 random bytes as base64url; one starting with '-' would be read as an option by the storage tool.
  let clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
  const logFile = join(dir, 'kafka.log');
  const format = startService(java, [...cp, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props], { cwd: dir, logFile, detached: false });
  await waitUntil('kafka storage format', async () => !isAlive(format), { timeoutMs: 60_000, alive: () => true, logFile });
  if (!existsSync(join(dataDir, 'meta.properties'))) throw new Error(`formatting Kafka storage failed; see ${logFile}`);
  const launch = () => startService(java, ['-Xms256m', '-Xmx1g', ...JVM_FLAGS, ...cp, 'kafka.Kafka', props], { cwd: dir, logFile, detached });
  return { pid: launch(), port, logFile, launch };
}

async function startRegistry(dir: string, detached: boolean, log: (m: string) => void, fixedPort?: number, storageDir?: string) {
  const dist = await ensureRegistryDist(log);
  const java = findJava(APICURIO_MIN_JAVA);
  const [port, managementPort] = [fixedPort ?? await freePort(), await freePort()];
  const logFile = join(dir, 'registry.log');
  const args = [
    '-Xms128m', '-Xmx512m', ...JVM_FLAGS,
    `-Dquarkus.http.port=${port}`, '-Dquarkus.http.host=127.0.0.1',
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

async function httpOk(url: string): Promise<boolean> {
  const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return res.ok;
}

/**
 * Starts Apache Kafka (KRaft, one combined node) and Apicurio Registry on free 127.0.0.1 ports, fetching their jars
 * from Maven Central on first use, and waits until both answer.
 */
export async function startLocalStack(opts: StartOptions): Promise<LocalStack> {
  const log = opts.log ?? (() => {});
  mkdirSync(opts.dir, { recursive: true });
  const [kafka, registry] = await Promise.all([startKafka(opts.dir, opts.detached, log), startRegistry(opts.dir, opts.detached, log)]);
  const registryUrl = `http://127.0.0.1:${registry.port}/apis/ccompat/v7`;
  try {
    await Promise.all([
      waitUntil('Kafka broker', () => portAnswers(kafka.port), { timeoutMs: 120_000, alive: () => isAlive(kafka.pid), logFile: kafka.logFile }),
      waitUntil('schema registry', () => httpOk(`${registryUrl}/subjects`), { timeoutMs: 180_000, alive: () => isAlive(registry.pid), logFile: registry.logFile }),
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
    await waitUntil('schema registry', () => httpOk(`${url}/subjects`), { timeoutMs: 180_000, alive: () => isAlive(r.pid), logFile: r.logFile });
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
