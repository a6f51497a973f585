/**
 * Listener socket options with real connections: socket_domain (which IP family a listener
 * without an address takes) and set_tcp_nodelay (the accepted sockets' TCP_NODELAY).
 * test/unit/config/optionTable.test.ts points here.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { ListenerConfig } from '../../src/config/types.ts';
import { listen } from '../../src/transport/tcp.ts';
import { culexOnly, hasIpv6Loopback } from '../helpers/broker.ts';
import { Harness } from '../helpers/clients.ts';

const h = new Harness();
after(() => h.teardown());

/** Does a TCP connection to host:port open? */
function opens(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}


const ipv6 = await hasIpv6Loopback();

describe('socket_domain', { skip: culexOnly || (ipv6 ? false : 'no IPv6 loopback') }, () => {
  const listener = (socketDomain: 'ipv4' | 'ipv6' | undefined): ListenerConfig => ({
    port: 0, protocol: 'mqtt', maxConnections: -1, ...(socketDomain !== undefined ? { socketDomain } : {}),
  });

  test('socket_domain ipv4: the listener takes IPv4 clients only', async () => {
    const b = await h.broker({ listeners: [listener('ipv4')], workers: 1 });
    assert.equal(await opens('127.0.0.1', b.port), true);
    assert.equal(await opens('::1', b.port), false);
  });

  test('socket_domain ipv6: the listener takes IPv6 clients only (Mosquitto sets IPV6_V6ONLY)', async () => {
    // The port's IPv4 side is held here first: a port 0 chosen for an IPv6-only listener is not
    // reserved for IPv4, so another listener could take it. The broker must still bind (a
    // dual-stack :: would fail with EADDRINUSE) and IPv4 clients must reach this server, not it.
    let v4Accepted = 0;
    const v4 = net.createServer((s) => { v4Accepted++; s.destroy(); });
    await new Promise<void>((resolve) => v4.listen(0, '127.0.0.1', resolve));
    try {
      const port = (v4.address() as net.AddressInfo).port;
      const b = await h.broker({ listeners: [{ ...listener('ipv6'), port }], workers: 1 });
      assert.equal(b.port, port);
      assert.equal(await opens('::1', port), true);
      assert.equal(await opens('127.0.0.1', port), true);
      for (let i = 0; i < 50 && v4Accepted === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(v4Accepted, 1, 'the IPv4 connection reached the IPv4 server, not the broker');
    } finally {
      await new Promise((r) => v4.close(r));
    }
  });

  test('without socket_domain: both families', async () => {
    const b = await h.broker({ listeners: [listener(undefined)], workers: 1 });
    assert.equal(await opens('::1', b.port), true);
    assert.equal(await opens('127.0.0.1', b.port), true);
  });
});

describe('set_tcp_nodelay', { skip: culexOnly }, () => {
  for (const noDelay of [true, false]) {
    test(`set_tcp_nodelay ${noDelay}: accepted client sockets have TCP_NODELAY ${noDelay ? 'set' : 'unset'}`, async () => {
      let accepted: net.Socket | undefined;
      const server = await listen({ port: 0, host: '127.0.0.1', protocol: 'mqtt', maxConnections: -1 }, { host: '127.0.0.1', family: 4 }, 0, noDelay, () => true, (s) => { accepted = s; }, { accepted: () => {}, handshakeFailed: () => {}, certificateRefused: () => {} });
      try {
        const port = (server.address() as net.AddressInfo).port;
        assert.equal(await opens('127.0.0.1', port), true);
        for (let i = 0; i < 50 && accepted === undefined; i++) await new Promise((r) => setTimeout(r, 10));
        // Node keeps what it set with setsockopt(TCP_NODELAY) on the socket under this symbol
        const symbol = Object.getOwnPropertySymbols(accepted!).find((s) => s.description === 'kSetNoDelay');
        assert.ok(symbol !== undefined, 'Node records TCP_NODELAY on the socket');
        assert.equal((accepted as unknown as Record<symbol, unknown>)[symbol], noDelay);
      } finally {
        accepted?.destroy();
        await new Promise((r) => server.close(r));
      }
    });
  }
});
