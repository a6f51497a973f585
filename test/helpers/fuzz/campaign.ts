/**
 * A fuzz campaign: sessions 0, 1, 2, … of one seed run against a set of listeners of one broker,
 * `concurrency` at a time, for a time budget; parked sessions wait on beside the new ones. It
 * counts packets, bytes and how sessions ended, and keeps every violation with what is needed
 * to replay it (`scripts/fuzz.ts --replay SEED:N`).
 * called from: tests, scripts/fuzz.ts
 */
import { planSession, type Plan } from './plan.ts';
import { runSession, type Outcome } from './session.ts';
import type { Target } from './wire.ts';

export interface CampaignOptions {
  readonly seed: number;
  readonly seconds: number;
  readonly targets: readonly Target[];
  readonly maxTopicAlias: number;
  /** sessions writing at once (parked ones not counted) */
  readonly concurrency?: number;
  /** parked sessions at most; new sessions wait while there are this many */
  readonly maxParked?: number;
  /** after the budget, how long parked sessions may still be checked */
  readonly drainMs?: number;
  readonly settleMs?: number;
  readonly graceMs?: number;
  readonly answerMs?: number;
  /** called for each session with violations, as it ends */
  readonly onViolation?: (v: Violation) => void;
  /** called about once a second with the running totals */
  readonly onProgress?: (r: CampaignReport) => void;
  /** first session number (a replay runs one) */
  readonly first?: number;
  /** stop after this many sessions */
  readonly maxSessions?: number;
}

export interface Violation {
  /** "SEED:N": `scripts/fuzz.ts --replay SEED:N` */
  readonly session: string;
  readonly summary: string;
  readonly messages: readonly string[];
  /** the bytes sent, as hex (long streams cut) */
  readonly sent: string;
  readonly received: string;
}

export interface CampaignReport {
  readonly seed: number;
  sessions: number;
  packets: number;
  bytes: number;
  writes: number;
  parked: number;
  readonly byMode: Record<string, number>;
  /** how sessions ended ("closed after DISCONNECT 0x81", "answered (PINGRESP)", "open: keep-alive 0", …) */
  readonly byEnd: Record<string, number>;
  readonly violations: Violation[];
  elapsedMs: number;
}

/** Runs a campaign and returns its report (violations included: the caller decides what fails). */
export async function runCampaign(opts: CampaignOptions): Promise<CampaignReport> {
  const concurrency = opts.concurrency ?? 12;
  const maxParked = opts.maxParked ?? 2000;
  const start = Date.now();
  const stopAt = start + opts.seconds * 1000;
  const limits = {
    settleMs: opts.settleMs ?? 300,
    graceMs: opts.graceMs ?? 3000,
    answerMs: opts.answerMs ?? 10_000,
    hardStop: stopAt + (opts.drainMs ?? 3000),
    connectTimeoutMs: 5000,
  };
  const report: CampaignReport = {
    seed: opts.seed, sessions: 0, packets: 0, bytes: 0, writes: 0, parked: 0, byMode: {}, byEnd: {}, violations: [], elapsedMs: 0,
  };
  let next = opts.first ?? 0;
  const last = opts.maxSessions === undefined ? Infinity : next + opts.maxSessions;
  const pending = new Set<Promise<void>>();
  let active = 0;
  let wake: (() => void) | undefined;
  const progress = opts.onProgress === undefined ? undefined : setInterval(() => {
    report.elapsedMs = Date.now() - start;
    opts.onProgress!(report);
  }, 1000);

  const record = (o: Outcome) => {
    report.sessions++;
    report.packets += o.plan.packets;
    report.bytes += o.bytesSent;
    report.writes += o.plan.writes.length;
    if (o.parked) report.parked++;
    report.byMode[o.plan.mode] = (report.byMode[o.plan.mode] ?? 0) + 1;
    report.byEnd[o.end] = (report.byEnd[o.end] ?? 0) + 1;
    if (o.violations.length > 0) {
      const v = violationOf(o);
      report.violations.push(v);
      opts.onViolation?.(v);
    }
  };

  while (Date.now() < stopAt && next < last) {
    if (active >= concurrency || pending.size - active >= maxParked) {
      await new Promise<void>((r) => { wake = r; });
      wake = undefined;
      continue;
    }
    const plan = planSession(opts.seed, next++, { targets: opts.targets.length, maxTopicAlias: opts.maxTopicAlias });
    active++;
    let freed = false;
    const free = () => {
      if (freed) return;
      freed = true;
      active--;
      wake?.();
    };
    const p: Promise<void> = runSession(plan, opts.targets[plan.target]!, limits, free)
      .then(record, (err: unknown) => record(crashedOutcome(plan, opts.targets[plan.target]!, err)))
      .finally(() => {
        free();
        pending.delete(p);
        wake?.();
      });
    pending.add(p);
  }
  await Promise.all(pending);
  clearInterval(progress);
  report.elapsedMs = Date.now() - start;
  return report;
}

function crashedOutcome(plan: Plan, target: Target, err: unknown): Outcome {
  return { plan, target, end: 'fuzzer error', violations: [`the fuzzer itself failed: ${(err as Error).stack ?? String(err)}`], parked: false, bytesSent: 0, received: [] };
}

function violationOf(o: Outcome): Violation {
  const p = o.plan;
  const stream = Buffer.concat(p.writes);
  const sent = stream.length > 400 ? `${stream.subarray(0, 400).toString('hex')}… (${stream.length} bytes)` : stream.toString('hex');
  const detail = [p.poison && `poison "${p.poison}"`, p.mutations.length > 0 && `mutations ${p.mutations.join(' ')}`].filter(Boolean).join(', ');
  return {
    session: p.id,
    summary: `session ${p.id} (${p.mode}, level ${p.version}, ${o.target.name}, ${p.writes.length} writes cut ${p.cut}${detail ? `, ${detail}` : ''}): ${o.end}`,
    messages: o.violations,
    sent,
    received: o.received.join(','),
  };
}

/** A report as text lines: totals, rate, how sessions ended, violations. */
export function formatReport(r: CampaignReport, label = ''): string {
  const secs = r.elapsedMs / 1000;
  const lines = [
    `${label}seed ${r.seed}: ${r.sessions} sessions, ${r.packets} packets, ${r.bytes} bytes in ${r.writes} writes, ${secs.toFixed(1)} s ` +
      `(${Math.round(r.packets / Math.max(secs, 0.001))} packets/s, ${Math.round(r.sessions / Math.max(secs, 0.001))} sessions/s; ${r.parked} parked)`,
    `${label}modes: ${Object.entries(r.byMode).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    `${label}ends:`,
    ...Object.entries(r.byEnd).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${label}  ${String(v).padStart(7)}  ${k}`),
    `${label}hung: ${r.byEnd.hung ?? 0}; open at the end, explained (keep-alive 0, or the broker's timer due after the run): ` +
      `${Object.entries(r.byEnd).filter(([k]) => k.startsWith('open:')).reduce((n, [, v]) => n + v, 0)}`,
    `${label}violations: ${r.violations.length}`,
  ];
  for (const v of r.violations.slice(0, 20)) {
    lines.push(`${label}  ${v.summary}`, ...v.messages.map((m) => `${label}    - ${m}`), `${label}    sent ${v.sent}`, `${label}    received types ${v.received || '(none)'}`);
  }
  return lines.join('\n');
}
