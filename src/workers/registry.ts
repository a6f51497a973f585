/**
 * Global client-id registry: which worker owns each connected client id. An open-addressing hash
 * table (linear probing) of BigInt64 slots in a SharedArrayBuffer, updated only with
 * Atomics.compareExchange, so every thread can claim, move and drop ids without locks.
 *
 * Slot value: 0n = empty, otherwise (hash56 << 8n) | ownerByte, where hash56 is a non-zero 56-bit
 * hash of the client id (two independent 32-bit string hashes: 32 bits of one, 24 of the other)
 * and ownerByte is the owning worker's index (0..254) or FREE (0xFF): the id was released and
 * nobody owns it now. Two ids with the same hash56 are treated as the same id (at 10^6 ids the
 * chance that any pair collides is about 10^-5).
 *
 * Invariants:
 * - Each hash56 is in at most one slot, for good. A slot goes from empty to (hash, owner) once;
 *   after that only its owner byte changes (owner ↔ FREE, owner → owner), its hash never does,
 *   and it never becomes empty again. So the probe chain in front of the first empty slot only
 *   grows.
 * - A new slot is written only into an EMPTY slot, by claim(), after walking the id's chain from
 *   its home slot and finding no slot with its hash. Two threads claiming a new id both reach the
 *   same first empty slot: one CAS wins and the loser re-reads that slot, finds the winner's hash
 *   and returns its owner.
 * - A released id keeps its slot as FREE: owner() reports -1, transfer() and release() fail, and
 *   only claim() of the same id (which finds its own hash before any empty slot) turns it back into
 *   an owned slot, by CAS from FREE; a loser of that CAS re-reads the slot and returns the winner.
 *   No other id ever takes the slot.
 * - Consequence: ids that come back reuse their slots, so a fleet reconnecting with the same ids
 *   needs one slot per distinct id, however often they reconnect. A slot is never reclaimed for a
 *   different id: a table of N slots holds at most N distinct ids over its lifetime, after which
 *   claim() of a new id returns -2 (ids seen before still work). stats().empty shows how close
 *   that is.
 * - Worker indices are 0..254.
 *
 * called from: worker (claim, owner, transfer, release), main (createRegistry, releaseAll, stats)
 */

const EMPTY = 0n;
/** owner byte of a released id's slot */
const FREE = 0xff;
const FREE_BIG = 0xffn;
const MAX_WORKER = 254;

