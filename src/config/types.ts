/**
 * The typed, frozen configuration the broker core receives. The core never reads files:
 * src/config/load.ts turns a mosquitto.conf-syntax file into this object.
 * called from: main (built once), worker (receives a structured clone)
 */

export type QueueDropPolicy = 'drop_newest' | 'drop_oldest';
export type PersistenceDurability = 'sync' | 'batch' | 'off';

export interface TlsConfig {
  /** absent on a TLS-PSK listener (psk_hint without certfile and keyfile) */
  readonly certfile?: string;
  readonly keyfile?: string;
  /**
   * mosquitto `psk_hint`, set only on a TLS-PSK listener (an MQTT listener without
   * certfile/keyfile): the keys come from the listener's psk_file (transport/tlsServer.ts); the
   * hint is sent to clients
   */
  readonly pskHint?: string;
  readonly cafile?: string;
  /**
   * mosquitto `capath`: a directory of CA certificates named by subject hash (`c_rehash`:
   * `xxxxxxxx.0`); only files so named are read, as OpenSSL looks them up. With cafile: both.
   */
  readonly capath?: string;
  /** mosquitto `dhparamfile`: PEM Diffie-Hellman parameters, enabling DHE key exchange (TLS 1.2) */
  readonly dhparamfile?: string;
  /** mosquitto `require_certificate` */
  readonly requireCertificate: boolean;
  /** mosquitto `use_identity_as_username`: the client certificate's CN is the username */
  readonly useIdentityAsUsername: boolean;
  /**
   * mosquitto `use_subject_as_username`: the client certificate's subject, RFC 2253 form, is the
   * username (absent = false; use_identity_as_username wins when both are set, as in Mosquitto)
   */
  readonly useSubjectAsUsername?: boolean;
  /** mosquitto `crlfile`: PEM certificate revocation lists checked against client certificates */
  readonly crlfile?: string;
  /** mosquitto `tls_version`: the lowest TLS version accepted (absent = Node's minimum, TLS 1.2) */
  readonly tlsVersion?: 'tlsv1.1' | 'tlsv1.2' | 'tlsv1.3';
  /** mosquitto `ciphers`: OpenSSL cipher list for TLS 1.2 and below (absent = Node's default) */
  readonly ciphers?: string;
  /** mosquitto `ciphers_tls1.3`: TLS 1.3 cipher suites, `:`-separated (absent = OpenSSL's default) */
  readonly ciphersTls13?: string;
}

/**
 * The authentication and access-control settings Mosquitto's `per_listener_settings` moves
 * into each listener (src/config/listenerSecurity.ts resolves them for either mode).
 */
export interface ListenerSecurity {
  readonly allowAnonymous: boolean;
  readonly passwordFile?: string;
  readonly aclFile?: string;
  /** mosquitto `psk_file`: the pre-shared keys of TLS-PSK listeners (auth/pskFile.ts) */
  readonly pskFile?: string;
  readonly allowZeroLengthClientId: boolean;
  readonly autoIdPrefix: string;
}

export interface ListenerConfig {
  /** 0 = pick a free port at start (tests) */
  readonly port: number;
  /** bind address; undefined = all interfaces */
  readonly host?: string;
  readonly protocol: 'mqtt' | 'websockets';
  readonly tls?: TlsConfig;
  /** mosquitto `max_connections` for this listener; -1 = unlimited */
  readonly maxConnections: number;
  /** mosquitto `mount_point` */
  readonly mountPoint?: string;
  /** mosquitto `socket_domain`: listen on this IP family only; undefined = both */
  readonly socketDomain?: 'ipv4' | 'ipv6';
  /** mosquitto `bind_interface`: listen at this network interface's address of each family (transport/bindAddresses.ts) */
  readonly bindInterface?: string;
  /** mosquitto `http_dir` (websockets listeners): the files served to plain HTTP requests (transport/httpFiles.ts) */
  readonly httpDir?: string;
  /** mosquitto `use_username_as_clientid`: a client's username is its client id; one without a username is not authorised */
  readonly useUsernameAsClientid?: true;
  /** this listener's own security settings; set only when BrokerConfig.perListenerSettings */
  readonly security?: ListenerSecurity;
}

/** Mosquitto's dynamic security plugin, built into culex (src/auth/dynsec/) */
export interface DynamicSecurityConfig {
  /** `plugin_opt_config_file`: the plugin's JSON file, read at start and rewritten on every change */
  readonly configFile: string;
}

/** culex `persistent_subscription CLIENT_ID FILTER QOS`: one subscription of a declared persistent session */
export interface PersistentSubscription {
  readonly clientId: string;
  /** a valid, non-shared topic filter, as the broker sees it (no mount_point applied) */
  readonly filter: string;
  /** the granted QoS (at most max_qos) */
  readonly qos: 0 | 1 | 2;
}

