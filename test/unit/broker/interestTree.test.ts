import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GroupInterest, InterestTree } from '../../../src/workers/interestTree.ts';

/** The workers match() returns for `topic`, sorted (match order is not part of the contract). */
function workers(tree: InterestTree, topic: string): number[] {
  return [...tree.match(topic).workers].sort((a, b) => a - b);
}

/** `group@filter` of every share group match() returns for `topic`, sorted. */
function groups(tree: InterestTree, topic: string): string[] {
  return tree.match(topic).groups.map((g) => `${g.group}@${g.filter}`).sort();
}

/** Shape of the trie, for the pruning tests: the private root read through a cast (white box). */
interface NodeShape {
  readonly children: Map<string, NodeShape>;
}
function rootOf(tree: InterestTree): NodeShape {
  return (tree as unknown as { root: NodeShape }).root;
}
/** Every node path in the trie, e.g. ['a', 'a/b']. */
function paths(tree: InterestTree): string[] {
  const out: string[] = [];
  const walk = (node: NodeShape, prefix: string): void => {
    for (const [level, child] of node.children) {
      const p = prefix === '' ? level : `${prefix}/${level}`;
      out.push(p);
      walk(child, p);
    }
  };
  walk(rootOf(tree), '');
  return out.sort();
}

/** Workers chosen by `n` consecutive picks, counted per worker index. */
function tally(g: GroupInterest, n: number, workerCount: number, exclude = -1): number[] {
  const counts = new Array<number>(workerCount).fill(0);
  for (let i = 0; i < n; i++) {
    const w = g.pick(exclude);
    assert.ok(w >= 0 && w < workerCount, `pick ${i} returned ${w}`);
    counts[w]!++;
  }
  return counts;
}

