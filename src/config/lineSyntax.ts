/**
 * The mosquitto.conf line syntax and value parsers.
 *
 * A line is `key value…`. Lines whose first non-blank character is `#` are comments (Mosquitto
 * only accepts `#` in column 1 and rejects an indented one as an unknown option; culex is
 * lenient there). Keys and values are separated by spaces or tabs (Mosquitto: spaces only).
 * Single-token values may be followed by a `# comment`; any other trailing text is an error
 * (Mosquitto ignores it silently). Path-like values take the rest of the line, spaces
 * included, exactly as Mosquitto does.
 *
 * Value parsers throw {@link OptionValueError}; the loader adds file and line.
 * called from: main, tests
 */
import { OptionValueError } from './errors.ts';

/** One meaningful line of a configuration file. */
export interface ConfigLine {
  /** 1-based line number in its file */
  readonly line: number;
  readonly key: string;
  /** everything after the key, trimmed; '' when the key stands alone */
  readonly rest: string;
}

const BLANK = /[ \t]+/;

/** Splits configuration text into meaningful lines, dropping blanks and comments. */
export function splitConfigLines(text: string): ConfigLine[] {
  const out: ConfigLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i]!.replace(/\r+$/, '').trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const match = BLANK.exec(trimmed);
    if (match === null) {
      out.push({ line: i + 1, key: trimmed, rest: '' });
    } else {
      out.push({
        line: i + 1,
        key: trimmed.slice(0, match.index),
        rest: trimmed.slice(match.index + match[0].length),
      });
    }
  }
  return out;
}

/** The whitespace-separated tokens of a value, with a trailing `# comment` removed. */
export function valueTokens(rest: string): string[] {
  if (rest === '') return [];
  const tokens = rest.split(BLANK);
  const comment = tokens.findIndex((t) => t.startsWith('#'));
  return comment === -1 ? tokens : tokens.slice(0, comment);
}

/** The one token of a single-valued option. */
export function singleToken(rest: string): string {
  const tokens = valueTokens(rest);
  if (tokens.length === 0) throw new OptionValueError('missing value');
  if (tokens.length > 1) {
    throw new OptionValueError(`unexpected text after the value: '${tokens.slice(1).join(' ')}'`);
  }
  return tokens[0]!;
}

/** `true|false` (Mosquitto also accepts `1|0`; so does culex). */
export function parseBool(rest: string): boolean {
  const token = singleToken(rest);
  if (token === 'true' || token === '1') return true;
  if (token === 'false' || token === '0') return false;
  throw new OptionValueError(`invalid boolean '${token}' (expected true or false)`);
}

/** A decimal integer within [min, max]. Mosquitto's atoi accepts `12abc`; culex does not. */
export function parseInteger(rest: string, min: number, max: number): number {
  return checkRange(parseIntegerToken(singleToken(rest)), min, max);
}

/** Parses a decimal integer token without a range check. */
export function parseIntegerToken(token: string): number {
  if (!/^[+-]?\d+$/.test(token)) throw new OptionValueError(`invalid integer '${token}'`);
  const value = Number(token);
  if (!Number.isSafeInteger(value)) throw new OptionValueError(`integer out of range '${token}'`);
  return value;
}

function checkRange(value: number, min: number, max: number): number {
  if (value < min || value > max) {
    throw new OptionValueError(`value ${value} out of range (${min}..${max})`);
  }
  return value;
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/**
 * A byte count: a decimal integer, optionally followed by `k`/`K` (KiB), `M` (MiB) or `G` (GiB)
 * and an optional `B`/`iB`, e.g. `65536`, `64k`, `16MB`, `1GiB`. The suffixes are a culex
 * extension: Mosquitto reads only the digits, so keep plain numbers in shared configs.
 * Negative plain numbers are returned as they are (callers clamp them like Mosquitto).
 */
export function parseSize(rest: string, min: number, max: number): number {
  const token = singleToken(rest);
  const match = /^([+-]?\d+)(?:([kKMG])(?:i?B)?|B)?$/.exec(token);
  if (match === null) throw new OptionValueError(`invalid size '${token}' (e.g. 65536, 64k, 16M, 1G)`);
  const value = Number(match[1]) * SIZE_UNITS[match[2] ?? '']!;
  if (!Number.isSafeInteger(value)) throw new OptionValueError(`size out of range '${token}'`);
  return checkRange(value, min, max);
}

/** One of a fixed set of words. */
export function parseEnum<T extends string>(rest: string, values: readonly T[]): T {
  const token = singleToken(rest);
  if ((values as readonly string[]).includes(token)) return token as T;
  throw new OptionValueError(`invalid value '${token}' (expected ${values.join(' | ')})`);
}

/** A path or free text: the rest of the line, as Mosquitto reads it. */
export function parseText(rest: string): string {
  if (rest === '') throw new OptionValueError('missing value');
  return rest;
}

const DURATION_UNITS: Readonly<Record<string, number>> = {
  h: 3600,
  d: 86400,
  w: 86400 * 7,
  m: 86400 * 30,
  y: 86400 * 365,
};

/**
 * Mosquitto's `persistent_client_expiration` duration: a positive integer followed by one of
 * h d w m y (hour, day, week, month = 30 days, year = 365 days). Returns seconds.
 */
export function parseDuration(rest: string): number {
  const token = singleToken(rest);
  const match = /^(\d+)([hdwmy])$/.exec(token);
  if (match === null) {
    throw new OptionValueError(`invalid duration '${token}' (e.g. 2h, 14d, 1w, 2m, 1y)`);
  }
  const seconds = Number(match[1]) * DURATION_UNITS[match[2]!]!;
  if (seconds <= 0 || !Number.isSafeInteger(seconds)) {
    throw new OptionValueError(`invalid duration '${token}' (must be positive)`);
  }
  return seconds;
}

/**
 * `HOST:PORT`, `[IPv6]:PORT` or a bare `PORT` (host defaults to 127.0.0.1 so that an admin
 * endpoint is never exposed by accident). Port 0 = pick a free port (tests).
 */
export function parseHostPort(rest: string): { host: string; port: number } {
  const token = singleToken(rest);
  let host = '127.0.0.1';
  let portText = token;
  const bracketed = /^\[([^\]]+)\]:(.+)$/.exec(token);
  if (bracketed !== null) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
  } else if (token.includes(':')) {
    const colon = token.lastIndexOf(':');
    host = token.slice(0, colon);
    portText = token.slice(colon + 1);
    if (host.includes(':')) throw new OptionValueError(`IPv6 addresses need brackets: '[${host}]:${portText}'`);
  }
  if (host === '') throw new OptionValueError(`missing host in '${token}'`);
  return { host, port: checkRange(parseIntegerToken(portText), 0, 65535) };
}
