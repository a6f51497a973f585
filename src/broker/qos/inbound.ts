/**
 * Inbound QoS 2 state: packet ids of PUBLISHes received from the client (and routed) whose
 * PUBREL has not arrived yet. A PUBLISH whose id is here is a retransmission: it is
 * acknowledged again but not routed again [MQTT-4.3.3-10]. The client's packet-id space only.
 * called from: worker (owner of the session)
 */
export class InboundTable {
  /** created on first QoS 2 PUBLISH (memory per idle connection) */
  private awaitingPubrel: Set<number> | undefined = undefined;

  get size(): number {
    return this.awaitingPubrel?.size ?? 0;
  }

  /** Records a QoS 2 PUBLISH; returns false when its id is already awaiting PUBREL (a duplicate). */
  receive(packetId: number): boolean {
    const ids = (this.awaitingPubrel ??= new Set());
    if (ids.has(packetId)) return false;
    ids.add(packetId);
    return true;
  }

  has(packetId: number): boolean {
    return this.awaitingPubrel?.has(packetId) ?? false;
  }

  /** PUBREL: returns false when the id is unknown (v5 answers PUBCOMP 0x92). */
  release(packetId: number): boolean {
    return this.awaitingPubrel?.delete(packetId) ?? false;
  }

  ids(): IterableIterator<number> {
    return (this.awaitingPubrel ?? new Set<number>()).values();
  }

  clear(): void {
    this.awaitingPubrel?.clear();
  }
}
