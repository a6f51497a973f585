import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, ConfigError } from '../../../src/config/load.ts';
import { GLOBAL_OPTIONS } from '../../../src/config/schema.ts';
import { LISTENER_OPTIONS } from '../../../src/config/listenerOptions.ts';
import { COMPAT_OPTION_NAMES } from '../../../src/config/compat.ts';

/** Deterministic PRNG (mulberry32) so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = [
  ...GLOBAL_OPTIONS.map((o) => o.name),
  ...LISTENER_OPTIONS.map((o) => o.name),
  ...COMPAT_OPTION_NAMES,
  'listener',
  'port',
  'bind_address',
  'include_dir',
  'log_type',
  'log_dest',
  'auth_opt_x',
];

const VALUES = [
  '', '0', '1', '-1', '20', '65535', '65536', '99999999999999999999', 'true', 'false', 'True', '1883',
  '127.0.0.1', '::1', '[::1]:9', 'host:1', '10k', '16M', '1G', '2GiB', '5q', '2h', '0d', '1y', 'x', '#', '# c',
  'all', 'none', 'debug', 'file', 'file /tmp/l', 'stdout', 'mqtt', 'websockets', 'ipv4', 'sync', 'batch',
  'drop_oldest', 'tlsv1.2', 'tlsv1.3', 'pem', 'a/+/b', 'a/#', '/path with space', '\u00e9\u00e8', '\u0000', '\t',
  '+', 'in', 'both 2', '0 /sock',
];

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)]!;
}

function randomLine(r: () => number): string {
  const roll = r();
  if (roll < 0.05) return '# comment';
  if (roll < 0.08) return '';
  if (roll < 0.15) {
    // raw garbage
    let s = '';
    const n = Math.floor(r() * 20);
    for (let i = 0; i < n; i++) s += String.fromCharCode(Math.floor(r() * 128));
    return s;
  }
  const key = roll < 0.2 ? pick(r, KEYS).slice(1) : pick(r, KEYS);
  const values: string[] = [];
  const count = Math.floor(r() * 3);
  for (let i = 0; i < count; i++) values.push(pick(r, VALUES));
  const sep = r() < 0.1 ? '\t' : ' ';
  return [key, ...values].join(sep);
}

test('random configuration text only ever fails with a ConfigError naming a real line', () => {
  const files: Record<string, string> = {};
  const readFile = (p: string): string => {
    const text = files[p];
    if (text === undefined) throw new Error('ENOENT');
    return text;
  };
  const listDir = (): string[] => ['a.conf', 'b.conf'];
  let accepted = 0;
  let rejected = 0;
  for (let seed = 1; seed <= 3000; seed++) {
    const r = rng(seed);
    const lineCount = 1 + Math.floor(r() * 6);
    const lines: string[] = [];
    for (let i = 0; i < lineCount; i++) lines.push(randomLine(r));
    files['x/a.conf'] = randomLine(r);
    files['x/b.conf'] = randomLine(r);
    const text = lines.join(r() < 0.2 ? '\r\n' : '\n');
    try {
      const { config, warnings } = parseConfig(text, 'fuzz.conf', readFile, listDir);
      assert.ok(Object.isFrozen(config), `seed ${seed}`);
      assert.ok(config.listeners.length > 0, `seed ${seed}`);
      for (const w of warnings) assert.match(w, /^(fuzz\.conf|\S+\.conf):\d+: /, `seed ${seed}`);
      accepted++;
    } catch (err) {
      if (!(err instanceof ConfigError)) {
        assert.fail(`seed ${seed} threw ${String(err)} for:\n${JSON.stringify(text)}`);
      }
      assert.ok(err.line >= 0 && err.line <= lineCount, `seed ${seed}: line ${err.line} of ${lineCount}`);
      assert.ok(err.message.startsWith(`${err.file}:${err.line}: `), `seed ${seed}: ${err.message}`);
      rejected++;
    }
  }
  // Both paths must be exercised for the test to mean something.
  assert.ok(accepted > 50, `only ${accepted} accepted`);
  assert.ok(rejected > 100, `only ${rejected} rejected`);
});
