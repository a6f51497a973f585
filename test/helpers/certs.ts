/**
 * A throwaway PKI made with the `openssl` command: a CA, a server certificate for 127.0.0.1,
 * client certificates with the subjects asked for, and a CRL revoking some of them. EC P-256
 * keys, so that making one takes milliseconds. called from: tests
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface KeyPair {
  /** PEM files */
  readonly certfile: string;
  readonly keyfile: string;
  /** their contents, for client options */
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface Pki {
  readonly cafile: string;
  readonly ca: Buffer;
  readonly server: KeyPair;
  readonly clients: Readonly<Record<string, KeyPair>>;
  /** a PEM CRL from the CA listing the revoked clients */
  readonly crlfile: string;
}

/** Runs the openssl command in `dir`; its stderr is in the error when it fails. */
export function openssl(dir: string, args: readonly string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** `openssl req` arguments for a new EC P-256 key */
export const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'] as const;

function pair(dir: string, name: string): KeyPair {
  const certfile = path.join(dir, `${name}.pem`);
  const keyfile = path.join(dir, `${name}.key`);
  return { certfile, keyfile, cert: readFileSync(certfile), key: readFileSync(keyfile) };
}

/**
 * Makes the PKI in `dir`. `clients` maps a file name to an openssl `-subj` string
 * (`/C=DE/O=Example/CN=sensor1`: the first attribute is the first RDN). `revoked` names
 * clients listed in the CRL.
 */
export function makePki(dir: string, clients: Readonly<Record<string, string>>, revoked: readonly string[] = []): Pki {
  openssl(dir, ['req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=culex test CA']);
  let serial = 2;
  const issue = (name: string, subject: string, extensions?: string): void => {
    openssl(dir, ['req', '-new', ...EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-utf8', '-subj', subject, '-multivalue-rdn']);
    const args = ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(serial++), '-days', '2', '-out', `${name}.pem`];
    if (extensions !== undefined) {
      writeFileSync(path.join(dir, `${name}.ext`), `${extensions}\n`);
      args.push('-extfile', `${name}.ext`);
    }
    openssl(dir, args);
  };
  issue('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1');
  for (const [name, subject] of Object.entries(clients)) issue(name, subject);
  writeFileSync(
    path.join(dir, 'ca.cnf'),
    '[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\n' +
      'default_crl_days = 2\ncertificate = ca.pem\nprivate_key = ca.key\n',
  );
  writeFileSync(path.join(dir, 'index.txt'), '');
  writeFileSync(path.join(dir, 'crlnumber'), '01\n');
  for (const name of revoked) openssl(dir, ['ca', '-config', 'ca.cnf', '-revoke', `${name}.pem`]);
  openssl(dir, ['ca', '-config', 'ca.cnf', '-gencrl', '-out', 'crl.pem']);
  const out: Record<string, KeyPair> = {};
  for (const name of Object.keys(clients)) out[name] = pair(dir, name);
  const cafile = path.join(dir, 'ca.pem');
  return { cafile, ca: readFileSync(cafile), server: pair(dir, 'server'), clients: out, crlfile: path.join(dir, 'crl.pem') };
}

/** The subject of a certificate as `openssl x509 -nameopt RFC2253` prints it (what Mosquitto uses). */
export function opensslRfc2253Subject(certfile: string): string {
  const out = execFileSync('openssl', ['x509', '-in', certfile, '-noout', '-subject', '-nameopt', 'RFC2253'], { encoding: 'utf8' });
  return out.replace(/^subject=/, '').replace(/\n$/, '');
}
