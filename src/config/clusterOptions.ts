/**
 * The scale-out options (issue 17): `cluster_nats_url` (repeatable; several URLs on one line
 * too) and `cluster_node_name`. A node needs both: the name is the node's identity in NATS
 * (message origin, client-id registry, retained-message writer), so it must stay the same
 * across restarts; culex does not invent one (a host name may hold several nodes).
 * called from: main, tests
 */
import { ConfigError, OptionValueError } from './errors.ts';

/** the scheme NATS clients accept over TCP; TLS to NATS is not implemented, so `tls://` is refused */
const NATS_URL = /^nats:\/\/(?:[^\s/@]+@)?(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?\/?$/;

/** A node name is one token of a NATS subject and a key of the registry bucket. */
const NODE_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The URLs of one `cluster_nats_url` line: separated by spaces or commas, each `nats://host[:port]`. */
export function parseNatsUrls(rest: string): string[] {
  const urls = rest.split(/[\s,]+/).filter((u) => u !== '');
  if (urls.length === 0) throw new OptionValueError('expected at least one nats://host:port URL');
  for (const url of urls) {
    const m = NATS_URL.exec(url);
    if (m === null) throw new OptionValueError(`'${url}' is not a nats://host[:port] URL`);
    const port = m[1] === undefined ? 4222 : Number(m[1]);
    if (port < 1 || port > 65535) throw new OptionValueError(`'${url}': port out of range 1-65535`);
  }
  return urls;
}

/** `cluster_node_name`: letters, digits, `_` and `-`, at most 64. */
export function parseNodeName(rest: string): string {
  const name = rest.trim();
  if (!NODE_NAME.test(name)) {
    throw new OptionValueError(`'${name}' is not a node name (1-64 letters, digits, '_' or '-')`);
  }
  return name;
}

/** Where the cluster options were seen, for the check at the end of the file. */
export class ClusterLines {
  private readonly urls: string[] = [];
  private firstUrl: { file: string; line: number } | undefined;
  private name: { value: string; file: string; line: number } | undefined;

  /** One `cluster_nats_url` line: its URLs are added to those of earlier lines. */
  addUrls(at: { file: string; line: number }, rest: string): void {
    this.firstUrl ??= at;
    for (const u of parseNatsUrls(rest)) if (!this.urls.includes(u)) this.urls.push(u);
  }

  /** The `cluster_node_name` line: once only. */
  setName(at: { file: string; line: number }, rest: string): void {
    const first = this.name;
    if (first !== undefined) throw new ConfigError(at.file, at.line, `duplicate cluster_node_name value (first set at ${first.file}:${first.line})`);
    this.name = { value: parseNodeName(rest), ...at };
  }

  /** The URLs and the node name; one without the other is refused. */
  finish(): { urls: readonly string[]; nodeName: string | undefined } {
    const at = this.firstUrl;
    const name = this.name;
    if (at !== undefined && name === undefined) {
      throw new ConfigError(at.file, at.line, 'cluster_nats_url: cluster_node_name must be set too (a name that stays the same across restarts)');
    }
    if (name !== undefined && at === undefined) {
      throw new ConfigError(name.file, name.line, 'cluster_node_name: without cluster_nats_url there is no cluster to name this node in');
    }
    return { urls: Object.freeze([...this.urls]), nodeName: name?.value };
  }
}
