/**
 * What the acknowledgement of one inbound packet waits for. A packet handler (src/link) opens the
 * scope before the broker acts on the packet and closes it afterwards: close() returns the promise
 * the acknowledgement (PUBACK, PUBREC, PUBCOMP, SUBACK, UNSUBACK) must wait for, or undefined when
 * nothing the packet did needs the disk — the common case, which allocates nothing.
 *
 * Invariants:
 * - a write to the store notes itself here (noteWrite) and is waited for by the acknowledgement
 *   of the scope that closes next, even when it was made between two packets (a will, retained
 *   messages sent after a SUBACK): conservative, never an acknowledgement before its data;
 * - a durable publish whose entries other workers still have to send back leaves its Ticket here
 *   (waitFor); the acknowledgement then waits for the Ticket's one transaction instead;
 * - one scope per worker, reused: a worker handles one packet at a time. open() forgets a Ticket
 *   left by a publish no acknowledgement waits for (a will).
 * called from: worker
 */
import type { Ticket } from './ticket.ts';

export class AckScope {
  private wrote = false;
  private ticket: Ticket | undefined = undefined;
  /** what another party must confirm first (the other culex nodes' NATS server); never rejects */
  private peer: Promise<void> | undefined = undefined;
  /** this turn's commit; undefined without a store (nothing ever waits) */
  private readonly commit: (() => Promise<void>) | undefined;

  constructor(commit: (() => Promise<void>) | undefined) {
    this.commit = commit;
  }

  open(): this {
    this.ticket = undefined;
    this.peer = undefined;
    return this;
  }

  /** Something was written that the next acknowledgement must not precede. */
  noteWrite(): void {
    this.wrote = true;
  }

  /** The publish being handled is stored by a Ticket that other workers answer first. */
  waitFor(ticket: Ticket | undefined): void {
    this.ticket = ticket;
  }

  /** The acknowledgement also waits for `p`, which must never reject (src/broker/nodeLink.ts). */
  waitAlso(p: Promise<void>): void {
    const before = this.peer;
    this.peer = before === undefined || before === p ? p : Promise.all([before, p]).then(() => undefined);
  }

  /** What the acknowledgement waits for: the Ticket or this turn's commit, and what waitAlso() added; or nothing. */
  close(): Promise<void> | undefined {
    const peer = this.peer;
    this.peer = undefined;
    const own = this.closeOwn();
    if (peer === undefined) return own;
    return own === undefined ? peer : Promise.all([own, peer]).then(() => undefined);
  }

  private closeOwn(): Promise<void> | undefined {
    const commit = this.commit;
    if (commit === undefined) return undefined;
    const ticket = this.ticket;
    const wrote = this.wrote;
    this.ticket = undefined;
    this.wrote = false;
    if (ticket !== undefined) return ticket.promise();
    return wrote ? commit() : undefined;
  }
}
