/**
 * The dynamic security ACL check over a compiled snapshot (Mosquitto's plugins/dynamic-security/
 * acl.c): a client with a user name the plugin does not know gets no opinion; otherwise its
 * roles are tried in order (snapshot.ts), and within a role its ACLs of the access asked for,
 * by priority, the first matching one deciding. Subscriptions look for an exact
 * subscribeLiteral first in each role, then the subscribePattern list. Anonymous clients try
 * the anonymous group's roles. Nothing matched: the default access allows, or gives no opinion;
 * it never opens `$CONTROL…` topics, which must be granted explicitly.
 *
 * Matching: publish ACLs are MQTT filters over the topic (`#` does not reach `$` topics); a
 * level that is exactly `%c` or `%u` matches a topic level equal to the client id or user name
 * (never an empty one) — Mosquitto added this after 2.0.11 (commit 0cd26194, "Add %c and %u
 * support to dynsec publish ACLs"); 2.0.11 compares such a level as text. Subscribe and
 * unsubscribe patterns are compared filter to filter (sub_matches_sub.c): `+` in the ACL covers
 * a `+` or a name, `#` in the ACL covers the rest, a `#` in the subscription needs one in the ACL.
 *
 * Hot path (every PUBLISH and every delivery): one Map lookup per check; no allocation for
 * publish ACLs.
 * called from: worker
 */
import { topicMatchesFilter } from '../acl.ts';
import type { CompiledRole, CompiledRule, DynsecSnapshot } from './snapshot.ts';

export type DynsecAccess = 'read' | 'write' | 'subscribe' | 'unsubscribe';

/** A verdict: allow, deny, or no opinion (the next authorizer decides). */
export const ALLOW = 1;
export const DENY = -1;
export const DEFER = 0;

/** `filter` (with whole-level `%c` / `%u`) against a PUBLISH topic (acl.ts topicMatchesFilter). */
export function topicMatchesPattern(filter: string, topic: string, clientId: string, username: string | undefined): boolean {
  return topicMatchesFilter(filter, topic, { clientId, username });
}

/** sub_acl_check: does the ACL filter `acl` cover the subscription filter `sub`? */
export function subscriptionMatchesAcl(acl: string, sub: string): boolean {
  if (acl === '#') return true;
  let aclLevels = acl.split('/');
  let subLevels = sub.split('/');
  const aclHash = aclLevels[aclLevels.length - 1] === '#';
  const subHash = subLevels[subLevels.length - 1] === '#';
  // "a/#" and "#" lose their last level; "a/#" keeps "a", "#" keeps ""
  if (aclHash) aclLevels = aclLevels.length === 1 ? [''] : aclLevels.slice(0, -1);
  if (subHash) subLevels = subLevels.length === 1 ? [''] : subLevels.slice(0, -1);
  if (subHash && !aclHash) return false;
  if (aclLevels.length > subLevels.length) return false;
  if (subLevels.length > aclLevels.length && !aclHash) return false;
  for (let i = 0; i < subLevels.length; i++) {
    if (i < aclLevels.length) {
      if (aclLevels[i] !== '+' && aclLevels[i] !== subLevels[i]) return false;
    } else if (!aclHash) {
      return false;
    }
  }
  return true;
}

function publishVerdict(rules: readonly CompiledRule[], topic: string, clientId: string, username: string | undefined): number {
  for (let i = 0; i < rules.length; i++) {
    const r = rules[i]!;
    const match = r.pattern ? topicMatchesPattern(r.topic, topic, clientId, username) : topicMatchesFilter(r.topic, topic);
    if (match) return r.allow ? ALLOW : DENY;
  }
  return DEFER;
}

function filterVerdict(literal: ReadonlyMap<string, boolean>, patterns: readonly CompiledRule[], filter: string): number {
  const exact = literal.get(filter);
  if (exact !== undefined) return exact ? ALLOW : DENY;
  for (let i = 0; i < patterns.length; i++) {
    if (subscriptionMatchesAcl(patterns[i]!.topic, filter)) return patterns[i]!.allow ? ALLOW : DENY;
  }
  return DEFER;
}

function roleVerdict(role: CompiledRole, access: DynsecAccess, topic: string, clientId: string, username: string | undefined): number {
  switch (access) {
    case 'write':
      return publishVerdict(role.send, topic, clientId, username);
    case 'read':
      return publishVerdict(role.receive, topic, clientId, username);
    case 'subscribe':
      return filterVerdict(role.subscribeLiteral, role.subscribePattern, topic);
    case 'unsubscribe':
      return filterVerdict(role.unsubscribeLiteral, role.unsubscribePattern, topic);
  }
}

const DEFAULT_OF = {
  write: 'publishClientSend',
  read: 'publishClientReceive',
  subscribe: 'subscribe',
  unsubscribe: 'unsubscribe',
} as const;

/**
 * The plugin's verdict for `access` on `topic` (a PUBLISH topic for read/write, a filter for
 * subscribe/unsubscribe): ALLOW, DENY or DEFER.
 */
export function dynsecVerdict(
  snapshot: DynsecSnapshot,
  clientId: string,
  username: string | undefined,
  topic: string,
  access: DynsecAccess,
): number {
  let order: readonly number[];
  if (username !== undefined) {
    const known = snapshot.clients.get(username);
    if (known === undefined) return DEFER;
    order = known;
  } else {
    order = snapshot.anonymous;
  }
  const roles = snapshot.roles;
  for (let i = 0; i < order.length; i++) {
    const v = roleVerdict(roles[order[i]!]!, access, topic, clientId, username);
    if (v !== DEFER) return v;
  }
  if (!snapshot.defaults[DEFAULT_OF[access]]) return DEFER;
  // fall-through access never opens $CONTROL topics: they must be granted explicitly
  return topic.startsWith('$CONTROL') ? DEFER : ALLOW;
}
