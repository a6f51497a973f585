/**
 * MQTT Variable Byte Integer (spec 1.5.5). Pure; called from: worker.
 */
import { malformed } from './errors.ts';

/** Largest value a 4-byte Variable Byte Integer can carry. */
export const MAX_VARINT = 268_435_455;

/** Number of bytes `value` (0..MAX_VARINT) takes as a Variable Byte Integer. */
export function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x20_0000 ? 3 : 4;
}

/** Writes `value` at buf[pos]; returns the position after it. The caller sized `buf` with varintSize. */
export function writeVarint(buf: Buffer, pos: number, value: number): number {
  do {
    let byte = value & 0x7f;
    value >>>= 7;
    if (value > 0) byte |= 0x80;
    buf[pos++] = byte;
  } while (value > 0);
  return pos;
}

/** Position after the last Variable Byte Integer read by {@link readVarint}. */
export let varintEnd = 0;

/** Reads a Variable Byte Integer from buf[pos..end); sets {@link varintEnd}. Throws MalformedPacket when it
 *  is truncated or longer than 4 bytes. */
export function readVarint(buf: Buffer, pos: number, end: number): number {
  let value = 0;
  let multiplier = 1;
  for (let n = 0; n < 4; n++) {
    if (pos >= end) throw malformed('MQTT_ERR_TRUNCATED', 'variable byte integer runs past the end of the packet');
    const byte = buf[pos++]!;
    value += (byte & 0x7f) * multiplier;
    if ((byte & 0x80) === 0) {
      varintEnd = pos;
      return value;
    }
    multiplier *= 128;
  }
  throw malformed('MQTT_ERR_VARINT', 'variable byte integer longer than 4 bytes');
}
