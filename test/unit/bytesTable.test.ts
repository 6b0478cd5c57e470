import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BytesTable } from '../../src/runtime/bytesTable.ts';
import { mulberry32 } from '../../src/simulator/ids.ts';

describe('BytesTable', () => {
  it('behaves like a Map of keys to bytes through inserts, overwrites, deletes, growth and compaction', () => {
    const next = mulberry32(7);
    const table = new BytesTable();
    const model = new Map<string, Buffer>();
    const keys = Array.from({ length: 5_000 }, (_, i) => (i % 7 === 0 ? `kunde-ü-${i}-😀` : `c-${i}`));
    for (let step = 0; step < 200_000; step++) {
      const key = keys[Math.floor(next() * keys.length)]!;
      if (next() < 0.2) {
        assert.equal(table.delete(key), model.delete(key));
      } else {
        const value = Buffer.alloc(Math.floor(next() * 300), step % 251);
        table.set(key, value);
        model.set(key, value);
      }
      if (step % 10_000 === 0) assert.equal(table.size, model.size);
    }
    assert.equal(table.size, model.size);
    for (const key of keys) assert.deepEqual(table.get(key), model.get(key), key);
    assert.deepEqual(new Set(table.keys()), new Set(model.keys()));
    // 200,000 writes of ~150 bytes into a table of ≤5,000 keys: compaction kept the chunks near the live bytes.
    assert.ok(table.memoryBytes < 64 << 20, `${table.memoryBytes} bytes held`);
  });

  it('keeps a value larger than a chunk, and views handed out before compaction stay intact', () => {
    const table = new BytesTable();
    const big = Buffer.alloc(5 << 20, 7);
    table.set('big', big);
    table.set('small', Buffer.from('before'));
    const view = table.get('small')!;
    for (let i = 0; i < 200_000; i++) table.set('churn', Buffer.alloc(200, i % 256)); // forces compactions
    assert.deepEqual(table.get('big'), big);
    assert.equal(view.toString(), 'before');
    assert.equal(table.get('small')!.toString(), 'before');
    assert.equal(table.size, 3);
  });

  it('refuses a key longer than 65,535 bytes with a clear error', () => {
    assert.throws(() => new BytesTable().set('x'.repeat(70_000), Buffer.alloc(1)), /at most 65,535/);
  });
});
