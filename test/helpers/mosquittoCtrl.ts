/**
 * The real `mosquitto_ctrl dynsec …` (Mosquitto 2.0.11's, from mosquitto-clients) against a
 * running broker, culex or Mosquitto: the tool a Mosquitto user manages dynamic security with.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Where Debian's Mosquitto keeps the plugin (culex recognises the path and loads its own). */
export const DYNSEC_PLUGIN = '/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so';
/** a skip reason when mosquitto_ctrl is missing, else false */
export const ctrlSkip: string | false = spawnSync('mosquitto_ctrl', ['--help']).error === undefined ? false : 'mosquitto_ctrl not installed (apt-get install mosquitto-clients)';
/** a skip reason when the real Mosquitto or its plugin is missing, else false */
export const mosquittoDynsecSkip: string | false =
  spawnSync('/usr/sbin/mosquitto', ['-h']).error === undefined && existsSync(DYNSEC_PLUGIN) ? false : 'mosquitto or its dynamic security plugin not installed';

export interface CtrlResult {
  readonly code: number | null;
  /** what mosquitto_ctrl printed, its warning about unencrypted connections left out */
  readonly output: string;
}

/** Runs `mosquitto_ctrl -h 127.0.0.1 -p PORT -u USER -P PASSWORD dynsec ARGS…`. */
export function ctrl(port: number, user: string, password: string, ...args: string[]): Promise<CtrlResult> {
  return new Promise((resolve) => {
    execFile('mosquitto_ctrl', ['-h', '127.0.0.1', '-p', String(port), '-u', user, '-P', password, 'dynsec', ...args], { timeout: 15000 }, (err, stdout, stderr) => {
      const output = `${stdout}${stderr}`
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('Warning: You are running') && !l.startsWith('This means all of the configuration'))
        .join('\n');
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, output });
    });
  });
}
