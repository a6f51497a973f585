/**
 * Valid client packets for the fuzzer, encoded by mqtt-packet: every packet type a client may
 * send (CONNECT, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, UNSUBSCRIBE, PINGREQ,
 * DISCONNECT, AUTH) at protocol level 3 (3.1, CONNECT), 4 (3.1.1) and 5 (5.0), with the v5
 * properties each may carry. One ValidGen follows one session, so what it writes is valid in
 * sequence too (topic aliases set before use, PUBREL for a QoS 2 id it published, a DISCONNECT
 * session expiry only when CONNECT had one), and it says which answer the broker owes for each.
 * called from: tests, scripts/fuzz.ts
 */
import mqttPacket from 'mqtt-packet';
import type { IConnectPacket, Packet, QoS, UserProperties } from 'mqtt-packet';
import { PacketType } from '../packets.ts';
import type { Rng } from './prng.ts';

export type Version = 3 | 4 | 5;

/** An answer the broker owes a packet: its type and packet id (undefined for PINGRESP). */
export interface Owed {
  readonly type: number;
  readonly packetId?: number;
}

/** One generated packet. */
export interface Gen {
  readonly bytes: Buffer;
  readonly type: number;
  readonly owed?: Owed;
}

/** Topics fuzz sessions publish to (no wildcards); a small set keeps retained state bounded. */
export const TOPICS: readonly string[] = [
  'fz/a', 'fz/b', 'fz/a/b', 'fz/c/d/e', 'fz/0', 'fz/1', 'fz/2', 'fz/3', 'fz/ü/ñ', 'fz//x', 'fz/a/', '/fz', 'fz',
];
/** Filters fuzz sessions subscribe to; shared ones are kept apart (No Local is not allowed on them). */
export const FILTERS: readonly string[] = ['fz/#', 'fz/+', 'fz/+/b', 'fz/a', '+/+', '#', 'fz/a/b', '$SYS/#', '/fz', 'fz/+/#'];
export const SHARED_FILTERS: readonly string[] = ['$share/g1/fz/#', '$share/g2/fz/a', '$share/g1/+'];
/** Client ids shared by fuzz sessions: they take sessions over from each other and resume them. */
export const FUZZ_CLIENT_IDS: readonly string[] = Array.from({ length: 16 }, (_, i) => `fz${i}`);

const V5_PUBACK_CODES = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
const V5_PUBREL_CODES = [0x00, 0x92];
const V5_DISCONNECT_CODES = [0x00, 0x04];

export interface SessionOptions {
  readonly version: Version;
  /** undefined: a client id from FUZZ_CLIENT_IDS (or empty) */
  readonly clientId?: string;
  /** the broker's Topic Alias Maximum */
  readonly maxTopicAlias: number;
  /** only clean, non-persistent sessions (a unique client id must not leave a session behind) */
  readonly ephemeral: boolean;
}

function encode(p: Packet, version: Version): Buffer {
  return mqttPacket.generate(p, { protocolVersion: version });
}

/** Follows one client session and writes its packets. */
export class ValidGen {
  readonly version: Version;
  readonly keepalive: number;
  private readonly rng: Rng;
  private readonly opts: SessionOptions;
  private nextId: number;
  /** QoS 2 ids published and not yet released */
  private readonly pendingRel: number[] = [];
  private readonly aliases = new Map<number, string>();
  private sessionExpiry = 0;

  constructor(rng: Rng, opts: SessionOptions) {
    this.rng = rng;
    this.opts = opts;
    this.version = opts.version;
    this.nextId = rng.range(1, 60000);
    // mostly short: the broker's keep-alive timer must end a silent connection within the run
    this.keepalive = rng.weighted([[1, 0], [3, 1], [3, 2], [2, 5], [1, rng.range(10, 600)]]);
  }

  private text(): string {
    return this.rng.pick(['', 'a', 'fuzz', 'ü€😀', 'x'.repeat(this.rng.range(1, 300))]);
  }

