/**
 * transport/crlCheck.ts against CAs and CRLs made by the openssl command: Mosquitto's CRL check
 * (X509_V_FLAG_CRL_CHECK), the client's own certificate against the CRLs of its issuer, with
 * OpenSSL's reasons for each refusal. Each case is also put to `openssl verify -crl_check`
 * (what Mosquitto's handshake decides), which must give the same answer.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { CrlCheck } from '../../../src/transport/crlCheck.ts';
import { issue, makeCa, makeCrl, opensslTime, ED25519_KEY, RSA_KEY, type Ca } from '../../helpers/caChain.ts';
import type { KeyPair } from '../../helpers/certs.ts';
import { tempDir } from '../../helpers/broker.ts';

let tmp: ReturnType<typeof tempDir>;
let root: Ca;
let intermediate: Ca;
let good: KeyPair;
let revoked: KeyPair;

before(() => {
  tmp = tempDir('culex-crl-');
  root = makeCa(tmp.dir, 'root', '/CN=culex test root');
  intermediate = makeCa(tmp.dir, 'intermediate', '/O=Example/CN=culex issuing CA', root);
  good = issue(intermediate, 'good', '/CN=good');
  revoked = issue(intermediate, 'revoked', '/CN=revoked');
});
after(() => tmp.cleanup());

const x509 = (pem: Buffer): X509Certificate => new X509Certificate(pem);
let files = 0;

/** The CRLs of `crlFiles` as one crlfile; checks that OpenSSL answers each `refusal()` alike. */
function load(...crlFiles: string[]): CrlCheck {
  const file = path.join(tmp.dir, `crlfile-${files++}.pem`);
  writeFileSync(file, Buffer.concat(crlFiles.map((f) => readFileSync(f))));
  const crls = CrlCheck.fromPem(8883, file, readFileSync(file));
  opensslFiles.set(crls, file);
  return crls;
}
const opensslFiles = new Map<CrlCheck, string>();

/** What `openssl verify -crl_check` says of `client` (undefined: OK), with `issuer` and the root trusted. */
function opensslSays(crlfile: string, client: KeyPair, issuer: Ca): string | undefined {
  const chain = path.join(tmp.dir, `chain-${issuer.name}.pem`);
  writeFileSync(chain, Buffer.concat([root.cert, issuer.cert]));
  try {
    execFileSync('openssl', ['verify', '-crl_check', '-CAfile', chain, '-CRLfile', crlfile, client.certfile], { stdio: ['ignore', 'pipe', 'pipe'] });
    return undefined;
  } catch (err) {
    const out = String((err as { stdout: Buffer }).stdout) + String((err as { stderr: Buffer }).stderr);
    return /error \d+ at \d+ depth lookup: (.*)/.exec(out)?.[1] ?? out;
  }
}

/** culex's answer, after checking that OpenSSL's is the same (`now` moves culex's clock only: OpenSSL is not asked then) */
function refusal(crls: CrlCheck, client: KeyPair, issuer: Ca = intermediate, now?: number): string | undefined {
  const ours = crls.refusal(x509(client.cert).raw, x509(issuer.cert), now);
  if (now === undefined) assert.equal(ours, opensslSays(opensslFiles.get(crls)!, client, issuer), 'openssl verify -crl_check answers alike');
  return ours;
}

test("the issuing CA's CRL alone covers its clients: one it lists is refused, the others pass (no CRL of the root needed)", () => {
  const crls = load(makeCrl(intermediate, 'issuing', { revoked: [revoked] }));
  assert.equal(refusal(crls, good), undefined);
  assert.equal(refusal(crls, revoked), 'certificate revoked');
});

test('a client whose issuer has no CRL in the file is refused, as OpenSSL does under X509_V_FLAG_CRL_CHECK', () => {
  const crls = load(makeCrl(root, 'root-only'));
  assert.equal(refusal(crls, good), 'unable to get certificate CRL');
});

test('of several CRLs from the issuer the latest valid one decides: a hold it no longer lists is released', () => {
  const held = issue(intermediate, 'held', '/CN=held');
  const hourAgo = opensslTime(Date.now() - 3_600_000);
  const old = makeCrl(intermediate, 'old', { revoked: [revoked, held], lastUpdate: hourAgo });
  const crls = load(makeCrl(root, 'root-empty'), makeCrl(intermediate, 'new', { revoked: [revoked] }), old);
  assert.equal(refusal(crls, good), undefined);
  assert.equal(refusal(crls, revoked), 'certificate revoked');
  assert.equal(refusal(crls, held), undefined);
  assert.equal(refusal(load(old), held), 'certificate revoked');
});

