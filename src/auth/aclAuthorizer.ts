/**
 * The acl_file authorizer of a configuration: one ACL for every client, or with
 * per_listener_settings the ACL of the listener the client last came in through
 * (src/security.c mosquitto_acl_check: `context->listener->security_options`; a client with no
 * listener is refused). A listener without an acl_file allows everything except what
 * aclCheck(undefined, …) refuses ($SYS and $share publishes), as Mosquitto with no ACL plugin.
 * A file named by several listeners is parsed once.
 * called from: worker (built once at start)
 */
import { readFileSync } from 'node:fs';
import type { BrokerConfig } from '../config/types.ts';
import { listenerSecurity } from '../config/listenerSecurity.ts';
import { aclCheck, parseAclFile, type AclAccess, type Acl } from './acl.ts';

/** The client an access check is made for; `listenerIndex` matters with per_listener_settings only. */
export interface ListenerAclClient {
  readonly clientId: string;
  readonly username?: string | undefined;
  /** index in BrokerConfig.listeners; undefined or negative = unknown */
  readonly listenerIndex?: number | undefined;
}

/** Topic-level authorisation by acl_file (structurally src/broker/services.ts Authorizer). */
export interface AclAuthorizer {
  allows(client: ListenerAclClient, topic: string, access: AclAccess): boolean;
}

/**
 * The authorizer for `config`'s acl_file(s), or undefined when no acl_file applies anywhere.
 * @throws when a file cannot be read or parsed (ConfigError naming the line)
 */
export function aclAuthorizerOf(config: BrokerConfig, readFile: (path: string) => string = (p) => readFileSync(p, 'utf8')): AclAuthorizer | undefined {
  const parsed = new Map<string, Acl>();
  const load = (path: string | undefined): Acl | undefined => {
    if (path === undefined) return undefined;
    let acl = parsed.get(path);
    if (acl === undefined) parsed.set(path, (acl = parseAclFile(readFile(path), path)));
    return acl;
  };
  if (!config.perListenerSettings) {
    const acl = load(config.aclFile);
    return acl === undefined ? undefined : { allows: (client, topic, access) => aclCheck(acl, client, topic, access) };
  }
  const acls = config.listeners.map((_, i) => load(listenerSecurity(config, i).aclFile));
  if (acls.every((a) => a === undefined)) return undefined;
  return {
    allows(client, topic, access) {
      const l = client.listenerIndex;
      if (typeof l !== 'number' || l < 0 || l >= acls.length) return false;
      return aclCheck(acls[l], client, topic, access);
    },
  };
}
