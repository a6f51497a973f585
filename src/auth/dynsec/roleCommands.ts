/**
 * The role commands of `$CONTROL/dynamic-security/v1`, with Mosquitto 2.0.11's checks, error
 * strings and kicks (plugins/dynamic-security/roles.c): createRole, deleteRole, getRole,
 * listRoles, modifyRole, addRoleACL, removeRoleACL. As in Mosquitto, modifyRole kicks nobody
 * (ACL changes apply to the next check anyway; kicks make clients subscribe again under the
 * new rules).
 * called from: main
 */
import { getBool, getInt, getItem, getString, type JsonObject } from './cjson.ts';
import { loadAcls } from './configFile.ts';
import {
  audit,
  kickRole,
  page,
  reply,
  replyData,
  existingEntry,
  requiredName,
  type CommandContext,
  type Handler,
} from './commandContext.ts';
import { ACL_TYPES, addAcl, emptyAcls, removeRoleRef, sortedByName, type AclType, type Role } from './model.ts';
import { validAclTopic, validUtf8 } from './validate.ts';
import { roleView } from './views.ts';

/** The role named by the command's `rolename` (checked for UTF-8), or undefined after replying `notFound`. */
function existingRole(ctx: CommandContext, cmd: JsonObject, command: string, corr: string | undefined, notFound = 'Role not found'): Role | undefined {
  return existingEntry(ctx, cmd, 'rolename', ctx.state.roles, notFound, command, corr);
}

const createRole: Handler = (ctx, cmd, corr) => {
  const command = 'createRole';
  const rolename = requiredName(ctx, cmd, 'rolename', command, corr);
  if (rolename === undefined) return;
  const textname = getString(cmd, 'textname');
  if (textname.invalid) return reply(ctx, command, 'Invalid/missing textname', corr);
  const textdescription = getString(cmd, 'textdescription');
  if (textdescription.invalid) return reply(ctx, command, 'Invalid/missing textdescription', corr);
  if (ctx.state.roles.has(rolename)) return reply(ctx, command, 'Role already exists', corr);
  const role: Role = { rolename, textname: textname.value, textdescription: textdescription.value, acls: emptyAcls() };
  const acls = getItem(cmd, 'acls');
  if (Array.isArray(acls)) loadAcls(role, acls);
  ctx.state.roles.set(rolename, role);
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  audit(ctx, command, `rolename=${rolename}`);
};

const deleteRole: Handler = (ctx, cmd, corr) => {
  const command = 'deleteRole';
  const role = existingRole(ctx, cmd, command, corr);
  if (role === undefined) return;
  kickRole(ctx, role.rolename);
  for (const c of ctx.state.clients.values()) removeRoleRef(c.roles, role.rolename);
  for (const g of ctx.state.groups.values()) removeRoleRef(g.roles, role.rolename);
  ctx.state.roles.delete(role.rolename);
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  audit(ctx, command, `rolename=${role.rolename}`);
};

const getRole: Handler = (ctx, cmd, corr) => {
  const role = existingRole(ctx, cmd, 'getRole', corr);
  if (role !== undefined) replyData(ctx, 'getRole', { role: roleView(role) }, corr);
};

const listRoles: Handler = (ctx, cmd, corr) => {
  const verbose = getItem(cmd, 'verbose') === true;
  const all = sortedByName(ctx.state.roles);
  const roles = page(all, cmd).map((r) => (verbose ? roleView(r) : r.rolename));
  replyData(ctx, 'listRoles', { totalCount: all.length, roles }, corr);
};

const modifyRole: Handler = (ctx, cmd, corr) => {
  const command = 'modifyRole';
  const role = existingRole(ctx, cmd, command, corr, 'Role does not exist');
  if (role === undefined) return;
  const textname = getString(cmd, 'textname').value;
  if (textname !== undefined) role.textname = textname;
  const textdescription = getString(cmd, 'textdescription').value;
  if (textdescription !== undefined) role.textdescription = textdescription;
  const acls = getItem(cmd, 'acls');
  if (Array.isArray(acls)) {
    role.acls = emptyAcls();
    loadAcls(role, acls);
  }
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  audit(ctx, command, `rolename=${role.rolename}`);
};

/** The role, then `acltype` and `topic` of addRoleACL / removeRoleACL, checked in Mosquitto's order. */
function roleAcl(ctx: CommandContext, cmd: JsonObject, command: string, corr: string | undefined): { role: Role; type: AclType; topic: string } | undefined {
  const role = existingRole(ctx, cmd, command, corr);
  if (role === undefined) return undefined;
  const acltype = getString(cmd, 'acltype').value;
  if (acltype === undefined) return void reply(ctx, command, 'Invalid/missing acltype', corr);
  const type = ACL_TYPES.find((t) => t.toLowerCase() === acltype.toLowerCase());
  if (type === undefined) return void reply(ctx, command, 'Unknown acltype', corr);
  const topic = getString(cmd, 'topic').value;
  if (topic === undefined) return void reply(ctx, command, 'Invalid/missing topic', corr);
  if (!validUtf8(topic, ctx.malformed)) return void reply(ctx, command, 'Topic not valid UTF-8', corr);
  if (!validAclTopic(topic)) return void reply(ctx, command, 'Invalid ACL topic', corr);
  return { role, type, topic };
}

const addRoleACL: Handler = (ctx, cmd, corr) => {
  const command = 'addRoleACL';
  const found = roleAcl(ctx, cmd, command, corr);
  if (found === undefined) return;
  const list = found.role.acls[found.type];
  if (list.some((a) => a.topic === found.topic)) return reply(ctx, command, 'ACL with this topic already exists', corr);
  const acl = { topic: found.topic, priority: getInt(cmd, 'priority', 0), allow: getBool(cmd, 'allow', false) };
  addAcl(list, acl);
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  kickRole(ctx, found.role.rolename);
  audit(ctx, command, `rolename=${found.role.rolename} | acltype=${found.type} | topic=${acl.topic} | priority=${acl.priority} | allow=${acl.allow}`);
};

const removeRoleACL: Handler = (ctx, cmd, corr) => {
  const command = 'removeRoleACL';
  const found = roleAcl(ctx, cmd, command, corr);
  if (found === undefined) return;
  const list = found.role.acls[found.type];
  const i = list.findIndex((a) => a.topic === found.topic);
  if (i === -1) return reply(ctx, command, 'ACL not found', corr);
  list.splice(i, 1);
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
  kickRole(ctx, found.role.rolename);
  audit(ctx, command, `rolename=${found.role.rolename} | acltype=${found.type} | topic=${found.topic}`);
};

/** The role commands by canonical name. */
export const ROLE_COMMANDS: Readonly<Record<string, Handler>> = {
  createRole,
  getRole,
  listRoles,
  modifyRole,
  deleteRole,
  addRoleACL,
  removeRoleACL,
};
