/** Retained messages as bucket entries (src/nats/retainedBucket.ts): keys valid for KV, values round-trip. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMessage } from '../../../src/model/message.ts';
import { decodeRetained, encodeRetained, retainedKey } from '../../../src/nats/retainedBucket.ts';

test('every topic gives a valid KV key that gives the topic back', () => {
  for (const topic of ['a', 'a/b', '/', '$SYS/x', 'a.b c/*/>', 'é/日本', '%']) {
    const key = retainedKey(topic);
    assert.match(key, /^[-_A-Za-z0-9]+$/);
    assert.equal(Buffer.from(key, 'base64url').toString(), topic);
  }
});

test('a retained message round-trips with its QoS, properties and absolute expiry', () => {
  const m = createMessage('t/1', Buffer.from([1, 2, 3]), 1, true, { contentType: 'c', messageExpiryInterval: 30 }, 'client', 5000);
  const back = decodeRetained('t/1', encodeRetained(m, 'n1', 5000), 9000);
  assert.deepEqual(back.payload, Buffer.from([1, 2, 3]));
  assert.equal(back.qos, 1);
  assert.equal(back.retain, true);
  assert.equal(back.properties!.contentType, 'c');
  assert.equal(back.expiresAt, 35_000); // not counted again from when it was read
  const plain = decodeRetained('t', encodeRetained(createMessage('t', Buffer.from('x'), 0, true, undefined, '', 0), 'n1', 0), 0);
  assert.equal(plain.properties, undefined);
  assert.equal(plain.expiresAt, 0);
});

test("a client's retained message keeps its publisher (check_retain_source) on other nodes; a broker's has none", () => {
  for (const source of [{ clientId: 'c', username: 'alice', listenerIndex: 1 }, { clientId: 'c', username: undefined, listenerIndex: undefined }]) {
    const m = createMessage('t', Buffer.from('x'), 1, true, undefined, 'c', 0, source);
    assert.deepEqual(decodeRetained('t', encodeRetained(m, 'n1', 0), 0).source, source);
  }
  assert.equal(decodeRetained('t', encodeRetained(createMessage('t', Buffer.from('x'), 0, true, undefined, '', 0), 'n1', 0), 0).source, undefined);
});
