import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InRecord } from '../../src/runtime/records.ts';
import { TopologyBuilder } from '../../src/runtime/builder.ts';
import type { TopicCatalog } from '../../src/runtime/topology.ts';

function catalog(...logicals: string[]): TopicCatalog {
  const topics = new Map(logicals.map((l) => [l, { logical: l, name: `p.${l}`, partitions: 1, valueSchema: null, config: {}, generations: false }]));
  return { file: 'topics.json', applicationId: 'app', description: '', topics, topic: (l) => topics.get(l)! };
}
const noSerdes = { forTopic: () => { throw new Error('no serdes in this test'); } };
const record = { topic: 'p.in', partition: 0, offset: '0', timestamp: '0', key: null, value: null, headers: {} } satisfies InRecord;

describe('TopologyBuilder', () => {
  it('lists every mismatch with the topic catalog at once, both ways', () => {
    const b = new TopologyBuilder<void>()
      .addStore('s', { changelog: 'missing.changelog', key: 'k', value: 'V' })
      .addProcessor('p', { doc: '', role: 'stream', inputs: ['in'], stores: ['s', 'undeclared'], outputs: ['missing.out'] }, () => ({ process() {} }));
    assert.throws(() => b.build(catalog('in', 'dlq', 'audit.decisions', 'unused')), (err: Error) => {
      for (const problem of ['store s uses topic missing.changelog', 'processor p uses topic missing.out', 'processor p uses store undeclared', 'declares topic unused, which nothing in the topology uses']) {
        assert.ok(err.message.includes(problem), `${problem} in: ${err.message}`);
      }
      return true;
    });
  });

  it('refuses two roles for one input', () => {
    const b = new TopologyBuilder<void>()
      .addProcessor('a', { doc: '', role: 'table', inputs: ['in'], stores: [], outputs: [] }, () => ({ process() {} }))
      .addProcessor('b', { doc: '', role: 'stream', inputs: ['in'], stores: [], outputs: [] }, () => ({ process() {} }));
    assert.throws(() => b.build(catalog('in', 'dlq', 'audit.decisions')), /processors a and b read in with different roles/);
  });

  it('gives each processor its declared stores, read-only where it only reads, and its outputs by physical name', () => {
    const graph = new TopologyBuilder<{ factor: number }>()
      .addStore('counts', { changelog: 'counts.log', key: 'k', value: 'n' })
      .addProcessor('writer', { doc: '', role: 'table', inputs: ['in'], stores: ['counts'], outputs: [] }, (c) => {
        const counts = c.store<number>('counts');
        return { process() { counts.put('k', (counts.get('k') ?? 0) + c.deps.factor); } };
      })
      .addProcessor('reader', { doc: '', role: 'table', inputs: ['in'], stores: [], reads: ['counts'], outputs: ['out'] }, (c) => {
        const counts = c.store<number>('counts');
        return { process() { counts.delete('k'); } };
      })
      .build(catalog('in', 'out', 'counts.log', 'dlq', 'audit.decisions'));
    assert.deepEqual(graph.inputs(), ['in']);
    const task = graph.instantiate({ factor: 2 }, noSerdes);
    const [writer, reader] = task.processors;
    assert.deepEqual([writer!.name, writer!.role], ['writer', 'table']);
    assert.deepEqual(['p.counts.log', 'p.out', 'p.out.v2'].map((t) => writer!.outputs!.has(t)), [true, false, false]);
    assert.deepEqual(['p.out', 'p.counts.log', 'p.out.v2'].map((t) => reader!.outputs!.has(t)), [true, false, false], 'p.out has no generations');
    const ctx = {} as Parameters<NonNullable<typeof writer>['process']>[2];
    writer!.process(record, undefined, ctx);
    assert.equal(task.stores.get('counts.log')!.get('k'), 2);
    assert.throws(() => reader!.process(record, undefined, ctx), /declares store counts as read-only/);
  });
});
