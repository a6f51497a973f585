/**
 * `crlfile` as Mosquitto applies it: OpenSSL's X509_V_FLAG_CRL_CHECK, under which the client's
 * own certificate, and not the CAs above it, must be covered by a CRL of the file from its
 * issuer. Node.js can only load CRLs with X509_V_FLAG_CRL_CHECK_ALL (every certificate of the
 * chain, so a file with an intermediate CA's CRL alone refuses every client), so culex keeps the
 * CRLs out of OpenSSL and checks the certificate here, once the handshake has verified its chain
 * and before a byte of MQTT is read.
 *
 * Of several CRLs from one issuer, the one OpenSSL would pick decides (x509_vfy.c get_crl_sk):
 * without an unhandled critical extension, in scope, valid now, and of those the latest. Delta
 * CRLs, indirect CRLs and CRLs only for CA or attribute certificates are not used for a client's
 * certificate, as in OpenSSL without X509_V_FLAG_EXTENDED_CRL_SUPPORT (Mosquitto does not set it).
 *
 * What it refuses, with OpenSSL's words for it (X509_verify_cert_error_string):
 * - no CRL of the file from the certificate's issuer: "unable to get certificate CRL"; only
 *   CRLs of the issuer that are not for client certificates: "different CRL scope";
 * - a CRL not yet or no longer valid: "CRL is not yet valid", "CRL has expired";
 * - a CRL whose signature the issuer's key does not verify: "CRL signature failure" (OpenSSL,
 *   finding that the CRL names another key, mostly says "unable to get certificate CRL");
 * - a CRL with a critical extension OpenSSL does not handle: "unhandled critical CRL extension";
 * - a serial number the CRL lists: "certificate revoked".
 * Issuer names are compared as DER bytes, where OpenSSL compares a canonical form: the same name
 * written with other string types finds no CRL, and the client is refused.
 * called from: worker (transport/tcp.ts, transport/websocket.ts), at listener start and per TLS client
 */
import { verify, constants, X509Certificate, type KeyObject } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { children, DerError, encoded, expect, integerHex, oid, readElement, TAG, time, type Element } from './der.ts';

const PEM_CRL = /-----BEGIN X509 CRL-----([\s\S]*?)-----END X509 CRL-----/g;

const EXT_ISSUING_DISTRIBUTION_POINT = '2.5.29.28';
const EXT_DELTA_CRL_INDICATOR = '2.5.29.27';
const EXT_AUTHORITY_KEY_ID = '2.5.29.35';
const EXT_CERTIFICATE_ISSUER = '2.5.29.29';
/** the critical CRL extensions OpenSSL handles (x509/x_crl.c crl_cb) */
const HANDLED_CRITICAL = new Set([EXT_ISSUING_DISTRIBUTION_POINT, EXT_AUTHORITY_KEY_ID, EXT_DELTA_CRL_INDICATOR]);

const HASHES: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};
/** signature algorithms with their digest; null: the algorithm has none of its own (EdDSA) */
const SIGNATURES: Readonly<Record<string, string | null>> = {
  '1.2.840.113549.1.1.5': 'sha1',
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha1',
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null,
  '1.3.101.113': null,
};
const RSASSA_PSS = '1.2.840.113549.1.1.10';
const MGF1 = '1.2.840.113549.1.1.8';

interface SignatureCheck {
  readonly digest: string | null;
  /** RSASSA-PSS: its salt length (the mask generation uses `digest`, which Node requires) */
  readonly pssSalt?: number;
}

/** One CRL of the file, parsed at listener start. */
interface Crl {
  /** DER of its issuer Name */
  readonly issuer: Buffer;
  readonly thisUpdate: number;
  readonly nextUpdate: number | undefined;
  /** the serials it lists, integerHex form */
  readonly revoked: ReadonlySet<string>;
  /** a delta CRL: never used (OpenSSL uses deltas only with X509_V_FLAG_USE_DELTAS) */
  readonly delta: boolean;
  /** for end-entity certificates (not an indirect, CA-only or attribute-only CRL) */
  readonly forClients: boolean;
  /** the first critical extension OpenSSL does not handle, if any */
  readonly unhandledCritical: string | undefined;
  readonly signed: Uint8Array;
  readonly signature: Buffer;
  readonly check: SignatureCheck;
  /** signature verified with the key of the issuer certificate of this fingerprint256 */
  readonly verifiedBy: Map<string, boolean>;
}

