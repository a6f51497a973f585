/**
 * Mosquitto password files, as written by `mosquitto_passwd`:
 *
 *   username:$7$ITERATIONS$SALT$HASH   PBKDF2-HMAC-SHA512 (mosquitto_passwd's default, 101 iterations)
 *   username:$6$SALT$HASH              SHA-512(password ‖ salt)   (Mosquitto ≤ 1.6, `-H sha512`)
 *
 * SALT and HASH are standard base64 (12- or 64-byte salt, 64-byte hash). Lines starting with
 * `#` and lines without `:` are skipped, as Mosquitto does (pwfileLines.ts). Where Mosquitto logs a bad entry
 * and drops it (an unknown hash type, a plain-text password, bad base64), culex refuses the
 * file with the line number: a user who cannot log in for a reason nobody sees is worse.
 *
 * Entries hold plain Uint8Arrays so they cross to a piscina thread by structured clone.
 * called from: main (Authenticator), piscina thread (verifyTask), cli/passwd.ts
 */
import { createHash, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ConfigError } from '../config/errors.ts';
import { pwfileEntries } from './pwfileLines.ts';

/** One user's stored password hash. */
export type PasswordEntry =
  | {
      readonly kind: 'sha512-pbkdf2';
      readonly iterations: number;
      readonly salt: Uint8Array;
      readonly hash: Uint8Array;
    }
  | { readonly kind: 'sha512'; readonly salt: Uint8Array; readonly hash: Uint8Array };

/** mosquitto_passwd's default PBKDF2 iteration count (PW_DEFAULT_ITERATIONS). */
export const DEFAULT_ITERATIONS = 101;
const SALT_LENGTH = 12;
const HASH_LENGTH = 64;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function decodeBase64(text: string, what: string, file: string, line: number): Uint8Array {
  if (!BASE64.test(text) || text.length % 4 !== 0) {
    throw new ConfigError(file, line, `invalid base64 in the password ${what}`);
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/**
 * Parses one `$6$…` or `$7$…` hash string; `file`/`line` name it in errors.
 * @throws ConfigError
 */
export function parsePasswordHash(text: string, file: string, line: number): PasswordEntry {
  const parts = text.split('$');
  // '' before the first '$', then the type.
  if (parts[0] !== '' || (parts[1] !== '6' && parts[1] !== '7')) {
    throw new ConfigError(
      file,
      line,
      'not a $6$ or $7$ password hash (plain-text passwords are not accepted; use mosquitto_passwd or culex passwd)',
    );
  }
  const pbkdf2 = parts[1] === '7';
  if (parts.length !== (pbkdf2 ? 5 : 4)) throw new ConfigError(file, line, `malformed $${parts[1]}$ password hash`);
  let iterations = 0;
  if (pbkdf2) {
    if (!/^\d{1,9}$/.test(parts[2]!) || Number(parts[2]) < 1) {
      throw new ConfigError(file, line, `invalid iteration count '${parts[2]}' in the password hash`);
    }
    iterations = Number(parts[2]);
  }
  const salt = decodeBase64(parts[pbkdf2 ? 3 : 2]!, 'salt', file, line);
  const hash = decodeBase64(parts[pbkdf2 ? 4 : 3]!, 'hash', file, line);
  if (salt.length !== SALT_LENGTH && salt.length !== HASH_LENGTH) {
    throw new ConfigError(file, line, `password salt must be 12 or 64 bytes, got ${salt.length}`);
  }
  if (hash.length !== HASH_LENGTH) throw new ConfigError(file, line, `password hash must be 64 bytes, got ${hash.length}`);
  return pbkdf2 ? { kind: 'sha512-pbkdf2', iterations, salt, hash } : { kind: 'sha512', salt, hash };
}

/**
 * Parses a password file. `file` names it in errors.
 * @throws ConfigError naming the line of a malformed entry or a repeated username.
 */
export function parsePasswordFile(text: string, file: string): Map<string, PasswordEntry> {
  const users = new Map<string, PasswordEntry>();
  for (const { name, value, line } of pwfileEntries(text, file, 'user')) {
    if (value === '') throw new ConfigError(file, line, `no password hash for user '${name}'`);
    users.set(name, parsePasswordHash(value, file, line));
  }
  return users;
}

/** The digest of `password` under the entry's scheme and salt. CPU-heavy for $7$. */
function digest(entry: PasswordEntry, password: Uint8Array): Buffer {
  if (entry.kind === 'sha512-pbkdf2') {
    return pbkdf2Sync(password, entry.salt, entry.iterations, HASH_LENGTH, 'sha512');
  }
  return createHash('sha512').update(password).update(entry.salt).digest();
}

/**
 * Does `password` match the stored hash? Compares in constant time. Runs PBKDF2 for $7$
 * entries: call it off the event loop (verifyTask.ts) on a server.
 */
export function verifyPassword(entry: PasswordEntry, password: Uint8Array): boolean {
  const computed = digest(entry, password);
  return computed.length === entry.hash.length && timingSafeEqual(computed, entry.hash);
}

/**
 * Hashes a password the way `mosquitto_passwd` does: `$7$ITERATIONS$SALT$HASH` with a random
 * 12-byte salt, or `$6$SALT$HASH` with `kind: 'sha512'` (for Mosquitto 1.6 and earlier).
 */
export function hashPassword(
  password: string,
  iterations: number = DEFAULT_ITERATIONS,
  kind: PasswordEntry['kind'] = 'sha512-pbkdf2',
): string {
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError('iterations must be a positive integer');
  const salt = randomBytes(SALT_LENGTH);
  const secret = Buffer.from(password, 'utf8');
  if (kind === 'sha512') {
    const hash = createHash('sha512').update(secret).update(salt).digest();
    return `$6$${salt.toString('base64')}$${hash.toString('base64')}`;
  }
  const hash = pbkdf2Sync(secret, salt, iterations, HASH_LENGTH, 'sha512');
  return `$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}`;
}
