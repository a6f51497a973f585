/**
 * Worker entry for the two-thread ring test: produces `count` records (ringPattern.ts) into the
 * ring, publishing every few records and ringing the consumer's doorbell, and waits on its own
 * doorbell when the ring is full. A pending doorbell wait does not keep a thread alive, so an
 * interval holds the event loop open until the last record is published. Does nothing when run
 * as a main thread.
 * called from: worker
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Doorbells } from '../../../src/workers/doorbell.ts';
import { RingProducer } from '../../../src/workers/ring.ts';
import { recordLength, writeRecord } from './ringPattern.ts';

/** What the test passes as workerData. */
export interface RingProducerData {
  readonly ring: SharedArrayBuffer;
  readonly bells: SharedArrayBuffer;
  readonly count: number;
  readonly me: number;
  readonly consumer: number;
}

async function produce(d: RingProducerData): Promise<number> {
  const ring = new RingProducer(d.ring);
  const bells = new Doorbells(d.bells);
  let waits = 0;
  const flush = (): void => {
    if (ring.publish()) bells.ring(d.consumer);
  };
  for (let seq = 0; seq < d.count; seq++) {
    const len = recordLength(seq);
    let off = ring.reserve(len);
    while (off < 0) {
      flush();
      const seen = bells.value(d.me);
      off = ring.reserve(len);
      if (off >= 0) break;
      waits++;
      await bells.wait(d.me, seen);
      off = ring.reserve(len);
    }
    writeRecord(ring.data, off, seq);
    if (seq % 7 === 3 || ring.unpublished >= 13) flush();
  }
  flush();
  return waits;
}

if (!isMainThread && parentPort !== null) {
  const port = parentPort;
  const keepAlive = setInterval(() => {}, 60_000);
  produce(workerData as RingProducerData).then((waits) => {
    clearInterval(keepAlive);
    port.postMessage({ waits });
  });
}
