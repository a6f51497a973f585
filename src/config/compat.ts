/**
 * Mosquitto options culex does not implement, and what reading one does.
 *
 * The rule: accept the option with a warning when ignoring it changes nothing that protects
 * the broker (persistence timing, logging format, process user, bridges…), so that a
 * Mosquitto configuration still starts; refuse it with a ConfigError when ignoring it would
 * silently let in clients, topics or ciphers that the configuration meant to keep out.
 *
 * Accepted with a warning (no effect in culex):
 *   autosave_interval, autosave_on_changes, persistence_file (culex commits every message to
 *   LMDB in persistence_location); log_timestamp, log_timestamp_format, log_facility;
 *   user, pid_file; allow_duplicate_messages (culex never sends duplicates), retry_interval
 *   (removed in Mosquitto 2); memory_limit; websockets_log_level, websockets_headers_size;
 *   http_dir (no HTTP file serving); dhparamfile (ECDHE is used); max_topic_alias_broker;
 *   capath (see listenerOptions.ts); `log_dest syslog|topic|dlt` (see load.ts).
 * Bridges (`connection` blocks and their options) are implemented: see bridgeOptions.ts, which
 * refuses the few bridge options culex does not implement.
 * Accepted silently when set to the value culex behaves as:
 *   use_username_as_clientid false, check_retain_source false, tls_keyform pem.
 * per_listener_settings is implemented (src/config/listenerSecurity.ts), except that with it
 *   `plugin` / `auth_plugin` lines are refused: culex loads plugins for all listeners only.
 * Refused:
 *   use_username_as_clientid true (identity rule); check_retain_source true;
 *   clientid_prefixes; bind_interface (would listen on every interface); websockets_origin;
 *   psk_hint, psk_file (a PSK listener would come up without TLS); tls_engine, tls_keyform
 *   engine, tls_engine_kpass_sha1; global_plugin, auth_plugin_deny_special_chars
 *   (authentication/authorisation plugins). `plugin`/`auth_plugin` and their options are read by
 *   plugins.ts: the dynamic security plugin is built in, any other plugin is refused there.
 * The TLS listener options (certfile … crlfile, ciphers, ciphers_tls1.3, tls_version,
 * require_certificate, use_identity_as_username, use_subject_as_username) are implemented:
 * see listenerOptions.ts.
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
  persistence_file: 'culex keeps its LMDB store in persistence_location',
  log_timestamp: 'culex always timestamps log lines',
  log_timestamp_format: 'culex uses ISO 8601 timestamps',
  log_facility: 'culex does not log to syslog',
  user: 'culex does not switch user; run it as the user it should run as',
  pid_file: 'culex does not write a pid file',
  allow_duplicate_messages: 'culex never sends a client the same message twice for overlapping subscriptions',
  retry_interval: 'removed in Mosquitto 2 as well',
  memory_limit: 'culex bounds memory with max_queued_messages / max_queued_bytes',
  websockets_log_level: 'culex has no libwebsockets log',
  websockets_headers_size: 'culex accepts WebSocket handshakes of any usual size',
  http_dir: 'culex does not serve HTTP files on WebSocket listeners',
  dhparamfile: 'culex uses ECDHE key exchange',
  max_topic_alias_broker: 'culex does not send topic aliases to clients',
};

const REJECTED: Readonly<Record<string, string>> = {
  clientid_prefixes: 'culex cannot restrict client ids to prefixes (deprecated in Mosquitto)',
  bind_interface: 'culex cannot bind to a network interface; use `listener PORT ADDRESS`',
  websockets_origin: 'culex cannot restrict WebSocket origins',
  psk_hint: 'culex does not support TLS-PSK listeners',
  psk_file: 'culex does not support TLS-PSK',
  tls_engine: 'culex does not support OpenSSL engines',
  tls_engine_kpass_sha1: 'culex does not support OpenSSL engines',
  global_plugin: 'culex does not load Mosquitto plugins; use password_file and acl_file',
  auth_plugin_deny_special_chars: 'culex does not load Mosquitto plugins',
};

/** Boolean options culex accepts only at the value it behaves as. */
const ONLY_FALSE: Readonly<Record<string, string>> = {
  use_username_as_clientid: 'culex does not replace client ids with usernames',
  check_retain_source: 'culex does not re-check the publisher of a retained message',
};

/** Every key this module knows, for "did you mean" suggestions. */
export const COMPAT_OPTION_NAMES: readonly string[] = [
  ...Object.keys(IGNORED),
  ...Object.keys(REJECTED),
  ...Object.keys(ONLY_FALSE),
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
  const onlyFalse = ONLY_FALSE[key];
  if (onlyFalse !== undefined) {
    if (!parseBool(rest)) return { kind: 'accept' };
    return { kind: 'reject', reason: `'${key} true' ${NOT_IMPLEMENTED}: ${onlyFalse}` };
  }
  if (key === 'tls_keyform') {
    if (parseEnum(rest, ['pem', 'engine']) === 'pem') return { kind: 'accept' };
    return { kind: 'reject', reason: "'tls_keyform engine' is not implemented by culex: keys must be PEM files" };
  }
  return { kind: 'unknown' };
}
