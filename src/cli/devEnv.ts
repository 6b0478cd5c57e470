// `.consentgate/` in the working directory: dev.env (the KEY=value lines of the local stack and the simulator, which
// any later shell sources) and simulator.json (the background simulator, so `simulate stop` and `dev down` find it).
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../devstack/process.ts';

export const devDir = () => join(process.cwd(), '.consentgate');
export const devEnvFile = () => join(devDir(), 'dev.env');
const simulatorFile = () => join(devDir(), 'simulator.json');

/** The env file's lines (KEY=value) other than those of `keys`. */
function linesWithout(file: string, keys: string[]): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() && !keys.includes(l.split('=', 1)[0]!));
}

/** Sets `lines` (KEY=value) in the env file, replacing earlier lines of the same keys and keeping the others. */
export function writeEnvLines(file: string, lines: string[]): void {
  const kept = linesWithout(file, lines.map((l) => l.split('=', 1)[0]!));
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, [...kept, ...lines].join('\n') + '\n');
  chmodSync(file, 0o600); // it may hold passwords (dev up --secure)
}

/** Drops the lines of `keys` from the env file; deletes it when nothing is left. */
export function removeEnvLines(file: string, keys: string[]): void {
  if (!existsSync(file)) return;
  const kept = linesWithout(file, keys);
  if (kept.length) writeFileSync(file, kept.join('\n') + '\n');
  else rmSync(file);
}

export const sourceHint = (file: string) => `in another shell: set -a; . ${file}; set +a`;

export interface SimulatorRecord {
  pid: number;
  baseUrl: string;
  envFile?: string;
}

export function recordSimulator(r: SimulatorRecord): void {
  mkdirSync(devDir(), { recursive: true });
  writeFileSync(simulatorFile(), JSON.stringify(r));
}

export function runningSimulator(): SimulatorRecord | undefined {
  if (!existsSync(simulatorFile())) return undefined;
  return JSON.parse(readFileSync(simulatorFile(), 'utf8')) as SimulatorRecord;
}

/** Forgets the simulator, if `pid` is the one recorded. */
export function forgetSimulator(pid: number): void {
  if (runningSimulator()?.pid === pid) rmSync(simulatorFile(), { force: true });
}

/** Stops the recorded background simulator (SIGTERM, waiting up to 5 s); says whether there was one. */
export async function stopSimulator(): Promise<boolean> {
  const r = runningSimulator();
  if (!r) return false;
  try {
    process.kill(r.pid, 'SIGTERM');
  } catch {
    rmSync(simulatorFile(), { force: true }); // it is gone already
    return false;
  }
  for (let i = 0; i < 50 && isAlive(r.pid); i++) await new Promise((res) => setTimeout(res, 100));
  rmSync(simulatorFile(), { force: true });
  if (r.envFile) removeEnvLines(r.envFile, ['GENESYS_BASE_URL', 'GENESYS_CLIENT_ID', 'GENESYS_CLIENT_SECRET']);
  return true;
}

