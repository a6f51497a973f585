/**
 * Mosquitto's `psk_file`: the pre-shared keys of TLS-PSK listeners, one `identity:key` per line
 * (pwfileLines.ts), the key in hex (no 0x), as Mosquitto reads it (security_default.c
 * psk__file_parse): an empty key or one with a non-hex character stops the start (or keeps the
 * running keys on a reload). culex also refuses, naming the line, a key longer than OpenSSL's
 * 512-byte maximum (Mosquitto's handshake with it fails). Also where a TLS-PSK connection keeps the identity its handshake used.
 * called from: main (start-up and reload checks), worker (the keys for transport/tlsServer.ts's
 * PSK callback, the identity for link/certificateIdentity.ts)
 */
import { ConfigError } from '../config/errors.ts';
import { pwfileEntries } from './pwfileLines.ts';

/** OpenSSL's PSK_MAX_PSK_LEN */
const MAX_KEY_BYTES = 512;
const HEX = /^[0-9a-fA-F]+$/;

/**
 * The key's bytes as Mosquitto's mosquitto__hex2bin makes them: one zero byte for each leading
 * `00` pair, then the number the digits spell in as few bytes as it takes (BN_hex2bn, BN_bn2bin),
 * so an odd number of digits reads as if a 0 led them.
 */
export function pskKeyBytes(hex: string): Buffer {
  let zeros = 0;
  while (hex.startsWith('00', 2 * zeros)) zeros++;
  const digits = hex.replace(/^0+/, '');
  return Buffer.concat([Buffer.alloc(zeros), Buffer.from(digits.length % 2 === 1 ? `0${digits}` : digits, 'hex')]);
}

/**
 * The keys of a psk file by identity. `file` names it in errors.
 * @throws ConfigError naming the line of a bad entry
 */
export function parsePskFile(text: string, file: string): Map<string, Buffer> {
  const keys = new Map<string, Buffer>();
  for (const { name, value, line } of pwfileEntries(text, file, 'identity')) {
    if (value === '') throw new ConfigError(file, line, `empty psk for identity "${name}"`);
    if (!HEX.test(value)) throw new ConfigError(file, line, `psk for identity "${name}" contains non-hexadecimal characters`);
    const key = pskKeyBytes(value);
    if (key.length > MAX_KEY_BYTES) throw new ConfigError(file, line, `psk for identity "${name}" is longer than ${MAX_KEY_BYTES} bytes`);
    keys.set(name, key);
  }
  return keys;
}

/** the identity a TLS-PSK handshake verified, kept on its socket */
const PSK_IDENTITY = Symbol('culex.pskIdentity');

/** Keeps the identity whose key a TLS-PSK handshake used on its socket (transport/tlsServer.ts). */
export function notePskIdentity(socket: object, identity: string): void {
  (socket as Record<symbol, unknown>)[PSK_IDENTITY] = identity;
}

/** The PSK identity of a TLS-PSK connection, for use_identity_as_username (link/certificateIdentity.ts). */
export function pskIdentityOf(stream: object): string | undefined {
  const identity = (stream as Record<symbol, unknown>)[PSK_IDENTITY];
  return typeof identity === 'string' ? identity : undefined;
}
