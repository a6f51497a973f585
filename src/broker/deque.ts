/**
 * A FIFO with O(1) push and shift (an array plus a head index, compacted when half is dead).
 * called from: worker
 */
/** the items of every deque that has never held one; never written (push replaces it first) */
const NONE: never[] = [];

export class Deque<T> {
  /** NONE until the first push: most sessions' queues stay empty (memory per idle connection) */
  private items: (T | undefined)[] = NONE;
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    if (this.items === NONE) this.items = [];
    this.items.push(item);
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Takes the newest item. */
  pop(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    return this.items.pop();
  }

  /** The item `i` places from the oldest (0 = the oldest). */
  at(i: number): T | undefined {
    return i < 0 || i >= this.length ? undefined : this.items[this.head + i];
  }

  clear(): void {
    this.items = NONE;
    this.head = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i] as T;
  }
}
