/**
 * Mosquitto options that are not culex's own settings, and what reading one does.
 *
 * The rule: an option culex accepts has its effect (schema.ts, listenerOptions.ts,
 * listenerSecurity.ts, plugins.ts, load.ts). Otherwise reading it either
 * - warns, naming the line, when ignoring it is harmless: it lets in nothing the configuration
 *   meant to keep out and loses nothing it meant to keep (IGNORED, WARN_IF_TRUE, bridges); or
 * - refuses, with a ConfigError naming the line, when ignoring it would let in clients, topics
 *   or ciphers the configuration meant to keep out, or lose something it asked for (REJECTED,
 *   `tls_keyform engine`).
 * test/unit/config/optionTable.test.ts holds every option name to one of these.
 *
 * Warned (harmless):
 *   autosave_interval, autosave_on_changes: culex commits every message; there is nothing to save.
 *   persistence_file: the store is the LMDB environment in persistence_location (data.mdb,
 *     lock.mdb): several files, so a single name cannot be honoured; a Mosquitto database of that
 *     name there is neither read nor overwritten (opening it as LMDB would destroy it).
 *   retry_interval: removed in Mosquitto 2 as well.
 *   max_topic_alias_broker: culex sends no topic aliases (as with 0): topics go in full.
 *   allow_duplicate_messages true: one copy per client for overlapping subscriptions, at their
 *     highest QoS with every subscription identifier (false, what culex does, is silent).
 *   websockets_log_level: culex has no libwebsockets log.
 * Bridges (`connection` blocks and their options) are implemented: see bridgeOptions.ts, which
 * refuses the few bridge options culex does not implement.
 * Accepted silently at the value culex behaves as, refused at the other: tls_keyform pem.
 * Logging (log_dest, log_type, log_timestamp, log_timestamp_format, log_facility) is read by
 *   load.ts and schema.ts: `log_dest syslog` goes through util-linux logger (src/log/syslog.ts),
 *   `log_dest dlt` is refused there; log_facility is warned as ignored without `log_dest syslog`.
 * Refused:
 *   websockets_origin; tls_engine, tls_engine_kpass_sha1; global_plugin. `plugin`/`auth_plugin`,
 *   their options and auth_plugin_deny_special_chars are read by plugins.ts: the dynamic
 *   security plugin is built in, any other plugin is refused there.
 * Implemented elsewhere since they were once warned here: user, pid_file (src/cli/
 *   processOptions.ts), memory_limit (src/link/memoryLimit.ts), websockets_headers_size,
 *   dhparamfile and capath (src/transport/), upgrade_outgoing_qos, max_inflight_bytes,
 *   bind_interface (src/transport/bindAddresses.ts), use_username_as_clientid and clientid_prefixes
 *   (src/link/connection.ts), http_dir (src/transport/httpFiles.ts), psk_hint and psk_file
 *   (src/transport/tlsServer.ts, src/auth/pskFile.ts), check_retain_source (src/broker/broker.ts).
 * called from: main, tests
 */
import { parseBool, parseEnum } from './lineSyntax.ts';

/** What to do with an option that is not one of culex's own. */
export type CompatVerdict =
  | { readonly kind: 'unknown' }
  | { readonly kind: 'accept' }
  | { readonly kind: 'ignore'; readonly warning: string }
  | { readonly kind: 'reject'; readonly reason: string };

const IGNORED: Readonly<Record<string, string>> = {
  autosave_interval: 'culex commits every acknowledged message to LMDB; there is no periodic save',
  autosave_on_changes: 'culex commits every acknowledged message to LMDB; there is no periodic save',
  persistence_file:
    'the name is not used: culex keeps its LMDB store (data.mdb and lock.mdb) in persistence_location; ' +
    'a file of that name there (a Mosquitto database) is neither read nor written',
  retry_interval: 'removed in Mosquitto 2 as well',
  websockets_log_level: 'culex has no libwebsockets log',
  max_topic_alias_broker: 'culex sends no topic aliases to clients (as with 0): topics go in full',
};

const REJECTED: Readonly<Record<string, string>> = {
  websockets_origin: 'culex cannot restrict WebSocket origins',
  tls_engine: 'culex does not support OpenSSL engines',
  tls_engine_kpass_sha1: 'culex does not support OpenSSL engines',
  global_plugin: 'culex does not load Mosquitto plugins; use password_file and acl_file',
};

/**
 * Boolean options whose `true` culex does not implement but may ignore with a warning (what
 * `false` asks for is what culex does).
 */
const WARN_IF_TRUE: Readonly<Record<string, string>> = {
  allow_duplicate_messages:
    'culex sends a client one copy of a message that matches several of its subscriptions, at the highest of ' +
    'their QoS and with every matching subscription identifier (Mosquitto 2 sends one copy per subscription)',
};

/** Every key this module knows, for "did you mean" suggestions. */
export const COMPAT_OPTION_NAMES: readonly string[] = [
  ...Object.keys(IGNORED),
  ...Object.keys(REJECTED),
  ...Object.keys(WARN_IF_TRUE),
  'tls_keyform',
];

const NOT_IMPLEMENTED = 'is not implemented by culex';

/**
 * Decides what to do with `key rest` (bridge options never come here: see bridgeOptions.ts).
 * May throw OptionValueError for a malformed value of an option it accepts.
 */
export function judgeCompatOption(key: string, rest: string): CompatVerdict {
  const ignored = IGNORED[key];
  if (ignored !== undefined) return { kind: 'ignore', warning: `'${key}' ignored: ${ignored}` };
  const rejected = REJECTED[key];
  if (rejected !== undefined) return { kind: 'reject', reason: `'${key}' ${NOT_IMPLEMENTED}: ${rejected}` };
  const warnIfTrue = WARN_IF_TRUE[key];
  if (warnIfTrue !== undefined) {
    if (!parseBool(rest)) return { kind: 'accept' };
    return { kind: 'ignore', warning: `'${key} true' ignored: ${warnIfTrue}` };
  }
  if (key === 'tls_keyform') {
    if (parseEnum(rest, ['pem', 'engine']) === 'pem') return { kind: 'accept' };
    return { kind: 'reject', reason: "'tls_keyform engine' is not implemented by culex: keys must be PEM files" };
  }
  return { kind: 'unknown' };
}
