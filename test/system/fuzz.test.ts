/**
 * Packet fuzzing over real sockets (test/helpers/fuzz/): culex in-process with 1 worker and with
 * 4 workers, and as a process through scripts/fuzz.ts, side by side for CULEX_FUZZ_SECONDS
 * (default 45). What a user would check: no worker exits and every worker answers, every fuzzed
 * connection is closed or answered (none outlives the broker's own CONNECT and keep-alive timers),
 * every packet the specification makes a refusal is refused, valid sessions get every answer, and
 * a sentinel client pair gets every one of its QoS 1 messages in order during and after.
 * The campaigns use seeds S, S+1 and S+2 (S random, or CULEX_FUZZ_SEED to replay them); a failure
 * names the session (`SEED:N`), which `node scripts/fuzz.ts --replay SEED:N` sends again.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import mqttPacket from 'mqtt-packet';
import type { Packet as MqttPacket } from 'mqtt-packet';
import { culexOnly, startTestBroker, tempDir } from '../helpers/broker.ts';
import { formatReport, runCampaign, type CampaignReport } from '../helpers/fuzz/campaign.ts';
import { planSession } from '../helpers/fuzz/plan.ts';
import { Rng } from '../helpers/fuzz/prng.ts';
import { Sentinel } from '../helpers/fuzz/sentinel.ts';
import { ValidGen, type Version } from '../helpers/fuzz/valid.ts';
import type { Target } from '../helpers/fuzz/wire.ts';
import { createLogger, type Logger } from '../../src/log.ts';

/** at least 10 s: the checks that each kind of answer was seen need a few thousand sessions */
const SECONDS = Math.max(10, Number(process.env.CULEX_FUZZ_SECONDS ?? 45) || 45);
const SEED = process.env.CULEX_FUZZ_SEED !== undefined ? Number(process.env.CULEX_FUZZ_SEED) >>> 0 : Math.floor(Math.random() * 0x1_0000_0000);
const REPO = path.resolve(new URL('../..', import.meta.url).pathname);
/** a hang of the test itself (not of a fuzzed connection) fails it instead of blocking the suite */
const TIMEOUT_MS = (SECONDS + 120) * 1000;

function parseAll(bytes: Buffer, version: Version): MqttPacket[] {
  const parser = mqttPacket.parser({ protocolVersion: version });
  const out: MqttPacket[] = [];
  parser.on('packet', (p: MqttPacket) => out.push(p));
  parser.on('error', (err: Error) => { throw err; });
  parser.parse(bytes);
  return out;
}

test('the fuzzer replays: one seed and session number give the same bytes, another session other bytes', () => {
  const opts = { targets: 3, maxTopicAlias: 10 };
  for (let n = 0; n < 200; n++) {
    const a = planSession(12345, n, opts);
    const b = planSession(12345, n, opts);
    assert.deepEqual(a.writes, b.writes, `session 12345:${n}`);
    assert.deepEqual(a.pauses, b.pauses);
  }
  assert.notDeepEqual(Buffer.concat(planSession(12345, 1, opts).writes), Buffer.concat(planSession(12345, 2, opts).writes));
});

test('the fuzzer writes every packet type a client may send, at levels 3.1, 3.1.1 and 5.0, and mqtt-packet reads them back', () => {
  for (const version of [3, 4, 5] as const) {
    const rng = new Rng(version);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const gen = new ValidGen(rng, { version, maxTopicAlias: 10, ephemeral: i % 2 === 0 });
      const gens = [gen.connect(), gen.publish(), gen.next(), gen.next(), gen.pubrel(), gen.subscribe(), gen.unsubscribe(), gen.pingreq(), gen.disconnect()];
      if (version === 5) gens.push(gen.auth());
      for (const g of gens) {
        const [p, ...rest] = parseAll(g.bytes, version);
        assert.equal(rest.length, 0);
        assert.ok(p, `level ${version}: ${g.bytes.toString('hex')} does not parse`);
        seen.add(p.cmd === 'publish' ? `publish qos ${p.qos}` : p.cmd);
        if (p.cmd === 'connect') assert.equal(p.protocolVersion, version);
      }
    }
    const expected = ['connect', 'publish qos 0', 'publish qos 1', 'publish qos 2', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'subscribe', 'unsubscribe', 'pingreq', 'disconnect'];
    if (version === 5) expected.push('auth');
    assert.deepEqual([...seen].sort(), expected.sort(), `level ${version}`);
  }
});

