/** Keys of the durable interest bucket (src/nats/durableInterest.ts): valid KV keys that name their node and worker. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { durableKey, keyTarget } from '../../../src/nats/durableInterest.ts';

test('a key names its node and worker, whatever the filter holds, and is a valid KV key', () => {
  for (const filter of ['a/b', '#', '+/x/#', 'sp ace/ü/$', 'a.b*c>', '']) {
    const key = durableKey('node-1_x', 3, filter);
    assert.match(key, /^[-/_=.a-zA-Z0-9]+$/);
    assert.deepEqual(keyTarget(key), { target: 'node-1_x.3', node: 'node-1_x', worker: 3 });
  }
  assert.notEqual(durableKey('n', 0, 'a/b'), durableKey('n', 0, 'a/c'));
  assert.notEqual(durableKey('n', 0, 'a/b'), durableKey('n', 1, 'a/b'));
});

test('keys that are not of this layout name no target', () => {
  for (const key of ['n.0', 'n.x.h', 'n.-1.h', 'n.1.5.h', '']) assert.equal(keyTarget(key), undefined, key);
});
