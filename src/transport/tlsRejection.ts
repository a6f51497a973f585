/**
 * Why a TLS listener turned a client away, in the words of Mosquitto's log: OpenSSL's error
 * string as ERR_error_string writes it ("error:0A000086:SSL routines::certificate verify failed",
 * Mosquitto's "OpenSSL Error[0]: …" line), and for a certificate that failed verification the
 * verification error as OpenSSL words it (which Mosquitto does not log; culex adds it).
 * called from: worker (transport/tcp.ts, transport/websocket.ts)
 */

/** What OpenSSL reports for any certificate that fails verification, revoked ones included */
export const CERTIFICATE_VERIFY_FAILED = 'error:0A000086:SSL routines::certificate verify failed';

/** Node's codes of X509 verification errors, as OpenSSL's X509_verify_cert_error_string words them */
const VERIFY_ERRORS: Readonly<Record<string, string>> = {
  UNABLE_TO_GET_ISSUER_CERT: 'unable to get issuer certificate',
  UNABLE_TO_GET_CRL: 'unable to get certificate CRL',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: "unable to decrypt certificate's signature",
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: 'unable to decode issuer public key',
  CERT_SIGNATURE_FAILURE: 'certificate signature failure',
  CERT_NOT_YET_VALID: 'certificate is not yet valid',
  CERT_HAS_EXPIRED: 'certificate has expired',
  ERROR_IN_CERT_NOT_BEFORE_FIELD: "format error in certificate's notBefore field",
  ERROR_IN_CERT_NOT_AFTER_FIELD: "format error in certificate's notAfter field",
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate',
  SELF_SIGNED_CERT_IN_CHAIN: 'self-signed certificate in certificate chain',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unable to get local issuer certificate',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unable to verify the first certificate',
  CERT_CHAIN_TOO_LONG: 'certificate chain too long',
  CERT_REVOKED: 'certificate revoked',
  INVALID_CA: 'invalid CA certificate',
  PATH_LENGTH_EXCEEDED: 'path length constraint exceeded',
  INVALID_PURPOSE: 'unsupported certificate purpose',
  CERT_UNTRUSTED: 'certificate not trusted',
  CERT_REJECTED: 'certificate rejected',
  HOSTNAME_MISMATCH: 'hostname mismatch',
};

/** OpenSSL's words for a verification error code of Node's (TLSSocket.authorizationError). */
export function verifyErrorText(code: string): string {
  return VERIFY_ERRORS[code] ?? code;
}

/**
 * An OpenSSL error as ERR_error_string writes it in OpenSSL 3 ("error:CODE:LIBRARY::REASON");
 * undefined for an error that OpenSSL did not raise (the peer went away mid-handshake).
 * Node's message carries the same fields plus a thread id, the function and the source line.
 */
export function opensslErrorString(err: Error): string | undefined {
  const m = /error:([0-9A-F]{8}):([^:]*):[^:]*:([^:\n]*)/.exec(err.message);
  return m === null ? undefined : `error:${m[1]}:${m[2]}::${m[3]}`;
}
