/**
 * The reload gate: a CONNECT that arrives after SIGHUP is authenticated under what that SIGHUP
 * loads, as in Mosquitto, whose one thread reloads before it reads the next packet
 * (`kill -HUP` after `mosquitto_passwd -b`, then connecting as the new user, works there).
 * culex reloads asynchronously (the main thread reads the files, each worker applies them), so
 * a worker holds the authentication of CONNECTs while a reload asked for is not applied in it.
 *
 * Shared memory, Int32 cells: [0] reloads asked (main thread, in the signal's handler, before
 * any file is read); [1 + w] reloads applied in worker w (the worker once it has applied one;
 * the main thread for every worker when a reload fails or ends). A reload applies every ask
 * made before it began (the count it was given).
 * called from: main (ask, begin, settle), worker (settle, settled)
 */

const ASKED = 0;

export class ReloadGate {
  readonly buffer: SharedArrayBuffer;
  private readonly cells: Int32Array;

  /** The main thread's gate seen from a worker (WorkerInit.reloadGate). */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.cells = new Int32Array(buffer);
  }

  /** A new gate for `workers` workers (main thread). */
  static create(workers: number): ReloadGate {
    return new ReloadGate(new SharedArrayBuffer(4 * (1 + workers)));
  }

  /** Main thread, synchronously on SIGHUP: CONNECTs from now on wait for the next reload. */
  ask(): void {
    Atomics.add(this.cells, ASKED, 1);
  }

  /** Main thread, when a reload starts reading the files: the asks it answers. */
  begin(): number {
    return Atomics.load(this.cells, ASKED);
  }

  /** Worker `w` has applied the reload that answers `asks` (or it ended without reaching it). */
  settle(w: number, asks: number): void {
    const cell = 1 + w;
    if (Atomics.load(this.cells, cell) - asks >= 0) return;
    Atomics.store(this.cells, cell, asks);
    Atomics.notify(this.cells, cell);
  }

  /**
   * Worker `w`: undefined when every reload asked is applied here (the common case: nothing
   * waits); else resolves once they are, or after `limitMs` (a reload that hangs must not
   * keep clients out for good).
   */
  settled(w: number, limitMs: number): Promise<void> | undefined {
    const cell = 1 + w;
    const asked = Atomics.load(this.cells, ASKED);
    if (Atomics.load(this.cells, cell) - asked >= 0) return undefined;
    const deadline = Date.now() + limitMs;
    return (async () => {
      for (;;) {
        const applied = Atomics.load(this.cells, cell);
        const left = deadline - Date.now();
        if (applied - asked >= 0 || left <= 0) return;
        const wait = Atomics.waitAsync(this.cells, cell, applied, left);
        if (wait.async) await wait.value;
      }
    })();
  }
}
