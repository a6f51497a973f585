/**
 * Errors raised while reading configuration files.
 * called from: main (config load and reload), tests
 */

/**
 * A configuration file is wrong: an unknown option, a bad value, a missing file.
 * The message is ready to show to the operator and always starts with `file:line:`
 * (line 0 when the fault is not tied to one line, e.g. the file cannot be read).
 */
export class ConfigError extends Error {
  /** the file as it was named to the loader (not resolved) */
  readonly file: string;
  /** 1-based line number; 0 = the whole file */
  readonly line: number;

  constructor(file: string, line: number, reason: string) {
    super(`${file}:${line}: ${reason}`);
    this.name = 'ConfigError';
    this.file = file;
    this.line = line;
  }
}

/**
 * A value could not be parsed. Thrown by the value parsers, which do not know the file or
 * line; the loader turns it into a {@link ConfigError}. Never escapes `src/config`.
 */
export class OptionValueError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'OptionValueError';
  }
}
