/**
 * The subcommands of `culex`: `culex NAME ARGS…` runs one and exits with its code instead of
 * starting the broker. Each is loaded only when asked for.
 * called from: main
 */
import { existsSync } from 'node:fs';

/** A subcommand: its arguments (after the name) in, the process exit code out. */
export type Subcommand = (args: string[]) => Promise<number>;

/** The module of `culex import-mosquitto` (src/cli/importMosquitto.ts). */
interface ImportMosquittoModule {
  runImportMosquitto(args: string[]): Promise<number>;
}

/** The specifier is not a literal so that this file typechecks where importMosquitto.ts is absent. */
const IMPORT_MOSQUITTO = './importMosquitto.ts';

async function importMosquitto(args: string[]): Promise<number> {
  const url = new URL(IMPORT_MOSQUITTO, import.meta.url);
  if (!existsSync(url)) {
    process.stderr.write('culex: import-mosquitto is not part of this build\n');
    return 1;
  }
  return ((await import(url.href)) as ImportMosquittoModule).runImportMosquitto(args);
}

/** Subcommands by name; `culex --help` lists them (src/cli/main.ts USAGE). */
export const SUBCOMMANDS: ReadonlyMap<string, Subcommand> = new Map<string, Subcommand>([
  ['passwd', async (args) => (await import('./passwd.ts')).passwdCommand(args)],
  ['check', async (args) => (await import('./check.ts')).runCheck(args)],
  ['import-mosquitto', importMosquitto],
]);
