/**
 * Bridge blocks: `connection NAME` and the options that apply to the bridge most recently
 * declared, with Mosquitto 2.0's names, defaults and checks (src/conf.c, src/bridge_topic.c).
 * Every option Mosquitto knows inside a bridge is either implemented here or refused naming
 * its line; none is accepted and ignored.
 * called from: main, tests
 */
import { hostname } from 'node:os';
import type { BridgeConfig, BridgeTopic } from './types.ts';
import { OptionValueError } from './errors.ts';
import { parseBool, parseEnum, parseInteger, parseIntegerToken, parseText, valueTokens } from './lineSyntax.ts';
import type { Warn } from './schema.ts';

/** A bridge while the file is being read. */
export interface BridgeDraft {
  name: string;
  file: string;
  line: number;
  addresses: { host: string; port: number }[] | undefined;
  roundRobin: boolean;
  topics: BridgeTopic[];
  protocolVersion: 3 | 4 | 5;
  cleanSession: boolean;
  localCleanSession: boolean | undefined;
  remoteClientId: string | undefined;
  localClientId: string | undefined;
  remoteUsername: string | undefined;
  remotePassword: string | undefined;
  cafile: string | undefined;
  capath: string | undefined;
  certfile: string | undefined;
  keyfile: string | undefined;
  insecure: boolean;
  alpn: string | undefined;
  tlsVersion: 'tlsv1.1' | 'tlsv1.2' | 'tlsv1.3' | undefined;
  pskIdentity: string | undefined;
  psk: string | undefined;
  bindAddress: string | undefined;
  keepalive: number;
  restart: BridgeConfig['restart'];
  startType: 'automatic' | 'lazy' | 'once';
  idleTimeout: number;
  threshold: number;
  notifications: boolean;
  notificationTopic: string | undefined;
  notificationsLocalOnly: boolean;
  tryPrivate: boolean;
  maxPacketSize: number;
  outgoingRetain: boolean;
  attemptUnsubscribe: boolean;
}

/** `connection NAME`: a new bridge with Mosquitto's defaults (conf.c). */
export function newBridgeDraft(rest: string, file: string, line: number): BridgeDraft {
  const name = parseText(rest);
  return {
    name, file, line,
    addresses: undefined,
    roundRobin: false,
    topics: [],
    protocolVersion: 4,
    cleanSession: false,
    localCleanSession: undefined,
    remoteClientId: undefined,
    localClientId: undefined,
    remoteUsername: undefined,
    remotePassword: undefined,
    cafile: undefined,
    capath: undefined,
    certfile: undefined,
    keyfile: undefined,
    insecure: false,
    alpn: undefined,
    tlsVersion: undefined,
    pskIdentity: undefined,
    psk: undefined,
    bindAddress: undefined,
    keepalive: 60,
    restart: { kind: 'backoff', base: 5, cap: 30 },
    startType: 'automatic',
    idleTimeout: 60,
    threshold: 10,
    notifications: true,
    notificationTopic: undefined,
    notificationsLocalOnly: false,
    tryPrivate: true,
    maxPacketSize: 0,
    outgoingRetain: true,
    attemptUnsubscribe: true,
  };
}

/** Bridge options Mosquitto 2.0 knows that culex refuses, with the reason. */
const REFUSED: Readonly<Record<string, string>> = {
  bridge_require_ocsp: 'culex bridges do not check OCSP',
  bridge_ciphers: 'culex bridges use Node\'s default TLS ciphers',
  'bridge_ciphers_tls1.3': 'culex bridges use Node\'s default TLS ciphers',
  bridge_max_topic_alias: 'culex bridges send no topic aliases (a Mosquitto 2.1 option)',
  bridge_receive_maximum: 'a Mosquitto 2.1 option',
  bridge_session_expiry_interval: 'a Mosquitto 2.1 option',
  bridge_reload_type: 'a Mosquitto 2.1 option; culex restarts bridges only with the broker',
  bridge_tcp_keepalive: 'a Mosquitto 2.1 option',
  bridge_tcp_user_timeout: 'a Mosquitto 2.1 option',
};

