/**
 * What a dynamic security command handler works with: the state, the responses of the request,
 * the connections to close (Mosquitto's kick list), whether the file must be written, and the
 * helpers every handler shares (replies, required names, role lists). Handlers are synchronous:
 * the password hashes a request needs are computed before it runs.
 * called from: main
 */
import { getItem, getInt, getString, isObject, type JsonObject } from './cjson.ts';
import { addRoleRef, type DynsecState, type PasswordHash, type RoleRef } from './model.ts';
import { validUtf8 } from './validate.ts';

/** Connections to close after a change: by user name, and every anonymous one. */
export interface Kick {
  readonly usernames: Set<string>;
  anonymous: boolean;
}

/** Who sent the request (for the log). */
export interface Admin {
  readonly clientId: string;
  readonly username: string | undefined;
}

export interface CommandContext {
  readonly state: DynsecState;
  /** the responses of this request, in command order */
  readonly responses: Record<string, unknown>[];
  readonly kick: Kick;
  /** a handler changed what the file holds */
  changed: boolean;
  /** hashes of the `password` members of the request's commands, computed beforehand */
  readonly hashes: ReadonlyMap<JsonObject, PasswordHash>;
  /** the request payload was not valid UTF-8 */
  readonly malformed: boolean;
  readonly admin: Admin;
  /** one line per change, as the plugin logs it (`dynsec: id/user | command | details`) */
  readonly audit: (line: string) => void;
}

/** A command's handler. `command` is the command object; `correlationData` is echoed back. */
export type Handler = (ctx: CommandContext, command: JsonObject, correlationData: string | undefined) => void;

/** dynsec__command_reply: `{command, error?, correlationData?}`. */
export function reply(ctx: CommandContext, command: string, error: string | undefined, correlationData: string | undefined): void {
  ctx.responses.push({ command, error, correlationData });
}

/** A response carrying data: `{command, data, correlationData?}`. */
export function replyData(ctx: CommandContext, command: string, data: unknown, correlationData: string | undefined): void {
  ctx.responses.push({ command, data, correlationData });
}

/** Logs a change as `dynsec: clientid/username | command | details`. */
export function audit(ctx: CommandContext, command: string, details = ''): void {
  const who = `${ctx.admin.clientId}/${ctx.admin.username ?? '(null)'}`;
  ctx.audit(`dynsec: ${who} | ${command}${details === '' ? '' : ` | ${details}`}`);
}

const NAME_LABELS = {
  username: 'Username',
  groupname: 'Group name',
  rolename: 'Role name',
} as const;

/**
 * A required name member (`username`, `groupname`, `rolename`): replies "Invalid/missing …"
 * or "… not valid UTF-8" and returns undefined when it is not usable. `checkUtf8` false for
 * the few commands the plugin does not check (deleteClient).
 */
export function requiredName(
  ctx: CommandContext,
  cmd: JsonObject,
  member: keyof typeof NAME_LABELS,
  command: string,
  correlationData: string | undefined,
  checkUtf8 = true,
): string | undefined {
  const { value } = getString(cmd, member);
  if (value === undefined) {
    reply(ctx, command, `Invalid/missing ${member}`, correlationData);
    return undefined;
  }
  if (checkUtf8 && !validUtf8(value, ctx.malformed)) {
    reply(ctx, command, `${NAME_LABELS[member]} not valid UTF-8`, correlationData);
    return undefined;
  }
  return value;
}

/**
 * The entry of `table` named by the command's `member` (checked as requiredName does), or
 * undefined after replying (`notFound` when there is no such entry).
 */
export function existingEntry<T>(
  ctx: CommandContext,
  cmd: JsonObject,
  member: keyof typeof NAME_LABELS,
  table: ReadonlyMap<string, T>,
  notFound: string,
  command: string,
  correlationData: string | undefined,
): T | undefined {
  const name = requiredName(ctx, cmd, member, command, correlationData);
  if (name === undefined) return undefined;
  const entry = table.get(name);
  if (entry === undefined) reply(ctx, command, notFound, correlationData);
  return entry;
}

/**
 * add*Role / remove*Role: the entry's name, then the role name, both checked before either is
 * looked up (Mosquitto's order of answers); undefined after replying.
 */
export function entryAndRole<T>(
  ctx: CommandContext,
  cmd: JsonObject,
  member: keyof typeof NAME_LABELS,
  table: ReadonlyMap<string, T>,
  notFound: string,
  command: string,
  correlationData: string | undefined,
): { entry: T; rolename: string } | undefined {
  const name = requiredName(ctx, cmd, member, command, correlationData);
  if (name === undefined) return undefined;
  const rolename = requiredName(ctx, cmd, 'rolename', command, correlationData);
  if (rolename === undefined) return undefined;
  const entry = table.get(name);
  if (entry === undefined) return void reply(ctx, command, notFound, correlationData);
  if (!ctx.state.roles.has(rolename)) return void reply(ctx, command, 'Role not found', correlationData);
  return { entry, rolename };
}

/** Records that every connection of `username` must be closed. */
export function kickUser(ctx: CommandContext, username: string): void {
  ctx.kick.usernames.add(username);
}

/** group__kick_all: the group's clients, and every anonymous client if it is the anonymous group. */
export function kickGroup(ctx: CommandContext, groupname: string): void {
  if (ctx.state.anonymousGroup === groupname) ctx.kick.anonymous = true;
  const group = ctx.state.groups.get(groupname);
  for (const c of group?.clients ?? []) ctx.kick.usernames.add(c.username);
}

/** role__kick_all: the clients holding the role, and those of every group holding it. */
export function kickRole(ctx: CommandContext, rolename: string): void {
  for (const c of ctx.state.clients.values()) if (c.roles.some((r) => r.rolename === rolename)) kickUser(ctx, c.username);
  for (const g of ctx.state.groups.values()) if (g.roles.some((r) => r.rolename === rolename)) kickGroup(ctx, g.groupname);
}

/** dynsec_rolelist__load_from_json's outcomes. */
export type RoleListResult =
  | { readonly kind: 'absent' }
  | { readonly kind: 'ok'; readonly roles: RoleRef[] }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'invalid' };

/**
 * A command's `roles: [{rolename, priority?}]`: every role must exist; the first entry that
 * is not an object with a string rolename makes the list invalid. Later duplicates are dropped.
 */
export function roleListOf(state: DynsecState, cmd: JsonObject): RoleListResult {
  const list = getItem(cmd, 'roles');
  if (list === undefined) return { kind: 'absent' };
  if (!Array.isArray(list)) return { kind: 'invalid' };
  const roles: RoleRef[] = [];
  for (const entry of list) {
    const rolename = isObject(entry) ? getString(entry, 'rolename').value : undefined;
    if (rolename === undefined) return { kind: 'invalid' };
    if (!state.roles.has(rolename)) return { kind: 'not-found' };
    addRoleRef(roles, { rolename, priority: getInt(entry as JsonObject, 'priority', -1) });
  }
  return { kind: 'ok', roles };
}

/** `count`/`offset` paging of listClients/listGroups/listRoles, with the plugin's arithmetic. */
export function page<T>(items: readonly T[], cmd: JsonObject): T[] {
  let count = getInt(cmd, 'count', -1);
  const offset = getInt(cmd, 'offset', 0);
  const out: T[] = [];
  for (let i = Math.max(0, offset); i < items.length; i++) {
    out.push(items[i]!);
    if (count >= 0 && --count <= 0) break;
  }
  return out;
}
