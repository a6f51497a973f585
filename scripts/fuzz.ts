/**
 * The long fuzz run for release checks: fuzzed MQTT sessions against a culex process for a time
 * budget, with a sentinel client pair checking that ordinary traffic still flows.
 *
 *   node_modules/.bin/node scripts/fuzz.ts --seconds 3600 --workers 4 [--seed N]
 *   node_modules/.bin/node scripts/fuzz.ts --port 1883 [--host H] [--ws-port P] --seconds 600
 *   node_modules/.bin/node scripts/fuzz.ts --replay SEED:N [--port 1883]
 *
 * Without --port it starts `src/cli/main.ts` on a temporary configuration (a TCP listener, a TCP
 * listener with a mount point, a WebSocket listener; persistence on; N workers; errors logged to
 * stderr) and watches that process: it must not exit, and its log must have no "internal error"
 * and no worker that "exited with code"/"died". With --port it fuzzes what listens there
 * (another broker too) and can only see refusals, violations and the sentinel.
 * It prints packets/s, how sessions ended, each violation with its SEED:N, and exits 1 when
 * anything was found. `--replay SEED:N` runs that one session and prints its bytes and outcome
 * (the same bytes; the broker state around it is not replayed).
 * called from: the command line, test/system/fuzz.test.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { formatReport, runCampaign, type CampaignReport } from '../test/helpers/fuzz/campaign.ts';
import { planSession } from '../test/helpers/fuzz/plan.ts';
import { Sentinel } from '../test/helpers/fuzz/sentinel.ts';
import type { Target } from '../test/helpers/fuzz/wire.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = `Usage: node scripts/fuzz.ts [--seconds N] [--workers N] [--seed N] [--concurrency N]
                          [--port P [--host H] [--ws-port P]] [--replay SEED:N]`;
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
}

function fail(message: string): never {
  process.stderr.write(`fuzz: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { seconds: 60, workers: 2, seed: Math.floor(Math.random() * 0x1_0000_0000), concurrency: 12, host: '127.0.0.1' };
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
      case '-h': case '--help':
        process.stdout.write(`${USAGE}\n`);
        process.exit(0);
      default: fail(`unknown option ${k}`);
    }
  }
  return a;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** A culex process on a temporary configuration, its stderr scanned for crashes. */
interface BrokerProc {
  readonly targets: Target[];
  readonly proc: ChildProcess;
  /** log lines that mean a crash or a caught internal error */
  readonly findings: string[];
  exited: string | undefined;
  stop(): Promise<void>;
}

const CRASH_LINE = /internal error|exited with code|died|could not be restarted|uncaught|unhandled/i;

async function startBrokerProcess(workers: number): Promise<BrokerProc> {
  const dir = mkdtempSync(path.join(tmpdir(), 'culex-fuzz-'));
  const [tcp, mounted, ws] = [await freePort(), await freePort(), await freePort()];
  const conf = path.join(dir, 'culex.conf');
  writeFileSync(conf, [
    `workers ${workers}`, 'allow_anonymous true', 'persistence true', `persistence_location ${path.join(dir, 'data')}`,
    'log_type error', 'log_type warning', 'log_dest stderr', 'connection_messages false', 'sys_interval 5',
    `listener ${tcp} 127.0.0.1`,
    `listener ${mounted} 127.0.0.1`, 'mount_point fz-mnt/',
    `listener ${ws} 127.0.0.1`, 'protocol websockets',
  ].join('\n') + '\n');
  const proc = spawn(process.execPath, [path.join(ROOT, 'src/cli/main.ts'), '-c', conf], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const b: BrokerProc = {
    targets: [
      { name: `tcp:${tcp}`, kind: 'tcp', host: '127.0.0.1', port: tcp },
      { name: `tcp+mount_point:${mounted}`, kind: 'tcp', host: '127.0.0.1', port: mounted },
      { name: `ws:${ws}`, kind: 'ws', host: '127.0.0.1', port: ws },
    ],
    proc,
    findings: [],
    exited: undefined,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 10000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  let partial = '';
  proc.stderr!.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (CRASH_LINE.test(line)) b.findings.push(line);
      else if (line.trim() !== '' && !/^\s+at /.test(line)) process.stderr.write(`broker: ${line}\n`);
      else if (b.findings.length > 0 && b.findings.length < 200) b.findings.push(line); // the stack under a finding
    }
  });
  const exited = new Promise<void>((resolve) => proc.once('exit', (code, signal) => {
    b.exited = `broker process exited (code ${code}, signal ${signal})`;
    resolve();
  }));
  await waitListening(tcp, proc);
  await waitListening(ws, proc);
  return b;
}

async function waitListening(port: number, proc: ChildProcess): Promise<void> {
  const deadline = Date.now() + 30000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`broker exited with code ${proc.exitCode} before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** VmRSS and VmHWM (peak) of a process, in MiB, from /proc (Linux). */
function memoryMb(pid: number | undefined): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
  } catch {
    return undefined;
  }
}

/**
 * Once every fuzz connection has closed: `$SYS/broker/clients/connected` must come down to 1 (the
 * client asking). Returns the last value seen within `timeoutMs` (sys_interval is 5 s).
 */
async function connectedAfterRun(url: string, timeoutMs: number): Promise<number | undefined> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 10000 });
  let last: number | undefined;
  try {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      c.on('message', (_topic, payload) => {
        last = Number(payload.toString());
        if (last <= 1) { clearTimeout(t); resolve(); }
      });
      void c.subscribeAsync('$SYS/broker/clients/connected');
    });
  } finally {
    await c.endAsync();
  }
  return last;
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
  const broker = args.port === undefined ? await startBrokerProcess(args.workers) : undefined;
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
    console.log(`fuzz: seed ${args.seed}, ${args.seconds} s, ${broker ? `culex process with ${args.workers} workers` : targets.map((t) => t.name).join(' ')}; replay a session with --replay ${args.seed}:N`);
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
      const connected = broker.exited === undefined ? await connectedAfterRun(base, 15000) : undefined;
      if (connected !== undefined && connected > 1) problems.push(`${connected - 1} clients still counted as connected after every fuzz connection closed`);
      const end = memoryMb(broker.proc.pid);
      console.log(`broker memory: ${warm ? `${warm.rss} MiB RSS after warm-up, ` : ''}${end ? `${end.rss} MiB at the end, peak ${end.peak} MiB` : 'unknown'}; ` +
        `clients connected after the run: ${connected === undefined ? 'unknown' : connected === 1 ? '1 (the one asking)' : String(connected)}`);
      for (const p of problems) console.log(`LEAK ${p}`);
      // the findings may still be on their way through the pipe
      await new Promise((r) => setTimeout(r, 300));
      console.log(`broker: ${broker.exited ?? 'still running'}; ${broker.findings.length === 0 ? 'no internal errors or worker exits in its log' : 'its log has:'}`);
      for (const line of broker.findings.slice(0, 100)) console.log(`BROKER ${line}`);
    }
    ok = report.violations.length === 0 && sentinel.violations.length === 0 && problems.length === 0 &&
      (broker === undefined || (broker.exited === undefined && broker.findings.length === 0));
    console.log(ok ? 'fuzz: OK' : 'fuzz: FAILED');
  } finally {
    await broker?.stop();
    process.exitCode = ok ? 0 : 1;
  }
}

await main();