/** Every option name this module handles (the needs-bridge check and "did you mean"). */
export const BRIDGE_OPTION_NAMES: readonly string[] = [
  'address', 'addresses', 'bridge_attempt_unsubscribe', 'bridge_cafile', 'bridge_alpn', 'bridge_capath',
  'bridge_bind_address', 'bridge_certfile', 'bridge_identity', 'bridge_insecure', 'bridge_psk', 'bridge_keyfile', 'bridge_max_packet_size', 'bridge_outgoing_retain',
  'bridge_protocol_version', 'bridge_tls_version', 'cleansession', 'clientid', 'idle_timeout', 'keepalive_interval',
  'local_cleansession', 'local_clientid', 'local_password', 'local_username', 'notification_topic', 'notifications',
  'notifications_local_only', 'password', 'remote_clientid', 'remote_password', 'remote_username', 'restart_timeout',
  'round_robin', 'start_type', 'threshold', 'topic', 'try_private', 'username',
  ...Object.keys(REFUSED),
];
const NAMES: ReadonlySet<string> = new Set(BRIDGE_OPTION_NAMES);

/** true for an option that belongs in a `connection` block */
export function isBridgeOption(key: string): boolean {
  return NAMES.has(key);
}

/**
 * Applies one option line inside a `connection` block. Throws OptionValueError for a bad value
 * or a refused option (the caller names the file and line).
 */
export function applyBridgeOption(d: BridgeDraft, key: string, rest: string, warn: Warn): void {
  const refused = REFUSED[key];
  if (refused !== undefined) throw new OptionValueError(`is not implemented by culex: ${refused}`);
  switch (key) {
    case 'address':
    case 'addresses':
      if (d.addresses !== undefined) throw new OptionValueError('addresses given twice for this bridge');
      d.addresses = parseAddresses(rest);
      return;
    case 'topic':
      d.topics.push(parseTopicLine(rest));
      return;
    case 'bridge_protocol_version':
      d.protocolVersion = ({ mqttv31: 3, mqttv311: 4, mqttv50: 5 } as const)[parseEnum(rest, ['mqttv31', 'mqttv311', 'mqttv50'])];
      return;
    case 'cleansession': d.cleanSession = parseBool(rest); return;
    case 'local_cleansession': d.localCleanSession = parseBool(rest); return;
    case 'clientid':
    case 'remote_clientid': d.remoteClientId = parseText(rest); return;
    case 'local_clientid': d.localClientId = parseText(rest); return;
    case 'username':
    case 'remote_username': d.remoteUsername = parseText(rest); return;
    case 'password':
    case 'remote_password': d.remotePassword = parseText(rest); return;
    case 'local_username':
    case 'local_password':
      parseText(rest);
      // Mosquitto 2.0 hands it only to plugins, and bridges bypass every ACL check (security.c)
      warn(`'${key}' has no effect: as in Mosquitto 2.0, the local side of a bridge is not checked by any ACL`);
      return;
    case 'bridge_cafile': d.cafile = parseText(rest); return;
    case 'bridge_capath': d.capath = parseText(rest); return;
    case 'bridge_certfile': d.certfile = parseText(rest); return;
    case 'bridge_keyfile': d.keyfile = parseText(rest); return;
    case 'bridge_insecure':
      d.insecure = parseBool(rest);
      if (d.insecure) warn('bridge_insecure true: the remote broker\'s certificate host name is not checked');
      return;
    case 'bridge_alpn': d.alpn = parseText(rest); return;
    case 'bridge_identity': d.pskIdentity = parseText(rest); return;
    case 'bridge_bind_address': d.bindAddress = parseText(rest); return;
    case 'bridge_psk':
      d.psk = parseText(rest);
      if (!/^[0-9a-fA-F]+$/.test(d.psk)) throw new OptionValueError(`bridge_psk must be hexadecimal (no 0x), as Mosquitto reads it`);
      return;
    case 'bridge_tls_version': d.tlsVersion = parseEnum(rest, ['tlsv1.1', 'tlsv1.2', 'tlsv1.3'] as const); return;
    case 'keepalive_interval': d.keepalive = parseInteger(rest, 0, 65535); return;
    case 'restart_timeout': d.restart = parseRestart(rest, warn); return;
    case 'start_type': d.startType = parseEnum(rest, ['automatic', 'lazy', 'once']); return;
    case 'idle_timeout': d.idleTimeout = Math.max(1, parseInteger(rest, -0x7fffffff, 0x7fffffff)); return;
    case 'threshold': d.threshold = Math.max(1, parseInteger(rest, -0x7fffffff, 0x7fffffff)); return;
    case 'notifications': d.notifications = parseBool(rest); return;
    case 'notification_topic': d.notificationTopic = parseText(rest); return;
    case 'notifications_local_only': d.notificationsLocalOnly = parseBool(rest); return;
    case 'round_robin': d.roundRobin = parseBool(rest); return;
    case 'try_private': d.tryPrivate = parseBool(rest); return;
    case 'bridge_max_packet_size': d.maxPacketSize = parseInteger(rest, 0, 268435455); return;
    case 'bridge_outgoing_retain': d.outgoingRetain = parseBool(rest); return;
    case 'bridge_attempt_unsubscribe': d.attemptUnsubscribe = parseBool(rest); return;
  }
  throw new OptionValueError('is not a bridge option');
}

