/**
 * The log lines Mosquitto users already parse, read back from `log_dest file` of a broker process
 * (2 workers): each line is "<stamp>: <text>" with the text Mosquitto 2.0.11 prints for the same
 * event (src/loop.c do_disconnect, handle_connect.c, handle_subscribe.c, handle_publish.c,
 * database.c). Also log_dest none, log_timestamp_format, and reopen() after logrotate moved the file.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { brokerDir, cleanupBrokerProcesses, startBrokerProcess } from '../helpers/brokerProcess.ts';
import { culexOnly, startTestBroker, tempDir, writePasswordFile } from '../helpers/broker.ts';
import { RawClient, PacketType, pk } from '../helpers/raw.ts';
import { sleep } from '../helpers/clients.ts';

after(cleanupBrokerProcesses);

const STAMP = /^(\d+): (.*)$/;

/** The texts of the file's lines (the stamp checked and removed). */
function texts(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '').map((l) => {
    const m = STAMP.exec(l);
    assert.ok(m !== null, `not "<epoch seconds>: text": ${l}`);
    return m[2]!;
  });
}

/** Waits until the file has a line equal to `line` (or matching it); returns every text. */
async function waitForLine(file: string, line: string | RegExp, timeoutMs = 10000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const all = texts(file);
    if (all.some((t) => (typeof line === 'string' ? t === line : line.test(t)))) return all;
    if (Date.now() > deadline) throw new Error(`no line ${String(line)} in ${file}; it has:\n${all.join('\n')}`);
    await sleep(50);
  }
}

