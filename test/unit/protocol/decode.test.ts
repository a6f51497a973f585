import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodePacket } from '../../../src/protocol/decode.ts';
import { MqttProtocolError, ReasonCode } from '../../../src/protocol/errors.ts';
import { packetFixtures } from '../../fixtures/packets.ts';
import { assertFields, decodeFixture, frameAll, title } from './helpers.ts';

describe('fixture table', () => {
  test('fixture names are unique and every fixture expects a packet or a reason', () => {
    const names = new Set(packetFixtures.map((f) => f.name));
    assert.equal(names.size, packetFixtures.length);
    for (const f of packetFixtures) assert.ok((f.packet === undefined) !== (f.expectReason === undefined), f.name);
  });
});

describe('decode every fixture', () => {
  for (const fixture of packetFixtures) {
    test(title(fixture), () => {
      if (fixture.packet !== undefined) {
        assertFields(decodeFixture(fixture), fixture.packet, fixture.name);
        return;
      }
      assert.throws(() => decodeFixture(fixture), (error: unknown) => {
        assert.ok(error instanceof MqttProtocolError, `MqttProtocolError expected, got ${String(error)}`);
        assert.equal(error.reasonCode, fixture.expectReason, `reason code (${error.message})`);
        assert.match(error.code, /^MQTT_ERR_[A-Z0-9_]+$/);
        if ((Buffer.from(fixture.hex, 'hex')[0]! >> 4) === 1) assert.equal(error.protocolVersion, fixture.expectProtocolVersion);
        return true;
      });
    });
  }
});

describe('decodePacket', () => {
  test('[MQTT-3.1.0-2] a second CONNECT is a protocol error', () => {
    const [[frame, offset]] = frameAll(Buffer.from('100c00044d5154540402003c0000', 'hex')) as [[Buffer, number]];
    assert.throws(() => decodePacket(frame, offset, 4), (e: unknown) => e instanceof MqttProtocolError && e.reasonCode === ReasonCode.ProtocolError);
  });

  test('PUBLISH payload is a view of the frame, not a copy', () => {
    const frame = Buffer.from('3007000161' + '78797a', 'hex').subarray(0);
    const packet = decodePacket(frame, 2, 4);
    assert.equal(packet.cmd, 'publish');
    if (packet.cmd !== 'publish') return;
    assert.ok(Buffer.isBuffer(packet.payload));
    assert.equal(packet.payload.buffer, frame.buffer);
    frame[frame.length - 1] = 0x21;
    assert.equal(packet.payload.toString(), 'xy!');
  });

  test('errors carry a spec tag in the message when they have one', () => {
    const [[frame, offset]] = frameAll(Buffer.from('3603000161', 'hex')) as [[Buffer, number]];
    assert.throws(() => decodePacket(frame, offset, 4), (e: unknown) =>
      e instanceof MqttProtocolError && e.spec === 'MQTT-3.3.1-4' && e.message.startsWith('[MQTT-3.3.1-4]'));
  });
});
