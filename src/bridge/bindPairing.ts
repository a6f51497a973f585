/**
 * bridge_bind_address as Mosquitto 2.0 uses it (lib/net_mosq.c net__try_connect_tcp): the remote
 * host and the bind address are each resolved (either may be a name or an address), and the
 * bridge connects to the first of the remote's addresses that a bind address can be bound for
 * (one of the same family), from the first such bind address. Resolved again at each attempt,
 * as Mosquitto does.
 * called from: worker (a bridge, before each connection attempt)
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Where one connection attempt goes and leaves from, both addresses. */
export interface BoundRoute {
  readonly host: string;
  readonly localAddress: string;
}

export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}

/** The system resolver in its own order (getaddrinfo's, as Mosquitto gets it). */
export type Resolve = (name: string) => Promise<readonly ResolvedAddress[]>;
const systemResolve: Resolve = (name) => dnsLookup(name, { all: true, order: 'verbatim' });

/**
 * The route from `bindAddress` to `host`.
 * @throws Error when a name does not resolve, or no bind address shares a family with the remote's
 */
export async function bindPairing(host: string, bindAddress: string, resolve: Resolve = systemResolve): Promise<BoundRoute> {
  const addressesOf = (name: string): Promise<readonly ResolvedAddress[]> =>
    isIP(name) !== 0 ? Promise.resolve([{ address: name, family: isIP(name) }]) : resolve(name);
  const [remotes, locals] = await Promise.all([addressesOf(host), addressesOf(bindAddress)]);
  for (const remote of remotes) {
    const local = locals.find((l) => l.family === remote.family);
    if (local !== undefined) return { host: remote.address, localAddress: local.address };
  }
  const listed = (as: readonly ResolvedAddress[]): string => as.map((a) => a.address).join(', ');
  throw new Error(`bridge_bind_address ${bindAddress} (${listed(locals)}) has no address of the family of ${host}'s (${listed(remotes)})`);
}
