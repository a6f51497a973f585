/**
 * Queued messages of offline persistent sessions: what they cost in memory, how fast a returning
 * client drains its queue, and whether the store file stops growing once messages are delivered.
 * Starts one culex process (persistence on, max_queued_messages 0) and drives it with raw
 * MQTT 3.1.1 sockets:
 *   1. `--sessions S` offline persistent sessions subscribed to one topic, then `--per P` QoS 1
 *      messages published to it (S × P queued; each message stored once, its entries per session);
 *   2. one offline session, then `--long L` QoS 1 messages for it alone; its client comes back
 *      and drains them (PUBACK each at once): messages/s, and the time to its CONNACK; with
 *      --workers above 1, whether it reached another worker than the one holding the session
 *      (which then moves there: its entries on disk stay, the counts of their messages move);
 *   3. fill-drain-fill of (2) again: the data file's size after each step;
 *   4. with `--restart`, SIGTERM and start again on the same store (everything queued again
 *      first): seconds until it accepts connections.
 * RSS is the process's RssAnon (main thread and workers; the mapped data file's pages, RssFile,
 * are page cache and not counted), the least of the samples over --settle seconds after the step; "above idle"
 * is against the broker before any session existed.
 *   node native-bench/queues.ts [--sessions 10000] [--per 100] [--long 200000] [--workers 1]
 *     [--payload 64] [--restart] [--no-cycle (skip step 3)] [--settle 3 (seconds of RSS samples per step)]
 *     [--root DIR (a culex checkout to run, default this one)] [--label S]
 *     [--profile DIR --phase sessions|fill: sample what the worker keeps alive during that step
 *      (profile/allocSampler.mjs, ALLOC_LIVE=1); read with profile/allocSummary.ts DIR/t*.heapprofile UNITS]
 * Quick: --sessions 2000 --per 50 --long 50000 (about a minute on 2 shared cores).
 * called from: main (a command-line script)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './runner/processes.ts';
import mqttPacket from 'mqtt-packet';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1]! : fallback;
}
const SESSIONS = Number(arg('sessions', '10000'));
const PER = Number(arg('per', '100'));
const LONG = Number(arg('long', '200000'));
const WORKERS = Number(arg('workers', '1'));
const PAYLOAD = Buffer.alloc(Number(arg('payload', '64')), 0x61);
const RESTART = process.argv.includes('--restart');
/** --no-cycle: the long queue is filled and drained once (no fill-drain-fill file-size cycle) */
const CYCLE = !process.argv.includes('--no-cycle');
/** seconds of RSS samples after each step (the least is taken): V8 gives heap back after a while idle */
const SETTLE_S = Number(arg('settle', '3'));
const ROOT = path.resolve(arg('root', path.resolve(new URL('..', import.meta.url).pathname)));
const LABEL = arg('label', path.basename(ROOT));
const PROFILE = arg('profile', '');
const PHASE = arg('phase', 'fill');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- MQTT 3.1.1, just what this needs (mqtt-packet encodes; acks are four bytes)

const connect = (clientId: string, clean: boolean): Buffer =>
  mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean, keepalive: 60, clientId });
const subscribe = (filter: string): Buffer => mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 1 }] });
const publish1 = (topic: string, id: number, payload: Buffer): Buffer =>
  mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, messageId: id, retain: false, dup: false });
const puback = (id: number): Buffer => Buffer.from([0x40, 2, id >> 8, id & 0xff]);
const DISCONNECT = Buffer.from([0xe0, 0]);

/** A socket that hands over whole packets: (type, flags, body). */
class Raw {
  readonly socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  onPacket: (type: number, flags: number, body: Buffer) => void = () => {};
  readonly closed: Promise<void>;

  constructor(port: number, localAddress: string) {
    this.socket = net.connect({ host: '127.0.0.1', port, localAddress });
    this.socket.setNoDelay(true);
    this.socket.on('data', (d: Buffer) => this.onData(d));
    this.socket.on('error', () => {});
    this.closed = new Promise((r) => this.socket.once('close', () => r()));
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    let off = 0;
    for (;;) {
      if (this.buf.length - off < 2) break;
      let len = 0;
      let mul = 1;
      let i = off + 1;
      let ok = false;
      for (; i < this.buf.length && i < off + 5; i++) {
        len += (this.buf[i]! & 0x7f) * mul;
        mul *= 128;
        if ((this.buf[i]! & 0x80) === 0) {
          ok = true;
          break;
        }
      }
      if (!ok || this.buf.length < i + 1 + len) break;
      const first = this.buf[off]!;
      this.onPacket(first >> 4, first & 0x0f, this.buf.subarray(i + 1, i + 1 + len));
      off = i + 1 + len;
    }
    this.buf = off === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(off);
  }
}

