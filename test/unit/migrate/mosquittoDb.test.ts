/**
 * The reader of Mosquitto's persistence file against Mosquitto's own fixtures (v2.0.11
 * test/unit/files/persist_read/, test/fixtures/mosquitto-db/README.md): the values asserted are
 * those Mosquitto's test/unit/persist_read_test.c asserts for the same file (plus the v6
 * subscription's option bits, which it does not check), and the files Mosquitto refuses are
 * refused (those it loads with a warning are read).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MosquittoDbError, MsgState, Direction, readMosquittoDb } from '../../../src/migrate/mosquittoDb.ts';
import type { MosquittoDb } from '../../../src/migrate/mosquittoDb.ts';

const read = (name: string): MosquittoDb => readMosquittoDb(readFileSync(new URL(`../../fixtures/mosquitto-db/${name}`, import.meta.url)), name);

const refused = (name: string, code: string, message: RegExp) => {
  assert.throws(() => read(name), (err: unknown) => err instanceof MosquittoDbError && err.code === code && message.test(err.message));
};

test('Mosquitto persist_read: a file without the magic, or of an unknown version, is refused naming the version', () => {
  refused('corrupt-header-short.test-db', 'MOSQ_DB_MAGIC', /corrupt-header-short\.test-db is not a Mosquitto persistence file/);
  refused('corrupt-header-long.test-db', 'MOSQ_DB_MAGIC', /is not a Mosquitto persistence file/);
  refused('empty.test-db', 'MOSQ_DB_MAGIC', /empty\.test-db is empty/);
  refused('unsupported-version.test-db', 'MOSQ_DB_VERSION', /unsupported-version\.test-db is a Mosquitto persistence file of version 4294967295; culex reads versions 2, 3, 4, 5, 6/);
});

test('Mosquitto persist_read: truncated chunks and a dbid size other than 8 are refused', () => {
  refused('v3-cfg-truncated.test-db', 'MOSQ_DB_CORRUPT', /chunk 1 \(type 1\) at byte 23: ends 1 byte\(s\) early/);
  refused('v5-cfg-truncated.test-db', 'MOSQ_DB_CORRUPT', /chunk 1 \(type 1\)/);
  refused('v3-cfg-bad-dbid.test-db', 'MOSQ_DB_CORRUPT', /dbid size is 9 bytes, expected 8/);
});

test('Mosquitto persist_read: configuration chunks of versions 3, 4 and 6; an unknown chunk is skipped', () => {
  for (const [name, version] of [['v3-cfg.test-db', 3], ['v4-cfg.test-db', 4], ['v6-cfg.test-db', 6]] as const) {
    const db = read(name);
    assert.equal(db.version, version);
    assert.equal(db.shutdown, true);
  }
  assert.equal(read('v3-bad-chunk.test-db').unknownChunks, 1);
  assert.equal(read('v5-bad-chunk.test-db').unknownChunks, 1);
});

test('Mosquitto persist_read: message store chunks (v3, v4, v6, v6 with properties)', () => {
  const v3 = read('v3-message-store.test-db').messages.get(1n)!;
  assert.deepEqual([v3.sourceId, v3.topic, v3.payload.toString(), v3.qos, v3.retain], ['source_id', 'topic', 'payload', 2, true]);
  const v4 = read('v4-message-store.test-db').messages.get(0xfedcba9876543210n)!;
  assert.deepEqual([v4.sourceId, v4.topic, v4.payload.length, v4.qos, v4.retain], ['source_id', 'topic', 7, 1, false]);
  const v6 = read('v6-message-store.test-db').messages.get(1n)!;
  assert.deepEqual([v6.sourceId, v6.topic, v6.payload.length, v6.qos, v6.retain, v6.properties], ['source_id', 'topic', 7, 2, true, undefined]);
  assert.deepEqual(read('v6-message-store-props.test-db').messages.get(1n)!.properties, { payloadFormatIndicator: true });
});

test('Mosquitto persist_read: client chunks (v3, v5, v6 with username and listener port)', () => {
  const v3 = read('v3-client.test-db').clients[0]!;
  assert.deepEqual([v3.clientId, v3.lastMid, v3.sessionExpiryInterval], ['client-id', 0x5287, 0xffffffff]);
  assert.equal(read('v5-client.test-db').clients[0]!.lastMid, 0x5287);
  const v6 = read('v6-client.test-db').clients[0]!;
  assert.deepEqual([v6.clientId, v6.lastMid, v6.username, v6.listenerPort], ['client-id', 0x5287, 'usrname', 1883]);
});

test('Mosquitto persist_read: client message chunks (v3, v6, v6 with properties): mid 0x73, QoS 1, out, waiting for PUBACK', () => {
  for (const name of ['v3-client-message.test-db', 'v6-client-message.test-db', 'v6-client-message-props.test-db']) {
    const db = read(name);
    const cm = db.clientMessages[0]!;
    assert.deepEqual([cm.clientId, cm.mid, cm.qos, cm.retain, cm.dup, cm.direction, cm.state], ['client-id', 0x73, 1, false, false, Direction.Out, MsgState.WaitForPuback], name);
    assert.ok(db.messages.has(cm.storeId), name);
  }
  assert.deepEqual(read('v6-client-message-props.test-db').clientMessages[0]!.properties, { payloadFormatIndicator: true });
});

test('Mosquitto persist_read: retain chunks (v3, v6) and subscription chunks (v3; v6 with identifier and options)', () => {
  for (const name of ['v3-retain.test-db', 'v6-retain.test-db']) {
    const db = read(name);
    assert.deepEqual(db.retained, [0x54n], name);
    assert.equal(db.messages.get(0x54n)!.topic, 'topic', name);
  }
  assert.deepEqual(read('v3-sub.test-db').subscriptions, [{ clientId: 'client-id', topic: 'subscription', qos: 1, identifier: 0, noLocal: false, retainAsPublished: false }]);
  assert.deepEqual(read('v6-sub.test-db').subscriptions, [{ clientId: 'client-id', topic: 'subscription', qos: 1, identifier: 0x7623, noLocal: true, retainAsPublished: true }]);
});
