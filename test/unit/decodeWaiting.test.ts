import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decodeWaiting } from '../../src/adapters/schemaRegistry.ts';
import { ConsentgateError } from '../../src/errors.ts';
import type { Serde } from '../../src/runtime/records.ts';

/** A serde whose decode fails with each of `failures` in turn, then succeeds. */
function flaky(failures: Error[]): Serde<string> & { calls: number } {
  const s = {
    schemaId: 1,
    calls: 0,
    encode: () => Buffer.alloc(0),
    decodeCurrent: () => 'v',
    decode: async () => {
      s.calls++;
      const f = failures.shift();
      if (f) throw f;
      return 'v';
    },
  };
  return s;
}

it('a connector waits out a registry that cannot serve a schema (heartbeating), and gives up at once on a record at fault', async () => {
  const down = () => new ConsentgateError('SCHEMA_REGISTRY_UNAVAILABLE', 'connect ECONNREFUSED', true);
  const serde = flaky([down(), down(), down()]);
  const warnings: string[] = [];
  let heartbeats = 0;
  const v = await decodeWaiting(serde, Buffer.alloc(6), { heartbeat: async () => void heartbeats++, warn: (m) => warnings.push(m), retryMs: 1 });
  assert.equal(v, 'v');
  assert.equal(serde.calls, 4);
  assert.equal(heartbeats, 3);
  assert.deepEqual(warnings, ['connect ECONNREFUSED: waiting for the schema registry']);
  const bad = flaky([new ConsentgateError('DESERIALIZATION_FAILED', 'schema id 9 is not in the registry')]);
  await assert.rejects(decodeWaiting(bad, Buffer.alloc(6), { warn: () => {}, retryMs: 1 }), (e: ConsentgateError) => e.code === "DESERIALIZATION_FAILED");
  assert.equal(bad.calls, 1);
});
