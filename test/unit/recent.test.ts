import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Recent } from '../../src/runtime/recent.ts';

it('Recent keeps the values set or read lately, at most two generations of them', () => {
  const r = new Recent<number>(3);
  for (const [k, v] of [['a', 1], ['b', 2], ['c', 3]] as const) r.set(k, v);
  r.set('d', 4); // a new generation: a, b, c become the older one
  assert.equal(r.get('a'), 1, 'read from the older generation, and carried into the newer');
  r.set('e', 5);
  r.set('f', 6); // the newer (d, a, e) was full: it becomes the older; b and c are dropped
  assert.equal(r.get('b'), undefined);
  assert.equal(r.get('c'), undefined);
  assert.deepEqual(['a', 'd', 'e', 'f'].map((k) => r.get(k)), [1, 4, 5, 6]);
  r.delete('a');
  assert.equal(r.get('a'), undefined, 'deleted from both generations');
  r.set('f', 60);
  assert.equal(r.get('f'), 60, 'a value set again replaces the old one');
});
