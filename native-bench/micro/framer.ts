/**
 * Micro-benchmark: src/protocol/framer.ts `Framer` splitting a byte stream of small PUBLISH
 * packets (64-byte payloads), for three chunkings: one large read, reads that cut packets in
 * two, and one packet per read (the many-small-publishers case).
 *   node native-bench/micro/framer.ts
 */
import { Framer } from '../../src/protocol/framer.ts';
import { encodePublish } from '../../src/protocol/packets/publish.ts';
import { bench, header } from './harness.ts';

const PACKETS = 1000;
const payload = Buffer.alloc(64, 0x78);
const packets: Buffer[] = [];
for (let i = 0; i < PACKETS; i++) packets.push(encodePublish(`city/lights/${i % 10}/${i}/status`, payload, 1, false, false, (i % 65535) + 1, 4).bytes);
const stream = Buffer.concat(packets);

function chunked(size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let p = 0; p < stream.length; p += size) out.push(stream.subarray(p, Math.min(stream.length, p + size)));
  return out;
}

let seen = 0;
const sink = { onFrame: (frame: Buffer): void => { seen += frame.length; } };
const framer = new Framer(0);

header('Framer');
const oneRead = [stream];
const splitReads = chunked(1000); // ~10 packets per read, one cut per read
bench(`one ${stream.length}-byte read`, PACKETS, () => { for (const c of oneRead) framer.push(c, sink); });
bench('1000-byte reads (packets cut across reads)', PACKETS, () => { for (const c of splitReads) framer.push(c, sink); });
bench('one packet per read', PACKETS, () => { for (const c of packets) framer.push(c, sink); });
if (seen === 0) throw new Error('no packet framed');
