/**
 * Wills waiting for their Will Delay Interval [MQTT-3.1.3-9], one per client id: a timer each,
 * and the time it is due (stored with the session, so a restart keeps the delay).
 * Invariant: an entry exists exactly while its timer runs; take() and the timer both remove it.
 * called from: worker
 */
import type { Will } from '../model/will.ts';

/** the longest setTimeout Node honours */
const MAX_TIMER_MS = 0x7fffffff;

interface Waiting {
  readonly will: Will;
  readonly timer: NodeJS.Timeout;
  /** ms since the epoch */
  readonly due: number;
}

export class DelayedWills {
  private readonly waiting = new Map<string, Waiting>();
  private readonly onDue: (will: Will) => void;

  /** `onDue` publishes a will whose delay has passed (it has left this table by then). */
  constructor(onDue: (will: Will) => void) {
    this.onDue = onDue;
  }

  /** Publishes `will` in `delay` seconds unless taken first. */
  schedule(will: Will, delay: number): void {
    const due = Date.now() + delay * 1000;
    this.waiting.set(will.clientId, { will, timer: this.arm(will, due), due });
  }

  /**
   * A timer for `due`: setTimeout takes at most 2^31−1 ms (24.8 days; longer fires at once), so a
   * longer delay (the Will Delay Interval goes up to 2^32−1 s) is re-armed for what is left.
   */
  private arm(will: Will, due: number): NodeJS.Timeout {
    const left = due - Date.now();
    if (left > MAX_TIMER_MS) {
      return setTimeout(() => {
        const w = this.waiting.get(will.clientId);
        if (w !== undefined && w.will === will) this.waiting.set(will.clientId, { ...w, timer: this.arm(will, due) });
      }, MAX_TIMER_MS);
    }
    return setTimeout(() => {
      this.waiting.delete(will.clientId);
      this.onDue(will);
    }, Math.max(0, left));
  }

  /** Cancels and returns the will waiting for `clientId`, if any. */
  take(clientId: string): Will | undefined {
    const w = this.waiting.get(clientId);
    if (w === undefined) return undefined;
    clearTimeout(w.timer);
    this.waiting.delete(clientId);
    return w.will;
  }

  /** The will waiting for `clientId` and when it is due, for the session record. */
  pending(clientId: string): { readonly will: Will; readonly due: number } | undefined {
    return this.waiting.get(clientId);
  }

  /** Stops every timer (shutdown); the wills stay in the stored sessions. */
  clear(): void {
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
  }
}
