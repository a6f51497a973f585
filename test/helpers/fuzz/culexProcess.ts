/**
 * A culex process for a long fuzz run: started on a temporary configuration (a TCP listener, a
 * TCP listener with a mount point, a WebSocket listener, persistence on, errors and warnings
 * logged to stderr), its log scanned for crashes, caught internal errors and Node warnings (with
 * --trace-warnings, so each comes with its stack), its memory read from /proc, and its state
 * after the run read from `$SYS`.
 * called from: scripts/fuzz.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { freePort } from '../broker.ts';
import type { Target } from './wire.ts';

const ROOT = path.resolve(new URL('../../..', import.meta.url).pathname);

/** a line of the broker's log that means a crash or a caught internal error */
const CRASH_LINE = /internal error|exited with code|died|could not be restarted|uncaught|unhandled/i;
/** a Node warning: "(node:PID) TimeoutOverflowWarning: …", "(node:PID) [DEP0005] DeprecationWarning: …" */
const WARNING_LINE = /^\(node:\d+\) (\[\w+\] )?\w*Warning: /;
/** the start of an ordinary log line ("1700000000: …") or of the CLI's own lines */
const LOG_LINE = /^(\d+: |culex)/;

export interface CulexProcess {
  readonly targets: Target[];
  readonly proc: ChildProcess;
  /** crash and internal-error lines, each followed by its stack */
  readonly crashes: string[];
  /** Node warnings, each followed by its stack */
  readonly warnings: string[];
  /** set once the process has exited */
  exited: string | undefined;
  stop(): Promise<void>;
}

/** Starts culex with `workers` workers; `extra` configuration lines go before the listeners. */
export async function startCulexProcess(workers: number, extra: readonly string[] = []): Promise<CulexProcess> {
  const dir = mkdtempSync(path.join(tmpdir(), 'culex-fuzz-'));
  const [tcp, mounted, ws] = [await freePort(), await freePort(), await freePort()];
  const conf = path.join(dir, 'culex.conf');
  writeFileSync(conf, [
    `workers ${workers}`, 'allow_anonymous true', 'persistence true', `persistence_location ${path.join(dir, 'data')}`,
    'log_type error', 'log_type warning', 'log_dest stderr', 'connection_messages false', 'sys_interval 5',
    ...extra,
    `listener ${tcp} 127.0.0.1`,
    `listener ${mounted} 127.0.0.1`, 'mount_point fz-mnt/',
    `listener ${ws} 127.0.0.1`, 'protocol websockets',
  ].join('\n') + '\n');
  const proc = spawn(process.execPath, ['--trace-warnings', path.join(ROOT, 'src/cli/main.ts'), '-c', conf], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => proc.once('exit', (code, signal) => {
    b.exited = `broker process exited (code ${code}, signal ${signal})`;
    resolve();
  }));
  const b: CulexProcess = {
    targets: [
      { name: `tcp:${tcp}`, kind: 'tcp', host: '127.0.0.1', port: tcp },
      { name: `tcp+mount_point:${mounted}`, kind: 'tcp', host: '127.0.0.1', port: mounted },
      { name: `ws:${ws}`, kind: 'ws', host: '127.0.0.1', port: ws },
    ],
    proc,
    crashes: [],
    warnings: [],
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
  /** where the lines under a crash or a warning (its stack) go */
  let block: string[] | undefined;
  proc.stderr!.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (CRASH_LINE.test(line)) (block = b.crashes).push(line);
      else if (WARNING_LINE.test(line)) (block = b.warnings).push(line);
      else if (block !== undefined && line.trim() !== '' && !LOG_LINE.test(line)) { if (block.length < 400) block.push(line); }
      else {
        block = undefined;
        if (line.trim() !== '') process.stderr.write(`broker: ${line}\n`);
      }
    }
  });
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

/** VmRSS and VmHWM (peak) of a process, in MiB, from /proc (Linux); undefined elsewhere. */
export function memoryMb(pid: number | undefined): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
  } catch {
    return undefined;
  }
}

/**
 * The broker's `$SYS/broker/…` values once every fuzz connection has closed: waits (sys_interval
 * is 5 s) until clients/connected is down to 1, the client asking, or `timeoutMs` has passed.
 */
export async function sysAfterRun(url: string, timeoutMs: number): Promise<Map<string, string>> {
  const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 10000 });
  const values = new Map<string, string>();
  try {
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, timeoutMs);
      c.on('message', (topic, payload) => {
        values.set(topic.slice('$SYS/broker/'.length), payload.toString());
        if (topic === '$SYS/broker/clients/connected' && Number(payload.toString()) <= 1) {
          clearTimeout(t);
          setTimeout(resolve, 200); // the other retained values come in the same burst
        }
      });
      void c.subscribeAsync('$SYS/broker/#');
    });
  } finally {
    await c.endAsync();
  }
  return values;
}
