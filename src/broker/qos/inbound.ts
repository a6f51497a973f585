/**
 * Inbound QoS 2 state: packet ids of PUBLISHes received from the client (and routed) whose
 * PUBREL has not arrived yet. A PUBLISH whose id is here is a retransmission: it is
 * acknowledged again but not routed again [MQTT-4.3.3-10]. The client's packet-id space only.
 * called from: worker (owner of the session)
 */
export class InboundTable {
  private readonly awaitingPubrel = new Set<number>();

  get size(): number {
    return this.awaitingPubrel.size;
  }

  /** Records a QoS 2 PUBLISH; returns false when its id is already awaiting PUBREL (a duplicate). */
  receive(packetId: number): boolean {
    if (this.awaitingPubrel.has(packetId)) return false;
    this.awaitingPubrel.add(packetId);
    return true;
  }

  /** PUBREL: returns false when the id is unknown (v5 answers PUBCOMP 0x92). */
  release(packetId: number): boolean {
    return this.awaitingPubrel.delete(packetId);
  }

  ids(): IterableIterator<number> {
    return this.awaitingPubrel.values();
  }

  clear(): void {
    this.awaitingPubrel.clear();
  }
}