test('a CRL past its nextUpdate, or before its lastUpdate, refuses every client of its issuer', () => {
  const now = Date.now();
  const expired = load(makeCrl(intermediate, 'expired', { lastUpdate: opensslTime(now - 2 * 86_400_000), nextUpdate: opensslTime(now - 86_400_000) }));
  assert.equal(refusal(expired, good), 'CRL has expired');
  const early = load(makeCrl(intermediate, 'early', { lastUpdate: opensslTime(now + 86_400_000), nextUpdate: opensslTime(now + 2 * 86_400_000) }));
  assert.equal(refusal(early, good), 'CRL is not yet valid');
  // an expired CRL beside a current one of the same issuer: the current one is enough
  const both = load(makeCrl(intermediate, 'expired2', { lastUpdate: opensslTime(now - 2 * 86_400_000), nextUpdate: opensslTime(now - 86_400_000) }), makeCrl(intermediate, 'current'));
  assert.equal(refusal(both, good), undefined);
  assert.equal(refusal(load(makeCrl(intermediate, 'fresh')), good, intermediate, now + 3 * 86_400_000), 'CRL has expired');
});

test("a CRL with the issuer's name but signed by another key refuses the issuer's clients", () => {
  const impostor = makeCa(tmp.dir, 'impostor', '/O=Example/CN=culex issuing CA', root);
  const crls = load(makeCrl(impostor, 'forged'));
  // OpenSSL finds no CRL (the authority key identifier names the other key); culex says why
  assert.equal(crls.refusal(x509(good.cert).raw, x509(intermediate.cert)), 'CRL signature failure');
  assert.equal(opensslSays(opensslFiles.get(crls)!, good, intermediate), 'unable to get certificate CRL');
});

test('a critical CRL extension OpenSSL does not handle refuses the clients of that issuer', () => {
  const crls = load(makeCrl(intermediate, 'critical', { extensions: '1.3.6.1.4.1.99999.1=critical,ASN1:UTF8String:unknown' }));
  assert.equal(refusal(crls, good), 'unhandled critical CRL extension');
});

test('a CRL only for CA certificates (issuing distribution point) is not used for a client', () => {
  const caOnly = load(makeCrl(intermediate, 'ca-only', { extensions: 'issuingDistributionPoint=critical,@idp\n[idp]\nonlyCA=TRUE', revoked: [revoked] }));
  assert.equal(refusal(caOnly, good), 'different CRL scope');
  const userOnly = load(makeCrl(intermediate, 'user-only', { extensions: 'issuingDistributionPoint=critical,@idp\n[idp]\nonlyuser=TRUE', revoked: [revoked] }));
  assert.equal(refusal(userOnly, good), undefined);
  assert.equal(refusal(userOnly, revoked), 'certificate revoked');
});

test('CRLs signed with RSA PKCS#1 v1.5, RSASSA-PSS and Ed25519 are verified', () => {
  const rsa = makeCa(tmp.dir, 'rsa', '/CN=culex rsa CA', root, RSA_KEY);
  const rsaClient = issue(rsa, 'rsa-client', '/CN=rsa-client');
  assert.equal(refusal(load(makeCrl(rsa, 'pkcs1', { revoked: [rsaClient] })), rsaClient, rsa), 'certificate revoked');
  const pss = load(makeCrl(rsa, 'pss', { sigopt: ['rsa_padding_mode:pss', 'rsa_pss_saltlen:32'], revoked: [rsaClient] }));
  assert.equal(refusal(pss, rsaClient, rsa), 'certificate revoked');
  const ed = makeCa(tmp.dir, 'ed', '/CN=culex ed25519 CA', root, ED25519_KEY);
  const edClient = issue(ed, 'ed-client', '/CN=ed-client');
  assert.equal(refusal(load(makeCrl(ed, 'eddsa')), edClient, ed), undefined);
});

test('a file without a CRL, or with one that cannot be read, stops the start naming the listener and the file', () => {
  assert.throws(() => CrlCheck.fromPem(8883, '/etc/crl.pem', root.cert), /^Error: listener 8883: crlfile '\/etc\/crl\.pem' holds no PEM CRL/);
  const broken = path.join(tmp.dir, 'broken.pem');
  const good = readFileSync(makeCrl(intermediate, 'for-broken'));
  writeFileSync(broken, Buffer.concat([good, Buffer.from('-----BEGIN X509 CRL-----\nMIIBCgYJKoZIhvcNAQ==\n-----END X509 CRL-----\n')]));
  assert.throws(() => CrlCheck.fromPem(8883, broken, readFileSync(broken)), /^Error: listener 8883: crlfile '.*broken\.pem': CRL 2 cannot be read: /);
});
