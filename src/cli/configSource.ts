/**
 * Where the command line's configuration comes from: the `-c` file, or without one the embedded
 * default with Mosquitto 2's local-only listener. Shared by the broker start and `culex check`.
 * called from: main
 */
import { defaultConfig } from '../config/defaults.ts';
import { loadConfigFile } from '../config/load.ts';
import type { BrokerConfig } from '../config/types.ts';

/**
 * Reads `file` (warnings are passed to `warn`), or gives the embedded default when undefined.
 * @throws ConfigError naming file and line; another Error when the file cannot be read at all.
 */
export function readConfig(file: string | undefined, warn: (message: string) => void): BrokerConfig {
  if (file === undefined) {
    // like Mosquitto 2 without a configuration file: loopback only
    return defaultConfig({ listeners: [{ port: 1883, host: '127.0.0.1', protocol: 'mqtt', maxConnections: -1 }] });
  }
  const loaded = loadConfigFile(file);
  for (const w of loaded.warnings) warn(w);
  return loaded.config;
}