  private payload(): Buffer {
    return this.rng.chance(0.05) ? this.rng.bytes(this.rng.range(1000, 5000)) : this.rng.bytes(this.rng.range(0, 40));
  }

  private userProperties(): UserProperties | undefined {
    if (!this.rng.chance(0.3)) return undefined;
    const up: UserProperties = {};
    for (let i = this.rng.range(1, 3); i > 0; i--) {
      const k = this.rng.pick(['k', 'key', 'ü', '']);
      up[k] = this.rng.chance(0.3) ? [this.text(), this.text()] : this.text();
    }
    return up;
  }

  private packetId(): number {
    const id = this.nextId;
    this.nextId = id >= 65535 ? 1 : id + 1;
    return id;
  }

  connect(): Gen {
    const v = this.version;
    const rng = this.rng;
    const clean = this.opts.ephemeral || v === 3 || rng.chance(0.6);
    let clientId = this.opts.clientId ?? (clean && v !== 3 && rng.chance(0.15) ? '' : rng.pick(FUZZ_CLIENT_IDS));
    if (v === 3) clientId = clientId.slice(0, 23) || 'fz-31';
    const p: IConnectPacket = {
      cmd: 'connect',
      protocolId: v === 3 ? 'MQIsdp' : 'MQTT',
      protocolVersion: v,
      clientId,
      clean,
      keepalive: this.keepalive,
    };
    if (rng.chance(0.3)) {
      const retain = rng.chance(0.3);
      p.will = { topic: rng.pick(TOPICS), payload: this.payload(), qos: rng.int(3) as QoS, retain };
      if (v === 5 && rng.chance(0.6)) {
        const pfi = rng.chance(0.3);
        if (pfi) p.will.payload = Buffer.from(this.text());
        p.will.properties = {
          willDelayInterval: rng.chance(0.5) ? rng.range(0, 3) : undefined,
          payloadFormatIndicator: pfi || undefined,
          messageExpiryInterval: rng.chance(0.3) ? rng.range(1, 100) : undefined,
          contentType: rng.chance(0.3) ? this.text() : undefined,
          responseTopic: rng.chance(0.3) ? rng.pick(TOPICS) : undefined,
          correlationData: rng.chance(0.3) ? rng.bytes(rng.range(0, 16)) : undefined,
          userProperties: this.userProperties(),
        };
      }
    }
    // 3.1.1 needs a user name for a password [MQTT-3.1.2-22]; 5.0 allows a password alone, but
    // mqtt-packet does not write one (the fixture table's 'password without user name' covers it)
    if (rng.chance(0.3)) p.username = this.text();
    if (p.username !== undefined && rng.chance(0.3)) p.password = rng.bytes(rng.range(0, 20));
    if (v === 5) {
      this.sessionExpiry = this.opts.ephemeral ? rng.pick([0, 0, 1, 2]) : rng.pick([0, 0, 5, 60, 0xffffffff]);
      p.properties = {
        sessionExpiryInterval: this.sessionExpiry || undefined,
        receiveMaximum: rng.chance(0.3) ? rng.range(1, 65535) : undefined,
        maximumPacketSize: rng.chance(0.2) ? rng.range(64, 100000) : undefined,
        topicAliasMaximum: rng.chance(0.3) ? rng.range(0, 20) : undefined,
        requestResponseInformation: rng.chance(0.2) ? rng.chance(0.5) : undefined,
        requestProblemInformation: rng.chance(0.2) ? rng.chance(0.5) : undefined,
        userProperties: this.userProperties(),
      };
    }
    return { bytes: encode(p, v), type: PacketType.CONNECT };
  }

