/**
 * A durable publish of this worker that other workers also deliver (Ticket), and what those
 * workers answer (RemoteItem): the queue entries they need written by the publishing worker, in
 * the same transaction as its own (src/durability/journal.ts explains the protocol).
 * called from: worker
 */
import type { Delivery } from '../model/delivery.ts';
import type { Message } from '../model/message.ts';
import { Hold } from './hold.ts';
import type { JournalSession } from './journal.ts';

/** A queue entry another worker asks the publishing worker to write: [client id, qseq, QoS, retain, subscription ids]. */
export type RemoteEntry = [string, number, 0 | 1 | 2, boolean, readonly number[] | null];

/**
 * A worker's answer to a durable PUBLISH record: the seq it gave the message and its entries
 * (s = 0: none). `x`: its one entry carries the message inline (no log copy is written; `s` only
 * names the held delivery in the release).
 */
export interface RemoteItem {
  s: number;
  e: RemoteEntry[];
  x?: boolean;
}

/** Sends the publishing worker's "committed" to the worker that holds deliveries of message `seq` (the cluster). */
export type ReleaseSender = (worker: number, seq: number, ok: boolean) => void;

/**
 * One durable publish of this worker that other workers also deliver: their entries come back
 * in RemoteItems; when all have answered, everything is written in one transaction.
 */
export class Ticket {
  readonly message: Message;
  /** other workers that have not answered yet */
  waiting = 0;
  /** an answer never came (the worker died): the publisher is not told "stored" */
  failed = false;
  /** this worker's own deliveries of the message wait here */
  readonly hold = new Hold();
  readonly local: { session: JournalSession; d: Delivery }[] = [];
  readonly remote: { w: number; item: RemoteItem }[] = [];
  /** the publisher's inbound QoS 2 id, written with the entries */
  inbound: { clientId: string; packetId: number } | undefined = undefined;
  /** the publish is another worker's (a `$share` record passed on): its QoS 2 id here is a copy, see Journal.beginPublish() */
  passedOn = false;
  private promise_: Promise<void> | undefined;
  private resolve: (() => void) | undefined;
  private reject: ((err: Error) => void) | undefined;

  constructor(message: Message) {
    this.message = message;
  }

  /** resolves when everything is committed (rejects if it could not be) */
  promise(): Promise<void> {
    return (this.promise_ ??= new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    }));
  }

  end(ok: boolean, now: number): void {
    this.hold.settle(ok, now);
    if (ok) this.resolve?.();
    else this.reject?.(new Error('the message could not be stored for every recipient'));
  }
}
