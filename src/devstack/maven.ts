import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { APICURIO_VERSION, DEPENDENCY_PLUGIN, KAFKA_VERSION, LOG4J_VERSION } from './versions.ts';

const exec = promisify(execFile);

/** Where downloaded jars live; shared by `dev up`, the tests and the demo. Ignored by git. */
export function cacheRoot(): string {
  return process.env.CONSENTGATE_CACHE ?? join(process.cwd(), '.cache');
}

function kafkaPom(): string {
  const dep = (g: string, a: string, v: string) =>
    `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.consentgate</groupId><artifactId>local-kafka</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
    ${dep('org.apache.kafka', 'kafka_2.13', KAFKA_VERSION)}
    ${dep('org.apache.logging.log4j', 'log4j-api', LOG4J_VERSION)}
    ${dep('org.apache.logging.log4j', 'log4j-core', LOG4J_VERSION)}
    ${dep('org.apache.logging.log4j', 'log4j-slf4j-impl', LOG4J_VERSION)}
  </dependencies>
</project>
`;
}

async function mvn(args: string[], cwd: string): Promise<void> {
  try {
    await exec('mvn', ['-q', '-B', ...args], { cwd, maxBuffer: 32 * 1024 * 1024 });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`mvn ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

/** Fetches Apache Kafka and a log4j2 binding (once); returns the folder of jars for `-cp <dir>/*`. */
export async function ensureKafkaLibs(log: (msg: string) => void = () => {}): Promise<string> {
  const dir = join(cacheRoot(), `kafka-${KAFKA_VERSION}`);
  const libs = join(dir, 'libs');
  if (existsSync(join(libs, `kafka_2.13-${KAFKA_VERSION}.jar`))) return libs;
  log(`fetching Apache Kafka ${KAFKA_VERSION} from Maven Central into ${dir}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'pom.xml'), kafkaPom());
  const tmp = join(dir, 'libs.partial');
  rmSync(tmp, { recursive: true, force: true });
  await mvn([`${DEPENDENCY_PLUGIN}:copy-dependencies`, '-DincludeScope=runtime', `-DoutputDirectory=${tmp}`], dir);
  renameSync(tmp, libs);
  return libs;
}

/** Fetches and unpacks the Apicurio Registry distribution (once); returns the folder holding quarkus-run.jar. */
export async function ensureRegistryDist(log: (msg: string) => void = () => {}): Promise<string> {
  const dir = join(cacheRoot(), `apicurio-registry-${APICURIO_VERSION}`);
  if (existsSync(join(dir, 'quarkus-run.jar'))) return dir;
  log(`fetching Apicurio Registry ${APICURIO_VERSION} from Maven Central into ${dir}`);
  const artifact = `io.apicurio:apicurio-registry-app:${APICURIO_VERSION}:tar.gz:all`;
  mkdirSync(cacheRoot(), { recursive: true });
  await mvn([`${DEPENDENCY_PLUGIN}:get`, `-Dartifact=${artifact}`, '-Dtransitive=false'], cacheRoot());
  const repo = process.env.MAVEN_REPO ?? join(homedir(), '.m2', 'repository');
  const tarball = join(repo, 'io/apicurio/apicurio-registry-app', APICURIO_VERSION,
    `apicurio-registry-app-${APICURIO_VERSION}-all.tar.gz`);
  const tmp = `${dir}.partial`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await exec('tar', ['xzf', tarball, '-C', tmp]);
  const runJar = readdirSync(tmp).includes('quarkus-run.jar');
  if (!runJar) throw new Error(`${tarball} has no quarkus-run.jar at its top level`);
  renameSync(tmp, dir);
  return dir;
}
