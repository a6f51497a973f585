/**
 * Reads mosquitto.conf-syntax configuration into the frozen BrokerConfig the core receives.
 *
 * Decisions where Mosquitto 2.0 leaves room (each is tested):
 * - No listener at all (no `listener`, `port`, `bind_address` or listener option): Mosquitto's
 *   "local only mode" — one listener on 127.0.0.1:1883 (Mosquitto also opens ::1; culex does
 *   not, so that a host without IPv6 still starts) and allow_anonymous defaults to true.
 * - Otherwise allow_anonymous defaults to false, as in Mosquitto 2, also when the only
 *   listener is the implicit default one (Mosquitto then keeps allowing anonymous clients on
 *   every interface, which culex does not copy).
 * - Listener options before the first `listener` line configure the implicit default listener
 *   (`port`, 1883 when not given), which then exists, as in Mosquitto; a warning says so.
 *   `bind_address` always applies to that default listener, even inside a listener block.
 * - A repeated string option (password_file, acl_file, certfile…) is an error; a repeated
 *   number or boolean: the last one wins. Both as Mosquitto.
 * - `max_qos` and `max_topic_alias` are per listener in Mosquitto and global in culex: when
 *   listeners disagree the lowest value is used (the stricter one) and a warning says so.
 * - Relative paths (password_file, include_dir, …) are relative to the working directory, as
 *   in Mosquitto, not to the configuration file.
 * - `include_dir` is only read from the main file; its `*.conf` files load in Mosquitto's
 *   order (case-insensitive, upper case first). Each file starts at the default listener,
 *   outside any bridge block, and the main file continues in the block it was in.
 * called from: main (start and reload), tests
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BridgeConfig, BrokerConfig, ListenerConfig } from './types.ts';
import { defaultConfig } from './defaults.ts';
import { ConfigError, OptionValueError } from './errors.ts';
import { splitConfigLines, valueTokens, parseInteger, parseIntegerToken, type ConfigLine } from './lineSyntax.ts';
import { GLOBAL_OPTIONS, GLOBAL_OPTIONS_BY_NAME, type MutableConfig } from './schema.ts';
import {
  LISTENER_OPTIONS,
  LISTENER_OPTIONS_BY_NAME,
  finishListener,
  newListenerDraft,
  parseBindAddress,
  parseListenerLine,
  type ListenerDraft,
} from './listenerOptions.ts';
import { COMPAT_OPTION_NAMES, judgeCompatOption } from './compat.ts';
import { applyBridgeOption, BRIDGE_OPTION_NAMES, finishBridge, isBridgeOption, newBridgeDraft, type BridgeDraft } from './bridgeOptions.ts';
import { SecurityScopes } from './listenerSecurity.ts';
import { closestKey } from './suggest.ts';
import { PLUGIN_KEYS, PluginLines, isPluginOption } from './plugins.ts';
import { PersistentSubscriptionLines } from './persistentSubscription.ts';
import { ClusterLines } from './clusterOptions.ts';

export { ConfigError } from './errors.ts';

/** A parsed configuration and the notes for the operator (ignored options, clamps). */
export interface LoadedConfig {
  readonly config: BrokerConfig;
  /** one line each, `file:line: message` */
  readonly warnings: readonly string[];
}

/** Lists the entries of a directory (names only). Injectable for tests. */
export type ListDir = (dir: string) => readonly string[];

const SPECIAL_KEYS = ['listener', 'port', 'bind_address', 'include_dir', 'log_type', 'log_dest', 'log_facility', 'per_listener_settings', 'persistent_subscription', 'cluster_nats_url', 'cluster_node_name', 'auth_plugin_deny_special_chars', ...PLUGIN_KEYS] as const;

/** Every key culex recognises (for suggestions, and the option table test); plugin_opt_* / auth_opt_* are recognised by prefix. */
export const KNOWN_KEYS: readonly string[] = [
  ...SPECIAL_KEYS,
  ...GLOBAL_OPTIONS.map((o) => o.name),
  ...LISTENER_OPTIONS.map((o) => o.name),
  ...COMPAT_OPTION_NAMES,
  ...BRIDGE_OPTION_NAMES,
  'connection',
];

