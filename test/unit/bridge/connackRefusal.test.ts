/**
 * The line a bridge logs when the remote's CONNACK refuses it, word for word Mosquitto 2.0.11's
 * (src/handle_connack.c, lib/strings_mosq.c mosquitto_reason_string).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connackRefusalLine } from '../../../src/bridge/connackRefusal.ts';

test('3.1/3.1.1 return codes, Mosquitto\'s "broker unavailable" for 4 included; v5 reason strings; unknown codes', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 9].map((c) => connackRefusalLine(4, c)), [
    'Connection Refused: unacceptable protocol version', 'Connection Refused: identifier rejected',
    'Connection Refused: broker unavailable', 'Connection Refused: broker unavailable',
    'Connection Refused: not authorised', 'Connection Refused: unknown reason',
  ]);
  assert.deepEqual([0x86, 0x87, 0x8a, 0x9a, 0x9b, 0x7f].map((c) => connackRefusalLine(5, c)), [
    'Connection Refused: Bad User Name or Password', 'Connection Refused: Not authorized', 'Connection Refused: Banned',
    'Connection Refused: retain not available (will retry)', 'Connection Refused: QoS not supported (will retry)',
    'Connection Refused: Unknown reason',
  ]);
});
