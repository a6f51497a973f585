/**
 * The dynamic security state, as Mosquitto's plugin holds it (plugins/dynamic-security/
 * dynamic_security.h): clients, groups, roles with their ACLs, the anonymous group and the
 * default access. Lists keep Mosquitto's orders, which decide both the evaluation order and
 * the order of the saved file:
 *   - a client's or group's roles: priority descending, then role name (rolelist.c);
 *   - a client's groups: priority descending, then group name (grouplist.c);
 *   - a group's clients: user name (clientlist.c);
 *   - a role's ACLs of one type: priority descending, earlier entries first among equals
 *     (roles.c insert_acl_cmp with HASH_ADD_KEYPTR_INORDER);
 *   - clients, groups and roles themselves: by name (HASH_SORT / INORDER with strcmp).
 * Names compare as C strcmp does: by UTF-8 bytes. Priorities are C ints; -1 is "none" for
 * role, group and client references (not written to the file), 0 the ACL default.
 *
 * Mutable: only the main thread's DynamicSecurity changes it; workers get a compiled
 * snapshot (snapshot.ts).
 * called from: main
 */

/** The six ACL types of a role, in the order Mosquitto writes them. */
export const ACL_TYPES = [
  'publishClientSend',
  'publishClientReceive',
  'subscribeLiteral',
  'subscribePattern',
  'unsubscribeLiteral',
  'unsubscribePattern',
] as const;
export type AclType = (typeof ACL_TYPES)[number];

/** The four default access kinds (`defaultACLAccess`), in the order Mosquitto writes them. */
export const DEFAULT_ACCESS_TYPES = ['publishClientSend', 'publishClientReceive', 'subscribe', 'unsubscribe'] as const;
export type DefaultAccessType = (typeof DEFAULT_ACCESS_TYPES)[number];
export type DefaultAccess = Record<DefaultAccessType, boolean>;

export interface AclEntry {
  readonly topic: string;
  readonly priority: number;
  readonly allow: boolean;
}

export interface Role {
  readonly rolename: string;
  textname?: string;
  textdescription?: string;
  /** per type, in evaluation order */
  acls: Record<AclType, AclEntry[]>;
}

export interface RoleRef {
  readonly rolename: string;
  /** -1 = none */
  readonly priority: number;
}

export interface GroupRef {
  readonly groupname: string;
  readonly priority: number;
}

export interface ClientRef {
  readonly username: string;
  readonly priority: number;
}

/** PBKDF2-HMAC-SHA512 of the password: 12-byte salt, 64-byte hash. */
export interface PasswordHash {
  readonly salt: Buffer;
  readonly hash: Buffer;
  readonly iterations: number;
}

export interface Client {
  readonly username: string;
  /** when set, only this client id may log in with the user name */
  clientid?: string;
  textname?: string;
  textdescription?: string;
  disabled: boolean;
  /** undefined = no password: the client cannot log in through dynamic security */
  password?: PasswordHash;
  roles: RoleRef[];
  /** mirrors Group.clients */
  groups: GroupRef[];
}

export interface Group {
  readonly groupname: string;
  textname?: string;
  textdescription?: string;
  roles: RoleRef[];
  /** mirrors Client.groups */
  clients: ClientRef[];
}

export interface DynsecState {
  defaultAccess: DefaultAccess;
  readonly clients: Map<string, Client>;
  readonly groups: Map<string, Group>;
  readonly roles: Map<string, Role>;
  /** the group whose roles anonymous clients get */
  anonymousGroup: string | undefined;
}

/**
 * An empty state. The default access starts all false, as the plugin's static initialiser
 * does; a file without `defaultACLAccess` keeps it so.
 */
export function emptyState(): DynsecState {
  return {
    defaultAccess: { publishClientSend: false, publishClientReceive: false, subscribe: false, unsubscribe: false },
    clients: new Map(),
    groups: new Map(),
    roles: new Map(),
    anonymousGroup: undefined,
  };
}

export function emptyAcls(): Record<AclType, AclEntry[]> {
  return {
    publishClientSend: [],
    publishClientReceive: [],
    subscribeLiteral: [],
    subscribePattern: [],
    unsubscribeLiteral: [],
    unsubscribePattern: [],
  };
}

/** C strcmp on the UTF-8 bytes (JavaScript's < compares UTF-16 units, which differs above U+FFFF). */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Inserts keeping `list` sorted by `cmp`; among equals the new item goes last (uthash INORDER). */
function insertSorted<T>(list: T[], item: T, cmp: (a: T, b: T) => number): void {
  let i = list.length;
  while (i > 0 && cmp(list[i - 1]!, item) > 0) i--;
  list.splice(i, 0, item);
}

/** Adds a role reference (priority descending, then name); false when the role is already there. */
export function addRoleRef(list: RoleRef[], ref: RoleRef): boolean {
  if (list.some((r) => r.rolename === ref.rolename)) return false;
  insertSorted(list, ref, (a, b) => b.priority - a.priority || compareNames(a.rolename, b.rolename));
  return true;
}

/** Removes a role reference; false when it was not there. */
export function removeRoleRef(list: RoleRef[], rolename: string): boolean {
  const i = list.findIndex((r) => r.rolename === rolename);
  if (i === -1) return false;
  list.splice(i, 1);
  return true;
}

/** Adds an ACL to its type's list (priority descending, earlier entries first among equals). */
export function addAcl(list: AclEntry[], acl: AclEntry): void {
  insertSorted(list, acl, (a, b) => b.priority - a.priority);
}

/** The values of a Map ordered by key as strcmp orders them (Mosquitto's hash order). */
export function sortedByName<T>(map: ReadonlyMap<string, T>): T[] {
  return [...map.keys()].sort(compareNames).map((k) => map.get(k)!);
}

/**
 * Puts a client in a group (both directions). Mosquitto's dynsec_groups__add_client, with its
 * outcomes.
 */
export function addGroupClient(
  state: DynsecState,
  username: string,
  groupname: string,
  priority: number,
): 'ok' | 'no-client' | 'no-group' | 'exists' {
  const client = state.clients.get(username);
  if (client === undefined) return 'no-client';
  const group = state.groups.get(groupname);
  if (group === undefined) return 'no-group';
  if (group.clients.some((c) => c.username === username)) return 'exists';
  insertSorted(group.clients, { username, priority }, (a, b) => compareNames(a.username, b.username));
  insertSorted(
    client.groups,
    { groupname, priority },
    (a, b) => b.priority - a.priority || compareNames(a.groupname, b.groupname),
  );
  return 'ok';
}

/** Takes a client out of a group (both directions); a no-op when it is not in it. */
export function removeGroupClient(state: DynsecState, username: string, groupname: string): void {
  const client = state.clients.get(username);
  const group = state.groups.get(groupname);
  if (group !== undefined) group.clients = group.clients.filter((c) => c.username !== username);
  if (client !== undefined) client.groups = client.groups.filter((g) => g.groupname !== groupname);
}

/** Takes a client out of every group it is in. */
export function removeFromAllGroups(state: DynsecState, username: string): void {
  const client = state.clients.get(username);
  if (client === undefined) return;
  for (const g of [...client.groups]) removeGroupClient(state, username, g.groupname);
}