/** Mosquitto's log_type words; `all` enables every one of them. */
const LOG_TYPES = [
  'error',
  'warning',
  'notice',
  'information',
  'debug',
  'subscribe',
  'unsubscribe',
  'websockets',
  'internal',
] as const;

/** Where a line came from. */
interface Origin {
  readonly file: string;
  readonly line: number;
}

const LOCAL_ONLY_HOST = '127.0.0.1';
const DEFAULT_PORT = 1883;
/** the options of the LMDB store, which do nothing without `persistence true` */
const STORE_OPTIONS = [
  ['persistenceLocation', 'persistence_location'],
  ['persistenceDurability', 'persistence_durability'],
  ['persistenceBatchWindowMs', 'persistence_batch_window_ms'],
] as const;

/** The state of one parse, across the main file and its include_dir files. */
class ConfigBuilder {
  private readonly config: MutableConfig = { ...defaultConfig() };
  /** the fields a line of the file set, with the last such line */
  private readonly explicit = new Map<string, Origin>();
  /** first occurrence of each option that may not repeat, keyed by scope + name */
  private readonly firstSeen = new Map<string, string>();
  private readonly listeners: ListenerDraft[] = [];
  private readonly defaultListener: ListenerDraft;
  private defaultListenerUsed = false;
  private defaultPortSet = false;
  private defaultListenerWarned = false;
  private current: ListenerDraft;
  /** the `connection` block options apply to (local to each file, as the listener) */
  private bridge: BridgeDraft | undefined = undefined;
  private readonly bridges: BridgeDraft[] = [];
  private logTypes: Set<string> | undefined;
  private logDest: string[] | undefined;
  /** the last log_facility line: used by `log_dest syslog`, warned as ignored without it (finish) */
  private logFacility: { value: number; at: Origin } | undefined;
  /** per_listener_settings and the security options it moves into listeners */
  private readonly security = new SecurityScopes<ListenerDraft>();
  private readonly plugins = new PluginLines();
  private readonly persistentSubscriptions = new PersistentSubscriptionLines();
  private readonly cluster = new ClusterLines();
  readonly warnings: string[] = [];

  constructor(mainFile: string) {
    this.defaultListener = newListenerDraft(DEFAULT_PORT, undefined, mainFile, 0);
    this.current = this.defaultListener;
  }

  /**
   * Runs `read` as a separate file: as in Mosquitto, where the current listener and bridge
   * are local to each file, an included file starts at the default listener outside any
   * bridge, and the including file continues where it was.
   */
  inFile(read: () => void): void {
    const saved = { current: this.current, bridge: this.bridge };
    this.current = this.defaultListener;
    this.bridge = undefined;
    try {
      read();
    } finally {
      this.current = saved.current;
      this.bridge = saved.bridge;
    }
  }

  /** Applies one line; throws ConfigError. */
  apply(at: Origin, entry: ConfigLine): void {
    const warn = (message: string): void => {
      this.warnings.push(`${at.file}:${at.line}: ${message}`);
    };
    try {
      this.applyOption(at, entry.key, entry.rest, warn);
    } catch (err) {
      if (err instanceof OptionValueError) throw new ConfigError(at.file, at.line, `${entry.key}: ${err.message}`);
      throw err;
    }
  }

