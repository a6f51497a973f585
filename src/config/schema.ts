/**
 * Every option culex implements: its mosquitto.conf name, the BrokerConfig field it sets,
 * its bounds, and whether a running broker can take a new value on reload.
 *
 * Bounds and clamps follow Mosquitto 2.0 (src/conf.c) unless a comment says otherwise;
 * every clamp adds a warning that says what was done.
 * called from: main, tests
 */
import type { BrokerConfig, PersistenceDurability, QueueDropPolicy } from './types.ts';
import {
  parseBool,
  parseDuration,
  parseEnum,
  parseHostPort,
  parseInteger,
  parseSize,
  parseText,
} from './lineSyntax.ts';
import { OptionValueError } from './errors.ts';

/** A BrokerConfig under construction (the loader freezes it at the end). */
export type MutableConfig = { -readonly [K in keyof BrokerConfig]: BrokerConfig[K] };

/** Reports a non-fatal note about the current line (a clamp, an ignored part). */
export type Warn = (message: string) => void;

/** An option that sets one BrokerConfig field, wherever it appears in the file. */
export interface GlobalOption {
  /** the mosquitto.conf key */
  readonly name: string;
  readonly field: keyof BrokerConfig;
  /** can a running broker apply a new value (see diffReloadable)? */
  readonly reloadable: boolean;
  /**
   * What a second occurrence does. Mosquitto rejects a repeated string option
   * ("Duplicate password_file value") and lets the last number or boolean win.
   */
  readonly repeat: 'last-wins' | 'error';
  /** culex's own option, unknown to Mosquitto */
  readonly culexOnly: boolean;
  /** parses the text after the key into the field's value */
  readonly parse: (rest: string, warn: Warn) => unknown;
}

/** The largest MQTT packet: 1 byte fixed header + 4 bytes varint + 268435455 (spec 2.2.3). */
const MQTT_MAX_PACKET = 268_435_460;
/** The largest PUBLISH payload Mosquitto accepts (MQTT_MAX_PAYLOAD). */
const MQTT_MAX_PAYLOAD = 268_435_455;
const INT32_MAX = 2_147_483_647;

function option<K extends keyof BrokerConfig>(
  name: string,
  field: K,
  parse: (rest: string, warn: Warn) => BrokerConfig[K],
  opts: { reloadable: boolean; repeat?: 'last-wins' | 'error'; culexOnly?: boolean },
): GlobalOption {
  return {
    name,
    field,
    parse,
    reloadable: opts.reloadable,
    repeat: opts.repeat ?? 'last-wins',
    culexOnly: opts.culexOnly ?? false,
  };
}

/** Mosquitto clamps negative limits to 0 (= no limit); say so. Byte limits accept size suffixes. */
function limitOrUnlimited(name: string, max: number, bytes: boolean): (rest: string, warn: Warn) => number {
  return (rest, warn) => {
    const value = bytes ? parseSize(rest, -INT32_MAX, max) : parseInteger(rest, -INT32_MAX, max);
    if (value < 0) {
      warn(`${name} ${value} is negative; using 0 (no limit) as Mosquitto does`);
      return 0;
    }
    return value;
  };
}

function nonEmptyText(rest: string): string {
  const text = parseText(rest);
  if (text.length > 65535) throw new OptionValueError('value longer than 65535 characters');
  return text;
}

