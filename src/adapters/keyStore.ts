import { randomBytes } from 'node:crypto';
import { openAesGcm, sealAesGcm } from './aesGcm.ts';
import { openDb } from './postgres.ts';
import { PURPOSES, type DataKey, type Purpose } from '../domain/types.ts';

/**
 * Per-(customer, purpose) data keys for crypto-shredding, kept only in PostgreSQL and wrapped (AES-256-GCM, AAD =
 * key id) by a master key that never reaches the database. Destroying a customer deletes its keys and records a
 * permanent marker in one transaction; from then on no key of that customer can be read or minted again.
 */

export type { DataKey };
export type KeyLookup = DataKey | 'destroyed';

export interface KeyStore {
  /** Keys for (customerId, purpose), minting the missing ones — except for destroyed customers, which get 'destroyed'. Map key: `${customerId}/${purpose}`. */
  ensureKeys(requests: { customerId: string; purpose: Purpose }[]): Promise<Map<string, KeyLookup>>;
  /** A key by id, for decryption: the key, 'destroyed' (its customer was erased), or undefined (never existed). */
  keyById(keyId: string): Promise<Buffer | 'destroyed' | undefined>;
  /** Destroys every key of the customer and records the permanent marker (with a reason, no PII); idempotent; resolves the number of keys destroyed. Every KeyStore open on the same database drops its cached keys of that customer at once (server: LISTEN/NOTIFY; PGlite: in-process). */
  destroyCustomer(customerId: string, reason: string): Promise<number>;
  isDestroyed(customerId: string): Promise<boolean>;
  /** Subscribe to destructions made by any process on the same database. */
  onDestroyed(listener: (customerId: string) => void): void;
  close(): Promise<void>;
}

export const KEY_STORE_ERROR_CODES = [
  'MASTER_KEY_INVALID',
  'MASTER_KEY_MISMATCH',
  'KEY_UNWRAP_FAILED',
  'KEY_REQUEST_INVALID',
  'CUSTOMER_DESTROYED',
  'KEY_STORE_UNAVAILABLE',
  'KEY_STORE_CLOSED',
] as const;
export type KeyStoreErrorCode = (typeof KEY_STORE_ERROR_CODES)[number];

export class KeyStoreError extends Error {
  constructor(readonly code: KeyStoreErrorCode, message: string, readonly retriable = false, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options);
    this.name = 'KeyStoreError';
  }
}

const CHANNEL = 'consentgate_keys_destroyed';
const CACHE_MAX = 10_000;
/** SQLSTATE raised by the trigger that refuses a key for an erased customer. */
const DESTROYED_SQLSTATE = 'CG001';
const CHECK_AAD = 'consentgate master key check v1';

// ---- key wrap ----------------------------------------------------------------------------------------------------

function wrap(master: Buffer, aad: string, key: Buffer): Buffer {
  return sealAesGcm(master, key, Buffer.from(aad, 'utf8'));
}

/** Throws on a wrong master key or a tampered row: GCM authentication never yields a wrong key silently. */
function unwrap(master: Buffer, aad: string, wrapped: Buffer): Buffer {
  return openAesGcm(master, wrapped, Buffer.from(aad, 'utf8'));
}

// ---- key ids: `<customerId>/<purpose>/<random>`; the customer is read back from the right ---------------------

function newKeyId(customerId: string, purpose: Purpose): string {
  return `${customerId}/${purpose}/${randomBytes(12).toString('base64url')}`;
}

function customerOfKeyId(keyId: string): string | undefined {
  const m = /^(.+)\/(MARKETING|ANALYTICS|THIRD_PARTY)\/[A-Za-z0-9_-]{16}$/.exec(keyId);
  return m?.[1];
}

// ---- schema ----------------------------------------------------------------------------------------------------

