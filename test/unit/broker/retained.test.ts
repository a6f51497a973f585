import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RetainedStore } from '../../../src/broker/retained.ts';
import { createMessage } from '../../../src/model/message.ts';

const msg = (topic: string, payload: string, expirySeconds?: number, now = 1000) =>
  createMessage(topic, Buffer.from(payload), 1, true, expirySeconds === undefined ? undefined : { messageExpiryInterval: expirySeconds }, 'c', now);

const topics = (store: RetainedStore, filter: string, now = 1000) => store.match(filter, now).map((m) => m.topic).sort();

test('[MQTT-3.3.1-5] retained message replaced by newer one', () => {
  const s = new RetainedStore();
  s.set(msg('a/b', 'one'));
  s.set(msg('a/b', 'two'));
  assert.equal(s.size, 1);
  assert.equal(s.get('a/b')?.payload.toString(), 'two');
});

test('[MQTT-3.3.1-6] an empty retained payload clears the topic', () => {
  const s = new RetainedStore();
  s.set(msg('a/b', 'one'));
  s.set(msg('a/b/c', 'deeper'));
  s.set(msg('a/b', ''));
  assert.equal(s.get('a/b'), undefined);
  assert.deepEqual(topics(s, '#'), ['a/b/c']);
  assert.equal(s.size, 1);
});

test('retained messages are found by wildcard filters; $ topics not by leading wildcards [MQTT-4.7.2-1]', () => {
  const s = new RetainedStore();
  for (const t of ['sport', 'sport/tennis', 'sport/tennis/p1', 'sport/golf', '$SYS/uptime', '/lead']) s.set(msg(t, 'x'));
  assert.deepEqual(topics(s, 'sport/#'), ['sport', 'sport/golf', 'sport/tennis', 'sport/tennis/p1']);
  assert.deepEqual(topics(s, 'sport/+'), ['sport/golf', 'sport/tennis']);
  assert.deepEqual(topics(s, '+/tennis/#'), ['sport/tennis', 'sport/tennis/p1']);
  assert.deepEqual(topics(s, '#'), ['/lead', 'sport', 'sport/golf', 'sport/tennis', 'sport/tennis/p1']);
  assert.deepEqual(topics(s, '+'), ['sport']);
  assert.deepEqual(topics(s, '$SYS/#'), ['$SYS/uptime']);
  assert.deepEqual(topics(s, '+/+'), ['/lead', 'sport/golf', 'sport/tennis']);
});

test('[MQTT-3.3.2-5] an expired retained message is no longer delivered and is removed', () => {
  const s = new RetainedStore();
  s.set(msg('a', 'x', 2, 1000));
  assert.deepEqual(topics(s, 'a', 2500), ['a']);
  assert.deepEqual(topics(s, 'a', 3001), []);
  assert.equal(s.size, 0);
});