export interface BrokerConfig {
  readonly listeners: readonly ListenerConfig[];
  /** worker threads; 0 = number of available cores */
  readonly workers: number;

  /**
   * mosquitto `per_listener_settings`: each listener has its own ListenerConfig.security and the
   * five global fields below are unused (read them through listenerSecurity())
   */
  readonly perListenerSettings: boolean;
  readonly allowAnonymous: boolean;
  readonly passwordFile?: string;
  readonly aclFile?: string;
  readonly pskFile?: string;
  /**
   * `plugin …/mosquitto_dynamic_security.so` with `plugin_opt_config_file`: clients, groups and
   * roles managed at run time through `$CONTROL/dynamic-security/v1`; it decides before
   * password_file and acl_file, which are consulted only when it has no opinion (Mosquitto 2.0)
   */
  readonly dynamicSecurity?: DynamicSecurityConfig;
  readonly allowZeroLengthClientId: boolean;
  readonly autoIdPrefix: string;
  /** seconds; clients asking for more (or 0) get this as Server Keep Alive (v5) */
  readonly maxKeepalive: number;

  /** bytes, whole packet; 0 = protocol maximum (268435460) */
  readonly maxPacketSize: number;
  /** bytes of PUBLISH payload; 0 = no limit */
  readonly messageSizeLimit: number;
  /** culex: bytes, the largest first packet (CONNECT) of a client not yet authenticated; 0 = maxPacketSize */
  readonly maxConnectPacketSize: number;
  /** culex: seconds from accepting a connection to its CONNACK (CONNECT and authentication) */
  readonly maxConnectTime: number;
  readonly maxInflightMessages: number;
  /** bytes; 0 = no limit */
  readonly maxInflightBytes: number;
  readonly maxQueuedMessages: number;
  /** bytes; 0 = no limit */
  readonly maxQueuedBytes: number;
  readonly queueQos0Messages: boolean;
  readonly queueDropPolicy: QueueDropPolicy;
  readonly retainAvailable: boolean;
  readonly maxQos: 0 | 1 | 2;
  readonly upgradeOutgoingQos: boolean;
  /** check_retain_source: a retained message goes to a new subscription only while its publisher may still publish it */
  readonly checkRetainSource: boolean;
  /** v5 Topic Alias Maximum the broker accepts from clients */
  readonly maxTopicAlias: number;
  /** seconds; expire persistent sessions of v3 clients after this long offline; 0 = never */
  readonly persistentClientExpiration: number;
  readonly setTcpNodelay: boolean;

  readonly persistence: boolean;
  readonly persistenceLocation: string;
  readonly persistenceDurability: PersistenceDurability;
  /** ms: the bound on an unacknowledged commit in `batch` mode */
  readonly persistenceBatchWindowMs: number;
  /**
   * culex `persistent_subscription`: sessions that exist from start-up, before their client ever
   * connected, and keep messages for it (src/workers/declaredSessions.ts); file order
   */
  readonly persistentSubscriptions: readonly PersistentSubscription[];

  /**
   * culex `cluster_nats_url`: the NATS servers that join this node to the others (src/nats/);
   * empty = a broker alone, with no NATS code loaded
   */
  readonly clusterNatsUrls: readonly string[];
  /** culex `cluster_node_name`: this node's name in the cluster; set whenever clusterNatsUrls is not empty */
  readonly clusterNodeName?: string;

  /** seconds between $SYS updates; 0 = off */
  readonly sysInterval: number;
  /** `host:port` of the admin HTTP listener (/metrics, /healthz); undefined = off */
  readonly metricsListener?: { readonly host: string; readonly port: number };

  /**
   * mosquitto `websockets_headers_size`: bytes of HTTP headers a WebSocket handshake may carry;
   * 0 = Node's default, 16 KiB (Mosquitto's is 1024)
   */
  readonly websocketsHeadersSize: number;
  /** mosquitto `pid_file`: the process id is written here at start and the file removed on a clean stop */
  readonly pidFile?: string;
  /** mosquitto `clientid_prefixes` (deprecated there): only client ids starting with it may connect */
  readonly clientidPrefixes?: string;
  /**
   * mosquitto `user`: started as root, the process switches to this user and its groups once the
   * listeners are open (the whole process: workers are threads); absent or `root`: no switch
   */
  readonly user?: string;
  /**
   * mosquitto `memory_limit`: bytes of process memory (resident set) above which PUBLISHes are
   * refused; 0 = no limit
   */
  readonly memoryLimit: number;

