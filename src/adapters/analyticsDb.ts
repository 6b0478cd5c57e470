import { consentCondition, effectiveGrants, rawSchema, readerView, sinkTable, storeDdl, type StoredRow, type StoreNames } from '../domain/analyticsStore.ts';
import type { Policy, SinkPolicy } from '../domain/policy.ts';
import type { Channel, ConsentState } from '../domain/types.ts';
import { OffsetLedger } from './offsetLedger.ts';
import type { Db, Queryable } from './postgres.ts';

/** A stored row with the consent state it was read with and the reader view's verdict on it (the read API and the export check again in code). */
export interface CheckedRow extends StoredRow {
  consent: ConsentState | undefined;
  permitted: boolean;
}

export interface PageQuery {
  from?: number;
  to?: number;
  channel?: Channel;
  after?: { occurredAt: number; recordId: string };
  limit: number;
}

const ms = (param: string) => `(timestamptz 'epoch' + ${param}::bigint * interval '1 millisecond')`;

/**
 * The analytics store's SQL: each write of the connector commits the batch's rows (or consent states, or purge) and
 * the partition's next offset in one transaction (`ledger.once`).
 */
export class AnalyticsDb {
  private readonly raw: string;
  readonly ledger: OffsetLedger;

  constructor(readonly db: Db, readonly names: StoreNames, readonly policy: Policy) {
    this.raw = rawSchema(names);
    this.ledger = new OffsetLedger(db, `${this.raw}.offsets`);
  }

  /** Installs (or updates) the tables, the reader views and the reader role: idempotent. */
  apply(): Promise<void> {
    return this.db.exec(storeDdl(this.policy, this.names));
  }

  /** Inserts rows of `sink` (a record seen again, e.g. from a later policy generation's topic, is replaced by the newer generation). */
  async insertRows(tx: Queryable, sink: string, rows: StoredRow[]): Promise<void> {
    if (rows.length === 0) return;
    const table = sinkTable(this.names, sink);
    await tx.query(
      `INSERT INTO ${table} (record_id, customer_id, conversation_id, channel, occurred_at, kind, generation, record)
       SELECT r, c, v, ch, ${ms('t')}, k, g, j::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::int[], $8::text[]) AS x(r, c, v, ch, t, k, g, j)
       ON CONFLICT (record_id) DO UPDATE SET record = EXCLUDED.record, generation = EXCLUDED.generation, stored_at = now() WHERE ${table}.generation < EXCLUDED.generation`,
      [rows.map((r) => r.recordId), rows.map((r) => r.customerId), rows.map((r) => r.conversationId), rows.map((r) => r.channel), rows.map((r) => String(r.occurredAt)),
        rows.map((r) => r.kind), rows.map((r) => r.generation), rows.map((r) => JSON.stringify(r.record))],
    );
  }

  /** Mirrors consent states (null: the customer's state was deleted); an older version never replaces a newer one. */
  async mirrorConsent(tx: Queryable, changes: { customerId: string; state: ConsentState | null }[]): Promise<void> {
    const latest = new Map(changes.map((c) => [c.customerId, c.state]));
    const gone = [...latest].filter(([, s]) => s === null).map(([id]) => id);
    const states = [...latest.values()].filter((s): s is ConsentState => s !== null);
    if (gone.length) await tx.query(`DELETE FROM ${this.raw}.consent WHERE customer_id = ANY($1::text[])`, [gone]);
    if (states.length === 0) return;
    await tx.query(
      `INSERT INTO ${this.raw}.consent (customer_id, version, compliance_status, grants, purposes, updated_at)
       SELECT c, v, s, ARRAY(SELECT jsonb_array_elements_text(g::jsonb)), p::jsonb, ${ms('u')} FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS x(c, v, s, g, p, u)
       ON CONFLICT (customer_id) DO UPDATE SET version = EXCLUDED.version, compliance_status = EXCLUDED.compliance_status, grants = EXCLUDED.grants,
         purposes = EXCLUDED.purposes, updated_at = EXCLUDED.updated_at, mirrored_at = now()
       WHERE ${this.raw}.consent.version < EXCLUDED.version`,
      [states.map((s) => s.customerId), states.map((s) => s.version), states.map((s) => s.complianceStatus), states.map((s) => JSON.stringify(effectiveGrants(s))),
        states.map((s) => JSON.stringify(s.purposes)), states.map((s) => String(s.updatedAt))],
    );
  }