/** The CRLs of one `crlfile`. */
export class CrlCheck {
  readonly #crls: readonly Crl[];

  private constructor(crls: readonly Crl[]) {
    this.#crls = crls;
  }

  /**
   * Every CRL of a PEM file (Mosquitto's X509_load_crl_file loads them all).
   * @throws Error naming the listener and the file when there is none or one cannot be read.
   */
  static fromPem(port: number, path: string, pem: Buffer): CrlCheck {
    const crls: Crl[] = [];
    let n = 0;
    for (const m of pem.toString('latin1').matchAll(PEM_CRL)) {
      n++;
      try {
        crls.push(parseCrl(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new Error(`listener ${port}: crlfile '${path}': CRL ${n} cannot be read: ${why}`);
      }
    }
    if (n === 0) throw new Error(`listener ${port}: crlfile '${path}' holds no PEM CRL (-----BEGIN X509 CRL-----)`);
    return new CrlCheck(crls);
  }

  /**
   * Why the certificate `der`, whose chain the handshake verified and whose issuer certificate
   * is `issuer`, is refused, in OpenSSL's words; undefined when it is not.
   */
  refusal(der: Buffer, issuer: X509Certificate | undefined, now = Date.now()): string | undefined {
    const cert = certificateFields(der);
    let best: Crl | undefined;
    let bestRank = -1;
    for (const crl of this.#crls) {
      if (crl.delta || !crl.issuer.equals(cert.issuer)) continue;
      const rank = rankOf(crl, now);
      // the highest rank, then the latest thisUpdate (x509_vfy.c get_crl_sk)
      if (rank > bestRank || (rank === bestRank && crl.thisUpdate > best!.thisUpdate)) {
        best = crl;
        bestRank = rank;
      }
    }
    if (best === undefined) return 'unable to get certificate CRL';
    if (!best.forClients) return 'different CRL scope';
    if (best.thisUpdate > now) return 'CRL is not yet valid';
    if (best.nextUpdate !== undefined && best.nextUpdate < now) return 'CRL has expired';
    if (issuer === undefined) return 'unable to get CRL issuer certificate';
    if (!signedBy(best, issuer)) return 'CRL signature failure';
    if (best.unhandledCritical !== undefined) return 'unhandled critical CRL extension';
    if (best.revoked.has(cert.serial)) return 'certificate revoked';
    return undefined;
  }
}

/** Told of each client refused, before its socket is destroyed. */
export type OnCertificateRefused = (socket: TLSSocket, reason: string) => void;

/**
 * Where a TLS listener's clients pass once their handshake is done: the CRLs they are checked
 * against, if any; a reload (SIGHUP) replaces them.
 */
export class CertificateGate {
  crls: CrlCheck | undefined;
  readonly #onRefused: OnCertificateRefused;

  constructor(crls: CrlCheck | undefined, onRefused: OnCertificateRefused) {
    this.crls = crls;
    this.#onRefused = onRefused;
  }

  /**
   * Checks the certificate of a client whose handshake has just completed; a refused one is
   * reported and its socket destroyed before anything it sent is read. Returns whether it may go on.
   */
  admit(socket: TLSSocket): boolean {
    const crls = this.crls;
    if (crls === undefined) return true;
    const peer = socket.getPeerCertificate(true);
    // require_certificate: the handshake verified a certificate; its issuer comes from the chain or the CA store
    if (peer.raw === undefined) return true;
    const issuer = peer.issuerCertificate?.raw === undefined ? undefined : new X509Certificate(peer.issuerCertificate.raw);
    const reason = crls.refusal(peer.raw, issuer);
    if (reason === undefined) return true;
    this.#onRefused(socket, reason);
    socket.destroy();
    return false;
  }
}

/** OpenSSL's order of preference (get_crl_score): no unhandled critical extension, in scope, valid now */
function rankOf(crl: Crl, now: number): number {
  const current = crl.thisUpdate <= now && (crl.nextUpdate === undefined || crl.nextUpdate >= now);
  return (crl.unhandledCritical === undefined ? 4 : 0) + (crl.forClients ? 2 : 0) + (current ? 1 : 0);
}

function signedBy(crl: Crl, issuer: X509Certificate): boolean {
  const key = issuer.fingerprint256;
  let ok = crl.verifiedBy.get(key);
  if (ok === undefined) {
    ok = verifySignature(crl, issuer.publicKey);
    crl.verifiedBy.set(key, ok);
  }
  return ok;
}

function verifySignature(crl: Crl, publicKey: KeyObject): boolean {
  const { digest, pssSalt } = crl.check;
  try {
    const key = pssSalt === undefined ? publicKey : { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pssSalt };
    return verify(digest, crl.signed, key, crl.signature);
  } catch {
    return false; // a key of another type than the signature's
  }
}

/** The issuer Name (DER) and serial of a certificate (RFC 5280 4.1). */
function certificateFields(der: Buffer): { issuer: Buffer; serial: string } {
  const cert = expect(readElement(der, 0, der.length), TAG.SEQUENCE, 'certificate');
  const tbs = children(der, expect(children(der, cert)[0], TAG.SEQUENCE, 'tbsCertificate'));
  const first = tbs[0]?.tag === 0xa0 ? 1 : 0; // [0] version
  const serial = integerHex(der, expect(tbs[first], TAG.INTEGER, 'serial number'));
  const issuer = encoded(der, expect(tbs[first + 2], TAG.SEQUENCE, 'issuer'));
  return { issuer: Buffer.from(issuer), serial };
}

/** RFC 5280 5.1: CertificateList */
function parseCrl(der: Buffer): Crl {
  const top = readElement(der, 0, der.length);
  if (top.end !== der.length) throw new DerError('bytes after the CRL');
  const [tbsElement, algorithm, signatureValue] = children(der, expect(top, TAG.SEQUENCE, 'CertificateList'));
  const tbs = children(der, expect(tbsElement, TAG.SEQUENCE, 'tbsCertList'));
  let i = tbs[0]?.tag === TAG.INTEGER ? 1 : 0; // version
  i++; // the signature algorithm, repeated
  const issuer = Buffer.from(encoded(der, expect(tbs[i++], TAG.SEQUENCE, 'issuer')));
  const thisUpdate = time(der, tbs[i++] ?? missing('thisUpdate'));
  let nextUpdate: number | undefined;
  if (tbs[i] !== undefined && (tbs[i]!.tag === TAG.UTC_TIME || tbs[i]!.tag === TAG.GENERALIZED_TIME)) nextUpdate = time(der, tbs[i++]!);
  const revoked = new Set<string>();
  let unhandledCritical: string | undefined;
  if (tbs[i]?.tag === TAG.SEQUENCE) {
    for (const entry of children(der, tbs[i++]!)) {
      const [serial, , extensions] = children(der, expect(entry, TAG.SEQUENCE, 'revoked certificate'));
      revoked.add(integerHex(der, expect(serial, TAG.INTEGER, 'revoked serial')));
      if (extensions !== undefined) {
        for (const ext of readExtensions(der, expect(extensions, TAG.SEQUENCE, 'entry extensions'))) {
          if (ext.critical && ext.id !== EXT_CERTIFICATE_ISSUER) unhandledCritical ??= ext.id;
        }
      }
    }
  }
  let delta = false;
  let forClients = true;
  if (tbs[i]?.tag === 0xa0) {
    const wrapped = children(der, tbs[i++]!);
    for (const ext of readExtensions(der, expect(wrapped[0], TAG.SEQUENCE, 'CRL extensions'))) {
      if (ext.critical && !HANDLED_CRITICAL.has(ext.id)) unhandledCritical ??= ext.id;
      if (ext.id === EXT_DELTA_CRL_INDICATOR) delta = true;
      if (ext.id === EXT_ISSUING_DISTRIBUTION_POINT && !coversClients(der, ext.value)) forClients = false;
    }
  }
  if (i !== tbs.length) throw new DerError('unexpected fields in tbsCertList');
  const bits = expect(signatureValue, TAG.BIT_STRING, 'signature');
  if (der[bits.start] !== 0) throw new DerError('signature is not whole bytes');
  return {
    issuer,
    thisUpdate,
    nextUpdate,
    revoked,
    delta,
    forClients,
    unhandledCritical,
    signed: encoded(der, tbsElement!),
    signature: Buffer.from(der.subarray(bits.start + 1, bits.end)),
    check: signatureCheck(der, expect(algorithm, TAG.SEQUENCE, 'signature algorithm')),
    verifiedBy: new Map(),
  };
}

function missing(what: string): never {
  throw new DerError(`${what} missing`);
}

interface Extension {
  readonly id: string;
  readonly critical: boolean;
  readonly value: Element;
}

function readExtensions(der: Buffer, list: Element): Extension[] {
  return children(der, list).map((e) => {
    const parts = children(der, expect(e, TAG.SEQUENCE, 'extension'));
    let critical = false;
    if (parts.length === 3) {
      const flag = expect(parts[1], TAG.BOOLEAN, 'critical');
      critical = flag.end > flag.start && der[flag.start] !== 0;
    }
    const value = expect(parts[parts.length - 1], TAG.OCTET_STRING, 'extension value');
    return { id: oid(der, parts[0] ?? missing('extension id')), critical, value };
  });
}

/**
 * RFC 5280 5.2.5 IssuingDistributionPoint: false for a CRL that OpenSSL does not use for an
 * end-entity certificate: onlyContainsCACerts, onlyContainsAttributeCerts, indirectCRL.
 */
function coversClients(der: Buffer, value: Element): boolean {
  const idp = readElement(der, value.start, value.end);
  for (const field of children(der, expect(idp, TAG.SEQUENCE, 'issuing distribution point'))) {
    const set = field.end > field.start && der[field.start] !== 0;
    // [2] onlyContainsCACerts, [4] indirectCRL, [5] onlyContainsAttributeCerts (IMPLICIT BOOLEAN)
    if ((field.tag === 0x82 || field.tag === 0x84 || field.tag === 0x85) && set) return false;
  }
  return true;
}

/** How to verify a signature of this AlgorithmIdentifier; throws for one culex cannot verify. */
function signatureCheck(der: Buffer, algorithm: Element): SignatureCheck {
  const [idElement, params] = children(der, algorithm);
  const id = oid(der, idElement ?? missing('algorithm'));
  if (id in SIGNATURES) return { digest: SIGNATURES[id]! };
  if (id !== RSASSA_PSS) throw new DerError(`signature algorithm ${id} is not supported`);
  // RFC 4055 RSASSA-PSS-params: [0] hash (SHA-1), [1] mask generation (MGF1 with SHA-1), [2] salt length (20)
  let digest = 'sha1';
  let maskDigest = 'sha1';
  let salt = 20;
  for (const field of params === undefined ? [] : children(der, expect(params, TAG.SEQUENCE, 'RSASSA-PSS parameters'))) {
    const inner = readElement(der, field.start, field.end);
    if (field.tag === 0xa0) digest = hashOf(der, inner);
    else if (field.tag === 0xa1) {
      const [mgf, mgfHash] = children(der, expect(inner, TAG.SEQUENCE, 'mask generation'));
      if (oid(der, mgf ?? missing('mask generation')) !== MGF1) throw new DerError('RSASSA-PSS mask generation other than MGF1 is not supported');
      maskDigest = hashOf(der, mgfHash ?? missing('MGF1 hash'));
    } else if (field.tag === 0xa2) salt = Number.parseInt(integerHex(der, inner), 16);
  }
  if (maskDigest !== digest) throw new DerError('RSASSA-PSS with a mask generation hash other than its digest is not supported');
  return { digest, pssSalt: salt };
}

function hashOf(der: Buffer, algorithm: Element): string {
  const [idElement] = children(der, expect(algorithm, TAG.SEQUENCE, 'hash algorithm'));
  const id = oid(der, idElement ?? missing('hash'));
  const hash = HASHES[id];
  if (hash === undefined) throw new DerError(`hash algorithm ${id} is not supported`);
  return hash;
}
