/**
 * `log_dest syslog`: lines go to the system log through util-linux `logger` (package bsdutils,
 * always on Debian), since Node has no unix datagram sockets for /dev/log. One logger child per
 * thread, started at the first syslog sink and ended when the thread's last syslog sink closes:
 * each thread writes its own lines, as with the other sinks (src/log/sinks.ts), so a worker's
 * lines never wait on the main thread and no line crosses threads; the facility travels in each
 * line's `<PRI>` prefix, so sinks of different configurations (a reload) share the child.
 *
 * As Mosquitto's openlog("mosquitto", LOG_PID|LOG_CONS, log_facility): ident "mosquitto" (what
 * existing syslog filters match: rsyslog `programname`, journald `SYSLOG_IDENTIFIER`), the
 * process id, facility daemon unless log_facility N gives localN; the line is the one the other
 * destinations get (time stamp included when log_timestamp is on, as Mosquitto does).
 *
 * Writes never block: a line is dropped, and counted, while more than MAX_BUFFERED bytes wait for
 * the pipe; the count is logged once the pipe drains. When logger cannot be started or exits,
 * that is said once on stderr with logger's own words, and the thread's syslog lines go to stderr
 * from then on (a reload starts a new child when it closed the thread's last syslog sink).
 *
 * Test hook, not a configuration option: CULEX_SYSLOG_SOCKET=PATH makes logger write to that
 * unix socket instead of /dev/log (test/system/syslog.test.ts binds a receiver there).
 * called from: main, worker
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeSync } from 'node:fs';
import type { Socket } from 'node:net';

/** Mosquitto's syslog ident (logging.c log__init). */
export const SYSLOG_IDENT = 'mosquitto';

/** LOG_DAEMON: Mosquitto's facility when log_facility is not set (conf.c config__init). */
const FACILITY_DAEMON = 3;
/** LOG_LOCAL0; log_facility N (0-7) is localN. */
const FACILITY_LOCAL0 = 16;

/** The syslog facility number of a log_facility value (undefined = not set: daemon). */
export function syslogFacility(logFacility: number | undefined): number {
  return logFacility === undefined ? FACILITY_DAEMON : FACILITY_LOCAL0 + logFacility;
}

/**
 * Mosquitto's syslog severity per log type (logging.c log__vprintf): subscribe and unsubscribe
 * are notices, websockets debug; anything else (internal) falls to its default, LOG_ERR.
 */
export const SYSLOG_SEVERITY = {
  error: 3, // LOG_ERR
  warning: 4, // LOG_WARNING
  notice: 5, // LOG_NOTICE
  information: 6, // LOG_INFO
  debug: 7, // LOG_DEBUG
  subscribe: 5,
  unsubscribe: 5,
  websockets: 7,
  internal: 3,
} as const;

/** The `<PRI>` value of a line: facility * 8 + severity (RFC 3164 4.1.1). */
export function syslogPri(facility: number, type: keyof typeof SYSLOG_SEVERITY): number {
  return facility * 8 + SYSLOG_SEVERITY[type];
}

/** Bytes allowed to wait for the pipe to logger before lines are dropped. */
const MAX_BUFFERED = 256 * 1024;
/** How long a new child's lines are kept, to be written to stderr if it fails at start (no /dev/log). */
const START_GRACE_MS = 1000;
/** logger's own error text kept for the report */
const MAX_STDERR = 2000;

/** The thread's logger child; `users` sinks hold it. */
class LoggerChild {
  users = 0;
  /** set once the child failed: lines go to stderr from then on */
  failed = false;
  private readonly child: ChildProcess;
  private readonly stdin: Socket;
  /**
   * Lines written during the start grace period (undefined after it), replayed on stderr on a
   * start failure unless their sink has `log_dest stderr` too; then lines that came between the
   * failure and its report.
   */
  private early: [text: string, stderrToo: boolean][] | undefined = [];
  private held: string[] | undefined;
  private dropped = 0;
  private stderrText = '';
  private ended = false;

  /** the facility of the last lines written, for the dropped-lines warning */
  private facility = FACILITY_DAEMON;

