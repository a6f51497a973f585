/**
 * Username/password checks for CONNECT, with Mosquitto 2.0's rules:
 *
 * | client sends      | password_file set                       | no password_file |
 * |-------------------|-----------------------------------------|------------------|
 * | no username       | allow_anonymous ? ok : not_authorized   | same             |
 * | username          | file says ok ? ok : bad_credentials     | allow_anonymous ? ok : not_authorized |
 *
 * (security.c mosquitto_unpwd_check + security_default.c: the password file only judges
 * clients that give a username; without any password source, a username is not checked
 * and allow_anonymous decides.) A username with no password, an unknown username and a
 * wrong password are all `bad_credentials`. Mosquitto 2.0.11 answers every refusal with
 * "not authorised" (v3 return code 5, v5 0x87); culex reports the distinction so that the
 * caller may send 4 / 0x86 for bad credentials, or map both to 5 / 0x87 to match Mosquitto
 * byte for byte.
 *
 * With per_listener_settings, each listener has its own allow_anonymous and password file
 * (AuthenticatorOptions.listeners, chosen by the listener index the CONNECT came in through);
 * a password file named by several listeners is read once. A listener index with no settings
 * is refused, as Mosquitto refuses a client whose listener it does not know.
 *
 * PBKDF2 ($7$) checks run on a small piscina pool created on first use; $6$ (one SHA-512)
 * is cheap and runs inline. An unknown username costs the same work as a known one, so
 * the response time does not tell which usernames exist.
 * called from: main (workers reach it through a message channel)
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { Piscina } from 'piscina';
import { ConfigError } from '../config/errors.ts';
import { DEFAULT_ITERATIONS, parsePasswordFile, verifyPassword, type PasswordEntry } from './passwordFile.ts';
import type { VerifyRequest } from './verifyTask.ts';
import type { BrokerConfig } from '../config/types.ts';
import { listenerSecurity } from '../config/listenerSecurity.ts';

/** Outcome of a credentials check. */
export type AuthResult = 'ok' | 'bad_credentials' | 'not_authorized';

/** What one listener (or, without per_listener_settings, every listener) applies. */
export interface AuthSettings {
  readonly allowAnonymous: boolean;
  readonly passwordFile?: string;
}

/**
 * The security settings the Authenticator applies: BrokerConfig's allowAnonymous / passwordFile,
 * or with per_listener_settings each listener's (authSettingsOf() builds them from a config).
 */
export interface AuthenticatorOptions extends AuthSettings {
  /** per_listener_settings: the settings of each listener, by listener index; the two above are then unused */
  readonly listeners?: readonly AuthSettings[];
  /** verification threads (default 2; at least 1) */
  readonly threads?: number;
  /** ms an idle verification thread lives (default 30 s) */
  readonly idleTimeoutMs?: number;
}

const EMPTY = new Uint8Array(0);

/** The Authenticator's settings for a configuration (listenerSecurity() of each listener, or the global ones). */
export function authSettingsOf(config: BrokerConfig): AuthenticatorOptions {
  const global = { allowAnonymous: config.allowAnonymous, passwordFile: config.passwordFile };
  if (!config.perListenerSettings) return global;
  return { ...global, listeners: config.listeners.map((_, i) => listenerSecurity(config, i)) };
}

/** One listener's rule: `users` undefined = no password file. */
interface Rule {
  readonly allowAnonymous: boolean;
  readonly users: Map<string, PasswordEntry> | undefined;
}

/**
 * Reads every password file of `opts` once; the rule of each listener (or the one global rule),
 * and a fingerprint of everything they decide by (settings and file contents): two equal
 * fingerprints give every client the same answer. @throws ConfigError
 */
