/**
 * Where log lines go: stdout, stderr and the `log_dest file` file, each written with writeSync
 * from the calling thread (a worker's process.stderr would post every line to the main thread).
 * Every thread opens the file itself with O_APPEND, so lines from several threads never overwrite
 * each other, and each thread's reopen() follows a rename (logrotate) on its own.
 * called from: main, worker
 */
import { closeSync, openSync, writeSync } from 'node:fs';

/** One destination. */
export interface LogSink {
  write(text: string): void;
  /** closes and opens the file again (after logrotate moved it); nothing for stdout/stderr */
  reopen(): void;
  close(): void;
}

function writeAll(fd: number, text: string): void {
  try {
    writeSync(fd, text);
  } catch {
    // nowhere left to report a failed log write
  }
}

const stdSink = (fd: number): LogSink => ({ write: (text) => writeAll(fd, text), reopen: () => {}, close: () => {} });

/**
 * The log file. When it cannot be opened, Mosquitto's line "Error: Unable to open log file PATH
 * for writing." goes to stderr (`failed`) and the file's lines are lost until a reopen succeeds.
 */
class FileSink implements LogSink {
  private fd: number | undefined;
  private readonly path: string;
  private readonly failed: (message: string) => void;

  constructor(path: string, failed: (message: string) => void) {
    this.path = path;
    this.failed = failed;
    this.open();
  }

  private open(): void {
    try {
      this.fd = openSync(this.path, 'a');
    } catch {
      this.fd = undefined;
      this.failed(`Error: Unable to open log file ${this.path} for writing.`);
    }
  }

  write(text: string): void {
    if (this.fd !== undefined) writeAll(this.fd, text);
  }

  reopen(): void {
    this.close();
    this.open();
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // already closed
    }
    this.fd = undefined;
  }
}

/**
 * The sinks of a log_dest list (`stdout`, `stderr`, `file PATH`; an empty list = none).
 * `failed` receives a complete line (time stamp included) when the file cannot be opened.
 */
export function openSinks(dest: readonly string[], failed: (line: string) => void): LogSink[] {
  const sinks: LogSink[] = [];
  for (const d of dest) {
    if (d === 'stdout') sinks.push(stdSink(1));
    else if (d === 'stderr') sinks.push(stdSink(2));
    else if (d.startsWith('file ')) sinks.push(new FileSink(d.slice(5), failed));
  }
  return sinks;
}

/** stderr, for lines that must be seen when the configured destinations fail. */
export const stderrSink: LogSink = stdSink(2);
