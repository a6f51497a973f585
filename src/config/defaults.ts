import type { BrokerConfig } from './types.ts';

/**
 * The embedded default configuration: what `culex` runs with no `-c` file, and what a
 * configuration file starts from. Values follow Mosquitto 2.x defaults unless noted.
 * `persistence` is on here only: a configuration file keeps Mosquitto's `persistence false`
 * unless it says otherwise (src/config/load.ts). called from: main, tests
 */
export function defaultConfig(overrides: Partial<BrokerConfig> = {}): BrokerConfig {
  const base: BrokerConfig = {
    listeners: [{ port: 1883, host: undefined, protocol: 'mqtt', maxConnections: -1 }],
    workers: 0,
    perListenerSettings: false,
    allowAnonymous: true,
    allowZeroLengthClientId: true,
    autoIdPrefix: 'auto-',
    maxKeepalive: 65535,
    maxPacketSize: 0,
    messageSizeLimit: 0,
    maxConnectPacketSize: 1 << 20,
    maxConnectTime: 10,
    maxInflightMessages: 20,
    maxInflightBytes: 0,
    maxQueuedMessages: 1000,
    maxQueuedBytes: 0,
    queueQos0Messages: false,
    queueDropPolicy: 'drop_newest',
    retainAvailable: true,
    maxQos: 2,
    upgradeOutgoingQos: false,
    // Mosquitto's manual says true, but 2.0 starts from a zeroed config and never sets it: false is what it does
    checkRetainSource: false,
    maxTopicAlias: 10,
    persistentClientExpiration: 0,
    setTcpNodelay: true,
    persistence: true, // Mosquitto: false, as in a configuration file without the line
    persistenceLocation: './data',
    persistenceDurability: 'sync',
    persistenceBatchWindowMs: 50,
    persistentSubscriptions: [],
    clusterNatsUrls: [],
    sysInterval: 10,
    metricsListener: undefined,
    memoryLimit: 0,
    websocketsHeadersSize: 0,
    logTypes: ['error', 'warning', 'notice', 'information'],
    logDest: ['stderr'],
    connectionMessages: true,
    logTimestamp: true,
    logTimestampFormat: undefined,
  };
  return Object.freeze({ ...base, ...overrides });
}