function rulesOf(opts: AuthenticatorOptions): { global: Rule; perListener: Rule[] | undefined; fingerprint: string } {
  const files = new Map<string, { users: Map<string, PasswordEntry>; text: string }>();
  const rule = (s: AuthSettings): Rule => {
    const path = s.passwordFile;
    if (path === undefined) return { allowAnonymous: s.allowAnonymous, users: undefined };
    let file = files.get(path);
    if (file === undefined) files.set(path, (file = readPasswordFile(path)));
    return { allowAnonymous: s.allowAnonymous, users: file.users };
  };
  const settings = (s: AuthSettings) => ({ allowAnonymous: s.allowAnonymous, passwordFile: s.passwordFile ?? null });
  const rules = opts.listeners !== undefined
    ? { global: { allowAnonymous: false, users: undefined }, perListener: opts.listeners.map(rule) }
    : { global: rule(opts), perListener: undefined };
  const fingerprint = JSON.stringify([settings(opts), opts.listeners?.map(settings) ?? null, [...files].map(([path, f]) => [path, f.text])]);
  return { ...rules, fingerprint };
}

/** Reads and parses a password file; any failure is a ConfigError naming the file. */
function readPasswordFile(path: string): { users: Map<string, PasswordEntry>; text: string } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, 0, `cannot read password file: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { users: parsePasswordFile(text, path), text };
}

/** Checks CONNECT credentials against allow_anonymous and the password file. */
export class Authenticator {
  private settings: AuthenticatorOptions;
  /** without per_listener_settings: the rule of every listener */
  private global: Rule;
  /** with per_listener_settings: the rule of each listener, by index */
  private perListener: Rule[] | undefined;
  /** rulesOf().fingerprint of the rules in force */
  private fingerprint: string;
  private pool: Piscina | undefined;
  private closed = false;
  private readonly threads: number;
  private readonly idleTimeoutMs: number;
  /** stands in for unknown users so that they cost the same work as known ones */
  private readonly decoy: PasswordEntry = {
    kind: 'sha512-pbkdf2',
    iterations: DEFAULT_ITERATIONS,
    salt: new Uint8Array(randomBytes(12)),
    hash: new Uint8Array(randomBytes(64)),
  };

  /** Reads the password file at once, so that a bad file stops the start. @throws ConfigError */
  constructor(opts: AuthenticatorOptions) {
    this.settings = opts;
    this.threads = Math.max(1, Math.min(opts.threads ?? 2, 2));
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 30_000;
    ({ global: this.global, perListener: this.perListener, fingerprint: this.fingerprint } = rulesOf(opts));
  }

  /**
   * Decides whether a CONNECT with these credentials, on listener `listener` (an index of
   * BrokerConfig.listeners), may proceed. `username` undefined = the client sent no username.
   */
  async check(username: string | undefined, password: Uint8Array | undefined, listener = 0): Promise<AuthResult> {
    if (this.closed) throw new Error('Authenticator is closed');
    const rule = this.perListener === undefined ? this.global : this.perListener[listener];
    if (rule === undefined) return 'not_authorized';
    if (username === undefined || rule.users === undefined) {
      return rule.allowAnonymous ? 'ok' : 'not_authorized';
    }
    const entry = rule.users.get(username);
    const matches = await this.verify(entry ?? this.decoy, password ?? EMPTY);
    return entry !== undefined && password !== undefined && matches ? 'ok' : 'bad_credentials';
  }

  private verify(entry: PasswordEntry, password: Uint8Array): Promise<boolean> | boolean {
    if (entry.kind === 'sha512') return verifyPassword(entry, password);
    this.pool ??= new Piscina({
      filename: new URL('./verifyTask.ts', import.meta.url).href,
      minThreads: 0,
      maxThreads: this.threads,
      idleTimeout: this.idleTimeoutMs,
    });
    const request: VerifyRequest = { entry, password };
    return this.pool.run(request) as Promise<boolean>;
  }

  /**
   * Re-reads the password files, optionally with new settings (config reload). On error the
   * previous users and settings stay in force. Returns whether any answer may have changed
   * (settings or a file's contents differ): only then must connected clients be checked again.
   * @throws ConfigError
   */
  reload(next?: AuthenticatorOptions): boolean {
    const settings = next ?? this.settings;
    const rules = rulesOf(settings);
    const changed = rules.fingerprint !== this.fingerprint;
    this.global = rules.global;
    this.perListener = rules.perListener;
    this.fingerprint = rules.fingerprint;
    this.settings = settings;
    return changed;
  }

  /** Stops the verification threads; later checks throw. */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    if (pool !== undefined) await pool.destroy();
  }
}
