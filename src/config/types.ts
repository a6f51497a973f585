/**
 * The typed, frozen configuration the broker core receives. The core never reads files:
 * src/config/load.ts turns a mosquitto.conf-syntax file into this object.
 * called from: main (built once), worker (receives a structured clone)
 */

export type QueueDropPolicy = 'drop_newest' | 'drop_oldest';
export type PersistenceDurability = 'sync' | 'batch' | 'off';

export interface TlsConfig {
  readonly certfile: string;
  readonly keyfile: string;
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
}
