/**
 * A listener's addresses (src/transport/bindAddresses.ts): what getaddrinfo(host, AI_PASSIVE)
 * gives Mosquitto for each form of `listener PORT [ADDRESS]` and `socket_domain`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';
import type { ListenerConfig } from '../../../src/config/types.ts';
import { bindAddresses, hostPort } from '../../../src/transport/bindAddresses.ts';

const listener = (host: string | undefined, socketDomain?: 'ipv4' | 'ipv6', bindInterface?: string): ListenerConfig => ({
  port: 1883, protocol: 'mqtt', maxConnections: -1,
  ...(host !== undefined ? { host } : {}), ...(socketDomain !== undefined ? { socketDomain } : {}),
  ...(bindInterface !== undefined ? { bindInterface } : {}),
});

/** the warning of a host that cannot listen on IPv6 */
const NO_IPV6 = /^(Address family not supported by protocol|cannot listen on IPv6 \(.*\): IPv4 only)$/m;

/** bindAddresses with the warnings it gave */
async function resolve(l: ListenerConfig): Promise<{ hosts: string[]; warnings: string[] }> {
  const warnings: string[] = [];
  const found = await bindAddresses(l, (w) => warnings.push(w));
  return { hosts: found.map((a) => `${a.family}:${a.host}`), warnings };
}

test('no address: 0.0.0.0 and :: (where the host has IPv6), or the one socket_domain names', async () => {
  const any = await resolve(listener(undefined));
  // a host without IPv6 warns and keeps IPv4, as Mosquitto's failed socket(AF_INET6)
  if (any.warnings.length === 0) assert.deepEqual(any.hosts, ['4:0.0.0.0', '6:::']);
  else {
    assert.deepEqual(any.hosts, ['4:0.0.0.0']);
    assert.match(any.warnings.join('\n'), NO_IPV6);
  }
  assert.deepEqual((await resolve(listener(undefined, 'ipv4'))).hosts, ['4:0.0.0.0']);
});

test('an address literal is bound as written; one of the family socket_domain excludes is refused, naming the listener', async () => {
  assert.deepEqual((await resolve(listener('127.0.0.2'))).hosts, ['4:127.0.0.2']);
  assert.deepEqual((await resolve(listener('127.0.0.2', 'ipv4'))).hosts, ['4:127.0.0.2']);
  await assert.rejects(resolve(listener('127.0.0.2', 'ipv6')), /^Error: listener 127\.0\.0\.2:1883: Error creating listener: Address family for hostname not supported\.$/);
});

test('a name: every address it resolves to, in the resolver\'s order, each once; a name that does not resolve is refused, naming the listener', async () => {
  const expected = [...new Set((await lookup('localhost', { all: true, order: 'verbatim' })).map((a) => `${a.family}:${a.address}`))];
  assert.deepEqual((await resolve(listener('localhost'))).hosts, expected);
  assert.deepEqual((await resolve(listener('localhost', 'ipv4'))).hosts, expected.filter((h) => h.startsWith('4:')));
  await assert.rejects(resolve(listener('no-such-host.invalid')), /^Error: listener no-such-host\.invalid:1883: Error creating listener: /);
});

test('hostPort writes IPv6 in brackets', () => {
  assert.equal(hostPort({ host: '::', family: 6 }, 1883), '[::]:1883');
  assert.equal(hostPort({ host: '0.0.0.0', family: 4 }, 1883), '0.0.0.0:1883');
});

test('bind_interface: each family\'s wildcard becomes the interface\'s first address of that family (name matched without case); a family it lacks is left out with Mosquitto\'s warning', async () => {
  const lo = networkInterfaces().lo ?? [];
  const v4 = lo.find((i) => i.family === 'IPv4')!;
  const v6 = lo.find((i) => i.family === 'IPv6');
  const any = await resolve(listener(undefined, undefined, 'LO'));
  const ipv6 = !NO_IPV6.test(any.warnings.join('\n'));
  assert.deepEqual(any.hosts, [`4:${v4.address}`, ...(ipv6 && v6 !== undefined ? [`6:${v6.address}`] : [])]);
  if (ipv6 && v6 === undefined) assert.deepEqual(any.warnings, ['Interface LO does not support IPv6 configuration.']);
  assert.deepEqual(await resolve(listener(v4.address, undefined, 'lo')), { hosts: [`4:${v4.address}`], warnings: [] });
});

test('bind_interface with a listener address that is not the interface\'s, or an interface that does not exist: warned as Mosquitto warns, and no start, naming the interface', async () => {
  const warnings: string[] = [];
  await assert.rejects(bindAddresses(listener('127.0.0.2', undefined, 'lo'), (w) => warnings.push(w)), /^Error: listener 127\.0\.0\.2:1883: Error creating listener: no address to bind on interface lo\.$/);
  assert.deepEqual(warnings, ['Interface address for lo does not match specified listener address (127.0.0.2).']);
  warnings.length = 0;
  await assert.rejects(bindAddresses(listener(undefined, 'ipv4', 'no-such-if0'), (w) => warnings.push(w)), /no address to bind on interface no-such-if0/);
  assert.deepEqual(warnings, ['Interface no-such-if0 does not support IPv4 configuration.']);
});
