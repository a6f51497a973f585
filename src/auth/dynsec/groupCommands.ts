/**
 * The group commands of `$CONTROL/dynamic-security/v1`, with Mosquitto 2.0.11's checks, error
 * strings and kicks (plugins/dynamic-security/groups.c): createGroup, deleteGroup, getGroup,
 * listGroups, modifyGroup, addGroupClient, removeGroupClient, addGroupRole, removeGroupRole,
 * setAnonymousGroup, getAnonymousGroup.
 * Deliberate differences, from later 2.0 releases: deleting the anonymous group is refused
 * ("Deleting the anonymous group is forbidden"; 2.0.11 left a dangling pointer), and
 * modifyGroup checks its role list before changing anything.
 * called from: main
 */
import { getItem, getInt, getString, isObject, type JsonObject } from './cjson.ts';
import {
  audit,
  kickGroup,
  kickUser,
  page,
  reply,
  replyData,
  entryAndRole,
  existingEntry,
  requiredName,
  roleListOf,
  type CommandContext,
  type Handler,
} from './commandContext.ts';
import { addGroupClient, addRoleRef, removeGroupClient, removeRoleRef, sortedByName, type Group } from './model.ts';
import { groupView } from './views.ts';

/** The group named by the command's `groupname` (checked for UTF-8), or undefined after replying. */
function existingGroup(ctx: CommandContext, cmd: JsonObject, command: string, corr: string | undefined): Group | undefined {
  return existingEntry(ctx, cmd, 'groupname', ctx.state.groups, 'Group not found', command, corr);
}

const createGroup: Handler = (ctx, cmd, corr) => {
  const command = 'createGroup';
  const groupname = requiredName(ctx, cmd, 'groupname', command, corr);
  if (groupname === undefined) return;
  const textname = getString(cmd, 'textname');
  if (textname.invalid) return reply(ctx, command, 'Invalid/missing textname', corr);
  const textdescription = getString(cmd, 'textdescription');
  if (textdescription.invalid) return reply(ctx, command, 'Invalid/missing textdescription', corr);
  if (ctx.state.groups.has(groupname)) return reply(ctx, command, 'Group already exists', corr);
  const roles = roleListOf(ctx.state, cmd);
  if (roles.kind === 'not-found') return reply(ctx, command, 'Role not found', corr);
  if (roles.kind === 'invalid') return reply(ctx, command, 'Internal error', corr);
  ctx.state.groups.set(groupname, {
    groupname,
    textname: textname.value,
    textdescription: textdescription.value,
    roles: roles.kind === 'ok' ? roles.roles : [],
    clients: [],
  });
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  audit(ctx, command, `groupname=${groupname}`);
};

const deleteGroup: Handler = (ctx, cmd, corr) => {
  const command = 'deleteGroup';
  const group = existingGroup(ctx, cmd, command, corr);
  if (group === undefined) return;
  if (ctx.state.anonymousGroup === group.groupname) return reply(ctx, command, 'Deleting the anonymous group is forbidden', corr);
  kickGroup(ctx, group.groupname);
  for (const c of [...group.clients]) removeGroupClient(ctx.state, c.username, group.groupname);
  ctx.state.groups.delete(group.groupname);
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  audit(ctx, command, `groupname=${group.groupname}`);
};

/** addGroupClient / removeGroupClient: the user name, then the group name, both checked. */
function userAndGroup(ctx: CommandContext, cmd: JsonObject, command: string, corr: string | undefined): { username: string; groupname: string } | undefined {
  const username = requiredName(ctx, cmd, 'username', command, corr);
  if (username === undefined) return undefined;
  const groupname = requiredName(ctx, cmd, 'groupname', command, corr);
  if (groupname === undefined) return undefined;
  return { username, groupname };
}

const addGroupClientCommand: Handler = (ctx, cmd, corr) => {
  const command = 'addGroupClient';
  const names = userAndGroup(ctx, cmd, command, corr);
  if (names === undefined) return;
  const priority = getInt(cmd, 'priority', -1);
  const outcome = addGroupClient(ctx.state, names.username, names.groupname, priority);
  if (outcome === 'ok') {
    ctx.changed = true;
    reply(ctx, command, undefined, corr);
    audit(ctx, command, `groupname=${names.groupname} | username=${names.username} | priority=${priority}`);
  } else {
    const error = { 'no-client': 'Client not found', 'no-group': 'Group not found', exists: 'Client is already in this group' }[outcome];
    reply(ctx, command, error, corr);
  }
  // Mosquitto kicks the user whatever the outcome
  kickUser(ctx, names.username);
};

