import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterCovers, filtersOverlap } from '../../../src/auth/filterOverlap.ts';
import { topicMatchesFilter } from '../../../src/auth/acl.ts';

test('filtersOverlap: some topic matches both', () => {
  const yes: [string, string][] = [
    ['a/b', 'a/b'], ['a/+', 'a/b'], ['+/b', 'a/+'], ['#', 'a/b/c'], ['a/#', 'a'], ['a', 'a/#'],
    ['a/+/c', 'a/b/#'], ['sensors/%/x', 'sensors/+/x'], ['$SYS/#', '$SYS/broker/+'], ['+/+', 'x/#'],
  ];
  const no: [string, string][] = [
    ['a/b', 'a/c'], ['a/+', 'a/b/c'], ['a', 'a/b'], ['#', '$SYS/x'], ['+/x', '$SYS/x'], ['a/b/c', 'a/+'],
    ['alice/#', 'bob/#'], ['x/+/y', 'x/z/q'],
  ];
  for (const [a, b] of yes) {
    assert.equal(filtersOverlap(a, b), true, `${a} ∩ ${b}`);
    assert.equal(filtersOverlap(b, a), true, `${b} ∩ ${a}`);
  }
  for (const [a, b] of no) {
    assert.equal(filtersOverlap(a, b), false, `${a} ∩ ${b}`);
    assert.equal(filtersOverlap(b, a), false, `${b} ∩ ${a}`);
  }
});

test('filterCovers: every topic of the inner filter matches the outer one', () => {
  const yes: [string, string][] = [
    ['#', 'a/b'], ['a/#', 'a'], ['a/#', 'a/+/c'], ['a/+', 'a/b'], ['+/+', 'a/+'], ['a/b', 'a/b'], ['$SYS/#', '$SYS/+'],
  ];
  const no: [string, string][] = [
    ['a/+', 'a/#'], ['a/b', 'a/+'], ['a', 'a/#'], ['#', '$SYS/x'], ['a/+', 'a'], ['a/b/#', 'a/+/c'],
  ];
  for (const [o, i] of yes) assert.equal(filterCovers(o, i), true, `${o} ⊇ ${i}`);
  for (const [o, i] of no) assert.equal(filterCovers(o, i), false, `${o} ⊇ ${i}`);
});

test('agree with topic matching when one side is a plain topic', () => {
  const filters = ['#', 'a/#', 'a/+', '+/b', 'a/b', '+', '$SYS/#', '+/+/c'];
  const topics = ['a', 'a/b', 'a/c', 'x/b', 'a/b/c', '$SYS/x', 'q'];
  for (const f of filters) {
    for (const t of topics) {
      assert.equal(filtersOverlap(f, t), topicMatchesFilter(f, t), `overlap ${f} ${t}`);
      assert.equal(filterCovers(f, t), topicMatchesFilter(f, t), `covers ${f} ${t}`);
    }
  }
});
