import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodePacket } from '../../../src/protocol/encode.ts';
import { packetFixtures } from '../../fixtures/packets.ts';
import { assertFields, decodeBytes, decodeFixture, title } from './helpers.ts';

/** Valid packets mqtt-packet's generate() refuses (CONNECT is encoded by mqtt-packet, only for bridges). */
const GENERATE_REFUSES = new Map([
  ['CONNECT 5.0 password without user name is allowed', /Username is required/],
  ['CONNECT 5.0 empty client id without clean start (server assigns one)', /clientId must be given/],
]);

describe('round trip: decode → encodePacket → decode', () => {
  for (const fixture of packetFixtures) {
    if (fixture.packet === undefined) continue;
    const refusal = GENERATE_REFUSES.get(fixture.name);
    if (refusal !== undefined) {
      test(`${title(fixture)}: mqtt-packet cannot encode it`, () => {
        assert.throws(() => encodePacket(decodeFixture(fixture), fixture.version), refusal);
      });
      continue;
    }
    test(title(fixture), () => {
      const decoded = decodeFixture(fixture);
      const again = decodeBytes(encodePacket(decoded, fixture.version), fixture.version);
      assertFields(again, fixture.packet!, fixture.name);
    });
  }
});
