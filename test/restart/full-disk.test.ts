/**
 * A full disk during operation: the broker refuses new QoS 1/2 publishes with a reason code
 * (v5 0x97 Quota exceeded; 3.1.1 cannot say it, so the connection is closed) instead of
 * acknowledging what it cannot store, keeps serving QoS 0, and accepts QoS 1/2 again once
 * there is room. Nothing it acknowledged is lost. Needs a tmpfs (root); skipped otherwise.
 */
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { culexOnly, startCli } from '../helpers/broker.ts';
import { brokerDir, cleanupBrokerProcesses, startBrokerProcess } from '../helpers/brokerProcess.ts';
import { fillUp, mountTmpfs, unmountAll } from '../helpers/disk.ts';
import { PacketType, pk, RawClient, receivePublishes } from '../helpers/raw.ts';

const mounts: string[] = [];
after(() => {
  unmountAll(mounts);
  cleanupBrokerProcesses();
});


/** A broker whose data directory is a 6 MB tmpfs; undefined (test skipped) where no tmpfs can be mounted. */
async function brokerOnTmpfs(t: TestContext, extra: readonly string[]): Promise<{ dir: string; port: number; conf: string } | undefined> {
  const b = await brokerDir(extra);
  const mnt = path.join(b.dir, 'data');
  if (!mountTmpfs(mnt, '6m')) {
    t.skip('cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)');
    return undefined;
  }
  mounts.push(mnt);
  return b;
}

/** An offline persistent v5 subscriber on full/#: every QoS 1 message is stored for it. Returns its CONNECT fields. */
async function offlineSubscriber(port: number, clientId: string): Promise<pk.ConnectFields> {
  const fields = { version: 5 as const, clientId, clean: false, properties: [{ id: pk.Prop.SessionExpiryInterval, value: 3600 }] };
  const sub = (await RawClient.connected(port, fields)).client;
  sub.send(pk.subscribe(1, [{ filter: 'full/#', qos: 1 }], 5));
  await sub.expect(PacketType.SUBACK);
  sub.socket.destroy();
  return fields;
}

/** QoS 1 PUBLISH from a raw client; resolves with the PUBACK reason code, or 'closed'. */
async function publishQos1(c: RawClient, packetId: number, payload: Buffer, version: 4 | 5): Promise<number | 'closed'> {
  c.send(pk.publish({ version, topic: 'full/x', payload, qos: 1, packetId }));
  try {
    const ack = await c.expect(PacketType.PUBACK, 10000);
    assert.equal(ack.packetId, packetId);
    return ack.reasonCode ?? 0;
  } catch (err) {
    if (c.isClosed) return 'closed';
    throw err;
  }
}

test('on a full disk QoS 1 publishes are refused with 0x97 (3.1.1: closed), QoS 0 still flows, and after space is freed they are accepted; nothing acknowledged is lost', { skip: culexOnly, timeout: 120000 }, async (t) => {
  const where = await brokerOnTmpfs(t, ['max_queued_messages 0']);
  if (where === undefined) return;
  const { dir, port, conf } = where;
  const mnt = path.join(dir, 'data');
  const broker = await startBrokerProcess(conf, dir, port);
  const sessionFields = await offlineSubscriber(port, `full-sub-${process.pid}`);

  const pub = (await RawClient.connected(port, { version: 5, clientId: `full-pub-${process.pid}` })).client;
  const payload = Buffer.alloc(2000, 7);
  const acked: number[] = [];
  let id = 1;
  for (; id <= 50; id++) {
    assert.equal(await publishQos1(pub, id, Buffer.concat([Buffer.from(`${id}:`), payload]), 5), 0, 'stored before the disk fills');
    acked.push(id);
  }
  const filler = fillUp(mnt);
  let refused = 0;
  // until the store fails: the failing commit is answered 0x97 (Quota exceeded), as every one after it
  for (; id < 20000 && refused === 0; id++) {
    const rc = await publishQos1(pub, id, Buffer.concat([Buffer.from(`${id}:`), payload]), 5);
    assert.notEqual(rc, 'closed');
    if ((rc as number) < 0x80) acked.push(id);
    else refused = rc as number;
  }
  assert.equal(refused, 0x97, `first refusal 0x${refused.toString(16)}`);
  t.diagnostic(`${acked.length} messages acknowledged before the disk was full (50 of them before it was filled up); the next one got 0x${refused.toString(16)}`);
  assert.equal(await publishQos1(pub, id++, payload, 5), 0x97, 'v5: Quota exceeded while the disk is full');
  // 3.1.1 has no way to refuse one message: the connection is closed, nothing is acknowledged
  const v3 = (await RawClient.connected(port, { version: 4, clientId: `full-v3-${process.pid}` })).client;
  assert.equal(await publishQos1(v3, 1, payload, 4), 'closed');
  // QoS 0 is not stored: it still flows
  const watcher = (await RawClient.connected(port, { version: 5, clientId: `full-watch-${process.pid}` })).client;
  watcher.send(pk.subscribe(1, [{ filter: 'full/zero', qos: 0 }], 5));
  await watcher.expect(PacketType.SUBACK);
  pub.send(pk.publish({ version: 5, topic: 'full/zero', payload: 'still here', qos: 0 }));
  const [zero] = await receivePublishes(watcher, 1);
  assert.equal(zero!.payload!.toString(), 'still here');

  // room again: the store notices (it probes) and QoS 1 is accepted again
  rmSync(filler);
  let rc: number | 'closed' = 0x97;
  const deadline = Date.now() + 60000;
  while (rc === 0x97 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    rc = await publishQos1(pub, id, Buffer.concat([Buffer.from(`${id}:`), payload]), 5);
    if (rc !== 0x97) acked.push(id);
    id++;
  }
  assert.ok(rc === 0 || rc === 0x10, `accepted again (reason 0x${Number(rc).toString(16)})`);
  t.diagnostic(`accepted again ${Math.round((Date.now() - (deadline - 60000)) / 100) / 10} s after space was freed`);
  pub.socket.destroy();
  watcher.socket.destroy();

  // the subscriber gets every message the broker acknowledged
  const back = await RawClient.connected(port, sessionFields);
  assert.equal(back.connack.sessionPresent, true);
  const got = new Set<number>();
  const ids = new Set(acked);
  const until = Date.now() + 30000;
  while ([...ids].some((n) => !got.has(n)) && Date.now() < until) {
    const [p] = await receivePublishes(back.client, 1, true, Math.max(1, until - Date.now())).catch(() => [undefined]);
    if (p !== undefined) got.add(Number(p.payload!.toString().split(':')[0]));
  }
  assert.deepEqual([...ids].filter((n) => !got.has(n)), [], `acknowledged messages missing (of ${acked.length})`);
  back.client.socket.destroy();
  broker.proc.kill('SIGTERM');
  await broker.exit;
});

