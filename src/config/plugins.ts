/**
 * Mosquitto plugin lines: `plugin PATH` (or the older `auth_plugin PATH`) and the options of the
 * plugin declared last, `plugin_opt_KEY VALUE` (or `auth_opt_KEY VALUE`): Mosquitto 2.0 reads
 * both spellings alike (src/conf.c).
 *
 * culex loads no shared objects. It has Mosquitto's dynamic security plugin built in, so a
 * plugin whose file name is `mosquitto_dynamic_security.so` (in any directory) is accepted and
 * its `config_file` option (matched without regard to case, as the plugin does) becomes
 * BrokerConfig.dynamicSecurity. Refused, naming the line: any other plugin, a second dynamic
 * security plugin, a second config_file, any other option, and an option with no plugin before
 * it (Mosquitto: "An auth_opt_ option exists in the config file without an auth_plugin").
 * `auth_plugin_deny_special_chars` after the plugin is warned about: it has no effect on it.
 * The plugin without a config_file is what Mosquitto runs as well: loaded but inactive, with
 * the plugin's own warning.
 * called from: main (config load), tests
 */
import { basename } from 'node:path';
import { ConfigError } from './errors.ts';
import { parseBool } from './lineSyntax.ts';
import type { DynamicSecurityConfig } from './types.ts';

/** The file name Mosquitto's dynamic security plugin is installed under. */
export const DYNSEC_PLUGIN_FILE = 'mosquitto_dynamic_security.so';

/** The keys that start a plugin block. */
export const PLUGIN_KEYS: readonly string[] = ['plugin', 'auth_plugin'];

interface At {
  readonly file: string;
  readonly line: number;
}

/** Is `key` an option of the plugin declared last (`plugin_opt_*`, `auth_opt_*`)? */
export function isPluginOption(key: string): boolean {
  return key.startsWith('plugin_opt_') || key.startsWith('auth_opt_');
}

/** The plugin lines of one configuration, in file order. */
export class PluginLines {
  /** where the dynamic security plugin was declared */
  private plugin: At | undefined;
  private configFile: { value: string; at: At } | undefined;

  /** `plugin PATH` / `auth_plugin PATH`. @throws ConfigError */
  declare(at: At, key: string, rest: string): void {
    const path = rest.trim();
    if (path === '') throw new ConfigError(at.file, at.line, `${key}: missing value`);
    if (basename(path) !== DYNSEC_PLUGIN_FILE) {
      throw new ConfigError(
        at.file,
        at.line,
        `'${key} ${path}' is not implemented by culex: culex loads no Mosquitto plugins; ` +
          `only the dynamic security plugin (${DYNSEC_PLUGIN_FILE}) is built in`,
      );
    }
    if (this.plugin !== undefined) {
      throw new ConfigError(at.file, at.line, `the dynamic security plugin is already loaded at ${this.plugin.file}:${this.plugin.line}`);
    }
    this.plugin = at;
  }

  /** `plugin_opt_KEY VALUE` / `auth_opt_KEY VALUE`. @throws ConfigError */
  option(at: At, key: string, rest: string): void {
    if (this.plugin === undefined) {
      throw new ConfigError(at.file, at.line, `'${key}' without a plugin line before it`);
    }
    const name = key.slice(key.indexOf('_opt_') + 5);
    if (name.toLowerCase() !== 'config_file') {
      throw new ConfigError(
        at.file,
        at.line,
        `'${key}' is not implemented by culex: the dynamic security plugin reads only config_file`,
      );
    }
    const value = rest.trim();
    if (value === '') throw new ConfigError(at.file, at.line, `${key}: missing value`);
    if (this.configFile !== undefined) {
      throw new ConfigError(at.file, at.line, `duplicate ${key} value (first set at ${this.configFile.at.file}:${this.configFile.at.line})`);
    }
    this.configFile = { value, at };
  }

  /**
   * `auth_plugin_deny_special_chars BOOL`, an option of the plugin declared last: Mosquitto
   * 2.0 applies it to auth plugins of the older interfaces only (versions 2-4, security.c
   * acl__check_single), never to a version 5 plugin such as dynamic security, the one plugin
   * culex has; so it changes nothing here either, and says so. @throws ConfigError without a
   * plugin before it, as Mosquitto refuses it, or for a value that is not a boolean
   */
  denySpecialChars(at: At, key: string, rest: string, warn: (message: string) => void): void {
    if (this.plugin === undefined) throw new ConfigError(at.file, at.line, `'${key}' without a plugin line before it`);
    parseBool(rest);
    warn(`'${key}' has no effect on the dynamic security plugin (Mosquitto applies it to version 2-4 auth plugins only)`);
  }

  /** The dynamic security settings, or undefined when the plugin is not loaded or inactive. */
  finish(warnings: string[]): DynamicSecurityConfig | undefined {
    if (this.plugin === undefined) return undefined;
    if (this.configFile === undefined) {
      warnings.push(
        `${this.plugin.file}:${this.plugin.line}: the dynamic security plugin has no plugin_opt_config_file; ` +
          'it will not be activated (as in Mosquitto)',
      );
      return undefined;
    }
    return Object.freeze({ configFile: this.configFile.value });
  }
}