describe('Mosquitto log lines in log_dest file', { skip: culexOnly }, () => {
  let file = '';
  let port = 0;

  test('broker process with log_dest file, log_type subscribe/unsubscribe/debug, a password file and an ACL', async () => {
    const { dir } = tempDir('culex-logs-');
    file = path.join(dir, 'culex.log');
    const passwd = writePasswordFile(dir, { u1: 'p1' });
    const acl = path.join(dir, 'acl');
    writeFileSync(acl, 'user u1\ntopic read #\ntopic write a/#\n');
    const b = await brokerDir([
      `password_file ${passwd}`, `acl_file ${acl}`, `log_dest file ${file}`, 'max_queued_messages 1',
      'log_type error', 'log_type warning', 'log_type notice', 'log_type information', 'log_type subscribe', 'log_type unsubscribe', 'log_type debug',
    ]);
    port = b.port;
    await startBrokerProcess(b.conf, b.dir, b.port);
  });

  test('Mosquitto: "New connection from …", "New client connected from … (p2, c1, k60)." then "Client X disconnected." for a DISCONNECT', async () => {
    const { client } = await RawClient.connected(port, { clientId: 'log-disc' });
    client.send(pk.disconnect());
    await client.expectClosed();
    const all = await waitForLine(file, 'Client log-disc disconnected.');
    assert.ok(all.some((t) => /^New connection from 127\.0\.0\.1:\d+ on port \d+\.$/.test(t)), all.join('\n'));
    assert.ok(all.some((t) => /^New client connected from 127\.0\.0\.1:\d+ as log-disc \(p2, c1, k60\)\.$/.test(t)), all.join('\n'));
  });

  test('Mosquitto: "Client X closed its connection." when the client closes the socket without DISCONNECT', async () => {
    const { client } = await RawClient.connected(port, { clientId: 'log-close' });
    client.socket.end();
    await client.closed;
    await waitForLine(file, 'Client log-close closed its connection.');
  });

  test('Mosquitto: "Client X has exceeded timeout, disconnecting." after 1.5 × keep alive without a packet', async () => {
    const { client } = await RawClient.connected(port, { clientId: 'log-keep', keepalive: 1 });
    await client.expectClosed(10000);
    await waitForLine(file, 'Client log-keep has exceeded timeout, disconnecting.');
  });

  test('Mosquitto: "Client <unknown> disconnected, not authorised." for a wrong password', async () => {
    const client = await RawClient.open(port);
    client.send(pk.connect({ clientId: 'log-bad', username: 'u1', password: 'wrong' }));
    const connack = await client.expect(PacketType.CONNACK);
    assert.notEqual(connack.reasonCode, 0);
    await client.expectClosed();
    await waitForLine(file, 'Client <unknown> disconnected, not authorised.');
  });

  test('Mosquitto: "Client <unknown> disconnected due to protocol error." when the first packet is not CONNECT', async () => {
    const client = await RawClient.open(port);
    client.send(pk.pingreq());
    await client.expectClosed();
    await waitForLine(file, 'Client <unknown> disconnected due to protocol error.');
  });

  test('Mosquitto (log_type debug): "Denied PUBLISH from X (d0, q1, r0, m7, \'topic\', ... (2 bytes))"; (subscribe/unsubscribe): "X 1 a/#", "X a/#"', async () => {
    const { client } = await RawClient.connected(port, { clientId: 'log-user', username: 'u1', password: 'p1' });
    client.send(pk.publish({ topic: 'denied/x', payload: 'hi', qos: 1, packetId: 7 }));
    await client.expect(PacketType.PUBACK);
    client.send(pk.subscribe(1, [{ filter: 'a/#', qos: 1 }]));
    await client.expect(PacketType.SUBACK);
    client.send(pk.unsubscribe(2, ['a/#']));
    await client.expect(PacketType.UNSUBACK);
    await waitForLine(file, "Denied PUBLISH from log-user (d0, q1, r0, m7, 'denied/x', ... (2 bytes))");
    await waitForLine(file, 'log-user 1 a/#');
    await waitForLine(file, 'log-user a/#');
    client.destroy();
  });

  test('Mosquitto: "Client X already connected, closing old connection." when a second connection takes the client id', async () => {
    const first = await RawClient.connected(port, { clientId: 'log-twice' });
    const second = await RawClient.connected(port, { clientId: 'log-twice' });
    await first.client.expectClosed();
    await waitForLine(file, 'Client log-twice already connected, closing old connection.');
    second.client.destroy();
  });

  test('Mosquitto: "Outgoing messages are being dropped for client X." once per drop episode, again after the client reconnected', async () => {
    const sub = await RawClient.connected(port, { clientId: 'log-off', clean: false, username: 'u1', password: 'p1' });
    sub.client.send(pk.subscribe(1, [{ filter: 'a/#', qos: 1 }]));
    await sub.client.expect(PacketType.SUBACK);
    sub.client.socket.end();
    await sub.client.closed;
    const pub = await RawClient.connected(port, { clientId: 'log-pub', username: 'u1', password: 'p1' });
    const burst = async (first: number) => {
      for (let i = 0; i < 4; i++) {
        pub.client.send(pk.publish({ topic: 'a/b', payload: 'x', qos: 1, packetId: first + i }));
        await pub.client.expect(PacketType.PUBACK);
      }
    };
    const line = 'Outgoing messages are being dropped for client log-off.';
    await burst(1);
    await waitForLine(file, line);
    await burst(10);
    await sleep(300);
    assert.equal(texts(file).filter((t) => t === line).length, 1, 'one line for one episode');
    const again = await RawClient.connected(port, { clientId: 'log-off', clean: false, username: 'u1', password: 'p1' });
    await again.client.expect(PacketType.PUBLISH);
    again.client.socket.end();
    await again.client.closed;
    await waitForLine(file, 'Client log-off closed its connection.');
    await burst(20);
    const deadline = Date.now() + 10000;
    while (texts(file).filter((t) => t === line).length < 2) {
      assert.ok(Date.now() < deadline, 'a second episode after the reconnect is logged again');
      await sleep(50);
    }
    pub.client.destroy();
  });
});

describe('Mosquitto log_dest none and log_timestamp_format', { skip: culexOnly }, () => {
  test('Mosquitto log_dest none (after a file destination): no file and no log line on stdout/stderr, whatever log_type says', async () => {
    const b = await brokerDir([`log_dest file ${path.join('never.log')}`, 'log_dest none', 'log_type all']);
    const p = await startBrokerProcess(b.conf, b.dir, b.port);
    const { client } = await RawClient.connected(b.port, { clientId: 'quiet' });
    client.send(pk.subscribe(1, [{ filter: 't', qos: 0 }]));
    await client.expect(PacketType.SUBACK);
    client.send(pk.disconnect());
    await client.expectClosed();
    await sleep(300);
    assert.equal(existsSync(path.join(b.dir, 'never.log')), false);
    assert.doesNotMatch(p.output(), /New client connected|quiet 0 t|disconnected/);
  });

  test('Mosquitto log_timestamp_format %Y-%m-%dT%H:%M:%S: each line starts with the local time then ": "', async () => {
    const b = await brokerDir([`log_dest file ${path.join('stamped.log')}`, 'log_timestamp_format %Y-%m-%dT%H:%M:%S']);
    await startBrokerProcess(b.conf, b.dir, b.port);
    const { client } = await RawClient.connected(b.port, { clientId: 'stamped' });
    client.send(pk.disconnect());
    await client.expectClosed();
    const file = path.join(b.dir, 'stamped.log');
    const deadline = Date.now() + 10000;
    let lines: string[] = [];
    while (!lines.some((l) => l.endsWith('Client stamped disconnected.'))) {
      assert.ok(Date.now() < deadline, `no disconnect line in:\n${lines.join('\n')}`);
      await sleep(50);
      lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((l) => l !== '') : [];
    }
    for (const l of lines) assert.match(l, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d: /);
  });
});