  /** Deletes a customer's rows of `sinks` (only `recordIds` when given) and records the purge; the number deleted. */
  async purge(tx: Queryable, p: { commandId: string; requestId: string; customerId: string; reason: string; sinks: string[]; recordIds: string[] }): Promise<number> {
    let deleted = 0;
    for (const sink of p.sinks) {
      const rows = p.recordIds.length
        ? await tx.query<{ n: string }>(`WITH d AS (DELETE FROM ${sinkTable(this.names, sink)} WHERE customer_id = $1 AND record_id = ANY($2::text[]) RETURNING 1) SELECT count(*) AS n FROM d`, [p.customerId, p.recordIds])
        : await tx.query<{ n: string }>(`WITH d AS (DELETE FROM ${sinkTable(this.names, sink)} WHERE customer_id = $1 RETURNING 1) SELECT count(*) AS n FROM d`, [p.customerId]);
      deleted += Number(rows[0]!.n);
    }
    await tx.query(`INSERT INTO ${this.raw}.purges (command_id, request_id, customer_id, reason, deleted) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`, [p.commandId, p.requestId, p.customerId, p.reason, deleted]);
    return deleted;
  }

  /**
   * Up to `q.limit` rows of `sink` in (occurred_at, record_id) order from the raw table (an index range scan, whatever
   * the share of permitted rows), each with the consent state read in the same statement and whether the reader
   * view's condition holds for it now (`permitted`). The read API and the export page through these windows.
   */
  async scan(sink: SinkPolicy, q: PageQuery): Promise<CheckedRow[]> {
    const params: unknown[] = [];
    const where: string[] = [];
    const param = (v: unknown) => `$${params.push(v)}`;
    if (q.from !== undefined) where.push(`r.occurred_at >= ${ms(param(String(q.from)))}`);
    if (q.to !== undefined) where.push(`r.occurred_at < ${ms(param(String(q.to)))}`);
    if (q.channel) where.push(`r.channel = ${param(q.channel)}`);
    if (q.after) where.push(`(r.occurred_at, r.record_id) > (${ms(param(String(q.after.occurredAt)))}, ${param(q.after.recordId)}::text)`);
    const rows = await this.db.query<{
      record_id: string; customer_id: string; conversation_id: string; channel: Channel; occurred_ms: string; kind: string; generation: number; record: unknown; permitted: boolean;
      version: string | null; compliance_status: string | null; purposes: ConsentState['purposes'] | null; updated_ms: string | null;
    }>(
      `SELECT r.record_id, r.customer_id, r.conversation_id, r.channel, (extract(epoch FROM r.occurred_at) * 1000)::bigint AS occurred_ms, r.kind, r.generation, r.record,
              ${consentCondition(this.names, sink)} AS permitted,
              c.version, c.compliance_status, c.purposes, (extract(epoch FROM c.updated_at) * 1000)::bigint AS updated_ms
       FROM (SELECT * FROM ${sinkTable(this.names, sink.name)} r ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY r.occurred_at, r.record_id LIMIT ${param(q.limit)}) r
       LEFT JOIN ${this.raw}.consent c ON c.customer_id = r.customer_id
       ORDER BY r.occurred_at, r.record_id`,
      params,
    );
    return rows.map((r) => ({
      recordId: r.record_id, customerId: r.customer_id, conversationId: r.conversation_id, channel: r.channel, occurredAt: Number(r.occurred_ms), kind: r.kind, generation: r.generation, record: r.record,
      permitted: r.permitted,
      consent: r.version === null ? undefined : {
        customerId: r.customer_id, version: Number(r.version), complianceStatus: r.compliance_status as ConsentState['complianceStatus'], purposes: r.purposes!, updatedAt: Number(r.updated_ms),
      },
    }));
  }

  /** Rows of `sink` a reader sees now (through its view). */
  async visibleRows(sink: string): Promise<number> {
    const [v] = await this.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${readerView(this.names, sink)}`);
    return Number(v!.n);
  }
}
