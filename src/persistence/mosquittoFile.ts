/**
 * Finds a Mosquitto persistence file (`mosquitto.db`, or whatever name `persistence_file` gave
 * it) in a persistence_location, so that a culex started where Mosquitto ran says that it did
 * not read it and how to import it (src/cli/importMosquitto.ts). Only the 15-byte magic of each
 * file is read; culex never imports on its own.
 * Invariant: never throws; an unreadable directory or file is simply not reported.
 * called from: main (startup.ts, culex import-mosquitto)
 */
import { closeSync, openSync, readSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** The first 15 bytes of every Mosquitto persistence file (persist_read.c `magic`). */
export const MOSQUITTO_DB_MAGIC: Buffer = Buffer.from([0x00, 0xb5, 0x00, ...Buffer.from('mosquitto db')]);

/** Mosquitto's default persistence_file. */
export const MOSQUITTO_DB_FILE = 'mosquitto.db';

/** At most this many files of a directory are looked at (start-up reads 15 bytes of each). */
const MAX_CANDIDATES = 64;

/** The start-up notice for a Mosquitto persistence file found in the persistence_location. */
export function mosquittoDbNotice(file: string): string {
  return `found Mosquitto persistence file ${file}: not read; import it with \`culex import-mosquitto -c CONFIG ${file}\` ` +
    '(culex stopped, CONFIG its configuration file), then move the file out of persistence_location';
}

/** Does `file` start with Mosquitto's magic? */
export function isMosquittoDb(file: string): boolean {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(MOSQUITTO_DB_MAGIC.length);
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(MOSQUITTO_DB_MAGIC);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** The Mosquitto persistence files directly in `dir` (mosquitto.db first), by full path. */
export function findMosquittoDbs(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
  } catch {
    return [];
  }
  // culex's own files are never Mosquitto's; `.new` is Mosquitto's half-written save
  const candidates = names.filter((n) => !n.endsWith('.mdb') && n !== 'culex.lock' && !n.endsWith('.new'))
    .sort((a, b) => (a === MOSQUITTO_DB_FILE ? -1 : b === MOSQUITTO_DB_FILE ? 1 : a < b ? -1 : a > b ? 1 : 0));
  return candidates.slice(0, MAX_CANDIDATES).map((n) => path.join(dir, n)).filter(isMosquittoDb);
}
