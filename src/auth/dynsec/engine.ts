/**
 * The dynamic security plugin of a running broker: the authoritative state, read from the
 * config file at start; the `$CONTROL/dynamic-security/v1` requests that workers forward,
 * run one at a time, each change written back to the file (atomically) before its response
 * goes out; the password checks of CONNECT; and the compiled snapshot the workers check ACLs
 * against.
 *
 * Authentication follows Mosquitto 2.0's chain (src/security.c mosquitto_unpwd_check): the
 * plugin first — a known user name with a password decides (disabled client, or a client id
 * other than the one the client is bound to: refused); without a user name or password, for
 * an unknown user name, or a client without a password it has no opinion. Then password_file
 * if there is one. Then, the plugin being loaded: an anonymous client is let in when
 * allow_anonymous is true, any other is refused.
 * called from: main
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../config/errors.ts';
import type { Logger } from '../../log.ts';
import { writeFileAtomic } from './atomicWrite.ts';
import type { JsonObject } from './cjson.ts';
import { formatDynsecFile, parseDynsecFile } from './configFile.ts';
import type { Admin } from './commandContext.ts';
import { parseRequest, passwordsOf, runRequest } from './control.ts';
import type { DynsecState, PasswordHash } from './model.ts';
import { hashPassword, verifyPassword } from './password.ts';
import { compileSnapshot, type DynsecSnapshot } from './snapshot.ts';

/** Connections the workers close after a change (Mosquitto's kick: v5 DISCONNECT 0x98, no will). */
export interface DynsecKick {
  readonly usernames: readonly string[];
  /** every client without a user name */
  readonly anonymous: boolean;
}

/** What a request produced. */
export interface ControlResult {
  /** the response payload, published on DYNSEC_RESPONSE_TOPIC (topics.ts) */
  readonly response: string;
  /** the new snapshot when the state changed */
  readonly snapshot: DynsecSnapshot | undefined;
  readonly kick: DynsecKick | undefined;
}

export type CredentialsResult = 'ok' | 'bad_credentials' | 'not_authorized';

export class DynamicSecurity {
  private readonly file: string;
  private readonly log: Logger;
  private readonly state: DynsecState;
  /** requests run one after the other: each sees the state the previous one left */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(file: string, state: DynsecState, log: Logger) {
    this.file = file;
    this.state = state;
    this.log = log;
  }

  /** Reads the config file. @throws ConfigError naming the file when it cannot be read or is not JSON */
  static open(file: string, log: Logger): DynamicSecurity {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ConfigError(file, 0, `cannot read the dynamic security file: ${err instanceof Error ? err.message : String(err)}`);
    }
    const state = parseDynsecFile(text, file);
    log.info(`dynamic security: ${state.clients.size} clients, ${state.groups.size} groups, ${state.roles.size} roles from ${file}`);
    return new DynamicSecurity(file, state, log);
  }

  /** The compiled state for a worker. */
  snapshot(): DynsecSnapshot {
    return compileSnapshot(this.state);
  }

  /** Runs one request sent by `admin` (after its PUBLISH passed the ACL check). */
  control(payload: Uint8Array, admin: Admin): Promise<ControlResult> {
    const run = this.queue.then(() => this.run(payload, admin));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(payload: Uint8Array, admin: Admin): Promise<ControlResult> {
    const request = parseRequest(payload);
    const hashes = new Map<JsonObject, PasswordHash>();
    await Promise.all([...passwordsOf(request)].map(async ([cmd, password]) => hashes.set(cmd, await hashPassword(password))));
    const outcome = runRequest(this.state, request, hashes, admin, (line) => this.log.info(line));
    if (outcome.changed) await this.save();
    const { usernames, anonymous } = outcome.kick;
    return {
      response: outcome.response,
      snapshot: outcome.changed ? compileSnapshot(this.state) : undefined,
      kick: usernames.size > 0 || anonymous ? { usernames: [...usernames], anonymous } : undefined,
    };
  }

  /** Writes the state back; a failure is logged and the state stays in force, as in Mosquitto. */
  private async save(): Promise<void> {
    try {
      await writeFileAtomic(this.file, formatDynsecFile(this.state));
    } catch (err) {
      this.log.error(`dynamic security: could not save ${this.file}`, err);
    }
  }

  /**
   * The whole CONNECT check: the plugin, then `fallback` (password_file and allow_anonymous,
   * src/auth/authenticator.ts) when it has no opinion. `passwordFile`: whether one is configured.
   */
  async check(
    clientId: string,
    username: string | undefined,
    password: Uint8Array | undefined,
    passwordFile: boolean,
    fallback: () => Promise<CredentialsResult>,
  ): Promise<CredentialsResult> {
    const verdict = await this.authenticate(clientId, username, password);
    if (verdict !== 'defer') return verdict;
    // all deferred with the plugin loaded: only an anonymous client may still get in
    if (username !== undefined && !passwordFile) return 'bad_credentials';
    return fallback();
  }

  /** The plugin's own verdict (auth.c dynsec_auth__basic_auth_callback). */
  async authenticate(clientId: string, username: string | undefined, password: Uint8Array | undefined): Promise<CredentialsResult | 'defer'> {
    if (username === undefined || password === undefined) return 'defer';
    const client = this.state.clients.get(username);
    if (client === undefined) return 'defer';
    if (client.disabled) return 'not_authorized';
    if (client.clientid !== undefined && client.clientid !== clientId) return 'not_authorized';
    const stored = client.password;
    if (stored === undefined) return 'defer';
    const matches = await verifyPassword(stored, password);
    // a request may have changed the client while the hash was computed: judge by the state now
    if (this.state.clients.get(username) !== client || client.password !== stored || client.disabled || client.clientid !== undefined && client.clientid !== clientId) {
      return this.authenticate(clientId, username, password);
    }
    return matches ? 'ok' : 'bad_credentials';
  }
}
