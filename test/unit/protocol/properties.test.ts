import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IPublishPacket } from 'mqtt-packet';
import { decodePacket } from '../../../src/protocol/decode.ts';
import { encodePacket } from '../../../src/protocol/encode.ts';
import { PropertyKind, propertiesEnd, propertiesLength, readProperties, writeProperties } from '../../../src/protocol/properties.ts';
import type { Properties } from '../../../src/protocol/properties.ts';
import { userPropertiesFromPairs, userPropertyPairs } from '../../../src/protocol/userProperties.ts';
import { varintSize } from '../../../src/protocol/varint.ts';

/** PUBLISH v5, topic "t", no packet id, with the given user properties in order. */
function publishWithUsers(pairs: Array<[string, string]>): Buffer {
  const section = pairs.map(([k, v]) => '26' + hexString(k) + hexString(v)).join('');
  const body = '000174' + (section.length / 2).toString(16).padStart(2, '0') + section;
  return Buffer.from('30' + (body.length / 2).toString(16).padStart(2, '0') + body, 'hex');
}
function hexString(s: string): string {
  return Buffer.byteLength(s).toString(16).padStart(4, '0') + Buffer.from(s).toString('hex');
}

function write(properties: Properties): Buffer {
  const length = propertiesLength(properties);
  const buf = Buffer.alloc(varintSize(length) + length);
  assert.equal(writeProperties(buf, 0, properties, length), buf.length);
  return buf;
}

describe('user property order', () => {
  const pairs: Array<[string, string]> = [['z', '1'], ['a', '2'], ['z', '3'], ['m', '']];

  test('[MQTT-3.3.2-18] interleaved user properties are re-encoded in wire order', () => {
    const bytes = publishWithUsers(pairs);
    const packet = decodePacket(bytes, 2, 5) as IPublishPacket;
    assert.deepStrictEqual({ ...packet.properties!.userProperties }, { z: ['1', '3'], a: '2', m: '' });
    assert.ok(encodePacket(packet, 5).equals(bytes));
    assert.deepStrictEqual(userPropertyPairs(packet.properties!.userProperties!), pairs);
  });

  test('the order survives copying the properties object, as the broker does when it strips the topic alias', () => {
    const packet = decodePacket(publishWithUsers(pairs), 2, 5) as IPublishPacket;
    const copy = { ...packet.properties, topicAlias: undefined };
    assert.deepStrictEqual(userPropertyPairs(copy.userProperties!), pairs);
  });

  test('a modified object falls back to grouped order', () => {
    const packet = decodePacket(publishWithUsers(pairs), 2, 5) as IPublishPacket;
    const users = packet.properties!.userProperties!;
    users.extra = 'x';
    assert.deepStrictEqual(userPropertyPairs(users), [['z', '1'], ['z', '3'], ['a', '2'], ['m', ''], ['extra', 'x']]);
    users.z = ['1', 'changed'];
    delete users.extra;
    assert.deepStrictEqual(userPropertyPairs(users), [['z', '1'], ['z', 'changed'], ['a', '2'], ['m', '']]);
  });

  test('userPropertiesFromPairs restores the order (e.g. after storage)', () => {
    const restored = userPropertiesFromPairs(pairs);
    assert.deepStrictEqual({ ...restored }, { z: ['1', '3'], a: '2', m: '' });
    assert.deepStrictEqual(userPropertyPairs(restored), pairs);
  });

  test('a plain object is written grouped by name', () => {
    assert.deepStrictEqual(userPropertyPairs({ b: ['1', '2'], a: '3' }), [['b', '1'], ['b', '2'], ['a', '3']]);
  });
});

describe('property section writer and reader', () => {
  test('every property type survives write → read', () => {
    const all: Properties = {
      payloadFormatIndicator: true, messageExpiryInterval: 0xffffffff, contentType: 'c/t', responseTopic: 'r',
      correlationData: Buffer.from([1, 2]), subscriptionIdentifier: 268_435_455, sessionExpiryInterval: 5,
      assignedClientIdentifier: 'id', serverKeepAlive: 65535, authenticationMethod: 'm', authenticationData: Buffer.from([3]),
      requestProblemInformation: false, willDelayInterval: 1, requestResponseInformation: true, responseInformation: 'ri',
      serverReference: 'sr', reasonString: 'why', receiveMaximum: 1, topicAliasMaximum: 0, topicAlias: 7, maximumQoS: 1,
      retainAvailable: false, userProperties: userPropertiesFromPairs([['k', 'v']]), maximumPacketSize: 1024,
      wildcardSubscriptionAvailable: true, subscriptionIdentifiersAvailable: false, sharedSubscriptionAvailable: true,
    };
    const bytes = write(all);
    // no packet allows all of them: read with every kind bit set
    const read = readProperties(bytes, 0, bytes.length, 0x7ff);
    assert.equal(propertiesEnd, bytes.length);
    assert.deepStrictEqual(read, all);
  });

  test('an empty section is one zero byte and reads as undefined', () => {
    const bytes = write({});
    assert.deepStrictEqual([...bytes], [0]);
    assert.equal(readProperties(bytes, 0, 1, PropertyKind.Publish), undefined);
    assert.equal(propertiesEnd, 1);
  });

  test('unknown property names are a caller bug', () => {
    assert.throws(() => propertiesLength({ notAProperty: 1 }), /unknown MQTT 5 property/);
  });
});