let sourceIndex = 0;
/** Spreads client ports over 127.0.0.2-9 (a closed connection's TIME_WAIT holds its port). */
const source = (): string => `127.0.0.${2 + (sourceIndex++ % 8)}`;

/** Makes an offline persistent session subscribed to `filter` (QoS 1). */
async function offlineSession(port: number, clientId: string, filter: string, subscribed?: () => Promise<void>): Promise<void> {
  const c = new Raw(port, source());
  const subacked = new Promise<void>((resolve) => (c.onPacket = (type) => (type === 9 ? resolve() : undefined)));
  c.socket.write(Buffer.concat([connect(clientId, false), subscribe(filter)]));
  await subacked;
  await subscribed?.();
  c.socket.end(DISCONNECT);
  await c.closed;
}

async function offlineSessions(port: number, n: number, prefix: string, filter: string): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) await offlineSession(port, `${prefix}${next++}`, filter);
  };
  await Promise.all(Array.from({ length: Math.min(n, 200) }, lane));
}

/** Publishes `count` QoS 1 messages to `topic` with `window` unacknowledged at most; resolves when all are PUBACKed. */
async function publishMany(port: number, topic: string, count: number, window: number): Promise<number> {
  const c = new Raw(port, source());
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    let sent = 0;
    let acked = 0;
    const fill = (): void => {
      const out: Buffer[] = [];
      while (sent < count && sent - acked < window) out.push(publish1(topic, (sent++ % 65535) + 1, PAYLOAD));
      if (out.length > 0) c.socket.write(Buffer.concat(out));
    };
    c.onPacket = (type) => {
      if (type === 2) fill();
      else if (type === 4 && ++acked === count) resolve();
      else if (type === 4) fill();
    };
    c.socket.write(connect(`qb-pub-${process.pid}-${topic}`, true));
  });
  const ms = performance.now() - t0;
  c.socket.end(DISCONNECT);
  await c.closed;
  return ms;
}

/**
 * The client of `clientId` comes back and takes `count` messages, PUBACKing each at once; returns
 * ms from CONNECT to the last, and to the CONNACK; `connacked` runs then.
 */
async function drain(port: number, clientId: string, count: number, connacked?: () => Promise<void>): Promise<{ ms: number; connackMs: number }> {
  const c = new Raw(port, source());
  const t0 = performance.now();
  let connackMs = 0;
  await new Promise<void>((resolve) => {
    let got = 0;
    let acks: Buffer[] = [];
    let flushing = false;
    c.onPacket = (type, flags, body) => {
      if (type === 2) {
        connackMs = performance.now() - t0;
        void connacked?.();
      }
      if (type !== 3) return;
      const qos = (flags >> 1) & 3;
      if (qos > 0) {
        const tlen = (body[0]! << 8) | body[1]!;
        const id = (body[2 + tlen]! << 8) | body[3 + tlen]!;
        acks.push(puback(id));
        if (!flushing) {
          flushing = true;
          setImmediate(() => {
            flushing = false;
            c.socket.write(Buffer.concat(acks));
            acks = [];
          });
        }
      }
      if (++got === count) resolve();
    };
    c.socket.write(connect(clientId, false));
  });
  const ms = performance.now() - t0;
  await sleep(100);
  c.socket.end(DISCONNECT);
  await c.closed;
  return { ms, connackMs };
}

// ---- the broker process

/**
 * The process's anonymous resident memory (RssAnon: heaps, buffers), without RssFile: LMDB maps
 * its data file, and the pages of it that were touched count in VmRSS as page cache the kernel
 * can drop, whatever the broker keeps.
 */
function rssBytes(pid: number): number {
  const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]) * 1024;
}

/** CPU time (user + system, every thread) the process has used, in seconds. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
  // after the command name: state is field 3, utime 14 and stime 15 (man 5 proc), in clock ticks (100 per second on Linux)
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** RSS once it stops falling (GC after a burst): the least of the samples 500 ms apart over --settle seconds. */
async function settledRss(pid: number): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < SETTLE_S * 2; i++) {
    await sleep(500);
    least = Math.min(least, rssBytes(pid));
  }
  return least;
}

