import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { GenesysSimulator } from '../simulator/index.ts';
import { devDir, forgetSimulator, recordSimulator, sourceHint, writeEnvLines } from './devEnv.ts';

export interface SimulateArgs {
  port: number;
  host: string;
  publicHost?: string;
  seed: number;
  traffic: number;
  customers: number;
  timeScale: number;
  eventBridgeUrl?: string;
  /** Also write the GENESYS_* lines into this env file (replacing earlier ones); `simulate stop` removes them. */
  envFile?: string;
}

/** `consentgate simulate genesys`: runs the simulator (and optional traffic) until SIGINT/SIGTERM. */
export async function simulateGenesys(a: SimulateArgs): Promise<void> {
  const sim = await GenesysSimulator.start({
    port: a.port, host: a.host, ...(a.publicHost ? { publicHost: a.publicHost } : {}), seed: a.seed, timeScale: a.timeScale, publishedHistoryLimit: 10_000,
    ...(a.eventBridgeUrl ? { eventBridge: { url: a.eventBridgeUrl } } : {}),
  });
  const lines = [`GENESYS_BASE_URL=${sim.baseUrl}`, `GENESYS_CLIENT_ID=${sim.clientId}`, `GENESYS_CLIENT_SECRET=${sim.clientSecret}`];
  if (a.envFile) writeEnvLines(a.envFile, lines);
  recordSimulator({ pid: process.pid, baseUrl: sim.baseUrl, ...(a.envFile ? { envFile: a.envFile } : {}) });
  await new Promise<void>((resolve) => process.stdout.write(lines.join('\n') + '\n', () => resolve()));
  if (!process.stdout.isTTY) releaseStdout();
  console.error(`genesys simulator listening on ${sim.baseUrl} (pid ${process.pid}, seed ${a.seed}, time scale ${a.timeScale}); stop with \`consentgate simulate stop\` or SIGTERM${a.envFile ? `; ${sourceHint(a.envFile)}` : ''}`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await sim.close();
    forgetSimulator(process.pid);
    console.error(`genesys simulator stopped: ${JSON.stringify(sim.stats)}`);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());

  const first = await sim.traffic({ seed: a.seed, customers: a.customers, conversations: 0, consentChanges: 0 });
  if (a.customers) console.error(`created ${first.contactIds.length} external contacts`);
  // Batches of about a minute each, with fresh seeds, so traffic runs until stopped without unbounded summaries.
  for (let batch = 1; a.traffic > 0 && !stopping; batch++) {
    const conversations = Math.max(1, Math.round(a.traffic * 25));
    await sim.traffic({ seed: a.seed + batch * 7919, customers: 0, contactIds: first.contactIds, conversations, consentChanges: Math.ceil(conversations / 5), perSecond: a.traffic });
  }
  // Keep serving until a signal arrives.
  await new Promise<never>(() => setInterval(() => {}, 1 << 30));
}

/** Ends the reader's `$(…)` by closing stdout; /dev/null takes fd 1 so that no later file or socket lands on it. */
function releaseStdout(): void {
  process.stdout.on('error', () => {});
  closeSync(1);
  openSync('/dev/null', 'w');
}

/**
 * `simulate genesys --background`: the same command in a detached process (stderr to .consentgate/simulator.log);
 * returns once it serves, having printed its three lines, so the next command can rely on them (no `&` race).
 */
export async function inBackground(args: string[]): Promise<void> {
  mkdirSync(devDir(), { recursive: true });
  const log = join(devDir(), 'simulator.log');
  const err = openSync(log, 'a');
  const child = spawn(process.execPath, [process.argv[1]!, ...args], { detached: true, stdio: ['ignore', 'pipe', err] });
  closeSync(err);
  let out = '';
  for await (const chunk of child.stdout!) {
    out += chunk;
    if (out.split('\n').length > 3) break;
  }
  if (out.split('\n').length <= 3) throw Object.assign(new Error(`the simulator did not start: see ${log}`), { code: 'SIMULATOR_FAILED' });
  child.stdout!.destroy();
  child.unref();
  process.stdout.write(out);
  console.error(`genesys simulator running in the background (pid ${child.pid}, log ${log}); stop it with \`consentgate simulate stop\``);
}
