import assert from 'node:assert/strict';
import { it } from 'node:test';
import { FetchedEndOffsets, monotonicNow, type EndOffsetsSource } from '../../src/runtime/endOffsets.ts';

// The barriers' end offsets: from the consumer's fetches, with a look-up for what no fetch answers within the grace.
const ends = (n: number, keys = ['consent:0', 'consent:1']) => new Map(keys.map((k) => [k, BigInt(n)]));

/** A look-up source that counts its calls and answers when told to. */
function manualLookUp() {
  const calls: { t: number; resolve: (m: Map<string, bigint>) => void; reject: (e: Error) => void }[] = [];
  const source: EndOffsetsSource = { after: (t) => new Promise((resolve, reject) => calls.push({ t, resolve, reject })) };
  return { source, calls };
}

const settledWithin = async <T>(p: Promise<T>, ms: number): Promise<T | 'pending'> =>
  Promise.race([p, new Promise<'pending'>((r) => setTimeout(() => r('pending'), ms))]);

it('a fetch sent at or after t answers after(t); one sent before t does not, and later callers reuse the newest', async () => {
  const { source, calls } = manualLookUp();
  const f = new FetchedEndOffsets(source, 60_000, () => ['consent:0', 'consent:1']);
  const t = monotonicNow();
  const waiting = f.after(t);
  f.observe(t - 1, ends(5)); // sent before the record arrived
  assert.equal(await settledWithin(waiting, 20), 'pending');
  f.observe(t + 1, ends(7));
  assert.deepEqual(await waiting, ends(7));
  assert.deepEqual(await f.after(t + 1), ends(7), 'answered at once by the newest fetch');
  assert.equal(calls.length, 0, 'no look-up');
  f.close();
});

it('a fetch that lacks a required partition answers no one', async () => {
  const { source } = manualLookUp();
  const f = new FetchedEndOffsets(source, 60_000, () => ['consent:0', 'consent:1']);
  const t = monotonicNow();
  const waiting = f.after(t);
  f.observe(t + 1, ends(9, ['consent:0']));
  assert.equal(await settledWithin(waiting, 20), 'pending');
  f.observe(t + 2, ends(9));
  assert.deepEqual(await waiting, ends(9));
  f.close();
});

it('past the grace the callers waiting get one look-up started after all of them; whichever answers first wins', async () => {
  const { source, calls } = manualLookUp();
  const f = new FetchedEndOffsets(source, 10, () => ['consent:0']);
  const t = monotonicNow();
  const a = f.after(t);
  const b = f.after(t + 1);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(calls.length, 1, 'one look-up for both');
  assert.equal(calls[0]!.t, t + 1, 'it starts after the later of them');
  f.observe(t + 2, ends(3, ['consent:0'])); // a fetch answers before the look-up
  assert.deepEqual(await a, ends(3, ['consent:0']));
  assert.deepEqual(await b, ends(3, ['consent:0']));
  calls[0]!.resolve(ends(4, ['consent:0'])); // too late: ignored
  f.close();
});

it('a failed look-up fails the callers it was for (their barrier holds and retries); later callers start afresh', async () => {
  const { source, calls } = manualLookUp();
  const f = new FetchedEndOffsets(source, 5, () => ['consent:0']);
  const a = f.after(monotonicNow());
  await new Promise((r) => setTimeout(r, 20));
  calls[0]!.reject(new Error('leader not available'));
  await assert.rejects(a, /leader not available/);
  const b = f.after(monotonicNow());
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(calls.length, 2);
  calls[1]!.resolve(ends(1, ['consent:0']));
  assert.deepEqual(await b, ends(1, ['consent:0']));
  f.close();
});
