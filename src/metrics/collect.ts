/**
 * The main thread's rounds of 'stats' requests to the workers: one id per round, answered by
 * each worker asked, resolved when all have answered, when the ones still missing died, or at
 * the deadline (a worker that does not answer in time is left out: a hung or dead worker never
 * holds up a scrape, `$SYS` or /healthz).
 * called from: main
 */
import type { ReportDetail, WorkerReport } from './report.ts';

interface Round {
  readonly reports: (WorkerReport | undefined)[];
  readonly waiting: Set<number>;
  readonly resolve: (reports: (WorkerReport | undefined)[]) => void;
  readonly timer: NodeJS.Timeout;
}

export class ReportCollector {
  private readonly rounds = new Map<number, Round>();
  private nextId = 1;
  private readonly send: (index: number, id: number, detail: ReportDetail) => void;

  /** `send`: posts ToWorker 'stats' to worker `index` */
  constructor(send: (index: number, id: number, detail: ReportDetail) => void) {
    this.send = send;
  }

  /** Asks the workers `indexes`; the result has one slot per index up to `size`, undefined where none came. */
  request(indexes: readonly number[], size: number, detail: ReportDetail, timeoutMs: number): Promise<(WorkerReport | undefined)[]> {
    const reports: (WorkerReport | undefined)[] = new Array<WorkerReport | undefined>(size).fill(undefined);
    if (indexes.length === 0) return Promise.resolve(reports);
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.finish(id), timeoutMs);
      timer.unref();
      this.rounds.set(id, { reports, waiting: new Set(indexes), resolve, timer });
      for (const i of indexes) this.send(i, id, detail);
    });
  }

  /** Worker `index` answered round `id`. */
  answer(index: number, id: number, report: WorkerReport): void {
    const r = this.rounds.get(id);
    if (r === undefined || !r.waiting.delete(index)) return;
    r.reports[index] = report;
    if (r.waiting.size === 0) this.finish(id);
  }

  /** Worker `index` died: no round waits for it any longer. */
  gone(index: number): void {
    for (const [id, r] of this.rounds) if (r.waiting.delete(index) && r.waiting.size === 0) this.finish(id);
  }

  private finish(id: number): void {
    const r = this.rounds.get(id);
    if (r === undefined) return;
    this.rounds.delete(id);
    clearTimeout(r.timer);
    r.resolve(r.reports);
  }
}
