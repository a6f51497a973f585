/**
 * A raw TCP MQTT client for black-box tests: sends hand-built bytes, frames the broker's replies
 * into packets, and waits for packets, silence or the connection closing.
 * Builders live in ./packets.ts; this file only moves bytes.
 */
import net from 'node:net';
import { decodePacket, PacketType, type Packet, type Version } from './packets.ts';
import * as pk from './packets.ts';

export { pk, PacketType };
export type { Packet };

const defaultTimeoutMs = 5000;

/** Thrown/rejected when the broker closed the connection while a packet was awaited. */
export class ConnectionClosedError extends Error {}

/**
 * One TCP connection. Incoming bytes are framed into packets as they arrive and queued; a waiter
 * takes them in order. `version` decides how v5-specific fields are decoded.
 */
export class RawClient {
  readonly socket: net.Socket;
  version: Version;
  /** resolves when the socket has closed (either side) */
  readonly closed: Promise<void>;
  isClosed = false;
  private inbuf: Buffer = Buffer.alloc(0);
  private readonly queue: Packet[] = [];
  private waiter: (() => void) | undefined;
  private frameError: Error | undefined;

  private constructor(socket: net.Socket, version: Version) {
    this.socket = socket;
    this.version = version;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => { /* a reset by the broker is an expected outcome; seen as close */ });
    this.closed = new Promise((resolve) => socket.once('close', () => {
      this.isClosed = true;
      resolve();
      this.wake();
    }));
  }

  /** Opens a TCP connection to 127.0.0.1:port. */
  static async open(port: number, version: Version = 4): Promise<RawClient> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawClient(socket, version);
  }

  /**
   * Opens a connection, sends a CONNECT (version and fields from `f`) and waits for a
   * successful CONNACK, which is returned.
   */
  static async connected(port: number, f: pk.ConnectFields = {}): Promise<{ client: RawClient; connack: Packet }> {
    const client = await RawClient.open(port, f.version ?? 4);
    client.send(pk.connect({ clientId: `raw-${Math.random().toString(16).slice(2, 10)}`, ...f }));
    const connack = await client.expect(PacketType.CONNACK);
    if (connack.reasonCode !== 0) {
      client.destroy();
      throw new Error(`CONNACK refused: 0x${connack.reasonCode!.toString(16)}`);
    }
    return { client, connack };
  }

  /** Writes bytes (a Buffer or a hex string; spaces in hex are ignored). */
  send(data: Buffer | string): void {
    const buf = typeof data === 'string' ? Buffer.from(data.replace(/\s+/g, ''), 'hex') : data;
    if (!this.socket.destroyed) this.socket.write(buf);
  }

  /** Next packet from the broker; rejects on timeout or if the connection closes first. */
  async nextPacket(timeoutMs = defaultTimeoutMs): Promise<Packet> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const p = this.queue.shift();
      if (p) return p;
      if (this.frameError) throw this.frameError;
      if (this.isClosed) throw new ConnectionClosedError('connection closed while waiting for a packet');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no packet within ${timeoutMs} ms`);
      await this.wait(left);
    }
  }

  /** Next packet, which must be of `type`; PINGRESP is not skipped. */
  async expect(type: number, timeoutMs = defaultTimeoutMs): Promise<Packet> {
    const p = await this.nextPacket(timeoutMs);
    if (p.type !== type) {
      throw new Error(`expected packet type ${typeName(type)}, got ${typeName(p.type)} (reason ${p.reasonCode}) body ${p.body.toString('hex')}`);
    }
    return p;
  }

  /**
   * Waits for the broker to close the connection. Packets received first are returned (e.g. a
   * CONNACK with an error code or a v5 DISCONNECT); rejects on timeout.
   */
  async expectClosed(timeoutMs = defaultTimeoutMs): Promise<Packet[]> {
    const timer = new Promise<'timeout'>((resolve) => {
      const t = setTimeout(() => resolve('timeout'), timeoutMs);
      void this.closed.then(() => clearTimeout(t));
    });
    const r = await Promise.race([this.closed, timer]);
    if (r === 'timeout') {
      throw new Error(`connection still open after ${timeoutMs} ms; received: ${this.queue.map((p) => typeName(p.type)).join(', ')}`);
    }
    return this.queue.splice(0);
  }

  /** Asserts that no packet arrives during `ms` (the connection may stay open). */
  async expectNoPacket(ms = 250): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.queue.length > 0) {
        const p = this.queue[0]!;
        throw new Error(`unexpected packet ${typeName(p.type)} body ${p.body.toString('hex')}`);
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.isClosed) return;
      await this.wait(left);
    }
  }

  /** Sends DISCONNECT (if open) and closes. */
  async end(): Promise<void> {
    if (this.isClosed) return;
    this.socket.end(this.version === 5 ? pk.disconnect(0) : pk.disconnect());
    const t = setTimeout(() => this.socket.destroy(), 1000);
    await this.closed;
    clearTimeout(t);
  }

  /** Closes the TCP connection without DISCONNECT (an abnormal close for the broker). */
  destroy(): void {
    this.socket.destroy();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.waiter = undefined; resolve(); }, ms);
      this.waiter = () => { clearTimeout(t); this.waiter = undefined; resolve(); };
    });
  }

  private wake(): void {
    this.waiter?.();
  }

  private onData(chunk: Buffer): void {
    this.inbuf = this.inbuf.length === 0 ? chunk : Buffer.concat([this.inbuf, chunk]);
    try {
      for (;;) {
        if (this.inbuf.length < 2) break;
        let len = 0;
        let mult = 1;
        let pos = 1;
        let complete = false;
        for (; pos < 5 && pos < this.inbuf.length; pos++) {
          const b = this.inbuf[pos]!;
          len += (b & 0x7f) * mult;
          mult *= 128;
          if ((b & 0x80) === 0) { complete = true; pos++; break; }
        }
        if (!complete) {
          if (pos >= 5) throw new Error('broker sent a remaining length longer than 4 bytes');
          break;
        }
        if (this.inbuf.length < pos + len) break;
        const first = this.inbuf[0]!;
        const body = Buffer.from(this.inbuf.subarray(pos, pos + len));
        this.inbuf = this.inbuf.subarray(pos + len);
        this.queue.push(decodePacket(first >> 4, first & 0x0f, body, this.version));
      }
    } catch (e) {
      this.frameError = e as Error;
    }
    this.wake();
  }
}

const names = ['RESERVED', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP',
  'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH'];

/** Name of a packet type, for messages. */
export function typeName(type: number): string {
  return names[type] ?? String(type);
}

/**
 * Connects, subscribes and waits for the SUBACK; returns the client and the SUBACK.
 * A helper for the many tests whose subject is what comes after.
 */
export async function rawSubscriber(
  port: number,
  subs: readonly pk.SubscriptionFields[],
  f: pk.ConnectFields = {},
): Promise<{ client: RawClient; suback: Packet }> {
  const { client } = await RawClient.connected(port, f);
  client.send(pk.subscribe(1, subs, f.version ?? 4));
  const suback = await client.expect(PacketType.SUBACK);
  return { client, suback };
}

/**
 * Reads packets until `n` PUBLISH packets have arrived, completing each QoS flow as a well-behaved
 * client (PUBACK / PUBREC, PUBCOMP on PUBREL) unless `ack` is false. Other packet types are
 * ignored. Returns the PUBLISH packets in arrival order.
 */
export async function receivePublishes(client: RawClient, n: number, ack = true, timeoutMs = 10000): Promise<Packet[]> {
  const out: Packet[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < n) {
    const p = await client.nextPacket(Math.max(1, deadline - Date.now()));
    if (p.type === PacketType.PUBLISH) {
      out.push(p);
      if (ack && p.qos === 1) client.send(pk.ack(PacketType.PUBACK, p.packetId!));
      if (ack && p.qos === 2) client.send(pk.ack(PacketType.PUBREC, p.packetId!));
    } else if (p.type === PacketType.PUBREL && ack) {
      client.send(pk.ack(PacketType.PUBCOMP, p.packetId!));
    }
  }
  return out;
}

/**
 * Sends PINGREQ and waits for the PINGRESP: the broker has then processed every packet sent
 * before it (a connection's packets are handled in order). The PUBLISHes that arrive meanwhile
 * are returned, unacknowledged. Used before an abrupt close, whose RST may discard what the
 * broker had not yet read.
 */
export async function roundTrip(client: RawClient, timeoutMs = 10000): Promise<Packet[]> {
  client.send(pk.pingreq());
  const publishes: Packet[] = [];
  for (;;) {
    const p = await client.nextPacket(timeoutMs);
    if (p.type === PacketType.PINGRESP) return publishes;
    if (p.type === PacketType.PUBLISH) publishes.push(p);
  }
}

/**
 * After a SUBSCRIBE the broker must refuse: either a SUBACK whose codes are all failures
 * (>= 0x80; exactly 0x80 in 3.1.1), or a close (v5: after a DISCONNECT with an error code).
 * Both are allowed by the specification for an invalid filter. Returns which one happened.
 */
export async function expectSubscribeRefused(r: RawClient, packetId: number): Promise<'suback' | 'closed'> {
  const p = await r.nextPacket().catch(() => undefined);
  if (p?.type === PacketType.SUBACK) {
    if (p.packetId !== packetId) throw new Error(`SUBACK for packet id ${p.packetId}, expected ${packetId}`);
    for (const code of p.reasonCodes!) {
      if (code < 0x80 || (r.version !== 5 && code !== 0x80)) throw new Error(`SUBACK granted 0x${code.toString(16)} for an invalid filter`);
    }
    await r.end();
    return 'suback';
  }
  if (p !== undefined && (r.version !== 5 || p.type !== PacketType.DISCONNECT || p.reasonCode! < 0x80)) {
    throw new Error(`expected SUBACK failure or close, got ${typeName(p.type)} reason ${p.reasonCode}`);
  }
  await r.expectClosed();
  return 'closed';
}
