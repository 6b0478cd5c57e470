import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { openKeyStore, type DataKey, type KeyStore } from '../../src/adapters/keyStore.ts';
import { decryptSinkRecord, isShredded, SHRED_PREFIX, shredDecrypt, shredSeal, shredUnseal } from '../../src/adapters/shredding.ts';
import { sealAesGcm } from '../../src/adapters/aesGcm.ts';
import { PURPOSES, type Purpose } from '../../src/domain/types.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const MASTER = randomBytes(32);

type Location = { databaseUrl?: string; dataDir?: string; schema: string };
type Query = <R>(text: string, params?: unknown[]) => Promise<R[]>;

/** Where stores live, and a raw SQL session on it (with PGlite, only while no store has the directory open). */
interface Backend {
  name: string;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  location(): Location;
  sql<T>(loc: Location, session: (q: Query) => Promise<T>): Promise<T>;
}

function serverBackend(): Backend {
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  const schemas: string[] = [];
  return {
    name: 'PostgreSQL server',
    setUp: async () => void (await admin.connect()),
    async tearDown() {
      for (const s of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      await admin.end();
    },
    location() {
      const schema = `ks_test_${randomBytes(6).toString('hex')}`;
      schemas.push(schema);
      return { databaseUrl: DATABASE_URL, schema };
    },
    sql: (_, session) => session(async <R>(text: string, params?: unknown[]) => (await admin.query(text, params)).rows as R[]),
  };
}

/** One directory for the suite (creating a PGlite cluster takes seconds), a schema per test. */
function pgliteBackend(): Backend {
  const dir = mkdtempSync(join(tmpdir(), 'consentgate-keystore-'));
  return {
    name: 'PGlite',
    setUp: async () => {},
    tearDown: async () => rmSync(dir, { recursive: true, force: true }),
    location: () => ({ dataDir: join(dir, 'db'), schema: `ks_test_${randomBytes(6).toString('hex')}` }),
    async sql(loc, session) {
      const db = await PGlite.create(loc.dataDir!);
      try {
        return await session(async <R>(text: string, params?: unknown[]) => (await db.query<R>(text, params)).rows);
      } finally {
        await db.close();
      }
    },
  };
}

const open = (loc: Location, masterKey = MASTER) => openKeyStore({ ...loc, masterKey });
const all = (customerId: string) => PURPOSES.map((purpose) => ({ customerId, purpose }));
const keyOf = (m: Map<string, unknown>, slot: string): DataKey => {
  const k = m.get(slot);
  assert.ok(k && k !== 'destroyed', `${slot} has a key`);
  return k as DataKey;
};
const heard = (store: KeyStore, customerId: string) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no destruction of ${customerId} heard within 3 s`)), 3000);
    store.onDestroyed((c) => c === customerId && (clearTimeout(timer), resolve()));
  });
const keyRows = async (q: Query, loc: Location, customers: string[]) =>
  Number((await q<{ n: string | number }>(`SELECT count(*) AS n FROM "${loc.schema}".data_keys WHERE customer_id = ANY($1::text[])`, [customers]))[0]!.n);

for (const backend of [serverBackend(), pgliteBackend()]) {
  describe(`key store on ${backend.name}`, () => {
    before(() => backend.setUp());
    after(() => backend.tearDown());

    it('mints one key per (customer, purpose), reuses it, and finds it by id after a restart', async () => {
      const loc = backend.location();
      const ks = await open(loc);
      const first = await ks.ensureKeys([...all('c-1'), { customerId: 'c-1', purpose: 'MARKETING' }, { customerId: 'c-2', purpose: 'ANALYTICS' }]);
      assert.deepEqual([...first.keys()].sort(), ['c-1/ANALYTICS', 'c-1/MARKETING', 'c-1/THIRD_PARTY', 'c-2/ANALYTICS']);
      const m1 = keyOf(first, 'c-1/MARKETING');
      assert.equal(m1.key.length, 32);
      assert.match(m1.keyId, /^c-1\/MARKETING\/[A-Za-z0-9_-]{16}$/);
      assert.notDeepEqual(keyOf(first, 'c-1/ANALYTICS').key, m1.key);

      const again = await ks.ensureKeys([{ customerId: 'c-1', purpose: 'MARKETING' }]);
      assert.deepEqual(keyOf(again, 'c-1/MARKETING'), m1);
      assert.deepEqual(await ks.keyById(m1.keyId), m1.key);
      assert.equal(await ks.keyById('c-1/MARKETING/AAAAAAAAAAAAAAAA'), undefined);
      assert.equal(await ks.keyById('no key id'), undefined);
      await ks.close();

      const reopened = await open(loc);
      assert.deepEqual(await reopened.keyById(m1.keyId), m1.key);
      assert.deepEqual(keyOf(await reopened.ensureKeys([{ customerId: 'c-1', purpose: 'MARKETING' }]), 'c-1/MARKETING'), m1);
      await reopened.close();
      assert.equal(await backend.sql(loc, (q) => keyRows(q, loc, ['c-1', 'c-2'])), 4);
    });

    it('destroys a customer for good: lookups say destroyed, nothing is minted again, a restart changes nothing', async () => {
      const loc = backend.location();
      const ks = await open(loc);
      const keys = await ks.ensureKeys([...all('gone'), ...all('kept')]);
      const goneKey = keyOf(keys, 'gone/MARKETING');

      assert.equal(await ks.destroyCustomer('gone', 'erasure request 42'), 3);
      assert.equal(await ks.keyById(goneKey.keyId), 'destroyed');
      assert.equal(await ks.destroyCustomer('gone', 'repeated'), 0, 'idempotent');
      assert.deepEqual(await ks.ensureKeys(all('gone')), new Map(PURPOSES.map((p) => [`gone/${p}`, 'destroyed'])));
      assert.equal(await ks.isDestroyed('gone'), true);
      assert.equal(await ks.isDestroyed('kept'), false);
      assert.deepEqual(await ks.keyById(keyOf(keys, 'kept/ANALYTICS').keyId), keyOf(keys, 'kept/ANALYTICS').key);
      await ks.close();

      const restarted = await open(loc);
      assert.equal(await restarted.isDestroyed('gone'), true);
      assert.equal(await restarted.keyById(goneKey.keyId), 'destroyed');
      assert.equal((await restarted.ensureKeys([{ customerId: 'gone', purpose: 'THIRD_PARTY' }])).get('gone/THIRD_PARTY'), 'destroyed');
      await restarted.close();

      await backend.sql(loc, async (q) => {
        assert.equal(await keyRows(q, loc, ['gone']), 0);
        assert.equal(await keyRows(q, loc, ['kept']), 3);
        const markers = await q(`SELECT customer_id, reason FROM "${loc.schema}".destroyed_customers`);
        assert.deepEqual(markers, [{ customer_id: 'gone', reason: 'erasure request 42' }]);
      });
    });

    it('the database itself refuses a key for a destroyed customer and keeps the marker', async () => {
      const loc = backend.location();
      const ks = await open(loc);
      await ks.destroyCustomer('gone', 'test');
      await ks.close();
      await backend.sql(loc, async (q) => {
        await assert.rejects(
          q(`INSERT INTO "${loc.schema}".data_keys (key_id, customer_id, purpose, wrapped_key) VALUES ('gone/MARKETING/x', 'gone', 'MARKETING', '\\x00')`),
          (err: Error & { code?: string }) => err.code === 'CG001' && /CUSTOMER_DESTROYED/.test(err.message),
        );
        await assert.rejects(q(`DELETE FROM "${loc.schema}".destroyed_customers`), (err: Error & { code?: string }) => err.code === 'CG001');
      });
    });

    it('another store on the same database drops its cached key as soon as it hears of the destruction', async () => {
      const loc = backend.location();
      const a = await open(loc);
      const b = await open(loc);
      const k = keyOf(await a.ensureKeys([{ customerId: 'c-9', purpose: 'ANALYTICS' }]), 'c-9/ANALYTICS');
      assert.deepEqual(await b.keyById(k.keyId), k.key); // now cached in b
      const bHeard = heard(b, 'c-9');
      const aHeard = heard(a, 'c-9');
      assert.equal(await a.destroyCustomer('c-9', 'test'), 1);
      assert.equal(await a.keyById(k.keyId), 'destroyed', 'the destroying store at once');
      await Promise.all([bHeard, aHeard]);
      assert.equal(await b.keyById(k.keyId), 'destroyed', 'the other store without a restart');
      assert.equal((await b.ensureKeys([{ customerId: 'c-9', purpose: 'ANALYTICS' }])).get('c-9/ANALYTICS'), 'destroyed');
      await a.close();
      await b.close();
    });

    it('racing mints never leave a key behind for a customer destroyed among them', async () => {
      const loc = backend.location();
      const stores = [await open(loc), await open(loc)];
      const customers = Array.from({ length: 8 }, (_, i) => `race-${i}`);
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 24; i++) {
        for (const [n, c] of customers.entries()) {
          ops.push(stores[(i + n) % 2]!.ensureKeys(all(c)));
          if (i === 3 + n) ops.push(stores[(i + n + 1) % 2]!.destroyCustomer(c, 'race'));
        }
        // Batches spanning every customer: their locks are taken in one order, so they cannot deadlock.
        ops.push(stores[i % 2]!.ensureKeys(customers.map((customerId, n) => ({ customerId, purpose: PURPOSES[n % 3] as Purpose }))));
      }
      const settled = await Promise.allSettled(ops);
      assert.deepEqual(settled.filter((s) => s.status === 'rejected'), []);
      const handedOut = settled.flatMap((s) => (s.status === 'fulfilled' && s.value instanceof Map ? [...s.value.values()] : []));
      assert.ok(handedOut.some((v) => v !== 'destroyed') && handedOut.some((v) => v === 'destroyed'), 'mints happened on both sides of the destructions');
      for (const s of stores) {
        const after = await s.ensureKeys(customers.flatMap(all));
        assert.ok([...after.values()].every((v) => v === 'destroyed'));
        await s.close();
      }
      assert.equal(await backend.sql(loc, (q) => keyRows(q, loc, customers)), 0);
    });

    it('a wrong master key fails at open, clearly', async () => {
      const loc = backend.location();
      await (await open(loc)).close();
      await assert.rejects(open(loc, randomBytes(32)), (err: Error & { code?: string }) => err.code === 'MASTER_KEY_MISMATCH' && /MASTER_KEY_MISMATCH/.test(err.message));
      await assert.rejects(open(loc, randomBytes(16)), (err: Error & { code?: string }) => err.code === 'MASTER_KEY_INVALID');
    });

    it('shreds fields: round trip, tamper, unknown key, destroyed key, and whole sink records', async () => {
      const loc = backend.location();
      const ks = await open(loc);
      const keys = await ks.ensureKeys([{ customerId: 'c-5', purpose: 'MARKETING' }, { customerId: 'c-6', purpose: 'MARKETING' }]);
      const k5 = keyOf(keys, 'c-5/MARKETING');
      const k6 = keyOf(keys, 'c-6/MARKETING');
      const lookup = (id: string) => ks.keyById(id);

      const sealed = shredSeal(k5, ['Jane Doe ☎', '+3531555']);
      assert.ok(sealed.startsWith(`${SHRED_PREFIX}${k5.keyId}:`));
      assert.notEqual(shredSeal(k5, ['Jane Doe ☎', '+3531555']), sealed, 'random IV');
      assert.deepEqual(await shredUnseal(sealed, lookup), { ok: true, values: ['Jane Doe ☎', '+3531555'] });
      const body = sealed.slice(sealed.lastIndexOf(':') + 1);
      const flipped = sealed.slice(0, -body.length) + (body[0] === 'A' ? 'B' : 'A') + body.slice(1);
      assert.deepEqual(await shredUnseal(flipped, lookup), { ok: false, reason: 'INVALID' });
      assert.deepEqual(await shredUnseal(sealed.replace(k5.keyId, k6.keyId), lookup), { ok: false, reason: 'INVALID' }, 'AAD binds the key id');
      assert.deepEqual(await shredUnseal(`${SHRED_PREFIX}garbage`, lookup), { ok: false, reason: 'INVALID' });
      assert.deepEqual(await shredUnseal(sealed.replace(k5.keyId, 'c-5/MARKETING/AAAAAAAAAAAAAAAA'), lookup), { ok: false, reason: 'KEY_UNKNOWN' });
      // A field sealed on its own, as the pipeline wrote them before v2: still read.
      const v1 = (k: DataKey, value: string) => `shr:v1:${k.keyId}:${sealAesGcm(k.key, value, Buffer.from(k.keyId)).toString('base64url')}`;
      assert.deepEqual(await shredDecrypt(v1(k6, '+3531000'), lookup), { ok: true, value: '+3531000' });
      assert.ok(isShredded('shr:v2#0') && isShredded(v1(k6, 'x')) && !isShredded('Jane') && !isShredded(null) && !isShredded(sealed));

      const record = {
        recordId: 'r-1',
        customerId: 'c-5',
        participants: [
          { participantId: 'p-1', purpose: 'customer', name: 'shr:v2#0', address: 'shr:v2#1', userId: null },
          { participantId: 'p-2', purpose: 'agent', name: 'Agent Smith', address: null, userId: 'u-1' },
        ],
        ani: 'shr:v2#1',
        dnis: v1(k6, '+3531000'),
        attributes: { email: 'shr:v2#2', campaign: 'spring' },
        transcript: null,
        shredded: shredSeal(k5, ['Jane Doe', '+3531555', 'jane@example.com']),
      };
      const clear = await decryptSinkRecord(record, ks);
      assert.deepEqual(clear, {
        erased: false,
        failures: 0,
        record: {
          ...record,
          participants: [{ ...record.participants[0]!, name: 'Jane Doe', address: '+3531555' }, record.participants[1]],
          ani: '+3531555',
          dnis: '+3531000',
          attributes: { email: 'jane@example.com', campaign: 'spring' },
          shredded: null,
        },
      });
      assert.ok(isShredded(record.ani), 'the input is not modified');
      const broken = await decryptSinkRecord({ ...record, shredded: flipped }, ks);
      assert.equal(broken.failures, 4, 'each reference into a tampered seal');
      assert.equal(broken.record.ani, 'shr:v2#1', 'a field that cannot be read keeps what it holds');
      assert.equal(broken.record.dnis, '+3531000');
      assert.equal((await decryptSinkRecord({ ...record, transcript: 'shr:v2#3' }, ks)).failures, 1, 'a reference past the sealed values');

      await ks.destroyCustomer('c-5', 'test');
      assert.deepEqual(await shredUnseal(sealed, lookup), { ok: false, reason: 'KEY_DESTROYED' });
      const shredded = await decryptSinkRecord({ ...record, transcript: v1({ ...k5, keyId: 'c-7/ANALYTICS/AAAAAAAAAAAAAAAA' }, 'hi') }, ks);
      assert.equal(shredded.erased, true);
      assert.equal(shredded.failures, 1, 'the transcript under an unknown key');
      assert.deepEqual({ ...shredded.record, transcript: isShredded(shredded.record.transcript) }, {
        ...record,
        participants: [{ ...record.participants[0]!, name: null, address: null }, record.participants[1]],
        ani: null,
        dnis: '+3531000',
        attributes: { email: null, campaign: 'spring' },
        transcript: true,
        shredded: null,
      });
      await ks.close();
    });
  });
}
