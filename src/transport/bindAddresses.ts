/**
 * The addresses a listener binds, one listening socket each, as Mosquitto's net__socket_listen_tcp
 * binds every address getaddrinfo(host, AI_PASSIVE) gives: without an address, 0.0.0.0 and ::
 * (or the one of its socket_domain); a name, every address it resolves to (`localhost`: 127.0.0.1
 * and ::1 where /etc/hosts has both). Every IPv6 socket is IPv6-only, as Mosquitto sets
 * IPV6_V6ONLY on each: an IPv4 client of a listener without an address reaches the 0.0.0.0
 * socket and is logged as 127.0.0.1, never as ::ffff:127.0.0.1. With `bind_interface`, each
 * address becomes the interface's first address of its family, as Mosquitto's
 * net__bind_interface: a family the interface lacks, or a listener address that is not the
 * interface's, is left out with Mosquitto's warning.
 * called from: main thread (start-up)
 */
import { lookup } from 'node:dns/promises';
import { createServer, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { ListenerConfig } from '../config/types.ts';

export interface BindAddress {
  readonly host: string;
  readonly family: 4 | 6;
}

const WILDCARDS: readonly BindAddress[] = [{ host: '0.0.0.0', family: 4 }, { host: '::', family: 6 }];

function familyOf(listener: ListenerConfig): 0 | 4 | 6 {
  return listener.socketDomain === 'ipv4' ? 4 : listener.socketDomain === 'ipv6' ? 6 : 0;
}

/**
 * Why this host cannot listen on IPv6 (a kernel without IPv6 answers EAFNOSUPPORT, which
 * Mosquitto logs as "Address family not supported by protocol"), or undefined when it can: a
 * listening socket at :: on a free port, opened and closed at once.
 */
let ipv6Trouble: Promise<string | undefined> | undefined;
function ipv6Unusable(): Promise<string | undefined> {
  ipv6Trouble ??= new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code === 'EAFNOSUPPORT' ? 'Address family not supported by protocol' : `cannot listen on IPv6 (${err.message}): IPv4 only`);
    });
    probe.listen({ host: '::', port: 0, ipv6Only: true }, () => probe.close(() => resolve(undefined)));
  });
  return ipv6Trouble;
}

/**
 * The addresses of `listener`, in getaddrinfo's order, each once. `warn` hears of an address
 * family the host cannot listen on (Mosquitto's "Warning: Address family not supported by
 * protocol"), which is left out.
 * @throws Error naming the listener when its host does not resolve, or resolves to nothing it can bind
 */
export async function bindAddresses(listener: ListenerConfig, warn: (message: string) => void): Promise<BindAddress[]> {
  const family = familyOf(listener);
  const name = `listener ${listener.host ?? '*'}:${listener.port}`;
  let found: BindAddress[];
  if (listener.host === undefined) {
    found = WILDCARDS.filter((a) => family === 0 || a.family === family);
  } else if (isIP(listener.host) !== 0) {
    const literal = isIP(listener.host) as 4 | 6;
    if (family !== 0 && literal !== family) throw new Error(`${name}: Error creating listener: Address family for hostname not supported.`);
    found = [{ host: listener.host, family: literal }];
  } else {
    try {
      const resolved = await lookup(listener.host, { all: true, order: 'verbatim', family });
      found = resolved.map((r) => ({ host: r.address, family: r.family as 4 | 6 }));
    } catch (err) {
      throw new Error(`${name}: Error creating listener: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (listener.bindInterface !== undefined) found = onInterface(found, listener.bindInterface, listener.host, warn);
  found = found.filter((a, i) => found.findIndex((b) => b.host === a.host) === i);
  const trouble = found.some((a) => a.family === 6) ? await ipv6Unusable() : undefined;
  if (trouble !== undefined) {
    warn(trouble);
    found = found.filter((a) => a.family === 4);
  }
  if (found.length === 0) {
    const where = listener.bindInterface === undefined ? '' : ` on interface ${listener.bindInterface}`;
    throw new Error(`${name}: Error creating listener: no address to bind${where}.`);
  }
  return found;
}

/**
 * `bind_interface NAME` (matched without regard to case, as Mosquitto's strcasecmp): each
 * address replaced by the interface's first one of its family; with a listener address
 * (`host`), kept only when it is the interface's. An IPv6 link-local address carries its
 * scope (fe80::1%eth0), which Mosquitto's copy of the bare address loses (its bind then fails).
 */
function onInterface(found: readonly BindAddress[], interfaceName: string, host: string | undefined, warn: (message: string) => void): BindAddress[] {
  const entry = Object.entries(networkInterfaces()).find(([n]) => n.toLowerCase() === interfaceName.toLowerCase());
  const own = entry?.[1] ?? [];
  const kept: BindAddress[] = [];
  for (const a of found) {
    const first = own.find((i) => (i.family === 'IPv4' ? 4 : 6) === a.family);
    if (first === undefined) {
      warn(`Interface ${interfaceName} does not support IPv${a.family} configuration.`);
    } else if (host !== undefined && first.address !== a.host) {
      warn(`Interface address for ${interfaceName} does not match specified listener address (${host}).`);
    } else {
      const scoped = a.family === 6 && first.scopeid !== undefined && first.scopeid !== 0;
      kept.push({ host: scoped ? `${first.address}%${entry![0]}` : first.address, family: a.family });
    }
  }
  return kept;
}

/** An address as it is written with a port: IPv6 in brackets. */
export function hostPort(address: BindAddress, port: number): string {
  return address.family === 6 ? `[${address.host}]:${port}` : `${address.host}:${port}`;
}
