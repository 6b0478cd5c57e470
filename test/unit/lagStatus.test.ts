import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PartitionLag } from '../../src/adapters/groupLag.ts';
import { formatLag, lagRows, lagStatus } from '../../src/cli/lag.ts';

const p = (over: Partial<PartitionLag>): PartitionLag => ({ topic: 't', partition: 0, committed: 10n, end: 10n, lag: 0, lagSeconds: 0, exact: true, ...over });

describe('lag status (Burrow-like)', () => {
  it('OK when caught up or within the threshold; WARN further behind but moving; STALL not moving; STOP without members', () => {
    assert.equal(lagStatus(p({}), undefined, 0, 60), 'OK', 'caught up, even with no members');
    assert.equal(lagStatus(p({ lag: 5, lagSeconds: 3, end: 15n }), undefined, 2, 60), 'OK');
    assert.equal(lagStatus(p({ lag: 5000, lagSeconds: 300, end: 5010n }), p({ committed: 5n }), 2, 60), 'WARN', 'a replay or a draining backlog is not an error');
    assert.equal(lagStatus(p({ lag: 5, lagSeconds: 3, end: 15n }), p({ lag: 4, end: 14n }), 2, 60), 'STALL', 'records wait and the committed offset did not move');
    assert.equal(lagStatus(p({ lag: 5, lagSeconds: 3, end: 15n }), undefined, 0, 60), 'STOP');
  });

  it('prints a table with the group\'s state and largest lag; an inexact count is marked as an upper bound', () => {
    const g = { group: 'g', state: 'Stable', members: 1, partitions: [p({}), p({ partition: 1, committed: 0n, end: 200_000n, lag: 200_000, lagSeconds: 12.34, exact: false })] };
    const text = formatLag(g, lagRows(g, undefined, 60));
    assert.equal(text.split('\n')[0], 'group g: Stable, 1 member; max lag 200000 records, 12.3 s');
    assert.match(text, /^t\s+1\s+0\s+200000\s+≤200000\s+12\.3\s+OK$/m);
  });
});