/** A main-thread logger that keeps errors: a worker that exits or dies is reported through it. */
function errorCollector(): { log: Logger; errors: string[] } {
  const errors: string[] = [];
  return {
    errors,
    log: {
      ...createLogger({ types: [], dest: [], connectionMessages: false }),
      error: (m, err) => errors.push(err === undefined ? m : `${m}: ${err instanceof Error ? err.stack : String(err)}`),
    },
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms).unref())]);
}

/** Fails with the whole report (seed, sessions to replay) when the campaign found anything. */
function assertClean(r: CampaignReport, label: string): void {
  assert.equal(r.violations.length, 0, `${label}: ${r.violations.length} sessions broke a rule (replay one with node scripts/fuzz.ts --replay SEED:N)\n${formatReport(r)}`);
}

/** The report must show that each kind of session was run and answered as it must be (so the test cannot pass on a broker that closes everything, or answers everything). */
function assertMeaningful(r: CampaignReport, label: string): void {
  const ends = Object.entries(r.byEnd);
  const count = (re: RegExp) => ends.filter(([k]) => re.test(k)).reduce((n, [, v]) => n + v, 0);
  assert.ok((r.byMode.valid ?? 0) > 0 && count(/^answered \(valid\)$/) === r.byMode.valid, `${label}: every valid session answered in full\n${formatReport(r)}`);
  assert.ok(count(/^closed after CONNACK 0x[89a-f]/) > 0, `${label}: some CONNECTs refused with a CONNACK code >= 0x80\n${formatReport(r)}`);
  assert.ok(count(/^closed after CONNACK 0x0[1-5]/) > 0, `${label}: some 3.1/3.1.1 CONNECTs refused with a return code\n${formatReport(r)}`);
  assert.ok(count(/^closed after DISCONNECT 0x8[12]/) > 0, `${label}: some v5 sessions closed with DISCONNECT 0x81/0x82\n${formatReport(r)}`);
  assert.ok(count(/^answered \(PINGRESP\)$/) > 0, `${label}: some fuzzed sessions still answered\n${formatReport(r)}`);
}

