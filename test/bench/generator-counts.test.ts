/**
 * mqbench's counts are checked against an independent client: while the generator runs a small
 * fan-in at QoS 1 (its own subscriber on the same filter), `mosquitto_sub -C N` counts the same
 * messages. The broker is culex started through its CLI; CULEX_TEST_BROKER=mosquitto runs the
 * same check against /usr/sbin/mosquitto (to validate the generator itself).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brokerUnderTest, freePort, startTestBroker, tempDir, waitForPort } from '../helpers/broker.ts';

const repoRoot = path.resolve(new URL('../..', import.meta.url).pathname);
const benchDir = path.join(repoRoot, 'native-bench');

const PUBLISHERS = 20;
const PER_PUBLISHER = 50;
const TOTAL = PUBLISHERS * PER_PUBLISHER;

function missingTool(): string | false {
  if (spawnSync('make', ['--version']).status !== 0) return 'make is not installed';
  if (spawnSync('gcc', ['--version']).status !== 0) return 'gcc is not installed';
  if (spawnSync('mosquitto_sub', ['--help']).error) return 'mosquitto_sub is not installed (apt-get install mosquitto-clients)';
  return false;
}

/** A broker on a free loopback port: culex through its CLI, or Mosquitto. */
async function startBroker(dir: string): Promise<{ port: number; stop(): Promise<void> }> {
  if (brokerUnderTest === 'mosquitto') {
    const b = await startTestBroker({ maxInflightMessages: 0, maxQueuedMessages: 100000 });
    return { port: b.port, stop: () => b.stop() };
  }
  const port = await freePort();
  const conf = path.join(dir, 'culex.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false',
    'max_inflight_messages 0', 'max_queued_messages 100000', 'log_dest none', 'connection_messages false'].join('\n') + '\n');
  const cli = run(process.execPath, [path.join(repoRoot, 'src/cli/main.ts'), '-c', conf], dir);
  await Promise.race([
    waitForPort(port),
    cli.done.then((r) => { throw new Error(`culex exited:\n${r.out}${r.err}`); }),
  ]);
  return { port, stop: async () => { cli.proc.kill('SIGTERM'); await cli.done; } };
}

/** Runs a command, collecting its output; `done` resolves once it exited and its output is read. */
function run(cmd: string, args: readonly string[], cwd?: string) {
  const proc = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  proc.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const done = new Promise<{ code: number | null; out: string; err: string }>((resolve) =>
    proc.once('close', (code) => resolve({ code, out, err })));
  return { proc, done };
}

test('mqbench sent and received counts agree with mosquitto_sub -C N (fan-in, QoS 1)', { skip: missingTool(), timeout: 60000 }, async () => {
  const build = spawnSync('make', ['-s', '-C', benchDir], { encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  const bin = path.join(benchDir, 'bin', 'mqbench');
  assert.ok(existsSync(bin));

  const tmp = tempDir('bench-counts-');
  const broker = await startBroker(tmp.dir);
  const prefix = `bench-test/${process.pid}`;
  let sub: ReturnType<typeof run> | undefined;
  try {
    // the independent counter, subscribed first in a persistent session so that nothing it must
    // count can arrive before it listens (its stdout is block-buffered in a pipe: no SUBACK to wait for)
    const counterArgs = ['-p', String(broker.port), '-h', '127.0.0.1', '-q', '1', '-t', `${prefix}/#`, '-c', '-i', `counts-${process.pid}`];
    const subscribe = await run('mosquitto_sub', [...counterArgs, '-E']).done;
    assert.equal(subscribe.code, 0, `mosquitto_sub -E: ${subscribe.err}`);
    sub = run('mosquitto_sub', [...counterArgs, '-C', String(TOTAL), '-W', '40', '-F', '%t']);

    const gen = run(bin, ['--scenario', 'fan-in', '--port', String(broker.port), '--pubs', String(PUBLISHERS), '--subs', '1',
      '--qos', '1', '--count', String(PER_PUBLISHER), '--window', '4', '--warmup', '0', '--duration', '30', '--drain', '5',
      '--topic-prefix', prefix, '--progress', '0']);
    const g = await gen.done;
    const line = g.out.split('\n').find((l) => l.startsWith('{'));
    assert.ok(line, `mqbench printed no result: ${g.err}`);
    const r = JSON.parse(line) as Record<string, unknown>;
    const s = await sub.done;

    const topicLines = s.out.split('\n').filter((l) => l.startsWith(`${prefix}/`));
    const perTopic = new Map<string, number>();
    for (const t of topicLines) perTopic.set(t, (perTopic.get(t) ?? 0) + 1);

    assert.equal(r.ok, true, `mqbench run not valid: ${line}`);
    assert.equal(r.sent, TOTAL, 'mqbench sent');
    assert.equal(r.acked, TOTAL, 'mqbench PUBACKs');
    assert.equal(s.code, 0, `mosquitto_sub did not reach -C ${TOTAL}: ${s.err}`);
    assert.equal(topicLines.length, TOTAL, 'mosquitto_sub count');
    assert.equal(r.received, topicLines.length, 'mqbench subscriber count = mosquitto_sub count');
    assert.equal(r.unique, TOTAL);
    assert.equal(r.lost, 0);
    assert.equal(r.duplicates, 0);
    // the same messages: every publisher's topic seen PER_PUBLISHER times by mosquitto_sub
    assert.equal(perTopic.size, PUBLISHERS);
    for (const [topic, n] of perTopic) assert.equal(n, PER_PUBLISHER, topic);
  } finally {
    sub?.proc.kill('SIGTERM');
    await broker.stop();
    tmp.cleanup();
  }
});
