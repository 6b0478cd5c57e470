// The command line: commander (no dependencies of its own; git-style subcommands with `help [command]`, per-command
// help, unknown options refused with a suggestion, option-arguments validated by parsers). Only the command tree
// is loaded here: each command imports its modules when it runs, so `--help` starts in ~0.1 s.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import type { Config } from '../config.ts';
import { collect, fromTime, httpUrl, isoTime, numberAbove, wholeNumber } from './args.ts';
import { failure, UsageError } from './errors.ts';

const ROOT = resolve(import.meta.dirname, '../..'); // src/cli or dist/cli → the package root
const VERSION = (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const CONFIGURATION = `
Configuration (a JSON file via --config or CONSENTGATE_CONFIG, overridden by the environment):
  KAFKA_BROKERS, KAFKA_SSL, KAFKA_SSL_CA_FILE/CERT_FILE/KEY_FILE (PEM), KAFKA_SASL_MECHANISM/USERNAME/PASSWORD,
  SCHEMA_REGISTRY_URL, SCHEMA_REGISTRY_USERNAME/PASSWORD/CA_FILE, KAFKA_CONNECT_TIMEOUT_MS
  (default 15000: how long a command tries to reach Kafka and the registry before it fails naming the setting),
  CONSENTGATE_TOPIC_PREFIX, CONSENTGATE_POLICY_FILE (default topologies/policy.json), CONSENTGATE_FIELD_KEY (64 hex chars), LOG_LEVEL (default info), LOG_FORMAT (json|pretty),
  CONSENTGATE_WORKERS (as run --workers), CONSENTGATE_MAX_BATCH_RECORDS (input records a partition's transaction
  takes at most, default 2000).
  Read-your-revocation: CONSENTGATE_CONSENT_WAIT_MS (default 500) is how long one attempt waits for the consent
  table to catch up before its records are held (in order, undecided); CONSENTGATE_MAX_HOLD_MS (default 900000)
  is how long a record may be held before it is blocked CONSENT_UNCONFIRMED.
  Genesys: GENESYS_CLIENT_ID, GENESYS_CLIENT_SECRET, and GENESYS_REGION (e.g. mypurecloud.ie) or
  GENESYS_BASE_URL (the simulator); GENESYS_TOPICS, GENESYS_REQUESTS_PER_MINUTE (default 1500).
  Connectors: CONSENTGATE_CONNECTORS, a comma list of notifications, eventbridge-http, eventbridge-topic,
  consent-intake, writeback, integrations, session-executor, dpia, analytics-store, evidence-store (default none); CONSENTGATE_HTTP_HOST/PORT
  (127.0.0.1:8088) for the HTTP intake, which needs CONSENTGATE_INTAKE_TOKEN (16+ chars; POST /v1/erasure needs
  CONSENTGATE_ERASURE_TOKEN) unless run --insecure-no-auth; CONSENTGATE_INTAKE_RATE_LIMIT (500 requests/s a client).
  Operations: CONSENTGATE_OPS_HOST/PORT (127.0.0.1:9465; 0 = any free port) serve GET /healthz, /readyz, /metrics
  (Prometheus) and the status page at /.
  Session guard: CONSENTGATE_SESSION_DISCONNECT_AFTER_MS (default 30000), CONSENTGATE_SESSION_MAX_ATTEMPTS (5).
  Crypto-shredding key store: CONSENTGATE_MASTER_KEY (64 hex chars), DATABASE_URL (PostgreSQL; else an embedded
  PGlite in CONSENTGATE_KEYSTORE_DIR, default .cache/keystore), CONSENTGATE_KEYSTORE_SCHEMA (consentgate).
  Analytics store (connector analytics-store): CONSENTGATE_ANALYTICS_SCHEMA, _ROLE, _DIR, _HOST/_PORT, _READERS
  (see consentgate analytics --help).
  Evidence store (connector evidence-store): CONSENTGATE_EVIDENCE_SCHEMA, _DIR, _HOST/_PORT (127.0.0.1:8091), _TOKEN
  (GET /v1/evidence/{customerId}; see consentgate evidence --help).
  A bad configuration fails at start and lists every problem.

Exit codes: 0 done; 1 the work failed (or a DPIA gate/drift/verify said no); 2 a usage, configuration or input
file error (the message names what to fix).`;

/**
 * Loads and validates the configuration, with what the pipeline needs for commands that run it (`pipeline`);
 * every problem at once, exit 2.
 */
async function config(file: string | undefined, pipeline = false, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const { loadConfig } = await import('../config.ts');
  const r = loadConfig({ file, env });
  const problems = [...(r.ok ? [] : r.problems), ...(pipeline ? (await import('../app.ts')).pipelineProblems(r.ok ? r.config : undefined) : [])];
  if (!r.ok || problems.length) throw new UsageError(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`, 'CONFIG_INVALID');
  return r.config;
}

/**
 * Fails within kafka.connectTimeoutMs, naming the setting and the address, when Kafka (or the registry) cannot be
 * reached. `registry: 'wait'` (run): an unreachable registry is waited for, with a line on stderr per try.
 */
async function reachable(cfg: Config, registry: 'check' | 'wait' | 'skip' = 'check'): Promise<Config> {
  const { checkKafka, checkRegistry, waitForRegistry } = await import('../adapters/preflight.ts');
  const say = (m: string) => process.stderr.write(`consentgate: [SCHEMA_REGISTRY_UNAVAILABLE] ${m}\n`);
  await Promise.all([
    checkKafka(cfg.kafka),
    registry === 'check' ? checkRegistry(cfg.schemaRegistry, cfg.kafka.connectTimeoutMs) : registry === 'wait' ? waitForRegistry(cfg.schemaRegistry, cfg.kafka.connectTimeoutMs, say) : undefined,
  ]);
  return cfg;
}

/** The configuration of a command that reaches neither Kafka nor the registry (the analytics store's): they need not be set. */
const storeConfig = (file: string | undefined) => config(file, false, { KAFKA_BROKERS: 'unused:9092', SCHEMA_REGISTRY_URL: 'http://unused.invalid', ...process.env });

const configOption = () => new Option('--config <file>', 'a JSON configuration file (default: CONSENTGATE_CONFIG; the environment overrides it)');

function program(): Command {
  const cli = new Command('consentgate')
    .description('Enforce GDPR/CCPA consent inside Genesys Cloud CX event streams on Kafka.')
    .version(VERSION, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print help (also: consentgate help <command>)')
    .addHelpText('after', CONFIGURATION)
    .exitOverride()
    // A command's options before its subcommand belong to it, after it to the subcommand (replay --json vs replay status --json).
    .enablePositionalOptions()
    // Usage errors as every other error: one line, with the code and where to look.
    .configureOutput({ outputError: (str, write) => write(`consentgate: [USAGE] ${str.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')}\n`) });

  const dev = cli.command('dev').description('a local Apache Kafka (KRaft) and Apicurio schema registry for development');
  dev.command('up')
    .description('start them in the background (jars from Maven Central on first use); prints KAFKA_BROKERS=… and SCHEMA_REGISTRY_URL=… lines')
    .option('--secure', 'TLS on both (a CA and certificates made with openssl), SASL/SCRAM-SHA-512 on Kafka, basic auth on the registry; also prints the KAFKA_SSL_CA_FILE, KAFKA_SASL_* and SCHEMA_REGISTRY_CA_FILE/USERNAME/PASSWORD lines')
    .addHelpText('after', '\nLoad them into this shell with:  set -a; eval "$(consentgate dev up)"; set +a')
    .action(async (o: { secure?: boolean }) => (await import('./devStack.ts')).devUp(o));
  dev.command('down').description('stop them and delete their data').action(async () => (await import('./devStack.ts')).devDown());

  cli.command('topics').description('manage the topology\'s Kafka topics')
    .command('apply').description('create missing topics and align topic configs with topologies/ (idempotent)')
    .addOption(configOption())
    .action(async (o: { config?: string }) => (await import('./pipeline.ts')).topicsApply(await reachable(await config(o.config), 'skip')));

  cli.command('describe').description('print the topology graph, topics, stores and the consent policy')
    .action(async () => (await import('./pipeline.ts')).describe());

  cli.command('run').description('run the pipeline, and the connectors named in CONSENTGATE_CONNECTORS, until SIGTERM/SIGINT')
    .addOption(new Option('--workers <n>', 'engine worker processes (default: one per CPU; one when the key store is an embedded PGlite)').argParser(wholeNumber(1, 256)))
    .addOption(new Option('--insecure-no-auth', 'let the HTTP intake accept requests without a token (a local test only; warned every minute)'))
    .addOption(configOption())
    .addHelpText('after', '\nA crashed worker is restarted and its partitions move to the others meanwhile.')
    .action(async (o: { workers?: number; config?: string; insecureNoAuth?: boolean }) => {
      if (o.insecureNoAuth) process.env.CONSENTGATE_INSECURE_NO_AUTH = '1'; // read with the configuration (and by the workers)
      await (await import('./pipeline.ts')).run(await reachable(await config(o.config, true), 'wait'), o.workers);
    });

  cli.command('lag').description('a consumer group\'s lag per topic and partition: committed, end, records and seconds behind, status')
    .option('--group <group>', 'the consumer group (default: the pipeline\'s, <CONSENTGATE_TOPIC_PREFIX>consentgate)')
    .option('--watch [seconds]', 'print it again every so many seconds until Ctrl-C (default 5); STALL needs two samples', wholeNumber(1))
    .option('--json', 'one JSON object per sample instead of the table')
    .option('--max-lag-seconds <n>', 'WARN past this many seconds behind; without --watch, exit 1 when a partition is past it', numberAbove(0), 60)
    .addOption(configOption())
    .addHelpText('after', `
Exact under exactly-once: the end is each partition's last stable offset (what a read_committed consumer reaches),
and what lies between the committed offset and it is read (read_committed, by a throwaway consumer that commits
nothing), so commit markers and aborted records are not lag — a fully processed transactional partition shows 0,
not 1 — and LAG_SECONDS is the age of the first record not yet consumed, from its timestamp. A partition with more
than 100,000 records behind shows ≤ end − committed. Status: OK (caught up, or within --max-lag-seconds), WARN
(further behind but moving: a backlog draining, a replay), STALL (behind and its committed offset did not move
since the last sample), STOP (behind and the group has no members). Exit 1 when a partition is past
--max-lag-seconds or STOPped (not with --watch).`)
    .action(async (o: { group?: string; watch?: number | true; json?: boolean; maxLagSeconds: number; config?: string }) =>
      (await import('./lag.ts')).lagCommand({ ...o, watch: o.watch === true ? 5 : o.watch }, await reachable(await config(o.config))));

  const replay = cli.command('replay').enablePositionalOptions().description('after a policy change: a dry-run diff, or build the new policy generation from the retained records (exactly once, resumable), with retractions to vendors')
    .option('--policy <file>', 'the new policy (its "generation" one above the live one)')
    .option('--from <time>', 'replay the records from this time (ISO-8601) or from the earliest retained', fromTime, 'earliest' as const)
    .option('--dry-run', 'only count, per sink, what would keep, be retracted, be admitted late, be re-shaped; write nothing')
    .option('--json', 'print the result as one JSON object (for CI)')
    .option('--quiet', 'no progress bar on stderr')
    .option('--ops-port <n>', 'serve the replay\'s /metrics (lag with cause "replay"), /healthz and /readyz on this port (0: any free one) on CONSENTGATE_OPS_HOST', wholeNumber(0, 65535))
    .addOption(configOption())
    .addHelpText('after', `
The records of genesys.conversations and genesys.exports are decided again under the new policy against the
current consent table. --dry-run prints, per sink, how many records keep their outcome, would be retracted
(forwarded before, forbidden now), admitted late (blocked before, permitted now) or re-shaped (changed field
rules). Without it, the replay writes a cutover marker to every partition of the record topics: the running
pipeline (\`consentgate run\`, which must be up) switches each partition to the new generation at its marker, and the
replay decides every record below it — decisions on audit.decisions (with a replay id), the permitted records on
the new generation's sink topics (sink.crm.v2, …), a RETRACTION purge request to each vendor that received a
record the new policy forbids. Killed, it resumes where it committed when run again with the same policy.
Progress (rate, ETA) on stderr; the result on stdout. Exit 0 once the generation is complete.`)
    .action(async (o: { policy?: string; from: number | 'earliest'; dryRun?: boolean; json?: boolean; quiet?: boolean; opsPort?: number; config?: string }) => {
      if (!o.policy) throw new UsageError('replay needs --policy <file> (or: consentgate replay status)');
      return (await import('./replay.ts')).replayCommand({ ...o, policy: o.policy }, await reachable(await config(o.config)));
    });
  replay.command('status').description('how far the replay of a generation is from its cutover, per partition, and whether consumers can switch')
    .option('--generation <n>', 'the generation (default: the newest)', wholeNumber(1))
    .option('--json', 'one JSON object')
    .addOption(configOption())
    .action(async (o: { generation?: number; json?: boolean; config?: string }) => (await import('./replay.ts')).replayStatusCommand(o, await reachable(await config(o.config))));
  replay.command('retire').description('retire an older generation once its successor is complete: its topics keep their records for a grace period, then this deletes them')
    .requiredOption('--generation <n>', 'the generation to retire (older than the live one)', wholeNumber(1))
    .option('--grace-hours <n>', 'how long its topics keep their records before they may be deleted', numberAbove(0), 168)
    .option('--json', 'one JSON object')
    .addOption(configOption())
    .addHelpText('after', `
The first run retires the generation: its sink topics' retention is shortened to the grace period, each partition
ends with a control record (header consentgate-control: generation-retired) naming the topic that replaced it,
the export jobs it decided are marked superseded in policy.generations, and \`consentgate run\` refuses its policy
from then on; \`consentgate decrypt\` on its topics fails naming the new topic. Run it again after the grace period
(e.g. daily from cron) and it deletes the topics. Exit 0 in every case; 2 when the generation may not retire yet.`)
    .action(async (o: { generation: number; graceHours: number; json?: boolean; config?: string }) => (await import('./replay.ts')).retireCommand(o, await reachable(await config(o.config))));

  cli.command('worker', { hidden: true }).description('one engine worker (started by run)').addOption(configOption())
    .action(async (o: { config?: string }) => (await import('./pipeline.ts')).worker(await config(o.config, true)));

  cli.command('export').description('bulk-export Genesys conversation details of an interval to genesys.exports, resumable')
    .requiredOption('--from <time>', 'start of the interval (ISO-8601, e.g. 2026-11-01 or 2026-11-01T09:00:00Z)', isoTime)
    .requiredOption('--to <time>', 'end of the interval (ISO-8601)', isoTime)
    .option('--name <name>', 'the export\'s name, under which it resumes (default: from the interval)')
    .option('--page-size <n>', 'conversations per page, 1–1000', wholeNumber(1, 1000), 100)
    .addOption(configOption())
    .addHelpText('after', `
Runs an async analytics job over the interval and writes its conversations to genesys.exports page by page; the
enforcement then decides every record against current consent. Each page is committed with the export's cursor,
so running the same command again after a crash resumes where it stopped; a finished export prints its totals and
does nothing. Progress goes to stderr, a JSON summary to stdout.`)
    .action(async (o: { from: number; to: number; name?: string; pageSize: number; config?: string }) => {
      if (o.from >= o.to) throw new UsageError('--from must be before --to');
      return (await import('./export.ts')).exportCommand(o, await reachable(await config(o.config)));
    });

  cli.command('erase').description('erase a data subject: destroy its data keys, purge vendors, optionally file a Genesys GDPR_DELETE')
    .argument('<customerId>', 'the Genesys external contact id (as in the key of consent.events)')
    .option('--genesys-delete', 'also file a Genesys Cloud GDPR_DELETE request')
    .option('--source <text>', 'who asked, for the audit trail', 'CLI')
    .addOption(configOption())
    .addHelpText('after', `
GDPR Art. 17 / CCPA 1798.105: destroys the customer's data keys, so every crypto-shredded field of theirs in every
topic becomes unreadable for good and no key is ever minted for them again; then writes the request to
erasure.requests, where the pipeline withdraws every purpose and sends PURGE_REQUESTs to every vendor that received
the customer's data. Prints the request as JSON. Needs CONSENTGATE_MASTER_KEY (and DATABASE_URL, else the embedded
key store, which a running \`consentgate run\` holds: stop it first).`)
    .action(async (customerId: string, o: { genesysDelete?: boolean; source: string; config?: string }) =>
      (await import('./erase.ts')).eraseCommand(customerId, o, await reachable(await config(o.config))));

  cli.command('decrypt').description('print a sink topic with crypto-shredded fields decrypted, erased ones null')
    .requiredOption('--topic <topic>', 'sink.crm, sink.analytics, sink.thirdparty (or a physical topic name)')
    .option('--max <n>', 'print at most n records', wholeNumber(1))
    .addOption(configOption())
    .addHelpText('after', `
Reads the sink topic from the beginning to its current end (committed records only) and prints one JSON line per
record with its crypto-shredded fields decrypted. A field whose customer was erased prints as null and its record
carries "_erased": true; a field that cannot be decrypted otherwise keeps what it holds and the record carries
"_failures": N. Needs CONSENTGATE_MASTER_KEY, and DATABASE_URL or the key store directory the pipeline uses
(CONSENTGATE_KEYSTORE_DIR, default .cache/keystore). Prints the totals to stderr.`)
    .action(async (o: { topic: string; max?: number; config?: string }) => (await import('./decrypt.ts')).decryptCommand(o, await reachable(await config(o.config))));

  const analytics = cli.command('analytics').description('the consent-aware analytics store in PostgreSQL: what readers see is what consent allows at the moment they query')
    .addHelpText('after', `
The analytics-store connector (CONSENTGATE_CONNECTORS=…,analytics-store) lands every sink the policy marks
"store": "postgres" in <schema>_raw.sink_<sink>, exactly once, and mirrors consent.state into <schema>_raw.consent.
Readers query the views <schema>.<sink> (security barrier, owned by the store's owner): a row shows only while its
customer grants every purpose the sink requires, at the moment of the query, whatever the query. The reader role
may read those views and nothing else. Purge commands to the store vendor delete the rows and are acknowledged.
Database: DATABASE_URL (else an embedded PGlite in CONSENTGATE_ANALYTICS_DIR, default .cache/analytics);
CONSENTGATE_ANALYTICS_SCHEMA (consentgate_analytics), CONSENTGATE_ANALYTICS_ROLE (consentgate_analytics_reader);
the read API on CONSENTGATE_ANALYTICS_HOST/PORT (127.0.0.1:8090) when CONSENTGATE_ANALYTICS_READERS names a readers file.`);
  analytics.command('ddl').description('print the SQL of the store (tables, reader views generated from the policy, reader role and grants)')
    .addOption(configOption())
    .action(async (o: { config?: string }) => (await import('./analytics.ts')).ddlCommand(await storeConfig(o.config)));
  analytics.command('apply').description('install or update the store in the database (idempotent; the views follow the policy)')
    .addOption(configOption())
    .action(async (o: { config?: string }) => (await import('./analytics.ts')).applyCommand(await storeConfig(o.config)));
  analytics.command('token').description('mint a bearer token for a reader of the read API; prints it once, its SHA-256 goes to the readers file')
    .requiredOption('--reader <name>', 'the reader (a dashboard, a team)')
    .option('--sink <sink>', 'the stored sink it may read (default: the first stored one)')
    .option('--readers <file>', 'the readers file to add it to (created if missing)', 'readers.json')
    .addOption(configOption())
    .action(async (o: { reader: string; sink?: string; readers: string; config?: string }) => {
      if (!/^[A-Za-z0-9._-]+$/.test(o.reader)) throw new UsageError('--reader: letters, digits, . _ - only');
      (await import('./analytics.ts')).tokenCommand(o, await storeConfig(o.config));
    });

  cli.command('export-store').description('bulk-export a stored sink to CSV or JSON lines, consent checked as each row is read')
    .requiredOption('--sink <sink>', 'the stored sink (e.g. analytics)')
    .requiredOption('--out <file>', 'FILE.csv or FILE.jsonl (written to FILE.partial, renamed when complete)')
    .option('--from <time>', 'rows that occurred at or after this time (ISO-8601)', isoTime)
    .option('--to <time>', 'rows that occurred before this time (ISO-8601)', isoTime)
    .addOption(new Option('--channel <channel>', 'one channel only').choices(['VOICE', 'CHAT', 'EMAIL', 'SMS', 'MESSAGING']))
    .option('--quiet', 'no progress bar on stderr')
    .addOption(configOption())
    .addHelpText('after', `
Reads the store page by page (1,000 rows) through the sink's reader view and checks each row again against the
consent state read with it: a customer who has opted out by the time a row of theirs is read has no row in the file
from then on. Each row carries the policy version and the time of its check (policy_version, checked_at). Progress
on stderr; a JSON summary on stdout ({"rows":…, "withheld":…}). With the embedded PGlite, stop a running
\`consentgate run\` first (or set DATABASE_URL).`)
    .action(async (o: { sink: string; out: string; from?: number; to?: number; channel?: 'VOICE'; quiet?: boolean; config?: string }) => {
      if (o.from !== undefined && o.to !== undefined && o.from >= o.to) throw new UsageError('--from must be before --to');
      return (await import('./analytics.ts')).exportStoreCommand(o, await storeConfig(o.config));
    });

  cli.command('evidence').description('one customer\'s evidence bundle: what was done with their data, and why (JSON; --html for a report)')
    .argument('[customerId]', 'the customer (Genesys external contact id)')
    .option('--email <address>', 'find the customer by an e-mail address (held by exactly one contact)')
    .option('--phone <number>', 'find the customer by a phone number in E.164 (held by exactly one contact)')
    .option('--html <file>', 'also write the bundle as a readable HTML report to this file')
    .addOption(configOption())
    .addHelpText('after', `
Reads the evidence store (connector evidence-store; DATABASE_URL, else an embedded PGlite in CONSENTGATE_EVIDENCE_DIR,
default .cache/evidence; schema CONSENTGATE_EVIDENCE_SCHEMA): the customer's identifiers and how each links, every
consent statement with the state it led to, every decision (sink, outcome, reason, policy and consent version),
purge requests and vendor answers with their SLA status, ended sessions, erasure and key destruction, and the DPIAs
of the integrations whose hosts received the data — one timeline in time order. The store holds ids, reasons and
pseudonyms (CONSENTGATE_FIELD_KEY makes them), no personal data. A running pipeline serves the same at
GET /v1/evidence/{customerId} when CONSENTGATE_EVIDENCE_TOKEN is set. With the embedded PGlite, stop a running
\`consentgate run\` first (or set DATABASE_URL). Exit 0 with the bundle; 1 when the store knows no such customer;
2 for a usage error.`)
    .action(async (customerId: string | undefined, o: { email?: string; phone?: string; html?: string; config?: string }) =>
      (await import('./evidence.ts')).evidenceCommand({ ...o, customerId }, await storeConfig(o.config)));

  dpiaCommands(cli.command('dpia').description('DPIA artifacts for OAuth clients and integrations: assess, gate, approve, verify, drift (no Kafka needed)'));

  const simulate = cli.command('simulate').description('local stand-ins for development');
  simulate.command('stop').description('stop the simulator `simulate genesys` started from this directory (dev down does too)')
    .action(async () => {
      const stopped = await (await import('./devEnv.ts')).stopSimulator();
      console.error(stopped ? 'genesys simulator stopped' : 'no genesys simulator is running from this directory');
    });
  simulate.command('genesys').description('run a local Genesys Cloud simulator; prints GENESYS_BASE_URL=…, GENESYS_CLIENT_ID=…, GENESYS_CLIENT_SECRET=…')
    .option('--port <n>', 'port to listen on (default: a free port)', wholeNumber(0, 65535), 0)
    .option('--host <address>', 'address to listen on (0.0.0.0 in a container)', '127.0.0.1')
    .option('--public-host <name>', 'the host name clients reach it by, in the printed GENESYS_BASE_URL and channel URIs (default: --host)')
    .option('--seed <s>', 'seed of the org\'s ids, client id and secret, and of the traffic', wholeNumber(0), 1)
    .option('--traffic <perSecond>', 'generate conversation starts/ends and consent changes at this rate, continuously', numberAbove(0))
    .option('--customers <n>', 'external contacts (with ComplianceConsent fields, ~80%) created first (default 50 with --traffic, else 0)', wholeNumber(0))
    .option('--time-scale <x>', 'accelerate time: token, channel, heartbeat and job lifetimes are divided by x', numberAbove(0), 1)
    .option('--eventbridge-url <url>', 'also POST every event as an EventBridge envelope to this URL, retrying failures', httpUrl)
    .option('--save-env <file>', 'also write the three lines into this env file (e.g. .consentgate/dev.env, which dev up writes); not --env-file, which Node 20 takes for itself')
    .option('--background', 'run it in the background (its log in .consentgate/simulator.log) and return once it serves')
    .addHelpText('after', `
Serves on 127.0.0.1: POST /oauth/token (client credentials), the REST APIs the connectors use (notifications,
external contacts, analytics conversation details and jobs, conversations, integrations, OAuth clients, audits,
GDPR) and notification WebSockets. Prints exactly the three lines above on stdout, then closes stdout when it is
not a terminal (every other message goes to stderr). Runs until \`consentgate simulate stop\` or SIGINT/SIGTERM.
In the background, its lines in .consentgate/dev.env for every later shell:
  consentgate simulate genesys --traffic 5 --save-env .consentgate/dev.env --background`)
    .action(async (o: { port: number; host: string; publicHost?: string; seed: number; traffic?: number; customers?: number; timeScale: number; eventbridgeUrl?: string; saveEnv?: string; background?: boolean }) => {
      const simulate = await import('./simulate.ts');
      if (o.background) return simulate.inBackground(process.argv.slice(2).filter((a) => a !== '--background'));
      return simulate.simulateGenesys({
        port: o.port, host: o.host, ...(o.publicHost ? { publicHost: o.publicHost } : {}), seed: o.seed, traffic: o.traffic ?? 0, customers: o.customers ?? (o.traffic ? 50 : 0), timeScale: o.timeScale,
        ...(o.eventbridgeUrl ? { eventBridgeUrl: o.eventbridgeUrl } : {}), ...(o.saveEnv ? { envFile: o.saveEnv } : {}),
      });
    });

  cli.command('demo').description('run the whole pipeline on simulated Genesys Cloud traffic and print a summary (starts a local stack unless KAFKA_BROKERS is set)')
    .action(async () => (await import('./demo.ts')).runDemo());
  const hints = (c: Command, path: string): void => {
    c.showHelpAfterError(`(see ${path} --help)`);
    for (const sub of c.commands) hints(sub, `${path} ${sub.name()}`);
  };
  hints(cli, 'consentgate');
  return cli;
}

/** `consentgate dpia …`: the options of assess (drift takes them too). */
function dpiaCommands(dpia: Command): void {
  const assessOptions = (c: Command) => c
    .option('--oauth-client <file>', 'the Genesys API\'s JSON of an OAuth client (GET /api/v2/oauth/clients/{id})')
    .option('--integration <file>', 'the Genesys API\'s JSON of an integration (GET /api/v2/integrations/{id} with its config); with --oauth-client, the client it uses: one flow, one assessment')
    .option('--fields <file>', 'the data fields the integration declares it sends (a JSON array of names), classified like scopes')
    .option('--terraform <dir>', 'Terraform of the integration (repeatable): HCL parsed, variables resolved', collect)
    .option('--samples <fileOrDir>', 'payload samples to scan for personal data (repeatable)', collect)
    .option('--destination <url>', 'a destination the integration sends to (repeatable)', collect)
    .option('--at <time>', 'the assessment\'s timestamp (ISO-8601): the same input then gives the same artifact', isoTime)
    .option('--classification <file>', 'data classification (default topologies/classification.json)')
    .option('--destinations <file>', 'allowed destinations (default topologies/destinations.json)')
    .option('--vendors <file>', 'vendor registry (default topologies/vendors.json)');
  const run = (name: 'assessCommand' | 'driftCommand') => async (o: Record<string, unknown>) => (await import('./dpia.ts'))[name](o);

  assessOptions(dpia.command('assess').description('assess an integration, the OAuth client it uses, its Terraform and samples into one DPIA artifact'))
    .option('--out <file>', 'write the artifact here (default stdout)')
    .option('--report <file>', 'write the readable report here (default stderr)')
    .option('--store', 'also record the artifact in the DPIA store')
    .option('--genesys <integrationId>', 'fetch the integration and the OAuth client it uses through the SDK (GENESYS_* settings) and assess them as one flow')
    .option('--all <dir>', 'assess every flow under DIR: each subdirectory one flow (its integration and OAuth client JSON, fields.json, *.tf, samples/), each JSON file in DIR one flow')
    .option('--out-dir <dir>', 'with --all: write one artifact per integration here (<integration id>.json)')
    .option('--quiet', 'with --all: no progress bar')
    .addHelpText('after', `
Destinations are detected: URLs, AWS ARNs and EventBridge regions in the definitions and in the Terraform (aws
and genesyscloud providers: event buses, Lambda functions, SQS queues, SNS topics, API destinations, data actions,
web services integrations, each in its provider's region), plus any --destination. Each host is located (the
allow-list, or the AWS, Azure, Google Cloud or Genesys Cloud region it names); a hop outside the source's adequacy
area without SCC, DPF or BCR on record is a transfer finding, approved host or not. Samples are scanned for card
numbers (Luhn), IBANs (mod-97), e-mail addresses, phone numbers and SSNs.
With --all: JSON lines on stdout (one per integration), a summary table on stderr, and a Markdown job summary
appended to $GITHUB_STEP_SUMMARY when it is set.`)
    .action(async (o: Record<string, unknown>) => {
      const m = await import('./dpia.ts');
      if (typeof o.all === 'string') return m.assessAllCommand(o.all, o);
      if (o.outDir) throw new UsageError('--out-dir goes with --all (a single artifact: --out FILE)');
      return m.assessCommand({ ...o, genesysId: typeof o.genesys === 'string' ? o.genesys : undefined });
    });
  dpia.command('gate').description('exit 0 when the artifact may be deployed, 1 with a short reason when not, 2 when it is not a DPIA artifact')
    .argument('<artifact>', 'the DPIA artifact (JSON) of dpia assess')
    .option('--at <time>', 'judge as of this time (ISO-8601)', isoTime)
    .addHelpText('after', '\nDeployable: APPROVED_FOR_DEPLOYMENT, or an approval (PENDING_APPROVAL) or a valid exception (BLOCKED_FOR_DEPLOYMENT) in the store.')
    .action(async (file: string, o: { at?: number }) => (await import('./dpia.ts')).gateCommand(file, o));
  dpia.command('approve').description('record an approval (or, for a blocked artifact, a time-bound exception) in the store')
    .argument('<artifact>', 'the DPIA artifact (JSON)')
    .requiredOption('--approver <name>', 'who approves')
    .addOption(new Option('--role <role>', 'the approver\'s role').choices(['DPO', 'SECURITY_LEAD']).makeOptionMandatory())
    .requiredOption('--reason <text>', 'why')
    .option('--hours <n>', 'an exception\'s lifetime in hours (72 at most, the default)', wholeNumber(1, 72))
    .option('--at <time>', 'the approval\'s time (ISO-8601)', isoTime)
    .addHelpText('after', '\nA Critical risk needs two distinct approvers.')
    .action(async (file: string, o: { approver: string; role: string; reason: string; hours?: number; at?: number }) => (await import('./dpia.ts')).approveCommand(file, o));
  dpia.command('verify').description('check the store\'s hash chain; exit 1 naming the first entry altered or removed')
    .action(async () => (await import('./dpia.ts')).verifyCommand());
  assessOptions(dpia.command('drift').description('re-assess as it is now and compare with the last approved DPIA; exit 1 naming what drifted'))
    .option('--genesys', 'every OAuth client and integration of the org through the SDK (GENESYS_* settings)')
    .option('--store', 'record the re-assessments in the store')
    .option('--approved <artifact>', 'the approved DPIA to compare with when the store has none for the integration (the output says which it used)')
    .action(run('driftCommand'));
  dpia.addHelpText('after', `
The store is append-only with a hash-chained audit trail: PostgreSQL at DATABASE_URL, else an embedded PGlite in
CONSENTGATE_DPIA_DIR (default .cache/dpia); schema CONSENTGATE_DPIA_SCHEMA (default consentgate_dpia).
In CI: consentgate dpia assess --integration it.json --out dpia.json && consentgate dpia gate dpia.json`);
}

try {
  await program().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    // commander printed the message (the option or command named) and the usage hint already.
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  const { message, exitCode } = failure(err);
  console.error(message);
  process.exit(exitCode);
}
