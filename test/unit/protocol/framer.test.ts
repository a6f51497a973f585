import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Framer, PROTOCOL_MAX_PACKET_SIZE, type FrameSink } from '../../../src/protocol/framer.ts';
import { MqttProtocolError, ReasonCode } from '../../../src/protocol/errors.ts';
import { fixtureBytes, packetFixtures } from '../../fixtures/packets.ts';

const sink = (onFrame: (frame: Buffer, bodyOffset: number) => void): FrameSink => ({ onFrame });

type Frames = Array<{ bytes: string; bodyOffset: number }>;

function collect(framer: Framer, chunks: Buffer[]): Frames {
  const out: Frames = [];
  for (const chunk of chunks) framer.push(chunk, sink((frame, bodyOffset) => out.push({ bytes: frame.toString('hex'), bodyOffset })));
  return out;
}

function expectedOffset(bytes: Buffer): number {
  let i = 1;
  while ((bytes[i]! & 0x80) !== 0) i++;
  return i + 1;
}

const all = packetFixtures.map(fixtureBytes);

describe('Framer', () => {
  test('every fixture split at every byte offset gives the same packet', () => {
    for (const bytes of all) {
      const expected = [{ bytes: bytes.toString('hex'), bodyOffset: expectedOffset(bytes) }];
      for (let cut = 0; cut <= bytes.length; cut++) {
        const framer = new Framer(0);
        assert.deepStrictEqual(collect(framer, [bytes.subarray(0, cut), bytes.subarray(cut)]), expected, `cut at ${cut}`);
        assert.equal(framer.buffered, 0);
      }
    }
  });

  test('every fixture fed one byte at a time', () => {
    for (const bytes of all) {
      const chunks = [...bytes].map((b) => Buffer.from([b]));
      const framer = new Framer(0);
      assert.deepStrictEqual(collect(framer, chunks), [{ bytes: bytes.toString('hex'), bodyOffset: expectedOffset(bytes) }]);
    }
  });

  test('all fixtures in one chunk come out in order, as views of the chunk', () => {
    const chunk = Buffer.concat(all);
    const views: Buffer[] = [];
    new Framer(0).push(chunk, sink((frame) => views.push(frame)));
    assert.deepStrictEqual(views.map((v) => v.toString('hex')), all.map((b) => b.toString('hex')));
    for (const view of views) assert.equal(view.buffer, chunk.buffer);
  });

  test('all fixtures concatenated and cut at every offset into three chunks', () => {
    const stream = Buffer.concat(all);
    const expected = all.map((b) => ({ bytes: b.toString('hex'), bodyOffset: expectedOffset(b) }));
    for (let cut = 1; cut < stream.length; cut += 7) {
      const second = Math.min(stream.length, cut + 13);
      const got = collect(new Framer(0), [stream.subarray(0, cut), stream.subarray(cut, second), stream.subarray(second)]);
      assert.deepStrictEqual(got, expected, `cuts at ${cut}, ${second}`);
    }
  });

  test('a packet larger than the first assembly buffer is assembled across many chunks', () => {
    const payload = Buffer.alloc(200_002, 7);
    const header = Buffer.from([0x30, 0xc5, 0x9a, 0x0c, 0x00, 0x01, 0x74]); // remaining 200_005: topic "t" + payload
    const packet = Buffer.concat([header, payload]);
    assert.equal(packet.length, 4 + 200_005);
    const framer = new Framer(0);
    const frames: Buffer[] = [];
    for (let i = 0; i < packet.length; i += 1000) {
      framer.push(packet.subarray(i, i + 1000), sink((frame) => frames.push(frame)));
      if (frames.length === 0) assert.equal(framer.buffered, Math.min(i + 1000, packet.length));
    }
    assert.equal(frames.length, 1);
    assert.ok(frames[0]!.equals(packet));
    assert.equal(framer.buffered, 0);
  });

  test('[MQTT-3.2.2-15] PacketTooLarge is raised from the fixed header alone, before the body arrives', () => {
    const framer = new Framer(1024);
    // remaining length 2000 → whole packet 2003 bytes
    assert.throws(() => framer.push(Buffer.from([0x30, 0xd0, 0x0f]), sink(() => assert.fail('no packet expected'))),
      (e: unknown) => e instanceof MqttProtocolError && e.reasonCode === ReasonCode.PacketTooLarge);
  });

  test('PacketTooLarge when the length bytes arrive split across chunks', () => {
    const framer = new Framer(100);
    framer.push(Buffer.from([0x30, 0x80]), sink(() => {}));
    assert.throws(() => framer.push(Buffer.from([0x01]), sink(() => {})),
      (e: unknown) => e instanceof MqttProtocolError && e.reasonCode === ReasonCode.PacketTooLarge);
  });

  test('[MQTT-3.2.2-15] a packet exactly at maxPacketSize passes, one byte more does not', () => {
    const exact = Buffer.concat([Buffer.from([0x30, 0x08, 0x00, 0x01, 0x74]), Buffer.alloc(5)]); // 10 bytes
    assert.equal(collect(new Framer(10), [exact]).length, 1);
    assert.throws(() => collect(new Framer(9), [exact]), (e: unknown) => e instanceof MqttProtocolError && e.reasonCode === ReasonCode.PacketTooLarge);
  });

  test('maxPacketSize 0 means the protocol maximum', () => {
    assert.equal(PROTOCOL_MAX_PACKET_SIZE, 268_435_460);
    const framer = new Framer(0);
    framer.push(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]), sink(() => assert.fail('incomplete')));
    assert.ok(framer.buffered > 0 && framer.buffered < 10_000, 'buffers what arrived, not what was announced');
  });

  test('a remaining length of more than 4 bytes is malformed', () => {
    assert.throws(() => new Framer(0).push(Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]), sink(() => {})),
      (e: unknown) => e instanceof MqttProtocolError && e.reasonCode === ReasonCode.MalformedPacket);
    const framer = new Framer(0);
    framer.push(Buffer.from([0x30, 0x80, 0x80]), sink(() => {}));
    assert.throws(() => framer.push(Buffer.from([0x80, 0x80]), sink(() => {})),
      (e: unknown) => e instanceof MqttProtocolError && e.reasonCode === ReasonCode.MalformedPacket);
  });

  test('short input never throws and is reported by buffered', () => {
    const framer = new Framer(0);
    framer.push(Buffer.from([0x30]), sink(() => assert.fail('incomplete')));
    assert.equal(framer.buffered, 1);
    framer.push(Buffer.from([0x05, 0x00]), sink(() => assert.fail('incomplete')));
    assert.equal(framer.buffered, 3);
    framer.push(Buffer.alloc(0), sink(() => assert.fail('incomplete')));
    assert.equal(framer.buffered, 3);
  });

  test('an exception from onPacket propagates and the next push starts a new packet', () => {
    const framer = new Framer(0);
    const boom = new Error('handler failed');
    assert.throws(() => framer.push(Buffer.from([0xc0, 0x00, 0xc0]), sink(() => { throw boom; })), (e: unknown) => e === boom);
    assert.equal(framer.buffered, 0);
    const split = new Framer(0);
    split.push(Buffer.from([0xc0]), sink(() => {}));
    assert.throws(() => split.push(Buffer.from([0x00]), sink(() => { throw boom; })), (e: unknown) => e === boom);
    assert.equal(split.buffered, 0);
    assert.deepStrictEqual(collect(split, [Buffer.from([0xd0, 0x00])]), [{ bytes: 'd000', bodyOffset: 2 }]);
  });
});
