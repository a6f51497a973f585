/**
 * CONNACK contents decided without a socket: the properties of an accepting v5 CONNACK (only what
 * differs from the spec's defaults, in Mosquitto 2.0.11's order) and the 3.1/3.1.1 acceptances.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connackProperties, v3Connack } from '../../../src/link/connack.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';

test('connackProperties leaves out every property at its default value (Mosquitto send_connack.c)', () => {
  const cfg = defaultConfig({ maxTopicAlias: 0, maxInflightMessages: 0 });
  assert.deepEqual(connackProperties(cfg, 65535, undefined, undefined), {});
});

test('connackProperties lists what differs, in Mosquitto\'s order', () => {
  const cfg = defaultConfig({ maxTopicAlias: 10, retainAvailable: false, maxPacketSize: 1000, maxQos: 1 });
  const p = connackProperties(cfg, 20, 30, 'auto-1');
  assert.deepEqual(Object.keys(p), [
    'topicAliasMaximum', 'serverKeepAlive', 'assignedClientIdentifier', 'retainAvailable', 'maximumPacketSize',
    'receiveMaximum', 'maximumQoS',
  ]);
  assert.deepEqual(p, {
    topicAliasMaximum: 10, serverKeepAlive: 30, assignedClientIdentifier: 'auto-1', retainAvailable: false,
    maximumPacketSize: 1000, receiveMaximum: 20, maximumQoS: 1,
  });
});

test('[MQTT-3.2.2-2] v3Connack: Session Present only for 3.1.1; MQTT 3.1 has no such flag', () => {
  assert.deepEqual([...v3Connack(4, true)], [0x20, 2, 1, 0]);
  assert.deepEqual([...v3Connack(4, false)], [0x20, 2, 0, 0]);
  assert.deepEqual([...v3Connack(3, true)], [0x20, 2, 0, 0]);
});