function checkWorker(worker: number): void {
  if (!Number.isInteger(worker) || worker < 0 || worker > MAX_WORKER) {
    throw new RangeError(`worker index must be an integer in 0..${MAX_WORKER}, got ${worker}`);
  }
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A zeroed registry of `slots` entries (a power of two). */
export function createRegistry(slots: number): SharedArrayBuffer {
  if (!Number.isInteger(slots) || slots < 1 || (slots & (slots - 1)) !== 0 || slots > 2 ** 28) {
    throw new RangeError(`registry slots must be a power of two in 1..2^28, got ${slots}`);
  }
  return new SharedArrayBuffer(slots * 8);
}

/**
 * A view over a registry made by createRegistry(); every thread builds its own over the same
 * buffer. An instance is not re-entrant across threads (it keeps per-call scratch state).
 */
export class ClientRegistry {
  readonly #table: BigInt64Array;
  readonly #mask: number;
  readonly #scratch = new DataView(new ArrayBuffer(8));
  /** hash of the last id passed to #hash(): 32 high bits, 24 low bits */
  #hi = 0;
  #lo = 0;

  constructor(sab: SharedArrayBuffer) {
    this.#table = new BigInt64Array(sab);
    const slots = this.#table.length;
    if (slots < 1 || (slots & (slots - 1)) !== 0) throw new RangeError(`registry slots must be a power of two, got ${slots}`);
    this.#mask = slots - 1;
  }

  /** Worker index owning clientId, or -1 (never claimed, or released). */
  owner(clientId: string): number {
    this.#hash(clientId);
    const key = this.#slotValue(0);
    const max = this.#slotValue(FREE);
    const table = this.#table;
    let i = this.#hi & this.#mask;
    for (let n = 0; n <= this.#mask; n++, i = (i + 1) & this.#mask) {
      const v = Atomics.load(table, i);
      if (v === EMPTY) return -1;
      if (v >= key && v <= max) return v === max ? -1 : Number(v - key);
    }
    return -1;
  }

  /**
   * Claims clientId for `worker` if nobody owns it. Returns the owner after the call: `worker` on
   * success, another index when already owned, -2 when the id has no slot and the table has no
   * empty slot left for it.
   */
  claim(clientId: string, worker: number): number {
    checkWorker(worker);
    this.#hash(clientId);
    const key = this.#slotValue(0);
    const free = this.#slotValue(FREE);
    const want = this.#slotValue(worker);
    const table = this.#table;
    let i = this.#hi & this.#mask;
    for (let n = 0; n <= this.#mask; n++, i = (i + 1) & this.#mask) {
      let v = Atomics.load(table, i);
      if (v === EMPTY) {
        v = Atomics.compareExchange(table, i, EMPTY, want);
        if (v === EMPTY) return worker;
        // lost the race for this empty slot: v is the winner's value, maybe this id's
      }
      if (v < key || v > free) continue;
      // this id's one slot: take it if it is free, else report its owner
      while (v === free) {
        v = Atomics.compareExchange(table, i, free, want);
        if (v === free) return worker;
      }
      return Number(v - key);
    }
    return -2;
  }

  /** Moves ownership from `from` to `to` (CAS). false when `from` is not the owner. */
  transfer(clientId: string, from: number, to: number): boolean {
    checkWorker(from);
    checkWorker(to);
    this.#hash(clientId);
    return this.#replace(this.#slotValue(from), this.#slotValue(to));
  }

  /**
   * Releases clientId if owned by `owner`: its slot stays, marked free, for the same id's next
   * claim(). false when `owner` is not the owner.
   */
  release(clientId: string, owner: number): boolean {
    checkWorker(owner);
    this.#hash(clientId);
    return this.#replace(this.#slotValue(owner), this.#slotValue(FREE));
  }

  /**
   * Releases every id owned by `worker` (used by the main thread after a worker died), leaving
   * their slots free as release() does. Returns how many.
   */
  releaseAll(worker: number): number {
    checkWorker(worker);
    const w = BigInt(worker);
    const table = this.#table;
    let count = 0;
    for (let i = 0; i <= this.#mask; i++) {
      let v = Atomics.load(table, i);
      // v | 0xff: the same hash with the FREE owner byte (two's complement, so also for v < 0n)
      while (v !== EMPTY && (v & 0xffn) === w) {
        const seen = Atomics.compareExchange(table, i, v, v | FREE_BIG);
        if (seen === v) {
          count++;
          break;
        }
        v = seen;
      }
    }
    return count;
  }

  /**
   * Slot counts for monitoring (approximate under concurrency): `live` ids owned by a worker,
   * `free` released ids (their slots wait for the same id), `empty` slots still open to new ids.
   * `tombstones` is the same number as `free` (its name from when released slots were dead).
   */
  stats(): { live: number; free: number; empty: number; tombstones: number; slots: number } {
    const table = this.#table;
    let live = 0;
    let free = 0;
    let empty = 0;
    for (let i = 0; i <= this.#mask; i++) {
      const v = Atomics.load(table, i);
      if (v === EMPTY) empty++;
      else if ((v & 0xffn) === FREE_BIG) free++;
      else live++;
    }
    return { live, free, empty, tombstones: free, slots: table.length };
  }

  /**
   * CASes the slot of the last hashed id from `expected` to `replacement`. false when the id has
   * no slot or its slot holds another value (another owner, or free). A failed CAS re-reads the
   * same slot.
   */
  #replace(expected: bigint, replacement: bigint): boolean {
    const key = this.#slotValue(0);
    const max = this.#slotValue(FREE);
    const table = this.#table;
    let i = this.#hi & this.#mask;
    for (let n = 0; n <= this.#mask; n++, i = (i + 1) & this.#mask) {
      let v = Atomics.load(table, i);
      if (v === EMPTY) return false;
      if (v < key || v > max) continue;
      while (v === expected) {
        v = Atomics.compareExchange(table, i, expected, replacement);
        if (v === expected) return true;
      }
      return false;
    }
    return false;
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
   * 32-bit halves. Values of one id for owner bytes 0..255 (FREE included) form the contiguous
   * range [#slotValue(0), #slotValue(FREE)], which never contains 0n because hash56 is non-zero.
   */
  #slotValue(worker: number): bigint {
    this.#scratch.setUint32(0, ((this.#lo << 8) | worker) >>> 0, true);
    this.#scratch.setUint32(4, this.#hi, true);
    return this.#scratch.getBigInt64(0, true);
  }
}
