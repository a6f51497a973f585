/**
 * A syslog daemon's socket for tests: a unix datagram socket (what /dev/log is) bound by a small
 * python3 script, since Node cannot bind one. Point culex's `log_dest syslog` at it with the test
 * hook CULEX_SYSLOG_SOCKET=<path> (src/log/syslog.ts). Each datagram is parsed as the local
 * syslog format util-linux logger writes: "<PRI>Mmm dd hh:mm:ss IDENT[PID]: MESSAGE".
 * called from: tests
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';

const SCRIPT = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
if sys.argv[2] == "paused":
    sys.stdin.readline()
while True:
    print(json.dumps(s.recv(65536).decode("utf-8", "replace")), flush=True)
`;

/** One datagram. */
export interface SyslogMessage {
  readonly pri: number;
  readonly facility: number;
  readonly severity: number;
  readonly ident: string;
  readonly pid: number;
  /** the text after "IDENT[PID]: " */
  readonly message: string;
  readonly raw: string;
}

const FORMAT = /^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ([^[\s]+)\[(\d+)\]: (.*)$/s;

export function parseSyslog(raw: string): SyslogMessage {
  const m = FORMAT.exec(raw);
  if (m === null) throw new Error(`not a local syslog message: ${JSON.stringify(raw)}`);
  const pri = Number(m[1]);
  return { pri, facility: pri >> 3, severity: pri & 7, ident: m[2]!, pid: Number(m[3]), message: m[4]!, raw };
}

export interface SyslogReceiver {
  readonly path: string;
  /** every datagram so far, in arrival order */
  readonly messages: SyslogMessage[];
  /** resolves with the first message (so far or later) `match` accepts */
  waitFor(match: (m: SyslogMessage) => boolean, what: string, timeoutMs?: number): Promise<SyslogMessage>;
  /** a receiver started `paused` reads nothing until this is called */
  release(): void;
  close(): void;
}

/** Binds `<dir>/<name>` (default `log.sock`); `paused`: the socket is not read until release(). */
export async function startSyslogReceiver(dir: string, opts: { name?: string; paused?: boolean } = {}): Promise<SyslogReceiver> {
  const socketPath = path.join(dir, opts.name ?? 'log.sock');
  const proc: ChildProcess = spawn('python3', ['-c', SCRIPT, socketPath, opts.paused === true ? 'paused' : 'reading'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const messages: SyslogMessage[] = [];
  const waiters = new Set<() => void>();
  const lines = createInterface({ input: proc.stdout! });
  await new Promise<void>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`syslog receiver exited with ${code}`)));
    lines.once('line', (l) => (l === 'ready' ? resolve() : reject(new Error(`syslog receiver: ${l}`))));
  });
  lines.on('line', (l) => {
    messages.push(parseSyslog(JSON.parse(l) as string));
    for (const w of waiters) w();
  });
  return {
    path: socketPath,
    messages,
    waitFor(match, what, timeoutMs = 10000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find(match);
          if (found === undefined) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no syslog message ${what}; received:\n${messages.map((m) => m.raw).join('\n')}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    release: () => proc.stdin!.write('go\n'),
    close: () => {
      proc.kill();
    },
  };
}