describe('InterestTree: non-shared interest', () => {
  test('a new tree is empty and matches nobody', () => {
    const tree = new InterestTree(4);
    assert.equal(tree.isEmpty, true);
    assert.deepEqual(workers(tree, 'a/b'), []);
    assert.deepEqual(groups(tree, 'a/b'), []);
  });

  test('setInterest on/off per worker: only workers with interest on a matching filter are returned', () => {
    const tree = new InterestTree(4);
    tree.setInterest('a/b', 0, true);
    tree.setInterest('a/+', 1, true);
    tree.setInterest('x/#', 2, true);
    assert.equal(tree.isEmpty, false);
    assert.deepEqual(workers(tree, 'a/b'), [0, 1]);
    assert.deepEqual(workers(tree, 'a/c'), [1]);
    assert.deepEqual(workers(tree, 'x/y/z'), [2]);
    assert.deepEqual(workers(tree, 'b/b'), []);
    tree.setInterest('a/+', 1, false);
    assert.deepEqual(workers(tree, 'a/b'), [0]);
    assert.deepEqual(workers(tree, 'a/c'), []);
    tree.setInterest('a/b', 0, false);
    assert.deepEqual(workers(tree, 'a/b'), []);
    assert.deepEqual(workers(tree, 'x/y'), [2], 'another worker on another filter keeps its interest');
  });

  test('interest off for one worker keeps the other workers on the same filter', () => {
    const tree = new InterestTree(3);
    tree.setInterest('s/+/t', 0, true);
    tree.setInterest('s/+/t', 2, true);
    tree.setInterest('s/+/t', 0, false);
    assert.deepEqual(workers(tree, 's/1/t'), [2]);
  });

  test('setInterest on twice for the same worker and filter is one entry: one off removes it', () => {
    const tree = new InterestTree(2);
    tree.setInterest('a', 1, true);
    tree.setInterest('a', 1, true);
    assert.deepEqual(workers(tree, 'a'), [1]);
    tree.setInterest('a', 1, false);
    assert.deepEqual(workers(tree, 'a'), []);
    assert.equal(tree.isEmpty, true);
  });

  test('setInterest off for a filter or worker that never had interest changes nothing', () => {
    const tree = new InterestTree(2);
    tree.setInterest('a/b', 0, true);
    tree.setInterest('a/c', 0, false);
    tree.setInterest('a/b', 1, false);
    tree.setInterest('q/r/s', 1, false);
    assert.equal(tree.isEmpty, false);
    assert.deepEqual(workers(tree, 'a/b'), [0]);
    assert.deepEqual(paths(tree), ['a', 'a/b']);
  });

  test('match returns each worker once even when several of its filters match', () => {
    const tree = new InterestTree(4);
    for (const f of ['a/b/c', 'a/+/c', 'a/#', '+/b/+', '#', 'a/b/#']) tree.setInterest(f, 3, true);
    tree.setInterest('a/+/+', 1, true);
    tree.setInterest('+/+/c', 1, true);
    const found = tree.match('a/b/c').workers;
    assert.equal(found.length, 2, `duplicates in ${JSON.stringify(found)}`);
    assert.deepEqual([...found].sort(), [1, 3]);
  });

  test('the de-duplication is per match: a second match returns the workers again', () => {
    const tree = new InterestTree(2);
    tree.setInterest('a/+', 0, true);
    tree.setInterest('a/b', 0, true);
    assert.deepEqual(workers(tree, 'a/b'), [0]);
    assert.deepEqual(workers(tree, 'a/b'), [0]);
    assert.deepEqual(workers(tree, 'a/c'), [0]);
  });

  test('de-duplication keeps working when the per-match generation counter wraps', () => {
    const tree = new InterestTree(2);
    tree.setInterest('a/+', 0, true);
    tree.setInterest('a/#', 0, true);
    tree.setInterest('a/b', 1, true);
    tree.setInterest('c', 1, true);
    assert.deepEqual(workers(tree, 'a/b'), [0, 1]); // stamps both workers with generation 1
    // white box: jump to just below the wrap point of the Uint32 generation stamps
    (tree as unknown as { generation: number }).generation = 0xffffffff - 2;
    assert.deepEqual(workers(tree, 'c'), [1]);
    for (let i = 0; i < 4; i++) {
      const found = tree.match('a/b').workers;
      assert.deepEqual([...found].sort(), [0, 1], `match ${i} after the wrap: a stale stamp must not hide a worker`);
    }
  });

  test('+ matches exactly one level, including an empty one', () => {
    const tree = new InterestTree(1);
    tree.setInterest('sport/+', 0, true);
    assert.deepEqual(workers(tree, 'sport/tennis'), [0]);
    assert.deepEqual(workers(tree, 'sport/'), [0]);
    assert.deepEqual(workers(tree, 'sport'), []);
    assert.deepEqual(workers(tree, 'sport/tennis/player1'), []);
  });

  test('[MQTT-4.7.1-2] # matches the parent level and every level below it', () => {
    const tree = new InterestTree(2);
    tree.setInterest('sport/tennis/player1/#', 0, true);
    tree.setInterest('+/#', 1, true);
    assert.deepEqual(workers(tree, 'sport/tennis/player1'), [0, 1]);
    assert.deepEqual(workers(tree, 'sport/tennis/player1/ranking'), [0, 1]);
    assert.deepEqual(workers(tree, 'sport/tennis/player1/score/wimbledon'), [0, 1]);
    assert.deepEqual(workers(tree, 'sport/tennis'), [1]);
    assert.deepEqual(workers(tree, 'sport'), [1], "'+/#' matches a one-level topic through the parent rule");
  });

  test('[MQTT-4.7.1-2] a lone # matches every topic not starting with $', () => {
    const tree = new InterestTree(1);
    tree.setInterest('#', 0, true);
    for (const topic of ['a', 'a/b', '/', '/finance', 'a//b']) assert.deepEqual(workers(tree, topic), [0], topic);
  });

  test('[MQTT-4.7.2-1] topics starting with $ are not matched by filters starting with # or +', () => {
    const tree = new InterestTree(4);
    tree.setInterest('#', 0, true);
    tree.setInterest('+/monitor/Clients', 1, true);
    tree.setInterest('+/#', 2, true);
    tree.setGroupCount('g', '#', 3, 1);
    assert.deepEqual(workers(tree, '$SYS/monitor/Clients'), []);
    assert.deepEqual(groups(tree, '$SYS/monitor/Clients'), []);
    assert.deepEqual(workers(tree, '$SYS'), []);
    assert.deepEqual(workers(tree, 'SYS/monitor/Clients'), [0, 1, 2], 'the same filters match a topic without $');
  });

  test('[MQTT-4.7.2-1] filters that spell the $ level match $ topics, with wildcards below it', () => {
    const tree = new InterestTree(3);
    tree.setInterest('$SYS/#', 0, true);
    tree.setInterest('$SYS/monitor/+', 1, true);
    tree.setInterest('$SYS/monitor/Clients', 2, true);
    assert.deepEqual(workers(tree, '$SYS/monitor/Clients'), [0, 1, 2]);
    assert.deepEqual(workers(tree, '$SYS'), [0]);
  });

  test('isEmpty becomes true and the trie is pruned after all interest is removed', () => {
    const tree = new InterestTree(3);
    tree.setInterest('a/b/c', 0, true);
    tree.setInterest('a/b/c', 1, true);
    tree.setInterest('a/+/#', 2, true);
    tree.setInterest('x', 0, true);
    tree.setInterest('a/b/c', 0, false);
    assert.equal(tree.isEmpty, false);
    tree.setInterest('a/b/c', 1, false);
    assert.deepEqual(paths(tree), ['a', 'a/+', 'a/+/#', 'x'], 'a/b/c and its now empty parent a/b are gone');
    tree.setInterest('a/+/#', 2, false);
    tree.setInterest('x', 0, false);
    assert.equal(tree.isEmpty, true);
    assert.deepEqual(paths(tree), []);
    assert.deepEqual(workers(tree, 'a/b/c'), []);
  });

  test('pruning stops at a node that still has interest of its own', () => {
    const tree = new InterestTree(2);
    tree.setInterest('a', 0, true);
    tree.setInterest('a/b/c', 1, true);
    tree.setInterest('a/b/c', 1, false);
    assert.deepEqual(paths(tree), ['a']);
    assert.deepEqual(workers(tree, 'a'), [0]);
  });
});

