/**
 * Certificate authorities made with the `openssl` command, for CRL tests: a root, CAs below it,
 * client certificates from any of them, and CRLs from any of them with the revoked clients,
 * validity times, extensions and signature options asked for. EC P-256 keys unless a CA is
 * made with others. called from: tests
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EC_KEY, openssl, type KeyPair } from './certs.ts';

export const RSA_KEY = ['-newkey', 'rsa:2048', '-nodes'] as const;
export const ED25519_KEY = ['-newkey', 'ed25519', '-nodes'] as const;

export interface Ca {
  readonly dir: string;
  readonly name: string;
  readonly certfile: string;
  readonly keyfile: string;
  readonly cert: Buffer;
}

let serial = 100;

/** Signs `<name>.csr` into `<name>.pem`, both in `dir`. */
function sign(dir: string, name: string, issuer: Ca | undefined, selfKey: string, extensions: string): void {
  const ext = `${name}.ext`;
  writeFileSync(path.join(dir, ext), `[x]\n${extensions}\n`);
  const by = issuer === undefined ? ['-signkey', selfKey] : ['-CA', issuer.certfile, '-CAkey', issuer.keyfile, '-set_serial', String(serial++)];
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, ...by, '-days', '2', '-extfile', ext, '-extensions', 'x', '-out', `${name}.pem`]);
}

/** A CA: self-signed when `issuer` is undefined, else signed by it. */
export function makeCa(dir: string, name: string, subject: string, issuer?: Ca, key: readonly string[] = EC_KEY): Ca {
  const keyfile = path.join(dir, `${name}.key`);
  const certfile = path.join(dir, `${name}.pem`);
  openssl(dir, ['req', '-new', ...key, '-keyout', keyfile, '-out', `${name}.csr`, '-subj', subject]);
  sign(dir, name, issuer, keyfile, 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash');
  return { dir, name, certfile, keyfile, cert: readFileSync(certfile) };
}

/** A client (or server) certificate from `ca`; `ip` adds that subjectAltName. */
export function issue(ca: Ca, name: string, subject: string, ip?: string): KeyPair {
  const dir = ca.dir;
  const keyfile = path.join(dir, `${name}.key`);
  const certfile = path.join(dir, `${name}.pem`);
  openssl(dir, ['req', '-new', ...EC_KEY, '-keyout', keyfile, '-out', `${name}.csr`, '-subj', subject]);
  sign(dir, name, ca, keyfile, `basicConstraints=CA:false${ip === undefined ? '' : `\nsubjectAltName=IP:${ip}`}`);
  return { certfile, keyfile, cert: readFileSync(certfile), key: readFileSync(keyfile) };
}

export interface CrlOptions {
  readonly revoked?: readonly KeyPair[];
  /** openssl's YYYYMMDDHHMMSSZ */
  readonly lastUpdate?: string;
  readonly nextUpdate?: string;
  /** lines of the CRL's extension section (`openssl ca -crlexts`) */
  readonly extensions?: string;
  /** `openssl ca -sigopt` values, e.g. rsa_padding_mode:pss */
  readonly sigopt?: readonly string[];
}

/** A PEM CRL from `ca`, written to `<ca dir>/<name>.crl.pem`; returns its path. */
export function makeCrl(ca: Ca, name: string, options: CrlOptions = {}): string {
  const dir = ca.dir;
  const db = `${name}.index`;
  writeFileSync(path.join(dir, db), '');
  writeFileSync(path.join(dir, `${name}.crlnumber`), '01\n');
  const cnf = `${name}.cnf`;
  writeFileSync(
    path.join(dir, cnf),
    `[ca]\ndefault_ca = d\n[d]\ndatabase = ${db}\ncrlnumber = ${name}.crlnumber\ndefault_md = sha256\n` +
      `default_crl_days = 2\ncertificate = ${ca.certfile}\nprivate_key = ${ca.keyfile}\n` +
      `[e]\n${options.extensions ?? 'authorityKeyIdentifier=keyid'}\n`,
  );
  for (const cert of options.revoked ?? []) openssl(dir, ['ca', '-config', cnf, '-revoke', cert.certfile]);
  const out = path.join(dir, `${name}.crl.pem`);
  const args = ['ca', '-config', cnf, '-gencrl', '-crlexts', 'e', '-out', out];
  if (options.lastUpdate !== undefined) args.push('-crl_lastupdate', options.lastUpdate);
  if (options.nextUpdate !== undefined) args.push('-crl_nextupdate', options.nextUpdate);
  for (const o of options.sigopt ?? []) args.push('-sigopt', o);
  openssl(dir, args);
  return out;
}

/** openssl's time form for `ms` since the epoch */
export function opensslTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
}
