import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, loadConfigFile, compareIncludeNames } from '../../../src/config/load.ts';
import { expectConfigError } from './expectConfigError.ts';

/** An in-memory file system: path → text; directories are the prefixes. */
function memoryFs(files: Record<string, string>) {
  const readFile = (path: string): string => {
    const text = files[path];
    if (text === undefined) throw new Error('ENOENT: no such file');
    return text;
  };
  const listDir = (dir: string): string[] => {
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    const names = Object.keys(files)
      .filter((p) => p.startsWith(prefix))
      .map((p) => p.slice(prefix.length))
      .filter((n) => !n.includes('/'));
    if (names.length === 0) throw new Error('ENOENT: no such directory');
    return names;
  };
  return { readFile, listDir };
}

const caught = expectConfigError;

describe('include_dir', () => {
  test('loads every *.conf file of the directory after the lines before it', () => {
    const fs = memoryFs({
      '/etc/culex/conf.d/10-listeners.conf': 'listener 8883\n',
      '/etc/culex/conf.d/20-limits.conf': 'max_queued_messages 42\n',
      '/etc/culex/conf.d/README': 'not a config file\n',
      '/etc/culex/conf.d/disabled.conf.bak': 'nonsense here\n',
    });
    const { config } = parseConfig(
      'listener 1883\ninclude_dir /etc/culex/conf.d\nallow_anonymous true\n',
      '/etc/culex/culex.conf',
      fs.readFile,
      fs.listDir,
    );
    assert.deepEqual(
      config.listeners.map((l) => l.port),
      [1883, 8883],
    );
    assert.equal(config.maxQueuedMessages, 42);
    assert.equal(config.allowAnonymous, true);
  });

  test('an included file starts at the default listener; the main file continues in its own block', () => {
    const fs = memoryFs({ '/d/a.conf': 'max_connections 7\nlistener 9000\nmax_connections 9\n' });
    const { config } = parseConfig('listener 1884\ninclude_dir /d\nmax_connections 3\n', 'main.conf', fs.readFile, fs.listDir);
    // 1884 keeps the main file's max_connections; the included max_connections 7 went to the
    // default listener (1883), not to 1884.
    assert.deepEqual(
      config.listeners.map((l) => [l.port, l.maxConnections]),
      [
        [1884, 3],
        [9000, 9],
        [1883, 7],
      ],
    );
  });

  test('files load in Mosquitto order: case-insensitive, upper case first', () => {
    const names = ['b.conf', 'A.conf', '01.conf', 'a.conf', 'B.conf', '00.conf'];
    assert.deepEqual(names.sort(compareIncludeNames), ['00.conf', '01.conf', 'A.conf', 'a.conf', 'B.conf', 'b.conf']);
    const fs = memoryFs({
      '/d/b.conf': 'max_queued_messages 2\n',
      '/d/B.conf': 'max_queued_messages 1\n',
    });
    // B.conf then b.conf: the last value wins.
    assert.equal(parseConfig('include_dir /d\n', 'main.conf', fs.readFile, fs.listDir).config.maxQueuedMessages, 2);
  });

  test('an error in an included file names that file and its line', () => {
    const fs = memoryFs({ '/d/x.conf': '# one\nmax_keepalive 1\n' });
    const err = caught(() => parseConfig('listener 1883\ninclude_dir /d\n', 'main.conf', fs.readFile, fs.listDir));
    assert.equal(err.file, '/d/x.conf');
    assert.equal(err.line, 2);
    assert.match(err.message, /^\/d\/x\.conf:2: max_keepalive: value 1 out of range/);
  });

  test('a duplicate across files is detected', () => {
    const fs = memoryFs({ '/d/x.conf': 'password_file /b\n' });
    const err = caught(() => parseConfig('password_file /a\ninclude_dir /d\n', 'main.conf', fs.readFile, fs.listDir));
    assert.equal(err.message, '/d/x.conf:1: duplicate password_file value (first set at main.conf:1)');
  });

  test('include_dir inside an included file is ignored with a warning (Mosquitto reads it from the main file only)', () => {
    const fs = memoryFs({ '/d/x.conf': 'include_dir /e\n', '/e/y.conf': 'max_queued_messages 9\n' });
    const loaded = parseConfig('listener 1883\ninclude_dir /d\n', 'main.conf', fs.readFile, fs.listDir);
    assert.equal(loaded.config.maxQueuedMessages, 1000);
    assert.match(loaded.warnings.join('\n'), /\/d\/x\.conf:1: include_dir is only read from the main configuration file/);
  });

  test('a missing directory is an error at the include_dir line', () => {
    const fs = memoryFs({});
    const err = caught(() => parseConfig('listener 1883\n\ninclude_dir /nope\n', 'main.conf', fs.readFile, fs.listDir));
    assert.equal(err.line, 3);
    assert.match(err.message, /include_dir: cannot list \/nope/);
  });

  test('works on the real file system, and skips the main file if it sits in the directory', () => {
    const dir = mkdtempSync(join(tmpdir(), 'culex-include-'));
    try {
      mkdirSync(join(dir, 'conf.d'));
      writeFileSync(join(dir, 'conf.d', 'a.conf'), 'workers 2\n');
      const main = join(dir, 'conf.d', 'main.conf');
      writeFileSync(main, `listener 1883\ninclude_dir ${join(dir, 'conf.d')}\n`);
      const loaded = loadConfigFile(main);
      assert.equal(loaded.config.workers, 2);
      assert.match(loaded.warnings.join('\n'), /include_dir skips the main configuration file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('loadConfigFile', () => {
  test('a missing file is a ConfigError at line 0', () => {
    const err = caught(() => loadConfigFile('/nonexistent/culex.conf'));
    assert.equal(err.line, 0);
    assert.match(err.message, /^\/nonexistent\/culex\.conf:0: cannot read configuration file/);
  });

  test('a directory is refused', () => {
    assert.match(caught(() => loadConfigFile(tmpdir())).message, /is a directory/);
  });

  test('malformed UTF-8 is refused (Mosquitto: "Malformed UTF-8 in configuration")', () => {
    const dir = mkdtempSync(join(tmpdir(), 'culex-utf8-'));
    try {
      const file = join(dir, 'bad.conf');
      writeFileSync(file, Buffer.from([0x6c, 0x69, 0x73, 0xff, 0x0a]));
      assert.match(caught(() => loadConfigFile(file)).message, /malformed UTF-8/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