/** Idempotent; serialized across processes so that concurrent first opens do not race on the catalog. */
function migration(schema: string, checkHex: string): string {
  const s = `"${schema}"`;
  const lock = (customer: string) => `pg_advisory_xact_lock(hashtext('${schema}:' || ${customer}))`;
  return `
SELECT pg_advisory_xact_lock(hashtext('consentgate keystore migration'));
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.data_keys (
  key_id text PRIMARY KEY,
  customer_id text NOT NULL,
  purpose text NOT NULL CHECK (purpose IN (${PURPOSES.map((p) => `'${p}'`).join(', ')})),
  wrapped_key bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (customer_id, purpose)
);
CREATE TABLE IF NOT EXISTS ${s}.destroyed_customers (
  customer_id text PRIMARY KEY,
  destroyed_at timestamptz NOT NULL DEFAULT now(),
  reason text NOT NULL
);
CREATE TABLE IF NOT EXISTS ${s}.key_store_meta (name text PRIMARY KEY, value bytea NOT NULL);
INSERT INTO ${s}.key_store_meta (name, value) VALUES ('master_key_check', '\\x${checkHex}'::bytea) ON CONFLICT DO NOTHING;

-- The backstop: whatever path writes a key, it cannot store one for an erased customer.
CREATE OR REPLACE FUNCTION ${s}.refuse_key_of_destroyed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM ${s}.destroyed_customers d WHERE d.customer_id = NEW.customer_id) THEN
    RAISE EXCEPTION 'CUSTOMER_DESTROYED: no data key may be stored for an erased customer' USING ERRCODE = '${DESTROYED_SQLSTATE}';
  END IF;
  RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER refuse_key_of_destroyed BEFORE INSERT OR UPDATE ON ${s}.data_keys
  FOR EACH ROW EXECUTE FUNCTION ${s}.refuse_key_of_destroyed();

-- Markers are permanent: deleting one would let keys be minted again.
CREATE OR REPLACE FUNCTION ${s}.keep_destroyed_markers() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'destroyed-customer markers are permanent' USING ERRCODE = '${DESTROYED_SQLSTATE}';
END $$;
CREATE OR REPLACE TRIGGER keep_destroyed_markers BEFORE UPDATE OR DELETE ON ${s}.destroyed_customers
  FOR EACH ROW EXECUTE FUNCTION ${s}.keep_destroyed_markers();
CREATE OR REPLACE TRIGGER keep_destroyed_markers_truncate BEFORE TRUNCATE ON ${s}.destroyed_customers
  FOR EACH STATEMENT EXECUTE FUNCTION ${s}.keep_destroyed_markers();

-- One call = one transaction. Customers are locked in sorted order so that overlapping batches never deadlock;
-- each statement after the locks sees every destruction committed before them.
CREATE OR REPLACE FUNCTION ${s}.mint_keys(p_customers text[], p_purposes text[], p_key_ids text[], p_wrapped_hex text[])
RETURNS TABLE (o_customer text, o_purpose text, o_key_id text, o_wrapped bytea, o_destroyed boolean)
LANGUAGE plpgsql AS $$
DECLARE c text;
BEGIN
  FOR c IN SELECT DISTINCT u FROM unnest(p_customers) AS u ORDER BY 1 LOOP
    PERFORM ${lock('c')};
  END LOOP;
  INSERT INTO ${s}.data_keys (key_id, customer_id, purpose, wrapped_key)
    SELECT r.key_id, r.customer_id, r.purpose, decode(r.wrapped_hex, 'hex')
    FROM unnest(p_customers, p_purposes, p_key_ids, p_wrapped_hex) AS r(customer_id, purpose, key_id, wrapped_hex)
    WHERE NOT EXISTS (SELECT 1 FROM ${s}.destroyed_customers d WHERE d.customer_id = r.customer_id)
    ON CONFLICT (customer_id, purpose) DO NOTHING;
  RETURN QUERY
    SELECT r.customer_id, r.purpose, k.key_id, k.wrapped_key, d.customer_id IS NOT NULL
    FROM unnest(p_customers, p_purposes) AS r(customer_id, purpose)
    LEFT JOIN ${s}.data_keys k ON k.customer_id = r.customer_id AND k.purpose = r.purpose
    LEFT JOIN ${s}.destroyed_customers d ON d.customer_id = r.customer_id;
END $$;

CREATE OR REPLACE FUNCTION ${s}.destroy_customer(p_customer text, p_reason text) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE n integer; first boolean;
BEGIN
  PERFORM ${lock('p_customer')};
  INSERT INTO ${s}.destroyed_customers (customer_id, reason) VALUES (p_customer, p_reason) ON CONFLICT DO NOTHING;
  first := FOUND;
  DELETE FROM ${s}.data_keys WHERE customer_id = p_customer;
  GET DIAGNOSTICS n = ROW_COUNT;
  -- Delivered on commit. A repeated destruction has nothing left to drop anywhere, so it stays silent.
  IF first THEN
    PERFORM pg_notify('${CHANNEL}', json_build_object('schema', '${schema}', 'customerId', p_customer)::text);
  END IF;
  RETURN n;
END $$;
`;
}

// ---- cache -----------------------------------------------------------------------------------------------------

/**
 * Unwrapped keys, least recently used first out. `epoch` moves on every drop: a key read from the database before
 * a destruction arrived is not cached after it (the read may predate the destruction).
 */
class KeyCache {
  private readonly byId = new Map<string, { slot: string; key: Buffer }>();
  private readonly bySlot = new Map<string, string>();
  /** Destroyed customers seen lately; a hint only, as markers never go away. */
  private readonly destroyed = new Set<string>();
  epoch = 0;
  /** False while notifications may be missed: nothing is cached then. */
  live = false;

