/**
 * The dynamic security JSON file (`plugin_opt_config_file`), read and written as Mosquitto
 * 2.0.11's plugin does (plugin.c dynsec__config_load/save, roles.c, clients.c, groups.c):
 *
 *   { "defaultACLAccess": { "publishClientSend": b, "publishClientReceive": b, "subscribe": b, "unsubscribe": b },
 *     "clients": [ { "username", "clientid"?, "textname"?, "textdescription"?, "disabled"?,
 *                    "roles": [ { "rolename", "priority"? } ], "password"?, "salt"?, "iterations"? } ],
 *     "groups":  [ { "groupname", "textname"?, "textdescription"?, "roles": […], "clients": [ { "username", "priority"? } ] } ],
 *     "anonymousGroup"?: "name",
 *     "roles":   [ { "rolename", "textname"?, "textdescription"?,
 *                    "acls": [ { "acltype", "topic", "priority", "allow" } ] } ] }
 *
 * Reading is as lenient as the plugin's: member names in any case, entries without a name
 * skipped, references to roles or clients that do not exist dropped, a client whose password
 * fields are malformed dropped (password and salt base64, a 64-byte hash and a 12-byte salt,
 * iterations ≥ 1). An empty file is an empty state. Two things stop the start where Mosquitto
 * would log and run with an empty or partial state, leaving everyone locked out: a file that
 * is not JSON, and a `clients`/`groups`/`roles` member that is not an array. Where 2.0.11
 * keeps a second client, group or role of the same name (unreachable), culex keeps the first,
 * as later 2.0 releases do.
 *
 * Writing is cJSON_Print's layout in the plugin's member order, so that the file stays the one
 * Mosquitto would have written and loads in Mosquitto.
 * called from: main
 */
import { ConfigError } from '../../config/errors.ts';
import { getBool, getInt, getItem, getString, isObject, printFormatted, type JsonObject } from './cjson.ts';
import {
  ACL_TYPES,
  DEFAULT_ACCESS_TYPES,
  addAcl,
  addGroupClient,
  addRoleRef,
  emptyAcls,
  emptyState,
  sortedByName,
  type Client,
  type DynsecState,
  type PasswordHash,
  type Role,
  type RoleRef,
} from './model.ts';
import { clientRecord, groupRecord, roleView } from './views.ts';

/** Bytes of the salt and the hash (struct mosquitto_pw). */
export const SALT_BYTES = 12;
export const HASH_BYTES = 64;

/**
 * Reads the file's text into a state. `file` names it in errors.
 * @throws ConfigError when the text is not JSON or a top-level list is not an array.
 */
