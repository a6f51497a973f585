/**
 * The ordered-acknowledgement queue of one connection: acknowledgements (and the PUBLISHes that
 * must not overtake them) that wait for a durable commit go out in the order of the packets they
 * answer [MQTT-4.6.0-2], each once its own commit and every earlier one have resolved.
 * Invariant: `held` is undefined exactly when nothing waits, so the common case (no store, or
 * nothing written) sends at once and allocates nothing.
 * called from: worker (the connection's own)
 */
import { counters } from '../metrics/counters.ts';

/** What the queue needs of its connection. */
export interface AckQueueOwner {
  /** the connection is closed: nothing more is sent */
  readonly closed: boolean;
  /** a commit failed and `failed` did not take it: the client is disconnected (v5: 0x80) */
  abort(): void;
  /** something was sent: schedule the turn's flush */
  sent(): void;
}

interface Held {
  readonly send: () => void;
  ready: boolean;
}

export class AckQueue {
  private held: Held[] | undefined = undefined;
  private readonly owner: AckQueueOwner;

  constructor(owner: AckQueueOwner) {
    this.owner = owner;
  }

  /** true while something waits: a new send must queue behind it */
  get waiting(): boolean {
    return this.held !== undefined;
  }

  /**
   * Runs `send` once `commit` has resolved, or at once when there is none and nothing waits.
   * When the commit fails, `failed` may adjust what `send` says and return true, or return
   * false to have the owner close the connection instead.
   */
  after(commit: Promise<void> | undefined, send: () => void, failed?: () => boolean): void {
    if (commit === undefined && this.held === undefined) {
      send();
      return;
    }
    const entry: Held = { send, ready: commit === undefined };
    (this.held ??= []).push(entry);
    commit?.then(
      () => {
        entry.ready = true;
        this.release();
      },
      () => {
        counters.storeFailures++;
        if (failed === undefined || !failed()) {
          this.owner.abort();
          return;
        }
        entry.ready = true;
        this.release();
      },
    );
  }

  private release(): void {
    const q = this.held;
    if (q === undefined || this.owner.closed) return;
    while (q.length > 0 && q[0]!.ready) q.shift()!.send();
    if (q.length === 0) this.held = undefined;
    this.owner.sent();
  }
}
