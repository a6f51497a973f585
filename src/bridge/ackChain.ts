/**
 * Writes that must leave in order although some wait for a commit: each runs once everything
 * queued before it ran and its own promise resolved. The common case (nothing waiting, no
 * promise) runs at once without allocating. reset() drops what waits (the connection it was
 * for is gone: the remote sends its packets again, the session resends its own).
 * called from: worker
 */
export class AckChain {
  private tail: Promise<void> | undefined = undefined;
  private pending = 0;
  private generation = 0;

  /** Runs `send` in order once `after` resolved; `failed` instead when it rejects. */
  run(after: Promise<void> | undefined, send: () => void, failed?: () => void): void {
    if (after === undefined && this.pending === 0) {
      send();
      return;
    }
    const gen = this.generation;
    this.pending++;
    this.tail = (this.tail ?? Promise.resolve())
      .then(() => after)
      .then(
        () => {
          if (gen === this.generation) send();
        },
        () => {
          if (gen === this.generation) failed?.();
        },
      )
      .finally(() => {
        if (gen === this.generation && --this.pending === 0) this.tail = undefined;
      });
  }

  reset(): void {
    this.generation++;
    this.pending = 0;
    this.tail = undefined;
  }
}
