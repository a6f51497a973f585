import { writeSync } from 'node:fs';
import type { IConnectPacket } from 'mqtt-packet';

/**
 * Logging with Mosquitto's log types. Every call site on a hot path checks a level flag before
 * building its message (STYLE pattern 5); nothing is logged per message.
 * called from: main, worker
 */
export interface Logger {
  readonly debugEnabled: boolean;
  error(message: string, err?: unknown): void;
  warning(message: string): void;
  notice(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  /** "New client connected …" as Mosquitto prints it, when connection_messages is on */
  connection(conn: { clientId: string; remoteAddress: string | undefined; remotePort: number | undefined; version: number; keepalive: number }, packet: IConnectPacket): void;
  /** reopens the log file(s) (SIGHUP, after log rotation) */
  reopen?(): void;
}

export interface LogOptions {
  readonly types: readonly string[];
  readonly dest: readonly string[];
  readonly connectionMessages: boolean;
  /** -v on the command line: everything */
  readonly verbose?: boolean;
}

export function createLogger(opts: LogOptions): Logger {
  const all = opts.verbose === true || opts.types.includes('all');
  const none = opts.dest.includes('none') || opts.types.includes('none');
  const on = (t: string) => !none && (all || opts.types.includes(t));
  const fd = opts.dest.includes('stdout') ? 1 : 2;
  // Lines are collected and written to the file descriptor once per event-loop turn, straight
  // from the calling thread: a worker's process.stderr would post every line to the main thread
  // (measured: the largest cost of a connect storm with connection_messages on).
  let pending: string[] = [];
  const flush = () => {
    const lines = pending;
    pending = [];
    try {
      writeSync(fd, lines.join(''));
    } catch {
      // nowhere left to report a failed log write
    }
  };
  const write = (level: string, message: string) => {
    const line = `${Math.floor(Date.now() / 1000)}: ${level === 'error' ? 'Error: ' : level === 'warning' ? 'Warning: ' : ''}${message}\n`;
    if (pending.push(line) === 1) setImmediate(flush);
  };
  const errorOn = on('error');
  const warnOn = on('warning');
  const noticeOn = on('notice');
  const infoOn = on('information');
  const debugOn = on('debug');
  const connOn = opts.connectionMessages && noticeOn;
  return {
    debugEnabled: debugOn,
    error: (m, err) => {
      if (errorOn) write('error', err === undefined ? m : `${m}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    },
    warning: (m) => warnOn && write('warning', m),
    notice: (m) => noticeOn && write('notice', m),
    info: (m) => infoOn && write('information', m),
    debug: (m) => debugOn && write('debug', m),
    connection: (c, p) => {
      if (!connOn) return;
      write('notice', `New client connected from ${c.remoteAddress}:${c.remotePort} as ${c.clientId} (p${c.version}, c${p.clean === false ? 0 : 1}, k${c.keepalive}${p.username !== undefined ? `, u'${p.username}'` : ''}).`);
    },
  };
}