const removeGroupClientCommand: Handler = (ctx, cmd, corr) => {
  const command = 'removeGroupClient';
  const names = userAndGroup(ctx, cmd, command, corr);
  if (names === undefined) return;
  if (!ctx.state.clients.has(names.username)) {
    reply(ctx, command, 'Client not found', corr);
  } else if (!ctx.state.groups.has(names.groupname)) {
    reply(ctx, command, 'Group not found', corr);
  } else {
    removeGroupClient(ctx.state, names.username, names.groupname);
    ctx.changed = true;
    reply(ctx, command, undefined, corr);
    audit(ctx, command, `groupname=${names.groupname} | username=${names.username}`);
  }
  kickUser(ctx, names.username);
};

/** addGroupRole / removeGroupRole: the group name, then the role name; both must exist. */
function groupAndRole(ctx: CommandContext, cmd: JsonObject, command: string, corr: string | undefined): { group: Group; rolename: string } | undefined {
  const found = entryAndRole(ctx, cmd, 'groupname', ctx.state.groups, 'Group not found', command, corr);
  return found === undefined ? undefined : { group: found.entry, rolename: found.rolename };
}

const addGroupRole: Handler = (ctx, cmd, corr) => {
  const command = 'addGroupRole';
  const found = groupAndRole(ctx, cmd, command, corr);
  if (found === undefined) return;
  const priority = getInt(cmd, 'priority', -1);
  if (!addRoleRef(found.group.roles, { rolename: found.rolename, priority })) {
    return reply(ctx, command, 'Group is already in this role', corr);
  }
  audit(ctx, command, `groupname=${found.group.groupname} | rolename=${found.rolename} | priority=${priority}`);
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  kickGroup(ctx, found.group.groupname);
};

const removeGroupRole: Handler = (ctx, cmd, corr) => {
  const command = 'removeGroupRole';
  const found = groupAndRole(ctx, cmd, command, corr);
  if (found === undefined) return;
  removeRoleRef(found.group.roles, found.rolename);
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  kickGroup(ctx, found.group.groupname);
  audit(ctx, command, `groupname=${found.group.groupname} | rolename=${found.rolename}`);
};

const getGroup: Handler = (ctx, cmd, corr) => {
  const group = existingGroup(ctx, cmd, 'getGroup', corr);
  if (group !== undefined) replyData(ctx, 'getGroup', { group: groupView(group) }, corr);
};

const listGroups: Handler = (ctx, cmd, corr) => {
  const verbose = getItem(cmd, 'verbose') === true;
  const all = sortedByName(ctx.state.groups);
  const groups = page(all, cmd).map((g) => (verbose ? groupView(g) : g.groupname));
  replyData(ctx, 'listGroups', { totalCount: all.length, groups }, corr);
};

const modifyGroup: Handler = (ctx, cmd, corr) => {
  const command = 'modifyGroup';
  const group = existingGroup(ctx, cmd, command, corr);
  if (group === undefined) return;
  const { state } = ctx;
  const roles = roleListOf(state, cmd);
  if (roles.kind === 'not-found' || roles.kind === 'invalid') {
    reply(ctx, command, roles.kind === 'not-found' ? 'Role not found' : "'roles' not an array or missing/invalid rolename", corr);
    return kickGroup(ctx, group.groupname);
  }
  const textname = getString(cmd, 'textname').value;
  if (textname !== undefined) group.textname = textname;
  const textdescription = getString(cmd, 'textdescription').value;
  if (textdescription !== undefined) group.textdescription = textdescription;
  if (roles.kind === 'ok') group.roles = roles.roles;
  const clients = getItem(cmd, 'clients');
  if (Array.isArray(clients)) {
    // the clients leaving the group are re-checked too
    kickGroup(ctx, group.groupname);
    for (const c of [...group.clients]) removeGroupClient(state, c.username, group.groupname);
    for (const c of clients) {
      const username = isObject(c) ? getString(c, 'username').value : undefined;
      if (username !== undefined) addGroupClient(state, username, group.groupname, getInt(c as JsonObject, 'priority', -1));
    }
  }
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  kickGroup(ctx, group.groupname);
  audit(ctx, command, `groupname=${group.groupname}`);
};

const setAnonymousGroup: Handler = (ctx, cmd, corr) => {
  const command = 'setAnonymousGroup';
  const group = existingGroup(ctx, cmd, command, corr);
  if (group === undefined) return;
  ctx.state.anonymousGroup = group.groupname;
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  ctx.kick.anonymous = true;
  audit(ctx, command, `groupname=${group.groupname}`);
};

const getAnonymousGroup: Handler = (ctx, _cmd, corr) => {
  replyData(ctx, 'getAnonymousGroup', { group: { groupname: ctx.state.anonymousGroup ?? '' } }, corr);
};

/** The group commands by canonical name. */
export const GROUP_COMMANDS: Readonly<Record<string, Handler>> = {
  addGroupClient: addGroupClientCommand,
  createGroup,
  deleteGroup,
  getGroup,
  listGroups,
  modifyGroup,
  removeGroupClient: removeGroupClientCommand,
  addGroupRole,
  removeGroupRole,
  setAnonymousGroup,
  getAnonymousGroup,
};
