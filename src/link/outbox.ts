/**
 * The output side of one worker's connections: the connections open on this worker, the dirty
 * list (connections with bytes queued this turn), one flush per event-loop turn, and the sweep
 * that closes connections past their keep-alive or CONNECT timeout (each connection's deadline
 * waits in a DeadlineWheel, so a sweep looks only at those that may be due) and destroys the
 * sockets whose peer did not close them after they were told to end.
 *
 * Invariants: a connection is on the dirty list at most once per turn (Connection.dirty); ring
 * writes to other workers become visible (beforeFlush) before any socket of this worker is
 * written, so a PUBACK or SUBACK never overtakes the routing it acknowledges. No timer per
 * message: one setImmediate per batch.
 * called from: worker
 */
import type { Duplex } from 'node:stream';
import { counters } from '../metrics/counters.ts';
import { Deque } from '../broker/deque.ts';
import type { Connection } from './connection.ts';
import { DeadlineWheel } from '../broker/deadlineWheel.ts';

const SWEEP_MS = 250;
/** sweeps a socket told to end may stay open for its peer to close it (at least 2 s) */
const END_TICKS = Math.ceil(2000 / SWEEP_MS);
/** the longest dirty list kept for reuse */
const SPARE_MAX = 4096;

export class Outbox {
  /** coarse clock for keep-alive: incremented every SWEEP_MS */
  tick = 0;
  /** every open connection, CONNECTed or not */
  readonly connections = new Set<Connection>();
  /** connections open, by listener index (reported as culex_listener_connections) */
  readonly openByListener: number[] = [];
  /**
   * this turn's dirty connections, the first `dirtyCount` slots; the flush swaps it with `spare`
   * (the list it emptied), so that a turn allocates no list: a fresh array grows a backing store
   * at its first push, and most turns have one or two connections to write
   */
  private dirty: (Connection | undefined)[] = [];
  private dirtyCount = 0;
  private spare: (Connection | undefined)[] = [];
  private flushScheduled = false;
  private readonly sweepTimer: NodeJS.Timeout;
  /** publishes this turn's writes to other workers (the cluster's rings); undefined with one worker */
  private readonly beforeFlush: (() => void) | undefined;

  /**
   * sockets told to end (after a DISCONNECT, a refusal, an error), oldest first, and the tick
   * each was told at: the sweep destroys those still open END_TICKS later, for a peer that never
   * closes its side. One list for all, no timer per close.
   */
  private readonly ending = new Deque<Duplex>();
  private readonly endingSince = new Deque<number>();

  /** sweeps from accept to CONNACK (max_connect_time); counted from accept, not from the last byte */
  private connectTicks: number;
  /**
   * every connection with a deadline (awaiting CONNECT, or connected with a keep-alive), in the
   * slot of the tick it was due at when last placed; a packet received moves a keep-alive
   * deadline on without touching the wheel (dueTick reads lastRxTick when the slot comes)
   */
  private readonly deadlines = new DeadlineWheel<Connection>();

  constructor(beforeFlush: (() => void) | undefined, maxConnectTimeSeconds: number) {
    this.beforeFlush = beforeFlush;
    this.connectTicks = Math.ceil((maxConnectTimeSeconds * 1000) / SWEEP_MS);
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
  }

  /** max_connect_time changed by a configuration reload: applies to every connection not yet CONNACKed */
  set maxConnectTime(seconds: number) {
    this.connectTicks = Math.ceil((seconds * 1000) / SWEEP_MS);
    // a shorter deadline must not wait in the slot of the longer one
    for (const c of this.connections) if (c.isAwaitingConnect) this.deadlineChanged(c);
  }

  add(conn: Connection): void {
    this.connections.add(conn);
    this.deadlineChanged(conn);
    const l = conn.listenerIndex;
    this.openByListener[l] = (this.openByListener[l] ?? 0) + 1;
    counters.connectionsAccepted++;
  }

