/** bridge_bind_address pairing (src/bridge/bindPairing.ts), as Mosquitto's net__try_connect_tcp pairs addresses. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bindPairing, type ResolvedAddress } from '../../../src/bridge/bindPairing.ts';

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });
const v6 = (address: string): ResolvedAddress => ({ address, family: 6 });
/** A resolver that knows these names only, in this order. */
const names = (table: Record<string, readonly ResolvedAddress[]>) => async (name: string): Promise<readonly ResolvedAddress[]> => {
  const found = table[name];
  if (found === undefined) throw new Error(`getaddrinfo ENOTFOUND ${name}`);
  return found;
};

test('addresses on both sides are used as they are', async () => {
  assert.deepEqual(await bindPairing('192.0.2.7', '127.0.0.2', names({})), { host: '192.0.2.7', localAddress: '127.0.0.2' });
  assert.deepEqual(await bindPairing('2001:db8::7', '::1', names({})), { host: '2001:db8::7', localAddress: '::1' });
});

test("the first remote address a bind address shares a family with, in the resolver's order, from the first such bind address", async () => {
  const resolve = names({
    broker: [v6('2001:db8::7'), v4('192.0.2.7'), v4('192.0.2.8')],
    uplink: [v4('10.0.0.2'), v4('10.0.0.3')],
    both: [v6('fd00::2'), v4('10.0.0.2')],
  });
  // an IPv4 bind address skips the remote's IPv6 address, where Node would try it first and fail to bind
  assert.deepEqual(await bindPairing('broker', 'uplink', resolve), { host: '192.0.2.7', localAddress: '10.0.0.2' });
  assert.deepEqual(await bindPairing('broker', 'both', resolve), { host: '2001:db8::7', localAddress: 'fd00::2' });
  assert.deepEqual(await bindPairing('broker', '10.0.0.9', resolve), { host: '192.0.2.7', localAddress: '10.0.0.9' });
});

test('no address of a common family, or a name that does not resolve: the attempt fails saying why', async () => {
  const resolve = names({ broker: [v6('2001:db8::7')] });
  await assert.rejects(bindPairing('broker', '127.0.0.2', resolve), /bridge_bind_address 127\.0\.0\.2 \(127\.0\.0\.2\) has no address of the family of broker's \(2001:db8::7\)/);
  await assert.rejects(bindPairing('broker', 'nowhere', resolve), /ENOTFOUND nowhere/);
});
