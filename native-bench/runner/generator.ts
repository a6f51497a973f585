/**
 * Builds and runs mqbench (the C load generator) and reads its one-line JSON result.
 * called from: main
 */
import path from 'node:path';
import { runSync, startChild, stopChild } from './processes.ts';

/** A latency histogram's summary in microseconds. */
export interface LatencyUs {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
}

/** The result line of one mqbench process (see native-bench/README.md for every field). */
export interface GeneratorResult {
  readonly ok: boolean;
  readonly scenario: string;
  readonly pubs: number;
  readonly subs: number;
  readonly conns: number;
  readonly qos: number;
  readonly measure_s: number;
  readonly sent: number;
  readonly acked: number;
  readonly received: number;
  readonly expected: number;
  readonly unique: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly reordered: number;
  readonly e2e_timeouts: number;
  readonly send_rate: number;
  readonly ack_rate: number;
  readonly recv_rate: number;
  readonly connect: {
    readonly ok: number;
    readonly failed: number;
    readonly seconds: number;
    readonly rate_per_s: number;
    readonly listen_overflows: number;
  };
  /** publish -> delivery to a subscriber, for messages sent inside the measurement window */
  readonly latency_us: LatencyUs;
  /** publish -> PUBACK (QoS 1) / PUBCOMP (QoS 2), the same messages; absent from older mqbench builds */
  readonly ack_latency_us?: LatencyUs;
  /** whole-host busy CPU during the measurement (100 = one core); -1 if unknown */
  readonly host: { readonly cpu_pct: number; readonly cores: number };
  readonly gen: { readonly cpu_pct: number; readonly connect_cpu_pct: number; readonly rss_kb: number; readonly saturated: boolean };
  readonly broker: null | {
    readonly pid: number;
    readonly cpu_pct: number;
    readonly connect_cpu_pct: number;
    readonly rss_kb_start: number;
    readonly rss_kb_connected: number;
    readonly rss_kb_end: number;
    readonly rss_kb_max: number;
    readonly rss_per_conn_bytes: number;
  };
}

/** `make -C native-bench` (a no-op when the binary is up to date); returns the binary's path. */
export function buildGenerator(benchDir: string): string {
  const r = runSync('make', ['-s', '-C', benchDir]);
  if (r.code !== 0) throw new Error(`building mqbench failed (gcc and make are needed):\n${r.output}`);
  return path.join(benchDir, 'bin', 'mqbench');
}

export interface RunOptions {
  /** each progress line of mqbench's stderr */
  readonly onProgress?: (line: string) => void;
  /** kill the generator after this long */
  readonly timeoutMs: number;
}

/** Runs one mqbench process to completion; rejects when it prints no result line. */
export async function runGenerator(bin: string, args: readonly string[], opts: RunOptions): Promise<GeneratorResult> {
  const child = startChild(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let errors = '';
  let partial = '';
  child.proc.stdout!.on('data', (d: Buffer) => { stdout += d.toString(); });
  child.proc.stderr!.on('data', (d: Buffer) => {
    partial += d.toString();
    let nl: number;
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      if (line.startsWith('mqbench ')) opts.onProgress?.(line);
      else errors += line + '\n';
    }
  });
  const timer = setTimeout(() => void stopChild(child), opts.timeoutMs);
  const { code, signal } = await child.exited;
  clearTimeout(timer);
  const line = stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`mqbench ${args.join(' ')} gave no result (exit ${code ?? signal}):\n${errors}`);
  if (errors.trim()) process.stderr.write(errors);
  return JSON.parse(line) as GeneratorResult;
}

/** A generous bound on one mqbench run, from its phase flags. */
export function generatorTimeoutMs(args: readonly string[]): number {
  const flag = (name: string, dflt: number): number => {
    const i = args.lastIndexOf(name);
    return i >= 0 ? Number(args[i + 1]) : dflt;
  };
  return (flag('--connect-timeout', 60) + flag('--warmup', 2) + flag('--duration', 10) + flag('--drain', 5) + 30) * 1000;
}

/**
 * Merges the results of several processes that shared one conns run: counts add up, the
 * connect rate is all connections over the slowest process's connect time.
 */
