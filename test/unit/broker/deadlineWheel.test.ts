/**
 * The outbox's timer wheel (src/broker/deadlineWheel.ts), without sockets: an entry comes out at
 * the tick it is due (never before, at the latest the next tick when already due), removal from
 * any place in a slot keeps the rest of the slot, and a deadline beyond the horizon comes out at
 * the horizon for its owner to place again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineWheel, type WheelEntry } from '../../../src/broker/deadlineWheel.ts';

class Entry implements WheelEntry {
  wheelPrev: WheelEntry | undefined = undefined;
  wheelNext: WheelEntry | undefined = undefined;
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}

/** every entry that comes out at each tick from `from` to `to`, by tick */
function sweep(wheel: DeadlineWheel<Entry>, from: number, to: number): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (let t = from; t <= to; t++) {
    for (let e = wheel.takeDue(t); e !== undefined; e = wheel.takeDue(t)) {
      assert.equal(e.wheelNext, undefined, 'a taken entry is in no slot');
      out.set(t, [...(out.get(t) ?? []), e.name].sort());
    }
  }
  return out;
}

test('entries come out at the tick they are due, several in one slot', () => {
  const wheel = new DeadlineWheel<Entry>();
  wheel.insert(new Entry('a'), 5, 0);
  wheel.insert(new Entry('b'), 5, 0);
  wheel.insert(new Entry('c'), 7, 0);
  assert.deepEqual(sweep(wheel, 1, 20), new Map([[5, ['a', 'b']], [7, ['c']]]));
});

test('an entry already due comes out at the next tick', () => {
  const wheel = new DeadlineWheel<Entry>();
  wheel.insert(new Entry('past'), 3, 10);
  wheel.insert(new Entry('now'), 10, 10);
  assert.equal(wheel.takeDue(10), undefined, 'not at the tick it was placed at');
  assert.deepEqual(sweep(wheel, 11, 12), new Map([[11, ['now', 'past']]]));
});

test('an entry removed from the head, the middle or the end of its slot leaves the others there', () => {
  for (const gone of ['a', 'b', 'c']) {
    const wheel = new DeadlineWheel<Entry>();
    const entries = ['a', 'b', 'c'].map((n) => new Entry(n));
    for (const e of entries) wheel.insert(e, 4, 0);
    const removed = entries.find((e) => e.name === gone)!;
    wheel.remove(removed);
    assert.equal(removed.wheelNext, undefined);
    wheel.remove(removed); // a second removal changes nothing
    assert.deepEqual(sweep(wheel, 1, 5), new Map([[4, ['a', 'b', 'c'].filter((n) => n !== gone)]]));
  }
});

test('a deadline beyond the horizon comes out at the horizon, and again until it is due', () => {
  const wheel = new DeadlineWheel<Entry>();
  const far = new Entry('far');
  const due = 5000;
  wheel.insert(far, due, 0);
  const seen: number[] = [];
  for (let t = 1; t <= due + 2048; t++) {
    const e = wheel.takeDue(t);
    if (e === undefined) continue;
    assert.equal(e, far);
    seen.push(t);
    if (t < due) wheel.insert(e, due, t); // its owner places it again, as the outbox's sweep does
  }
  assert.deepEqual(seen, [1023, 2046, 3069, 4092, 5000]);
});

test('entries of ticks a lap apart share a slot but come out at their own lap', () => {
  const wheel = new DeadlineWheel<Entry>();
  wheel.insert(new Entry('first lap'), 6, 0);
  assert.deepEqual(sweep(wheel, 1, 6), new Map([[6, ['first lap']]]));
  wheel.insert(new Entry('second lap'), 6 + 1024, 7);
  assert.deepEqual(sweep(wheel, 8, 3000), new Map([[1030, ['second lap']]]));
});
