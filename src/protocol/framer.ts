/**
 * Incremental MQTT framer: TCP byte stream → whole packets (STYLE pattern 3).
 * One instance per connection; called from: worker (the connection's socket 'data' handler).
 */
import { MqttProtocolError, ReasonCode, malformed } from './errors.ts';

/** Largest whole packet the protocol can express: 1 type byte + 4 length bytes + 268435455. */
export const PROTOCOL_MAX_PACKET_SIZE = 268_435_460;

/** First allocation for a packet that spans chunks; grown by doubling, never beyond the packet size,
 *  so a peer that announces a huge length costs only what it actually sends. */
const INITIAL_ASSEMBLY_BYTES = 4096;

/** What a framer hands each whole packet to: an object, so that a connection needs no closure for it. */
export interface FrameSink {
  onFrame(frame: Buffer, bodyOffset: number): void;
}

/** Incremental framer: splits a TCP byte stream into whole MQTT packets. Never throws on short input;
 *  copies only when a packet spans chunks; bounds what it buffers. */
export class Framer {
  /** whole-packet limit in bytes; 0 = protocol maximum (268435460) */
  maxPacketSize: number;
  /** bytes of a fixed header split across chunks (at most 5) */
  #head: Buffer | null = null;
  #headLength = 0;
  /** the packet being assembled across chunks; null when between packets or while the header is incomplete */
  #assembly: Buffer | null = null;
  #assembled = 0;
  /** result of the last successful #readHeader: whole-packet size and variable-header offset */
  #total = 0;
  #bodyOffset = 0;

  /** maxPacketSize: whole-packet limit in bytes; 0 = protocol maximum (268435460) */
  constructor(maxPacketSize: number) {
    this.maxPacketSize = maxPacketSize;
  }

  /** Lets go of a half-read packet (the connection closed). */
  discard(): void {
    this.#assembly = null;
    this.#assembled = 0;
    this.#head = null;
    this.#headLength = 0;
  }

  /** bytes held for an incomplete packet */
  get buffered(): number {
    return this.#headLength + this.#assembled;
  }

  /**
   * Feeds one chunk and calls sink.onFrame synchronously, in order, for every complete packet.
   * `frame` holds the whole packet (fixed header included): a view (subarray) of the chunk when the
   * packet lies in one chunk, a concatenation otherwise. `bodyOffset` = index in `frame` where the
   * variable header starts (1 + length-of-varint).
   * Throws MqttProtocolError: MalformedPacket (0x81) for a remaining length of more than 4 bytes;
   * PacketTooLarge (0x95) as soon as the remaining length is known to exceed maxPacketSize, before
   * the body is buffered. Exceptions thrown by onFrame propagate unchanged; the framer state stays
   * consistent (the packet was consumed) but the rest of that chunk is discarded. After the framer
   * itself throws, the stream cannot be resynchronised: close the connection.
   *
   * Frame lifetime: a view frame aliases the caller's chunk; anything kept after onFrame returns must
   * own a copy.
   */
  push(chunk: Buffer, sink: FrameSink): void {
    let pos = 0;
    const length = chunk.length;
    if (this.#headLength > 0) {
      pos = this.#completeHead(chunk);
      if (pos < 0) return;
    }
    if (this.#assembly !== null) {
      pos = this.#continueAssembly(chunk, pos);
      if (this.#assembled < this.#total) return;
      const frame = this.#assembly;
      const bodyOffset = this.#bodyOffset;
      this.#assembly = null;
      this.#assembled = 0;
      sink.onFrame(frame, bodyOffset);
    }
    while (pos < length) {
      if (!this.#readHeader(chunk, pos, length)) {
        this.#headLength = length - pos;
        chunk.copy((this.#head ??= Buffer.allocUnsafe(5)), 0, pos, length);
        return;
      }
      const total = this.#total;
      if (length - pos >= total) {
        const start = pos;
        pos += total;
        // a read that is exactly one packet (a device's usual write) is the frame itself
        sink.onFrame(start === 0 && pos === length ? chunk : chunk.subarray(start, pos), this.#bodyOffset);
      } else {
        this.#startAssembly(length - pos);
        pos = this.#continueAssembly(chunk, pos);
        return;
      }
    }
  }

  /** Appends header bytes from `chunk` until the fixed header decodes. Returns the position after the
   *  header bytes taken, or -1 when the chunk ended first. */
  #completeHead(chunk: Buffer): number {
    const head = this.#head!; // set when #headLength > 0
    let pos = 0;
    while (pos < chunk.length) {
      head[this.#headLength++] = chunk[pos++]!;
      if (this.#headLength >= 2 && this.#readHeader(head, 0, this.#headLength)) {
        this.#startAssembly(chunk.length - pos + this.#headLength);
        head.copy(this.#assembly!, 0, 0, this.#headLength);
        this.#assembled = this.#headLength;
        this.#headLength = 0;
        return pos;
      }
    }
    return -1;
  }

  #startAssembly(available: number): void {
    const total = this.#total;
    this.#assembly = Buffer.allocUnsafe(Math.min(total, Math.max(INITIAL_ASSEMBLY_BYTES, available)));
    this.#assembled = 0;
  }

  /** Copies what `chunk` holds of the packet being assembled; returns the position after it. */
  #continueAssembly(chunk: Buffer, pos: number): number {
    const wanted = this.#total - this.#assembled;
    const take = Math.min(wanted, chunk.length - pos);
    let assembly = this.#assembly!;
    const needed = this.#assembled + take;
    if (needed > assembly.length) {
      const grown = Buffer.allocUnsafe(Math.min(this.#total, Math.max(needed, assembly.length * 2)));
      assembly.copy(grown, 0, 0, this.#assembled);
      assembly = this.#assembly = grown;
    }
    chunk.copy(assembly, this.#assembled, pos, pos + take);
    this.#assembled = needed;
    return pos + take;
  }

  /** Decodes the fixed header at buf[start..end). Returns false when more bytes are needed; otherwise
   *  sets #total and #bodyOffset. Throws on a 5-byte length or a packet over the limit. */
  #readHeader(buf: Buffer, start: number, end: number): boolean {
    let remaining = 0;
    let multiplier = 1;
    let i = start + 1;
    for (let n = 0; n < 4; n++, i++) {
      if (i >= end) return false;
      const byte = buf[i]!;
      remaining += (byte & 0x7f) * multiplier;
      if ((byte & 0x80) === 0) {
        const bodyOffset = i + 1 - start;
        const total = bodyOffset + remaining;
        const limit = this.maxPacketSize > 0 ? this.maxPacketSize : PROTOCOL_MAX_PACKET_SIZE;
        if (total > limit) {
          throw new MqttProtocolError(ReasonCode.PacketTooLarge, 'MQTT_ERR_PACKET_TOO_LARGE',
            `packet of ${total} bytes exceeds the limit of ${limit}`, 'MQTT-3.2.2-15');
        }
        this.#total = total;
        this.#bodyOffset = bodyOffset;
        return true;
      }
      multiplier *= 128;
    }
    throw malformed('MQTT_ERR_REMAINING_LENGTH', 'remaining length longer than 4 bytes');
  }
}