  slot(slot: string): DataKey | undefined {
    const keyId = this.bySlot.get(slot);
    const key = keyId === undefined ? undefined : this.get(keyId);
    return key && keyId ? { keyId, key } : undefined;
  }

  get(keyId: string): Buffer | undefined {
    const e = this.byId.get(keyId);
    if (!e) return undefined;
    this.byId.delete(keyId); // re-insert: most recently used last
    this.byId.set(keyId, e);
    return e.key;
  }

  put(slot: string, k: DataKey, readAtEpoch: number): void {
    if (!this.live || readAtEpoch !== this.epoch) return;
    this.byId.set(k.keyId, { slot, key: k.key });
    this.bySlot.set(slot, k.keyId);
    for (const [oldest, e] of this.byId) {
      if (this.byId.size <= CACHE_MAX) break;
      this.byId.delete(oldest);
      this.bySlot.delete(e.slot);
    }
  }

  isDestroyed(customerId: string): boolean {
    return this.destroyed.has(customerId);
  }

  /** Drops the customer's keys (callers may still hold them: they are not zeroed) and remembers the destruction. */
  destroy(customerId: string): void {
    this.epoch++;
    for (const p of PURPOSES) {
      const keyId = this.bySlot.get(`${customerId}/${p}`);
      if (keyId === undefined) continue;
      this.bySlot.delete(`${customerId}/${p}`);
      this.byId.delete(keyId);
    }
    this.destroyed.delete(customerId);
    this.destroyed.add(customerId);
    if (this.destroyed.size > CACHE_MAX) this.destroyed.delete(this.destroyed.values().next().value!);
  }

  clear(): void {
    this.epoch++;
    this.byId.clear();
    this.bySlot.clear();
  }
}

// ---- the store -------------------------------------------------------------------------------------------------

const asBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

function validCustomer(customerId: unknown): string {
  if (typeof customerId !== 'string' || customerId.length === 0 || customerId.length > 256 || /[\0-\x1f]/.test(customerId)) {
    throw new KeyStoreError('KEY_REQUEST_INVALID', 'a customer id must be a non-empty string of at most 256 printable characters');
  }
  return customerId;
}

/** Translates driver failures into key store codes at the boundary (messages carry no parameter values). */
async function guarded<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof KeyStoreError) throw err;
    const e = err as Error & { code?: string };
    if (e.code === DESTROYED_SQLSTATE) throw new KeyStoreError('CUSTOMER_DESTROYED', 'refused by the database: the customer was erased', false, { cause: err });
    throw new KeyStoreError('KEY_STORE_UNAVAILABLE', `key store database: ${e.message}`, true, { cause: err });
  }
}

