/**
 * Bounds-checked field reader for the long-tail packets (CONNECT, SUBSCRIBE, UNSUBSCRIBE, DISCONNECT,
 * AUTH). One per decoded packet; the PUBLISH/ack fast path reads the frame directly instead.
 * Pure; called from: worker.
 */
import { malformed } from './errors.ts';
import { propertiesEnd, readProperties } from './properties.ts';
import type { Properties } from './properties.ts';
import { readMqttString } from './utf8.ts';

/** Reads MQTT data types from frame[pos..end); every read past `end` throws MalformedPacket. */
export class FieldReader {
  readonly frame: Buffer;
  readonly end: number;
  pos: number;

  constructor(frame: Buffer, pos: number) {
    this.frame = frame;
    this.pos = pos;
    this.end = frame.length;
  }

  /** bytes left before the end of the packet */
  get left(): number {
    return this.end - this.pos;
  }

  /** One byte. */
  u8(what: string): number {
    this.#need(1, what);
    return this.frame[this.pos++]!;
  }

  /** Two Byte Integer. */
  u16(what: string): number {
    this.#need(2, what);
    const value = this.frame.readUInt16BE(this.pos);
    this.pos += 2;
    return value;
  }

  /** Binary Data (2-byte length + bytes), as a view of the frame. */
  binary(what: string): Buffer {
    const length = this.u16(what);
    this.#need(length, what);
    const start = this.pos;
    this.pos += length;
    return this.frame.subarray(start, this.pos);
  }

  /** UTF-8 Encoded String: malformed when ill-formed or holding U+0000 [MQTT-1.5.4-1] [MQTT-1.5.4-2]. */
  string(what: string, spec = 'MQTT-1.5.4-1'): string {
    const length = this.u16(what);
    this.#need(length, what);
    const text = readMqttString(this.frame, this.pos, this.pos + length);
    if (text === undefined) throw malformed('MQTT_ERR_UTF8', `${what} is not a well-formed UTF-8 string without U+0000`, spec);
    this.pos += length;
    return text;
  }

  /** A v5 property section for a packet of PropertyKind `kind`. */
  properties(kind: number): Properties | undefined {
    const properties = readProperties(this.frame, this.pos, this.end, kind);
    this.pos = propertiesEnd;
    return properties;
  }

  /** Throws MalformedPacket when bytes are left after the last field. */
  expectEnd(what: string): void {
    if (this.pos !== this.end) throw malformed('MQTT_ERR_TRAILING_BYTES', `${this.end - this.pos} unexpected bytes after ${what}`);
  }

  #need(count: number, what: string): void {
    if (this.pos + count > this.end) throw malformed('MQTT_ERR_TRUNCATED', `${what} runs past the end of the packet`);
  }
}