export function mergeConnsResults(parts: readonly GeneratorResult[]): GeneratorResult {
  const first = parts[0]!;
  if (parts.length === 1) return first;
  const sum = (f: (r: GeneratorResult) => number): number => parts.reduce((a, r) => a + f(r), 0);
  const max = (f: (r: GeneratorResult) => number): number => Math.max(...parts.map(f));
  const min = (f: (r: GeneratorResult) => number): number => Math.min(...parts.map(f));
  const ok = sum((r) => r.connect.ok);
  const seconds = max((r) => r.connect.seconds);
  const broker = first.broker && {
    ...first.broker,
    rss_kb_start: min((r) => r.broker!.rss_kb_start),
    rss_kb_end: max((r) => r.broker!.rss_kb_end),
    rss_kb_max: max((r) => r.broker!.rss_kb_max),
    rss_per_conn_bytes: ok ? ((max((r) => r.broker!.rss_kb_end) - min((r) => r.broker!.rss_kb_start)) * 1024) / ok : 0,
  };
  return {
    ...first,
    ok: parts.every((r) => r.ok),
    conns: sum((r) => r.conns),
    connect: {
      ok,
      failed: sum((r) => r.connect.failed),
      seconds,
      rate_per_s: seconds > 0 ? ok / seconds : 0,
      listen_overflows: max((r) => r.connect.listen_overflows),
    },
    gen: { ...first.gen, cpu_pct: sum((r) => r.gen.cpu_pct), rss_kb: sum((r) => r.gen.rss_kb) },
    host: { ...first.host, cpu_pct: max((r) => r.host.cpu_pct) },
    broker,
  };
}

/**
 * One message run split over several mqbench processes (--gen-procs), each its own fan-in group:
 * counts and rates add up; latency percentiles are the worst process's (an upper bound, not a
 * merged histogram); the generator is saturated when any process is.
 */
export function mergeMessageResults(parts: readonly GeneratorResult[]): GeneratorResult {
  const first = parts[0]!;
  if (parts.length === 1) return first;
  const sum = (f: (r: GeneratorResult) => number): number => parts.reduce((a, r) => a + f(r), 0);
  const worst = (f: (r: GeneratorResult) => LatencyUs | undefined): LatencyUs | undefined => {
    const all = parts.map(f).filter((l): l is LatencyUs => l !== undefined);
    if (all.length === 0) return undefined;
    return all.reduce((a, l) => ({ ...a, count: a.count + l.count, p50: Math.max(a.p50, l.p50), p90: Math.max(a.p90, l.p90),
      p99: Math.max(a.p99, l.p99), p999: Math.max(a.p999, l.p999), max: Math.max(a.max, l.max), mean: Math.max(a.mean, l.mean) }));
  };
  return {
    ...first,
    ok: parts.every((r) => r.ok),
    pubs: sum((r) => r.pubs),
    subs: sum((r) => r.subs),
    sent: sum((r) => r.sent),
    acked: sum((r) => r.acked),
    received: sum((r) => r.received),
    expected: sum((r) => r.expected),
    unique: sum((r) => r.unique),
    lost: sum((r) => r.lost),
    duplicates: sum((r) => r.duplicates),
    reordered: sum((r) => r.reordered),
    e2e_timeouts: sum((r) => r.e2e_timeouts),
    send_rate: sum((r) => r.send_rate),
    ack_rate: sum((r) => r.ack_rate),
    recv_rate: sum((r) => r.recv_rate),
    latency_us: worst((r) => r.latency_us)!,
    ack_latency_us: worst((r) => r.ack_latency_us),
    gen: { ...first.gen, cpu_pct: sum((r) => r.gen.cpu_pct), rss_kb: sum((r) => r.gen.rss_kb), saturated: parts.some((r) => r.gen.saturated) },
    host: { ...first.host, cpu_pct: Math.max(...parts.map((r) => r.host.cpu_pct)) },
  };
}

/** CPU used during the measurement by processes other than the broker and the generator (100 = one core). */
export function otherCpuPct(r: GeneratorResult): number | undefined {
  if (r.host.cpu_pct < 0 || !r.broker) return undefined;
  return Math.max(0, r.host.cpu_pct - r.broker.cpu_pct - r.gen.cpu_pct);
}