/** Options that set one global field. Listener options live in listenerOptions.ts. */
export const GLOBAL_OPTIONS: readonly GlobalOption[] = [
  option('allow_anonymous', 'allowAnonymous', parseBool, { reloadable: true }),
  option('password_file', 'passwordFile', nonEmptyText, { reloadable: true, repeat: 'error' }),
  option('acl_file', 'aclFile', nonEmptyText, { reloadable: true, repeat: 'error' }),
  option('psk_file', 'pskFile', nonEmptyText, { reloadable: true, repeat: 'error' }),
  option('allow_zero_length_clientid', 'allowZeroLengthClientId', parseBool, { reloadable: true }),
  option('auto_id_prefix', 'autoIdPrefix', nonEmptyText, { reloadable: true, repeat: 'error' }),
  // Mosquitto 2.0 logs that it is deprecated, and checks it all the same (handle_connect.c)
  option('clientid_prefixes', 'clientidPrefixes', (rest, warn) => {
    warn("'clientid_prefixes' is deprecated in Mosquitto and may be removed from a future version");
    return nonEmptyText(rest);
  }, { reloadable: true, repeat: 'error' }),
  // Mosquitto 2.0.11 rejects values below 10 ("Do not set below 10 seconds").
  option('max_keepalive', 'maxKeepalive', (rest) => parseInteger(rest, 10, 65535), { reloadable: true }),
  // Mosquitto rejects values below 20; culex also accepts 0 = protocol maximum (its default).
  option(
    'max_packet_size',
    'maxPacketSize',
    (rest) => {
      const value = parseSize(rest, 0, MQTT_MAX_PACKET);
      if (value !== 0 && value < 20) throw new OptionValueError(`max_packet_size must be 0 or at least 20, got ${value}`);
      return value;
    },
    { reloadable: true },
  ),
  option('message_size_limit', 'messageSizeLimit', (rest) => parseSize(rest, 0, MQTT_MAX_PAYLOAD), {
    reloadable: true,
  }),
  option(
    'max_inflight_messages',
    'maxInflightMessages',
    (rest, warn) => {
      const value = parseInteger(rest, -INT32_MAX, 65535);
      // Mosquitto: negative or 65535 both mean 0 = no maximum.
      if (value < 0 || value === 65535) {
        warn(`max_inflight_messages ${value} means no limit in Mosquitto; using 0 (no limit)`);
        return 0;
      }
      return value;
    },
    { reloadable: true },
  ),
  option('max_inflight_bytes', 'maxInflightBytes', limitOrUnlimited('max_inflight_bytes', INT32_MAX, true), {
    reloadable: true,
  }),
  option('max_queued_messages', 'maxQueuedMessages', limitOrUnlimited('max_queued_messages', INT32_MAX, false), {
    reloadable: true,
  }),
  option('max_queued_bytes', 'maxQueuedBytes', limitOrUnlimited('max_queued_bytes', Number.MAX_SAFE_INTEGER, true), {
    reloadable: true,
  }),
  option('queue_qos0_messages', 'queueQos0Messages', parseBool, { reloadable: true }),
  option('retain_available', 'retainAvailable', parseBool, { reloadable: true }),
  option('upgrade_outgoing_qos', 'upgradeOutgoingQos', parseBool, { reloadable: true }),
  option('check_retain_source', 'checkRetainSource', parseBool, { reloadable: true }),
  option('persistent_client_expiration', 'persistentClientExpiration', parseDuration, { reloadable: true }),
  option('set_tcp_nodelay', 'setTcpNodelay', parseBool, { reloadable: true }),
  // Changing where and how state is stored needs a restart.
  option('persistence', 'persistence', parseBool, { reloadable: false }),
  option('persistence_location', 'persistenceLocation', nonEmptyText, { reloadable: false, repeat: 'error' }),
  option('sys_interval', 'sysInterval', (rest) => parseInteger(rest, 0, 65535), { reloadable: true }),
  option('connection_messages', 'connectionMessages', parseBool, { reloadable: true }),
  // Mosquitto: a global option, read when the listeners open (libwebsockets' header buffer)
  option('websockets_headers_size', 'websocketsHeadersSize', (rest) => parseSize(rest, 0, 1 << 20), { reloadable: false }),
  // Process options: used once at start (src/cli/processOptions.ts).
  option('pid_file', 'pidFile', nonEmptyText, { reloadable: false, repeat: 'error' }),
  option('user', 'user', nonEmptyText, { reloadable: false, repeat: 'error' }),
  // Mosquitto: ssize_t, negative is an error; checked at each PUBLISH admission (src/link/memoryLimit.ts)
  option('memory_limit', 'memoryLimit', (rest) => parseSize(rest, 0, Number.MAX_SAFE_INTEGER), { reloadable: true }),
  option('log_timestamp', 'logTimestamp', parseBool, { reloadable: true }),
  option('log_timestamp_format', 'logTimestampFormat', nonEmptyText, { reloadable: true, repeat: 'error' }),

  // culex's own options.
  option('workers', 'workers', (rest) => parseInteger(rest, 0, 1024), { reloadable: false, culexOnly: true }),
  option(
    'persistence_durability',
    'persistenceDurability',
    (rest) => parseEnum<PersistenceDurability>(rest, ['sync', 'batch', 'off']),
    { reloadable: false, culexOnly: true },
  ),
  option('persistence_batch_window_ms', 'persistenceBatchWindowMs', (rest) => parseInteger(rest, 1, 60_000), {
    reloadable: false,
    culexOnly: true,
  }),
  option(
    'queue_drop_policy',
    'queueDropPolicy',
    (rest) => parseEnum<QueueDropPolicy>(rest, ['drop_newest', 'drop_oldest']),
    { reloadable: true, culexOnly: true },
  ),
  // what an unauthenticated client may make the broker hold: one CONNECT of at most this size, for at most this long
  option('max_connect_packet_size', 'maxConnectPacketSize', (rest) => parseSize(rest, 0, MQTT_MAX_PACKET), {
    reloadable: true,
    culexOnly: true,
  }),
  option('max_connect_time', 'maxConnectTime', (rest) => parseInteger(rest, 1, 3600), { reloadable: true, culexOnly: true }),
  option('metrics_listener', 'metricsListener', parseHostPort, {
    reloadable: false,
    repeat: 'error',
    culexOnly: true,
  }),
];

