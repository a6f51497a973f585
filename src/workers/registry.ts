/**
 * Global client-id registry: which worker owns each connected client id (and each stored
 * session's id). An open-addressing hash table (linear probing) in a growable SharedArrayBuffer,
 * shared by every thread; every operation holds one futex-style lock (Atomics.wait/notify on a
 * header word), so claims, moves and releases of one id are totally ordered.
 *
 * Layout: Int32 header [lock, live ids, slots in use], then `slots` BigInt64 slots.
 * Slot value: 0n = empty, otherwise (hash56 << 8n) | ownerByte, where hash56 is a non-zero 56-bit
 * hash of the client id (two independent 32-bit string hashes: 32 bits of one, 24 of the other)
 * and ownerByte is the owning worker's index (0..254). Two ids with the same hash56 are treated
 * as the same id (at 10^6 ids the chance that any pair collides is about 10^-5).
 *
 * Invariants (under the lock):
 * - Each hash56 is in at most one slot, reachable from its home slot (hash & (slots - 1)) without
 *   crossing an empty slot.
 * - release() empties the slot and shifts the rest of its probe run back (backward-shift
 *   deletion), so there are no tombstones: the table holds only live ids, however many distinct
 *   ids have come and gone (clients with random ids reconnecting forever).
 * - Fill stays at most half: a claim that would pass it doubles the table (SharedArrayBuffer.grow,
 *   seen by every thread) and rehashes every id. Memory follows the peak of live ids, 16-32 bytes
 *   each; untouched pages of the reservation cost nothing.
 * - At the largest size (maxSlots) claims go on up to 15/16 full; past that, claim() of a new id
 *   returns -2 (the caller logs it); ids already in the table still work.
 * The lock is held for a handful of probes (a rehash: every id once, at each doubling) and
 * never across an await, so a thread waits at most that long.
 *
 * called from: worker (claim, owner, transfer, release), main (createRegistry, releaseAll, stats)
 */

const EMPTY = 0n;
const MAX_WORKER = 254;
/** Int32 header words */
const LOCK = 0;
const LIVE = 1;
const SLOTS = 2;
const HEADER_BYTES = 16;
/** lock word: 0 free, 1 held, 2 held with (maybe) threads waiting */
const HELD = 1;
const CONTENDED = 2;

function checkWorker(worker: number): void {
  if (!Number.isInteger(worker) || worker < 0 || worker > MAX_WORKER) {
    throw new RangeError(`worker index must be an integer in 0..${MAX_WORKER}, got ${worker}`);
  }
}

