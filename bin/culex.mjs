#!/usr/bin/env node
/**
 * The `culex` executable (package.json "bin"): plain JavaScript, so any Node.js with npm can start
 * it (`npx culex …`), then src/cli/main.ts runs on Node.js 24 or later, which strips its types.
 * On Node >= 24 main.ts runs in this process. On an older Node (a system Node 20) it runs in a
 * child on the project's pinned Node (the `node` dev-dependency, node_modules/.bin/node): stdio
 * is shared, SIGINT/SIGTERM/SIGHUP/SIGUSR1/SIGUSR2 sent to this process are passed on, and this
 * process exits with the child's code (128 + the signal number when a signal ended it).
 * called from: command line
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIN_MAJOR = 24;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const main = join(root, 'src', 'cli', 'main.ts');

/** The pinned Node: the project's node_modules/.bin/node, else wherever the `node` package resolves. */
function pinnedNode() {
  const candidates = [join(root, 'node_modules', '.bin', 'node')];
  try {
    const pkg = createRequire(join(root, 'package.json')).resolve('node/package.json');
    candidates.push(join(dirname(pkg), 'bin', 'node'));
  } catch {
    // not installed (npm ci --omit=dev): no candidate from it
  }
  return candidates.find((c) => existsSync(c));
}

if (Number(process.versions.node.split('.')[0]) >= MIN_MAJOR) {
  await import(new URL('../src/cli/main.ts', import.meta.url).href);
} else {
  const node = pinnedNode();
  if (node === undefined) {
    process.stderr.write(
      `culex: needs Node.js ${MIN_MAJOR} or later; this is ${process.version} and the pinned one ` +
        `(the "node" dev-dependency) is not installed: run npm ci in ${root}\n`,
    );
    process.exit(1);
  }
  const child = spawn(node, ['--disable-sigusr1', main, ...process.argv.slice(2)], { stdio: 'inherit' });
  const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGUSR1', 'SIGUSR2'];
  const forward = (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  };
  for (const signal of forwarded) process.on(signal, forward);
  child.on('error', (err) => {
    process.stderr.write(`culex: cannot run ${node}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    process.exit(code ?? 128 + (constants.signals[signal] ?? 0));
  });
}
