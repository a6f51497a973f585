/**
 * Reads `perf sched timehist --state` and reports, for each thread of one process whose name is
 * THREAD_NAME, the time it was ready to run but off a core: after being preempted (switched out in
 * state R) and after being woken (its scheduling delay), and which tasks held its core while it
 * was preempted. For profile/sched.sh; never part of the broker.
 *   node native-bench/profile/schedSummary.ts TIMEHIST_FILE THREAD_NAME PID
 * A timehist line is one switch-out: time, [cpu], task[tid/pid], then the task's wait before it
 * ran (asleep or queued), its scheduling delay (woken to running), its run time, all in ms, and
 * the state it left in.
 * called from: command line (sched.sh), test/bench
 */
import { readFileSync } from 'node:fs';

interface SwitchOut {
  readonly at: number; // µs
  readonly cpu: number;
  readonly name: string; // without [tid/pid]
  readonly tid: number;
  readonly pid: number;
  readonly waitUs: number;
  readonly delayUs: number;
  readonly runUs: number;
  readonly state: string;
}

/** One wait of the thread in a core's run queue after it was preempted. */
export interface QueuedWait {
  readonly atUs: number;
  readonly us: number;
  readonly cpu: number;
  /** µs each other task ran on that core during the wait */
  readonly heldBy: ReadonlyMap<string, number>;
}

export interface ThreadReport {
  readonly tid: number;
  readonly ranUs: number;
  readonly recordedUs: number;
  /** every wait after a preemption, longest first */
  readonly preempted: readonly QueuedWait[];
  /** the scheduling delay of every wake-up */
  readonly wakeDelaysUs: readonly number[];
  /** µs each other task ran on the thread's core while it waited there, over all waits */
  readonly heldBy: ReadonlyMap<string, number>;
}

const LINE = /^\s*([\d.]+)\s+\[(\d+)\]\s+(.+?)(?:\[(\d+)(?:\/(\d+))?\])?\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+(\S+)\s*$/;

function parse(text: string): SwitchOut[] {
  const out: SwitchOut[] = [];
  for (const line of text.split('\n')) {
    const m = LINE.exec(line);
    if (m === null) continue;
    const tid = Number(m[4] ?? 0);
    out.push({
      at: Math.round(Number(m[1]) * 1e6), cpu: Number(m[2]), name: m[3]!, tid, pid: Number(m[5] ?? tid),
      waitUs: Number(m[6]) * 1000, delayUs: Number(m[7]) * 1000, runUs: Number(m[8]) * 1000, state: m[9]!,
    });
  }
  return out;
}

/** Adds the µs each task ran within [from, to) to `into`; `onCpu`: one core's switch-outs, in time order. */
function addHolders(onCpu: readonly SwitchOut[], from: number, to: number, into: Map<string, number>): void {
  // runs on one core never overlap, so their starts are in order as their ends are
  let lo = 0;
  let hi = onCpu.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (onCpu[mid]!.at <= from) lo = mid + 1;
    else hi = mid;
  }
  for (let i = lo; i < onCpu.length; i++) {
    const s = onCpu[i]!;
    const start = s.at - s.runUs;
    if (start >= to) break;
    const overlap = Math.min(s.at, to) - Math.max(start, from);
    if (overlap > 0) into.set(s.name, (into.get(s.name) ?? 0) + overlap);
  }
}

/** The report of every thread named `threadName` in process `pid`. */
export function summarize(timehist: string, threadName: string, pid: number): ThreadReport[] {
  const all = parse(timehist);
  const byCpu = new Map<number, SwitchOut[]>();
  for (const s of all) {
    let list = byCpu.get(s.cpu);
    if (list === undefined) byCpu.set(s.cpu, (list = []));
    list.push(s);
  }
  const recordedUs = all.length > 1 ? all[all.length - 1]!.at - all[0]!.at : 0;
  const tids = [...new Set(all.filter((s) => s.pid === pid && s.name === threadName).map((s) => s.tid))];
  return tids.map((tid) => {
    const mine = all.filter((s) => s.tid === tid);
    const preempted: QueuedWait[] = [];
    const wakeDelaysUs: number[] = [];
    const heldBy = new Map<string, number>();
    let ranUs = 0;
    for (let i = 0; i < mine.length; i++) {
      const s = mine[i]!;
      ranUs += s.runUs;
      const prev = mine[i - 1];
      if (prev === undefined) continue;
      if (prev.state !== 'R') {
        wakeDelaysUs.push(s.delayUs);
        continue;
      }
      // queued from its switch-out until this run began
      const held = new Map<string, number>();
      addHolders(byCpu.get(prev.cpu)!, prev.at, s.at - s.runUs, held);
      held.delete(threadName);
      for (const [name, us] of held) heldBy.set(name, (heldBy.get(name) ?? 0) + us);
      preempted.push({ atUs: prev.at, us: s.waitUs, cpu: prev.cpu, heldBy: held });
    }
    preempted.sort((a, b) => b.us - a.us);
    return { tid, ranUs, recordedUs, preempted, wakeDelaysUs, heldBy };
  });
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const ms = (us: number): string => (us / 1000).toFixed(us < 10_000 ? 2 : 0);
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const largest = (m: ReadonlyMap<string, number>, n: number): string =>
  [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([k, v]) => `${k} ${ms(v)} ms`).join(', ');

export function formatReport(threadName: string, r: ThreadReport): string {
  const waits = r.preempted.map((w) => w.us);
  const lines = [
    `${threadName} ${r.tid}: ran ${ms(r.ranUs)} ms of ${ms(r.recordedUs)} ms recorded`,
    `  preempted ${waits.length} times, queued ${ms(sum(waits))} ms in all: p50 ${ms(quantile(waits, 0.5))}, ` +
      `p99 ${ms(quantile(waits, 0.99))}, max ${ms(quantile(waits, 1))} ms; ${waits.filter((w) => w > 500).length} waits over 0.5 ms`,
    `  woken ${r.wakeDelaysUs.length} times, waited for a core ${ms(sum(r.wakeDelaysUs))} ms in all: ` +
      `p50 ${ms(quantile(r.wakeDelaysUs, 0.5))}, p99 ${ms(quantile(r.wakeDelaysUs, 0.99))}, max ${ms(quantile(r.wakeDelaysUs, 1))} ms`,
    `  its core, while it was queued there, ran: ${largest(r.heldBy, 6)}`,
  ];
  for (const w of r.preempted.slice(0, 5)) {
    if (w.us < 300) break;
    lines.push(`  queued ${ms(w.us)} ms on cpu ${w.cpu} at ${(w.atUs / 1e6).toFixed(6)} s behind: ${largest(w.heldBy, 3)}`);
  }
  return lines.join('\n');
}

if (import.meta.main) {
  const [file, threadName, pid] = process.argv.slice(2);
  if (file === undefined || threadName === undefined || pid === undefined) {
    console.error('usage: schedSummary.ts TIMEHIST_FILE THREAD_NAME PID');
    process.exit(2);
  }
  const reports = summarize(readFileSync(file, 'utf8'), threadName, Number(pid));
  if (reports.length === 0) console.log(`no thread named ${threadName} in process ${pid} ran while perf recorded`);
  for (const r of reports) console.log(formatReport(threadName, r));
}
