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
  /** mosquitto `require_certificate` */
  readonly requireCertificate: boolean;
  /** mosquitto `use_identity_as_username` */
  readonly useIdentityAsUsername: boolean;
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
}

/** Mosquitto's dynamic security plugin, built into culex (src/auth/dynsec/) */
export interface DynamicSecurityConfig {
  /** `plugin_opt_config_file`: the plugin's JSON file, read at start and rewritten on every change */
  readonly configFile: string;
}

export interface BrokerConfig {
  readonly listeners: readonly ListenerConfig[];
  /** worker threads; 0 = number of available cores */
  readonly workers: number;

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

  /** seconds between $SYS updates; 0 = off */
  readonly sysInterval: number;
  /** `host:port` of the admin HTTP listener (/metrics, /healthz); undefined = off */
  readonly metricsListener?: { readonly host: string; readonly port: number };

  /** mosquitto `log_type` values enabled (error, warning, notice, information, debug, subscribe, unsubscribe, all, none) */
  readonly logTypes: readonly string[];
  /** mosquitto `log_dest`: stdout | stderr | file PATH | none */
  readonly logDest: readonly string[];
  readonly connectionMessages: boolean;
}
