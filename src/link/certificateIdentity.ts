/**
 * Usernames taken from the client certificate, as Mosquitto 2.0 takes them
 * (src/handle_connect.c, handle__connect):
 * - `use_identity_as_username true`: the first CN of the certificate's subject
 *   (X509_NAME_get_index_by_NID(name, NID_commonName, -1));
 * - `use_subject_as_username true`: the whole subject as X509_NAME_print_ex(…, XN_FLAG_RFC2253)
 *   prints it: RDNs last to first, `,` between them, `+` inside a multi-valued one, short
 *   attribute names, RFC 2253 escapes, each byte of a non-ASCII character as `\XX`
 *   (e.g. `CN=sensor1,O=Example,C=DE` for the certificate made with `/C=DE/O=Example/CN=sensor1`).
 * On such a listener the username and password of the CONNECT are discarded, the password
 * file is not consulted and allow_anonymous does not apply; no certificate, or no CN (or one
 * with a NUL in it), refuses the connection with "bad user name or password" (3.1.1: return
 * code 4; v5: 0x86). On a listener without TLS the options do nothing (Mosquitto tests
 * `listener->ssl_ctx`), and the CONNECT's credentials are checked as usual. On a TLS-PSK
 * listener use_identity_as_username takes the PSK identity of the handshake, as Mosquitto's
 * psk_server_callback does, and use_subject_as_username finds no certificate.
 * Known difference: an attribute whose OID OpenSSL has no name for prints its value as text,
 * where Mosquitto prints `#` and the hex of its DER encoding.
 * called from: worker
 */
import type { Duplex } from 'node:stream';
import type { X509Certificate } from 'node:crypto';
import type { TlsConfig } from '../config/types.ts';
import { pskIdentityOf } from '../auth/pskFile.ts';

/**
 * A byte stream that knows its TLS peer: tls.TLSSocket, and the streams of WebSocket-over-TLS
 * listeners, which transport/websocket.ts gives the same method.
 */
interface PeerCertificateSource {
  getPeerX509Certificate(): X509Certificate | undefined;
}

/** The peer certificate of `stream`, if it is a TLS stream whose client presented one. */
function peerCertificate(stream: Duplex): X509Certificate | undefined {
  const source = stream as Partial<PeerCertificateSource>;
  return typeof source.getPeerX509Certificate === 'function' ? source.getPeerX509Certificate() : undefined;
}

/**
 * The username the listener takes from the client certificate: undefined when the listener
 * does not take usernames from certificates (check the CONNECT's credentials as usual), null
 * when it does but the certificate gives none (refuse: bad user name or password).
 */
export function certificateUsername(tls: TlsConfig | undefined, stream: Duplex): string | null | undefined {
  if (tls === undefined || !(tls.useIdentityAsUsername || tls.useSubjectAsUsername === true)) return undefined;
  // TLS-PSK: the identity of the key (Mosquitto's psk_server_callback); no certificate for a subject
  if (tls.pskHint !== undefined) return tls.useIdentityAsUsername ? pskIdentityOf(stream) ?? null : null;
  const cert = peerCertificate(stream);
  if (cert === undefined) return null;
  if (tls.useIdentityAsUsername) return commonName(cert);
  return rfc2253Subject(cert.subject);
}

/** The first CN of the subject; null when there is none or it holds a NUL (Mosquitto's strlen check). */
function commonName(cert: X509Certificate): string | null {
  const cn = (cert.toLegacyObject().subject as Record<string, string | string[] | undefined>)['CN'];
  const first = Array.isArray(cn) ? cn[0] : cn;
  if (typeof first !== 'string' || first.includes('\0')) return null;
  return first;
}

/**
 * X509Certificate.subject (X509_NAME_print_ex with Node's multi-line flags: RDNs first to last,
 * one per line, ` + ` inside a multi-valued RDN, RFC 2253 escapes, UTF-8) rewritten as
 * XN_FLAG_RFC2253 prints it. Splitting is safe: control characters (newlines included) are
 * escaped as `\XX`, and a `+` inside a value as `\+`, so ` + ` is always a separator.
 */
export function rfc2253Subject(multiline: string): string {
  if (multiline === '') return '';
  const entries: string[] = [];
  for (const rdn of multiline.split('\n')) entries.push(rdn.split(' + ').reverse().join('+'));
  return escapeNonAscii(entries.reverse().join(','));
}

/** ASN1_STRFLGS_ESC_MSB: every byte of the UTF-8 form with its top bit set becomes `\XX`. */
function escapeNonAscii(text: string): string {
  if (!/[^\x00-\x7f]/.test(text)) return text;
  let out = '';
  for (const ch of text) {
    if (ch.charCodeAt(0) < 0x80) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, 'utf8')) out += `\\${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
