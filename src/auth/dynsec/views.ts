/**
 * The JSON shapes Mosquitto's dynamic security plugin writes for clients, groups and roles, in
 * its file (dynsec__config_save) and in command responses (getClient, listGroups…), with its
 * member order and its omissions: absent text fields are left out, a priority of -1 on a role,
 * group or client reference is left out, `disabled` appears only when true.
 * called from: main
 */
import { ACL_TYPES, type Client, type Group, type Role, type RoleRef } from './model.ts';

type Json = Record<string, unknown>;

function roleRefs(list: readonly RoleRef[]): Json[] {
  return list.map((r) => ({ rolename: r.rolename, priority: r.priority !== -1 ? r.priority : undefined }));
}

/** Name, client id, texts and disabled flag: the head both client shapes share. */
function clientHead(c: Client): Json {
  return {
    username: c.username,
    clientid: c.clientid,
    textname: c.textname,
    textdescription: c.textdescription,
    disabled: c.disabled ? true : undefined,
  };
}

/** A client in the file: its roles and password hash (groups are saved with the groups). */
export function clientRecord(c: Client): Json {
  const out: Json = { ...clientHead(c), roles: roleRefs(c.roles) };
  if (c.password !== undefined) {
    out.password = c.password.hash.toString('base64');
    out.salt = c.password.salt.toString('base64');
    out.iterations = c.password.iterations;
  }
  return out;
}

/** A client in getClient / listClients (verbose): roles and groups, never the password. */
export function clientView(c: Client): Json {
  return {
    ...clientHead(c),
    roles: roleRefs(c.roles),
    groups: c.groups.map((g) => ({ groupname: g.groupname, priority: g.priority !== -1 ? g.priority : undefined })),
  };
}

/** A group in the file: roles, then clients with their priorities. */
export function groupRecord(g: Group): Json {
  return {
    groupname: g.groupname,
    textname: g.textname,
    textdescription: g.textdescription,
    roles: roleRefs(g.roles),
    clients: g.clients.map((c) => ({ username: c.username, priority: c.priority !== -1 ? c.priority : undefined })),
  };
}

/** A group in getGroup / listGroups (verbose): clients by name only, then roles. */
export function groupView(g: Group): Json {
  return {
    groupname: g.groupname,
    textname: g.textname,
    textdescription: g.textdescription,
    clients: g.clients.map((c) => ({ username: c.username })),
    roles: roleRefs(g.roles),
  };
}

/** A role with its ACLs, type by type in evaluation order: the same in the file and in responses. */
export function roleView(r: Role): Json {
  const acls: Json[] = [];
  for (const type of ACL_TYPES) {
    for (const a of r.acls[type]) acls.push({ acltype: type, topic: a.topic, priority: a.priority, allow: a.allow });
  }
  return { rolename: r.rolename, textname: r.textname, textdescription: r.textdescription, acls };
}
