/**
 * Start-up check that a configured listener port is free. Workers bind with SO_REUSEPORT, and
 * Linux lets any process of the same user join such a port: a second broker started on a port
 * in use would silently take a share of its connections. So a start is refused, as Mosquitto's
 * "Address already in use", when a socket already listens where the listener would: on its
 * port, at its address or a wildcard one (either side); an IPv6-only listener counts IPv6 sockets
 * only. Read from /proc/net/tcp{,6} rather than probed with a bind: a probe that listens, even
 * briefly, is seen by whoever polls the port and answered with a reset. Elsewhere than Linux (no
 * such tables, no SO_REUSEPORT balancing) the workers' own binds report a conflict.
 * called from: main thread
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ListenerConfig } from '../config/types.ts';
import { bindHost, ipv6Only } from './tcp.ts';

const LISTEN = '0A';

/** The kernel's hex form of an address ("0100007F" for 127.0.0.1, 32 digits for IPv6), or undefined for a name. */
function kernelForm(host: string): string | undefined {
  if (isIP(host) === 4) return host.split('.').map((b) => Number(b).toString(16).padStart(2, '0').toUpperCase()).reverse().join('');
  return undefined;
}

const WILDCARDS = new Set(['00000000', '0'.repeat(32)]);

/** The local addresses (kernel hex form) of every listening TCP socket on `port`. */
function listenersOn(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  const found: string[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
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
      if (p === hexPort && address !== undefined) found.push(address);
    }
  }
  return found;
}

/** Returns when nothing listens where `listener` would (port 0: nothing to check). @throws Error naming the address */
export function checkPortFree(listener: ListenerConfig): void {
  if (listener.port === 0) return;
  const host = bindHost(listener);
  // every address, a name or an IPv6 literal: any listener on the port counts (IPv6 forms are not compared)
  const ours = host === undefined || host === '0.0.0.0' ? undefined : kernelForm(host);
  // an IPv6-only listener (socket_domain ipv6) shares its port with IPv4 sockets, as the kernel allows
  const seen = listenersOn(listener.port).filter((a) => !ipv6Only(listener) || a.length === 32);
  const conflict = seen.some((a) => ours === undefined || WILDCARDS.has(a) || a === ours);
  if (conflict) throw new Error(`listener ${host ?? '*'}:${listener.port}: Address already in use`);
}
