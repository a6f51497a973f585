/**
 * The `culex` executable as a user runs it: bin/culex.mjs started by the system's Node (v20 here;
 * the launcher runs src/cli/main.ts on the pinned Node 24), never by the test's own Node.
 * --help, `culex passwd` against Mosquitto 2.0.11 and mosquitto_passwd, `culex check`, the start-up
 * lines, signals passed through the launcher, `npm start -- check`.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { culexOnly, freePort, tempDir, waitForPort } from '../helpers/broker.ts';

const repoRoot = path.resolve(new URL('../..', import.meta.url).pathname);
const LAUNCHER = path.join(repoRoot, 'bin/culex.mjs');

/** The first `node` on PATH outside node_modules (npm test puts node_modules/.bin first). */
function systemNode(): string {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'node');
    if (dir !== '' && !dir.includes('node_modules') && existsSync(candidate)) return candidate;
  }
  return process.execPath;
}
const NODE = systemNode();
const NODE_VERSION = spawnSync(NODE, ['--version']).stdout.toString().trim();

const tmp = tempDir('culex-cli-sys-');
const procs: ChildProcess[] = [];
after(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  tmp.cleanup();
});

/** `culex ARGS` to completion. */
function culex(args: readonly string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(NODE, [LAUNCHER, ...args], { cwd: tmp.dir, input, timeout: 60_000 });
  return { status: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** A long-running process with its output collected. */
function background(command: string, args: readonly string[]): { proc: ChildProcess; output(): string; exit: Promise<number | null> } {
  const proc = spawn(command, args, { cwd: tmp.dir, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr!.on('data', (d: Buffer) => { out += d.toString(); });
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, output: () => out, exit };
}

async function listening(p: ReturnType<typeof background>, port: number): Promise<void> {
  await Promise.race([
    waitForPort(port, 30_000),
    p.exit.then((code) => { throw new Error(`exited (${code}) before listening:\n${p.output()}`); }),
  ]);
}

/** Does a broker on `port` let `user` in with `password`? (mosquitto_pub's exit code) */
function logsIn(port: number, user: string, password: string): boolean {
  const r = spawnSync('mosquitto_pub', ['-p', String(port), '-i', `cli-${user}`, '-u', user, '-P', password, '-t', 'cli/auth', '-m', 'x'], { timeout: 20_000 });
  return r.status === 0;
}

const haveMosquitto = existsSync('/usr/sbin/mosquitto') && spawnSync('mosquitto_passwd', ['-h']).error === undefined &&
  spawnSync('mosquitto_pub', ['--help']).error === undefined;
const mosquittoSkip = haveMosquitto ? false : 'mosquitto, mosquitto_passwd or mosquitto_pub not installed (apt-get install mosquitto mosquitto-clients)';

describe(`culex command through bin/culex.mjs on the system node (${NODE_VERSION})`, { skip: culexOnly }, () => {
  test('--help lists every flag and every subcommand, exit 0', () => {
    const r = culex(['--help']);
    assert.equal(r.status, 0, r.stderr);
    for (const flag of ['-c', '--config-file', '-d', '--daemon', '-p', '--port', '-v', '--verbose', '-h', '--help', '--version']) {
      assert.match(r.stdout, new RegExp(`(^|[\\s,])${flag}[\\s,]`), `--help lacks ${flag}`);
    }
    for (const sub of ['passwd', 'check', 'import-mosquitto']) assert.match(r.stdout, new RegExp(`^ {2}${sub} `, 'm'), `--help lacks ${sub}`);
    for (const flag of ['-c', '-b', '-D', '-U', '-H', '-I']) assert.match(r.stdout, new RegExp(`passwd .*${flag}`), `passwd usage lacks ${flag}`);
  });

  test('--version prints the version of package.json; an unknown option exits 1 with the usage', () => {
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    assert.equal(culex(['--version']).stdout, `culex ${version}\n`);
    const bad = culex(['--nonsense']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /unknown option '--nonsense'/);
    assert.match(bad.stderr, /Usage: culex/);
  });

  test('Mosquitto 2.0.11 accepts a password file made by culex passwd; culex passwd -b/-D keep a file made by mosquitto_passwd', { skip: mosquittoSkip }, async () => {
    // culex passwd -c -b, then read by mosquitto_passwd (adds carol) and by Mosquitto itself
    const fromCulex = path.join(tmp.dir, 'pw-culex');
    assert.equal(culex(['passwd', '-c', '-b', fromCulex, 'alice', 'alice-pw']).status, 0);
    assert.equal(culex(['passwd', fromCulex, 'bob'], 'bob-pw\nbob-pw\n').status, 0);
    assert.equal(spawnSync('mosquitto_passwd', ['-b', fromCulex, 'carol', 'carol-pw']).status, 0);
    const port = await freePort();
    const conf = path.join(tmp.dir, 'mosquitto.conf');
    // `user`: Mosquitto started as root would otherwise switch to `mosquitto`, who cannot read a 0600 file
    writeFileSync(conf, `user ${userInfo().username}\nlistener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${fromCulex}\n`);
    const mosquitto = background('/usr/sbin/mosquitto', ['-c', conf]);
    await listening(mosquitto, port);
    assert.ok(logsIn(port, 'alice', 'alice-pw'), mosquitto.output());
    assert.ok(logsIn(port, 'bob', 'bob-pw'), mosquitto.output());
    assert.ok(logsIn(port, 'carol', 'carol-pw'), mosquitto.output());
    assert.ok(!logsIn(port, 'alice', 'wrong'));
    mosquitto.proc.kill('SIGTERM');
    await mosquitto.exit;

    // mosquitto_passwd -c -b, then culex passwd -b (update) and -D; a culex broker reads the result
    const fromMosquitto = path.join(tmp.dir, 'pw-mosquitto');
    assert.equal(spawnSync('mosquitto_passwd', ['-c', '-b', fromMosquitto, 'dave', 'dave-pw']).status, 0);
    assert.equal(spawnSync('mosquitto_passwd', ['-b', fromMosquitto, 'erin', 'erin-pw']).status, 0);
    assert.equal(culex(['passwd', '-b', fromMosquitto, 'dave', 'dave-new']).status, 0);
    assert.equal(culex(['passwd', '-D', fromMosquitto, 'erin']).status, 0);
    const missing = culex(['passwd', '-D', fromMosquitto, 'erin']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /User erin not found/);
    const culexPort = await freePort();
    const culexConf = path.join(tmp.dir, 'culex-auth.conf');
    writeFileSync(culexConf, `listener ${culexPort} 127.0.0.1\nallow_anonymous false\npassword_file ${fromMosquitto}\npersistence false\nworkers 1\n`);
    const broker = background(NODE, [LAUNCHER, '-c', culexConf]);
    await listening(broker, culexPort);
    assert.ok(logsIn(culexPort, 'dave', 'dave-new'), broker.output());
    assert.ok(!logsIn(culexPort, 'dave', 'dave-pw'));
    assert.ok(!logsIn(culexPort, 'erin', 'erin-pw'));
    broker.proc.kill('SIGTERM');
    assert.equal(await broker.exit, 0, broker.output());
  });

  test('culex passwd -U hashes a plain-text file in place; Mosquitto accepts the result', { skip: mosquittoSkip }, async () => {
    const file = path.join(tmp.dir, 'pw-plain');
    writeFileSync(file, 'frank:frank-pw\ngrace:grace-pw\n', { mode: 0o600 });
    const r = culex(['passwd', '-U', file]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(file, 'utf8'), /^frank:\$7\$101\$[^\n]+\ngrace:\$7\$101\$/);
    const port = await freePort();
    const conf = path.join(tmp.dir, 'mosquitto-u.conf');
    writeFileSync(conf, `user ${userInfo().username}\nlistener ${port} 127.0.0.1\nallow_anonymous false\npassword_file ${file}\n`);
    const mosquitto = background('/usr/sbin/mosquitto', ['-c', conf]);
    await listening(mosquitto, port);
    assert.ok(logsIn(port, 'frank', 'frank-pw'), mosquitto.output());
    assert.ok(logsIn(port, 'grace', 'grace-pw'), mosquitto.output());
    mosquitto.proc.kill('SIGTERM');
    await mosquitto.exit;
  });

  test('check on a good file prints the effective configuration and exits 0; nothing listens', async () => {
    const port = await freePort();
    const conf = path.join(tmp.dir, 'good.conf');
    writeFileSync(conf, `# good\nlistener ${port} 127.0.0.1\nmax_queued_messages 42\npersistence false\n`);
    const r = culex(['check', '-c', conf]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^listener ${port} 127\\.0\\.0\\.1$`, 'm'));
    assert.match(r.stdout, /^max_queued_messages 42$/m);
    // options the file does not set, with their defaults
    assert.match(r.stdout, /^max_inflight_messages 20$/m);
    assert.match(r.stdout, /^persistence false$/m);
    await assert.rejects(waitForPort(port, 200));
  });

  test('check on a bad file exits 1 naming file:line', () => {
    const conf = path.join(tmp.dir, 'bad.conf');
    writeFileSync(conf, 'listener 1883\nmax_queued_mesages 10\n');
    const r = culex(['check', '-c', conf]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`${conf.replace(/[.]/g, '\\.')}:2: .*max_queued_mesages`));
    assert.match(r.stderr, /max_queued_messages/, 'the closest known option is suggested');
  });

  test('check reads the password, ACL and TLS files the configuration names: each problem named, exit 1', () => {
    const pw = path.join(tmp.dir, 'bad-passwd');
    writeFileSync(pw, '# users\nbob:\n');
    const acl = path.join(tmp.dir, 'bad-acl');
    writeFileSync(acl, 'user alice\ntopic sideways sensors/#\n');
    const conf = path.join(tmp.dir, 'files.conf');
    writeFileSync(conf, `listener 1883\npassword_file ${pw}\nacl_file ${acl}\nlistener 8883\ncertfile ${tmp.dir}/missing.crt\nkeyfile ${tmp.dir}/missing.key\n`);
    const r = culex(['check', '-c', conf]);
    assert.equal(r.status, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`${pw}:2: .*bob`));
    assert.match(r.stderr, new RegExp(`${acl}:2: `));
    assert.match(r.stderr, /listener 8883: cannot read certfile '.*missing\.crt'/);
  });

  test('the first lines say the version and the configuration file, as Mosquitto\'s do; SIGTERM to the launcher stops the broker, exit 0', async () => {
    const port = await freePort();
    const conf = path.join(tmp.dir, 'start.conf');
    writeFileSync(conf, `listener ${port} 127.0.0.1\npersistence false\nworkers 1\n`);
    const broker = background(NODE, [LAUNCHER, '-c', conf]);
    await listening(broker, port);
    const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    assert.match(broker.output(), new RegExp(`^\\d+: culex version ${version.replace(/\./g, '\\.')} starting$`, 'm'));
    assert.match(broker.output(), new RegExp(`^\\d+: Config loaded from ${conf.replace(/\./g, '\\.')}\\.$`, 'm'));
    broker.proc.kill('SIGTERM');
    assert.equal(await broker.exit, 0, broker.output());
    assert.match(broker.output(), /SIGTERM received, stopping/);
  });

  test('SIGTERM while the broker is starting stops it once it runs: one line, exit 0', async () => {
    const port = await freePort();
    const conf = path.join(tmp.dir, 'early.conf');
    writeFileSync(conf, `listener ${port} 127.0.0.1\npersistence false\nworkers 2\n`);
    const broker = background(NODE, [LAUNCHER, '-c', conf]);
    // the configuration is read: the workers are not started yet
    for (let i = 0; i < 600 && !/culex version .* starting/.test(broker.output()); i++) await new Promise((r) => setTimeout(r, 50));
    broker.proc.kill('SIGTERM');
    assert.equal(await broker.exit, 0, broker.output());
    assert.equal(broker.output().match(/SIGTERM received, stopping/g)?.length, 1, broker.output());
  });

  test('-d, as Mosquitto\'s: the command exits 0 and the broker serves in a session of its own, its pid in pid_file; a bad configuration is still told on the terminal, exit 1', { skip: mosquittoSkip }, async () => {
    const port = await freePort();
    const conf = path.join(tmp.dir, 'daemon.conf');
    const pidFile = path.join(tmp.dir, 'daemon.pid');
    const logFile = path.join(tmp.dir, 'daemon.log');
    writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nworkers 1\npid_file ${pidFile}\nlog_dest file ${logFile}\n`);
    const r = culex(['-d', '-c', conf]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout + r.stderr, '', 'a daemon says nothing on the terminal');
    await waitForPort(port);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    try {
      // setsid: the daemon leads a session of its own, not the test's
      // /proc/PID/stat: "pid (comm) state ppid pgrp session …"; comm may hold spaces, so count from its ')'
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const sid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[3]);
      assert.equal(sid, pid);
      assert.equal(spawnSync('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(port), '-t', 'x', '-m', 'y']).status, 0);
      // the main thread logs "running" once every worker reports its listener, which may be after the port answers
      for (let i = 0; i < 200 && !/culex version .* running/.test(readFileSync(logFile, 'utf8')); i++) await new Promise((r) => setTimeout(r, 50));
      assert.match(readFileSync(logFile, 'utf8'), /culex version .* running/);
    } finally {
      process.kill(pid, 'SIGTERM');
    }
    for (let i = 0; i < 200 && existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(existsSync(pidFile), false, 'the daemon stopped cleanly and removed its pid file');
    assert.match(readFileSync(logFile, 'utf8'), /culex version .* terminating/);
    const badConf = path.join(tmp.dir, 'daemon-bad.conf');
    writeFileSync(badConf, `listener ${port} 127.0.0.1\nno_such_option 1\n`);
    const bad = culex(['-d', '-c', badConf]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /daemon-bad\.conf:2: unknown option 'no_such_option'/);
  });

  test('npm start -- check -c FILE reaches the same subcommand', { skip: spawnSync('npm', ['--version']).error === undefined ? false : 'npm not on PATH' }, () => {
    const conf = path.join(tmp.dir, 'npm.conf');
    writeFileSync(conf, 'listener 1883 127.0.0.1\nsys_interval 0\n');
    const r = spawnSync('npm', ['start', '--silent', '--', 'check', '-c', conf], { cwd: repoRoot, timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr.toString());
    assert.match(r.stdout.toString(), /^sys_interval 0$/m);
  });
});
