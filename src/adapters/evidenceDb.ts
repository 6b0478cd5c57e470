import { stateRowOf, type ConsentEventRow, type DecisionRow, type DpiaRow, type ErasureRow, type EvidenceRows, type IdentifierRow, type PurgeAckRow, type PurgeCommandRow, type SessionRow } from '../domain/evidence.ts';
import { kindOf, type ContactIdentity } from '../domain/identity.ts';
import { offsetsDdl } from '../domain/offsetsTable.ts';
import type { PurgeAck, PurgeCommand } from '../domain/purge.ts';
import type { ConsentEvent, ConsentState, Decision } from '../domain/types.ts';
import type { ErasureRequest } from '../processors/purge.ts';
import type { SessionCommand } from '../domain/sessionGuard.ts';
import type { SessionOutcome } from '../connectors/sessionExecutor.ts';
import type { DpiaEvent } from '../connectors/dpiaWatcher.ts';
import { OffsetLedger } from './offsetLedger.ts';
import type { Db, Queryable } from './postgres.ts';

/** Decisions a bundle lists (newest first); the bundle says how many there are in all. */
export const BUNDLE_DECISIONS = 10_000;

function ddl(s: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
${offsetsDdl(`${s}.offsets`)}
CREATE TABLE IF NOT EXISTS ${s}.identifiers (contact_id text NOT NULL, kind text NOT NULL, pseudonym text NOT NULL, modified_at bigint NOT NULL, PRIMARY KEY (contact_id, pseudonym));
CREATE INDEX IF NOT EXISTS identifiers_pseudonym ON ${s}.identifiers (pseudonym);
CREATE TABLE IF NOT EXISTS ${s}.consent_events (event_id text PRIMARY KEY, customer_id text NOT NULL, source text NOT NULL, captured_at bigint NOT NULL, received_at bigint NOT NULL, purposes jsonb NOT NULL, resolved_by jsonb);
CREATE INDEX IF NOT EXISTS consent_events_customer ON ${s}.consent_events (customer_id);
CREATE TABLE IF NOT EXISTS ${s}.consent_states (customer_id text NOT NULL, version int NOT NULL, state jsonb NOT NULL, PRIMARY KEY (customer_id, version));
CREATE TABLE IF NOT EXISTS ${s}.decisions (record_id text NOT NULL, sink text NOT NULL, generation int NOT NULL, customer_id text NOT NULL, conversation_id text NOT NULL,
  outcome text NOT NULL, reason text NOT NULL, denied text[] NOT NULL, policy_version text NOT NULL, consent_version int, decided_at bigint NOT NULL, replay_id text, resolved_by jsonb,
  PRIMARY KEY (record_id, sink, generation));
CREATE INDEX IF NOT EXISTS decisions_customer ON ${s}.decisions (customer_id, decided_at DESC);
CREATE TABLE IF NOT EXISTS ${s}.purge_commands (command_id text PRIMARY KEY, request_id text NOT NULL, vendor text NOT NULL, customer_id text NOT NULL, reason text NOT NULL,
  purposes text[] NOT NULL, issued_at bigint NOT NULL, due_at bigint NOT NULL, attempt int NOT NULL);
CREATE INDEX IF NOT EXISTS purge_commands_customer ON ${s}.purge_commands (customer_id);
CREATE TABLE IF NOT EXISTS ${s}.purge_acks (request_id text NOT NULL, vendor text NOT NULL, customer_id text NOT NULL, status text NOT NULL, reason text, at bigint NOT NULL, PRIMARY KEY (request_id, vendor, status, at));
CREATE INDEX IF NOT EXISTS purge_acks_customer ON ${s}.purge_acks (customer_id);
CREATE TABLE IF NOT EXISTS ${s}.session_commands (command_id text PRIMARY KEY, customer_id text NOT NULL, conversation_id text NOT NULL, reason text NOT NULL, issued_at bigint NOT NULL, disconnect_at bigint NOT NULL);
CREATE INDEX IF NOT EXISTS session_commands_customer ON ${s}.session_commands (customer_id);
CREATE TABLE IF NOT EXISTS ${s}.session_outcomes (command_id text NOT NULL, outcome text NOT NULL, at bigint NOT NULL, detail text, PRIMARY KEY (command_id, outcome, at));
CREATE TABLE IF NOT EXISTS ${s}.erasures (request_id text PRIMARY KEY, customer_id text NOT NULL, requested_at bigint NOT NULL, source text NOT NULL, keys_destroyed int NOT NULL, genesys_request_id text);
CREATE INDEX IF NOT EXISTS erasures_customer ON ${s}.erasures (customer_id);
CREATE TABLE IF NOT EXISTS ${s}.dpias (integration_id text NOT NULL, change_id text NOT NULL, name text, dpia_id text, status text NOT NULL, risk text, destinations text[] NOT NULL, at bigint NOT NULL, PRIMARY KEY (integration_id, change_id));
`;
}

/** Rows of a batch, as arrays per column, for one INSERT … SELECT FROM unnest(…). */
function columns<T>(rows: T[], ...pick: ((r: T) => unknown)[]): unknown[][] {
  return pick.map((f) => rows.map(f));
}
const json = (v: unknown) => (v == null ? null : JSON.stringify(v));

/**
 * The evidence store: what the pipeline did about each customer, written exactly once from the topics (each batch
 * with its offsets, `ledger.once`), holding ids, reasons, versions and pseudonyms — no personal data. Reads are
 * index look-ups by customer id.
 */
export class EvidenceDb {
  readonly ledger: OffsetLedger;
  private readonly s: string;

  constructor(readonly db: Db, schema: string) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`evidence store schema must be a lower-case SQL identifier, got ${schema}`);
    this.s = `"${schema}"`;
    this.ledger = new OffsetLedger(db, `${this.s}.offsets`);
  }

  apply(): Promise<void> {
    return this.db.exec(ddl(this.s));
  }

  /** A contact's identifiers now (pseudonymised): its earlier ones are replaced; a deleted contact holds none. */
  async identities(tx: Queryable, contacts: ContactIdentity[], pseudonym: (identifierKey: string) => string): Promise<void> {
    if (!contacts.length) return;
    const latest = [...new Map(contacts.map((c) => [c.contactId, c])).values()];
    await tx.query(`DELETE FROM ${this.s}.identifiers WHERE contact_id = ANY($1::text[])`, [latest.map((c) => c.contactId)]);
    const rows = latest.flatMap((c) => (c.deleted ? [] : c.identifiers.map((k) => ({ contactId: c.contactId, kind: kindOf(k), pseudonym: pseudonym(k), modifiedAt: c.modifiedAt }))));
    if (rows.length) {
      await tx.query(`INSERT INTO ${this.s}.identifiers SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) ON CONFLICT DO NOTHING`,
        columns(rows, (r) => r.contactId, (r) => r.kind, (r) => r.pseudonym, (r) => r.modifiedAt));
    }
  }

  async consentEvents(tx: Queryable, events: { event: ConsentEvent; receivedAt: number }[]): Promise<void> {
    if (!events.length) return;
    await tx.query(`INSERT INTO ${this.s}.consent_events SELECT e, c, s, t, r, p::jsonb, x::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::text[], $7::text[]) AS u(e, c, s, t, r, p, x) ON CONFLICT DO NOTHING`,
      columns(events, (e) => e.event.eventId, (e) => e.event.customerId, (e) => e.event.source, (e) => e.event.capturedAt, (e) => e.receivedAt, (e) => json(e.event.purposes), (e) => json(e.event.resolvedBy)));
  }

  async consentStates(tx: Queryable, states: ConsentState[]): Promise<void> {
    if (!states.length) return;
    await tx.query(`INSERT INTO ${this.s}.consent_states SELECT c, v, s::jsonb FROM unnest($1::text[], $2::int[], $3::text[]) AS u(c, v, s) ON CONFLICT DO NOTHING`,
      columns(states, (s) => s.customerId, (s) => s.version, (s) => json(stateRowOf(s))));
  }

  /** Decisions about a known customer (a record without one is nobody's evidence). */
  async decisions(tx: Queryable, ds: Decision[]): Promise<void> {
    const rows = ds.filter((d) => d.customerId);
    if (!rows.length) return;
    await tx.query(`INSERT INTO ${this.s}.decisions SELECT r, s, g, c, v, o, re, d::text[], p, cv, t, x, rb::jsonb
      FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::int[], $11::bigint[], $12::text[], $13::text[]) AS u(r, s, g, c, v, o, re, d, p, cv, t, x, rb)
      ON CONFLICT DO NOTHING`,
    columns(rows, (d) => d.recordId, (d) => d.sink, (d) => d.generation, (d) => d.customerId, (d) => d.conversationId, (d) => d.outcome, (d) => d.reason,
      (d) => `{${d.deniedPurposes.join(',')}}`, (d) => d.policyVersion, (d) => d.consentVersion, (d) => d.decidedAt, (d) => d.replayId, (d) => json(d.resolvedBy)));
  }

  async purgeCommands(tx: Queryable, cs: PurgeCommand[]): Promise<void> {
    for (const c of cs) {
      await tx.query(`INSERT INTO ${this.s}.purge_commands VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
        [c.commandId, c.requestId, c.vendor, c.customerId, c.reason, c.purposes, c.issuedAt, c.dueAt, c.attempt]);
    }
  }

  async purgeAcks(tx: Queryable, acks: PurgeAck[]): Promise<void> {
    for (const a of acks) {
      await tx.query(`INSERT INTO ${this.s}.purge_acks VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, [a.requestId, a.vendor, a.customerId, a.status, a.reason, a.at]);
    }
  }

  async sessionCommands(tx: Queryable, cs: SessionCommand[]): Promise<void> {
    for (const c of cs) {
      await tx.query(`INSERT INTO ${this.s}.session_commands VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, [c.commandId, c.customerId, c.conversationId, c.reason, c.issuedAt, c.disconnectAt]);
    }
  }

  async sessionOutcomes(tx: Queryable, os: SessionOutcome[]): Promise<void> {
    for (const x of os) {
      await tx.query(`INSERT INTO ${this.s}.session_outcomes VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, [x.commandId, x.outcome, x.at, x.detail]);
    }
  }

  async erasures(tx: Queryable, es: ErasureRequest[]): Promise<void> {
    for (const e of es) {
      await tx.query(`INSERT INTO ${this.s}.erasures VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, [e.requestId, e.customerId, e.requestedAt, e.source, e.keysDestroyed, e.genesysGdprRequestId]);
    }
  }

  async dpiaEvents(tx: Queryable, es: DpiaEvent[]): Promise<void> {
    for (const e of es) {
      await tx.query(`INSERT INTO ${this.s}.dpias VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
        [e.integrationId, e.changeId, e.integrationName, e.dpiaId, e.complianceStatus, e.overallRisk, e.destinations ?? [], e.at]);
    }
  }

  /** The customer whose identifier has this pseudonym, when exactly one contact holds it. */
  async customerOf(pseudonym: string): Promise<{ customerId: string } | { holders: number }> {
    const rows = await this.db.query<{ contact_id: string }>(`SELECT DISTINCT contact_id FROM ${this.s}.identifiers WHERE pseudonym = $1 LIMIT 2`, [pseudonym]);
    return rows.length === 1 ? { customerId: rows[0]!.contact_id } : { holders: rows.length };
  }

  /** Everything the store holds about one customer. */
  async rows(customerId: string): Promise<EvidenceRows> {
    const s = this.s;
    const q = <R>(sql: string) => this.db.query<R>(sql, [customerId]);
    const n = (v: unknown) => (v === null || v === undefined ? null : Number(v));
    const [identifiers, events, states, decisions, total, commands, acks, sessions, erasures, dpias] = await Promise.all([
      q<{ kind: string; pseudonym: string; modified_at: string; held_by: string }>(`SELECT i.kind, i.pseudonym, i.modified_at, (SELECT count(DISTINCT contact_id) FROM ${s}.identifiers j WHERE j.pseudonym = i.pseudonym) AS held_by FROM ${s}.identifiers i WHERE i.contact_id = $1 ORDER BY i.kind, i.pseudonym`),
      q<{ event_id: string; source: string; captured_at: string; received_at: string; purposes: unknown; resolved_by: unknown }>(`SELECT * FROM ${s}.consent_events WHERE customer_id = $1`),
      q<{ state: unknown }>(`SELECT state FROM ${s}.consent_states WHERE customer_id = $1 ORDER BY version`),
      q<Record<string, unknown>>(`SELECT * FROM ${s}.decisions WHERE customer_id = $1 ORDER BY decided_at DESC LIMIT ${BUNDLE_DECISIONS}`),
      q<{ n: string }>(`SELECT count(*) AS n FROM ${s}.decisions WHERE customer_id = $1`),
      q<Record<string, unknown>>(`SELECT * FROM ${s}.purge_commands WHERE customer_id = $1`),
      q<Record<string, unknown>>(`SELECT * FROM ${s}.purge_acks WHERE customer_id = $1`),
      q<Record<string, unknown>>(`SELECT c.*, o.outcome, o.at AS outcome_at, o.detail FROM ${s}.session_commands c LEFT JOIN LATERAL (SELECT * FROM ${s}.session_outcomes x WHERE x.command_id = c.command_id ORDER BY x.at DESC LIMIT 1) o ON true WHERE c.customer_id = $1 ORDER BY c.issued_at`),
      q<Record<string, unknown>>(`SELECT * FROM ${s}.erasures WHERE customer_id = $1 ORDER BY requested_at`),
      this.db.query<Record<string, unknown>>(`SELECT DISTINCT ON (integration_id) * FROM ${s}.dpias ORDER BY integration_id, at DESC`),
    ]);
    const parse = <T>(v: unknown): T => (typeof v === 'string' ? JSON.parse(v) : v) as T;
    return {
      customerId,
      identifiers: identifiers.map((r): IdentifierRow => ({ kind: r.kind as IdentifierRow['kind'], pseudonym: r.pseudonym, heldBy: Number(r.held_by), modifiedAt: Number(r.modified_at) })),
      consentEvents: events.map((r): ConsentEventRow => ({ eventId: r.event_id, source: r.source as ConsentEventRow['source'], capturedAt: Number(r.captured_at), receivedAt: Number(r.received_at), purposes: parse(r.purposes), resolvedBy: parse(r.resolved_by) })),
      consentStates: states.map((r) => parse(r.state)),
      decisions: decisions.map((r): DecisionRow => ({
        recordId: r.record_id as string, conversationId: r.conversation_id as string, sink: r.sink as string, outcome: r.outcome as DecisionRow['outcome'], reason: r.reason as string,
        deniedPurposes: r.denied as DecisionRow['deniedPurposes'], policyVersion: r.policy_version as string, consentVersion: n(r.consent_version), decidedAt: Number(r.decided_at),
        generation: Number(r.generation), replayId: (r.replay_id as string | null) ?? null, resolvedBy: parse(r.resolved_by),
      })),
      decisionsTotal: Number(total[0]?.n ?? 0),
      purgeCommands: commands.map((r): PurgeCommandRow => ({
        commandId: r.command_id as string, requestId: r.request_id as string, vendor: r.vendor as string, reason: r.reason as PurgeCommandRow['reason'], purposes: r.purposes as PurgeCommandRow['purposes'],
        issuedAt: Number(r.issued_at), dueAt: Number(r.due_at), attempt: Number(r.attempt),
      })),
      purgeAcks: acks.map((r): PurgeAckRow => ({ requestId: r.request_id as string, vendor: r.vendor as string, status: r.status as PurgeAckRow['status'], reason: (r.reason as string | null) ?? null, at: Number(r.at) })),
      sessions: sessions.map((r): SessionRow => ({
        commandId: r.command_id as string, conversationId: r.conversation_id as string, reason: r.reason as string, issuedAt: Number(r.issued_at), disconnectAt: Number(r.disconnect_at),
        outcome: (r.outcome as string | null) ?? null, outcomeAt: n(r.outcome_at), detail: (r.detail as string | null) ?? null,
      })),
      erasures: erasures.map((r): ErasureRow => ({ requestId: r.request_id as string, requestedAt: Number(r.requested_at), source: r.source as string, keysDestroyed: Number(r.keys_destroyed), genesysGdprRequestId: (r.genesys_request_id as string | null) ?? null })),
      dpias: dpias.map((r): DpiaRow => ({
        integrationId: r.integration_id as string, integrationName: (r.name as string | null) ?? null, dpiaId: (r.dpia_id as string | null) ?? null, complianceStatus: r.status as string,
        overallRisk: (r.risk as string | null) ?? null, destinations: r.destinations as string[], at: Number(r.at),
      })),
    };
  }
}