  constructor() {
    const args = ['--prio-prefix', '--socket-errors=on', '-t', SYSLOG_IDENT, `--id=${process.pid}`];
    const socket = process.env.CULEX_SYSLOG_SOCKET;
    if (socket !== undefined && socket !== '') args.push('--socket', socket);
    // detached: its own process group, so a terminal's Ctrl-C stops culex, which then logs its
    // last lines, and not logger first; it exits on its own when its stdin closes.
    this.child = spawn('logger', args, { stdio: ['pipe', 'ignore', 'pipe'], detached: true });
    this.stdin = this.child.stdin as Socket;
    this.stdin.on('error', () => {}); // EPIPE after an exit: reported by 'exit'
    this.stdin.on('drain', () => this.reportDropped());
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (text: string) => {
      if (this.stderrText.length < MAX_STDERR) this.stderrText += text;
    });
    this.child.on('error', (err) => this.fail(`could not be started: ${err.message}`));
    this.child.on('exit', (code, signal) => this.fail(signal === null ? `exited with code ${code}` : `killed by ${signal}`));
    this.child.unref();
    this.stdin.unref();
    (this.child.stderr as Socket).unref();
    setTimeout(() => {
      this.early = undefined;
    }, START_GRACE_MS).unref();
  }

  /** `text`: `lines` whole lines, each with its `<PRI>` prefix; not called once `failed`. */
  write(text: string, lines: number, facility: number, stderrToo: boolean): void {
    this.facility = facility;
    if (this.stdin.writableLength > MAX_BUFFERED) {
      this.dropped += lines;
      return;
    }
    this.early?.push([text, stderrToo]);
    this.stdin.write(text);
  }

  /** Lines for stderr once `failed`: after the failure's report. */
  fallback(text: string): void {
    if (this.held !== undefined) this.held.push(text);
    else toStderr(text);
  }

  /** Ends the child: it sends what it has read and exits at the end of its input. */
  end(): void {
    this.ended = true;
    this.stdin.end();
  }

  private reportDropped(): void {
    if (this.dropped === 0 || this.failed) return;
    const n = this.dropped;
    this.dropped = 0;
    this.stdin.write(`<${syslogPri(this.facility, 'warning')}>Warning: ${n} log lines were dropped: logger could not keep up.\n`);
  }

  private fail(reason: string): void {
    if (this.failed || this.ended) return;
    this.failed = true;
    this.held = [];
    // logger's error text may still be arriving: give it one turn
    setImmediate(() => {
      const said = this.stderrText.trim();
      writeAll(`Error: log_dest syslog: logger ${reason}${said === '' ? '' : ` (${said.replaceAll('\n', '; ')})`}; ` +
        'syslog lines go to stderr instead.\n');
      if (this.early !== undefined) for (const [text, stderrToo] of this.early) if (!stderrToo) toStderr(text);
      this.early = undefined;
      for (const text of this.held ?? []) toStderr(text);
      this.held = undefined;
      if (this.dropped > 0) writeAll(`Warning: ${this.dropped} log lines were dropped: logger could not keep up.\n`);
      this.dropped = 0;
    });
  }
}

function writeAll(text: string): void {
  try {
    writeSync(2, text);
  } catch {
    // nowhere left to report
  }
}

/** A failed child's lines, without their `<PRI>` prefixes. */
function toStderr(text: string): void {
  writeAll(text.replace(/^<\d+>/gm, ''));
}

/** This thread's child, while a sink holds it. */
let shared: LoggerChild | undefined;

/**
 * One `log_dest syslog`: lines are added with their log type and sent once per flush (the
 * logger's event-loop turn). Closing the thread's last sink ends the child.
 */
export class SyslogSink {
  private readonly facility: number;
  private child: LoggerChild | undefined;
  private pending: string[] = [];

  /** `log_dest stderr` is configured too: a failed child's lines are not written twice */
  private readonly stderrToo: boolean;

  /** `logFacility`: log_facility (0-7), undefined when not set */
  constructor(logFacility: number | undefined, stderrToo: boolean) {
    this.facility = syslogFacility(logFacility);
    this.stderrToo = stderrToo;
    shared ??= new LoggerChild();
    this.child = shared;
    this.child.users++;
  }

  /** `line`: the line as the other destinations get it, without its newline. */
  add(type: keyof typeof SYSLOG_SEVERITY, line: string): void {
    const prefix = `<${syslogPri(this.facility, type)}>`;
    // a multi-line message (an error's stack): every line carries the priority
    this.pending.push(`${prefix}${line.includes('\n') ? line.replaceAll('\n', `\n${prefix}`) : line}\n`);
  }

  flush(): void {
    if (this.pending.length === 0 || this.child === undefined) return;
    const lines = this.pending.length;
    const text = this.pending.join('');
    this.pending = [];
    if (!this.child.failed) this.child.write(text, lines, this.facility, this.stderrToo);
    else if (!this.stderrToo) this.child.fallback(text);
  }

  close(): void {
    this.flush();
    const child = this.child;
    if (child === undefined) return;
    this.child = undefined;
    if (--child.users === 0) {
      if (shared === child) shared = undefined;
      child.end();
    }
  }
}
