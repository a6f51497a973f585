/**
 * The FIFO under every session queue: order, shift past the end, pop, at(), clear, iteration,
 * and that deques which never held an item (they share one empty list) stay independent.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Deque } from '../../../src/broker/deque.ts';

describe('Deque', () => {
  test('items come out in the order they went in; shift and pop on an empty deque give undefined', () => {
    const d = new Deque<number>();
    assert.equal(d.length, 0);
    assert.equal(d.shift(), undefined);
    assert.equal(d.pop(), undefined);
    assert.equal(d.peek(), undefined);
    for (let i = 0; i < 5; i++) d.push(i);
    assert.equal(d.peek(), 0);
    assert.equal(d.shift(), 0);
    assert.equal(d.pop(), 4);
    assert.deepEqual([...d], [1, 2, 3]);
    assert.equal(d.at(0), 1);
    assert.equal(d.at(2), 3);
    assert.equal(d.at(3), undefined);
    assert.equal(d.length, 3);
  });

  test('deques that never held an item are independent: a push to one shows in no other, before or after clear()', () => {
    const a = new Deque<string>();
    const b = new Deque<string>();
    a.push('x');
    assert.equal(b.length, 0);
    assert.deepEqual([...b], []);
    a.clear();
    b.push('y');
    assert.equal(a.length, 0);
    assert.equal(new Deque<string>().length, 0);
    assert.deepEqual([...b], ['y']);
  });

  test('a long run of push and shift keeps order across compactions', () => {
    const d = new Deque<number>();
    let next = 0;
    for (let i = 0; i < 10_000; i++) {
      d.push(i);
      if (i % 3 !== 0) assert.equal(d.shift(), next++);
    }
    assert.equal(d.length, 10_000 - next);
    assert.deepEqual([...d].slice(0, 3), [next, next + 1, next + 2]);
  });
});
