import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, loadConfigFile, ConfigError } from '../../../src/config/load.ts';
import { defaultConfig } from '../../../src/config/defaults.ts';
import { GLOBAL_OPTIONS } from '../../../src/config/schema.ts';
import { LISTENER_OPTIONS } from '../../../src/config/listenerOptions.ts';
import { freePort } from '../../helpers/broker.ts';

const CONFIG_DIR = new URL('../../../config/', import.meta.url).pathname;

function configFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...configFiles(path));
    else if (entry.name.endsWith('.conf')) out.push(path);
  }
  return out;
}

describe('the shipped configuration files', () => {
  test('config/culex.conf parses to exactly defaultConfig(), without warnings', () => {
    const loaded = loadConfigFile(join(CONFIG_DIR, 'culex.conf'));
    assert.deepEqual(loaded.config, defaultConfig());
    assert.deepEqual(loaded.warnings, []);
  });

  test('config/culex.conf documents every option culex implements', () => {
    const text = readFileSync(join(CONFIG_DIR, 'culex.conf'), 'utf8');
    const documented = new Set(
      text
        .split('\n')
        .map((l) => /^#?([a-z_0-9.]+)(?: |$)/.exec(l)?.[1])
        .filter((k) => k !== undefined),
    );
    const aliases = new Set(['maximum_qos']);
    const names = [...GLOBAL_OPTIONS.map((o) => o.name), ...LISTENER_OPTIONS.map((o) => o.name)];
    for (const name of [...names, 'listener', 'log_type', 'log_dest', 'include_dir']) {
      if (aliases.has(name)) continue;
      assert.ok(documented.has(name), `config/culex.conf does not mention '${name}'`);
    }
  });

  for (const file of configFiles(CONFIG_DIR)) {
    test(`${file.slice(CONFIG_DIR.length)} parses without error or warning`, () => {
      const loaded = loadConfigFile(file);
      assert.deepEqual(loaded.warnings, []);
      assert.ok(loaded.config.listeners.length > 0);
    });
  }

  test('examples/smart-city.conf: authenticated TLS devices, durable queues, freshest readings kept', () => {
    const { config } = loadConfigFile(join(CONFIG_DIR, 'examples/smart-city.conf'));
    assert.equal(config.allowAnonymous, false);
    assert.equal(config.listeners[0]!.tls?.requireCertificate, true);
    assert.equal(config.persistenceDurability, 'sync');
    assert.equal(config.queueDropPolicy, 'drop_oldest');
    assert.equal(config.maxTopicAlias, 20);
  });
});

function mosquittoExampleText(): string | undefined {
  const plain = '/usr/share/doc/mosquitto/examples/mosquitto.conf';
  if (existsSync(plain)) return readFileSync(plain, 'utf8');
  if (existsSync(`${plain}.gz`)) return gunzipSync(readFileSync(`${plain}.gz`)).toString('utf8');
  return undefined;
}

describe("Mosquitto's own example configuration", () => {
  const example = mosquittoExampleText();
  const skip = example === undefined ? 'mosquitto example config not installed (apt-get install mosquitto)' : false;

  test('mosquitto.conf example parses without error', { skip }, () => {
    parseConfig(example!, 'mosquitto.conf');
  });

  test('every option the example documents is known to culex (uncommented one at a time)', { skip }, () => {
    const optionLines = example!.split('\n').filter((l) => /^#[a-z_][a-z_.0-9]*( |$)/.test(l));
    assert.ok(optionLines.length > 50, 'the example should document many options');
    for (const line of optionLines) {
      // Bridge options are only valid after a `connection` line.
      const text = `connection example\n${line.slice(1)}\n`;
      try {
        parseConfig(text, 'mosquitto.conf');
      } catch (err) {
        assert.ok(err instanceof ConfigError, `${line}: ${String(err)}`);
        assert.doesNotMatch(err.message, /unknown option/, line);
      }
    }
  });
});

describe('examples/mosquitto-compatible.conf', () => {
  const hasMosquitto = spawnSync('mosquitto', ['-h']).error === undefined;

  test('real Mosquitto starts with it', { skip: hasMosquitto ? false : 'mosquitto not installed' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'culex-mosq-'));
    try {
      const ports = [await freePort(), await freePort()];
      let n = 0;
      const text = readFileSync(join(CONFIG_DIR, 'examples/mosquitto-compatible.conf'), 'utf8')
        .replace(/^listener \d+/gm, () => `listener ${ports[n++]}`)
        .replace(/^persistence_location .*$/m, `persistence_location ${dir}/`);
      const file = join(dir, 'mosquitto.conf');
      writeFileSync(file, text);
      // culex reads the same text.
      assert.equal(parseConfig(text, file).config.listeners.length, 2);
      const child = spawn('mosquitto', ['-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
      let log = '';
      const outcome = await new Promise<string>((done) => {
        child.stderr.on('data', (chunk: Buffer) => {
          log += chunk.toString();
          if (/ running/.test(log)) done('running');
        });
        child.once('exit', () => done('exited'));
      });
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((done) => child.once('exit', done));
        child.kill('SIGKILL'); // SIGTERM right after start-up can be lost (Mosquitto resets its run flag)
        await exited;
      }
      assert.equal(outcome, 'running', log);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