async function startCulex(conf: string, dir: string, port: number): Promise<{ proc: ChildProcess; exited: Promise<unknown>; ms: number }> {
  const t0 = performance.now();
  const sampler = PROFILE === '' ? [] : ['--import', path.join(ROOT, 'native-bench/profile/allocSampler.mjs')];
  if (PROFILE !== '') {
    // empty before the worker polls it: an old start/stop file would start and stop its sampling at once
    rmSync(PROFILE, { recursive: true, force: true });
    mkdirSync(PROFILE, { recursive: true });
  }
  const env = PROFILE === '' ? process.env : { ...process.env, ALLOC_OUT: PROFILE, ALLOC_LIVE: '1' };
  const proc = spawn(process.execPath, [...sampler, path.join(ROOT, 'src/cli/main.ts'), '-c', conf], { cwd: dir, env, stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  await waitForPort(port, 600_000, exited);
  return { proc, exited, ms: performance.now() - t0 };
}

const mb = (n: number): string => (n / 1048576).toFixed(1);

/** --profile: starts sampling before `phase` (once the worker says it samples) and stops after it. */
async function profiled<T>(phase: string, step: () => Promise<T>): Promise<T> {
  if (PROFILE === '' || phase !== PHASE) return step();
  writeFileSync(path.join(PROFILE, 'start'), '');
  while (!readdirSync(PROFILE).some((f) => f.startsWith('started-'))) await sleep(100);
  const r = await step();
  writeFileSync(path.join(PROFILE, 'stop'), '');
  while (!readdirSync(PROFILE).some((f) => f.endsWith('.heapprofile'))) await sleep(200);
  return r;
}

const dir = mkdtempSync(path.join(tmpdir(), 'culex-queues-'));
const data = path.join(dir, 'data');
const port = await freePort();
const metricsPort = await freePort();
const conf = path.join(dir, 'culex.conf');
writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${data}`,
  `workers ${WORKERS}`, 'max_queued_messages 0', 'log_dest stderr', 'log_type error', 'log_type warning',
  `metrics_listener 127.0.0.1:${metricsPort}`].join('\n') + '\n');

/** From /metrics: V8 heap in use summed over the threads, and the queued messages held in memory and on disk (culex only; absent before the gauges existed). */
async function heapAndHeld(): Promise<string> {
  try {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const sum = (metric: string): number => {
      let n = 0;
      for (const m of text.matchAll(new RegExp(`^${metric}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) n += Number(m[1]);
      return n;
    };
    const heap = sum('nodejs_heap_size_used_bytes');
    const committed = sum('nodejs_heap_size_total_bytes');
    const external = sum('nodejs_external_memory_bytes');
    const held = (where: string): string => /^culex_queued_messages_held\{where="(\w+)"\} (\S+)$/m.test(text) ? (new RegExp(`^culex_queued_messages_held\\{where="${where}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? '?') : '?';
    return `V8 heap used ${mb(heap)} MB of ${mb(committed)} MB, external ${mb(external)} MB; queued in memory ${held('memory')}, on disk ${held('disk')}`;
  } catch {
    return 'no /metrics';
  }
}
/** The worker that has the one client connected now (culex_worker_clients_connected, polled for 3 s), -1 when none is seen alone. */
async function workerWithClient(): Promise<number> {
  for (let i = 0; i < 30; i++) {
    try {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const on = [...text.matchAll(/^culex_worker_clients_connected\{worker="(\d+)"\} (\S+)$/gm)].filter((m) => Number(m[2]) === 1);
      if (on.length === 1) return Number(on[0]![1]);
    } catch {
      return -1;
    }
    await sleep(100);
  }
  return -1;
}
const fileSize = (): number => statSync(path.join(data, 'data.mdb')).size;
const result: Record<string, number | string> = { label: LABEL, workers: WORKERS, payload: PAYLOAD.length };
let broker = await startCulex(conf, dir, port);
try {
  const pid = broker.proc.pid!;
  const idle = await settledRss(pid);
  result.idleRssMB = Number(mb(idle));
  process.stdout.write(`${LABEL}: idle broker RSS ${mb(idle)} MB (${await heapAndHeld()})\n`);

  if (SESSIONS > 0 && PER > 0) {
    let t = performance.now();
    await profiled('sessions', () => offlineSessions(port, SESSIONS, 'qb-s', 'qb/all'));
    const sessionsRss = await settledRss(pid);
    process.stdout.write(`${SESSIONS} offline sessions in ${((performance.now() - t) / 1000).toFixed(1)} s: RSS +${mb(sessionsRss - idle)} MB (${((sessionsRss - idle) / SESSIONS).toFixed(0)} B/session, empty queues; ${await heapAndHeld()})\n`);
    t = performance.now();
    await profiled('fill', () => publishMany(port, 'qb/all', PER, 16));
    const filled = await settledRss(pid);
    const queued = SESSIONS * PER;
    result.fanSessions = SESSIONS;
    result.fanQueued = queued;
    result.fanBytesPerSession = Math.round((filled - idle) / SESSIONS);
    result.fanBytesPerQueued = Math.round((filled - idle) / queued);
    process.stdout.write(`${PER} messages to each (${queued} queued) in ${((performance.now() - t) / 1000).toFixed(1)} s: RSS above idle ${mb(filled - idle)} MB = ` +
      `${result.fanBytesPerSession} B per offline session, ${result.fanBytesPerQueued} B per queued message (${await heapAndHeld()}); data file ${mb(fileSize())} MB\n`);
    result.fanFileMB = Number(mb(fileSize()));
  }

  /** the data file after the long queue's fill, then after its drain */
  let size1 = 0;
  let size2 = 0;
  if (LONG > 0) {
    // with several workers: which one held the session, and which one its returning client reached (the session then moves)
    let heldBy = -1;
    let cameTo = -1;
    await offlineSession(port, 'qb-long', 'qb/long', async () => void (heldBy = await workerWithClient()));
    const before = await settledRss(pid);
    const fillMs = await publishMany(port, 'qb/long', LONG, 32);
    const filled = await settledRss(pid);
    size1 = fileSize();
    result.longQueued = LONG;
    result.longBytesPerQueued = Math.round((filled - before) / LONG);
    process.stdout.write(`one session, ${LONG} queued (published at ${(LONG / fillMs * 1000).toFixed(0)} msg/s): RSS +${mb(filled - before)} MB = ${result.longBytesPerQueued} B per queued message; data file ${mb(size1)} MB (${await heapAndHeld()})\n`);
    const cpu0 = cpuSeconds(pid);
    const { ms: drainMs, connackMs } = await drain(port, 'qb-long', LONG, async () => void (cameTo = await workerWithClient()));
    result.connackMs = Math.round(connackMs);
    if (WORKERS > 1) result.moved = heldBy < 0 || cameTo < 0 ? 'unknown' : heldBy !== cameTo ? 'yes' : 'no';
    result.drainMsgPerSec = Math.round(LONG / drainMs * 1000);
    // the broker's CPU time (all threads) per message: steadier than the rate on a shared machine
    result.drainCpuUsPerMsg = Number(((cpuSeconds(pid) - cpu0) * 1e6 / LONG).toFixed(2));
    await sleep(1000);
    size2 = fileSize();
    const moved = WORKERS > 1 ? ` (the session moved to another worker: ${result.moved})` : '';
    process.stdout.write(`drained at ${result.drainMsgPerSec} msg/s, ${result.drainCpuUsPerMsg} µs of broker CPU per message, CONNACK after ${result.connackMs} ms${moved}; data file ${mb(size2)} MB\n`);
  }
  if (LONG > 0 && CYCLE) {
    await publishMany(port, 'qb/long', LONG, 32);
    await sleep(1000);
    const size3 = fileSize();
    const { ms: drain2Ms } = await drain(port, 'qb-long', LONG);
    await publishMany(port, 'qb/long', LONG, 32);
    await sleep(1000);
    const size4 = fileSize();
    result.fileMB = `${mb(size1)} / ${mb(size2)} / ${mb(size3)} / ${mb(size4)}`;
    result.drain2MsgPerSec = Math.round(LONG / drain2Ms * 1000);
    process.stdout.write(`fill-drain-fill-drain-fill: data file ${result.fileMB} MB (second drain ${result.drain2MsgPerSec} msg/s)\n`);
  }

  if (RESTART) {
    broker.proc.kill('SIGTERM');
    await broker.exited;
    broker = await startCulex(conf, dir, port);
    result.restartSeconds = Number((broker.ms / 1000).toFixed(2));
    const rss = await settledRss(broker.proc.pid!);
    result.restartRssMB = Number(mb(rss));
    process.stdout.write(`restart: accepting connections after ${result.restartSeconds} s; RSS ${mb(rss)} MB\n`);
  }
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  broker.proc.kill('SIGTERM');
  await broker.exited;
  rmSync(dir, { recursive: true, force: true });
}