function checkSlots(slots: number, what: string): void {
  if (!Number.isInteger(slots) || slots < 2 || (slots & (slots - 1)) !== 0 || slots > 2 ** 28) {
    throw new RangeError(`registry ${what} must be a power of two in 2..2^28, got ${slots}`);
  }
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * An empty registry that starts with `initialSlots` and may grow to `maxSlots` (powers of two);
 * only the slots in use are backed by memory.
 */
export function createRegistry(maxSlots: number, initialSlots = Math.min(maxSlots, 4096)): SharedArrayBuffer {
  checkSlots(maxSlots, 'maximum slots');
  checkSlots(initialSlots, 'initial slots');
  if (initialSlots > maxSlots) throw new RangeError(`registry initial slots ${initialSlots} above the maximum ${maxSlots}`);
  const sab = new SharedArrayBuffer(HEADER_BYTES + initialSlots * 8, { maxByteLength: HEADER_BYTES + maxSlots * 8 });
  new Int32Array(sab, 0, 3)[SLOTS] = initialSlots;
  return sab;
}

/**
 * A view over a registry made by createRegistry(); every thread builds its own over the same
 * buffer. An instance is not re-entrant across threads (it keeps per-call scratch state).
 */
export class ClientRegistry {
  readonly #sab: SharedArrayBuffer;
  readonly #header: Int32Array;
  /** length-tracking: follows the buffer as any thread grows it */
  readonly #table: BigInt64Array;
  readonly #maxSlots: number;
  readonly #scratch = new DataView(new ArrayBuffer(8));
  /** hash of the last id passed to #hash(): 32 high bits, 24 low bits */
  #hi = 0;
  #lo = 0;

  constructor(sab: SharedArrayBuffer) {
    if (!sab.growable || sab.byteLength < HEADER_BYTES + 16) throw new RangeError('not a client registry (createRegistry makes one)');
    this.#sab = sab;
    this.#header = new Int32Array(sab, 0, 3);
    this.#table = new BigInt64Array(sab, HEADER_BYTES);
    this.#maxSlots = (sab.maxByteLength - HEADER_BYTES) / 8;
  }

  /** Worker index owning clientId, or -1. */
  owner(clientId: string): number {
    this.#hash(clientId);
    this.#lock();
    try {
      const i = this.#find();
      return i < 0 ? -1 : Number(this.#table[i]! & 0xffn);
    } finally {
      this.#unlock();
    }
  }

  /**
   * Claims clientId for `worker` if nobody owns it. Returns the owner after the call: `worker` on
   * success, another index when already owned, -2 when the table is at its largest and full.
   */
  claim(clientId: string, worker: number): number {
    checkWorker(worker);
    this.#hash(clientId);
    this.#lock();
    try {
      const i = this.#find();
      if (i >= 0) return Number(this.#table[i]! & 0xffn);
      const slots = this.#header[SLOTS]!;
      const live = this.#header[LIVE]!;
      if (2 * (live + 1) > slots) {
        if (slots < this.#maxSlots) this.#grow(slots * 2);
        else if (16 * (live + 1) > 15 * slots) return -2;
      }
      this.#table[this.#emptyFrom(this.#hi)] = this.#slotValue(worker);
      this.#header[LIVE] = live + 1;
      return worker;
    } finally {
      this.#unlock();
    }
  }

  /** Moves ownership from `from` to `to`. false when `from` is not the owner. */
  transfer(clientId: string, from: number, to: number): boolean {
    checkWorker(from);
    checkWorker(to);
    this.#hash(clientId);
    this.#lock();
    try {
      const i = this.#find();
      if (i < 0 || this.#table[i] !== this.#slotValue(from)) return false;
      this.#table[i] = this.#slotValue(to);
      return true;
    } finally {
      this.#unlock();
    }
  }

  /** Releases clientId if owned by `owner`: its slot is emptied. false when `owner` is not the owner. */
  release(clientId: string, owner: number): boolean {
    checkWorker(owner);
    this.#hash(clientId);
    this.#lock();
    try {
      const i = this.#find();
      if (i < 0 || this.#table[i] !== this.#slotValue(owner)) return false;
      this.#delete(i);
      return true;
    } finally {
      this.#unlock();
    }
  }

  /** Releases every id owned by `worker` (used by the main thread after a worker died). Returns how many. */
  releaseAll(worker: number): number {
    checkWorker(worker);
    const w = BigInt(worker);
    this.#lock();
    try {
      const slots = this.#header[SLOTS]!;
      const kept: bigint[] = [];
      let count = 0;
      for (let i = 0; i < slots; i++) {
        const v = this.#table[i]!;
        if (v === EMPTY) continue;
        if ((v & 0xffn) === w) count++;
        else kept.push(v);
      }
      if (count > 0) this.#rehash(kept, slots);
      return count;
    } finally {
      this.#unlock();
    }
  }

  /** For monitoring: `live` ids, `empty` slots, `slots` in use, `maxSlots` it may grow to. */
  stats(): { live: number; empty: number; slots: number; maxSlots: number } {
    this.#lock();
    try {
      const live = this.#header[LIVE]!;
      const slots = this.#header[SLOTS]!;
      return { live, empty: slots - live, slots, maxSlots: this.#maxSlots };
    } finally {
      this.#unlock();
    }
  }

  #lock(): void {
    const h = this.#header;
    let c = Atomics.compareExchange(h, LOCK, 0, HELD);
    if (c === 0) return;
    do {
      if (c === CONTENDED || Atomics.compareExchange(h, LOCK, HELD, CONTENDED) !== 0) Atomics.wait(h, LOCK, CONTENDED);
      c = Atomics.compareExchange(h, LOCK, 0, CONTENDED);
    } while (c !== 0);
  }

  #unlock(): void {
    const h = this.#header;
    if (Atomics.sub(h, LOCK, 1) !== HELD) {
      Atomics.store(h, LOCK, 0);
      Atomics.notify(h, LOCK, 1);
    }
  }

  /** The slot of the last hashed id, or -1. */
  #find(): number {
    const key = this.#slotValue(0);
    const max = key | 0xffn;
    const table = this.#table;
    const mask = this.#header[SLOTS]! - 1;
    for (let i = this.#hi & mask; ; i = (i + 1) & mask) {
      const v = table[i]!;
      if (v === EMPTY) return -1;
      if (v >= key && v <= max) return i;
    }
  }

  /** The first empty slot from `home` on (the table is never full). */
  #emptyFrom(home: number): number {
    const table = this.#table;
    const mask = this.#header[SLOTS]! - 1;
    let i = home & mask;
    while (table[i] !== EMPTY) i = (i + 1) & mask;
    return i;
  }

  /** Empties slot `i` and moves back the ids after it whose probe run crossed it. */
  #delete(i: number): void {
    const table = this.#table;
    const mask = this.#header[SLOTS]! - 1;
    for (let j = (i + 1) & mask; ; j = (j + 1) & mask) {
      const v = table[j]!;
      if (v === EMPTY) break;
      const home = Number(v >> 32n) & mask;
      // v may fill the hole at i when i lies on its path: home .. j, cyclically
      if (((j - home) & mask) >= ((j - i) & mask)) {
        table[i] = v;
        i = j;
      }
    }
    table[i] = EMPTY;
    this.#header[LIVE] = this.#header[LIVE]! - 1;
  }

  #grow(slots: number): void {
    const old = this.#header[SLOTS]!;
    const entries: bigint[] = [];
    for (let i = 0; i < old; i++) if (this.#table[i] !== EMPTY) entries.push(this.#table[i]!);
    this.#sab.grow(HEADER_BYTES + slots * 8);
    this.#rehash(entries, slots);
  }

  /** Rewrites the table as exactly `entries` in `slots` slots. */
  #rehash(entries: readonly bigint[], slots: number): void {
    this.#table.fill(EMPTY, 0, slots);
    this.#header[SLOTS] = slots;
    for (const v of entries) this.#table[this.#emptyFrom(Number(v >> 32n))] = v;
    this.#header[LIVE] = entries.length;
  }

  /**
   * Hashes a client id (its UTF-16 code units) into #hi (32 bits) and #lo (24 bits), never both
   * zero. FNV-1a and a multiply-xorshift hash, each finished with the murmur3 avalanche.
   */
  #hash(clientId: string): void {
    let a = 0x811c9dc5;
    let b = 0x9747b28c;
    for (let i = 0; i < clientId.length; i++) {
      const c = clientId.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995);
      b ^= b >>> 15;
    }
    this.#hi = fmix32(a ^ clientId.length);
    this.#lo = fmix32(b ^ Math.imul(clientId.length, 0x9e3779b9)) & 0xffffff;
    if ((this.#hi | this.#lo) === 0) this.#lo = 1;
  }

  /**
   * The slot value (hash56 << 8n) | worker for the last hashed id, as one BigInt built from two
   * 32-bit halves (the high half, #hi, is also the home slot's hash). Values of one id for owner
   * bytes 0..255 form the contiguous range [#slotValue(0), #slotValue(0) | 0xff], which never
   * contains 0n because hash56 is non-zero.
   */
  #slotValue(worker: number): bigint {
    this.#scratch.setUint32(0, ((this.#lo << 8) | worker) >>> 0, true);
    this.#scratch.setUint32(4, this.#hi, true);
    return this.#scratch.getBigInt64(0, true);
  }
}
