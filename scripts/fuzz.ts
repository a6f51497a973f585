/**
 * The long fuzz run for release checks: fuzzed MQTT sessions against a culex process for a time
 * budget, with a sentinel client pair checking that ordinary traffic still flows.
 *
 *   node_modules/.bin/node scripts/fuzz.ts --seconds 3600 --workers 4 [--seed N]
 *   node_modules/.bin/node scripts/fuzz.ts --port 1883 [--host H] [--ws-port P] --seconds 600
 *   node_modules/.bin/node scripts/fuzz.ts --replay SEED:N [--port 1883]
 *
 * Without --port it starts `src/cli/main.ts` on a temporary configuration (a TCP listener, a TCP
 * listener with a mount point, a WebSocket listener; persistence on; N workers; errors and
 * warnings logged to stderr; test/helpers/fuzz/culexProcess.ts) and watches that process: it must
 * not exit; its log must have no "internal error", no worker that "exited with code"/"died" and
 * (unless --warnings report) no Node warning; once every fuzz connection has closed, $SYS must
 * count no client but the one asking. It prints the broker's memory and its state after the run.
 * With --port it fuzzes what listens there (another broker too) and sees only the answers, the
 * violations and the sentinel.
 * It prints packets/s, how sessions ended, each violation with its SEED:N, and exits 1 when
 * anything was found. `--replay SEED:N` runs that one session and prints its bytes and outcome
 * (the same bytes; the broker state around it is not replayed).
 * called from: the command line, test/system/fuzz.test.ts
 */
import { formatReport, runCampaign, type CampaignReport } from '../test/helpers/fuzz/campaign.ts';
import { memoryMb, startCulexProcess, sysAfterRun } from '../test/helpers/fuzz/culexProcess.ts';
import { planSession } from '../test/helpers/fuzz/plan.ts';
import { Sentinel } from '../test/helpers/fuzz/sentinel.ts';
import type { Target } from '../test/helpers/fuzz/wire.ts';

const USAGE = `Usage: node scripts/fuzz.ts [--seconds N] [--workers N] [--seed N] [--concurrency N]
                          [--port P [--host H] [--ws-port P]] [--replay SEED:N] [--warnings fail|report]
                          [--conf 'LINE']...   (a mosquitto.conf line for the broker it starts; repeatable)`;
/** what culex's max_topic_alias defaults to; the fuzzer writes aliases up to it */
const MAX_TOPIC_ALIAS = 10;

interface Args {
  seconds: number;
  workers: number;
  seed: number;
  concurrency: number;
  host: string;
  port?: number;
  wsPort?: number;
  replay?: { seed: number; n: number };
  /** whether a Node warning in the broker's log fails the run */
  warnings: 'fail' | 'report';
  /** configuration lines added to the broker's */
  conf: string[];
}