  private applyOption(at: Origin, key: string, rest: string, warn: (m: string) => void): void {
    switch (key) {
      case 'listener':
        return this.declareListener(at, rest);
      case 'port':
        return this.setDefaultPort(at, rest, warn);
      case 'bind_address':
        return this.setBindAddress(at, rest, warn);
      case 'log_type':
        return this.addLogTypes(rest);
      case 'log_dest':
        return this.addLogDest(at, rest);
      case 'log_facility':
        // Mosquitto: 0-7 = local0-local7 ("Invalid log_facility value"); the last line wins
        this.logFacility = { value: parseInteger(rest, 0, 7), at };
        return;
      case 'per_listener_settings':
        return this.security.setMode(rest);
      case 'persistent_subscription':
        return this.persistentSubscriptions.add(at, rest);
      case 'cluster_nats_url':
        return this.cluster.addUrls(at, rest);
      case 'cluster_node_name':
        return this.cluster.setName(at, rest);
    }
    // with per_listener_settings true, security options go to the listener (plugin lines are refused there)
    if (this.security.claims(at, key)) {
      const target = this.current;
      const creates = this.security.apply(at, key, rest, target, warn);
      if (target === this.defaultListener && creates) this.useDefaultListener(at, warn, key);
      return;
    }
    if (key === 'plugin' || key === 'auth_plugin') return this.plugins.declare(at, key, rest);
    if (isPluginOption(key)) return this.plugins.option(at, key, rest);
    if (key === 'auth_plugin_deny_special_chars') return this.plugins.denySpecialChars(at, key, rest, warn);
    const global = GLOBAL_OPTIONS_BY_NAME.get(key);
    if (global !== undefined) {
      if (global.repeat === 'error') this.once(at, key, key);
      (this.config as Record<string, unknown>)[global.field] = global.parse(rest, warn);
      this.explicit.set(global.field, at);
      return;
    }
    const listenerOption = LISTENER_OPTIONS_BY_NAME.get(key);
    if (listenerOption !== undefined) {
      const target = this.current;
      const isDefault = target === this.defaultListener;
      if (listenerOption.needsListener && isDefault) {
        throw new ConfigError(at.file, at.line, `${key}: declare a 'listener' before using it`);
      }
      if (listenerOption.repeat === 'error') this.once(at, `${this.listeners.indexOf(target)}:${key}`, key);
      listenerOption.apply(target, rest, warn);
      if (isDefault && listenerOption.createsDefaultListener) this.useDefaultListener(at, warn, key);
      return;
    }
    if (key === 'connection') {
      this.bridge = newBridgeDraft(rest, at.file, at.line);
      this.bridges.push(this.bridge);
      return;
    }
    if (isBridgeOption(key)) {
      // Mosquitto: "Invalid bridge configuration"
      if (this.bridge === undefined) throw new ConfigError(at.file, at.line, `'${key}' is only valid inside a bridge 'connection' block`);
      return applyBridgeOption(this.bridge, key, rest, warn);
    }
    this.applyCompat(at, key, rest, warn);
  }

  private applyCompat(at: Origin, key: string, rest: string, warn: (m: string) => void): void {
    const verdict = judgeCompatOption(key, rest);
    switch (verdict.kind) {
      case 'accept':
        return;
      case 'ignore':
        return warn(verdict.warning);
      case 'reject':
        throw new ConfigError(at.file, at.line, verdict.reason);
      case 'unknown': {
        const guess = closestKey(key, KNOWN_KEYS);
        const hint = guess === undefined ? '' : ` (did you mean '${guess}'?)`;
        throw new ConfigError(at.file, at.line, `unknown option '${key}'${hint}`);
      }
    }
  }

  /** Refuses a second occurrence of an option Mosquitto reads only once. */
  private once(at: Origin, scopeKey: string, name: string): void {
    const first = this.firstSeen.get(scopeKey);
    if (first !== undefined) {
      throw new ConfigError(at.file, at.line, `duplicate ${name} value (first set at ${first})`);
    }
    this.firstSeen.set(scopeKey, `${at.file}:${at.line}`);
  }

  private declareListener(at: Origin, rest: string): void {
    const { port, host } = parseListenerLine(rest);
    const draft = newListenerDraft(port, host, at.file, at.line);
    this.listeners.push(draft);
    this.current = draft;
  }

  private setDefaultPort(at: Origin, rest: string, warn: (m: string) => void): void {
    const tokens = valueTokens(rest);
    if (tokens.length !== 1) throw new OptionValueError(tokens.length === 0 ? 'missing value' : 'expected one port');
    const port = parseIntegerToken(tokens[0]!);
    if (port < 0 || port > 65535) throw new OptionValueError(`invalid port ${port} (0..65535)`);
    if (this.defaultPortSet) warn('default listener port given more than once; the last one is used (as Mosquitto)');
    this.defaultListener.port = port;
    this.defaultPortSet = true;
    this.markDefaultListener(at);
  }

  /** The implicit default listener exists from here on; remember where it first appeared. */
  private markDefaultListener(at: Origin): void {
    if (!this.defaultListenerUsed) {
      this.defaultListener.file = at.file;
      this.defaultListener.line = at.line;
    }
    this.defaultListenerUsed = true;
  }

