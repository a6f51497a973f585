/** Shared helpers of the codec tests. */
import assert from 'node:assert/strict';
import type { Packet } from 'mqtt-packet';
import { decodeConnect, decodePacket } from '../../../src/protocol/decode.ts';
import { Framer } from '../../../src/protocol/framer.ts';
import { fixtureBytes } from '../../fixtures/packets.ts';
import type { PacketFixture } from '../../fixtures/packets.ts';

/** Splits `bytes` into [frame, bodyOffset] pairs with a fresh Framer (frames copied). */
export function frameAll(bytes: Buffer, maxPacketSize = 0): Array<[Buffer, number]> {
  const out: Array<[Buffer, number]> = [];
  new Framer(maxPacketSize).push(bytes, { onFrame: (frame, bodyOffset) => out.push([Buffer.from(frame), bodyOffset]) });
  return out;
}

/** Decodes one whole packet by the fixture rule: CONNECT with decodeConnect, the rest with decodePacket. */
export function decodeBytes(bytes: Buffer, version: 3 | 4 | 5): Packet {
  const frames = frameAll(bytes);
  assert.equal(frames.length, 1, 'exactly one frame');
  const [frame, bodyOffset] = frames[0]!;
  return frame[0]! >> 4 === 1 ? decodeConnect(frame, bodyOffset) : decodePacket(frame, bodyOffset, version);
}

/** Decodes a fixture by the fixture rule. */
export function decodeFixture(fixture: PacketFixture): Packet {
  return decodeBytes(fixtureBytes(fixture), fixture.version);
}

/** Asserts each field of `expected` deep-equals the same field of `actual`. */
export function assertFields(actual: object, expected: Readonly<Record<string, unknown>>, context = ''): void {
  for (const key of Object.keys(expected)) {
    assert.deepStrictEqual((actual as Record<string, unknown>)[key], expected[key], `${context} field ${key}`);
  }
}

/** Test title: spec tag first when there is one. */
export function title(fixture: PacketFixture): string {
  return fixture.spec === undefined ? fixture.name : `[${fixture.spec}] ${fixture.name}`;
}
