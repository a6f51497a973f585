/**
 * `per_listener_settings`: which options move into the listener they follow, the defaults each
 * listener then has, and listenerSecurity(), the one place the rest of culex reads a listener's
 * authentication and access-control settings from (in either mode).
 *
 * Mosquitto 2.0.11's rules (src/conf.c conf__set_cur_security_options, config__read,
 * config__check; src/security.c), kept:
 * - The options: password_file, acl_file, psk_file, allow_anonymous, allow_zero_length_clientid,
 *   auto_id_prefix. (Mosquitto also lists auth_plugin/plugin, which culex refuses while
 *   per_listener_settings is true.)
 * - `per_listener_settings true` must come before all of them ("per_listener_settings must be
 *   set before any other security settings").
 * - A repeated password_file / acl_file / auto_id_prefix is an error within one listener.
 * - Each listener's defaults: allow_anonymous false (true only in local-only mode, where no
 *   listener is configured), allow_zero_length_clientid true, auto_id_prefix `auto-`, no files.
 * - Before the first `listener` line of a file they configure the default listener;
 *   password_file and `allow_zero_length_clientid false` make that listener exist, the
 *   others do not.
 * - A persistent session that is offline is judged by the ACL of the listener its client last
 *   came in through (mosquitto.conf(5)); while any listener has an acl_file, a client whose
 *   listener is unknown (a session stored before culex recorded it) is refused every check.
 * Where culex differs, stricter: an acl_file given to a default listener that never exists
 * is an error (Mosquitto drops it, leaving the real listeners without the ACL); the other
 * options in that position get a warning that they have no effect. Changing
 * per_listener_settings after security options were placed is an error (Mosquitto silently
 * drops the options placed under the other mode). auto_id_prefix of the default listener is
 * kept (Mosquitto loses it and uses `auto-`).
 * called from: main (load, server), worker (listener contexts, authorizer), tests
 */
import type { BrokerConfig, ListenerSecurity } from './types.ts';
import { ConfigError, OptionValueError } from './errors.ts';
import { parseBool } from './lineSyntax.ts';
import { GLOBAL_OPTIONS_BY_NAME, type Warn } from './schema.ts';

/** The options per_listener_settings moves into listeners, and the ListenerSecurity field each sets. */
export const LISTENER_SECURITY_OPTIONS: ReadonlyMap<string, keyof ListenerSecurity> = new Map<string, keyof ListenerSecurity>([
  ['allow_anonymous', 'allowAnonymous'],
  ['password_file', 'passwordFile'],
  ['acl_file', 'aclFile'],
  ['psk_file', 'pskFile'],
  ['allow_zero_length_clientid', 'allowZeroLengthClientId'],
  ['auto_id_prefix', 'autoIdPrefix'],
]);

/** Every option Mosquitto counts as a security setting (the ordering rule of per_listener_settings). */
const SECURITY_OPTIONS: ReadonlySet<string> = new Set([...LISTENER_SECURITY_OPTIONS.keys(), 'plugin', 'auth_plugin']);

/** Plugin lines: per listener in Mosquitto, global only in culex. */
const PLUGIN_OPTIONS: ReadonlySet<string> = new Set(['plugin', 'auth_plugin']);

const DEFAULT_AUTO_ID_PREFIX = 'auto-';

type SecurityDraft = { -readonly [K in keyof ListenerSecurity]?: ListenerSecurity[K] };

/** Where a line came from. */
interface Origin {
  readonly file: string;
  readonly line: number;
}

/**
 * The per_listener_settings state of one parse. `L` is the loader's listener draft type: the
 * drafts are only used as keys here.
 */
export class SecurityScopes<L extends object> {
  /** the value of per_listener_settings so far */
  perListener = false;
  /** the first security option read, `file:line key` */
  private firstSecurity: string | undefined;
  private readonly drafts = new Map<L, SecurityDraft>();
  /** where each option was set, per listener (duplicates, messages) */
  private readonly lines = new Map<L, Map<string, Origin>>();

  /** `per_listener_settings VALUE`. @throws OptionValueError */
  setMode(rest: string): void {
    const value = parseBool(rest);
    if (value === this.perListener) return;
    if (this.firstSecurity !== undefined) {
      throw new OptionValueError(
        `must be set before any other security setting (the first is ${this.firstSecurity}), as in Mosquitto`,
      );
    }
    this.perListener = value;
  }

  /**
   * Notes a security option and refuses what per_listener_settings does not allow. Returns
   * true when the option belongs to the current listener (then call apply()).
   * @throws ConfigError
   */
  claims(at: Origin, key: string): boolean {
    if (!SECURITY_OPTIONS.has(key)) return false;
    this.firstSecurity ??= `${at.file}:${at.line} (${key})`;
    if (!this.perListener) return false;
    if (PLUGIN_OPTIONS.has(key)) {
      throw new ConfigError(at.file, at.line, `'${key}' is not supported with per_listener_settings true: culex loads plugins for all listeners only`);
    }
    return LISTENER_SECURITY_OPTIONS.has(key);
  }

