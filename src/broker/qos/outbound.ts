import type { Delivery, OutStateValue } from '../../model/delivery.ts';
import { OutState } from '../../model/delivery.ts';

/**
 * Outbound QoS state: messages the broker sent to one client and the client has not finished
 * acknowledging. This table is the server's packet-id space only; the client's ids live in
 * InboundTable (never one map for both directions). Insertion order = send order, which is the
 * order of redelivery on reconnect [MQTT-4.4.0-1].
 * called from: worker (owner of the session)
 */

export interface OutboundEntry {
  readonly packetId: number;
  readonly delivery: Delivery;
  state: OutStateValue;
}

/** Result of applying an acknowledgement to the table. Unknown: no entry has the id (not an error, as in
 *  Mosquitto 2.0.11: e.g. an ack repeated after a reconnect). WrongType: the id is in flight but the ack
 *  does not fit its QoS or state (PUBACK for QoS 2, PUBREC or PUBCOMP for QoS 1, PUBCOMP before PUBREC):
 *  a Protocol Error, as Mosquitto's db__message_delete_outgoing / db__message_update_outgoing treat it. */
export const AckResult = { Completed: 0, SendPubrel: 1, Unknown: 2, WrongType: 3 } as const;
export type AckResultValue = (typeof AckResult)[keyof typeof AckResult];

/** read-only stand-in while a table has never held an entry; never written */
const NO_ENTRIES: ReadonlyMap<number, OutboundEntry> = new Map();

export class OutboundTable {
  /** created on first use: most idle sessions never have anything in flight (memory per connection) */
  private map: Map<number, OutboundEntry> | undefined = undefined;
  private get entries(): ReadonlyMap<number, OutboundEntry> {
    return this.map ?? NO_ENTRIES;
  }
  private lastId = 0;
  /** payload bytes of the entries (max_inflight_bytes counts payloads, as Mosquitto's msg_bytes12) */
  private payloadBytes = 0;

  /** the last packet id handed out (kept when a session moves, so ids keep cycling) */
  get lastAllocated(): number {
    return this.lastId;
  }

  set lastAllocated(id: number) {
    this.lastId = id;
  }

  get size(): number {
    return this.entries.size;
  }

  /** payload bytes of the messages in the table (sent and not yet completely acknowledged) */
  get bytes(): number {
    return this.payloadBytes;
  }

  /** Allocates a packet id not in flight (1..65535). Caller guarantees size < 65535. */
  allocateId(): number {
    let id = this.lastId;
    do {
      id = id === 65535 ? 1 : id + 1;
    } while (this.entries.has(id));
    this.lastId = id;
    return id;
  }

  add(packetId: number, delivery: Delivery): OutboundEntry {
    const entry: OutboundEntry = {
      packetId,
      delivery,
      state: delivery.qos === 1 ? OutState.AwaitPuback : OutState.AwaitPubrec,
    };
    (this.map ??= new Map()).set(packetId, entry);
    this.payloadBytes += delivery.message.payload.length;
    return entry;
  }

  /** Re-creates an entry in a given state (a session restored or moved), appended in send order. */
  restore(packetId: number, delivery: Delivery, state: OutStateValue): void {
    const map = (this.map ??= new Map());
    const old = map.get(packetId);
    if (old !== undefined) this.payloadBytes -= old.delivery.message.payload.length;
    map.set(packetId, { packetId, delivery, state });
    this.payloadBytes += delivery.message.payload.length;
  }

  get(packetId: number): OutboundEntry | undefined {
    return this.entries.get(packetId);
  }

  /** PUBACK: completes a QoS 1 entry. */
  puback(packetId: number): AckResultValue {
    const e = this.entries.get(packetId);
    if (e === undefined) return AckResult.Unknown;
    if (e.state !== OutState.AwaitPuback) return AckResult.WrongType;
    this.remove(e);
    return AckResult.Completed;
  }

  /**
   * PUBREC: a QoS 2 entry moves to AwaitPubcomp and a PUBREL is due. A PUBREC with a failure
   * reason (>= 0x80) ends the flow [MQTT-4.3.3-4 ff.]. A repeated PUBREC re-sends PUBREL.
   */
  pubrec(packetId: number, reasonCode: number): AckResultValue {
    const e = this.entries.get(packetId);
    if (e === undefined) return AckResult.Unknown;
    if (e.state === OutState.AwaitPuback) return AckResult.WrongType;
    if (reasonCode >= 0x80) {
      this.remove(e);
      return AckResult.Completed;
    }
    e.state = OutState.AwaitPubcomp;
    return AckResult.SendPubrel;
  }

  /** PUBCOMP: completes a QoS 2 entry. */
  pubcomp(packetId: number): AckResultValue {
    const e = this.entries.get(packetId);
    if (e === undefined) return AckResult.Unknown;
    if (e.state !== OutState.AwaitPubcomp) return AckResult.WrongType;
    this.remove(e);
    return AckResult.Completed;
  }

  /** Drops an entry whatever its state (e.g. a message too large for the client). */
  delete(packetId: number): void {
    const e = this.entries.get(packetId);
    if (e !== undefined) this.remove(e);
  }

  private remove(e: OutboundEntry): void {
    this.map!.delete(e.packetId);
    this.payloadBytes -= e.delivery.message.payload.length;
  }

  /** Entries in send order. */
  values(): IterableIterator<OutboundEntry> {
    return this.entries.values();
  }

  clear(): void {
    this.map?.clear();
    this.payloadBytes = 0;
  }
}