function fail(message: string): never {
  process.stderr.write(`fuzz: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { seconds: 60, workers: 2, seed: Math.floor(Math.random() * 0x1_0000_0000), concurrency: 12, host: '127.0.0.1', warnings: 'fail', conf: [] };
  const num = (i: number, name: string): number => {
    const v = Number(argv[i]);
    if (argv[i] === undefined || !Number.isFinite(v) || v < 0) fail(`${name} needs a number`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    switch (k) {
      case '--seconds': a.seconds = num(++i, k); break;
      case '--workers': a.workers = Math.max(1, Math.floor(num(++i, k))); break;
      case '--seed': a.seed = Math.floor(num(++i, k)) >>> 0; break;
      case '--concurrency': a.concurrency = Math.max(1, Math.floor(num(++i, k))); break;
      case '--host': a.host = argv[++i] ?? fail('--host needs an address'); break;
      case '--port': a.port = num(++i, k); break;
      case '--ws-port': a.wsPort = num(++i, k); break;
      case '--replay': {
        const m = /^(\d+):(\d+)$/.exec(argv[++i] ?? '') ?? fail('--replay needs SEED:N');
        a.replay = { seed: Number(m[1]) >>> 0, n: Number(m[2]) };
        break;
      }
      case '--warnings': {
        const w = argv[++i];
        if (w !== 'fail' && w !== 'report') fail('--warnings needs fail or report');
        a.warnings = w;
        break;
      }
      case '--conf': a.conf.push(argv[++i] ?? fail('--conf needs a configuration line')); break;
      case '-h': case '--help':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
      default: fail(`unknown option ${k}`);
    }
  }
  // options for the broker this script starts mean nothing against one given by --port
  const given = new Set(argv.filter((x) => x.startsWith('--')));
  if (a.port !== undefined) {
    for (const o of ['--workers', '--conf', '--warnings']) if (given.has(o)) fail(`${o} is for the broker this script starts: not with --port`);
  } else if (given.has('--ws-port') || given.has('--host')) {
    fail('--ws-port and --host go with --port');
  }
  return a;
}

async function replay(args: Args, targets: Target[]): Promise<boolean> {
  const { seed, n } = args.replay!;
  const plan = planSession(seed, n, { targets: targets.length, maxTopicAlias: MAX_TOPIC_ALIAS });
  console.log(`session ${plan.id}: ${plan.mode}, level ${plan.version}, target ${targets[plan.target]!.name}, ${plan.packets} packets, cut ${plan.cut}`);
  if (plan.poison) console.log(`poison: ${plan.poison}`);
  if (plan.mutations.length > 0) console.log(`mutations: ${plan.mutations.join(' ')}`);
  plan.writes.forEach((w, i) => console.log(`write ${i} (pause ${plan.pauses[i]}): ${w.toString('hex')}`));
  const r = await runCampaign({ seed, seconds: 60, targets, maxTopicAlias: MAX_TOPIC_ALIAS, first: n, maxSessions: 1, drainMs: 20000 });
  console.log(formatReport(r));
  return r.violations.length === 0;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const broker = args.port === undefined ? await startCulexProcess(args.workers, args.conf) : undefined;
  const targets: Target[] = broker?.targets ?? [
    { name: `tcp:${args.port}`, kind: 'tcp', host: args.host, port: args.port! },
    ...(args.wsPort !== undefined ? [{ name: `ws:${args.wsPort}`, kind: 'ws' as const, host: args.host, port: args.wsPort }] : []),
  ];
  let ok = true;
  const interrupted = (signal: NodeJS.Signals) => {
    console.log(`fuzz: ${signal}, stopping`);
    void (broker?.stop() ?? Promise.resolve()).finally(() => process.exit(1));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    if (args.replay !== undefined) {
      ok = await replay(args, targets);
      return;
    }
    console.log(`fuzz: seed ${args.seed}, ${args.seconds} s, ${broker ? `culex process with ${args.workers} worker${args.workers > 1 ? 's' : ''}` : targets.map((t) => t.name).join(' ')}; replay a session with --replay ${args.seed}:N`);
    const topic = `sentinel/${args.seed}/${process.pid}`;
    const base = `mqtt://${targets[0]!.host}:${targets[0]!.port}`;
    const ws = targets.find((t) => t.kind === 'ws');
    const sentinel = await Sentinel.start({ subUrl: base, pubUrl: ws ? `ws://${ws.host}:${ws.port}/mqtt` : base, topic, intervalMs: 20 });
    let lastPrint = Date.now();
    let warm: { rss: number; peak: number } | undefined;
    const warmTimer = setTimeout(() => { warm = memoryMb(broker?.proc.pid); }, Math.min(60, args.seconds / 5) * 1000);
    const report: CampaignReport = await runCampaign({
      seed: args.seed, seconds: args.seconds, targets, maxTopicAlias: MAX_TOPIC_ALIAS, concurrency: args.concurrency,
      onViolation: (v) => console.log(`VIOLATION ${v.summary}\n  ${v.messages.join('\n  ')}\n  sent ${v.sent}`),
      onProgress: (r) => {
        if (Date.now() - lastPrint < 10000) return;
        lastPrint = Date.now();
        const s = r.elapsedMs / 1000;
        console.log(`  ${s.toFixed(0)} s: ${r.sessions} sessions, ${r.packets} packets (${Math.round(r.packets / s)}/s), ${r.violations.length} violations, sentinel ${sentinel.received}/${sentinel.sent}`);
      },
    });
    clearTimeout(warmTimer);
    await sentinel.finish(50, 20000);
    console.log(formatReport(report));
    console.log(`sentinel: ${sentinel.sent} sent, ${sentinel.acked} acknowledged, ${sentinel.received} received in order`);
    for (const v of sentinel.violations) console.log(`SENTINEL ${v}`);
    const problems: string[] = [];
    if (broker) {
      const sys = broker.exited === undefined ? await sysAfterRun(base, 15000) : new Map<string, string>();
      const connected = sys.has('clients/connected') ? Number(sys.get('clients/connected')) : undefined;
      if (connected === undefined || connected > 1) problems.push(`${connected === undefined ? 'unknown' : connected - 1} clients still counted as connected after every fuzz connection closed`);
      const end = memoryMb(broker.proc.pid);
      console.log(`broker memory: ${warm ? `${warm.rss} MiB RSS after warm-up, ` : ''}${end ? `${end.rss} MiB at the end, peak ${end.peak} MiB` : 'unknown'}`);
      console.log(`broker state after the run: clients connected ${connected === 1 ? '1 (the one asking)' : String(connected)}, ` +
        `sessions ${sys.get('clients/total') ?? '?'}, subscriptions ${sys.get('subscriptions/count') ?? '?'}, retained messages ${sys.get('retained messages/count') ?? '?'}`);
      for (const p of problems) console.log(`LEAK ${p}`);
      // the last log lines may still be on their way through the pipe
      await new Promise((r) => setTimeout(r, 300));
      console.log(`broker: ${broker.exited ?? 'still running'}; ${broker.crashes.length === 0 ? 'no internal errors or worker exits in its log' : 'its log has:'}`);
      for (const line of broker.crashes.slice(0, 200)) console.log(`BROKER ${line}`);
      console.log(`broker: ${broker.warnings.length === 0 ? 'no Node warnings' : `Node warnings (${args.warnings === 'fail' ? 'a finding' : 'reported only'}):`}`);
      for (const line of broker.warnings.slice(0, 200)) console.log(`WARNING ${line}`);
      if (broker.exited !== undefined) problems.push(broker.exited);
      if (broker.crashes.length > 0) problems.push('crashes or internal errors in the broker log');
      if (broker.warnings.length > 0 && args.warnings === 'fail') problems.push('Node warnings in the broker log');
    }
    ok = report.violations.length === 0 && sentinel.violations.length === 0 && problems.length === 0;
    console.log(ok ? 'fuzz: OK' : 'fuzz: FAILED');
  } finally {
    await broker?.stop();
    process.exitCode = ok ? 0 : 1;
  }
}

await main();
