/**
 * The effective configuration as mosquitto.conf text: every option culex implements, with the
 * value it runs with (defaults included, include_dir files folded in). Invariant: reading the
 * text back with parseConfig gives the same BrokerConfig (test/unit/cli/effectiveConfig.test.ts).
 * called from: main (`culex check`), tests
 */
import { GLOBAL_OPTIONS } from '../config/schema.ts';
import { DYNSEC_PLUGIN_FILE } from '../config/plugins.ts';
import type { BridgeConfig, BrokerConfig, ListenerConfig, ListenerSecurity } from '../config/types.ts';

/** The options per_listener_settings moves into each listener, by BrokerConfig field. */
const SECURITY_OPTIONS: readonly (readonly [keyof ListenerSecurity, string])[] = [
  ['allowAnonymous', 'allow_anonymous'],
  ['passwordFile', 'password_file'],
  ['aclFile', 'acl_file'],
  ['pskFile', 'psk_file'],
  ['allowZeroLengthClientId', 'allow_zero_length_clientid'],
  ['autoIdPrefix', 'auto_id_prefix'],
];
const SECURITY_NAMES = new Set(SECURITY_OPTIONS.map(([, name]) => name));

/** `name value`, or a comment saying the option is unset. */
function line(name: string, value: unknown, unset = 'not set'): string {
  return value === undefined ? `#${name}  (${unset})` : `${name} ${String(value)}`;
}

/** persistent_client_expiration in hours (every duration it accepts is a whole number of hours). */
function duration(seconds: number): string | undefined {
  return seconds === 0 ? undefined : `${seconds / 3600}h`;
}

function hostPort(m: { readonly host: string; readonly port: number }): string {
  return m.host.includes(':') ? `[${m.host}]:${m.port}` : `${m.host}:${m.port}`;
}

function globalLines(config: BrokerConfig): string[] {
  const out: string[] = [];
  for (const o of GLOBAL_OPTIONS) {
    if (config.perListenerSettings && SECURITY_NAMES.has(o.name)) continue;
    const value = config[o.field];
    if (o.name === 'persistent_client_expiration') out.push(line(o.name, duration(value as number), 'never'));
    else if (o.name === 'metrics_listener') out.push(line(o.name, value === undefined ? undefined : hostPort(value as { host: string; port: number }), 'off'));
    else out.push(line(o.name, value));
  }
  return out;
}

function listenerLines(l: ListenerConfig, config: BrokerConfig): string[] {
  const out = [`listener ${l.port}${l.host === undefined ? '' : ` ${l.host}`}`, `protocol ${l.protocol}`, `max_connections ${l.maxConnections}`];
  if (l.mountPoint !== undefined) out.push(`mount_point ${l.mountPoint}`);
  if (l.socketDomain !== undefined) out.push(`socket_domain ${l.socketDomain}`);
  if (l.bindInterface !== undefined) out.push(`bind_interface ${l.bindInterface}`);
  if (l.useUsernameAsClientid === true) out.push('use_username_as_clientid true');
  if (l.httpDir !== undefined) out.push(`http_dir ${l.httpDir}`);
  // one value for the whole broker in culex (the lowest the file gives any listener)
  out.push(`max_qos ${config.maxQos}`, `max_topic_alias ${config.maxTopicAlias}`);
  const t = l.tls;
  if (t !== undefined) {
    if (t.certfile !== undefined) out.push(`certfile ${t.certfile}`, `keyfile ${t.keyfile}`);
    if (t.pskHint !== undefined) out.push(`psk_hint ${t.pskHint}`);
    if (t.cafile !== undefined) out.push(`cafile ${t.cafile}`);
    out.push(`require_certificate ${t.requireCertificate}`, `use_identity_as_username ${t.useIdentityAsUsername}`);
    if (t.useSubjectAsUsername !== undefined) out.push(`use_subject_as_username ${t.useSubjectAsUsername}`);
    if (t.crlfile !== undefined) out.push(`crlfile ${t.crlfile}`);
    if (t.tlsVersion !== undefined) out.push(`tls_version ${t.tlsVersion}`);
    if (t.ciphers !== undefined) out.push(`ciphers ${t.ciphers}`);
    if (t.ciphersTls13 !== undefined) out.push(`ciphers_tls1.3 ${t.ciphersTls13}`);
  }
  const s = l.security;
  if (s !== undefined) for (const [field, name] of SECURITY_OPTIONS) out.push(line(name, s[field]));
  return out;
}

