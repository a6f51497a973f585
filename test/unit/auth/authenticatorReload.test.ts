/**
 * Authenticator.reload's answer to "may a connected client's verdict have changed?": a reload
 * re-checks every connected client (Mosquitto's mosquitto_security_apply) only when it says yes.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Authenticator } from '../../../src/auth/authenticator.ts';
import { hashPassword } from '../../../src/auth/passwordFile.ts';

const dir = mkdtempSync(join(tmpdir(), 'culex-auth-reload-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('Authenticator.reload reports whether any answer may have changed', () => {
  test('the same settings and file contents: no change; a user added, a setting changed: a change', async () => {
    const file = join(dir, 'passwd');
    const alice = `alice:${hashPassword('a')}\n`;
    writeFileSync(file, alice);
    const auth = new Authenticator({ allowAnonymous: true, passwordFile: file });
    try {
      assert.equal(auth.reload(), false, 'file read again, same text');
      assert.equal(auth.reload({ allowAnonymous: true, passwordFile: file }), false);
      writeFileSync(file, alice + `bob:${hashPassword('b')}\n`);
      assert.equal(auth.reload(), true, 'bob added');
      assert.equal(await auth.check('bob', Buffer.from('b')), 'ok');
      assert.equal(auth.reload({ allowAnonymous: false, passwordFile: file }), true, 'allow_anonymous changed');
      assert.equal(auth.reload({ allowAnonymous: false }), true, 'password_file removed');
      assert.equal(await auth.check(undefined, undefined), 'not_authorized');
    } finally {
      await auth.close();
    }
  });

  test('per_listener_settings: a change on one listener is a change', () => {
    const file = join(dir, 'passwd2');
    writeFileSync(file, `alice:${hashPassword('a')}\n`);
    const listeners = [{ allowAnonymous: true }, { allowAnonymous: false, passwordFile: file }];
    const auth = new Authenticator({ allowAnonymous: false, listeners });
    assert.equal(auth.reload({ allowAnonymous: false, listeners }), false);
    assert.equal(auth.reload({ allowAnonymous: false, listeners: [listeners[0]!, { allowAnonymous: true, passwordFile: file }] }), true);
    return auth.close();
  });
});
