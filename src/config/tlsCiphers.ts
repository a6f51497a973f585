/**
 * The cipher options of a TLS listener, `ciphers` (TLS 1.2 and below) and `ciphers_tls1.3`,
 * checked as OpenSSL reads them and combined into the one `ciphers` string Node.js takes.
 *
 * Mosquitto (src/net.c) gives `ciphers` to SSL_CTX_set_cipher_list and `ciphers_tls1.3` to
 * SSL_CTX_set_ciphersuites: each function ignores the names it does not know (a TLS 1.3 suite
 * in `ciphers`, a TLS 1.2 cipher in `ciphers_tls1.3`) and fails when nothing usable is left,
 * which stops Mosquitto at start. Node.js takes one string and sends its `TLS_…` names to
 * the second function and the others to the first, so a name of the wrong kind would change
 * the other list: such names are dropped here, with a warning, as OpenSSL would ignore them.
 * called from: main (config load), worker (transport/tlsServer.ts)
 */
import { createSecureContext, DEFAULT_CIPHERS, getCiphers } from 'node:tls';
import { OptionValueError } from './errors.ts';
import type { TlsConfig } from './types.ts';
import type { Warn } from './schema.ts';

/**
 * Mosquitto's TLS 1.2 cipher list when `ciphers` is not set (net.c, and its client library),
 * which holds the PSK ciphers; Node's default excludes them (!PSK). TLS-PSK listeners and
 * bridges use it.
 */
export const MOSQUITTO_DEFAULT_CIPHERS = 'DEFAULT:!aNULL:!eNULL:!LOW:!EXPORT:!SSLv2:@STRENGTH';

/** TLS 1.3 suite names start with this; Node.js routes names by it (lib/internal/tls/secure-context.js). */
const SUITE_PREFIX = 'TLS_';

function isSuite(name: string): boolean {
  return name.startsWith(SUITE_PREFIX);
}

/** Why OpenSSL refused a list, from a createSecureContext error. */
function opensslReason(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/^error:[0-9A-F]+:[^:]*:[^:]*:/, '');
}

/**
 * The value of `ciphers`: an OpenSSL cipher list for TLS 1.2 and below (names, keywords such as
 * HIGH, and `!`/`+`/`-`/`@` operators; separated by `:`, `,` or spaces). Returned `:`-separated,
 * without TLS 1.3 suite names. @throws OptionValueError when OpenSSL finds no cipher in it.
 */
export function parseCipherList(rest: string, warn: Warn): string {
  const names = rest.split(/[:, ]+/).filter((n) => n !== '');
  if (names.length === 0) throw new OptionValueError('missing value');
  const suites = names.filter(isSuite);
  const list = names.filter((n) => !isSuite(n)).join(':');
  if (suites.length > 0 && list !== '') {
    warn(`TLS 1.3 suite ${suites.join(', ')} ignored in 'ciphers' (as OpenSSL ignores it there); use 'ciphers_tls1.3' for TLS 1.3`);
  }
  if (list === '') {
    throw new OptionValueError(`no TLS 1.2 cipher in '${rest}' (TLS 1.3 suites go in 'ciphers_tls1.3')`);
  }
  try {
    createSecureContext({ ciphers: list });
  } catch (err) {
    throw new OptionValueError(`invalid cipher list '${rest}': ${opensslReason(err)}`);
  }
  return list;
}

/**
 * The value of `ciphers_tls1.3`: TLS 1.3 suite names separated by `:`, as
 * SSL_CTX_set_ciphersuites reads them. Names OpenSSL does not know are ignored with a warning,
 * as OpenSSL ignores them. @throws OptionValueError when no known suite is left.
 */
export function parseCipherSuites(rest: string, warn: Warn): string {
  const names = rest.split(':').map((n) => n.trim()).filter((n) => n !== '');
  if (names.length === 0) throw new OptionValueError('missing value');
  // getCiphers() lists names in lower case; OpenSSL matches suite names case-sensitively
  const known = new Set(getCiphers().map((c) => c.toUpperCase()));
  const suites = names.filter((n) => isSuite(n) && known.has(n));
  const unknown = names.filter((n) => !suites.includes(n));
  if (suites.length === 0) {
    throw new OptionValueError(`no TLS 1.3 cipher suite in '${rest}' (expected names such as TLS_AES_256_GCM_SHA384)`);
  }
  if (unknown.length > 0) warn(`unknown TLS 1.3 cipher suite ${unknown.join(', ')} ignored (as OpenSSL ignores it)`);
  const value = suites.join(':');
  try {
    createSecureContext({ ciphers: value });
  } catch (err) {
    throw new OptionValueError(`invalid TLS 1.3 cipher suites '${rest}': ${opensslReason(err)}`);
  }
  return value;
}

/**
 * Node's `ciphers` option for a listener, or undefined for Node's defaults. A listener that
 * sets only one of the two lists keeps the default of the other: OpenSSL's TLS 1.3 suites when
 * only `ciphers` is set (Node calls SSL_CTX_set_ciphersuites only for `TLS_…` names), Node's
 * TLS 1.2 list when only `ciphers_tls1.3` is.
 */
export function nodeCiphers(tls: Pick<TlsConfig, 'ciphers' | 'ciphersTls13'>): string | undefined {
  if (tls.ciphers === undefined && tls.ciphersTls13 === undefined) return undefined;
  const list = tls.ciphers ?? DEFAULT_CIPHERS.split(':').filter((n) => n !== '' && !isSuite(n)).join(':');
  return tls.ciphersTls13 === undefined ? list : `${tls.ciphersTls13}:${list}`;
}
