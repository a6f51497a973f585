/**
 * Single-producer / single-consumer lock-free ring of variable-length byte records over a
 * SharedArrayBuffer: the cross-worker fan-out channel (one ring per ordered pair of workers).
 *
 * Layout: a 192-byte header, then `capacity` data bytes (a power of two, >= 4096).
 *   byte   0  write index (Int32) — stored by the producer only, on publish()
 *   byte  64  read index  (Int32) — stored by the consumer only, on release()
 *   byte 128  producer-waiting flag (Int32) — set to 1 by the producer, cleared by the consumer
 * Each field has its own 64-byte line so producer and consumer do not write the same line on
 * the fast path.
 *
 * Invariants:
 * - Indices are byte counts that only grow, modulo 2^32; position = index & (capacity - 1).
 *   `(write - read) >>> 0` is the number of bytes in use and never exceeds `capacity`.
 * - A record is a 4-byte little-endian body length, then the body, padded to a multiple of 4,
 *   so every record header is 4-byte aligned. A record never wraps: when it does not fit before
 *   the end of the data area, the producer writes PAD (0xFFFFFFFF) as the length at the current
 *   position and puts the record at offset 0; padding and record belong to the same reservation
 *   and are published together, so a published PAD is always followed by a published record.
 * - The producer never writes bytes between the stored read index and its own write position:
 *   unread data is never overwritten.
 * - Bodies are written with plain stores; the Atomics.store of the write index in publish() and
 *   the consumer's Atomics.load of it order them (Atomics are sequentially consistent), so a
 *   record the consumer sees is complete. The same pair orders release() against reuse.
 * - A new producer or consumer on a used ring resumes from the header: the producer from the
 *   published write index (a dead producer's unpublished reservations are discarded), the
 *   consumer from the stored read index (records a dead consumer read but did not release are
 *   delivered again).
 *
 * Wake-ups are not part of the ring: pair it with doorbell.ts. Producer: publish() returning
 * true → ring the consumer's doorbell. Consumer: release() returning true → ring the producer's.
 *
 * called from: worker (RingProducer in the producing worker, RingConsumer in the consuming
 * worker); main (createRing, ringBufferBytes, ringFill)
 */

const HEADER_BYTES = 192;
/** Int32 slots in the header. */
const WRITE = 0;
const READ = 16;
const WAITING = 32;
/** Length value marking "skip to offset 0". */
const PAD = 0xffffffff;
const MIN_CAPACITY = 4096;
const MAX_CAPACITY = 2 ** 30;

function checkCapacity(capacity: number): void {
  if (!Number.isInteger(capacity) || capacity < MIN_CAPACITY || capacity > MAX_CAPACITY || (capacity & (capacity - 1)) !== 0) {
    throw new RangeError(`ring capacity must be a power of two in ${MIN_CAPACITY}..${MAX_CAPACITY}, got ${capacity}`);
  }
}

function capacityOf(sab: SharedArrayBuffer): number {
  const capacity = sab.byteLength - HEADER_BYTES;
  checkCapacity(capacity);
  return capacity;
}

/** Bytes of a ring's SharedArrayBuffer for `capacity` data bytes (capacity: power of two, >= 4096). */
export function ringBufferBytes(capacity: number): number {
  checkCapacity(capacity);
  return HEADER_BYTES + capacity;
}

/** Allocates a zeroed ring: header + data area. */
export function createRing(capacity: number): SharedArrayBuffer {
  return new SharedArrayBuffer(ringBufferBytes(capacity));
}

/**
 * Fraction of a ring's data area in use (0..1), read from its header by any thread (the main
 * thread's /metrics). A snapshot: the indices move while it is read; never used for a decision.
 */
export function ringFill(sab: SharedArrayBuffer): number {
  const header = new Int32Array(sab, 0, HEADER_BYTES / 4);
  const used = (Atomics.load(header, WRITE) - Atomics.load(header, READ)) >>> 0;
  return Math.min(1, used / capacityOf(sab));
}

/**
 * TEST ONLY: sets both indices of an unused ring to `index` (a multiple of 4 in 0..2^32-1), so
 * tests can run the ring across the 2^32 wrap of its indices. Call before any RingProducer or
 * RingConsumer is constructed on `sab`; never on a ring in use.
 */
