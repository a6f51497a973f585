import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopicTree, type ShareGroup } from '../../../src/broker/topicTree.ts';
import type { SubscriptionOptions } from '../../../src/model/subscription.ts';

const opts: SubscriptionOptions = { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 0 };

function matches(tree: TopicTree<string>, topic: string): string[] {
  const out: string[] = [];
  tree.match(topic, {
    subscriber: (k) => out.push(k),
    group: (g: ShareGroup<string>, name) => out.push(`$share:${name}:${[...g.members.keys()].join(',')}`),
  });
  return out.sort();
}

// [filter, topic, matches?] — from MQTT 5.0 section 4.7 examples
const table: [string, string, boolean][] = [
  ['sport/tennis/player1/#', 'sport/tennis/player1', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
  ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
  ['sport/#', 'sport', true],
  ['#', 'sport/tennis', true],
  ['sport/tennis/+', 'sport/tennis/player1', true],
  ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
  ['sport/+', 'sport', false],
  ['sport/+', 'sport/', true],
  ['+/+', '/finance', true],
  ['/+', '/finance', true],
  ['+', '/finance', false],
  ['+/tennis/#', 'sport/tennis/x', true],
  ['a/b', 'a/b/c', false],
  ['a/b/c', 'a/b', false],
  ['#', '$SYS/broker', false],
  ['+/monitor/Clients', '$SYS/monitor/Clients', false],
  ['$SYS/#', '$SYS/monitor/Clients', true],
  ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
];

for (const [filter, topic, expected] of table) {
  const tag = filter.startsWith('#') || filter.startsWith('+') ? (topic.startsWith('$') ? '[MQTT-4.7.2-1] ' : '') : '';
  test(`${tag}filter '${filter}' ${expected ? 'matches' : 'does not match'} topic '${topic}'`, () => {
    const tree = new TopicTree<string>();
    tree.add(filter, undefined, 'c1', opts);
    assert.deepEqual(matches(tree, topic), expected ? ['c1'] : []);
  });
}

test('a subscriber is visited once per matching filter and removal prunes the tree', () => {
  const tree = new TopicTree<string>();
  assert.equal(tree.add('a/+', undefined, 'c1', opts), true);
  assert.equal(tree.add('a/#', undefined, 'c1', opts), true);
  assert.equal(tree.add('a/+', undefined, 'c1', opts), false, 'same filter again replaces');
  tree.add('a/b', undefined, 'c2', opts);
  assert.deepEqual(matches(tree, 'a/b'), ['c1', 'c1', 'c2']);
  assert.equal(tree.size, 3);
  assert.equal(tree.remove('a/+', undefined, 'c1'), true);
  assert.equal(tree.remove('a/+', undefined, 'c1'), false);
  assert.deepEqual(matches(tree, 'a/b'), ['c1', 'c2']);
  tree.remove('a/#', undefined, 'c1');
  tree.remove('a/b', undefined, 'c2');
  assert.equal(tree.size, 0);
  assert.deepEqual(matches(tree, 'a/b'), []);
});

test('shared subscriptions are reported per group, apart from plain subscribers', () => {
  const tree = new TopicTree<string>();
  tree.add('city/#', 'ingest', 'w1', opts);
  tree.add('city/#', 'ingest', 'w2', opts);
  tree.add('city/+/x', 'audit', 'a1', opts);
  tree.add('city/#', undefined, 'plain', opts);
  assert.deepEqual(matches(tree, 'city/lights/x'), ['$share:audit:a1', '$share:ingest:w1,w2', 'plain']);
  tree.remove('city/#', 'ingest', 'w1');
  tree.remove('city/#', 'ingest', 'w2');
  assert.deepEqual(matches(tree, 'city/lights/x'), ['$share:audit:a1', 'plain']);
});

test('a topic matched before sees subscriptions added and removed after, on new and on existing nodes (remembered matches stay right)', () => {
  const tree = new TopicTree<string>();
  tree.add('city/+/status', undefined, 'a', opts);
  assert.deepEqual(matches(tree, 'city/lamp1/status'), ['a']);
  // a filter that creates nodes
  tree.add('city/#', undefined, 'b', opts);
  assert.deepEqual(matches(tree, 'city/lamp1/status'), ['a', 'b']);
  // a second subscriber on an existing node, and a share group there
  tree.add('city/+/status', undefined, 'c', opts);
  tree.add('city/+/status', 'g', 'd', opts);
  assert.deepEqual(matches(tree, 'city/lamp1/status'), ['$share:g:d', 'a', 'b', 'c']);
  // removals: one that leaves the node in use, one that prunes it
  tree.remove('city/+/status', undefined, 'a');
  assert.deepEqual(matches(tree, 'city/lamp1/status'), ['$share:g:d', 'b', 'c']);
  tree.remove('city/#', undefined, 'b');
  assert.deepEqual(matches(tree, 'city/lamp1/status'), ['$share:g:d', 'c']);
  tree.remove('city/+/status', undefined, 'c');
  tree.remove('city/+/status', 'g', 'd');
  assert.deepEqual(matches(tree, 'city/lamp1/status'), []);
  // the same filter again, on nodes made anew
  tree.add('city/+/status', undefined, 'e', opts);
  assert.deepEqual(matches(tree, 'city/lamp1/status'), ['e']);
});

test('more distinct topics than a tree remembers still match exactly', () => {
  const tree = new TopicTree<string>();
  tree.add('d/+', undefined, 'a', opts);
  for (let i = 0; i < 70_000; i++) assert.equal(matches(tree, `d/${i}`).length, 1);
  tree.add('d/69999', undefined, 'b', opts);
  assert.deepEqual(matches(tree, 'd/69999'), ['a', 'b']);
  assert.deepEqual(matches(tree, 'd/1'), ['a']);
});