export async function openKeyStore(o: { databaseUrl?: string; dataDir?: string; masterKey: Buffer; schema?: string }): Promise<KeyStore> {
  const master = o.masterKey;
  if (!Buffer.isBuffer(master) || master.length !== 32) throw new KeyStoreError('MASTER_KEY_INVALID', 'the master key must be 32 bytes (64 hex characters)');
  const schema = o.schema ?? 'consentgate';
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new KeyStoreError('KEY_REQUEST_INVALID', `schema must match [a-z_][a-z0-9_]*, got ${JSON.stringify(schema)}`);
  if (!o.databaseUrl && !o.dataDir) throw new KeyStoreError('KEY_REQUEST_INVALID', 'set databaseUrl or dataDir');
  const db = openDb(o);
  const s = `"${schema}"`;
  const cache = new KeyCache();
  const listeners: ((customerId: string) => void)[] = [];
  let closed = false;

  const open = () => {
    if (closed) throw new KeyStoreError('KEY_STORE_CLOSED', 'the key store is closed');
  };
  const unwrapKey = (keyId: string, wrapped: Uint8Array): Buffer => {
    try {
      return unwrap(master, keyId, asBuffer(wrapped));
    } catch (err) {
      throw new KeyStoreError('KEY_UNWRAP_FAILED', 'a stored data key does not authenticate under the master key (tampered row or wrong master key)', false, { cause: err });
    }
  };

  try {
    await guarded(async () => {
      await db.exec(migration(schema, wrap(master, CHECK_AAD, randomBytes(32)).toString('hex')));
      const [check] = await db.query<{ value: Uint8Array }>(`SELECT value FROM ${s}.key_store_meta WHERE name = 'master_key_check'`);
      try {
        unwrap(master, CHECK_AAD, asBuffer(check!.value));
      } catch (err) {
        throw new KeyStoreError('MASTER_KEY_MISMATCH', `the master key is not the one that wrapped the keys in schema ${schema}`, false, { cause: err });
      }
      await db.listen(
        CHANNEL,
        (payload) => {
          let n: { schema?: unknown; customerId?: unknown };
          try {
            n = JSON.parse(payload) as typeof n;
          } catch {
            return; // not ours
          }
          if (n.schema !== schema || typeof n.customerId !== 'string') return;
          cache.destroy(n.customerId);
          for (const l of listeners) l(n.customerId);
        },
        (ok) => {
          // Missed notifications could leave a destroyed customer's key cached: forget everything instead.
          cache.clear();
          cache.live = ok;
        },
      );
    });
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }

  return {
    async ensureKeys(requests) {
      open();
      const out = new Map<string, KeyLookup>();
      const missing = new Map<string, { customerId: string; purpose: Purpose }>();
      for (const r of requests) {
        const customerId = validCustomer(r.customerId);
        if (!PURPOSES.includes(r.purpose)) throw new KeyStoreError('KEY_REQUEST_INVALID', `unknown purpose ${String(r.purpose)}`);
        const slot = `${customerId}/${r.purpose}`;
        if (out.has(slot) || missing.has(slot)) continue;
        const hit = cache.isDestroyed(customerId) ? 'destroyed' : cache.slot(slot);
        if (hit) out.set(slot, hit);
        else missing.set(slot, { customerId, purpose: r.purpose });
      }
      if (missing.size === 0) return out;
      // One round trip for the whole batch: keys already present come back, the absent ones are minted.
      const fresh = [...missing.values()].map((m) => {
        const keyId = newKeyId(m.customerId, m.purpose);
        return { ...m, keyId, wrapped: wrap(master, keyId, randomBytes(32)).toString('hex') };
      });
      const epoch = cache.epoch;
      const rows = await guarded(() =>
        db.query<{ o_customer: string; o_purpose: Purpose; o_key_id: string | null; o_wrapped: Uint8Array | null; o_destroyed: boolean }>(
          `SELECT * FROM ${s}.mint_keys($1::text[], $2::text[], $3::text[], $4::text[])`,
          [fresh.map((f) => f.customerId), fresh.map((f) => f.purpose), fresh.map((f) => f.keyId), fresh.map((f) => f.wrapped)],
        ),
      );
      const erased: string[] = [];
      for (const r of rows) {
        const slot = `${r.o_customer}/${r.o_purpose}`;
        if (r.o_destroyed || r.o_key_id === null || r.o_wrapped === null) {
          erased.push(r.o_customer);
          out.set(slot, 'destroyed');
          continue;
        }
        const k = { keyId: r.o_key_id, key: unwrapKey(r.o_key_id, r.o_wrapped) };
        cache.put(slot, k, epoch);
        out.set(slot, k);
      }
      for (const c of erased) cache.destroy(c); // after the puts: it moves the epoch
      return out;
    },

    async keyById(keyId) {
      open();
      const customerId = typeof keyId === 'string' ? customerOfKeyId(keyId) : undefined;
      if (customerId === undefined) return undefined;
      const hit = cache.get(keyId);
      if (hit) return hit;
      if (cache.isDestroyed(customerId)) return 'destroyed';
      const epoch = cache.epoch;
      const [row] = await guarded(() =>
        db.query<{ purpose: Purpose | null; wrapped_key: Uint8Array | null; destroyed: boolean }>(
          `SELECT k.purpose, k.wrapped_key, d.customer_id IS NOT NULL AS destroyed
           FROM (SELECT $2::text AS customer_id) c
           LEFT JOIN ${s}.data_keys k ON k.key_id = $1 AND k.customer_id = c.customer_id
           LEFT JOIN ${s}.destroyed_customers d ON d.customer_id = c.customer_id`,
          [keyId, customerId],
        ),
      );
      if (row?.destroyed) {
        cache.destroy(customerId);
        return 'destroyed';
      }
      if (!row?.wrapped_key || !row.purpose) return undefined;
      const key = unwrapKey(keyId, row.wrapped_key);
      cache.put(`${customerId}/${row.purpose}`, { keyId, key }, epoch);
      return key;
    },

    async destroyCustomer(customerId, reason) {
      open();
      validCustomer(customerId);
      const [row] = await guarded(() => db.query<{ n: number }>(`SELECT ${s}.destroy_customer($1, $2) AS n`, [customerId, String(reason).slice(0, 500)]));
      cache.destroy(customerId); // at once; listeners hear of it through the notification, as every other store does
      return row!.n;
    },

    async isDestroyed(customerId) {
      open();
      if (cache.isDestroyed(validCustomer(customerId))) return true;
      const rows = await guarded(() => db.query(`SELECT 1 FROM ${s}.destroyed_customers WHERE customer_id = $1`, [customerId]));
      if (rows.length) cache.destroy(customerId);
      return rows.length > 0;
    },

    onDestroyed(listener) {
      listeners.push(listener);
    },

    async close() {
      if (closed) return;
      closed = true;
      cache.clear();
      await db.close();
    },
  };
}
