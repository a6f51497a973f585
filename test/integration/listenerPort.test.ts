/**
 * A listener's port belongs to one broker. Workers bind with SO_REUSEPORT, which Linux lets any
 * process of the same user share; a second broker (or any program) on a port in use must be
 * refused, as Mosquitto refuses it ("Address already in use"), not take a share of the clients.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Harness, Inbox, subscribe, uniqueId } from '../helpers/clients.ts';
import { culexOnly, freePort, startTestBroker } from '../helpers/broker.ts';

const h = new Harness();
after(() => h.teardown());

const listenerOn = (port: number) => ({ listeners: [{ port, host: '127.0.0.1', protocol: 'mqtt' as const, maxConnections: -1 }] });

/** The error a broker start with `overrides` fails with; a start that succeeds is stopped and fails the test. */
async function startError(overrides: Parameters<typeof startTestBroker>[0]): Promise<Error> {
  const outcome = await startTestBroker(overrides).then((b) => b, (err: Error) => err);
  if (outcome instanceof Error) return outcome;
  await outcome.stop();
  assert.fail('the broker started on a port in use');
}

describe('a listener port in use', { skip: culexOnly }, () => {
  test('a second broker on the port of a running one (2 workers each) is refused, and the first keeps every client', async () => {
    const port = await freePort();
    const first = await h.broker({ workers: 2, ...listenerOn(port) });
    assert.match((await startError({ workers: 2, ...listenerOn(port) })).message, new RegExp(`127\\.0\\.0\\.1:${port}: Address already in use`));
    // every connection reaches the first broker: a subscriber sees each publisher's message
    const topic = `port/${uniqueId()}`;
    const sub = await h.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5 });
    const inbox = new Inbox(sub);
    await subscribe(sub, topic, { qos: 1 });
    for (let i = 0; i < 20; i++) {
      const pub = await h.connect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4 });
      await pub.publishAsync(topic, String(i), { qos: 1 });
      pub.end();
    }
    assert.equal((await inbox.waitFor(20)).length, 20);
    assert.equal(first.running!.ports[0], port);
  });

  test('a port held by another program (no SO_REUSEPORT) is refused with its address', async () => {
    const other = net.createServer();
    await new Promise<void>((resolve) => other.listen({ port: 0, host: '127.0.0.1' }, resolve));
    const port = (other.address() as net.AddressInfo).port;
    try {
      assert.match((await startError(listenerOn(port))).message, new RegExp(`127\\.0\\.0\\.1:${port}: Address already in use`));
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  test('a program listening on the same port at another address (127.0.0.2) does not stop the start on 127.0.0.1', async () => {
    const other = net.createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => other.listen({ port, host: '127.0.0.2' }, resolve));
    try {
      const b = await h.broker(listenerOn(port));
      const c = await h.connect(`mqtt://127.0.0.1:${port}`);
      assert.ok(c.connected);
      await b.stop();
    } finally {
      await new Promise((resolve) => other.close(resolve));
    }
  });

  test('brokers started together on port 0 never share a port', async () => {
    const brokers = await Promise.all(Array.from({ length: 6 }, () => h.broker({ workers: 2 })));
    const ports = brokers.flatMap((b) => [...b.running!.ports, ...b.running!.workerPorts]);
    assert.equal(new Set(ports).size, ports.length, `ports handed out twice: ${ports.join(' ')}`);
  });
});
