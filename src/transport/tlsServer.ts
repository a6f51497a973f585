/**
 * The Node.js TLS server options of a TLS listener (MQTT over TLS and WebSockets over TLS),
 * set up as Mosquitto 2.0 sets up its SSL_CTX (src/net.c net__tls_server_ctx,
 * net__load_certificates, net__load_crl_file):
 * - `require_certificate true`: the client must present a certificate that a CA of `cafile` or
 *   `capath` signs
 *   (SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT); false: none is asked for;
 * - `crlfile`: not given to OpenSSL, which Node.js would make check every certificate of the
 *   chain; read here and applied after the handshake as Mosquitto applies it (crlCheck.ts);
 * - `tls_version`: the lowest version accepted (Mosquitto sets SSL_OP_NO_* for the versions
 *   below it); without it Node's minimum, TLS 1.2, applies (Mosquitto's is TLS 1.1, which
 *   OpenSSL 3 refuses at its default security level anyway, as it does for `tls_version tlsv1.1`);
 * - `ciphers`, `ciphers_tls1.3`: see config/tlsCiphers.ts; the server's order is preferred
 *   (SSL_OP_CIPHER_SERVER_PREFERENCE);
 * - `dhparamfile`: Diffie-Hellman parameters for the DHE key exchanges of TLS 1.2 (without it
 *   only ECDHE is offered, as in Mosquitto, whose DHE also needs the file).
 * Files are read when the listener opens; a file that cannot be read or that OpenSSL refuses
 * stops the start with an error naming the listener, the option and the file. A reload (SIGHUP)
 * reads them again for the handshakes that follow (reloadTlsFiles). guardTlsServer reports the
 * clients a listener turns away (failed handshakes, refused certificates) for the log.
 * called from: worker (listeners), main (checks before start and reload)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { createSecureContext, type SecureVersion, type Server as TlsServer, type TLSSocket, type TlsOptions } from 'node:tls';
import { CertificateGate, CrlCheck } from './crlCheck.ts';
import { opensslErrorString, verifyErrorText } from './tlsRejection.ts';
import type { TlsConfig } from '../config/types.ts';
import { MOSQUITTO_DEFAULT_CIPHERS, nodeCiphers } from '../config/tlsCiphers.ts';
import { notePskIdentity } from '../auth/pskFile.ts';

/** The key of a TLS-PSK identity, from the listener's psk_file as it is now (a reload replaces it); undefined: unknown. */
export type PskKeys = (identity: string) => Buffer | undefined;

const MIN_VERSION: Readonly<Record<NonNullable<TlsConfig['tlsVersion']>, SecureVersion>> = {
  'tlsv1.1': 'TLSv1.1',
  'tlsv1.2': 'TLSv1.2',
  'tlsv1.3': 'TLSv1.3',
};

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Options for tls.createServer / https.createServer. `port` is the configured one, for messages.
 * A TLS-PSK listener (psk_hint, no certificate) sends its hint and takes the key of the
 * client's identity from `pskKeys`: an identity without one fails the handshake, as Mosquitto's
 * psk_server_callback answers 0; the identity is kept on the socket (use_identity_as_username).
 * @throws Error naming the listener, option and file when a file is unreadable or refused.
 */
export function tlsServerOptions(port: number, tls: TlsConfig, pskKeys?: PskKeys): TlsOptions {
  const read = reader(port);
  const options: TlsOptions = {
    requestCert: tls.requireCertificate,
    rejectUnauthorized: tls.requireCertificate,
    honorCipherOrder: true,
  };
  if (tls.certfile !== undefined && tls.keyfile !== undefined) {
    options.cert = read('certfile', tls.certfile);
    options.key = read('keyfile', tls.keyfile);
  } else if (tls.pskHint !== undefined) {
    options.pskIdentityHint = tls.pskHint;
    options.pskCallback = (socket, identity) => {
      const key = pskKeys?.(identity);
      if (key === undefined) return null;
      notePskIdentity(socket, identity);
      return key;
    };
  }
  const ca: Buffer[] = [];
  if (tls.cafile !== undefined) ca.push(read('cafile', tls.cafile));
  if (tls.capath !== undefined) ca.push(...hashedCertificates(port, tls.capath, read));
  if (ca.length > 0) options.ca = ca;
  if (tls.dhparamfile !== undefined) options.dhparam = read('dhparamfile', tls.dhparamfile);
  if (tls.tlsVersion !== undefined) options.minVersion = MIN_VERSION[tls.tlsVersion];
  const ciphers = nodeCiphers(tls.pskHint !== undefined && tls.ciphers === undefined ? { ...tls, ciphers: MOSQUITTO_DEFAULT_CIPHERS } : tls);
  if (ciphers !== undefined) options.ciphers = ciphers;
  // what the server will build, built once here so that a refusal names the listener
  try {
    createSecureContext(options);
  } catch (err) {
    const files = tls.pskHint !== undefined ? [`psk_hint '${tls.pskHint}'`] : [`certfile '${tls.certfile}'`, `keyfile '${tls.keyfile}'`];
    if (tls.cafile !== undefined) files.push(`cafile '${tls.cafile}'`);
    if (tls.capath !== undefined) files.push(`capath '${tls.capath}'`);
    if (tls.dhparamfile !== undefined) files.push(`dhparamfile '${tls.dhparamfile}'`);
    throw new Error(`listener ${port}: OpenSSL refused the TLS settings (${files.join(', ')}): ${message(err)}`);
  }
  return options;
}