  private setBindAddress(at: Origin, rest: string, warn: (m: string) => void): void {
    this.once(at, 'bind_address', 'bind_address');
    this.defaultListener.host = parseBindAddress(rest);
    if (this.current !== this.defaultListener) {
      warn(
        `bind_address applies to the default listener (port ${this.defaultListener.port}), not to the listener at ` +
          `${this.current.file}:${this.current.line}, as in Mosquitto; use 'listener PORT ADDRESS' instead`,
      );
    }
    this.markDefaultListener(at);
  }

  private useDefaultListener(at: Origin, warn: (m: string) => void, key: string): void {
    this.markDefaultListener(at);
    if (!this.defaultListenerWarned && !this.defaultPortSet) {
      this.defaultListenerWarned = true;
      warn(`'${key}' before any 'listener' line configures the default listener on port ${DEFAULT_PORT}, as in Mosquitto`);
    }
  }

  private addLogTypes(rest: string): void {
    const tokens = valueTokens(rest);
    if (tokens.length === 0) throw new OptionValueError('missing value');
    this.logTypes ??= new Set();
    for (const token of tokens) {
      if (token === 'none') this.logTypes.clear();
      else if (token === 'all') for (const t of LOG_TYPES) this.logTypes.add(t);
      else if ((LOG_TYPES as readonly string[]).includes(token)) this.logTypes.add(token);
      else throw new OptionValueError(`invalid log type '${token}' (expected ${LOG_TYPES.join(' | ')} | all | none)`);
    }
  }

  /**
   * One `log_dest` line (Mosquitto reads its first word): `none` clears what earlier lines
   * added; stdout, stderr, topic, syslog and `file PATH` add to it. dlt is refused: culex
   * cannot write to it, and a line that is accepted must take effect.
   */
  private addLogDest(at: Origin, rest: string): void {
    const tokens = valueTokens(rest);
    if (tokens.length === 0) throw new OptionValueError('missing value');
    this.logDest ??= [];
    const dest = tokens[0]!;
    switch (dest) {
      case 'none':
        this.logDest.length = 0;
        return;
      case 'stdout':
      case 'stderr':
      case 'topic':
      case 'syslog':
        if (!this.logDest.includes(dest)) this.logDest.push(dest);
        return;
      case 'file': {
        // Mosquitto: "Duplicate \"log_dest file\" value."
        this.once(at, 'log_dest file', 'log_dest file');
        const path = rest.slice(4).trim();
        if (path === '') throw new OptionValueError('missing value');
        this.logDest.push(`file ${path}`);
        return;
      }
      case 'dlt':
        throw new OptionValueError("'log_dest dlt' is not supported by culex: use 'log_dest file PATH', stderr or stdout");
      default:
        throw new OptionValueError(`invalid log destination '${dest}' (expected stdout | stderr | file PATH | topic | syslog | none)`);
    }
  }