  /** A random packet a connected client may send (AUTH excluded: see auth()). */
  next(): Gen {
    const kind = this.rng.weighted<() => Gen>([
      [8, () => this.publish()],
      [2, () => this.ack(PacketType.PUBACK)],
      [1, () => this.ack(PacketType.PUBREC)],
      [2, () => this.pubrel()],
      [1, () => this.ack(PacketType.PUBCOMP)],
      [3, () => this.subscribe()],
      [2, () => this.unsubscribe()],
      [1, () => this.pingreq()],
    ]);
    return kind();
  }

  publish(): Gen {
    const rng = this.rng;
    const v = this.version;
    const qos = rng.int(3) as QoS;
    let topic = rng.pick(TOPICS);
    let payload: Buffer = this.payload();
    const id = qos > 0 ? this.packetId() : undefined;
    let properties: NonNullable<Extract<Packet, { cmd: 'publish' }>['properties']> | undefined;
    if (v === 5 && rng.chance(0.6)) {
      const pfi = rng.chance(0.3);
      if (pfi) payload = Buffer.from(this.text());
      properties = {
        payloadFormatIndicator: pfi || undefined,
        messageExpiryInterval: rng.chance(0.3) ? rng.range(1, 100) : undefined,
        responseTopic: rng.chance(0.2) ? rng.pick(TOPICS) : undefined,
        correlationData: rng.chance(0.2) ? rng.bytes(rng.range(0, 16)) : undefined,
        contentType: rng.chance(0.2) ? this.text() : undefined,
        userProperties: this.userProperties(),
      };
      if (this.opts.maxTopicAlias > 0 && rng.chance(0.5)) {
        const alias = rng.range(1, this.opts.maxTopicAlias);
        const known = this.aliases.get(alias);
        if (known !== undefined && rng.chance(0.6)) {
          topic = ''; // an empty topic name with an alias this session set
        } else {
          this.aliases.set(alias, topic);
        }
        properties.topicAlias = alias;
      }
    }
    const p: Packet = { cmd: 'publish', topic, payload, qos, retain: rng.chance(0.2), dup: qos > 0 && rng.chance(0.1), messageId: id, properties };
    let owed: Owed | undefined;
    if (qos === 1) owed = { type: PacketType.PUBACK, packetId: id };
    if (qos === 2) {
      owed = { type: PacketType.PUBREC, packetId: id };
      this.pendingRel.push(id!);
    }
    return { bytes: encode(p, v), type: PacketType.PUBLISH, owed };
  }

  /**
   * PUBACK / PUBREC / PUBCOMP for a packet id the broker has not used: an ack of the wrong type for
   * an id the broker has in flight closes the connection (a protocol error, as in Mosquitto), and
   * this generator does not track the broker's ids. The broker numbers a session's deliveries from
   * 1, so ids from 49152 are not in flight within a fuzz session's life.
   */
  ack(type: 4 | 5 | 7): Gen {
    const cmd = type === PacketType.PUBACK ? 'puback' : type === PacketType.PUBREC ? 'pubrec' : 'pubcomp';
    const p = { cmd, messageId: this.rng.range(49152, 65535) } as Extract<Packet, { cmd: 'puback' }>;
    if (this.version === 5 && this.rng.chance(0.6)) {
      p.reasonCode = this.rng.pick(type === PacketType.PUBCOMP ? V5_PUBREL_CODES : V5_PUBACK_CODES);
      if (this.rng.chance(0.5)) p.properties = { reasonString: this.rng.chance(0.5) ? this.text() : undefined, userProperties: this.userProperties() };
    }
    return { bytes: encode(p, this.version), type };
  }

  /** PUBREL for a QoS 2 id this session published (or, sometimes, one the broker never saw): a PUBCOMP is owed either way. */
  pubrel(): Gen {
    const id = this.pendingRel.length > 0 && this.rng.chance(0.8) ? this.pendingRel.shift()! : this.rng.range(1, 65535);
    const p: Extract<Packet, { cmd: 'pubrel' }> = { cmd: 'pubrel', messageId: id };
    if (this.version === 5 && this.rng.chance(0.5)) {
      p.reasonCode = this.rng.pick(V5_PUBREL_CODES);
      if (this.rng.chance(0.5)) p.properties = { reasonString: this.text(), userProperties: this.userProperties() };
    }
    return { bytes: encode(p, this.version), type: PacketType.PUBREL, owed: { type: PacketType.PUBCOMP, packetId: id } };
  }

