/**
 * The dynamic security file is replaced crash-safely: kill -9 at any moment leaves a complete
 * version (the old one or a newer one), never a torn file, and never one older than a save that
 * had completed. Also: the file keeps its permission bits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../../../../src/auth/dynsec/atomicWrite.ts';
import { parseDynsecFile } from '../../../../src/auth/dynsec/configFile.ts';
import { versionText } from './atomicVersions.ts';
import { nodeBin } from '../../persistence/helpers.ts';

const writer = fileURLToPath(new URL('./atomicWriter.ts', import.meta.url));

/** Runs the writer and SIGKILLs it `delayMs` after it said ready; returns the last version it reported saved. */
function runAndKill(file: string, delayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(nodeBin, [writer, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let saved = 0;
    let rest = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (line === 'ready') setTimeout(() => child.kill('SIGKILL'), delayMs);
        if (line.startsWith('saved ')) saved = Number(line.slice(6));
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('exit', (_code, signal) => (signal === 'SIGKILL' ? resolve(saved) : reject(new Error(`writer ended by itself:\n${stderr}`))));
  });
}

test('kill -9 at random moments of a save leaves a whole version, never one older than the last completed save (8 rounds)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-dynsec-crash-'));
  const file = join(dir, 'dynsec.json');
  try {
    for (let round = 0; round < 8; round++) {
      writeFileSync(file, versionText(0));
      const saved = await runAndKill(file, randomInt(5, 120));
      const text = readFileSync(file, 'utf8');
      const state = parseDynsecFile(text, file); // throws on a torn file
      const version = Number(/^version (\d+)$/.exec(state.clients.get('user-0000')!.textname!)![1]);
      assert.equal(text, versionText(version), `round ${round}: the file is exactly version ${version}`);
      assert.ok(version >= saved, `round ${round}: version ${version} on disk, ${saved} reported saved`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the new file keeps the permission bits of the old one (it holds password hashes); a new one is 0600', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'culex-dynsec-mode-'));
  try {
    const file = join(dir, 'd.json');
    writeFileSync(file, '{}');
    chmodSync(file, 0o640);
    await writeFileAtomic(file, '{"a":1}');
    assert.equal(statSync(file).mode & 0o777, 0o640);
    assert.equal(readFileSync(file, 'utf8'), '{"a":1}');
    const fresh = join(dir, 'new.json');
    await writeFileAtomic(fresh, '{}');
    assert.equal(statSync(fresh).mode & 0o777, 0o600);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