describe('InterestTree: share groups', () => {
  test('setGroupCount keeps per-worker counts and their total', () => {
    const tree = new InterestTree(3);
    tree.setGroupCount('g', 'a/+', 0, 2);
    tree.setGroupCount('g', 'a/+', 2, 5);
    const g = tree.group('g', 'a/+');
    assert.ok(g !== undefined);
    assert.equal(g.group, 'g');
    assert.equal(g.filter, 'a/+');
    assert.deepEqual(g.counts, [2, 0, 5]);
    assert.equal(g.total, 7);
    tree.setGroupCount('g', 'a/+', 2, 1);
    assert.deepEqual(g.counts, [2, 0, 1]);
    assert.equal(g.total, 3, 'a new count replaces the old one, it is not added');
    tree.setGroupCount('g', 'a/+', 0, 0);
    assert.deepEqual(g.counts, [0, 0, 1]);
    assert.equal(g.total, 1);
    assert.equal(tree.group('g', 'a/+'), g, 'the group entry survives while any worker has members');
  });

  test('group() finds a group by name and filter only', () => {
    const tree = new InterestTree(2);
    tree.setGroupCount('g', 'a/b', 0, 1);
    tree.setGroupCount('h', 'a/b', 1, 1);
    assert.equal(tree.group('g', 'a/b')?.group, 'g');
    assert.equal(tree.group('h', 'a/b')?.group, 'h');
    assert.notEqual(tree.group('g', 'a/b'), tree.group('h', 'a/b'));
    assert.equal(tree.group('x', 'a/b'), undefined);
    assert.equal(tree.group('g', 'a'), undefined);
    assert.equal(tree.group('g', 'a/b/c'), undefined);
    assert.equal(tree.group('g', 'z/b'), undefined);
  });

  test('a group with no members left is removed and its nodes pruned', () => {
    const tree = new InterestTree(2);
    tree.setGroupCount('g', 'a/b', 0, 1);
    tree.setGroupCount('g', 'a/b', 1, 2);
    tree.setGroupCount('g', 'a/b', 0, 0);
    assert.equal(tree.isEmpty, false);
    tree.setGroupCount('g', 'a/b', 1, 0);
    assert.equal(tree.group('g', 'a/b'), undefined);
    assert.equal(tree.isEmpty, true);
    assert.deepEqual(paths(tree), []);
    assert.deepEqual(groups(tree, 'a/b'), []);
  });

  test('setGroupCount 0 for an unknown group or filter changes nothing', () => {
    const tree = new InterestTree(2);
    tree.setGroupCount('g', 'a/b', 0, 1);
    tree.setGroupCount('h', 'a/b', 0, 0);
    tree.setGroupCount('g', 'a/c', 0, 0);
    tree.setGroupCount('g', 'a/b', 1, 0);
    assert.equal(tree.group('g', 'a/b')?.total, 1);
    assert.deepEqual(paths(tree), ['a', 'a/b']);
  });

  test('match returns every share group whose filter matches, once each, next to the non-shared workers', () => {
    const tree = new InterestTree(3);
    tree.setGroupCount('g', 'a/+', 0, 1);
    tree.setGroupCount('g', 'a/#', 1, 1);
    tree.setGroupCount('h', 'a/+', 2, 1);
    tree.setGroupCount('g', 'b/+', 2, 1);
    tree.setInterest('a/b', 1, true);
    assert.deepEqual(groups(tree, 'a/b'), ['g@a/#', 'g@a/+', 'h@a/+']);
    assert.deepEqual(workers(tree, 'a/b'), [1], 'share-group members are not non-shared interest');
    assert.deepEqual(groups(tree, 'a'), ['g@a/#']);
    assert.deepEqual(groups(tree, 'b/x'), ['g@b/+']);
  });

  test('pick over `total` picks chooses each worker in proportion to its count (1 and 3 → exactly 1:3 over 400)', () => {
    const tree = new InterestTree(2);
    tree.setGroupCount('g', 'job', 0, 1);
    tree.setGroupCount('g', 'job', 1, 3);
    const g = tree.group('g', 'job')!;
    assert.deepEqual(tally(g, 400, 2), [100, 300]);
    assert.deepEqual(tally(g, 4, 2), [1, 3], 'every window of total consecutive picks is exact');
    assert.deepEqual(tally(g, 4, 2), [1, 3]);
  });

  test('pick spreads over every worker with members and never picks a worker with none', () => {
    const tree = new InterestTree(5);
    tree.setGroupCount('g', 'job', 1, 2);
    tree.setGroupCount('g', 'job', 3, 1);
    tree.setGroupCount('g', 'job', 4, 4);
    const g = tree.group('g', 'job')!;
    assert.deepEqual(tally(g, 7 * 30, 5), [0, 60, 0, 30, 120]);
  });

  test('pick follows a count change', () => {
    const tree = new InterestTree(2);
    tree.setGroupCount('g', 'job', 0, 1);
    tree.setGroupCount('g', 'job', 1, 1);
    const g = tree.group('g', 'job')!;
    assert.deepEqual(tally(g, 100, 2), [50, 50]);
    tree.setGroupCount('g', 'job', 1, 0);
    assert.deepEqual(tally(g, 10, 2), [10, 0]);
    tree.setGroupCount('g', 'job', 1, 4);
    assert.deepEqual(tally(g, 500, 2), [100, 400]);
  });

  test('pick(exclude) never returns the excluded worker and weights the others by their counts', () => {
    const tree = new InterestTree(3);
    tree.setGroupCount('g', 'job', 0, 2);
    tree.setGroupCount('g', 'job', 1, 5);
    tree.setGroupCount('g', 'job', 2, 1);
    const g = tree.group('g', 'job')!;
    assert.deepEqual(tally(g, 300, 3, 1), [200, 0, 100]);
    assert.deepEqual(tally(g, 70, 3, 2), [20, 50, 0]);
    assert.deepEqual(tally(g, 60, 3, 0), [0, 50, 10]);
  });

  test('pick(exclude) returns -1 when only the excluded worker has members', () => {
    const tree = new InterestTree(3);
    tree.setGroupCount('g', 'job', 1, 4);
    const g = tree.group('g', 'job')!;
    for (let i = 0; i < 10; i++) assert.equal(g.pick(1), -1);
    assert.equal(g.pick(), 1, 'without the exclusion the member is picked');
    assert.equal(g.pick(0), 1);
  });

  test('pick on an empty group returns -1', () => {
    const g = new GroupInterest('g', 'f', 3);
    assert.equal(g.pick(), -1);
    assert.equal(g.pick(0), -1);
  });
});

