/**
 * Micro-benchmark: src/protocol/packets/publish.ts `encodePublish` / `decodePublish` for a
 * 64-byte payload on a 5-level topic, MQTT 3.1.1 and 5.0.
 *   node native-bench/micro/publish-codec.ts
 */
import { decodePublish, encodePublish } from '../../src/protocol/packets/publish.ts';
import { bench, header } from './harness.ts';

const BATCH = 1000;
const payload = Buffer.alloc(64, 0x78);
const topic = 'city/lights/3/1234/status';
let sink = 0;

header('PUBLISH codec');
for (const version of [4, 5] as const) {
  const frame = encodePublish(topic, payload, 1, false, false, 42, version).bytes;
  const bodyOffset = 2; // remaining length < 128: one varint byte
  bench(`encodePublish v${version === 4 ? '3.1.1' : '5.0'} QoS 1`, BATCH, () => {
    for (let i = 0; i < BATCH; i++) sink += encodePublish(topic, payload, 1, false, false, (i & 0xfff) + 1, version).bytes.length;
  });
  bench(`decodePublish v${version === 4 ? '3.1.1' : '5.0'} QoS 1`, BATCH, () => {
    for (let i = 0; i < BATCH; i++) sink += decodePublish(frame, bodyOffset, version).payload.length;
  });
}
if (sink === 0) throw new Error('nothing encoded');
