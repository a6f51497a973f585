import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPasswd, type PasswdIo } from '../../../src/cli/passwd.ts';
import { parsePasswordFile, verifyPassword } from '../../../src/auth/passwordFile.ts';

const NODE = process.execPath;
const CLI = new URL('../../../src/cli/passwd.ts', import.meta.url).pathname;

let dir: string;
let n = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'culex-passwd-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function fresh(): string {
  return join(dir, `pw${n++}`);
}

/** A fake terminal answering with `answers` and collecting stderr. */
function io(answers: (string | undefined)[] = []): PasswdIo & { errors: string } {
  const out = {
    errors: '',
    readPassword: async () => answers.shift(),
    stderr: (t: string) => {
      out.errors += t;
    },
  };
  return out;
}

function verifies(file: string, user: string, password: string): boolean {
  const entry = parsePasswordFile(readFileSync(file, 'utf8'), file).get(user);
  return entry !== undefined && verifyPassword(entry, Buffer.from(password));
}

describe('culex passwd (mosquitto_passwd compatible)', () => {
  test('-c -b creates a file readable only by its owner, with a $7$ entry', async () => {
    const file = fresh();
    assert.equal(await runPasswd(['-c', '-b', file, 'alice', 'secret'], io()), 0);
    assert.match(readFileSync(file, 'utf8'), /^alice:\$7\$101\$\S+\n$/);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.ok(verifies(file, 'alice', 'secret'));
  });

  test('without -c a user is added, or replaced in place; other lines are kept', async () => {
    const file = fresh();
    await runPasswd(['-c', '-b', file, 'alice', 'one'], io());
    const text = readFileSync(file, 'utf8');
    writeFileSync(file, `# team\n${text}`);
    assert.equal(await runPasswd(['-b', file, 'bob', 'two'], io()), 0);
    assert.equal(await runPasswd(['-b', file, 'alice', 'three'], io()), 0);
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    assert.equal(lines[0], '# team');
    assert.match(lines[1]!, /^alice:/);
    assert.match(lines[2]!, /^bob:/);
    assert.ok(verifies(file, 'alice', 'three'));
    assert.ok(!verifies(file, 'alice', 'one'));
    assert.ok(verifies(file, 'bob', 'two'));
  });

  test('-H sha512 and -I choose the hash and the iterations', async () => {
    const file = fresh();
    await runPasswd(['-H', 'sha512', '-c', '-b', file, 'old', 'p'], io());
    await runPasswd(['-I', '1000', '-b', file, 'slow', 'q'], io());
    const text = readFileSync(file, 'utf8');
    assert.match(text, /^old:\$6\$/m);
    assert.match(text, /^slow:\$7\$1000\$/m);
    assert.ok(verifies(file, 'old', 'p'));
    assert.ok(verifies(file, 'slow', 'q'));
  });

  test('-D deletes a user; an unknown user is an error', async () => {
    const file = fresh();
    await runPasswd(['-c', '-b', file, 'alice', 'a'], io());
    await runPasswd(['-b', file, 'bob', 'b'], io());
    assert.equal(await runPasswd(['-D', file, 'alice'], io()), 0);
    assert.deepEqual([...parsePasswordFile(readFileSync(file, 'utf8'), file).keys()], ['bob']);
    const out = io();
    assert.equal(await runPasswd(['-D', file, 'alice'], out), 1);
    assert.match(out.errors, /User alice not found/);
  });

  test('the password is asked twice without -b; a mismatch writes nothing', async () => {
    const file = fresh();
    assert.equal(await runPasswd(['-c', file, 'alice'], io(['typed'])), 0);
    assert.ok(verifies(file, 'alice', 'typed'));
    const before = readFileSync(file, 'utf8');
    const out = io([undefined]);
    assert.equal(await runPasswd([file, 'alice'], out), 1);
    assert.match(out.errors, /Passwords do not match/);
    assert.equal(readFileSync(file, 'utf8'), before);
  });

  const refused: [args: string[], pattern: RegExp][] = [
    [['-c', '-b', 'F', 'a:b', 'p'], /must not contain the ':' character/],
    [['-c', '-b', 'F', 'a\tb', 'p'], /control characters/],
    [['-c', '-D', 'F', 'a'], /-c and -D cannot be used together/],
    [['-b', '-D', 'F', 'a', 'p'], /-b and -D cannot be used together/],
    [['-H', 'md5', '-c', '-b', 'F', 'a', 'p'], /unknown hash type 'md5'/],
    [['-I', '0', '-c', '-b', 'F', 'a', 'p'], /iterations must be > 0/],
    [['-U', 'F', 'a'], /-U argument given but password file missing/],
    [['-U', '-c', 'F'], /-U cannot be used with -c, -D or -b/],
    [['-b', 'F', 'a'], /Usage/],
    [['F'], /Usage/],
  ];
  for (const [args, pattern] of refused) {
    test(`${args.join(' ')} is refused`, async () => {
      const file = fresh();
      const out = io();
      assert.equal(await runPasswd(args.map((a) => (a === 'F' ? file : a)), out), 1);
      assert.match(out.errors, pattern);
    });
  }

  test('updating a missing file is an error (use -c to create)', async () => {
    const out = io();
    assert.equal(await runPasswd(['-b', join(dir, 'missing'), 'a', 'p'], out), 1);
    assert.match(out.errors, /unable to open password file/);
  });

  test('-U hashes every user:password line as mosquitto_passwd -U does (blanks around both trimmed, split at the first colon)', async () => {
    const file = fresh();
    writeFileSync(file, 'alice:secret\n erin : spaced \r\ndave:pass:with:colons\n', { mode: 0o640 });
    assert.equal(await runPasswd(['-U', file], io()), 0);
    assert.ok(verifies(file, 'alice', 'secret'));
    assert.ok(verifies(file, 'erin', 'spaced'));
    assert.ok(verifies(file, 'dave', 'pass:with:colons'));
    assert.equal(statSync(file).mode & 0o777, 0o640);
  });

  for (const [content, line] of [['# comment\nalice:secret\n', 1], ['alice:secret\n\nbob:x\n', 2], ['alice:secret\ncarol\n', 2]] as const) {
    test(`-U: a line that is not user:password is a corrupt file (mosquitto_passwd: line ${line}), nothing written`, async () => {
      const file = fresh();
      writeFileSync(file, content);
      const out = io();
      assert.equal(await runPasswd(['-U', file], out), 1);
      assert.match(out.errors, new RegExp(`Corrupt password file at line ${line}\\.`));
      assert.equal(readFileSync(file, 'utf8'), content);
    });
  }

  test('-U refuses a file that already holds a hash, naming the line (mosquitto_passwd would hash the hash)', async () => {
    const file = fresh();
    await runPasswd(['-c', '-b', file, 'alice', 'a1'], io());
    writeFileSync(file, `bob:plain\n${readFileSync(file, 'utf8')}`);
    const before = readFileSync(file, 'utf8');
    const out = io();
    assert.equal(await runPasswd(['-U', file], out), 1);
    assert.match(out.errors, new RegExp(`${file}:2: the password of alice is already hashed`));
    assert.equal(readFileSync(file, 'utf8'), before);
  });

  test('runs as a command; without a terminal the password is read as two lines of stdin', () => {
    const file = fresh();
    const batch = spawnSync(NODE, [CLI, '-c', '-b', file, 'alice', 'from-args']);
    assert.equal(batch.status, 0, batch.stderr.toString());
    const piped = spawnSync(NODE, [CLI, file, 'bob'], { input: 'from-stdin\nfrom-stdin\n' });
    assert.equal(piped.status, 0, piped.stderr.toString());
    assert.ok(verifies(file, 'alice', 'from-args'));
    assert.ok(verifies(file, 'bob', 'from-stdin'));
    const mismatch = spawnSync(NODE, [CLI, file, 'carol'], { input: 'one\ntwo\n' });
    assert.equal(mismatch.status, 1);
  });

  const hasMosquittoPasswd = spawnSync('mosquitto_passwd', ['-h']).error === undefined;
  test(
    'the real mosquitto_passwd updates a file culex wrote, and culex reads the result',
    { skip: hasMosquittoPasswd ? false : 'mosquitto_passwd not installed (apt-get install mosquitto)' },
    async () => {
      const file = fresh();
      await runPasswd(['-c', '-b', file, 'alice', 'a1'], io());
      const r = spawnSync('mosquitto_passwd', ['-b', file, 'bob', 'b1']);
      assert.equal(r.status, 0, r.stderr.toString());
      assert.ok(verifies(file, 'alice', 'a1'));
      assert.ok(verifies(file, 'bob', 'b1'));
    },
  );
});
