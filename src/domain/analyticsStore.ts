import { effectiveGrant, evaluate, type Policy, type SinkPolicy } from './policy.ts';
import { offsetsDdl } from './offsetsTable.ts';
import type { Vendor } from './purge.ts';
import { CHANNELS, PURPOSES, type Channel, type ConsentState } from './types.ts';

/**
 * The consent-aware analytics store (issue 15), as data: which sinks land in PostgreSQL, the SQL that makes the
 * database itself enforce current consent at query time, and the checks the read API and the export repeat per row.
 * Pure: the adapter (adapters/analyticsDb.ts) runs what this builds.
 *
 * Layout (schema names from the configuration):
 * - `<schema>_raw.sink_<sink>`: every record the pipeline forwarded to the sink, once (primary key record_id);
 * - `<schema>_raw.consent`: the live consent table (consent.state) mirrored, with each customer's effective grants
 *   as `PURPOSE:CHANNEL` strings;
 * - `<schema>_raw.offsets`, `<schema>_raw.purges`: the connector's consumed offsets and the purges it executed;
 * - `<schema>.<sink>`: a security-barrier view owned by the store's owner, showing a row only while its customer
 *   grants, at the moment of the query, every purpose the sink requires on the row's channel. The reader role may
 *   read these views and nothing else, so any query it runs — joins, aggregates, COUNT(*) — sees only those rows.
 */

export interface StoreNames {
  /** Schema of the reader views (BI tools connect here). */
  schema: string;
  /** The role readers are granted (NOLOGIN; `GRANT <role> TO <login>` for each BI user). */
  readerRole: string;
}

/** The sinks the policy lands in the store (`"store": "postgres"`). */
export function storedSinks(policy: Policy): SinkPolicy[] {
  return policy.sinks.filter((s) => s.store === 'postgres');
}

/** The vendor whose purge commands the store executes itself (`"store": "postgres"` in the vendor registry). */
export function storeVendor(vendors: readonly Vendor[]): Vendor | undefined {
  return vendors.find((v) => v.store === 'postgres');
}

/** What makes a store configuration unusable: every stored sink must be read by the store vendor, so purges reach it. */
export function storeProblems(policy: Policy, vendors: readonly Vendor[]): string[] {
  const sinks = storedSinks(policy);
  if (sinks.length === 0) return [`policy ${policy.version} lands no sink in the analytics store: mark one "store": "postgres"`];
  const vendor = storeVendor(vendors);
  if (!vendor) return ['no vendor of the registry is the analytics store ("store": "postgres"): its purge commands would reach nobody'];
  return sinks.filter((s) => !vendor.sinks.includes(s.name)).map((s) => `sink ${s.name} is stored, but the store vendor ${vendor.name} does not read it: add it to its sinks`);
}

/** A customer's effective grants as `PURPOSE:CHANNEL` strings: the channel override if any, else the purpose level. */
export function effectiveGrants(state: ConsentState): string[] {
  const out: string[] = [];
  for (const purpose of PURPOSES) for (const channel of CHANNELS) if (effectiveGrant(state, purpose, channel) === 'granted') out.push(`${purpose}:${channel}`);
  return out;
}

/** The read API's and the export's check of one row against the consent state read with it (the view's rule, in code). */
export function permitsRow(sink: SinkPolicy, row: { customerId: string; channel: Channel }, state: ConsentState | undefined): boolean {
  return evaluate(sink, row, state).kind === 'forward';
}

const ident = (s: string) => {
  if (!/^[a-z_][a-z0-9_]*$/.test(s)) throw new Error(`not a lower-case SQL identifier: ${s}`);
  return s;
};
const literal = (s: string) => `'${s.replace(/'/g, "''")}'`;

export const rawSchema = (names: StoreNames) => `${ident(names.schema)}_raw`;
export const sinkTable = (names: StoreNames, sink: string) => `${rawSchema(names)}.sink_${ident(sink)}`;
export const readerView = (names: StoreNames, sink: string) => `${ident(names.schema)}.${ident(sink)}`;

/** The view's condition for a row `r` of a sink table: its customer grants every required purpose on its channel now. */
export function consentCondition(names: StoreNames, sink: SinkPolicy): string {
  const required = sink.requires.map((p) => `${literal(`${p}:`)} || r.channel`).join(', ');
  return `EXISTS (SELECT 1 FROM ${rawSchema(names)}.consent c WHERE c.customer_id = r.customer_id AND c.grants @> ARRAY[${required}])`;
}

