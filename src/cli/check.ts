/**
 * `culex check [-c FILE]`: reads the configuration as a start would (include_dir files, every
 * option's bounds, then the password, ACL and TLS files it names: src/cli/checkFiles.ts) and
 * prints the effective configuration on stdout in mosquitto.conf syntax; warnings go to stderr.
 * An error exits 1 with `FILE:LINE: reason` (every file's problems, nothing on stdout); nothing
 * starts. Without -c it prints the embedded default.
 * called from: main (src/cli/main.ts dispatches `check`)
 */
import { ConfigError } from '../config/load.ts';
import type { BrokerConfig } from '../config/types.ts';
import { checkFiles } from './checkFiles.ts';
import { readConfig } from './configSource.ts';
import { renderConfig } from './effectiveConfig.ts';

const USAGE = `Usage: culex check [-c CONFIG_FILE]
Reads the configuration, and the password, ACL and TLS files it names, as a start would and
prints the effective configuration (every option, defaults included) in mosquitto.conf syntax on
stdout; exits 1 naming FILE:LINE when something is wrong.`;

/** Runs `culex check ARGS`; resolves to the exit code. */
export async function runCheck(args: readonly string[]): Promise<number> {
  let file: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if ((a === '-c' || a === '--config-file') && args[i + 1] !== undefined) file = args[++i];
    else if (a === '-h' || a === '--help') {
      process.stdout.write(USAGE + '\n');
      return 0;
    } else {
      process.stderr.write(`culex check: ${a === '-c' || a === '--config-file' ? `${a} needs a file` : `unknown argument '${a}'`}\n${USAGE}\n`);
      return 1;
    }
  }
  let config: BrokerConfig;
  try {
    config = readConfig(file, (w) => process.stderr.write(`culex: warning: ${w}\n`));
  } catch (err) {
    process.stderr.write(`culex: ${err instanceof ConfigError ? err.message : `cannot read ${file}: ${String(err)}`}\n`);
    return 1;
  }
  const files = checkFiles(config);
  for (const w of files.warnings) process.stderr.write(`culex: warning: ${w}\n`);
  if (files.problems.length > 0) {
    for (const p of files.problems) process.stderr.write(`culex: ${p}\n`);
    return 1;
  }
  process.stdout.write(renderConfig(config, file ?? 'the embedded default (no -c)'));
  return 0;
}