export function parseDynsecFile(text: string, file: string): DynsecState {
  const state = emptyState();
  if (text.length === 0) return state;
  let tree: unknown;
  try {
    tree = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, 0, `dynamic security file is not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!isObject(tree)) throw new ConfigError(file, 0, 'dynamic security file is not a JSON object');
  loadDefaultAccess(state, tree);
  loadRoles(state, listOf(tree, 'roles', file));
  loadClients(state, listOf(tree, 'clients', file));
  loadGroups(state, listOf(tree, 'groups', file));
  const anonymous = getString(tree, 'anonymousGroup').value;
  if (anonymous !== undefined && state.groups.has(anonymous)) state.anonymousGroup = anonymous;
  return state;
}

/** The file's text for a state: cJSON_Print of what dynsec__config_save builds. */
export function formatDynsecFile(state: DynsecState): string {
  const defaults: Record<string, boolean> = {};
  for (const type of DEFAULT_ACCESS_TYPES) defaults[type] = state.defaultAccess[type];
  return printFormatted({
    defaultACLAccess: defaults,
    clients: sortedByName(state.clients).map(clientRecord),
    groups: sortedByName(state.groups).map(groupRecord),
    anonymousGroup: state.anonymousGroup,
    roles: sortedByName(state.roles).map(roleView),
  });
}

function listOf(tree: JsonObject, name: string, file: string): readonly unknown[] {
  const list = getItem(tree, name);
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw new ConfigError(file, 0, `dynamic security file: '${name}' is not an array`);
  return list;
}

/** Missing members of a present `defaultACLAccess` are false; a missing object keeps the defaults. */
function loadDefaultAccess(state: DynsecState, tree: JsonObject): void {
  const access = getItem(tree, 'defaultACLAccess');
  if (!isObject(access)) return;
  for (const type of DEFAULT_ACCESS_TYPES) state.defaultAccess[type] = getBool(access, type, false);
}

/** `"roles": [{ "rolename", "priority" }]` of a client or group, keeping existing roles only. */
function roleRefsOf(entry: JsonObject, state: DynsecState): RoleRef[] {
  const refs: RoleRef[] = [];
  const list = getItem(entry, 'roles');
  if (!Array.isArray(list)) return refs;
  for (const r of list) {
    if (!isObject(r)) continue;
    const rolename = getString(r, 'rolename').value;
    if (rolename === undefined || !state.roles.has(rolename)) continue;
    addRoleRef(refs, { rolename, priority: getInt(r, 'priority', -1) });
  }
  return refs;
}

function loadRoles(state: DynsecState, list: readonly unknown[]): void {
  for (const entry of list) {
    if (!isObject(entry)) continue;
    const rolename = getString(entry, 'rolename').value;
    if (rolename === undefined || state.roles.has(rolename)) continue;
    const role: Role = {
      rolename,
      textname: getString(entry, 'textname').value,
      textdescription: getString(entry, 'textdescription').value,
      acls: emptyAcls(),
    };
    const acls = getItem(entry, 'acls');
    if (Array.isArray(acls)) loadAcls(role, acls);
    state.roles.set(rolename, role);
  }
}

/**
 * A role's `acls`, type by type (roles.c dynsec_roles__acl_load): `acltype` in any case,
 * `topic` required, `priority` 0 and `allow` false by default. A topic listed twice under one
 * type stays twice, as in 2.0.11 (the first by priority decides; addRoleACL refuses a duplicate).
 */
export function loadAcls(role: Role, acls: readonly unknown[]): void {
  for (const type of ACL_TYPES) {
    const lower = type.toLowerCase();
    for (const a of acls) {
      if (!isObject(a)) continue;
      const acltype = getString(a, 'acltype').value;
      const topic = getString(a, 'topic').value;
      if (acltype === undefined || acltype.toLowerCase() !== lower || topic === undefined) continue;
      addAcl(role.acls[type], { topic, priority: getInt(a, 'priority', 0), allow: getBool(a, 'allow', false) });
    }
  }
}

/** The stored password; undefined when there is none; 'bad' when the entry must be dropped. */
function passwordOf(entry: JsonObject): PasswordHash | undefined | 'bad' {
  const salt = getString(entry, 'salt').value;
  const password = getString(entry, 'password').value;
  const iterations = getItem(entry, 'iterations');
  if (salt === undefined || password === undefined || typeof iterations !== 'number') return undefined;
  const count = Math.trunc(iterations);
  if (!(count >= 1) || count > 2147483647) return 'bad';
  const saltBytes = Buffer.from(salt, 'base64');
  const hash = Buffer.from(password, 'base64');
  if (saltBytes.length !== SALT_BYTES || hash.length !== HASH_BYTES) return 'bad';
  return { salt: saltBytes, hash, iterations: count };
}

function loadClients(state: DynsecState, list: readonly unknown[]): void {
  for (const entry of list) {
    if (!isObject(entry)) continue;
    const username = getString(entry, 'username').value;
    if (username === undefined || state.clients.has(username)) continue;
    const password = passwordOf(entry);
    if (password === 'bad') continue;
    const client: Client = {
      username,
      clientid: getString(entry, 'clientid').value,
      textname: getString(entry, 'textname').value,
      textdescription: getString(entry, 'textdescription').value,
      disabled: getBool(entry, 'disabled', false),
      password,
      roles: roleRefsOf(entry, state),
      groups: [],
    };
    state.clients.set(username, client);
  }
}

function loadGroups(state: DynsecState, list: readonly unknown[]): void {
  for (const entry of list) {
    if (!isObject(entry)) continue;
    const groupname = getString(entry, 'groupname').value;
    if (groupname === undefined || state.groups.has(groupname)) continue;
    state.groups.set(groupname, {
      groupname,
      textname: getString(entry, 'textname').value,
      textdescription: getString(entry, 'textdescription').value,
      roles: roleRefsOf(entry, state),
      clients: [],
    });
    const clients = getItem(entry, 'clients');
    if (!Array.isArray(clients)) continue;
    for (const c of clients) {
      if (!isObject(c)) continue;
      const username = getString(c, 'username').value;
      if (username !== undefined) addGroupClient(state, username, groupname, getInt(c, 'priority', -1));
    }
  }
}