export function setRingIndexForTest(sab: SharedArrayBuffer, index: number): void {
  capacityOf(sab);
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff || index % 4 !== 0) {
    throw new RangeError(`ring index must be a multiple of 4 in 0..2^32-1, got ${index}`);
  }
  const header = new Int32Array(sab, 0, HEADER_BYTES / 4);
  Atomics.store(header, WRITE, index | 0);
  Atomics.store(header, READ, index | 0);
  Atomics.store(header, WAITING, 0);
}

/**
 * The writing end of a ring. Exactly one thread may use a RingProducer of a given ring at a time.
 *
 * Usage per batch (e.g. one socket read): `off = reserve(n)`, write the body into
 * `data[off .. off+n)`, repeat; then `if (publish()) consumerBell.ring(...)`.
 * When reserve() returns -1: publish() first (unpublished reservations can fill the ring, and
 * only publishing them lets the consumer free space), then `seen = myBell.value(me)`, retry
 * reserve() once, and only if it is still -1 `await myBell.wait(me, seen)` before retrying.
 */
export class RingProducer {
  /** A Buffer over the data area: callers write record bodies into it at offsets returned by reserve(). */
  readonly data: Buffer;
  /** Largest record body accepted by reserve(): capacity / 4. */
  readonly maxRecord: number;
  readonly #header: Int32Array;
  readonly #view: DataView;
  readonly #capacity: number;
  /** Write position including unpublished reservations (uint32). */
  #write: number;
  /** Last write index stored in the header. */
  #published: number;
  /** Last read index loaded from the header; stale values only under-estimate free space. */
  #readCache: number;
  #unpublished = 0;

  constructor(sab: SharedArrayBuffer) {
    this.#capacity = capacityOf(sab);
    this.#header = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.data = Buffer.from(sab, HEADER_BYTES, this.#capacity);
    this.#view = new DataView(sab, HEADER_BYTES, this.#capacity);
    this.maxRecord = this.#capacity / 4;
    this.#write = Atomics.load(this.#header, WRITE) >>> 0;
    this.#published = this.#write;
    this.#readCache = Atomics.load(this.#header, READ) >>> 0;
  }

  /** Records reserved but not yet published. */
  get unpublished(): number {
    return this.#unpublished;
  }