async function fuzzInProcess(t: TestContext, workers: number, seconds: number, seed: number): Promise<void> {
  const label = `${workers} worker${workers > 1 ? 's' : ''}`;
  const { log, errors } = errorCollector();
  const dir = workers > 1 ? tempDir('culex-fuzz-') : undefined;
  const broker = await startTestBroker({
    listeners: [
      { port: 0, host: '127.0.0.1', protocol: 'mqtt', maxConnections: -1 },
      { port: 0, host: '127.0.0.1', protocol: 'mqtt', maxConnections: -1, mountPoint: 'fz-mnt/' },
      { port: 0, host: '127.0.0.1', protocol: 'websockets', maxConnections: -1 },
    ],
    workers,
    // several workers: with persistence, so the journal and the store see the fuzzed sessions too
    persistence: dir !== undefined,
    persistenceLocation: dir?.dir ?? './data',
    logTypes: ['error'],
    logDest: ['stderr'],
  }, { log });
  const running = broker.running!;
  const [tcp, mounted, ws] = running.ports as [number, number, number];
  const targets: Target[] = [
    { name: `tcp:${tcp}`, kind: 'tcp', host: '127.0.0.1', port: tcp },
    { name: `tcp+mount_point:${mounted}`, kind: 'tcp', host: '127.0.0.1', port: mounted },
    { name: `ws:${ws}`, kind: 'ws', host: '127.0.0.1', port: ws },
  ];
  const sentinel = await Sentinel.start({ subUrl: `mqtt://127.0.0.1:${tcp}`, pubUrl: `ws://127.0.0.1:${ws}/mqtt`, topic: `sentinel/${seed}/${workers}`, intervalMs: 25 });
  /** every few seconds: every worker answers a stats request */
  const liveness: string[] = [];
  const probe = setInterval(() => {
    withTimeout(running.workerStats(), 10000, 'workerStats()').then(
      (s) => { if (s.length !== workers || s.some((x) => x === undefined)) liveness.push(`workerStats() answered from ${s.filter(Boolean).length} of ${workers} workers`); },
      (err: Error) => liveness.push(err.message),
    );
  }, 5000);
  try {
    const report = await runCampaign({ seed, seconds, targets, maxTopicAlias: broker.config.maxTopicAlias, concurrency: 16 });
    clearInterval(probe);
    await sentinel.finish(50, 20000);
    t.diagnostic(formatReport(report, `${label}: `));
    t.diagnostic(`${label}: sentinel ${sentinel.sent} sent, ${sentinel.received} received in order`);

    assert.deepEqual(errors, [], `${label}: the broker logged errors (a worker exited or died); seed ${seed}`);
    const stats = await withTimeout(running.workerStats(), 10000, 'workerStats() after the run');
    assert.equal(stats.length, workers);
    assert.deepEqual(liveness, [], `${label}: a worker stopped answering; seed ${seed}`);
    assert.deepEqual(sentinel.violations, [], `${label}: the sentinel clients; seed ${seed}`);
    assert.ok(sentinel.received >= 50, `${label}: the sentinel got its messages`);
    assertClean(report, label);
    assertMeaningful(report, label);
    assert.ok(stats.reduce((n, s) => n + (s.protocolErrors ?? 0), 0) > 0, `${label}: the broker counted protocol errors`);
    // every fuzzed and sentinel connection is closed now: none may stay counted as connected
    let connected = -1;
    for (let i = 0; i < 50 && connected !== 0; i++) {
      connected = (await running.stats()).clientsConnected ?? -1;
      if (connected !== 0) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(connected, 0, `${label}: clients still counted as connected after every connection closed; seed ${seed}`);
  } finally {
    clearInterval(probe);
    sentinel.destroy();
    await broker.stop();
    dir?.cleanup();
  }
}

describe(`packet fuzzing, seed ${SEED}, ${SECONDS} s`, { concurrency: true, skip: culexOnly }, () => {
  test('culex in-process with 1 worker: no crash, no hung connection, every refusal made, the sentinel loses nothing', { timeout: TIMEOUT_MS }, (t) => fuzzInProcess(t, 1, SECONDS, SEED));

  test('culex in-process with 4 workers and persistence: no crash, no hung connection, every refusal made, the sentinel loses nothing', { timeout: TIMEOUT_MS }, (t) => fuzzInProcess(t, 4, SECONDS, (SEED + 1) >>> 0));

  test('scripts/fuzz.ts against a culex process: no crash, no internal error in its log, no connection left counted', { timeout: TIMEOUT_MS }, async (t) => {
    const seconds = Math.max(5, Math.round(SECONDS / 3));
    const proc = spawn(process.execPath, [path.join(REPO, 'scripts/fuzz.ts'), '--seconds', String(seconds), '--workers', '2', '--seed', String((SEED + 2) >>> 0), '--concurrency', '6',
      // a Node warning is printed (and shown below) but fails only the long release run
      '--warnings', 'report'], {
      cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    proc.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    // SIGTERM: the script stops its broker process before it exits
    const stop = setTimeout(() => proc.kill('SIGTERM'), TIMEOUT_MS - 10000);
    const code = await new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c)));
    clearTimeout(stop);
    t.diagnostic(out.split('\n').filter((l) => /packets\/s|sentinel:|broker:|broker memory:|broker state|hung:|^WARNING/.test(l)).join('\n'));
    assert.equal(code, 0, `scripts/fuzz.ts failed (seed ${(SEED + 2) >>> 0}):\n${out}`);
    assert.match(out, /no internal errors or worker exits in its log/);
    assert.match(out, /clients connected 1 \(the one asking\)/);
    assert.match(out, /\d+ packets\/s/);
    assert.match(out, /^fuzz: OK$/m);
  });
});