/**
 * The store's DDL for `policy`, idempotent: tables (created once), views (replaced: a changed policy changes their
 * rule), the reader role and its grants (the raw schema is closed to it). Run by its owner, who then owns the views.
 */
export function storeDdl(policy: Policy, names: StoreNames): string {
  const raw = rawSchema(names);
  const role = ident(names.readerRole);
  const lines = [
    `-- consentgate analytics store for policy ${policy.version.replace(/\n/g, ' ')} (generation ${policy.generation})`,
    `CREATE SCHEMA IF NOT EXISTS ${raw};`,
    `CREATE SCHEMA IF NOT EXISTS ${ident(names.schema)};`,
    `CREATE TABLE IF NOT EXISTS ${raw}.consent (
  customer_id text PRIMARY KEY,
  version bigint NOT NULL,
  compliance_status text NOT NULL,
  grants text[] NOT NULL,
  purposes jsonb NOT NULL,
  updated_at timestamptz NOT NULL,
  mirrored_at timestamptz NOT NULL DEFAULT now()
);`,
    offsetsDdl(`${raw}.offsets`),
    `CREATE TABLE IF NOT EXISTS ${raw}.purges (
  command_id text PRIMARY KEY,
  request_id text NOT NULL,
  customer_id text NOT NULL,
  reason text NOT NULL,
  deleted int NOT NULL,
  executed_at timestamptz NOT NULL DEFAULT now()
);`,
    `DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ${literal(role)}) THEN CREATE ROLE ${role} NOLOGIN; END IF;
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;`,
    `REVOKE ALL ON SCHEMA ${raw} FROM PUBLIC;`,
    `REVOKE ALL ON ALL TABLES IN SCHEMA ${raw} FROM ${role};`,
    `REVOKE CREATE ON SCHEMA ${ident(names.schema)} FROM PUBLIC;`,
    `GRANT USAGE ON SCHEMA ${ident(names.schema)} TO ${role};`,
  ];
  for (const sink of storedSinks(policy)) {
    const table = sinkTable(names, sink.name);
    lines.push(
      `CREATE TABLE IF NOT EXISTS ${table} (
  record_id text PRIMARY KEY,
  customer_id text NOT NULL,
  conversation_id text NOT NULL,
  channel text NOT NULL,
  occurred_at timestamptz NOT NULL,
  kind text NOT NULL,
  generation int NOT NULL,
  record jsonb NOT NULL,
  stored_at timestamptz NOT NULL DEFAULT now()
);`,
      `CREATE INDEX IF NOT EXISTS sink_${sink.name}_customer ON ${table} (customer_id);`,
      `CREATE INDEX IF NOT EXISTS sink_${sink.name}_time ON ${table} (occurred_at, record_id);`,
      `-- ${sink.name}: a row shows while its customer grants ${sink.requires.join(' and ')} on the row's channel`,
      `CREATE OR REPLACE VIEW ${readerView(names, sink.name)} WITH (security_barrier = true) AS
  SELECT r.record_id, r.customer_id, r.conversation_id, r.channel, r.occurred_at, r.kind, r.generation, r.record
  FROM ${table} r
  WHERE ${consentCondition(names, sink)};`,
      `GRANT SELECT ON ${readerView(names, sink.name)} TO ${role};`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** A stored row as the read API and the export give it. */
export interface StoredRow {
  recordId: string;
  customerId: string;
  conversationId: string;
  channel: Channel;
  occurredAt: number;
  kind: string;
  generation: number;
  record: unknown;
}

/** Keyset paging over (occurred_at, record_id): an opaque cursor naming the last row of a page. */
export function encodeCursor(last: Pick<StoredRow, 'occurredAt' | 'recordId'>): string {
  return Buffer.from(JSON.stringify([last.occurredAt, last.recordId])).toString('base64url');
}

export function decodeCursor(cursor: string): { occurredAt: number; recordId: string } | undefined {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') return { occurredAt: v[0] as number, recordId: v[1] };
  } catch {
    // not base64url JSON: undefined below
  }
  return undefined;
}