describe('InterestTree: forgetWorker', () => {
  test('forgetWorker removes the worker from every filter and keeps the other workers', () => {
    const tree = new InterestTree(3);
    tree.setInterest('a/b', 0, true);
    tree.setInterest('a/b', 1, true);
    tree.setInterest('a/#', 1, true);
    tree.setInterest('c/+', 1, true);
    tree.setInterest('d', 2, true);
    tree.forgetWorker(1);
    assert.deepEqual(workers(tree, 'a/b'), [0]);
    assert.deepEqual(workers(tree, 'a/x'), []);
    assert.deepEqual(workers(tree, 'c/x'), []);
    assert.deepEqual(workers(tree, 'd'), [2]);
    assert.deepEqual(paths(tree), ['a', 'a/b', 'd'], 'nodes only the forgotten worker used are pruned');
  });

  test('forgetWorker removes the worker\'s group counts and keeps the other workers\' counts', () => {
    const tree = new InterestTree(3);
    tree.setGroupCount('g', 'a/+', 0, 2);
    tree.setGroupCount('g', 'a/+', 1, 3);
    tree.setGroupCount('h', 'x/y', 1, 1);
    tree.forgetWorker(1);
    const g = tree.group('g', 'a/+');
    assert.ok(g !== undefined);
    assert.deepEqual(g.counts, [2, 0, 0]);
    assert.equal(g.total, 2);
    assert.deepEqual(tally(g, 10, 3), [10, 0, 0]);
    assert.equal(tree.group('h', 'x/y'), undefined, 'a group only the forgotten worker had is gone');
    assert.deepEqual(groups(tree, 'x/y'), []);
    assert.deepEqual(paths(tree), ['a', 'a/+']);
  });

  test('forgetWorker of the only worker with interest leaves an empty tree', () => {
    const tree = new InterestTree(2);
    tree.setInterest('a/b/c', 1, true);
    tree.setInterest('#', 1, true);
    tree.setGroupCount('g', 'a/b', 1, 2);
    tree.forgetWorker(1);
    assert.equal(tree.isEmpty, true);
    assert.deepEqual(paths(tree), []);
    assert.deepEqual(workers(tree, 'a/b/c'), []);
  });

  test('a forgotten worker can announce its interest again', () => {
    const tree = new InterestTree(2);
    tree.setInterest('a', 0, true);
    tree.setGroupCount('g', 'a', 0, 1);
    tree.forgetWorker(0);
    tree.setInterest('a', 0, true);
    tree.setGroupCount('g', 'a', 0, 2);
    assert.deepEqual(workers(tree, 'a'), [0]);
    assert.equal(tree.group('g', 'a')?.total, 2);
    tree.setInterest('a', 0, false);
    tree.setGroupCount('g', 'a', 0, 0);
    assert.equal(tree.isEmpty, true);
  });
});
