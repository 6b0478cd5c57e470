import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { localSerdes } from '../../src/adapters/schemaRegistry.ts';
import { PROJECT_ROOT } from '../../src/app.ts';
import { applyConsentEvent } from '../../src/domain/consentState.ts';
import { consentStateCodec } from '../../src/domain/consentStateCodec.ts';
import type { ConsentState } from '../../src/domain/types.ts';
import { StagedStore } from '../../src/runtime/store.ts';
import { loadTopology } from '../../src/topology.ts';

const serde = localSerdes(resolve(PROJECT_ROOT, 'schemas'), loadTopology(resolve(PROJECT_ROOT, 'topologies/consentgate.json'))).forTopic<ConsentState>('consent.state');
const state = (customerId: string, granted: boolean) => applyConsentEvent(undefined, {
  eventId: `e-${customerId}-${granted}`, customerId, capturedAt: 1_000, source: 'WEB', purposes: [{ purpose: 'MARKETING', granted, channel: null }],
}, 2_000).state!;

/** Avro decodes into record classes; compare plain data. */
const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as unknown;

for (const compact of [false, true]) {
  describe(`StagedStore (${compact ? 'compact: committed values as codec bytes' : 'objects'})`, () => {
    const store = () => new StagedStore<ConsentState>(compact ? { codec: consentStateCodec, cacheEntries: 2 } : undefined);

    it('stages writes until commit; rollback drops them; deletes are tombstones', () => {
      const s = store();
      const logged: [string, ConsentState | null][] = [];
      s.logTo((k, v) => logged.push([k, v]));
      s.put('a', state('a', true));
      assert.deepEqual(s.get('a'), state('a', true));
      s.rollback();
      assert.equal(s.get('a'), undefined);
      s.put('a', state('a', true));
      s.put('b', state('b', false));
      s.seal();
      s.commit();
      assert.equal(s.size, 2);
      s.delete('a');
      assert.equal(s.get('a'), undefined);
      assert.equal(s.size, 1);
      s.seal();
      s.commit();
      assert.deepEqual([...s.entries()].map(([k]) => k), ['b']);
      assert.deepEqual(logged.map(([k, v]) => `${k}:${v === null ? 'tombstone' : 'value'}`), ['a:value', 'a:value', 'b:value', 'a:tombstone']);
    });

    it('writes made while a sealed transaction commits see it and lie above it; rollback drops both', () => {
      const s = store();
      s.put('a', state('a', true));
      s.seal();
      s.commit();
      s.put('a', state('a', false));
      s.put('b', state('b', true));
      s.seal(); // committing: a withdrawn, b granted
      assert.throws(() => s.seal(), /committing already/);
      s.delete('b'); // the next transaction's
      s.put('c', state('c', true));
      assert.equal(s.get('b'), undefined);
      assert.deepEqual(plain(s.get('a')), plain(state('a', false)));
      assert.equal(s.size, 2);
      assert.deepEqual([...s.entries()].map(([k]) => k).sort(), ['a', 'c']);
      s.commit(); // the sealed writes only
      assert.equal(s.size, 2);
      s.rollback(); // the next transaction aborts
      assert.deepEqual(plain(s.get('b')), plain(state('b', true)));
      assert.equal(s.get('c'), undefined);
      assert.deepEqual([...s.entries()].map(([k]) => k).sort(), ['a', 'b']);
      s.put('d', state('d', true));
      s.seal();
      s.rollback(); // the committing transaction fails
      assert.equal(s.get('d'), undefined);
      assert.throws(() => s.commit(), /without seal/);
    });

    it('restores from changelog bytes, tombstones included, and reads the same values back past its cache', async () => {
      const s = store();
      for (const c of ['a', 'b', 'c', 'd']) await s.restore(c, serde.encode(state(c, c !== 'b')), serde);
      await s.restore('d', null, serde);
      assert.equal(s.size, 3);
      for (let round = 0; round < 2; round++) {
        for (const c of ['a', 'b', 'c']) assert.deepEqual(plain(s.get(c)), plain(state(c, c !== 'b')));
      }
      assert.equal(s.get('d'), undefined);
    });
  });
}

describe('wire-format serde', () => {
  it('encodes values of any size as 0x00, schema id, Avro body, and reads them back', async () => {
    const big = { ...state('big', true), customerId: 'x'.repeat(200_000) };
    for (const v of [state('a', true), big, state('b', false)]) {
      const bytes = serde.encode(v);
      assert.equal(bytes.readUInt8(0), 0);
      assert.equal(bytes.readInt32BE(1), serde.schemaId);
      assert.deepEqual(plain(await serde.decode(bytes)), plain(v));
      assert.deepEqual(plain(serde.decodeCurrent(bytes)), plain(v));
    }
  });
});