/** `host[:port] [host[:port]]…`; the port defaults to 1883; an IPv6 address needs its port (conf.c). */
function parseAddresses(rest: string): { host: string; port: number }[] {
  const tokens = valueTokens(rest);
  if (tokens.length === 0) throw new OptionValueError('empty address value');
  return tokens.map((token) => {
    const colon = token.lastIndexOf(':');
    if (colon === -1) return { host: token, port: 1883 };
    const port = parseIntegerToken(token.slice(colon + 1));
    if (port < 1 || port > 65535) throw new OptionValueError(`invalid port value (${port})`);
    let host = token.slice(0, colon);
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    if (host === '') throw new OptionValueError(`missing host in '${token}'`);
    return { host, port };
  });
}

/** `restart_timeout N` (constant, at least 1 s) or `restart_timeout BASE CAP` (backoff with jitter). */
function parseRestart(rest: string, warn: Warn): BridgeConfig['restart'] {
  const tokens = valueTokens(rest);
  if (tokens.length === 0 || tokens.length > 2) throw new OptionValueError('expected `restart_timeout SECONDS` or `restart_timeout BASE CAP`');
  let base = parseIntegerToken(tokens[0]!);
  if (base < 1) {
    warn('restart_timeout interval too low, using 1 second (as Mosquitto)');
    base = 1;
  }
  if (tokens.length === 1) return { kind: 'constant', seconds: base };
  const cap = parseIntegerToken(tokens[1]!);
  if (cap < base) throw new OptionValueError('backoff cap is lower than the base in restart_timeout');
  return { kind: 'backoff', base, cap };
}

