/**
 * One `$CONTROL/dynamic-security/v1` request: `{"commands":[{"command": …, "correlationData"?: …}, …]}`
 * in, `{"responses":[{"command", "error"?, "data"?, "correlationData"?}, …]}` out, as Mosquitto
 * 2.0.11's plugin.c (dynsec_control_callback, dynsec__handle_control): command names match
 * without regard to case, each command gets one response in order, an unknown command gets
 * "Unknown command", and a correlationData that is not a string ends the request.
 * Also the two default-access commands, which live in plugin.c.
 *
 * One extension: setDefaultACLAccess also takes `"access": "allow"|"deny"`, which is what the
 * mosquitto_ctrl of Mosquitto 2.0.11 sends (its plugin, reading only `"allow": bool`, ignored
 * the request, a bug fixed in 2.0.12's mosquitto_ctrl).
 * called from: main
 */
import { isUtf8 } from 'node:buffer';
import { getItem, getString, isObject, type JsonObject } from './cjson.ts';
import { CLIENT_COMMANDS } from './clientCommands.ts';
import { reply, replyData, audit, type Admin, type CommandContext, type Handler, type Kick } from './commandContext.ts';
import { GROUP_COMMANDS } from './groupCommands.ts';
import { DEFAULT_ACCESS_TYPES, type DynsecState, type PasswordHash } from './model.ts';
import { ROLE_COMMANDS } from './roleCommands.ts';

/** A parsed request. */
export interface Request {
  /** the `commands` array; undefined when the request was refused as a whole */
  readonly commands: readonly unknown[] | undefined;
  /** why it was refused: "Payload not valid JSON" or "Invalid/missing commands" */
  readonly refusal?: string;
  /** the payload was not valid UTF-8 */
  readonly malformed: boolean;
}

/** What running a request did. */
export interface Outcome {
  /** the response payload, for `$CONTROL/dynamic-security/v1/response` */
  readonly response: string;
  /** the state changed: write the file, tell the workers */
  readonly changed: boolean;
  readonly kick: Kick;
}

export function parseRequest(payload: Uint8Array): Request {
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  const malformed = !isUtf8(bytes);
  let tree: unknown;
  try {
    tree = JSON.parse(bytes.toString('utf8'));
  } catch {
    return { commands: undefined, refusal: 'Payload not valid JSON', malformed };
  }
  const commands = isObject(tree) ? getItem(tree, 'commands') : undefined;
  if (!Array.isArray(commands)) return { commands: undefined, refusal: 'Invalid/missing commands', malformed };
  return { commands, malformed };
}

/** Commands whose `password` member is turned into a hash (the others never read one). */
const HASHED = new Set(['createclient', 'setclientpassword', 'modifyclient']);

/** The command objects of `request` with a string `password` that a handler may hash. */
export function passwordsOf(request: Request): Map<JsonObject, string> {
  const out = new Map<JsonObject, string>();
  for (const cmd of request.commands ?? []) {
    if (!isObject(cmd)) continue;
    const name = getString(cmd, 'command').value;
    const password = getString(cmd, 'password').value;
    if (name !== undefined && password !== undefined && HASHED.has(name.toLowerCase())) out.set(cmd, password);
  }
  return out;
}

const setDefaultACLAccess: Handler = (ctx, cmd, corr) => {
  const command = 'setDefaultACLAccess';
  const acls = getItem(cmd, 'acls');
  if (!Array.isArray(acls)) return reply(ctx, command, 'Missing/invalid actions array', corr);
  for (const a of acls) {
    if (!isObject(a)) continue;
    const acltype = getString(a, 'acltype').value;
    const allow = getItem(a, 'allow');
    const access = getString(a, 'access').value?.toLowerCase();
    const value = typeof allow === 'boolean' ? allow : access === 'allow' ? true : access === 'deny' ? false : undefined;
    if (acltype === undefined || value === undefined) continue;
    const type = DEFAULT_ACCESS_TYPES.find((t) => t.toLowerCase() === acltype.toLowerCase());
    if (type !== undefined) ctx.state.defaultAccess[type] = value;
    audit(ctx, command, `acltype=${acltype} | allow=${value}`);
  }
  ctx.changed = true;
  reply(ctx, command, undefined, corr);
};

const getDefaultACLAccess: Handler = (ctx, _cmd, corr) => {
  const acls = DEFAULT_ACCESS_TYPES.map((acltype) => ({ acltype, allow: ctx.state.defaultAccess[acltype] }));
  replyData(ctx, 'getDefaultACLAccess', { acls }, corr);
};

/** Every command by lower-case name, with its canonical name. */
const COMMANDS: ReadonlyMap<string, { name: string; handler: Handler }> = new Map(
  Object.entries({ setDefaultACLAccess, getDefaultACLAccess, ...CLIENT_COMMANDS, ...GROUP_COMMANDS, ...ROLE_COMMANDS }).map(
    ([name, handler]) => [name.toLowerCase(), { name, handler }],
  ),
);

/** Every command name this plugin answers (canonical spelling). */
export const COMMAND_NAMES: readonly string[] = [...COMMANDS.values()].map((c) => c.name);

/**
 * Runs a request against `state` (changing it). `hashes` holds the hash of each password
 * passwordsOf() returned. Synchronous: nothing else may change the state meanwhile.
 */
export function runRequest(
  state: DynsecState,
  request: Request,
  hashes: ReadonlyMap<JsonObject, PasswordHash>,
  admin: Admin,
  log: (line: string) => void,
): Outcome {
  const ctx: CommandContext = {
    state,
    responses: [],
    kick: { usernames: new Set(), anonymous: false },
    changed: false,
    hashes,
    malformed: request.malformed,
    admin,
    audit: log,
  };
  if (request.commands === undefined) {
    reply(ctx, 'Unknown command', request.refusal, undefined);
  } else {
    runCommands(ctx, request.commands);
  }
  return { response: JSON.stringify({ responses: ctx.responses }), changed: ctx.changed, kick: ctx.kick };
}

function runCommands(ctx: CommandContext, commands: readonly unknown[]): void {
  // as in dynsec__handle_control, a command without a usable name is answered with the
  // correlationData of the command before it
  let corr: string | undefined;
  for (const cmd of commands) {
    if (!isObject(cmd)) {
      reply(ctx, 'Unknown command', 'Command not an object', corr);
      continue;
    }
    const name = getString(cmd, 'command').value;
    if (name === undefined) {
      reply(ctx, 'Unknown command', 'Missing command', corr);
      continue;
    }
    const correlation = getString(cmd, 'correlationData');
    if (correlation.invalid) {
      reply(ctx, name, 'Invalid correlationData data type.', undefined);
      return;
    }
    corr = correlation.value;
    const known = COMMANDS.get(name.toLowerCase());
    if (known === undefined) reply(ctx, name, 'Unknown command', corr);
    else known.handler(ctx, cmd, corr);
  }
}
