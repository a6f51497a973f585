/**
 * What a fresh clone and the image depend on: `npm ci` accepts the committed lock file, and the
 * Dockerfile matches config/docker.conf (every listener EXPOSEd, the health check on its metrics
 * listener, a non-root user). No network, no Docker daemon.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfigFile } from '../../src/config/load.ts';
import { tempDir } from '../helpers/broker.ts';

const repoRoot = path.resolve(new URL('../..', import.meta.url).pathname);
const tmp = tempDir('culex-install-');
after(() => tmp.cleanup());

interface LockEntry {
  readonly dependencies?: Record<string, string>;
  readonly optionalDependencies?: Record<string, string>;
}

/** Where Node (and npm) would find `name` from the package at `from` ('' = the root). */
function resolveIn(packages: Record<string, LockEntry>, from: string, name: string): boolean {
  let base = from;
  for (;;) {
    if (`${base === '' ? '' : `${base}/`}node_modules/${name}` in packages) return true;
    if (base === '') return false;
    const up = base.lastIndexOf('/node_modules/');
    base = up < 0 ? '' : base.slice(0, up);
  }
}

describe('install', () => {
  test('the lock file records every dependency of every locked package, optional ones for other platforms included (npm ci refuses it otherwise)', () => {
    const lock = JSON.parse(readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
    const missing: string[] = [];
    for (const [at, entry] of Object.entries(lock.packages)) {
      for (const name of [...Object.keys(entry.dependencies ?? {}), ...Object.keys(entry.optionalDependencies ?? {})]) {
        if (!resolveIn(lock.packages, at, name)) missing.push(`${at || '(root)'} -> ${name}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  const npm = spawnSync('npm', ['--version']).error === undefined;
  test('npm ci accepts package.json with the committed lock file (offline dry run on a copy)', { skip: npm ? false : 'npm not on PATH' }, () => {
    for (const f of ['package.json', 'package-lock.json']) copyFileSync(path.join(repoRoot, f), path.join(tmp.dir, f));
    const r = spawnSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--offline', '--no-audit', '--no-fund', '--cache', path.join(tmp.dir, 'cache')], {
      cwd: tmp.dir,
      timeout: 60_000,
    });
    assert.equal(r.status, 0, r.stderr.toString());
  });

  test('the Dockerfile EXPOSEs every listener of config/docker.conf, checks health on its metrics listener and runs as USER node', () => {
    const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    const { config } = loadConfigFile(path.join(repoRoot, 'config/docker.conf'));
    const exposed = new Set([...dockerfile.matchAll(/^EXPOSE (.+)$/gm)].flatMap((m) => m[1]!.trim().split(/\s+/)).map(Number));
    const opened = [...config.listeners.map((l) => l.port), ...(config.metricsListener === undefined ? [] : [config.metricsListener.port])];
    assert.deepEqual([...exposed].sort(), [...new Set(opened)].sort());
    assert.ok(config.metricsListener !== undefined, 'docker.conf opens the metrics listener the health check uses');
    assert.match(dockerfile, new RegExp(`^HEALTHCHECK [^\\n]*(\\\\\\n[^\\n]*)*127\\.0\\.0\\.1:${config.metricsListener.port}/healthz`, 'm'));
    assert.match(dockerfile, /^USER node$/m);
    assert.match(dockerfile, /^RUN npm ci --omit=dev\b/m);
    assert.match(dockerfile, /CMD \["-c", "\/app\/config\/docker\.conf"\]/);
  });
});
