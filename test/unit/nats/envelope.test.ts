/** A message between nodes (src/nats/envelope.ts): headers and properties survive the trip. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { headers } from '@nats-io/transport-node';
import { createMessage } from '../../../src/model/message.ts';
import { readMessage, writeHeaders } from '../../../src/nats/envelope.ts';

test('QoS, retain, origin, sequence and v5 properties round-trip; expiry becomes the time left', () => {
  const now = 1_000_000;
  const m = createMessage('a/b', Buffer.from('x'), 2, true, {
    userProperties: { k: ['v1', 'v2 with\nnewline'], é: 'ü' },
    correlationData: Buffer.from([0, 255]),
    contentType: 'c/t',
    responseTopic: 'r',
    payloadFormatIndicator: true,
    messageExpiryInterval: 60,
  }, 'publisher', now);
  const h = headers();
  writeHeaders(h, m, now + 10_500, 'n1', 'conn', 7);
  const data = new Uint8Array([120]);
  const got = readMessage('a/b', data, h, now + 20_000)!;
  assert.deepEqual(got.envelope, { origin: 'n1', conn: 'conn', seq: 7 });
  const r = got.message;
  assert.equal(r.qos, 2);
  assert.equal(r.retain, true);
  assert.equal(r.origin, ''); // No Local stays within a node
  assert.deepEqual(r.payload, Buffer.from('x'));
  assert.deepEqual(r.properties!.userProperties, { k: ['v1', 'v2 with\nnewline'], é: 'ü' });
  assert.deepEqual(r.properties!.correlationData, Buffer.from([0, 255]));
  assert.equal(r.properties!.messageExpiryInterval, 50); // 60 s, 10.5 s spent before sending: 50 left (rounded up)
  assert.equal(r.expiresAt, now + 20_000 + 50_000);
});

test('a message without properties carries none; headers of something else are refused', () => {
  const h = headers();
  writeHeaders(h, createMessage('t', Buffer.alloc(0), 0, false, undefined, '', 0), 0, 'n2', 'c', 1);
  const got = readMessage('t', new Uint8Array(0), h, 0)!;
  assert.equal(got.message.properties, undefined);
  assert.equal(got.message.retain, false);
  assert.equal(got.message.expiresAt, 0);
  assert.equal(readMessage('t', new Uint8Array(0), undefined, 0), undefined);
  assert.equal(readMessage('t', new Uint8Array(0), headers(), 0), undefined);
});
