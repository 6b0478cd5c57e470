import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';

function majorOf(javaHome: string): number {
  try {
    const release = readFileSync(join(javaHome, 'release'), 'utf8');
    const m = /JAVA_VERSION="(\d+)(?:\.(\d+))?/.exec(release);
    if (!m) return 0;
    return m[1] === '1' ? Number(m[2]) : Number(m[1]);
  } catch {
    return 0;
  }
}

function defaultJavaHome(): string | undefined {
  try {
    const which = execFileSync('sh', ['-c', 'command -v java'], { encoding: 'utf8' }).trim();
    return dirname(dirname(realpathSync(which)));
  } catch {
    return undefined;
  }
}

/**
 * Finds a `java` binary of at least `minMajor`: `$JAVA_HOME`, the default `java`, then its sibling JDKs
 * (e.g. a Temurin JDK next to the system OpenJDK in /usr/lib/jvm).
 */
export function findJava(minMajor: number): string {
  const candidates: string[] = [];
  if (process.env.CONSENTGATE_JAVA_HOME) candidates.push(process.env.CONSENTGATE_JAVA_HOME);
  if (process.env.JAVA_HOME) candidates.push(process.env.JAVA_HOME);
  const home = defaultJavaHome();
  if (home) {
    candidates.push(home);
    const jvmDir = dirname(home);
    if (existsSync(jvmDir)) for (const d of readdirSync(jvmDir).sort().reverse()) candidates.push(join(jvmDir, d));
  }
  for (const c of candidates) {
    const bin = join(c, 'bin', 'java');
    if (existsSync(bin) && majorOf(c) >= minMajor) return bin;
  }
  throw new Error(
    `no Java ${minMajor}+ found (looked at ${candidates.join(', ') || 'nothing'}); ` +
      `install one or point CONSENTGATE_JAVA_HOME at it`,
  );
}
