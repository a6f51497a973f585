/**
 * UTF-8 string rules of MQTT (spec 1.5.4). Pure; called from: worker.
 */
import { isUtf8 } from 'node:buffer';

/** Largest UTF-8 encoded string a 2-byte length prefix can carry. */
export const MAX_STRING_BYTES = 65_535;

/**
 * Decodes buf[start..end) as an MQTT UTF-8 string, or returns undefined when the bytes are not
 * well-formed UTF-8 [MQTT-1.5.4-1] or contain U+0000 [MQTT-1.5.4-2].
 * Allocates only the string: the full UTF-8 check runs only when the decoder met a replacement
 * character (invalid input, or a genuine U+FFFD).
 */
export function readMqttString(buf: Buffer, start: number, end: number): string | undefined {
  const text = buf.toString('utf8', start, end);
  if (text.indexOf('\u0000') !== -1) return undefined;
  if (text.indexOf('\uFFFD') !== -1 && !isUtf8(buf.subarray(start, end))) return undefined;
  return text;
}

/** True when buf[start..end) is well-formed UTF-8 without U+0000 (an MQTT UTF-8 string) */
export function isMqttUtf8(buf: Buffer, start = 0, end = buf.length): boolean {
  if (!isUtf8(buf.subarray(start, end))) return false;
  const nul = buf.indexOf(0, start);
  return nul === -1 || nul >= end;
}

/** UTF-8 byte length of `text`, computed only when it could exceed `limit` (3 bytes per UTF-16 unit at most). */
export function utf8LengthExceeds(text: string, limit: number): boolean {
  return text.length * 3 > limit && Buffer.byteLength(text) > limit;
}
