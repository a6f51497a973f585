/**
 * The line format Mosquitto's password and psk files share (security_default.c pwfile__parse):
 * `name:value` per line; lines starting with `#` and lines without `:` are skipped; name and
 * value are trimmed, the value read up to the next `:` (strtok). culex refuses, naming the line,
 * an empty name and a name listed twice (Mosquitto keeps one of them).
 * called from: main, worker, piscina thread (auth/passwordFile.ts, auth/pskFile.ts)
 */
import { ConfigError } from '../config/errors.ts';

export interface PwfileEntry {
  readonly name: string;
  readonly value: string;
  /** 1-based */
  readonly line: number;
}

/**
 * The entries of `text`, in file order. `file` names it in errors; `what` is the name's kind
 * ('user', 'identity') in them.
 * @throws ConfigError naming the line of an empty or repeated name
 */
export function pwfileEntries(text: string, file: string, what: string): PwfileEntry[] {
  const entries: PwfileEntry[] = [];
  const firstLine = new Map<string, number>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r+$/, '');
    if (raw.startsWith('#') || !raw.includes(':')) continue;
    const colon = raw.indexOf(':');
    const name = raw.slice(0, colon).trim();
    const value = raw.slice(colon + 1).split(':')[0]!.trim();
    if (name === '') throw new ConfigError(file, i + 1, `empty ${what === 'user' ? 'username' : what}`);
    const seen = firstLine.get(name);
    if (seen !== undefined) throw new ConfigError(file, i + 1, `${what} '${name}' is listed twice (first at line ${seen})`);
    firstLine.set(name, i + 1);
    entries.push({ name, value, line: i + 1 });
  }
  return entries;
}