  /** Once per added connection, when it is released (closed, or taken over and closing). */
  remove(conn: Connection): void {
    if (this.connections.delete(conn)) this.openByListener[conn.listenerIndex]!--;
    this.deadlines.remove(conn);
  }

  /**
   * CONNACK: the keep-alive deadline replaces the CONNECT one. The connection moves only when the
   * new deadline comes first; a later one (the usual case: 90 s against 10) is found when the
   * CONNECT deadline's slot comes, off the connect path.
   */
  connected(conn: Connection): void {
    const due = this.dueTick(conn);
    if (due >= 0 && due < this.connectDue(conn)) this.deadlineChanged(conn);
  }

  /** `conn`'s deadline changed other than by a packet received: it moves to its slot. */
  private deadlineChanged(conn: Connection): void {
    this.deadlines.remove(conn);
    const due = this.dueTick(conn);
    if (due >= 0) this.deadlines.insert(conn, due, this.tick);
  }

  /**
   * The first tick at which `conn` is past its deadline; -1 for none. Awaiting CONNACK: more than
   * connectTicks after accept. Connected with a keep-alive: [MQTT-3.1.2-24] more than one and a
   * half times the keep-alive since the last packet.
   */
  private dueTick(conn: Connection): number {
    if (conn.isAwaitingConnect) return this.connectDue(conn);
    if (conn.connected && conn.keepalive > 0) return conn.lastRxTick + Math.floor((conn.keepalive * 1500) / SWEEP_MS) + 1;
    return -1;
  }

  /**
   * The tick `conn` is past its CONNECT deadline: counted from accept, so a CONNECT trickled byte
   * by byte does not push it back (0xA0 Maximum Connect Time names the close in the log).
   */
  private connectDue(conn: Connection): number {
    return conn.openedTick + this.connectTicks + 1;
  }

  /** `socket` was told to end: it is destroyed if still open END_TICKS sweeps from now. */
  endLater(socket: Duplex): void {
    this.ending.push(socket);
    this.endingSince.push(this.tick);
  }

  /** A connection has bytes to write: it is written once when this turn's I/O is done. */
  markDirty(conn: Connection): void {
    conn.dirty = true;
    this.dirty[this.dirtyCount++] = conn;
    this.flushSoon();
  }

  /** Schedules one flush of every dirty connection (one setImmediate per batch, never per message). */
  flushSoon(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushAll);
  }

  readonly flushAll = (): void => {
    this.flushScheduled = false;
    this.beforeFlush?.();
    const list = this.dirty;
    const n = this.dirtyCount;
    this.dirty = this.spare;
    this.dirtyCount = 0;
    for (let i = 0; i < n; i++) {
      const c = list[i]!;
      list[i] = undefined;
      c.flush();
    }
    // a burst's long list is not kept for good
    this.spare = n > SPARE_MAX ? [] : list;
  };

  private sweep(): void {
    const tick = ++this.tick;
    let closed = false;
    while (this.endingSince.length > 0 && tick - this.endingSince.peek()! > END_TICKS) {
      this.endingSince.shift();
      this.ending.shift()!.destroy(); // nothing happens to a socket already closed
    }
    for (let c = this.deadlines.takeDue(tick); c !== undefined; c = this.deadlines.takeDue(tick)) {
      const due = this.dueTick(c);
      if (due > tick) {
        this.deadlines.insert(c, due, tick);
      } else if (due >= 0) {
        closed = true;
        // no packet is sent before CONNACK: 0xA0 only names the close in the log
        if (c.isAwaitingConnect) c.disconnect(0xa0);
        else c.keepaliveExpired();
      }
    }
    if (closed) this.flushSoon();
  }

  /** Graceful stop: v5 clients are told 0x8B [MQTT-3.14.1], every socket is closed. */
  shutdown(): void {
    clearInterval(this.sweepTimer);
    for (const c of this.connections) c.disconnect(0x8b, 'server shutting down');
    this.flushAll();
  }
}
