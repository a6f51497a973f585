/**
 * Filling a persistent session's queue with numbered messages and taking it back after a
 * restart, for the tests that stop culex under a long queue (test/restart/longQueue.test.ts,
 * cleanStop.test.ts).
 */
import { connectTo } from './brokerProcess.ts';
import { PacketType, pk, RawClient, type Packet } from './raw.ts';

/** Publishes `count` messages numbered from `from` on `topic`, 8 in flight (below max_inflight_messages, the broker's Receive Maximum). */
export async function publishNumbered(port: number, topic: string, from: number, count: number, qos: 1 | 2): Promise<void> {
  const { client } = await connectTo(port, { protocolVersion: 5, clientId: `pub-${process.pid}-${topic}` });
  let next = from;
  const lane = async (): Promise<void> => {
    while (next < from + count) await client.publishAsync(topic, String(next++), { qos });
  };
  await Promise.all(Array.from({ length: 8 }, lane));
  await client.endAsync();
}

/**
 * Takes `count` PUBLISHes back on `client`, acknowledging each (PUBACK, or PUBREC then PUBCOMP);
 * `pubrels`: the packet ids of PUBRELs for flows this connection did not PUBREC (restored in
 * the PUBREC state).
 */
export async function takeBack(client: RawClient, qos: 1 | 2, count: number): Promise<{ got: Packet[]; pubrels: number[] }> {
  const pubrels: number[] = [];
  const recdHere = new Set<number>();
  const got: Packet[] = [];
  while (got.length < count) {
    const p = await client.nextPacket(30000);
    if (p.type === PacketType.PUBREL) {
      if (!recdHere.delete(p.packetId!)) pubrels.push(p.packetId!);
      client.send(pk.ack(PacketType.PUBCOMP, p.packetId!));
    } else if (p.type === PacketType.PUBLISH) {
      got.push(p);
      if (qos === 2) recdHere.add(p.packetId!);
      client.send(pk.ack(qos === 1 ? PacketType.PUBACK : PacketType.PUBREC, p.packetId!));
    }
  }
  return { got, pubrels };
}

/** Finishes the QoS 2 flows still open on `client` (PUBCOMP for each PUBREL) until 1 s passes without a packet; a PUBLISH then is an error. */
export async function finishFlows(client: RawClient): Promise<void> {
  for (;;) {
    const p = await client.nextPacket(1000).catch(() => undefined);
    if (p === undefined) return;
    if (p.type === PacketType.PUBREL) client.send(pk.ack(PacketType.PUBCOMP, p.packetId!));
    else if (p.type === PacketType.PUBLISH) throw new Error(`a PUBLISH after the queue was taken: ${p.payload?.toString()}`);
  }
}

/**
 * A client of the persistent session `fields` takes the first `inflight` PUBLISHes and
 * acknowledges none, except at QoS 2 the first 3, which it PUBRECs (waiting for their PUBRELs,
 * sent once the PUBREC state is on disk). The connection stays open: the caller ends it.
 */
export async function takeInFlight(port: number, fields: Parameters<typeof RawClient.connected>[1], inflight: number, qos: 1 | 2): Promise<{ taking: RawClient; sent: Packet[]; recd: Packet[] }> {
  const taking = (await RawClient.connected(port, fields)).client;
  const sent: Packet[] = [];
  while (sent.length < inflight) {
    const p = await taking.nextPacket(20000);
    if (p.type === PacketType.PUBLISH) sent.push(p);
  }
  const recd = qos === 2 ? sent.slice(0, 3) : [];
  for (const p of recd) taking.send(pk.ack(PacketType.PUBREC, p.packetId!));
  for (let n = 0; n < recd.length; ) if ((await taking.nextPacket(20000)).type === PacketType.PUBREL) n++;
  return { taking, sent, recd };
}
