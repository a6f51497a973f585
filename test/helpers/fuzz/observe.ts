/**
 * What the broker sent on one fuzz connection, and the rules every answer must keep whatever the
 * client sent: whole frames with a remaining length of at most 4 bytes, only packet types a
 * server sends, CONNACK first and once, nothing after a refusing CONNACK [MQTT-3.2.2-5/7] or
 * after a DISCONNECT [MQTT-3.14.4-1], no DISCONNECT reason a server may not use, and never 0x83
 * (culex sends it only from its internal-error path). A broken rule is a violation.
 * called from: tests, scripts/fuzz.ts
 */
import { decodeProperties, PacketType, Prop } from '../packets.ts';

const SERVER_TYPES = new Set<number>([
  PacketType.CONNACK, PacketType.PUBLISH, PacketType.PUBACK, PacketType.PUBREC, PacketType.PUBREL, PacketType.PUBCOMP,
  PacketType.SUBACK, PacketType.UNSUBACK, PacketType.PINGRESP, PacketType.DISCONNECT,
]);

const IMPLEMENTATION_SPECIFIC_ERROR = 0x83;

export class Observer {
  /** CONNACK return / reason code, once one came */
  connackCode: number | undefined;
  connackAt = 0;
  /** a v5 CONNACK (it has a property section) */
  v5 = false;
  serverKeepAlive: number | undefined;
  /** the v5 DISCONNECT reason code, once one came */
  disconnectCode: number | undefined;
  disconnectAt = 0;
  pingresps = 0;
  packets = 0;
  readonly types: number[] = [];
  readonly violations: string[] = [];
  /** answers received, by "type:packetId" */
  readonly answers = new Map<string, number>();
  private inbuf: Buffer = Buffer.alloc(0);
  private broken = false;

  /** Takes a chunk the broker sent. */
  push(chunk: Buffer): void {
    if (this.broken) return;
    this.inbuf = this.inbuf.length === 0 ? chunk : Buffer.concat([this.inbuf, chunk]);
    for (;;) {
      const b = this.inbuf;
      if (b.length < 2) return;
      let len = 0;
      let mult = 1;
      let pos = 1;
      let complete = false;
      for (; pos < 5 && pos < b.length; pos++) {
        len += (b[pos]! & 0x7f) * mult;
        mult *= 128;
        if ((b[pos]! & 0x80) === 0) { complete = true; pos++; break; }
      }
      if (!complete) {
        if (pos >= 5) {
          this.violation(`broker sent a remaining length longer than 4 bytes: ${b.subarray(0, 6).toString('hex')}`);
          this.broken = true;
        }
        return;
      }
      if (b.length < pos + len) return;
      this.onPacket(b[0]! >> 4, b.subarray(pos, pos + len));
      this.inbuf = b.subarray(pos + len);
    }
  }

  private violation(message: string): void {
    if (this.violations.length < 5) this.violations.push(message);
  }

  private onPacket(type: number, body: Buffer): void {
    this.packets++;
    if (this.types.length < 32) this.types.push(type);
    if (!SERVER_TYPES.has(type)) this.violation(`broker sent packet type ${type}, which a server never sends`);
    if (this.connackCode !== undefined && this.connackCode !== 0) {
      this.violation(`broker sent packet type ${type} after a CONNACK refusing with 0x${hex(this.connackCode)} [MQTT-3.2.2-5]`);
    }
    if (this.disconnectCode !== undefined) this.violation(`broker sent packet type ${type} after its DISCONNECT [MQTT-3.14.4-1]`);
    if (type !== PacketType.CONNACK && this.connackCode === undefined) this.violation(`broker sent packet type ${type} before CONNACK`);
    switch (type) {
      case PacketType.CONNACK:
        this.onConnack(body);
        return;
      case PacketType.DISCONNECT: {
        const code = body.length > 0 ? body[0]! : 0;
        this.disconnectCode = code;
        this.disconnectAt = Date.now();
        if (code === IMPLEMENTATION_SPECIFIC_ERROR) this.violation('broker sent DISCONNECT 0x83: an internal error (see its log)');
        else if (code !== 0 && code < 0x80) this.violation(`broker sent DISCONNECT with reason 0x${hex(code)}, which a server may not use`);
        return;
      }
      case PacketType.PINGRESP:
        this.pingresps++;
        this.count(`${type}:`);
        return;
      case PacketType.PUBACK: case PacketType.PUBREC: case PacketType.PUBCOMP: case PacketType.SUBACK: case PacketType.UNSUBACK:
        if (body.length >= 2) this.count(`${type}:${body.readUInt16BE(0)}`);
        return;
      default:
    }
  }

  private onConnack(body: Buffer): void {
    if (this.connackCode !== undefined) {
      this.violation('broker sent a second CONNACK');
      return;
    }
    if (body.length < 2) {
      this.violation(`broker sent a CONNACK of ${body.length} bytes`);
      return;
    }
    this.connackCode = body[1]!;
    this.connackAt = Date.now();
    this.v5 = body.length > 2;
    if (this.connackCode === IMPLEMENTATION_SPECIFIC_ERROR) this.violation('broker refused CONNECT with 0x83: an internal error (see its log)');
    if (this.v5) {
      try {
        const ka = decodeProperties(body, 2).props.find((p) => p.id === Prop.ServerKeepAlive);
        if (ka !== undefined) this.serverKeepAlive = ka.value as number;
      } catch (err) {
        this.violation(`broker sent CONNACK properties that do not decode: ${(err as Error).message}`);
      }
    }
  }

  private count(key: string): void {
    this.answers.set(key, (this.answers.get(key) ?? 0) + 1);
  }

  /** Takes one answer of `type` for `packetId` (undefined for PINGRESP); false when none is left. */
  take(type: number, packetId: number | undefined): boolean {
    const key = `${type}:${packetId ?? ''}`;
    const n = this.answers.get(key) ?? 0;
    if (n === 0) return false;
    this.answers.set(key, n - 1);
    return true;
  }
}

export function hex(n: number): string {
  return n.toString(16).padStart(2, '0');
}
