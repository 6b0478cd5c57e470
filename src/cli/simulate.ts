import { closeSync, openSync } from 'node:fs';
import { GenesysSimulator } from '../simulator/index.ts';

export interface SimulateArgs {
  port: number;
  seed: number;
  traffic: number;
  customers: number;
  timeScale: number;
  eventBridgeUrl?: string;
}

/** `consentgate simulate genesys`: runs the simulator (and optional traffic) until SIGINT/SIGTERM. */
export async function simulateGenesys(a: SimulateArgs): Promise<void> {
  const sim = await GenesysSimulator.start({
    port: a.port, seed: a.seed, timeScale: a.timeScale, publishedHistoryLimit: 10_000,
    ...(a.eventBridgeUrl ? { eventBridge: { url: a.eventBridgeUrl } } : {}),
  });
  await new Promise<void>((resolve) => process.stdout.write(`GENESYS_BASE_URL=${sim.baseUrl}\nGENESYS_CLIENT_ID=${sim.clientId}\nGENESYS_CLIENT_SECRET=${sim.clientSecret}\n`, () => resolve()));
  if (!process.stdout.isTTY) releaseStdout();
  console.error(`genesys simulator listening on ${sim.baseUrl} (pid ${process.pid}, seed ${a.seed}, time scale ${a.timeScale}); stop with SIGINT/SIGTERM`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await sim.close();
    console.error(`stopped: ${JSON.stringify(sim.stats)}`);
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
  setInterval(() => console.error(`stats ${JSON.stringify(sim.stats)}`), 30_000).unref();

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
