import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { isAlive } from '../devstack/process.ts';

/**
 * PostgreSQL for the stores that need one (key store, DPIA store): a node-postgres pool on a server (DATABASE_URL),
 * or an embedded PGlite persisted in a directory. One small interface over both.
 */

export interface Db {
  query<R>(sql: string, params?: unknown[]): Promise<R[]>;
  /** Multi-statement SQL without parameters, run as one implicit transaction. */
  exec(sql: string): Promise<void>;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Delivers payloads of `channel`; `live(false)` whenever notifications may have been missed, `live(true)` once listening again. */
  listen(channel: string, onPayload: (payload: string) => void, live: (ok: boolean) => void): Promise<void>;
  close(): Promise<void>;
}

export type Queryable = Pick<Db, 'query'>;

export function serverDb(url: string): Db {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => {}); // an idle client's failure surfaces on the next query
  let listener: pg.Client | undefined;
  let closed = false;
  return {
    query: async <R>(sql: string, params?: unknown[]) => (await pool.query(sql, params)).rows as R[],
    exec: async (sql) => void (await pool.query(sql)),
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const out = await work({ query: async <R>(sql: string, params?: unknown[]) => (await client.query(sql, params)).rows as R[] });
        await client.query('COMMIT');
        return out;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        client.release();
      }
    },
    async listen(channel, onPayload, live) {
      const retryLater = () => !closed && setTimeout(() => void connect().catch(retryLater), 1000).unref();
      const connect = async () => {
        const client = new pg.Client({ connectionString: url });
        const lost = () => {
          if (listener !== client) return;
          listener = undefined;
          live(false);
          client.end().catch(() => {});
          retryLater();
        };
        client.on('error', lost);
        client.on('end', lost);
        client.on('notification', (n) => n.channel === channel && n.payload !== undefined && onPayload(n.payload));
        try {
          await client.connect();
          await client.query(`LISTEN ${channel}`);
        } catch (err) {
          client.end().catch(() => {});
          throw err;
        }
        if (closed) return void client.end().catch(() => {});
        listener = client;
        live(true);
      };
      await connect();
    },
    async close() {
      closed = true;
      const l = listener;
      listener = undefined;
      await l?.end().catch(() => {});
      await pool.end();
    },
  };
}

/**
 * PGlite allows one instance per directory: users of a process on the same directory share it (refcounted), and
 * another process is refused (a lock file beside the directory names the holder) instead of corrupting it.
 */
const embedded = new Map<string, { db: Promise<PGlite>; refs: number }>();

export function embeddedDb(dataDir: string): Db {
  const dir = resolve(dataDir);
  let shared = embedded.get(dir);
  if (!shared) {
    lockDirectory(dir);
    mkdirSync(dir, { recursive: true });
    shared = { db: PGlite.create(dir), refs: 0 };
    embedded.set(dir, shared);
  }
  shared.refs++;
  const entry = shared;
  let unlisten: (() => Promise<void>) | undefined;
  return {
    query: async <R>(sql: string, params?: unknown[]) => (await (await entry.db).query<R>(sql, params)).rows,
    exec: async (sql) => void (await (await entry.db).exec(sql)),
    transaction: async (work) => (await entry.db).transaction((tx) => work({ query: async <R>(sql: string, params?: unknown[]) => (await tx.query<R>(sql, params)).rows })),
    async listen(channel, onPayload, live) {
      unlisten = await (await entry.db).listen(channel, onPayload);
      live(true);
    },
    async close() {
      await unlisten?.().catch(() => {});
      if (--entry.refs === 0) {
        embedded.delete(dir);
        await (await entry.db).close();
        unlockDirectory(dir);
      }
    },
  };
}

const lockFile = (dir: string) => `${dir}.lock`;
const locked = new Set<string>();

/** Takes `<dir>.lock` for this process; refuses when a live process holds it (a dead holder's lock is taken over). */
function lockDirectory(dir: string): void {
  const file = lockFile(dir);
  mkdirSync(dirname(file), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(file, String(process.pid), { flag: 'wx' });
      locked.add(dir);
      if (locked.size === 1) process.once('exit', () => locked.forEach((d) => rmSync(lockFile(d), { force: true })));
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'EEXIST') throw err;
      const holder = Number(readFileSync(file, 'utf8'));
      if (holder !== process.pid && isAlive(holder)) {
        throw Object.assign(new Error(`the embedded database in ${dir} is in use by process ${holder} (a consentgate run?): stop it first, or set DATABASE_URL to a PostgreSQL server that several processes can share (an erasure while run runs: POST /v1/erasure on its consent intake)`), { code: 'STORE_BUSY' });
      }
      rmSync(file, { force: true }); // its holder is gone
    }
  }
}

function unlockDirectory(dir: string): void {
  if (locked.delete(dir)) rmSync(lockFile(dir), { force: true });
}

/** The server at `databaseUrl`, else an embedded PGlite in `dataDir`. */
export function openDb(o: { databaseUrl?: string; dataDir?: string }): Db {
  if (o.databaseUrl) return serverDb(o.databaseUrl);
  if (!o.dataDir) throw new Error('no database: set DATABASE_URL, or give a directory for the embedded PGlite');
  return embeddedDb(o.dataDir);
}