  subscribe(): Gen {
    const rng = this.rng;
    const v = this.version;
    const id = this.packetId();
    const subscriptions = Array.from({ length: rng.range(1, 4) }, () => {
      const shared = rng.chance(0.2);
      const topic = shared ? rng.pick(SHARED_FILTERS) : rng.pick(FILTERS);
      const s: { topic: string; qos: QoS; nl?: boolean; rap?: boolean; rh?: number } = { topic, qos: rng.int(3) as QoS };
      if (v === 5) {
        s.nl = !shared && rng.chance(0.3); // No Local on a shared subscription is a Protocol Error [MQTT-3.8.3-4]
        s.rap = rng.chance(0.3);
        s.rh = rng.int(3);
      }
      return s;
    });
    const p: Extract<Packet, { cmd: 'subscribe' }> = { cmd: 'subscribe', messageId: id, subscriptions };
    if (v === 5 && rng.chance(0.5)) {
      p.properties = { subscriptionIdentifier: rng.chance(0.7) ? rng.range(1, 268435455) : undefined, userProperties: this.userProperties() };
    }
    return { bytes: encode(p, v), type: PacketType.SUBSCRIBE, owed: { type: PacketType.SUBACK, packetId: id } };
  }

  unsubscribe(): Gen {
    const id = this.packetId();
    const all = [...FILTERS, ...SHARED_FILTERS];
    const p: Extract<Packet, { cmd: 'unsubscribe' }> = {
      cmd: 'unsubscribe', messageId: id, unsubscriptions: Array.from({ length: this.rng.range(1, 3) }, () => this.rng.pick(all)),
    };
    if (this.version === 5 && this.rng.chance(0.3)) p.properties = { userProperties: this.userProperties() };
    return { bytes: encode(p, this.version), type: PacketType.UNSUBSCRIBE, owed: { type: PacketType.UNSUBACK, packetId: id } };
  }

  pingreq(): Gen {
    return { bytes: encode({ cmd: 'pingreq' }, this.version), type: PacketType.PINGREQ, owed: { type: PacketType.PINGRESP } };
  }

  /** DISCONNECT; v5 with a reason code and properties (a session expiry only when CONNECT set one [MQTT-3.14.2-2]). */
  disconnect(): Gen {
    const p: Extract<Packet, { cmd: 'disconnect' }> = { cmd: 'disconnect' };
    if (this.version === 5 && this.rng.chance(0.7)) {
      p.reasonCode = this.rng.pick(V5_DISCONNECT_CODES);
      if (this.rng.chance(0.5)) {
        p.properties = {
          reasonString: this.rng.chance(0.5) ? this.text() : undefined,
          userProperties: this.userProperties(),
          sessionExpiryInterval: this.sessionExpiry > 0 && !this.opts.ephemeral && this.rng.chance(0.5) ? this.rng.range(0, 30) : undefined,
        };
      }
    }
    return { bytes: encode(p, this.version), type: PacketType.DISCONNECT };
  }

  /**
   * AUTH (continue or re-authenticate) with a method and data. Well-formed, but a Protocol Error
   * after a CONNECT without an Authentication Method (MQTT 5 §4.12), which is what this broker gets.
   */
  auth(): Gen {
    const p: Extract<Packet, { cmd: 'auth' }> = {
      cmd: 'auth',
      reasonCode: this.rng.pick([0x18, 0x19]),
      properties: { authenticationMethod: this.rng.pick(['SCRAM-SHA-1', 'x']), authenticationData: this.rng.bytes(8), userProperties: this.userProperties() },
    };
    return { bytes: encode(p, 5), type: PacketType.AUTH };
  }
}
