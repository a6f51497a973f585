/**
 * A timer wheel of entries due at a sweep tick: one slot per tick, so that a sweep looks only at
 * the entries whose deadline may have come, not at all of them. The outbox keeps its connections'
 * deadlines (keep-alive, CONNECT time) here, the broker its offline sessions' expiry; a sweep
 * over every connection cost 0.4–0.5 ms per 10,000 connections four times a second, idle or
 * not, and held up the messages that came meanwhile.
 *
 * Invariants:
 * - An entry is in at most one slot: in that slot's circular doubly-linked list, whose links are
 *   fields of the entry itself (wheelNext undefined: in none), closed by the slot's own sentinel.
 *   Insert, remove and take allocate nothing and are O(1); an entry carries two fields.
 * - A slot holds the entries due at the one tick ≡ slot (mod SLOTS) that comes next, or later:
 *   an entry due beyond the horizon (SLOTS - 1 ticks) waits in the farthest slot; its owner
 *   computes its due tick again when that slot comes, and puts it back further on.
 * called from: worker (the outbox: its connections' deadlines; SessionExpiry: offline sessions')
 */

/** the fields a wheel entry carries for the wheel: its neighbours in its slot, undefined in none */
export interface WheelEntry {
  wheelPrev: WheelEntry | undefined;
  wheelNext: WheelEntry | undefined;
}

/** slots in the wheel: its horizon in ticks (a power of two) */
const SLOTS = 1024;
const MASK = SLOTS - 1;
/** the furthest tick ahead an entry can be placed at; a pass over this many ticks and one more visits every slot */
export const WHEEL_HORIZON = MASK;

/** an empty slot: its sentinel linked to itself */
function sentinel(): WheelEntry {
  const s: WheelEntry = { wheelPrev: undefined, wheelNext: undefined };
  s.wheelPrev = s.wheelNext = s;
  return s;
}

export class DeadlineWheel<T extends WheelEntry> {
  private readonly slots: readonly WheelEntry[] = Array.from({ length: SLOTS }, sentinel);

  /**
   * Puts `entry`, in no slot, in the slot of tick `due`, seen from tick `now`: at the earliest the
   * next tick, at the latest the horizon.
   */
  insert(entry: T, due: number, now: number): void {
    const at = due <= now ? now + 1 : due - now >= SLOTS ? now + MASK : due;
    const head = this.slots[at & MASK]!;
    const first = head.wheelNext!;
    entry.wheelPrev = head;
    entry.wheelNext = first;
    first.wheelPrev = entry;
    head.wheelNext = entry;
  }

  /** Takes `entry` out of its slot; nothing when it is in none. */
  remove(entry: T): void {
    const next = entry.wheelNext;
    if (next === undefined) return;
    const prev = entry.wheelPrev!;
    prev.wheelNext = next;
    next.wheelPrev = prev;
    entry.wheelPrev = undefined;
    entry.wheelNext = undefined;
  }

  /** Takes one entry out of tick `now`'s slot and returns it; undefined once the slot is empty. */
  takeDue(now: number): T | undefined {
    const head = this.slots[now & MASK]!;
    const entry = head.wheelNext!;
    if (entry === head) return undefined;
    this.remove(entry as T);
    return entry as T;
  }
}
