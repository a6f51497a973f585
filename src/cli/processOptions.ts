/**
 * The process-wide options of mosquitto.conf, `pid_file` and `user`, and the command line's `-d`.
 *
 * - pid_file: written before the listeners open, removed when the process ends by itself
 *   (a clean stop; not after SIGKILL), as Mosquitto. A file that cannot be written stops the
 *   start (Mosquitto: "Unable to write pid file").
 * - user: started as root, the process switches to this user, its primary group and its
 *   supplementary groups once every listener is open (ports below 1024 stay bound), as
 *   Mosquitto's drop_privileges. setuid/setgid act on the whole process: worker threads
 *   included (glibc applies them to every thread). `root`, or a process not running as root:
 *   no switch, as in Mosquitto. Unlike Mosquitto, culex does not switch to a `mosquitto` user
 *   when `user` is absent: without the line it keeps the user it was started as.
 * Files opened before the switch (the LMDB store, the lock file, log_dest file) stay usable;
 * the pid file may then be in a directory the new user cannot remove it from (as Mosquitto).
 * - -d / --daemon: the broker goes on in the background, in a session of its own, with stdin,
 *   stdout and stderr on /dev/null, as Mosquitto's mosquitto__daemonise (fork, setsid), once
 *   the configuration has loaded: an error in it is still told on the terminal.
 * called from: main
 */
import { execFileSync, spawn } from 'node:child_process';
import { unlinkSync, writeFileSync } from 'node:fs';

/** Writes the pid file and returns what removes it. @throws Error naming the file */
export function writePidFile(path: string): () => void {
  try {
    writeFileSync(path, `${process.pid}\n`);
  } catch (err) {
    throw new Error(`cannot write pid_file ${path}: ${(err as Error).message}`);
  }
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    try {
      unlinkSync(path);
    } catch {
      // already gone, or no longer ours to remove after a user switch: nothing to do
    }
  };
}

/**
 * Switches the process to `user` when running as root. Returns a sentence for the log, or
 * undefined when nothing was to do. @throws Error when the user does not exist or the switch fails
 */
export function dropPrivileges(user: string): string | undefined {
  if (typeof process.getuid !== 'function' || typeof process.setuid !== 'function') {
    return `'user ${user}' ignored: this platform has no setuid`;
  }
  if (process.getuid() !== 0 || user === 'root') return undefined;
  const { gid, groups } = userGroups(user);
  process.setgroups!(groups);
  process.setgid!(gid);
  process.setuid(user);
  return `switched to user ${user} (uid ${process.getuid()}, gid ${gid})`;
}

/**
 * The primary group id of `user` and all its group ids, through the system's user database
 * (`id`, so NSS sources count, not only /etc/passwd and /etc/group).
 */
function userGroups(user: string): { gid: number; groups: number[] } {
  const ids = (flag: string): number[] => {
    let out: string;
    try {
      out = execFileSync('id', [flag, '--', user], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      throw new Error(`invalid user '${user}': no such user`);
    }
    const list = out.trim().split(/\s+/).map(Number);
    if (list.length === 0 || !list.every((n) => Number.isInteger(n) && n >= 0)) throw new Error(`invalid user '${user}': unreadable group ids`);
    return list;
  };
  return { gid: ids('-g')[0]!, groups: ids('-G') };
}

/**
 * `-d`: Node cannot fork, so the broker starts again as a detached child (setsid) with the same
 * Node options and arguments less `daemonFlags`, and this process exits 0 as Mosquitto's parent
 * does. The child writes the pid_file, so it holds the daemon's pid.
 */
export function daemonise(args: readonly string[], daemonFlags: ReadonlySet<string>): never {
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...args.filter((a) => !daemonFlags.has(a))], {
    detached: true,
    stdio: 'ignore',
  });
  child.unref();
  process.exit(0);
}
