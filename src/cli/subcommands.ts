/**
 * The subcommands of `culex`: `culex NAME ARGS…` runs one and exits with its code instead of
 * starting the broker. Each is loaded only when asked for.
 * called from: main
 */
/** A subcommand: its arguments (after the name) in, the process exit code out. */
export type Subcommand = (args: string[]) => Promise<number>;

/** Subcommands by name; `culex --help` lists them (src/cli/main.ts USAGE). */
export const SUBCOMMANDS: ReadonlyMap<string, Subcommand> = new Map<string, Subcommand>([
  ['passwd', async (args) => (await import('./passwd.ts')).passwdCommand(args)],
  ['check', async (args) => (await import('./check.ts')).runCheck(args)],
  ['import-mosquitto', async (args) => (await import('./importMosquitto.ts')).runImportMosquitto(args)],
]);
