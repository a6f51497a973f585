/**
 * Dynamic security passwords: PBKDF2-HMAC-SHA512 with a 12-byte random salt and 101
 * iterations for new passwords (auth.c dynsec_auth__pw_hash, PW_DEFAULT_ITERATIONS), the
 * count stored with each client for checks. Both run on libuv's thread pool (crypto.pbkdf2),
 * off the event loop: a file may carry any iteration count.
 * As the plugin, which hands the password to OpenSSL as a C string, only the bytes before
 * the first NUL count.
 * called from: main
 */
import { pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { HASH_BYTES, SALT_BYTES } from './configFile.ts';
import type { PasswordHash } from './model.ts';

/** mosquitto_passwd's and the plugin's default (PW_DEFAULT_ITERATIONS). */
export const DEFAULT_ITERATIONS = 101;

function cString(password: Uint8Array): Uint8Array {
  const nul = password.indexOf(0);
  return nul === -1 ? password : password.subarray(0, nul);
}

function derive(password: Uint8Array, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(cString(password), salt, iterations, HASH_BYTES, 'sha512', (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** A new hash of `password` with a fresh salt. */
export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = randomBytes(SALT_BYTES);
  return { salt, hash: await derive(Buffer.from(password, 'utf8'), salt, DEFAULT_ITERATIONS), iterations: DEFAULT_ITERATIONS };
}

/** Does `password` match? Compared in constant time. */
export async function verifyPassword(stored: PasswordHash, password: Uint8Array): Promise<boolean> {
  const computed = await derive(password, stored.salt, stored.iterations);
  return timingSafeEqual(computed, stored.hash);
}
