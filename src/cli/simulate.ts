import { closeSync, openSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { GenesysSimulator } from '../simulator/index.ts';

export const SIMULATE_HELP = `consentgate simulate genesys — a local Genesys Cloud for development and tests

Usage: consentgate simulate genesys [--port N] [--seed S] [--traffic PER_SEC] [--customers N]
                                    [--time-scale X] [--eventbridge-url URL]

Serves on 127.0.0.1: POST /oauth/token (client credentials), the REST APIs the connectors use (notifications,
external contacts, analytics conversation details and jobs, conversations, integrations, OAuth clients, audits,
GDPR) and notification WebSockets. Prints exactly these lines on stdout, then closes stdout when it is not
a terminal (every other message goes to stderr):
  GENESYS_BASE_URL=http://127.0.0.1:PORT
  GENESYS_CLIENT_ID=…
  GENESYS_CLIENT_SECRET=…
Runs until SIGINT/SIGTERM. To keep it running in the background and load the lines into your shell:
  set -a; eval "$(consentgate simulate genesys --traffic 5 &)"; set +a   # stderr shows its pid; kill PID stops it

Options:
  --port N              port to listen on (default: a free port)
  --seed S              seed of the org's ids, client id and secret, and of the traffic (default 1)
  --traffic PER_SEC     generate conversation starts/ends and consent changes at this rate, continuously
  --customers N         external contacts (with ComplianceConsent fields, ~80%) created first (default 50
                        with --traffic, else 0)
  --time-scale X        accelerate time: token, channel, heartbeat and job lifetimes are divided by X (default 1)
  --eventbridge-url URL also POST every event as an EventBridge envelope to URL, retrying failures
  -h, --help            print this help
`;

interface SimulateArgs {
  port: number;
  seed: number;
  traffic: number;
  customers: number;
  timeScale: number;
  eventBridgeUrl?: string;
}

function parse(argv: string[]): { ok: true; args: SimulateArgs } | { ok: false; problem: string } | { ok: true; help: true } {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' }, seed: { type: 'string' }, traffic: { type: 'string' }, customers: { type: 'string' },
        'time-scale': { type: 'string' }, 'eventbridge-url': { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
  if (values.help) return { ok: true, help: true };
  const num = (name: string, v: string | undefined, dflt: number, valid: (n: number) => boolean): number => {
    const n = v === undefined ? dflt : Number(v);
    if (!valid(n)) throw new Error(`--${name}: invalid value ${v}`);
    return n;
  };
  try {
    const traffic = num('traffic', values.traffic, 0, (n) => n >= 0 && Number.isFinite(n));
    const url = values['eventbridge-url'];
    if (url !== undefined && !URL.canParse(url)) throw new Error(`--eventbridge-url: not a URL: ${url}`);
    return {
      ok: true,
      args: {
        port: num('port', values.port, 0, (n) => Number.isInteger(n) && n >= 0 && n <= 65535),
        seed: num('seed', values.seed, 1, Number.isInteger),
        traffic,
        customers: num('customers', values.customers, traffic > 0 ? 50 : 0, (n) => Number.isInteger(n) && n >= 0),
        timeScale: num('time-scale', values['time-scale'], 1, (n) => n > 0 && Number.isFinite(n)),
        ...(url ? { eventBridgeUrl: url } : {}),
      },
    };
  } catch (err) {
    return { ok: false, problem: (err as Error).message };
  }
}

/** `consentgate simulate genesys`: runs the simulator (and optional traffic) until SIGINT/SIGTERM. */
export async function simulateGenesys(argv: string[]): Promise<void> {
  const parsed = parse(argv);
  if (!parsed.ok) {
    console.error(`${parsed.problem}\n\n${SIMULATE_HELP}`);
    process.exitCode = 2;
    return;
  }
  if ('help' in parsed) return void console.log(SIMULATE_HELP);
  const a = parsed.args;
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
