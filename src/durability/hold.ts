/**
 * What deliveries and acknowledgements wait for: a Hold settles once (committed, or failed) and
 * then pumps the sessions that wait on it and runs deferred work. Commit is the Hold of one
 * transaction of this worker; LateWrites collects the late writes of one durable publish that a
 * session handover took elsewhere (src/workers/handover.ts).
 * Invariant: a Hold never un-settles; `failed` is fixed when `done` becomes true.
 * called from: worker
 */
import type { DeliveryGate } from '../model/delivery.ts';

/** A session that is pumped (sends what its queue holds) when a Hold it waits on settles. */
interface Pumped {
  pump(now: number): void;
}

/**
 * Something deliveries wait for: a commit of this worker, or the commit of the worker that
 * writes their entries. Once settled, the waiting sessions are pumped and deferred work runs.
 */
export class Hold implements DeliveryGate {
  done = false;
  failed = false;
  private sessions: Pumped[] | undefined;
  private after: (() => void)[] | undefined;

  /** `session` holds a delivery that waits for this; it is pumped when this settles */
  wait(session: Pumped): void {
    const list = (this.sessions ??= []);
    if (list[list.length - 1] !== session) list.push(session);
  }

  /** runs `fn` when this settles (at once if it has) */
  later(fn: () => void): void {
    if (this.done) fn();
    else (this.after ??= []).push(fn);
  }

  settle(ok: boolean, now: number): void {
    if (this.done) return;
    this.done = true;
    this.failed = !ok;
    if (this.after !== undefined) for (const fn of this.after) fn();
    if (this.sessions !== undefined) for (const s of this.sessions) s.pump(now);
    this.after = this.sessions = undefined;
  }
}

/** Called once a late write is committed by the session's new owner (false: it could not be). */
export type LateDone = (ok: boolean) => void;

/**
 * Deliveries of one durable publish that a session handover took to the session's new owner
 * (src/workers/handover.ts): it writes their entries, and the answer for the publish waits until
 * all of them are committed. Settles failed if one could not be.
 */
export class LateWrites extends Hold {
  private left = 0;
  private ok = true;

  add(): LateDone {
    this.left++;
    let called = false;
    return (ok) => {
      if (called) return;
      called = true;
      this.ok &&= ok;
      if (--this.left === 0) this.settle(this.ok, Date.now());
    };
  }
}

/** A commit of this worker: the Hold of one transaction and the promise that acknowledgements wait for. */
export class Commit extends Hold {
  readonly batch: unknown;
  readonly promise: Promise<void>;
  constructor(batch: unknown, promise: Promise<void>, onSettled: () => void) {
    super();
    this.batch = batch;
    this.promise = promise;
    promise.then(
      () => {
        this.settle(true, Date.now());
        onSettled();
      },
      () => {
        this.settle(false, Date.now());
        onSettled();
      },
    );
  }
}