  /**
   * Applies a claimed option to `target`. Returns whether it makes the default listener exist
   * (when `target` is that listener). @throws OptionValueError, ConfigError
   */
  apply(at: Origin, key: string, rest: string, target: L, warn: Warn): boolean {
    const field = LISTENER_SECURITY_OPTIONS.get(key)!;
    const option = GLOBAL_OPTIONS_BY_NAME.get(key)!;
    let seen = this.lines.get(target);
    if (seen === undefined) this.lines.set(target, (seen = new Map()));
    const first = seen.get(key);
    if (first !== undefined && option.repeat === 'error') {
      throw new ConfigError(at.file, at.line, `duplicate ${key} value for this listener (first set at ${first.file}:${first.line})`);
    }
    const value = option.parse(rest, warn);
    let draft = this.drafts.get(target);
    if (draft === undefined) this.drafts.set(target, (draft = {}));
    (draft as Record<string, unknown>)[field] = value;
    seen.set(key, at);
    return key === 'password_file' || (key === 'allow_zero_length_clientid' && value === false);
  }

  /** The frozen settings of a listener that exists. `localOnly`: Mosquitto's local-only mode. */
  resolve(target: L | undefined, localOnly: boolean): ListenerSecurity {
    const d = target === undefined ? undefined : this.drafts.get(target);
    const s: SecurityDraft = {
      allowAnonymous: d?.allowAnonymous ?? localOnly,
      allowZeroLengthClientId: d?.allowZeroLengthClientId ?? true,
      autoIdPrefix: d?.autoIdPrefix ?? DEFAULT_AUTO_ID_PREFIX,
    };
    if (d?.passwordFile !== undefined) s.passwordFile = d.passwordFile;
    if (d?.aclFile !== undefined) s.aclFile = d.aclFile;
    if (d?.pskFile !== undefined) s.pskFile = d.pskFile;
    return Object.freeze(s as ListenerSecurity);
  }

  /**
   * The options given to a default listener that does not exist: an acl_file is an error (its
   * clients would be let through), the others only a warning. @throws ConfigError
   */
  checkUnused(target: L, warnings: string[]): void {
    const seen = this.lines.get(target);
    if (seen === undefined) return;
    const acl = seen.get('acl_file');
    if (acl !== undefined) {
      throw new ConfigError(
        acl.file,
        acl.line,
        "acl_file before any 'listener' line with per_listener_settings true belongs to the default listener, " +
          'which is not configured: no client would be checked against it (put it after the listener it is for)',
      );
    }
    for (const [key, at] of seen) {
      warnings.push(
        `${at.file}:${at.line}: ${key} before any 'listener' line with per_listener_settings true belongs to the ` +
          'default listener, which is not configured: it has no effect (as in Mosquitto)',
      );
    }
  }
}

/**
 * The security settings that apply to clients of listener `index`: its own with
 * per_listener_settings true (Mosquitto's defaults where a listener has none), otherwise the
 * global ones.
 */
export function listenerSecurity(config: BrokerConfig, index: number): ListenerSecurity {
  if (config.perListenerSettings) {
    const own = config.listeners[index]?.security;
    if (own !== undefined) return own;
    return Object.freeze({ allowAnonymous: false, allowZeroLengthClientId: true, autoIdPrefix: DEFAULT_AUTO_ID_PREFIX });
  }
  const s: { -readonly [K in keyof ListenerSecurity]: ListenerSecurity[K] } = {
    allowAnonymous: config.allowAnonymous,
    allowZeroLengthClientId: config.allowZeroLengthClientId,
    autoIdPrefix: config.autoIdPrefix,
  };
  if (config.passwordFile !== undefined) s.passwordFile = config.passwordFile;
  if (config.aclFile !== undefined) s.aclFile = config.aclFile;
  if (config.pskFile !== undefined) s.pskFile = config.pskFile;
  return Object.freeze(s);
}

/** Does any listener need the main thread's password check (a password file, or anonymous clients refused)? */
export function needsPasswordCheck(config: BrokerConfig): boolean {
  if (!config.perListenerSettings) return config.passwordFile !== undefined || !config.allowAnonymous;
  return config.listeners.some((_, i) => {
    const s = listenerSecurity(config, i);
    return s.passwordFile !== undefined || !s.allowAnonymous;
  });
}

/** Is an acl_file configured for any listener? */
export function anyAclFile(config: BrokerConfig): boolean {
  if (!config.perListenerSettings) return config.aclFile !== undefined;
  return config.listeners.some((_, i) => listenerSecurity(config, i).aclFile !== undefined);
}