  /** Resolves defaults that depend on the whole file and freezes the result. */
  finish(mainFile: string): BrokerConfig {
    const drafts = [...this.listeners, ...(this.defaultListenerUsed ? [this.defaultListener] : [])];
    const localOnly = drafts.length === 0;
    checkOverlaps(drafts);
    const listeners: ListenerConfig[] = [];
    for (const draft of drafts) {
      const { listener, problem, note } = finishListener(draft);
      if (problem !== undefined) throw new ConfigError(draft.file, draft.line, problem);
      if (note !== undefined) this.warnings.push(`${draft.file}:${draft.line}: ${note}`);
      listeners.push(listener);
    }
    if (localOnly) {
      listeners.push(Object.freeze({ port: DEFAULT_PORT, host: LOCAL_ONLY_HOST, protocol: 'mqtt', maxConnections: -1 }));
      this.warnings.push(
        `${mainFile}:0: no listener configured: listening on ${LOCAL_ONLY_HOST}:${DEFAULT_PORT} only ` +
          '(Mosquitto 2 "local only mode")',
      );
    }
    if (this.security.perListener) {
      for (let i = 0; i < listeners.length; i++) {
        listeners[i] = Object.freeze({ ...listeners[i]!, security: this.security.resolve(drafts[i], localOnly) });
      }
      if (!this.defaultListenerUsed) this.security.checkUnused(this.defaultListener, this.warnings);
    }
    this.config.listeners = Object.freeze(listeners);
    this.config.perListenerSettings = this.security.perListener;
    if (!this.explicit.has('allowAnonymous')) this.config.allowAnonymous = localOnly;
    this.finishPersistence();
    const unusedDefault = this.defaultListenerUsed ? [] : [this.defaultListener];
    this.config.maxQos = this.lowest(mainFile, 'max_qos', drafts, unusedDefault, (d) => d.maxQos, this.config.maxQos);
    this.config.maxTopicAlias = this.lowest(
      mainFile,
      'max_topic_alias',
      drafts,
      unusedDefault,
      (d) => d.maxTopicAlias,
      this.config.maxTopicAlias,
    );
    const types = this.logTypes;
    this.config.logTypes = Object.freeze(types === undefined ? [...this.config.logTypes] : LOG_TYPES.filter((t) => types.has(t)));
    this.config.logDest = Object.freeze([...(this.logDest ?? this.config.logDest)]);
    if (this.logFacility !== undefined) {
      this.config.logFacility = this.logFacility.value;
      const { at } = this.logFacility;
      if (!this.config.logDest.includes('syslog')) {
        this.warnings.push(`${at.file}:${at.line}: 'log_facility' ignored: it applies to 'log_dest syslog' only, which is not configured`);
      }
    }
    if (this.config.metricsListener !== undefined) this.config.metricsListener = Object.freeze(this.config.metricsListener);
    this.config.persistentSubscriptions = this.persistentSubscriptions.finish(this.config.maxQos, this.warnings);
    const cluster = this.cluster.finish();
    this.config.clusterNatsUrls = cluster.urls;
    if (cluster.nodeName !== undefined) this.config.clusterNodeName = cluster.nodeName;
    const dynamicSecurity = this.plugins.finish(this.warnings);
    if (dynamicSecurity !== undefined) this.config.dynamicSecurity = dynamicSecurity;
    if (this.bridges.length > 0) this.config.bridges = this.finishBridges();
    return Object.freeze(this.config);
  }

  /**
   * A configuration file keeps Mosquitto's `persistence false` unless it says otherwise (the
   * embedded default, without -c, has it on): a mosquitto.conf without the line gets no store,
   * as in Mosquitto. The store's other options then do nothing, which is said for each line.
   */
  private finishPersistence(): void {
    if (!this.explicit.has('persistence')) this.config.persistence = false;
    if (this.config.persistence) return;
    const why = this.explicit.has('persistence') ? 'persistence false' : "persistence is off (Mosquitto's default in a configuration file; add 'persistence true')";
    for (const [field, name] of STORE_OPTIONS) {
      const at = this.explicit.get(field);
      if (at !== undefined) this.warnings.push(`${at.file}:${at.line}: '${name}' has no effect: ${why}`);
    }
  }

  /** Every bridge complete, their local client ids distinct (Mosquitto's config__check). */
  private finishBridges(): readonly BridgeConfig[] {
    const seen = new Map<string, BridgeDraft>();
    const out: BridgeConfig[] = [];
    for (const draft of this.bridges) {
      let bridge: BridgeConfig;
      try {
        bridge = finishBridge(draft);
      } catch (err) {
        if (err instanceof OptionValueError) throw new ConfigError(draft.file, draft.line, err.message);
        throw err;
      }
      const other = seen.get(bridge.localClientId);
      if (other !== undefined) {
        throw new ConfigError(draft.file, draft.line, `bridge local_clientid '${bridge.localClientId}' is also used by bridge '${other.name}' (${other.file}:${other.line})`);
      }
      seen.set(bridge.localClientId, draft);
      out.push(bridge);
    }
    return Object.freeze(out);
  }

  /**
   * One global value for an option Mosquitto sets per listener: every listener counts with
   * its own value (or the default); the lowest wins.
   */
  private lowest<T extends number>(
    mainFile: string,
    name: string,
    drafts: readonly ListenerDraft[],
    unused: readonly ListenerDraft[],
    pick: (d: ListenerDraft) => T | undefined,
    fallback: T,
  ): T {
    const values = drafts.map((d) => pick(d) ?? fallback);
    for (const d of unused) {
      const v = pick(d);
      if (v !== undefined) values.push(v);
    }
    if (values.length === 0) return fallback;
    const min = values.reduce((a, b) => (b < a ? b : a));
    if (values.some((v) => v !== min)) {
      this.warnings.push(
        `${mainFile}:0: ${name} differs between listeners; culex applies one value to all of them: using ${min}`,
      );
    }
    return min;
  }
}

