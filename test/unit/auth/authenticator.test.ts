import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Authenticator, type AuthResult } from '../../../src/auth/authenticator.ts';
import { hashPassword } from '../../../src/auth/passwordFile.ts';
import { ConfigError } from '../../../src/config/errors.ts';

let dir: string;
let passwordFile: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'culex-auth-'));
  passwordFile = join(dir, 'passwd');
  writeFileSync(
    passwordFile,
    `alice:${hashPassword('wonderland')}\nbob:${hashPassword('builder', 101, 'sha512')}\nempty:${hashPassword('')}\n`,
  );
});

after(() => {
  rmSync(dir, { recursive: true, force: true });
});

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

describe("Authenticator: Mosquitto 2.0's rules", () => {
  // [allowAnonymous, with password file, username, password, expected]
  const table: [boolean, boolean, string | undefined, string | undefined, AuthResult][] = [
    [true, false, undefined, undefined, 'ok'],
    [false, false, undefined, undefined, 'not_authorized'],
    // No password source: a username is not checked; allow_anonymous decides.
    [true, false, 'anyone', 'anything', 'ok'],
    [false, false, 'anyone', 'anything', 'not_authorized'],
    [true, true, undefined, undefined, 'ok'],
    [false, true, undefined, undefined, 'not_authorized'],
    [false, true, 'alice', 'wonderland', 'ok'],
    [true, true, 'alice', 'wonderland', 'ok'],
    [false, true, 'alice', 'Wonderland', 'bad_credentials'],
    // allow_anonymous does not rescue a client that gave a wrong password.
    [true, true, 'alice', 'wrong', 'bad_credentials'],
    [false, true, 'alice', undefined, 'bad_credentials'],
    [false, true, 'mallory', 'wonderland', 'bad_credentials'],
    [true, true, 'mallory', undefined, 'bad_credentials'],
    [false, true, 'bob', 'builder', 'ok'],
    [false, true, 'bob', 'builders', 'bad_credentials'],
    // An empty password is a password; no password is not.
    [false, true, 'empty', '', 'ok'],
    [false, true, 'empty', undefined, 'bad_credentials'],
  ];
  for (const [allowAnonymous, withFile, username, password, expected] of table) {
    test(`allow_anonymous ${allowAnonymous}, ${withFile ? 'password file' : 'no password file'}, user ${username ?? '(none)'} / ${password ?? '(none)'} → ${expected}`, async () => {
      const auth = new Authenticator({ allowAnonymous, passwordFile: withFile ? passwordFile : undefined });
      try {
        assert.equal(await auth.check(username, password === undefined ? undefined : bytes(password)), expected);
      } finally {
        await auth.close();
      }
    });
  }
});

