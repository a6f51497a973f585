/**
 * The compiled form of the dynamic security state that every worker checks ACLs against:
 * roles with their ACLs split by access, and per user name the roles to try, in Mosquitto's
 * order (the client's roles by priority, then each of its groups by priority with the group's
 * roles by priority). Plain data (Maps, arrays, strings), so that it crosses to a worker by
 * structured clone; the main thread sends a new one after every change.
 * called from: main (compile), worker (read by aclEval.ts)
 */
import type { DefaultAccess, DynsecState, Role } from './model.ts';
import { sortedByName } from './model.ts';

/** One ACL of a publish or pattern list. */
export interface CompiledRule {
  readonly topic: string;
  readonly allow: boolean;
  /** a level of the topic is exactly `%c` or `%u` (publish ACLs only) */
  readonly pattern: boolean;
}

/** A role's ACLs, by the access they answer, each list in evaluation order. */
export interface CompiledRole {
  readonly send: readonly CompiledRule[];
  readonly receive: readonly CompiledRule[];
  /** subscribeLiteral: exact filter → allow */
  readonly subscribeLiteral: ReadonlyMap<string, boolean>;
  readonly subscribePattern: readonly CompiledRule[];
  readonly unsubscribeLiteral: ReadonlyMap<string, boolean>;
  readonly unsubscribePattern: readonly CompiledRule[];
}

export interface DynsecSnapshot {
  readonly defaults: DefaultAccess;
  readonly roles: readonly CompiledRole[];
  /** every client by user name: indices into `roles`, in evaluation order */
  readonly clients: ReadonlyMap<string, readonly number[]>;
  /** the anonymous group's roles (empty without an anonymous group) */
  readonly anonymous: readonly number[];
}

function hasPattern(topic: string): boolean {
  return topic.split('/').some((level) => level === '%c' || level === '%u');
}

function compileRole(role: Role): CompiledRole {
  const rules = (list: Role['acls']['publishClientSend'], patterns: boolean): CompiledRule[] =>
    list.map((a) => ({ topic: a.topic, allow: a.allow, pattern: patterns && hasPattern(a.topic) }));
  const literal = (list: Role['acls']['subscribeLiteral']): Map<string, boolean> => {
    const map = new Map<string, boolean>();
    for (const a of list) if (!map.has(a.topic)) map.set(a.topic, a.allow);
    return map;
  };
  return {
    send: rules(role.acls.publishClientSend, true),
    receive: rules(role.acls.publishClientReceive, true),
    subscribeLiteral: literal(role.acls.subscribeLiteral),
    subscribePattern: rules(role.acls.subscribePattern, false),
    unsubscribeLiteral: literal(role.acls.unsubscribeLiteral),
    unsubscribePattern: rules(role.acls.unsubscribePattern, false),
  };
}

/** Compiles the state for the workers. */
export function compileSnapshot(state: DynsecState): DynsecSnapshot {
  const roles: CompiledRole[] = [];
  const index = new Map<string, number>();
  for (const role of sortedByName(state.roles)) {
    index.set(role.rolename, roles.length);
    roles.push(compileRole(role));
  }
  const indices = (refs: readonly { rolename: string }[]): number[] => {
    const out: number[] = [];
    for (const r of refs) {
      const i = index.get(r.rolename);
      if (i !== undefined) out.push(i);
    }
    return out;
  };
  const clients = new Map<string, readonly number[]>();
  for (const client of state.clients.values()) {
    const order = indices(client.roles);
    for (const g of client.groups) {
      const group = state.groups.get(g.groupname);
      if (group !== undefined) order.push(...indices(group.roles));
    }
    clients.set(client.username, order);
  }
  const anonymous = state.anonymousGroup === undefined ? undefined : state.groups.get(state.anonymousGroup);
  return {
    defaults: { ...state.defaultAccess },
    roles,
    clients,
    anonymous: anonymous === undefined ? [] : indices(anonymous.roles),
  };
}
