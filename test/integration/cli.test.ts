/**
 * The `culex` command as a process: `-p PORT`, `-c FILE`, configuration errors, SIGTERM.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Harness, Inbox, sleep, subscribe, uniqueId } from '../helpers/clients.ts';
import { PacketType } from '../helpers/raw.ts';
import { culexOnly, freePort, startCli, tempDir, type CliProcess } from '../helpers/broker.ts';
import { untilListening } from '../helpers/brokerProcess.ts';

const h = new Harness();
const tmp = tempDir('culex-cli-');
const procs: CliProcess[] = [];

after(async () => {
  await h.teardown();
  for (const p of procs) p.kill();
  await Promise.all(procs.map((p) => p.exit));
  tmp.cleanup();
});

function cli(args: readonly string[]): CliProcess {
  const p = startCli(args, tmp.dir);
  procs.push(p);
  return p;
}

describe('culex command', { skip: culexOnly }, () => {
  test('-p PORT listens on that port; clients publish and subscribe; SIGTERM exits 0', async () => {
    const port = await freePort();
    const p = cli(['-p', String(port)]);
    await untilListening(p, port);
    const url = `mqtt://127.0.0.1:${port}`;
    const sub = await h.connect(url, { protocolVersion: 5 });
    const inbox = new Inbox(sub);
    const topic = `cli/${uniqueId()}`;
    await subscribe(sub, topic, { qos: 1 });
    const pub = await h.connect(url, { protocolVersion: 4 });
    await pub.publishAsync(topic, 'via-cli', { qos: 1 });
    assert.equal((await inbox.waitFor(1))[0]!.payload.toString(), 'via-cli');
    await h.closeClients();
    p.proc.kill('SIGTERM');
    assert.deepEqual(await p.exit, { code: 0, signal: null });
  });

  test('SIGUSR1 and SIGUSR2 neither open the Node inspector nor end the broker', async () => {
    const port = await freePort();
    const p = cli(['-p', String(port)]);
    await untilListening(p, port);
    p.proc.kill('SIGUSR1');
    p.proc.kill('SIGUSR2');
    // the summary needs every worker's counters: wait for both lines (or the process to end)
    const deadline = Date.now() + 15_000;
    while (!(/SIGUSR1: \d+ clients/.test(p.output()) && /SIGUSR2: \d+ clients/.test(p.output())) && p.proc.exitCode === null && Date.now() < deadline) await sleep(50);
    assert.equal(p.proc.exitCode, null, p.output());
    assert.doesNotMatch(p.output(), /Debugger listening/);
    assert.match(p.output(), /SIGUSR1: \d+ clients connected/);
    assert.match(p.output(), /SIGUSR2: \d+ clients connected/);
    // still serving
    const c = await h.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4 });
    await c.endAsync();
    p.proc.kill('SIGTERM');
    assert.deepEqual(await p.exit, { code: 0, signal: null });
  });

  test('-c FILE: the listener of the file is used; a connected 5.0 client gets DISCONNECT 0x8B on SIGTERM', async () => {
    const port = await freePort();
    const conf = path.join(tmp.dir, 'ok.conf');
    writeFileSync(conf, `# test configuration\nlistener ${port} 127.0.0.1\npersistence false\nallow_anonymous true\n`);
    const p = cli(['-c', conf]);
    await untilListening(p, port);
    const { client: r } = await h.rawConnected(port, { version: 5 });
    p.proc.kill('SIGTERM');
    const got = await r.expectClosed(15000);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.type, PacketType.DISCONNECT);
    assert.equal(got[0]!.reasonCode, 0x8b, 'Server shutting down');
    assert.deepEqual(await p.exit, { code: 0, signal: null });
  });

  test('-c FILE with an unknown option exits non-zero and names the line', async () => {
    const port = await freePort();
    const conf = path.join(tmp.dir, 'bad.conf');
    writeFileSync(conf, `listener ${port} 127.0.0.1\npersistence false\nmax_queued_mesages 10\n`);
    const p = cli(['-c', conf]);
    const { code } = await p.exit;
    assert.notEqual(code, 0);
    assert.match(p.output(), /\b3\b/, `output names line 3: ${p.output()}`);
    assert.match(p.output(), /max_queued_mesages/);
  });

  test('-c FILE with a bad value exits non-zero and names the line', async () => {
    const conf = path.join(tmp.dir, 'badvalue.conf');
    writeFileSync(conf, `persistence false\nmax_inflight_messages lots\n`);
    const p = cli(['-c', conf]);
    const { code } = await p.exit;
    assert.notEqual(code, 0);
    assert.match(p.output(), /\b2\b/, `output names line 2: ${p.output()}`);
  });

  test('-c with a missing file exits non-zero', async () => {
    const p = cli(['-c', path.join(tmp.dir, 'does-not-exist.conf')]);
    assert.notEqual((await p.exit).code, 0);
  });
});