describe('Authenticator lifecycle', () => {
  test('a missing or broken password file stops the start with a ConfigError', () => {
    assert.throws(
      () => new Authenticator({ allowAnonymous: false, passwordFile: join(dir, 'nope') }),
      (err: unknown) => err instanceof ConfigError && /cannot read password file/.test(err.message),
    );
    const broken = join(dir, 'broken');
    writeFileSync(broken, 'u:plain\n');
    assert.throws(
      () => new Authenticator({ allowAnonymous: false, passwordFile: broken }),
      (err: unknown) => err instanceof ConfigError && err.line === 1,
    );
  });

  test('reload() picks up a changed file; a broken file keeps the previous users', async () => {
    const file = join(dir, 'reloading');
    writeFileSync(file, `u:${hashPassword('one', 5)}\n`);
    const auth = new Authenticator({ allowAnonymous: false, passwordFile: file });
    try {
      assert.equal(await auth.check('u', bytes('one')), 'ok');
      writeFileSync(file, `u:${hashPassword('two', 5)}\n`);
      auth.reload();
      assert.equal(await auth.check('u', bytes('one')), 'bad_credentials');
      assert.equal(await auth.check('u', bytes('two')), 'ok');
      writeFileSync(file, 'u:garbage\n');
      assert.throws(() => auth.reload(), ConfigError);
      assert.equal(await auth.check('u', bytes('two')), 'ok');
    } finally {
      await auth.close();
    }
  });

  test('reload(settings) applies a new allow_anonymous and password file (config reload)', async () => {
    const auth = new Authenticator({ allowAnonymous: true });
    try {
      assert.equal(await auth.check('alice', bytes('x')), 'ok');
      auth.reload({ allowAnonymous: false, passwordFile });
      assert.equal(await auth.check(undefined, undefined), 'not_authorized');
      assert.equal(await auth.check('alice', bytes('x')), 'bad_credentials');
      assert.equal(await auth.check('alice', bytes('wonderland')), 'ok');
      auth.reload({ allowAnonymous: true });
      assert.equal(await auth.check('alice', bytes('x')), 'ok');
    } finally {
      await auth.close();
    }
  });

  test('many concurrent checks all get their own answer', async () => {
    const auth = new Authenticator({ allowAnonymous: false, passwordFile });
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, (_, i) => auth.check('alice', bytes(i % 2 === 0 ? 'wonderland' : `w${i}`))),
      );
      results.forEach((r, i) => assert.equal(r, i % 2 === 0 ? 'ok' : 'bad_credentials', `check ${i}`));
    } finally {
      await auth.close();
    }
  });

  test('close() is idempotent and later checks throw', async () => {
    const auth = new Authenticator({ allowAnonymous: false, passwordFile });
    assert.equal(await auth.check('alice', bytes('wonderland')), 'ok');
    await auth.close();
    await auth.close();
    await assert.rejects(auth.check('alice', bytes('wonderland')), /closed/);
  });
});

describe('Authenticator with per_listener_settings (security.c: context->listener->security_options)', () => {
  test("each listener applies its own allow_anonymous and password file, by the CONNECT's listener index", async () => {
    const other = join(dir, 'passwd-other');
    writeFileSync(other, `carol:${hashPassword('c', 5)}\n`);
    const auth = new Authenticator({
      allowAnonymous: true,
      listeners: [{ allowAnonymous: false, passwordFile }, { allowAnonymous: true }, { allowAnonymous: false, passwordFile: other }],
    });
    try {
      assert.equal(await auth.check(undefined, undefined, 0), 'not_authorized');
      assert.equal(await auth.check('alice', bytes('wonderland'), 0), 'ok');
      assert.equal(await auth.check('carol', bytes('c'), 0), 'bad_credentials');
      assert.equal(await auth.check(undefined, undefined, 1), 'ok');
      assert.equal(await auth.check('anyone', bytes('x'), 1), 'ok');
      assert.equal(await auth.check('carol', bytes('c'), 2), 'ok');
      assert.equal(await auth.check('alice', bytes('wonderland'), 2), 'bad_credentials');
      // a listener the Authenticator does not know is refused (Mosquitto: no listener → MOSQ_ERR_AUTH)
      assert.equal(await auth.check(undefined, undefined, 3), 'not_authorized');
    } finally {
      await auth.close();
    }
  });

  test('reload(settings) replaces every listener; a broken file keeps the previous settings', async () => {
    const auth = new Authenticator({ allowAnonymous: false, listeners: [{ allowAnonymous: true }] });
    try {
      assert.equal(await auth.check(undefined, undefined, 0), 'ok');
      auth.reload({ allowAnonymous: false, listeners: [{ allowAnonymous: false, passwordFile }] });
      assert.equal(await auth.check(undefined, undefined, 0), 'not_authorized');
      assert.equal(await auth.check('alice', bytes('wonderland'), 0), 'ok');
      assert.throws(() => auth.reload({ allowAnonymous: false, listeners: [{ allowAnonymous: true, passwordFile: join(dir, 'nope') }] }), ConfigError);
      assert.equal(await auth.check(undefined, undefined, 0), 'not_authorized');
    } finally {
      await auth.close();
    }
  });
});