  /**
   * Reserves a contiguous region of `length` bytes (1..maxRecord) for one record body and returns
   * its offset in `data`, or -1 when the ring has no room now (the consumer has not freed enough).
   * On -1 it also sets the "producer waiting" flag in the header. The record is NOT visible to
   * the consumer until publish(). Throws RangeError when length is outside 1..maxRecord.
   */
  reserve(length: number): number {
    if ((length >>> 0) !== length || length === 0 || length > this.maxRecord) {
      throw new RangeError(`ring record length must be an integer in 1..${this.maxRecord}, got ${length}`);
    }
    const need = 4 + ((length + 3) & ~3);
    const pos = this.#write & (this.#capacity - 1);
    const toEnd = this.#capacity - pos;
    const total = toEnd < need ? toEnd + need : need;
    if (this.#capacity - ((this.#write - this.#readCache) >>> 0) < total && !this.#refreshRoom(total)) return -1;
    let at = pos;
    if (toEnd < need) {
      this.#view.setUint32(pos, PAD, true);
      at = 0;
    }
    this.#view.setUint32(at, length, true);
    this.#write = (this.#write + total) >>> 0;
    this.#unpublished++;
    return at + 4;
  }

  /**
   * Reloads the read index; when there is still no room for `total` bytes, sets the waiting flag
   * and loads the read index once more.
   *
   * No lost wake-up: the producer does store(WAITING, 1) then load(READ); the consumer's
   * release() does store(READ) then load(WAITING). Atomics are sequentially consistent, so in
   * the single total order of these four operations at least one thread sees the other's store:
   * either this second load sees the freed space (reserve succeeds, no wait needed), or the
   * consumer sees the flag (release() returns true and the caller rings the producer's doorbell).
   * Leaving the flag set after the second load succeeds costs at most one spurious wake-up.
   */
  #refreshRoom(total: number): boolean {
    this.#readCache = Atomics.load(this.#header, READ) >>> 0;
    if (this.#capacity - ((this.#write - this.#readCache) >>> 0) >= total) return true;
    Atomics.store(this.#header, WAITING, 1);
    this.#readCache = Atomics.load(this.#header, READ) >>> 0;
    return this.#capacity - ((this.#write - this.#readCache) >>> 0) >= total;
  }

  /**
   * Makes every record reserved since the last publish visible to the consumer (one Atomics.store
   * of the write index, release semantics). Returns true when something new was published.
   */
  publish(): boolean {
    if (this.#write === this.#published) return false;
    Atomics.store(this.#header, WRITE, this.#write | 0);
    this.#published = this.#write;
    this.#unpublished = 0;
    return true;
  }
}

/**
 * The reading end of a ring. Exactly one thread may use a RingConsumer of a given ring at a time.
 *
 * Usage per wake-up: `seen = myBell.value(me)`; `while ((off = next()) >= 0) handle(data, off, length)`;
 * `if (release()) producerBell.ring(...)`; then `await myBell.wait(me, seen)`.
 * A body at `data[off .. off+length)` stays valid until release(): copy what must outlive it.
 */
export class RingConsumer {
  /** A Buffer over the data area: record bodies are read from it at offsets returned by next(). */
  readonly data: Buffer;
  /** Body length of the record returned by the last next(). */
  length = 0;
  readonly #header: Int32Array;
  readonly #view: DataView;
  readonly #capacity: number;
  readonly #maxRecord: number;
  /** Local read position, advanced by next() (uint32). */
  #read: number;
  /** Last read index stored in the header. */
  #released: number;
  /** Last write index loaded from the header. */
  #writeCache: number;

  constructor(sab: SharedArrayBuffer) {
    this.#capacity = capacityOf(sab);
    this.#header = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.data = Buffer.from(sab, HEADER_BYTES, this.#capacity);
    this.#view = new DataView(sab, HEADER_BYTES, this.#capacity);
    this.#maxRecord = this.#capacity / 4;
    this.#read = Atomics.load(this.#header, READ) >>> 0;
    this.#released = this.#read;
    this.#writeCache = Atomics.load(this.#header, WRITE) >>> 0;
  }

  /**
   * Offset in `data` of the next published record body, or -1 when none; its length is then in
   * `length`. Advances a LOCAL read position only. Throws when a record header is corrupt.
   */
  next(): number {
    for (;;) {
      if (this.#read === this.#writeCache) {
        this.#writeCache = Atomics.load(this.#header, WRITE) >>> 0;
        if (this.#read === this.#writeCache) return -1;
      }
      const pos = this.#read & (this.#capacity - 1);
      const len = this.#view.getUint32(pos, true);
      if (len === PAD) {
        this.#read = (this.#read + this.#capacity - pos) >>> 0;
        continue;
      }
      if (len === 0 || len > this.#maxRecord) throw new Error(`corrupt ring record: length ${len} at offset ${pos}`);
      this.length = len;
      this.#read = (this.#read + 4 + ((len + 3) & ~3)) >>> 0;
      return pos + 4;
    }
  }

  /**
   * Frees everything read so far (one Atomics.store of the read index). Returns true when the
   * producer had set its "waiting" flag (and clears it), so the caller can wake the producer.
   * Returns false without touching the flag when nothing new was read: no space was freed.
   * See RingProducer #refreshRoom for why a wake-up cannot be lost.
   */
  release(): boolean {
    if (this.#read === this.#released) return false;
    Atomics.store(this.#header, READ, this.#read | 0);
    this.#released = this.#read;
    if (Atomics.load(this.#header, WAITING) === 0) return false;
    return Atomics.exchange(this.#header, WAITING, 0) !== 0;
  }

  /** true when a published record is waiting (cheap check: one Atomics.load). */
  hasData(): boolean {
    this.#writeCache = Atomics.load(this.#header, WRITE) >>> 0;
    return this.#writeCache !== this.#read;
  }
}
