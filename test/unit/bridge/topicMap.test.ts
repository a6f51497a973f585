/** Bridge topic remapping and restart timing, as Mosquitto's bridge_topic.c and bridge.c. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTopicLine } from '../../../src/config/bridgeOptions.ts';
import { localTopicOf, remoteTopicOf } from '../../../src/bridge/topicMap.ts';
import { topicMatchesFilter as topicMatches } from '../../../src/auth/acl.ts';
import { RestartPolicy } from '../../../src/bridge/restartPolicy.ts';

describe('bridge topic remapping', () => {
  const topics = [parseTopicLine('sensors/# out 1 site/ cloud/site1/'), parseTopicLine('cmd/# in 1 local/ cloud/site1/'), parseTopicLine('plain/+ both')];

  test('out: the local prefix is replaced by the remote one; a topic no out line matches has no remote topic', () => {
    assert.equal(remoteTopicOf(topics, 'site/sensors/t1'), 'cloud/site1/sensors/t1');
    assert.equal(remoteTopicOf(topics, 'plain/x'), 'plain/x');
    assert.equal(remoteTopicOf(topics, 'local/cmd/x'), undefined);
  });

  test('in: the remote prefix is replaced by the local one; unmatched topics are kept as they are', () => {
    assert.equal(localTopicOf(topics, 'cloud/site1/cmd/reboot'), 'local/cmd/reboot');
    assert.equal(localTopicOf(topics, 'plain/y'), 'plain/y');
  });

  test('matching as mosquitto_topic_matches_sub: # includes the parent, $ topics need a literal first level', () => {
    assert.ok(topicMatches('a/#', 'a'));
    assert.ok(topicMatches('a/+/c', 'a/b/c'));
    assert.ok(!topicMatches('a/+', 'a/b/c'));
    assert.ok(!topicMatches('#', '$SYS/x'));
    assert.ok(topicMatches('$SYS/#', '$SYS/x'));
  });
});

describe('bridge restart timing', () => {
  test('restart_timeout N: a constant delay; every attempt moves to the next address', () => {
    const p = new RestartPolicy({ kind: 'constant', seconds: 3 }, 2);
    assert.equal(p.next(), 3);
    assert.equal(p.address, 1);
    assert.equal(p.next(), 3);
    assert.equal(p.address, 0);
  });

  test('restart_timeout BASE CAP: decorrelated jitter stays within base..cap and starts again from base after a connection', () => {
    const p = new RestartPolicy({ kind: 'backoff', base: 5, cap: 30 }, 1, () => 0.999);
    const waits = Array.from({ length: 6 }, () => p.next());
    assert.equal(waits[0], 5);
    assert.ok(waits.every((w) => w >= 5 && w <= 30), String(waits));
    assert.equal(waits.at(-1), 30);
    p.connected();
    assert.equal(p.next(), 5);
  });

  test('the primary address answered a probe: the next attempt goes there', () => {
    const p = new RestartPolicy({ kind: 'constant', seconds: 1 }, 3);
    p.next();
    p.next();
    assert.equal(p.address, 2);
    p.next(true);
    assert.equal(p.address, 0);
  });
});
