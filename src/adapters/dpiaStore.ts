import { createHash } from 'node:crypto';
import type { Approval } from '../domain/dpiaApproval.ts';
import type { DpiaArtifact } from '../domain/dpia.ts';
import { openDb, type Db } from './postgres.ts';

export type EntryKind = 'ARTIFACT' | 'APPROVAL';

interface Row {
  seq: string;
  at: string;
  kind: EntryKind;
  dpia_id: string;
  body: string;
  prev_hash: string;
  hash: string;
}

const GENESIS = '0'.repeat(64);

/** The chain link: SHA-256 over the previous hash and the entry, exactly as the SQL function computes it. */
export function entryHash(prev: string, kind: string, dpiaId: string, at: string, body: string): string {
  return createHash('sha256').update(`${prev}|${kind}|${dpiaId}|${at}|${body}`, 'utf8').digest('hex');
}

function migration(s: string): string {
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.dpia_audit (
  seq bigserial PRIMARY KEY, at text NOT NULL, kind text NOT NULL CHECK (kind IN ('ARTIFACT','APPROVAL')),
  dpia_id text NOT NULL, body text NOT NULL, prev_hash text NOT NULL, hash text NOT NULL);
CREATE INDEX IF NOT EXISTS dpia_audit_dpia ON ${s}.dpia_audit (dpia_id);
CREATE OR REPLACE FUNCTION ${s}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the DPIA audit trail is append-only'; END $$;
DROP TRIGGER IF EXISTS append_only ON ${s}.dpia_audit;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON ${s}.dpia_audit FOR EACH ROW EXECUTE FUNCTION ${s}.refuse_change();
DROP TRIGGER IF EXISTS append_only_truncate ON ${s}.dpia_audit;
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON ${s}.dpia_audit FOR EACH STATEMENT EXECUTE FUNCTION ${s}.refuse_change();
CREATE OR REPLACE FUNCTION ${s}.append_entry(p_kind text, p_dpia text, p_at text, p_body text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE v_prev text; v_hash text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('${s}.dpia_audit'));
  SELECT hash INTO v_prev FROM ${s}.dpia_audit ORDER BY seq DESC LIMIT 1;
  v_prev := coalesce(v_prev, '${GENESIS}');
  v_hash := encode(sha256(convert_to(v_prev || '|' || p_kind || '|' || p_dpia || '|' || p_at || '|' || p_body, 'UTF8')), 'hex');
  INSERT INTO ${s}.dpia_audit (at, kind, dpia_id, body, prev_hash, hash) VALUES (p_at, p_kind, p_dpia, p_body, v_prev, v_hash);
  RETURN v_hash;
END $$;`;
}

/**
 * DPIA artifacts and approvals, append-only in PostgreSQL (DATABASE_URL) or an embedded PGlite, as one hash chain:
 * each entry's hash covers the previous entry's hash, so changing or removing a past entry breaks every link after
 * it, which `verify` reports. A trigger refuses UPDATE, DELETE and TRUNCATE; the chain catches what bypasses it.
 */
export class DpiaStore {
  private constructor(private readonly db: Db, private readonly s: string) {}

  static async open(o: { databaseUrl?: string; dataDir?: string; schema?: string }): Promise<DpiaStore> {
    const schema = o.schema ?? 'consentgate_dpia';
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`DPIA store schema must be a lower-case SQL identifier, got ${schema}`);
    const db = openDb(o);
    await db.exec(migration(`"${schema}"`));
    return new DpiaStore(db, `"${schema}"`);
  }

  private async append(kind: EntryKind, dpiaId: string, at: number, body: unknown): Promise<void> {
    await this.db.query(`SELECT ${this.s}.append_entry($1, $2, $3, $4)`, [kind, dpiaId, new Date(at).toISOString(), JSON.stringify(body)]);
  }

  /** Records an artifact (once: the same dpia_id again is not appended twice). */
  async recordArtifact(a: DpiaArtifact, at: number): Promise<void> {
    const known = await this.db.query(`SELECT 1 FROM ${this.s}.dpia_audit WHERE kind = 'ARTIFACT' AND dpia_id = $1`, [a.dpia_id]);
    if (!known.length) await this.append('ARTIFACT', a.dpia_id, at, a);
  }

  async recordApproval(x: Approval): Promise<void> {
    await this.append('APPROVAL', x.dpiaId, x.at, x);
  }

  async approvals(dpiaId: string): Promise<Approval[]> {
    const rows = await this.db.query<Row>(`SELECT body FROM ${this.s}.dpia_audit WHERE kind = 'APPROVAL' AND dpia_id = $1 ORDER BY seq`, [dpiaId]);
    return rows.map((r) => JSON.parse(r.body) as Approval);
  }

  /** The latest recorded artifact of an integration that was approved (by itself or by an approval/exception), if any. */
  async lastApproved(integrationId: string): Promise<DpiaArtifact | undefined> {
    const rows = await this.db.query<Row>(`SELECT kind, dpia_id, body FROM ${this.s}.dpia_audit WHERE dpia_id IN (SELECT dpia_id FROM ${this.s}.dpia_audit WHERE kind = 'ARTIFACT' AND body::jsonb ->> 'integration_id' = $1) ORDER BY seq DESC`, [integrationId]);
    const approvedIds = new Set(rows.filter((r) => r.kind === 'APPROVAL').map((r) => r.dpia_id));
    for (const r of rows) {
      if (r.kind !== 'ARTIFACT') continue;
      const a = JSON.parse(r.body) as DpiaArtifact;
      if (a.compliance_status === 'APPROVED_FOR_DEPLOYMENT' || approvedIds.has(a.dpia_id)) return a;
    }
    return undefined;
  }

  /** How many artifacts stand in each compliance status; an artifact a reviewer approved counts as APPROVED_BY_REVIEW. */
  async artifactsByStatus(): Promise<Map<string, number>> {
    const rows = await this.db.query<{ status: string; n: number }>(`SELECT CASE WHEN EXISTS (SELECT 1 FROM ${this.s}.dpia_audit p WHERE p.kind = 'APPROVAL' AND p.dpia_id = a.dpia_id)
      THEN 'APPROVED_BY_REVIEW' ELSE a.body::jsonb ->> 'compliance_status' END AS status, count(*)::int AS n
      FROM ${this.s}.dpia_audit a WHERE a.kind = 'ARTIFACT' GROUP BY 1`);
    return new Map(rows.map((r) => [r.status, Number(r.n)]));
  }

  /** Walks the chain from the start; the first entry whose hash or link does not hold is where it was tampered with. */
  async verify(): Promise<{ ok: true; entries: number } | { ok: false; entries: number; brokenAt: number; problem: string }> {
    const rows = await this.db.query<Row>(`SELECT seq::text AS seq, at, kind, dpia_id, body, prev_hash, hash FROM ${this.s}.dpia_audit ORDER BY seq`);
    let prev = GENESIS;
    for (const r of rows) {
      const problem = r.prev_hash !== prev ? 'its link to the previous entry does not match' : entryHash(prev, r.kind, r.dpia_id, r.at, r.body) !== r.hash ? 'its content does not match its hash' : null;
      if (problem) return { ok: false, entries: rows.length, brokenAt: Number(r.seq), problem };
      prev = r.hash;
    }
    return { ok: true, entries: rows.length };
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
