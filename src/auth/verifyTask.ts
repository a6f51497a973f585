/**
 * Piscina task: checks one password against one stored hash off the main event loop
 * (PBKDF2 is CPU-bound: ~60 µs at mosquitto_passwd's 101 iterations, milliseconds at
 * the counts some operators choose).
 * called from: piscina thread (pool owned by Authenticator on the main thread)
 */
import { verifyPassword, type PasswordEntry } from './passwordFile.ts';

/** What the Authenticator sends: both fields arrive as structured clones. */
export interface VerifyRequest {
  readonly entry: PasswordEntry;
  readonly password: Uint8Array;
}

/** Default export, as piscina expects: true when the password matches. */
export default function verify(request: VerifyRequest): boolean {
  return verifyPassword(request.entry, request.password);
}