/** The configuration as mosquitto.conf text; `source` names where it came from in the heading. */
/** A `connection` block with every value the bridge runs with (the password is not shown). */
function bridgeLines(b: BridgeConfig): string[] {
  const r = b.restart;
  const out = [
    `connection ${b.name}`,
    `address ${b.addresses.map((a) => (a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`)).join(' ')}`,
    `round_robin ${b.roundRobin}`,
    `bridge_protocol_version ${({ 3: 'mqttv31', 4: 'mqttv311', 5: 'mqttv50' } as const)[b.protocolVersion]}`,
    `cleansession ${b.cleanSession}`,
    `local_cleansession ${b.localCleanSession}`,
    `remote_clientid ${b.remoteClientId}`,
    `local_clientid ${b.localClientId}`,
    line('remote_username', b.remoteUsername, 'not set'),
    b.remotePassword === undefined ? '#remote_password  (not set)' : '#remote_password  (set)',
    `keepalive_interval ${b.keepalive}`,
    r.kind === 'constant' ? `restart_timeout ${r.seconds}` : `restart_timeout ${r.base} ${r.cap}`,
    `start_type ${b.startType}`,
    `idle_timeout ${b.idleTimeout}`,
    `threshold ${b.threshold}`,
    `notifications ${b.notifications}`,
    `notification_topic ${b.notificationTopic}`,
    `notifications_local_only ${b.notificationsLocalOnly}`,
    `try_private ${b.tryPrivate}`,
    `bridge_max_packet_size ${b.maxPacketSize}`,
    `bridge_outgoing_retain ${b.outgoingRetain}`,
    `bridge_attempt_unsubscribe ${b.attemptUnsubscribe}`,
  ];
  const t = b.tls;
  if (t !== undefined) {
    if (t.cafile !== undefined) out.push(`bridge_cafile ${t.cafile}`);
    if (t.capath !== undefined) out.push(`bridge_capath ${t.capath}`);
    if (t.certfile !== undefined) out.push(`bridge_certfile ${t.certfile}`);
    if (t.keyfile !== undefined) out.push(`bridge_keyfile ${t.keyfile}`);
    out.push(`bridge_insecure ${t.insecure}`);
    if (t.alpn !== undefined) out.push(`bridge_alpn ${t.alpn}`);
    if (t.tlsVersion !== undefined) out.push(`bridge_tls_version ${t.tlsVersion}`);
  }
  for (const topic of b.topics) {
    const pattern = topic.localPrefix === undefined ? topic.localTopic : topic.localTopic.slice(topic.localPrefix.length);
    out.push(`topic ${pattern === '' ? '""' : pattern} ${topic.direction} ${topic.qos} ${topic.localPrefix ?? '""'} ${topic.remotePrefix ?? '""'}`);
  }
  return out;
}

export function renderConfig(config: BrokerConfig, source: string): string {
  const out = [
    `# effective configuration from ${source}: every option with the value culex runs with`,
    `per_listener_settings ${config.perListenerSettings}`,
    ...globalLines(config),
    ...(config.logTypes.length === 0 ? ['log_type none'] : config.logTypes.map((t) => `log_type ${t}`)),
    ...(config.logDest.length === 0 ? ['log_dest none'] : config.logDest.map((d) => `log_dest ${d}`)),
    line('log_facility', config.logFacility, 'daemon'),
  ];
  if (config.dynamicSecurity !== undefined) {
    out.push(`plugin ${DYNSEC_PLUGIN_FILE}`, `plugin_opt_config_file ${config.dynamicSecurity.configFile}`);
  }
  for (const s of config.persistentSubscriptions) out.push(`persistent_subscription ${s.clientId} ${s.filter} ${s.qos}`);
  if (config.clusterNatsUrls.length > 0) out.push(`cluster_nats_url ${config.clusterNatsUrls.join(' ')}`, `cluster_node_name ${config.clusterNodeName}`);
  for (const l of config.listeners) out.push('', ...listenerLines(l, config));
  for (const b of config.bridges ?? []) out.push('', ...bridgeLines(b));
  return out.join('\n') + '\n';
}