/** GLOBAL_OPTIONS by mosquitto.conf key. */
export const GLOBAL_OPTIONS_BY_NAME: ReadonlyMap<string, GlobalOption> = new Map(
  GLOBAL_OPTIONS.map((o) => [o.name, o]),
);

/**
 * BrokerConfig fields set by options with their own parsing (not in GLOBAL_OPTIONS), with
 * the option name reported by diffReloadable and whether a running broker can change them.
 */
export const SPECIAL_FIELDS: ReadonlyMap<keyof BrokerConfig, { name: string; reloadable: boolean }> = new Map<
  keyof BrokerConfig,
  { name: string; reloadable: boolean }
>([
  // Listeners are opened by every worker at start; Mosquitto cannot add or remove them on reload either.
  ['listeners', { name: 'listener', reloadable: false }],
  // Mosquitto 2.0.11 keeps the value it started with on reload (config__copy does not copy it).
  ['perListenerSettings', { name: 'per_listener_settings', reloadable: false }],
  // Announced in CONNACK (v5 Maximum QoS / Topic Alias Maximum); Mosquitto: "Not reloaded".
  ['maxQos', { name: 'max_qos', reloadable: false }],
  ['maxTopicAlias', { name: 'max_topic_alias', reloadable: false }],
  ['logTypes', { name: 'log_type', reloadable: true }],
  ['logDest', { name: 'log_dest', reloadable: true }],
  ['logFacility', { name: 'log_facility', reloadable: true }],
  // Mosquitto: "Auth plugin not currently valid for reloading".
  ['dynamicSecurity', { name: 'plugin', reloadable: false }],
  // declared sessions are created at start (src/workers/declaredSessions.ts); not yet on reload
  ['persistentSubscriptions', { name: 'persistent_subscription', reloadable: false }],
  // the NATS connections are opened at start (src/nats/); a node cannot change cluster or name while it runs
  ['clusterNatsUrls', { name: 'cluster_nats_url', reloadable: false }],
  ['clusterNodeName', { name: 'cluster_node_name', reloadable: false }],
]);
