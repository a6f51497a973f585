/**
 * The client commands of `$CONTROL/dynamic-security/v1`, with Mosquitto 2.0.11's checks, error
 * strings and kicks (plugins/dynamic-security/clients.c): createClient, deleteClient,
 * enableClient, disableClient, setClientId, setClientPassword, modifyClient, getClient,
 * listClients, addClientRole, removeClientRole.
 * One deliberate difference: modifyClient checks its role list before changing anything
 * (2.0.11 applied the fields before it and left them unsaved when the list was bad; later
 * releases check first too).
 * called from: main
 */
import { getItem, getInt, getString, isObject, type JsonObject } from './cjson.ts';
import {
  audit,
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
import {
  addGroupClient,
  addRoleRef,
  removeFromAllGroups,
  removeRoleRef,
  sortedByName,
  type Client,
} from './model.ts';
import { validUtf8 } from './validate.ts';
import { clientView } from './views.ts';

const ROLES_INVALID = "'roles' not an array or missing/invalid rolename";

/** Optional text members (`textname`, `textdescription`): false after replying when one is not a string. */
function optionalTexts(ctx: CommandContext, cmd: JsonObject, command: string, corr: string | undefined): { textname?: string; textdescription?: string } | undefined {
  const textname = getString(cmd, 'textname');
  if (textname.invalid) return void reply(ctx, command, 'Invalid/missing textname', corr);
  const textdescription = getString(cmd, 'textdescription');
  if (textdescription.invalid) return void reply(ctx, command, 'Invalid/missing textdescription', corr);
  return { textname: textname.value, textdescription: textdescription.value };
}

/** The client named by the command's `username` (checked for UTF-8), or undefined after replying. */
function existingClient(ctx: CommandContext, cmd: JsonObject, command: string, corr: string | undefined): Client | undefined {
  return existingEntry(ctx, cmd, 'username', ctx.state.clients, 'Client not found', command, corr);
}

const createClient: Handler = (ctx, cmd, corr) => {
  const command = 'createClient';
  const username = requiredName(ctx, cmd, 'username', command, corr);
  if (username === undefined) return;
  const password = getString(cmd, 'password');
  if (password.invalid) return reply(ctx, command, 'Invalid/missing password', corr);
  const clientid = getString(cmd, 'clientid');
  if (clientid.invalid) return reply(ctx, command, 'Invalid/missing client id', corr);
  if (clientid.value !== undefined && !validUtf8(clientid.value, ctx.malformed)) return reply(ctx, command, 'Client ID not valid UTF-8', corr);
  const texts = optionalTexts(ctx, cmd, command, corr);
  if (texts === undefined) return;
  const { state } = ctx;
  if (state.clients.has(username)) return reply(ctx, command, 'Client already exists', corr);
  const roles = roleListOf(state, cmd);
  if (roles.kind === 'not-found') return reply(ctx, command, 'Role not found', corr);
  if (roles.kind === 'invalid') return reply(ctx, command, ROLES_INVALID, corr);
  const client: Client = {
    username,
    clientid: clientid.value === '' ? undefined : clientid.value,
    textname: texts.textname,
    textdescription: texts.textdescription,
    disabled: false,
    password: password.value === undefined ? undefined : ctx.hashes.get(cmd),
    roles: roles.kind === 'ok' ? roles.roles : [],
    groups: [],
  };
  state.clients.set(username, client);
  const groups = getItem(cmd, 'groups');
  for (const g of Array.isArray(groups) ? groups : []) {
    const groupname = isObject(g) ? getString(g, 'groupname').value : undefined;
    if (groupname === undefined) continue;
    const added = addGroupClient(state, username, groupname, getInt(g as JsonObject, 'priority', -1));
    if (added !== 'ok') {
      // the client is dropped again, with the groups it was already put in
      removeFromAllGroups(state, username);
      state.clients.delete(username);
      return reply(ctx, command, added === 'no-group' ? 'Group not found' : 'Internal error', corr);
    }
  }
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  audit(ctx, command, `username=${username} | password=${password.value === undefined ? 'no password' : '*****'}`);
};

const deleteClient: Handler = (ctx, cmd, corr) => {
  const command = 'deleteClient';
  const username = requiredName(ctx, cmd, 'username', command, corr, false);
  if (username === undefined) return;
  if (!ctx.state.clients.has(username)) return reply(ctx, command, 'Client not found', corr);
  removeFromAllGroups(ctx.state, username);
  ctx.state.clients.delete(username);
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  kickUser(ctx, username);
  audit(ctx, command, `username=${username}`);
};

function setDisabled(command: 'enableClient' | 'disableClient', disabled: boolean): Handler {
  return (ctx, cmd, corr) => {
    const client = existingClient(ctx, cmd, command, corr);
    if (client === undefined) return;
    client.disabled = disabled;
    if (disabled) kickUser(ctx, client.username);
    ctx.changed = true;
    reply(ctx, command, undefined, corr);
    audit(ctx, command, `username=${client.username}`);
  };
}

const setClientId: Handler = (ctx, cmd, corr) => {
  const command = 'setClientId';
  const username = requiredName(ctx, cmd, 'username', command, corr);
  if (username === undefined) return;
  const clientid = getString(cmd, 'clientid');
  if (clientid.invalid) return reply(ctx, command, 'Invalid/missing client ID', corr);
  if (clientid.value !== undefined && !validUtf8(clientid.value, ctx.malformed)) return reply(ctx, command, 'Client ID not valid UTF-8', corr);
  const client = ctx.state.clients.get(username);
  if (client === undefined) return reply(ctx, command, 'Client not found', corr);
  client.clientid = clientid.value === '' ? undefined : clientid.value;
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  kickUser(ctx, username);
  audit(ctx, command, `username=${username} | clientid=${client.clientid ?? '(null)'}`);
};

const setClientPassword: Handler = (ctx, cmd, corr) => {
  const command = 'setClientPassword';
  const username = requiredName(ctx, cmd, 'username', command, corr);
  if (username === undefined) return;
  const password = getString(cmd, 'password').value;
  if (password === undefined) return reply(ctx, command, 'Invalid/missing password', corr);
  if (password === '') return reply(ctx, command, 'Empty password is not allowed', corr);
  const client = ctx.state.clients.get(username);
  if (client === undefined) return reply(ctx, command, 'Client not found', corr);
  client.password = ctx.hashes.get(cmd);
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  kickUser(ctx, username);
  audit(ctx, command, `username=${username} | password=******`);
};

const modifyClient: Handler = (ctx, cmd, corr) => {
  const command = 'modifyClient';
  const client = existingClient(ctx, cmd, command, corr);
  if (client === undefined) return;
  const { state } = ctx;
  const roles = roleListOf(state, cmd);
  if (roles.kind === 'not-found' || roles.kind === 'invalid') {
    reply(ctx, command, roles.kind === 'not-found' ? 'Role not found' : ROLES_INVALID, corr);
    return kickUser(ctx, client.username);
  }
  const clientid = getString(cmd, 'clientid').value;
  if (clientid !== undefined) client.clientid = clientid === '' ? undefined : clientid;
  const password = getString(cmd, 'password').value;
  // an empty password leaves the password as it is
  if (password !== undefined && password !== '') client.password = ctx.hashes.get(cmd);
  const textname = getString(cmd, 'textname').value;
  if (textname !== undefined) client.textname = textname;
  const textdescription = getString(cmd, 'textdescription').value;
  if (textdescription !== undefined) client.textdescription = textdescription;
  if (roles.kind === 'ok') client.roles = roles.roles;
  const groups = getItem(cmd, 'groups');
  if (Array.isArray(groups)) {
    removeFromAllGroups(state, client.username);
    for (const g of groups) {
      const groupname = isObject(g) ? getString(g, 'groupname').value : undefined;
      if (groupname !== undefined) addGroupClient(state, client.username, groupname, getInt(g as JsonObject, 'priority', -1));
    }
  }
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  kickUser(ctx, client.username);
  audit(ctx, command, `username=${client.username}`);
};

const getClient: Handler = (ctx, cmd, corr) => {
  const client = existingClient(ctx, cmd, 'getClient', corr);
  if (client !== undefined) replyData(ctx, 'getClient', { client: clientView(client) }, corr);
};

const listClients: Handler = (ctx, cmd, corr) => {
  const verbose = getItem(cmd, 'verbose') === true;
  const all = sortedByName(ctx.state.clients);
  const clients = page(all, cmd).map((c) => (verbose ? clientView(c) : c.username));
  replyData(ctx, 'listClients', { totalCount: all.length, clients }, corr);
};

/** addClientRole / removeClientRole: the user name, then the role name, both checked. */
function clientAndRole(ctx: CommandContext, cmd: JsonObject, command: string, corr: string | undefined): { client: Client; rolename: string } | undefined {
  const found = entryAndRole(ctx, cmd, 'username', ctx.state.clients, 'Client not found', command, corr);
  return found === undefined ? undefined : { client: found.entry, rolename: found.rolename };
}

const addClientRole: Handler = (ctx, cmd, corr) => {
  const command = 'addClientRole';
  const found = clientAndRole(ctx, cmd, command, corr);
  if (found === undefined) return;
  const priority = getInt(cmd, 'priority', -1);
  // Mosquitto answers a role the client already has with "Internal error"
  if (!addRoleRef(found.client.roles, { rolename: found.rolename, priority })) return reply(ctx, command, 'Internal error', corr);
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  kickUser(ctx, found.client.username);
  audit(ctx, command, `username=${found.client.username} | rolename=${found.rolename} | priority=${priority}`);
};

const removeClientRole: Handler = (ctx, cmd, corr) => {
  const command = 'removeClientRole';
  const found = clientAndRole(ctx, cmd, command, corr);
  if (found === undefined) return;
  removeRoleRef(found.client.roles, found.rolename);
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  kickUser(ctx, found.client.username);
  audit(ctx, command, `username=${found.client.username} | rolename=${found.rolename}`);
};

/** The client commands by canonical name. */
export const CLIENT_COMMANDS: Readonly<Record<string, Handler>> = {
  createClient,
  deleteClient,
  getClient,
  listClients,
  modifyClient,
  setClientPassword,
  setClientId,
  addClientRole,
  removeClientRole,
  enableClient: setDisabled('enableClient', false),
  disableClient: setDisabled('disableClient', true),
};