/** OpenSSL's hashed certificate names in a CA directory: 8 hex digits of the subject hash, `.`, a counter. */
const HASHED_NAME = /^[0-9a-f]{8}\.[0-9]+$/;

/**
 * The certificates of a `capath` directory: the files OpenSSL's lookup by subject hash would
 * find (X509_LOOKUP_hash_dir, what Mosquitto's SSL_CTX_load_verify_locations uses), read once
 * here instead of at each handshake. Other files (a PEM not linked by `c_rehash`) are not
 * trusted, as in Mosquitto. A directory with none stops the start.
 */
function hashedCertificates(port: number, dir: string, read: (option: string, path: string) => Buffer): Buffer[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => HASHED_NAME.test(n)).sort();
  } catch (err) {
    throw new Error(`listener ${port}: cannot read capath '${dir}': ${message(err)}`);
  }
  if (names.length === 0) {
    throw new Error(`listener ${port}: capath '${dir}' holds no certificate under a hashed name (run c_rehash or openssl rehash on it)`);
  }
  return names.map((n) => read('capath', join(dir, n)));
}

/**
 * The CRLs of the listener's `crlfile`, to check each client certificate with; undefined when
 * there is none to check: no `crlfile`, or no certificate asked for (`require_certificate false`:
 * Mosquitto reads the file then, and never uses it).
 * @throws Error naming the listener and the file when it is unreadable or holds no usable CRL.
 */
export function tlsCrlCheck(port: number, tls: TlsConfig): CrlCheck | undefined {
  if (tls.crlfile === undefined) return undefined;
  const crls = CrlCheck.fromPem(port, tls.crlfile, reader(port)('crlfile', tls.crlfile));
  return tls.requireCertificate ? crls : undefined;
}

/**
 * Reads and checks every TLS file of a listener as a start or a reload would (OpenSSL must
 * accept them together, the crlfile must hold a usable CRL), for `culex check` and a reload's
 * check before the workers take the files.
 * @throws Error naming the listener and the file
 */
export function checkTlsFiles(port: number, tls: TlsConfig): void {
  tlsServerOptions(port, tls);
  tlsCrlCheck(port, tls);
}

/** each TLS server's gate, for reloadTlsFiles */
const gates = new WeakMap<TlsServer, CertificateGate>();

/** What a TLS listener tells of its clients, accepted and turned away (the worker logs them as Mosquitto does). */
export interface TlsClientEvents {
  /** a TCP connection admitted, its handshake to come (Mosquitto logs "New connection from" here) */
  accepted(socket: Socket): void;
  /** the handshake failed: OpenSSL's error string (tlsRejection.ts), undefined when the client went away */
  handshakeFailed(socket: TLSSocket, opensslError: string | undefined): void;
  /** the client's certificate failed verification, by OpenSSL or by the crlfile: why, in OpenSSL's words */
  certificateRefused(socket: TLSSocket, reason: string): void;
}

/**
 * Guards `server`, a TLS or HTTPS server of the listener with `port` and `tls`: failed handshakes
 * go to `events`, and the returned gate checks each client against the listener's crlfile
 * once its handshake is done (reloadTlsFiles replaces its CRLs). `admit`, where given, sees each
 * TCP connection before its handshake (an MQTT listener's max_connections): a connection it
 * refuses it has destroyed and logged, so the handshake that fails with it is not reported.
 * @throws Error as tlsCrlCheck.
 */
export function guardTlsServer(server: TlsServer, port: number, tls: TlsConfig, events: TlsClientEvents, admit?: (socket: Socket) => boolean): CertificateGate {
  const gate = new CertificateGate(tlsCrlCheck(port, tls), (socket, reason) => events.certificateRefused(socket, reason));
  gates.set(server, gate);
  const refused = new WeakSet<Socket>();
  if (admit !== undefined) {
    server.on('connection', (socket: Socket) => {
      if (admit(socket)) events.accepted(socket);
      else refused.add(socket);
    });
  }
  server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
    // Node's TLSSocket keeps the TCP socket it wraps as `_parent`
    if (refused.has((socket as TLSSocket & { _parent?: Socket })._parent!)) return;
    // a certificate OpenSSL did not verify: Node destroys the socket, then reports a hang-up
    const code = socket.authorizationError as unknown as string | null | undefined;
    if (typeof code === 'string' && code !== '') events.certificateRefused(socket, verifyErrorText(code));
    else events.handshakeFailed(socket, opensslErrorString(err));
  });
  return gate;
}

/**
 * A reload (SIGHUP, as Mosquitto's listeners__reload_all_certificates) of a certificate
 * listener: its files are read again and the handshakes that follow use them (a renewed
 * certificate, a new CRL); connected clients keep their sessions. Mosquitto 2.0.11 re-reads certfile, keyfile and
 * crlfile; culex re-reads every file of the listener (cafile, capath and dhparamfile too).
 * @throws Error naming the listener and the file; the server then keeps what it had.
 */
export function reloadTlsFiles(server: TlsServer, port: number, tls: TlsConfig): void {
  const options = tlsServerOptions(port, tls);
  const crls = tlsCrlCheck(port, tls);
  server.setSecureContext(options);
  const gate = gates.get(server);
  if (gate !== undefined) gate.crls = crls;
}

function reader(port: number): (option: string, path: string) => Buffer {
  return (option, path) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new Error(`listener ${port}: cannot read ${option} '${path}': ${message(err)}`);
    }
  };
}
