import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Framer } from '../../../src/protocol/framer.ts';
import { decodeConnect, decodePacket } from '../../../src/protocol/decode.ts';
import { encodePacket } from '../../../src/protocol/encode.ts';
import { encodeAck } from '../../../src/protocol/packets/ack.ts';
import { encodePublish } from '../../../src/protocol/packets/publish.ts';
import { MqttProtocolError, ReasonCode } from '../../../src/protocol/errors.ts';

function frames(bytes: Buffer, max = 0): Array<[Buffer, number]> {
  const out: Array<[Buffer, number]> = [];
  new Framer(max).push(bytes, (frame, bodyOffset) => out.push([Buffer.from(frame), bodyOffset]));
  return out;
}

test('CONNECT, PUBLISH and PUBACK survive encode → frame → decode for 3.1.1 and 5.0', () => {
  for (const version of [4, 5] as const) {
    const connect = encodePacket({ cmd: 'connect', clientId: 'c1', protocolVersion: version, keepalive: 30, clean: true }, version);
    const publish = encodePublish('a/b', Buffer.from('hi'), 1, false, false, 7, version).bytes;
    const puback = encodeAck('puback', 7, version);
    const got = frames(Buffer.concat([connect, publish, puback]));
    assert.equal(got.length, 3);
    const c = decodeConnect(got[0]![0], got[0]![1]);
    assert.equal(c.clientId, 'c1');
    assert.equal(c.protocolVersion, version);
    const p = decodePacket(got[1]![0], got[1]![1], version);
    assert.equal(p.cmd, 'publish');
    if (p.cmd === 'publish') {
      assert.equal(p.topic, 'a/b');
      assert.equal(p.messageId, 7);
      assert.deepEqual(p.payload, Buffer.from('hi'));
    }
    const a = decodePacket(got[2]![0], got[2]![1], version);
    assert.equal(a.cmd, 'puback');
    assert.equal(a.messageId, 7);
  }
});

test('unknown protocol level is answered as a v3 CONNACK code 1', () => {
  const bytes = Buffer.from('101000044d5154540701000a0004636c6964', 'hex');
  const [[frame, offset]] = frames(bytes) as [[Buffer, number]];
  assert.throws(() => decodeConnect(frame, offset), (e: unknown) =>
    e instanceof MqttProtocolError && e.reasonCode === ReasonCode.UnsupportedProtocolVersion && e.protocolVersion === 4);
});

test('framer raises PacketTooLarge from the header alone', () => {
  assert.throws(() => new Framer(100).push(Buffer.from([0x30, 0xff, 0x01]), () => {}),
    (e: unknown) => e instanceof MqttProtocolError && e.reasonCode === ReasonCode.PacketTooLarge);
});
