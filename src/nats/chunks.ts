/**
 * A takeover answer larger than one NATS message (the server's max_payload, 1 MiB by default:
 * a session with a long queue) travels in numbered chunks:
 *
 *   A → B  the takeover answer {x: {x: subject, z: bytes, c: chunk size}}   A keeps the encoded
 *          answer and listens on `subject` (`culex.transfer.<uuid>`, this transfer's alone)
 *   B → A  request "0", "1", … on `subject`, one at a time, each answered with that chunk
 *
 * B joins the chunks into one buffer of `z` bytes and decodes it as the answer it stands for.
 * Memory stays bounded by the session itself: A holds the encoded answer (the session has left
 * its tree and store already), B the buffer it fills; one chunk is on the wire at a time. A drops
 * the answer once it has sent the last chunk, or after TRANSFER_IDLE_MS without a request (B
 * gone): the session is then lost, and both sides log it.
 * called from: worker
 */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';

/** how long A keeps an answer without a chunk request, and B waits for one chunk */
const TRANSFER_IDLE_MS = 10_000;
/** the largest answer B accepts (a sanity bound against a corrupt size, far above any real session) */
const MAX_TRANSFER_BYTES = 2 ** 31 - 1;

/** What the takeover answer carries instead of the session when it does not fit one message. */
export interface ChunkedRef {
  /** the subject A answers chunk requests on */
  readonly x: string;
  /** the encoded answer's size in bytes */
  readonly z: number;
  /** the size of every chunk but the last */
  readonly c: number;
}

/**
 * A: serves `data` (the encoded answer; owned from now on) in chunks of `chunk` bytes until the
 * last one is sent; `lost` is called if B stops asking first.
 */
export function offerChunks(nc: NatsConnection, data: Uint8Array, chunk: number, lost: () => void): ChunkedRef {
  const subject = `culex.transfer.${randomUUID()}`;
  const count = Math.ceil(data.length / chunk);
  const end = (): void => {
    clearTimeout(timer);
    sub.unsubscribe();
  };
  const timer = setTimeout(() => {
    end();
    lost();
  }, TRANSFER_IDLE_MS);
  const sub = nc.subscribe(subject, {
    callback: (err, msg) => {
      if (err !== null) return;
      const i = Number(Buffer.from(msg.data).toString());
      if (!Number.isInteger(i) || i < 0 || i >= count) return;
      msg.respond(data.subarray(i * chunk, (i + 1) * chunk));
      if (i === count - 1) end();
      else timer.refresh();
    },
  });
  return { x: subject, z: data.length, c: chunk };
}

/** B: the answer `ref` stands for, chunk after chunk; rejects when one does not come whole. */
export async function fetchChunks(nc: NatsConnection, ref: ChunkedRef): Promise<Buffer> {
  if (!(ref.z > 0 && ref.z <= MAX_TRANSFER_BYTES && ref.c > 0)) throw new Error(`a transfer of ${ref.z} bytes in chunks of ${ref.c}`);
  const out = Buffer.allocUnsafe(ref.z);
  const count = Math.ceil(ref.z / ref.c);
  for (let i = 0; i < count; i++) {
    const m = await nc.request(ref.x, String(i), { timeout: TRANSFER_IDLE_MS });
    const expected = Math.min(ref.c, ref.z - i * ref.c);
    if (m.data.length !== expected) throw new Error(`chunk ${i} of ${count}: ${m.data.length} bytes, not ${expected}`);
    out.set(m.data, i * ref.c);
  }
  return out;
}
