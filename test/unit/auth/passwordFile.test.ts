import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword, parsePasswordFile, parsePasswordHash, verifyPassword } from '../../../src/auth/passwordFile.ts';
import verify from '../../../src/auth/verifyTask.ts';
import type { ConfigError } from '../../../src/config/errors.ts';
import { expectConfigError } from '../config/expectConfigError.ts';

/** Entries written by mosquitto_passwd 2.0.11 (`-b -c f alice secret`, `-H sha512 -b f bob hunter2`). */
const MOSQUITTO_FILE = [
  'alice:$7$101$IUALwyZYTQZfGZlO$ye1w/ofqtOXrWOQekrZPwK4br9ICQjEWHeBGZfy5qrAPUb5rW5T1+1C29JYk0qcq03ahvk7F1UlSMAJRdo66Ng==',
  'bob:$6$quf64ghc3K+dMM4v$IRNQjFcergRubzL2RtvM/r02P7p3Ltlysv156VhwndG/ntXoKWriOMcRxlu7thQj/mfrlj6ZE2j/58URtYcKwQ==',
  '',
].join('\n');

function refusal(text: string): ConfigError {
  return expectConfigError(() => parsePasswordFile(text, 'pw'));
}

describe('mosquitto_passwd files', () => {
  test('$7$ (PBKDF2-SHA512) and $6$ (SHA-512) entries verify the right password only', () => {
    const users = parsePasswordFile(MOSQUITTO_FILE, 'pw');
    assert.deepEqual([...users.keys()], ['alice', 'bob']);
    const alice = users.get('alice')!;
    const bob = users.get('bob')!;
    assert.equal(alice.kind, 'sha512-pbkdf2');
    assert.equal(alice.kind === 'sha512-pbkdf2' && alice.iterations, 101);
    assert.equal(bob.kind, 'sha512');
    assert.equal(verifyPassword(alice, Buffer.from('secret')), true);
    assert.equal(verifyPassword(alice, Buffer.from('Secret')), false);
    assert.equal(verifyPassword(alice, Buffer.from('')), false);
    assert.equal(verifyPassword(bob, Buffer.from('hunter2')), true);
    assert.equal(verifyPassword(bob, Buffer.from('hunter3')), false);
  });

  test('comments, blank lines, lines without a colon and CRLF are skipped; blanks around fields trimmed', () => {
    const text = `# users\n\nnot a user line\r\n  carol : ${hashPassword('pw', 3)} \r\n`;
    const users = parsePasswordFile(text, 'pw');
    assert.deepEqual([...users.keys()], ['carol']);
    assert.equal(verifyPassword(users.get('carol')!, Buffer.from('pw')), true);
  });

  const broken: [text: string, pattern: RegExp][] = [
    ['dave:plaintext', /plain-text passwords are not accepted/],
    ['dave:$5$abc$def', /not a \$6\$ or \$7\$ password hash/],
    ['dave:$7$101$onlysalt', /malformed \$7\$ password hash/],
    ['dave:$7$0$IUALwyZYTQZfGZlO$' + 'A'.repeat(86) + '==', /invalid iteration count '0'/],
    ['dave:$7$x$IUALwyZYTQZfGZlO$' + 'A'.repeat(86) + '==', /invalid iteration count 'x'/],
    ['dave:$6$!!!!$' + 'A'.repeat(86) + '==', /invalid base64 in the password salt/],
    ['dave:$6$IUALwyZYTQZf$' + 'A'.repeat(86) + '==', /salt must be 12 or 64 bytes, got 9/],
    ['dave:$6$IUALwyZYTQZfGZlO$AAAA', /hash must be 64 bytes, got 3/],
    ['dave:', /no password hash for user 'dave'/],
    [':$6$IUALwyZYTQZfGZlO$AAAA', /empty username/],
  ];
  for (const [line, pattern] of broken) {
    test(`'${line.slice(0, 40)}' is refused with its line number`, () => {
      const err = refusal(`# header\n${line}\n`);
      assert.equal(err.line, 2);
      assert.ok(err.message.startsWith('pw:2: '), err.message);
      assert.match(err.message, pattern);
    });
  }

  test('a username listed twice is refused', () => {
    const h = hashPassword('x', 1);
    assert.match(refusal(`u:${h}\nv:${h}\nu:${h}\n`).message, /^pw:3: user 'u' is listed twice \(first at line 1\)/);
  });

  test('hashPassword writes the $7$ format mosquitto_passwd writes, with a fresh salt each time', () => {
    const a = hashPassword('secret');
    const b = hashPassword('secret');
    assert.match(a, /^\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    assert.notEqual(a, b);
    assert.equal(verifyPassword(parsePasswordHash(a, 'x', 1), Buffer.from('secret')), true);
    assert.match(hashPassword('p', 2000), /^\$7\$2000\$/);
    const legacy = hashPassword('p', 101, 'sha512');
    assert.match(legacy, /^\$6\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}==$/);
    assert.equal(verifyPassword(parsePasswordHash(legacy, 'x', 1), Buffer.from('p')), true);
    assert.throws(() => hashPassword('p', 0), RangeError);
  });

  test('passwords are bytes: UTF-8 and binary passwords verify exactly', () => {
    const entry = parsePasswordHash(hashPassword('pässwörd'), 'x', 1);
    assert.equal(verifyPassword(entry, Buffer.from('pässwörd', 'utf8')), true);
    assert.equal(verifyPassword(entry, Buffer.from('pässwörd', 'latin1')), false);
  });

  test('the piscina task verifies a structured-cloned entry', () => {
    const entry = structuredClone(parsePasswordFile(MOSQUITTO_FILE, 'pw').get('alice')!);
    assert.equal(verify({ entry, password: new TextEncoder().encode('secret') }), true);
    assert.equal(verify({ entry, password: new TextEncoder().encode('nope') }), false);
  });

  const hasMosquittoPasswd = spawnSync('mosquitto_passwd', ['-h']).error === undefined;
  test(
    'a file just written by the real mosquitto_passwd -b -c verifies',
    { skip: hasMosquittoPasswd ? false : 'mosquitto_passwd not installed (apt-get install mosquitto)' },
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'culex-pw-'));
      try {
        const file = join(dir, 'passwd');
        const made = spawnSync('mosquitto_passwd', ['-b', '-c', file, 'erin', 'correct horse']);
        assert.equal(made.status, 0, made.stderr.toString());
        const sha = spawnSync('mosquitto_passwd', ['-H', 'sha512', '-b', file, 'frank', 'battery staple']);
        assert.equal(sha.status, 0, sha.stderr.toString());
        const users = parsePasswordFile(readFileSync(file, 'utf8'), file);
        assert.equal(verifyPassword(users.get('erin')!, Buffer.from('correct horse')), true);
        assert.equal(verifyPassword(users.get('erin')!, Buffer.from('correct horse ')), false);
        assert.equal(verifyPassword(users.get('frank')!, Buffer.from('battery staple')), true);
        assert.equal(verifyPassword(users.get('frank')!, Buffer.from('battery')), false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