/**
 * Two listeners on the same port whose addresses overlap would fail to bind at start
 * (Mosquitto: "Address already in use"); report it with both lines instead. Port 0 picks a
 * free port each time, so it never overlaps.
 */
function checkOverlaps(drafts: readonly ListenerDraft[]): void {
  for (let i = 0; i < drafts.length; i++) {
    const a = drafts[i]!;
    for (let j = 0; j < i; j++) {
      const b = drafts[j]!;
      if (a.port === 0 || a.port !== b.port) continue;
      if (a.host === b.host || a.host === undefined || b.host === undefined) {
        throw new ConfigError(a.file, a.line, `listener on port ${a.port} overlaps the listener declared at ${b.file}:${b.line}`);
      }
    }
  }
}

/**
 * Mosquitto's include_dir order: case-insensitive alphabetical, and for names that differ
 * only in case, upper case first (00.conf, 01.conf, A.conf, a.conf, B.conf, b.conf).
 */
export function compareIncludeNames(a: string, b: string): number {
  const la = a.toLowerCase();
  const lb = b.toLowerCase();
  if (la !== lb) return la < lb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function defaultReadFile(path: string): string {
  if (statSync(path).isDirectory()) throw new Error('is a directory');
  const bytes = readFileSync(path);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error('malformed UTF-8');
  }
}

function defaultListDir(dir: string): readonly string[] {
  return readdirSync(dir);
}

function readOrFail(readFile: (path: string) => string, path: string, at: Origin): string {
  try {
    return readFile(path);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(at.file, at.line, `cannot read configuration file ${path}: ${reason}`);
  }
}

/**
 * Parses mosquitto.conf-syntax text. `file` names the source in errors and warnings;
 * `readFile` and `listDir` are used for include_dir and are injectable for tests.
 * The result is frozen (listeners too) and built on defaultConfig().
 * @throws ConfigError naming file, line and, for unknown keys, the closest known key.
 */
export function parseConfig(
  text: string,
  file: string,
  readFile: (path: string) => string = defaultReadFile,
  listDir: ListDir = defaultListDir,
): LoadedConfig {
  const builder = new ConfigBuilder(file);
  for (const entry of splitConfigLines(text.replace(/^\uFEFF/, ''))) {
    const at = { file, line: entry.line };
    if (entry.key !== 'include_dir') {
      builder.apply(at, entry);
      continue;
    }
    const dir = parseIncludeDir(at, entry.rest);
    for (const name of listIncludes(listDir, dir, at)) {
      const path = join(dir, name);
      if (resolve(path) === resolve(file)) {
        builder.warnings.push(`${file}:${entry.line}: include_dir skips the main configuration file ${path}`);
        continue;
      }
      const included = readOrFail(readFile, path, at).replace(/^\uFEFF/, '');
      builder.inFile(() => {
        for (const inner of splitConfigLines(included)) {
          const innerAt = { file: path, line: inner.line };
          if (inner.key === 'include_dir') {
            builder.warnings.push(`${path}:${inner.line}: include_dir is only read from the main configuration file`);
            continue;
          }
          builder.apply(innerAt, inner);
        }
      });
    }
  }
  const config = builder.finish(file);
  return Object.freeze({ config, warnings: Object.freeze([...builder.warnings]) });
}

function parseIncludeDir(at: Origin, rest: string): string {
  if (rest === '') throw new ConfigError(at.file, at.line, 'include_dir: missing value');
  return rest;
}

function listIncludes(listDir: ListDir, dir: string, at: Origin): string[] {
  let names: readonly string[];
  try {
    names = listDir(dir);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(at.file, at.line, `include_dir: cannot list ${dir}: ${reason}`);
  }
  return names.filter((n) => n.length > 5 && n.endsWith('.conf')).sort(compareIncludeNames);
}

/**
 * Reads and parses a configuration file.
 * @throws ConfigError when the file cannot be read or is invalid.
 */
export function loadConfigFile(path: string): LoadedConfig {
  const text = readOrFail(defaultReadFile, path, { file: path, line: 0 });
  return parseConfig(text, path);
}
