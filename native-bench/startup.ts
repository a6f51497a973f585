/**
 * Start-up time with many queued messages: writes a store holding `sessions` persistent
 * sessions with `perSession` queued QoS 1 messages each (64-byte payloads, written straight
 * through the store as the broker would have), then starts culex on it and measures the time
 * until it accepts connections (reading every entry: the store has no clean-stop marks, as after
 * a crash), stops it with SIGTERM (timed), starts it again (after a clean stop: the queues come
 * from the tallies, src/persistence/cleanStop.ts), and measures until it accepts connections and
 * until one session has received its whole queue.
 *   node native-bench/startup.ts [sessions, default 1000] [per session, default 1000] [workers, default 1] [log | inline | shared]
 * `log` (default): every entry refers to a message of its own in the shared log (the worst case:
 * as many log messages as entries); `inline`: every entry carries its message (one persistent
 * recipient); `shared`: the n-th entry of every session refers to the same log message (one
 * message fanned out to every session, stored once per worker: the fan-out case).
 * called from: main (a command-line script)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { Store } from '../src/persistence/store.ts';
import { freePort, waitForPort } from './runner/processes.ts';

const sessions = Number(process.argv[2] ?? 1000);
const perSession = Number(process.argv[3] ?? 1000);
const workers = Number(process.argv[4] ?? 1);
const mode = process.argv[5] ?? 'log';
const inline = mode === 'inline';
const shared = mode === 'shared';
if (!['log', 'inline', 'shared'].includes(mode)) throw new Error(`mode ${mode}: log, inline or shared`);
const repoRoot = path.resolve(new URL('..', import.meta.url).pathname);

const dir = mkdtempSync(path.join(tmpdir(), 'culex-startup-'));
const data = path.join(dir, 'data');
try {
  const t0 = performance.now();
  const store = Store.open({ path: data, durability: 'sync', batchWindowMs: 50 });
  const payload = Buffer.alloc(64, 7);
  let seq = 0;
  for (let s = 0; s < sessions; s++) {
    const clientId = `device-${s}`;
    store.putSession(clientId, {
      owner: s % workers, user: undefined, expiry: 0xffffffff, expiresAt: 0, lastId: 0, will: undefined,
      subs: [{ f: { raw: 'city/#', filter: 'city/#', group: undefined }, o: { qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 0 } }],
    });
    for (let q = 1; q <= perSession; q++) {
      seq += 1;
      const m = { t: `city/zone${s % 10}/${s}/status`, p: payload, q: 1 as const, r: false, pr: undefined, up: undefined, x: 0, o: 'publisher', s: 0 };
      if (inline) {
        store.putQueued(clientId, q, { m: 0, x: m, q: 1, r: false, i: undefined, p: 0, s: 0 });
        continue;
      }
      // messages are per worker (seq ≡ owner mod workers); `shared`: the q-th message of every session is one message
      const mseq = (shared ? q : seq) * workers + (s % workers);
      if (!shared || s < workers) store.putMessage(mseq, m);
      store.putQueued(clientId, q, { m: mseq, q: 1, r: false, i: undefined, p: 0, s: 0 });
    }
    if (s % 50 === 49) await store.commit();
  }
  await store.flush();
  await store.close();
  const total = sessions * perSession;
  process.stdout.write(`wrote ${sessions} sessions x ${perSession} = ${total} queued messages in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  const port = await freePort();
  const conf = path.join(dir, 'culex.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${data}`,
    `workers ${workers}`, 'max_queued_messages 0', 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type information'].join('\n') + '\n');
  /** Starts culex on the store; resolves once it accepts connections. */
  const start = async (): Promise<{ proc: ReturnType<typeof spawn>; ms: number; log: () => string; exited: Promise<unknown> }> => {
    const started = performance.now();
    const proc = spawn(process.execPath, [path.join(repoRoot, 'src/cli/main.ts'), '-c', conf], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    await waitForPort(port, 600_000, exited);
    return { proc, ms: performance.now() - started, log: () => log, exited };
  };
  const summary = (log: string): string => log.match(/persistence: .*/)?.[0] ?? '';
  // 1: the store as written above, with no clean-stop marks: every queued entry is read (as after a crash)
  const first = await start();
  const stopping = performance.now();
  first.proc.kill('SIGTERM');
  await first.exited;
  const stopMs = performance.now() - stopping;
  // 2: after that clean stop: the queues come from the tallies
  const second = await start();
  const client = mqtt.connect(`mqtt://127.0.0.1:${port}`, { clientId: 'device-0', clean: false, protocolVersion: 4, reconnectPeriod: 0 });
  let got = 0;
  const drained = new Promise<void>((resolve) => client.on('message', () => (++got === perSession ? resolve() : undefined)));
  const connected = performance.now();
  await drained;
  const drainMs = performance.now() - connected;
  client.end(true);
  second.proc.kill('SIGTERM');
  await second.exited;
  process.stdout.write(`culex, ${workers} worker(s), ${total} queued messages: accepting connections ${(first.ms / 1000).toFixed(1)} s after start reading every entry (no clean stop); ` +
    `clean stop in ${(stopMs / 1000).toFixed(1)} s; then accepting connections ${(second.ms / 1000).toFixed(1)} s after start; ` +
    `one session's ${perSession} messages delivered in ${drainMs.toFixed(0)} ms\n${summary(first.log())}\n${summary(second.log())}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