test('a full disk at start is a clear error naming the location, not a crash', { skip: culexOnly, timeout: 60000 }, async (t) => {
  const { dir, conf } = await brokerDir();
  const mnt = path.join(dir, 'data');
  if (!mountTmpfs(mnt, '2m')) {
    t.skip('cannot mount a tmpfs here (needs root or CAP_SYS_ADMIN)');
    return;
  }
  mounts.push(mnt);
  fillUp(mnt);
  const p = startCli(['-c', conf], dir);
  const { code, signal } = await p.exit;
  // LMDB would have died of SIGBUS touching its lock file on a full file system
  assert.equal(signal, null, p.output());
  assert.equal(code, 1, p.output());
  assert.match(p.output(), /cannot start: persistence store .*data.*: no space left/);
});

test('a store that filled the disk gets out of "full" by itself once its queue drains (the data file does not shrink), and starts again on that directory', { skip: culexOnly, timeout: 180000 }, async (t) => {
  const where = await brokerOnTmpfs(t, ['max_queued_messages 0', 'workers 1']);
  if (where === undefined) return;
  const { dir, port, conf } = where;
  let broker = await startBrokerProcess(conf, dir, port);
  const sessionFields = await offlineSubscriber(port, `drain-sub-${process.pid}`);

  // the queue fills the file system: the data file grows until the store refuses
  const pub = (await RawClient.connected(port, { version: 5, clientId: `drain-pub-${process.pid}` })).client;
  const payload = Buffer.alloc(2000, 7);
  let id = 1;
  let acked = 0;
  let refused = 0;
  for (; id < 20000 && refused === 0; id++) {
    const rc = await publishQos1(pub, id, payload, 5);
    assert.notEqual(rc, 'closed');
    if ((rc as number) < 0x80) acked++;
    else refused = rc as number;
  }
  assert.equal(refused, 0x97, 'the first refusal says Quota exceeded');
  t.diagnostic(`${acked} messages stored before the store refused`);

  // the subscriber takes every message: the pages are free inside the file, the file system stays full
  const back = await RawClient.connected(port, sessionFields);
  await receivePublishes(back.client, acked, true, 60000);
  back.client.socket.destroy();
  let rc: number | 'closed' = 0x97;
  const deadline = Date.now() + 60000;
  while (rc === 0x97 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    rc = await publishQos1(pub, id++, payload, 5);
  }
  assert.ok(rc === 0 || rc === 0x10, `accepted again after the drain (reason 0x${Number(rc).toString(16)})`);
  pub.socket.destroy();

  // and a restart on this directory (file system still below the reserve) is not refused
  broker.proc.kill('SIGTERM');
  await broker.exit;
  broker = await startBrokerProcess(conf, dir, port);
  const again = (await RawClient.connected(port, { version: 5, clientId: `drain-pub2-${process.pid}` })).client;
  const after = await publishQos1(again, 1, payload, 5);
  assert.ok(after === 0 || after === 0x10, `QoS 1 accepted after the restart (reason 0x${Number(after).toString(16)})`);
  again.socket.destroy();
  broker.proc.kill('SIGTERM');
  await broker.exit;
});
