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
 *   LMDB in persistence_location); user, pid_file; allow_duplicate_messages (culex never sends duplicates), retry_interval
 *   (removed in Mosquitto 2); memory_limit; websockets_log_level, websockets_headers_size;
 *   http_dir (no HTTP file serving); dhparamfile (ECDHE is used); max_topic_alias_broker;
 *   capath (see listenerOptions.ts); and every bridge option (`connection` blocks: the bridge is not started).
 * Accepted silently when set to the value culex behaves as:
 *   use_username_as_clientid false, check_retain_source false, tls_keyform pem.
 * per_listener_settings is implemented (src/config/listenerSecurity.ts), except that with it
 *   `plugin` / `auth_plugin` lines are refused: culex loads plugins for all listeners only.
 * Logging (log_dest, log_type, log_timestamp, log_timestamp_format, log_facility) is read by
 *   load.ts and schema.ts: `log_dest syslog|dlt` are refused there.
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
import { parseBool, parseEnum, parseText } from './lineSyntax.ts';

/** What to do with an option that is not one of culex's own. */
export type CompatVerdict =
  | { readonly kind: 'unknown' }
  | { readonly kind: 'accept' }
  | { readonly kind: 'ignore'; readonly warning: string }
  | { readonly kind: 'reject'; readonly reason: string }
  /** a bridge option outside a `connection` block (Mosquitto: "Invalid bridge configuration") */
  | { readonly kind: 'needs-bridge' };

const IGNORED: Readonly<Record<string, string>> = {
  autosave_interval: 'culex commits every acknowledged message to LMDB; there is no periodic save',
  autosave_on_changes: 'culex commits every acknowledged message to LMDB; there is no periodic save',
  persistence_file: 'culex keeps its LMDB store in persistence_location',
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

/** Options valid only inside a `connection` (bridge) block. */
export const BRIDGE_OPTIONS: readonly string[] = [
  'address', 'addresses', 'bridge_attempt_unsubscribe', 'bridge_bind_address', 'bridge_cafile',
  'bridge_alpn', 'bridge_capath', 'bridge_certfile', 'bridge_ciphers', 'bridge_ciphers_tls1.3',
  'bridge_identity', 'bridge_insecure', 'bridge_keyfile', 'bridge_max_packet_size',
  'bridge_max_topic_alias', 'bridge_outgoing_retain', 'bridge_protocol_version', 'bridge_psk',
  'bridge_receive_maximum', 'bridge_reload_type', 'bridge_require_ocsp',
  'bridge_session_expiry_interval', 'bridge_tcp_keepalive', 'bridge_tcp_user_timeout',
  'bridge_tls_version', 'cleansession', 'clientid', 'idle_timeout', 'keepalive_interval',
  'local_cleansession', 'local_clientid', 'local_password', 'local_username', 'notification_topic',
  'notifications', 'notifications_local_only', 'password', 'remote_clientid', 'remote_password',
  'remote_username', 'restart_timeout', 'round_robin', 'start_type', 'threshold', 'topic',
  'try_private', 'username',
];
const BRIDGE_SET: ReadonlySet<string> = new Set(BRIDGE_OPTIONS);

/** Every key this module knows, for "did you mean" suggestions. */
export const COMPAT_OPTION_NAMES: readonly string[] = [
  ...Object.keys(IGNORED),
  ...Object.keys(REJECTED),
  ...Object.keys(ONLY_FALSE),
  ...BRIDGE_OPTIONS,
  'connection',
  'tls_keyform',
];

const NOT_IMPLEMENTED = 'is not implemented by culex';

/**
 * Decides what to do with `key rest`. `inBridge` is true after a `connection` line.
 * May throw OptionValueError for a malformed value of an option it accepts.
 */
export function judgeCompatOption(key: string, rest: string, inBridge: boolean): CompatVerdict {
  if (key === 'connection') {
    parseText(rest);
    return { kind: 'ignore', warning: "bridge 'connection' blocks are not implemented by culex; this bridge will not run" };
  }
  if (BRIDGE_SET.has(key)) {
    if (!inBridge) return { kind: 'needs-bridge' };
    return { kind: 'ignore', warning: `bridge option '${key}' ignored: bridges are not implemented by culex` };
  }
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