  /** mosquitto `log_type` values enabled (error, warning, notice, information, debug, subscribe, unsubscribe, all, none) */
  readonly logTypes: readonly string[];
  /** mosquitto `log_dest`: stdout | stderr | `file PATH` | topic | syslog, several allowed; empty = none */
  readonly logDest: readonly string[];
  /** mosquitto `log_facility` 0-7: `log_dest syslog` lines go to facility localN; undefined = daemon */
  readonly logFacility?: number | undefined;
  /** connection_messages: the connect / disconnect lines (notice) */
  readonly connectionMessages: boolean;
  /** log_timestamp: each line starts with a time stamp and ": " */
  readonly logTimestamp: boolean;
  /** log_timestamp_format (strftime, local time); undefined = epoch seconds, as Mosquitto */
  readonly logTimestampFormat?: string | undefined;
  /** Mosquitto `connection` blocks (src/config/bridgeOptions.ts); absent = none */
  readonly bridges?: readonly BridgeConfig[];
}

/** One `topic PATTERN [in|out|both] [qos] [local-prefix] [remote-prefix]` line of a bridge. */
export interface BridgeTopic {
  readonly direction: 'in' | 'out' | 'both';
  readonly qos: 0 | 1 | 2;
  /** prefix + pattern: the filter subscribed to locally (out) */
  readonly localTopic: string;
  /** prefix + pattern: the filter subscribed to on the remote broker (in) */
  readonly remoteTopic: string;
  readonly localPrefix?: string;
  readonly remotePrefix?: string;
}

/** TLS towards the remote broker (bridge_cafile, bridge_capath, bridge_certfile, …). */
export interface BridgeTls {
  readonly cafile?: string;
  readonly capath?: string;
  readonly certfile?: string;
  readonly keyfile?: string;
  /** bridge_insecure: the remote's certificate host name is not checked */
  readonly insecure: boolean;
  readonly alpn?: string;
  readonly tlsVersion?: 'tlsv1.1' | 'tlsv1.2' | 'tlsv1.3';
  /** bridge_identity and bridge_psk (hex): TLS-PSK instead of certificates */
  readonly pskIdentity?: string;
  readonly psk?: string;
}

/** A Mosquitto bridge: an outbound MQTT connection from this broker to a remote one. */
export interface BridgeConfig {
  /** the `connection` name */
  readonly name: string;
  /** where the `connection` line is, for messages */
  readonly file: string;
  readonly line: number;
  readonly addresses: readonly { readonly host: string; readonly port: number }[];
  /** bridge_bind_address: the local address (or a name for it) the connections to the remote leave from (src/bridge/bindPairing.ts) */
  readonly bindAddress?: string;
  /** round_robin: false = the first address is the primary one, returned to when it comes back */
  readonly roundRobin: boolean;
  readonly topics: readonly BridgeTopic[];
  /** bridge_protocol_version: 3 (mqttv31), 4 (mqttv311), 5 (mqttv50) */
  readonly protocolVersion: 3 | 4 | 5;
  /** cleansession: the remote session's clean start */
  readonly cleanSession: boolean;
  /** local_cleansession: the local session's (default: cleansession) */
  readonly localCleanSession: boolean;
  /** remote_clientid (default `<hostname>.<name>`) */
  readonly remoteClientId: string;
  /** local_clientid (default `local.<remote_clientid>`) */
  readonly localClientId: string;
  readonly remoteUsername?: string;
  readonly remotePassword?: string;
  readonly tls?: BridgeTls;
  /** keepalive_interval, seconds (0 = none) */
  readonly keepalive: number;
  /** restart_timeout: a constant delay, or Mosquitto's backoff with jitter between base and cap (seconds) */
  readonly restart: { readonly kind: 'constant'; readonly seconds: number } | { readonly kind: 'backoff'; readonly base: number; readonly cap: number };
  readonly startType: 'automatic' | 'lazy' | 'once';
  /** idle_timeout, seconds: a lazy bridge disconnects after this long without traffic */
  readonly idleTimeout: number;
  /** threshold: a lazy bridge connects once this many messages wait for it */
  readonly threshold: number;
  readonly notifications: boolean;
  /** notification_topic (default `$SYS/broker/connection/<remote_clientid>/state`) */
  readonly notificationTopic: string;
  readonly notificationsLocalOnly: boolean;
  /** try_private: the bridge bit in the CONNECT protocol level (3.1/3.1.1) */
  readonly tryPrivate: boolean;
  /** bridge_max_packet_size: the largest packet accepted from the remote (v5); 0 = no limit */
  readonly maxPacketSize: number;
  /** bridge_outgoing_retain: the retain flag of outgoing messages is kept (false = cleared) */
  readonly outgoingRetain: boolean;
  /** bridge_attempt_unsubscribe: `out` topics are unsubscribed on the remote at connect */
  readonly attemptUnsubscribe: boolean;
}
