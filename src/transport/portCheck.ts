/**
 * Start-up check that a configured listener port is free. Workers bind with SO_REUSEPORT, and
 * Linux lets any process of the same user join such a port: a second broker started on a port
 * in use would silently take a share of its connections. So a start is refused, as Mosquitto's
 * "Address already in use", when a socket already listens where one of the listener's addresses
 * would (bindAddresses.ts): on its port, at that address or a wildcard one (either side); an
 * IPv6 address (IPv6-only, as each of culex's) counts IPv6 sockets only, an IPv4 one counts IPv4
 * sockets and the IPv6 wildcard (which may be dual-stack). Read from /proc/net/tcp{,6} rather
 * than probed with a bind: a probe that listens, even briefly, is seen by whoever polls the port
 * and answered with a reset. Elsewhere than Linux (no
 * such tables, no SO_REUSEPORT balancing) the workers' own binds report a conflict.
 * called from: main thread
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ListenerConfig } from '../config/types.ts';
import type { BindAddress } from './bindAddresses.ts';

const LISTEN = '0A';

/** The kernel's hex form of an address ("0100007F" for 127.0.0.1, 32 digits for IPv6), or undefined for a name. */
function kernelForm(host: string): string | undefined {
  if (isIP(host) === 4) return host.split('.').map((b) => Number(b).toString(16).padStart(2, '0').toUpperCase()).reverse().join('');
  return undefined;
}

const V4_WILDCARD = '00000000';
const V6_WILDCARD = '0'.repeat(32);

/** The local addresses (kernel hex form) of every listening TCP socket on `port`, by IP version. */
function listenersOn(port: number): { v4: string[]; v6: string[] } {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found = { v4: [] as string[], v6: [] as string[] };
  for (const [table, into] of [['/proc/net/tcp', found.v4], ['/proc/net/tcp6', found.v6]] as const) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4 || fields[3] !== LISTEN) continue;
      const [address, p] = fields[1]!.split(':');
      if (p === hexPort && address !== undefined) into.push(address);
    }
  }
  return found;
}

/** Does a socket listening at one of `seen` stand where `address` would? */
function taken(address: BindAddress, seen: { v4: string[]; v6: string[] }): boolean {
  // IPv6 forms are not compared: any IPv6 socket on the port counts
  if (address.family === 6) return seen.v6.length > 0;
  const ours = address.host === '0.0.0.0' ? undefined : kernelForm(address.host);
  return seen.v4.some((a) => ours === undefined || a === V4_WILDCARD || a === ours) || seen.v6.includes(V6_WILDCARD);
}

/** Returns when nothing listens where `listener` would, at any of its `addresses` (port 0: nothing to check). @throws Error naming the address */
export function checkPortFree(listener: ListenerConfig, addresses: readonly BindAddress[]): void {
  if (listener.port === 0) return;
  const seen = listenersOn(listener.port);
  if (addresses.some((a) => taken(a, seen))) throw new Error(`listener ${listener.host ?? '*'}:${listener.port}: Address already in use`);
}