test('Logger.reopen() of a running broker: after logrotate renamed the file, the main thread and every worker write to a new file at the path', { skip: culexOnly }, async () => {
  const { dir, cleanup } = tempDir('culex-logs-');
  const file = path.join(dir, 'culex.log');
  const b = await startTestBroker({ workers: 2, logDest: [`file ${file}`], logTypes: ['notice'], connectionMessages: true });
  try {
    const first = await RawClient.connected(b.running!.ports[0]!, { clientId: 'before-rotate' });
    first.client.send(pk.disconnect());
    await first.client.expectClosed();
    await waitForLine(file, 'Client before-rotate disconnected.');
    renameSync(file, `${file}.1`);
    b.running!.log.reopen();
    await sleep(200); // the workers reopen when the message reaches them
    // clients land on either worker: several, so that both write after the reopen
    for (let i = 0; i < 6; i++) {
      const c = await RawClient.connected(b.running!.ports[0]!, { clientId: `after-rotate-${i}` });
      c.client.send(pk.disconnect());
      await c.client.expectClosed();
    }
    b.running!.log.notice('main thread after the rotation');
    for (let i = 0; i < 6; i++) await waitForLine(file, `Client after-rotate-${i} disconnected.`);
    await waitForLine(file, 'main thread after the rotation');
    assert.ok(texts(`${file}.1`).includes('Client before-rotate disconnected.'));
    assert.ok(!texts(`${file}.1`).some((t) => t.includes('after-rotate')));
  } finally {
    await b.stop();
    cleanup();
  }
});

test('Mosquitto log_dest topic: each line is published, QoS 2, not retained, to $SYS/broker/log/N (notice), M/subscribe (subscribe)…; debug lines are not', { skip: culexOnly }, async () => {
  const b = await startTestBroker({ workers: 2, logDest: ['topic'], logTypes: ['notice', 'subscribe', 'debug'], connectionMessages: true });
  try {
    const port = b.running!.ports[0]!;
    const { client: watcher } = await RawClient.connected(port, { clientId: 'log-watcher' });
    watcher.send(pk.subscribe(1, [{ filter: '$SYS/broker/log/#', qos: 2 }]));
    await watcher.expect(PacketType.SUBACK);
    // clients land on either worker: both workers' lines, and the main thread's, reach the watcher
    const ids = ['log-topic-0', 'log-topic-1', 'log-topic-2', 'log-topic-3'];
    for (const id of ids) {
      const { client } = await RawClient.connected(port, { clientId: id });
      client.send(pk.disconnect());
      await client.expectClosed();
    }
    b.running!.log.notice('a main thread notice');
    b.running!.log.debug('a main thread debug line');
    const want = new Set([...ids.map((id) => `Client ${id} disconnected.`), 'a main thread notice']);
    const seen: string[] = [];
    const deadline = Date.now() + 10000;
    while (want.size > 0) {
      assert.ok(Date.now() < deadline, `still missing ${[...want].join(', ')}; got:\n${seen.join('\n')}`);
      const p = await watcher.nextPacket();
      if (p.type === PacketType.PUBREL) {
        watcher.send(pk.ack(PacketType.PUBCOMP, p.packetId!));
        continue;
      }
      assert.equal(p.type, PacketType.PUBLISH);
      assert.equal(p.qos, 2);
      assert.equal(p.retain, false);
      watcher.send(pk.ack(PacketType.PUBREC, p.packetId!));
      const text = p.payload!.toString();
      const m = /^\d+: (.*)$/.exec(text);
      assert.ok(m !== null, text);
      seen.push(`${p.topic} ${m[1]}`);
      assert.ok(!m[1]!.includes('debug line'), 'debug lines are not published');
      if (p.topic === '$SYS/broker/log/N') want.delete(m[1]!);
    }
    assert.ok(seen.includes('$SYS/broker/log/M/subscribe log-watcher 2 $SYS/broker/log/#'), seen.join('\n'));
    watcher.destroy();
  } finally {
    await b.stop();
  }
});