/** `topic PATTERN [[[out | in | both] qos-level] local-prefix remote-prefix]` (bridge_topic.c). */
export function parseTopicLine(rest: string): BridgeTopic {
  // the pattern may be `#`; after it, a token starting with `#` begins a comment (conf.c)
  const words = rest.split(/\s+/).filter((w) => w !== '');
  const comment = words.findIndex((w, i) => i > 0 && w.startsWith('#'));
  const tokens = comment === -1 ? words : words.slice(0, comment);
  if (tokens.length === 0) throw new OptionValueError('empty topic value');
  if (tokens.length > 5) throw new OptionValueError(`unexpected text after the remote prefix: '${tokens.slice(5).join(' ')}'`);
  const pattern = tokens[0] === '""' ? undefined : tokens[0]!;
  let direction: BridgeTopic['direction'] = 'out';
  if (tokens[1] !== undefined) {
    const d = tokens[1].toLowerCase();
    if (d !== 'in' && d !== 'out' && d !== 'both') throw new OptionValueError(`invalid bridge topic direction '${tokens[1]}'`);
    direction = d;
  }
  let qos: 0 | 1 | 2 = 0;
  if (tokens[2] !== undefined) {
    const q = parseIntegerToken(tokens[2]);
    if (q < 0 || q > 2) throw new OptionValueError(`invalid bridge QoS level '${tokens[2]}'`);
    qos = q as 0 | 1 | 2;
  }
  const localPrefix = tokens[3] === undefined || tokens[3] === '""' ? undefined : tokens[3];
  const remotePrefix = tokens[4] === undefined || tokens[4] === '""' ? undefined : tokens[4];
  for (const [side, prefix] of [['local', localPrefix], ['remote', remotePrefix]] as const) {
    if (prefix !== undefined && /[+#\0]/.test(prefix)) throw new OptionValueError(`invalid bridge topic ${side} prefix '${prefix}'`);
  }
  if (pattern === undefined && (localPrefix === undefined || remotePrefix === undefined)) {
    throw new OptionValueError('invalid bridge remapping: an empty pattern needs both a local and a remote prefix');
  }
  const localTopic = (localPrefix ?? '') + (pattern ?? '');
  const remoteTopic = (remotePrefix ?? '') + (pattern ?? '');
  for (const filter of [localTopic, remoteTopic]) {
    if (!validFilter(filter)) throw new OptionValueError(`invalid bridge topic prefix and pattern combination '${filter}'`);
  }
  return {
    direction, qos, localTopic, remoteTopic,
    ...(localPrefix !== undefined ? { localPrefix } : {}),
    ...(remotePrefix !== undefined ? { remotePrefix } : {}),
  };
}

/** A valid subscription filter: `+` and `#` alone in their level, `#` last [MQTT-4.7.1-1/2]. */
function validFilter(filter: string): boolean {
  if (filter === '' || filter.includes('\0')) return false;
  const levels = filter.split('/');
  return levels.every((level, i) => (level.includes('#') ? level === '#' && i === levels.length - 1 : !level.includes('+') || level === '+'));
}

/** The finished bridge: client ids and notification topic defaulted as Mosquitto's config__check. */
export function finishBridge(d: BridgeDraft): BridgeConfig {
  if (d.addresses === undefined) throw new OptionValueError(`bridge '${d.name}' has no address`);
  if (d.topics.length === 0) throw new OptionValueError(`bridge '${d.name}' has no topic`);
  const remoteClientId = d.remoteClientId ?? `${hostname()}.${d.name}`;
  const localClientId = d.localClientId ?? `local.${remoteClientId}`;
  const tlsUsed = d.cafile !== undefined || d.capath !== undefined || d.certfile !== undefined || d.psk !== undefined;
  // Mosquitto's config__check: "cannot use both certificate and psk encryption in a single bridge"
  if (d.psk !== undefined && (d.certfile !== undefined || d.cafile !== undefined || d.capath !== undefined)) {
    throw new OptionValueError(`bridge '${d.name}': bridge_psk and certificates (bridge_cafile, bridge_capath, bridge_certfile) cannot be used together`);
  }
  if ((d.psk === undefined) !== (d.pskIdentity === undefined)) {
    throw new OptionValueError(`bridge '${d.name}': bridge_identity and bridge_psk go together`);
  }
  if ((d.certfile === undefined) !== (d.keyfile === undefined)) {
    throw new OptionValueError(`bridge '${d.name}': bridge_certfile and bridge_keyfile go together`);
  }
  if (d.certfile !== undefined && d.cafile === undefined && d.capath === undefined) {
    throw new OptionValueError(`bridge '${d.name}': bridge_certfile needs bridge_cafile or bridge_capath`);
  }
  return Object.freeze({
    name: d.name,
    file: d.file,
    line: d.line,
    addresses: Object.freeze(d.addresses.map((a) => Object.freeze(a))),
    ...(d.bindAddress !== undefined ? { bindAddress: d.bindAddress } : {}),
    roundRobin: d.roundRobin,
    topics: Object.freeze([...d.topics]),
    protocolVersion: d.protocolVersion,
    cleanSession: d.cleanSession,
    localCleanSession: d.localCleanSession ?? d.cleanSession,
    remoteClientId,
    localClientId,
    ...(d.remoteUsername !== undefined ? { remoteUsername: d.remoteUsername } : {}),
    ...(d.remotePassword !== undefined ? { remotePassword: d.remotePassword } : {}),
    ...(tlsUsed
      ? {
          tls: Object.freeze({
            insecure: d.insecure,
            ...(d.cafile !== undefined ? { cafile: d.cafile } : {}),
            ...(d.capath !== undefined ? { capath: d.capath } : {}),
            ...(d.certfile !== undefined ? { certfile: d.certfile } : {}),
            ...(d.keyfile !== undefined ? { keyfile: d.keyfile } : {}),
            ...(d.alpn !== undefined ? { alpn: d.alpn } : {}),
            ...(d.tlsVersion !== undefined ? { tlsVersion: d.tlsVersion } : {}),
            ...(d.psk !== undefined ? { pskIdentity: d.pskIdentity!, psk: d.psk } : {}),
          }),
        }
      : {}),
    keepalive: d.keepalive,
    restart: d.restart,
    startType: d.startType,
    idleTimeout: d.idleTimeout,
    threshold: d.threshold,
    notifications: d.notifications,
    notificationTopic: d.notificationTopic ?? `$SYS/broker/connection/${remoteClientId}/state`,
    notificationsLocalOnly: d.notificationsLocalOnly,
    tryPrivate: d.tryPrivate,
    maxPacketSize: d.maxPacketSize,
    outgoingRetain: d.outgoingRetain,
    attemptUnsubscribe: d.attemptUnsubscribe,
  });
}
