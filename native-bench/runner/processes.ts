/**
 * Child processes of the benchmark runner: every process it starts is recorded here and
 * stopped by its PID when the run ends, fails or is interrupted (SIGINT/SIGTERM).
 * called from: main (the runner is single-threaded)
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import net from 'node:net';

const children = new Set<ChildProcess>();

/** A started child with its exit awaited once. */
export interface Child {
  readonly proc: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns and records a child; it is removed from the record when it exits. */
export function startChild(command: string, args: readonly string[], options: SpawnOptions): Child {
  const proc = spawn(command, args, options);
  if (proc.pid === undefined) throw new Error(`cannot start ${command}`);
  children.add(proc);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      children.delete(proc);
      resolve({ code, signal });
    });
    proc.once('error', () => {
      children.delete(proc);
      resolve({ code: -1, signal: null });
    });
  });
  return { proc, pid: proc.pid, exited };
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export async function stopChild(child: Child, graceMs = 3000): Promise<void> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  child.proc.kill('SIGTERM');
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  await child.exited;
  clearTimeout(timer);
}

/** Kills every recorded child by PID (synchronous: also usable from an 'exit' handler). */
export function killAllChildren(): void {
  for (const proc of children) {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  }
  children.clear();
}

let handlersInstalled = false;

/** On SIGINT/SIGTERM/exit: kill the recorded children; signals then end the runner. */
export function installCleanupHandlers(onSignal: () => void = () => {}): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', killAllChildren);
  const onStop = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\nbench: ${signal}, stopping ${children.size} child process(es)\n`);
    onSignal();
    killAllChildren();
    process.exit(130);
  };
  process.on('SIGINT', onStop);
  process.on('SIGTERM', onStop);
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** Resolves once 127.0.0.1:port accepts a connection; rejects on timeout or when `gone` settles first. */
export async function waitForPort(port: number, timeoutMs: number, gone: Promise<unknown>): Promise<void> {
  let exited = false;
  void gone.then(() => { exited = true; });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (exited) throw new Error('the process exited before listening');
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs a command to completion (builds, version probes); returns its exit code and output. */
export function runSync(command: string, args: readonly string[], cwd?: string): { code: number; output: string } {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8' });
  return { code: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}
