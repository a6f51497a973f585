/**
 * Micro-benchmark: src/workers/ring.ts, records per second from the main thread to one consumer
 * worker through one SPSC ring (256 KiB), for 32-byte and 256-byte records, publishing the write
 * index and ringing the consumer's doorbell once per 64 records; and, for contrast, one
 * postMessage per record. The consumer touches one byte of every record. Each sample moves about
 * 300 ms worth of records (sized from a warm-up run); prints the median of 5 samples and the range,
 * in the harness.ts format.
 *   node native-bench/micro/ring.ts
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createDoorbells, Doorbells } from '../../src/workers/doorbell.ts';
import { createRing, RingConsumer, RingProducer } from '../../src/workers/ring.ts';
import { fmt, header } from './harness.ts';

const CAPACITY = 256 * 1024;
const BATCH = 64;
const SAMPLE_MS = 300;
const PRODUCER = 0;
const CONSUMER = 1;

interface Shared {
  readonly ring: SharedArrayBuffer;
  readonly bells: SharedArrayBuffer;
}

/** Control message to the consumer: take `count` records from the ring or the port, then reply. */
interface Take {
  readonly kind: 'ring' | 'post';
  readonly count: number;
}

function consumerThread(shared: Shared): void {
  const port = parentPort!;
  const ring = new RingConsumer(shared.ring);
  const bells = new Doorbells(shared.bells);
  let posted = 0;
  let expected = 0;
  let sink = 0;

  async function drainRing(count: number): Promise<void> {
    let got = 0;
    while (got < count) {
      const seen = bells.value(CONSUMER);
      for (let off = ring.next(); off >= 0; off = ring.next()) {
        sink += ring.data[off]!;
        got++;
      }
      if (ring.release()) bells.ring(PRODUCER);
      if (got < count) await bells.wait(CONSUMER, seen);
    }
    port.postMessage(sink & 1);
  }

  port.on('message', (m: Take | Uint8Array) => {
    if (m instanceof Uint8Array) {
      sink += m[0]!;
      if (++posted === expected) port.postMessage(sink & 1);
    } else if (m.kind === 'post') {
      posted = 0;
      expected = m.count;
    } else {
      void drainRing(m.count);
    }
  });
}

async function produceRing(ring: RingProducer, bells: Doorbells, record: Uint8Array, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    let off = ring.reserve(record.length);
    while (off < 0) {
      if (ring.publish()) bells.ring(CONSUMER);
      const seen = bells.value(PRODUCER);
      off = ring.reserve(record.length);
      if (off < 0) {
        await bells.wait(PRODUCER, seen);
        off = ring.reserve(record.length);
      }
    }
    ring.data.set(record, off);
    if (ring.unpublished === BATCH) {
      ring.publish();
      bells.ring(CONSUMER);
    }
  }
  if (ring.publish()) bells.ring(CONSUMER);
}

async function main(): Promise<void> {
  const shared: Shared = { ring: createRing(CAPACITY), bells: createDoorbells(2) };
  const worker = new Worker(new URL(import.meta.url), { workerData: shared });
  const ring = new RingProducer(shared.ring);
  const bells = new Doorbells(shared.bells);
  const replied = (): Promise<unknown> => new Promise((resolve) => worker.once('message', resolve));

  /** Seconds to move `count` records of `size` bytes. */
  async function run(kind: 'ring' | 'post', size: number, count: number): Promise<number> {
    const record = new Uint8Array(size).fill(0x5a);
    const done = replied();
    const t0 = performance.now();
    worker.postMessage({ kind, count } satisfies Take);
    if (kind === 'ring') await produceRing(ring, bells, record, count);
    else for (let i = 0; i < count; i++) worker.postMessage(record);
    await done;
    return (performance.now() - t0) / 1000;
  }

  async function measure(name: string, kind: 'ring' | 'post', size: number): Promise<void> {
    const probe = kind === 'ring' ? 200_000 : 20_000;
    const rate = probe / (await run(kind, size, probe));
    const count = Math.max(10_000, Math.round((rate * SAMPLE_MS) / 1000));
    const samples: number[] = [];
    for (let s = 0; s < 5; s++) samples.push(count / (await run(kind, size, count)));
    samples.sort((a, b) => a - b);
    process.stdout.write(`${name.padEnd(52)} ${fmt(samples[2]!).padStart(9)} ops/s  (${fmt(samples[0]!)}–${fmt(samples[4]!)})\n`);
  }

  header('SPSC ring between two threads (records/s)');
  await measure(`ring, 32-byte records, publish per ${BATCH}`, 'ring', 32);
  await measure(`ring, 256-byte records, publish per ${BATCH}`, 'ring', 256);
  await measure('postMessage per record, 32 bytes', 'post', 32);
  await measure('postMessage per record, 256 bytes', 'post', 256);
  await worker.terminate();
}

if (isMainThread) await main();
else consumerThread(workerData as Shared);
