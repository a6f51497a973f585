/**
 * `culex passwd`: a mosquitto_passwd-compatible password file tool.
 *
 *   culex passwd [-H sha512-pbkdf2|sha512] [-I ITERATIONS] [-c | -D] FILE USER
 *   culex passwd [-H …] [-I …] [-c] -b FILE USER PASSWORD
 *   culex passwd [-H …] [-I …] -U FILE
 *
 * -c creates (or overwrites) FILE with USER only; without it USER is added to or updated in
 * FILE, other lines kept as they are. -D deletes USER. -b takes the password from the command
 * line; otherwise it is asked twice on the terminal (echo off), or read as two lines from a
 * non-terminal stdin. Files are replaced atomically (write to a temporary file, rename); a
 * new file is readable by its owner only. -U hashes the passwords of a plain-text `user:password`
 * file in place; unlike mosquitto_passwd 2.0.11, which hashes an already hashed password again
 * (and the file stops working), it refuses a file holding a hash, naming the line.
 * called from: main (src/cli/main.ts dispatches `passwd`), tests
 */
import { chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DEFAULT_ITERATIONS, hashPassword, type PasswordEntry } from '../auth/passwordFile.ts';

const USAGE = `Usage: culex passwd [-H sha512-pbkdf2 | -H sha512] [-I iterations] [-c | -D] passwordfile username
       culex passwd [-H sha512-pbkdf2 | -H sha512] [-I iterations] [-c] -b passwordfile username password
       culex passwd [-H sha512-pbkdf2 | -H sha512] [-I iterations] -U passwordfile
 -b : batch mode: the password is the last argument (visible in the process list and history).
 -c : create a new password file, overwriting an existing one.
 -D : delete the username.
 -H : hash: sha512-pbkdf2 (default) or sha512 (for Mosquitto 1.6 and earlier).
 -I : PBKDF2 iterations (default ${DEFAULT_ITERATIONS}).
 -U : hash the passwords of a plain-text password file (user:password lines) in place.`;

/** How the tool talks to the outside world; injectable for tests. */
export interface PasswdIo {
  /** asks for a password (twice when `confirm`); resolves to undefined when they differ */
  readonly readPassword: (confirm: boolean) => Promise<string | undefined>;
  readonly stderr: (text: string) => void;
}

interface Options {
  create: boolean;
  batch: boolean;
  remove: boolean;
  update: boolean;
  kind: PasswordEntry['kind'];
  iterations: number;
  positional: string[];
}

function parseArgs(argv: readonly string[]): Options | string {
  const o: Options = { create: false, batch: false, remove: false, update: false, kind: 'sha512-pbkdf2', iterations: DEFAULT_ITERATIONS, positional: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '-c') o.create = true;
    else if (a === '-b') o.batch = true;
    else if (a === '-D') o.remove = true;
    else if (a === '-H') {
      const h = argv[++i];
      if (h !== 'sha512' && h !== 'sha512-pbkdf2') return `unknown hash type '${h ?? ''}'`;
      o.kind = h;
    } else if (a === '-I') {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 1) return 'number of iterations must be > 0';
      o.iterations = n;
    } else if (a === '-U') o.update = true;
    else if (a === '-h' || a === '--help') return '';
    else break;
  }
  o.positional = argv.slice(i) as string[];
  if (o.create && o.remove) return '-c and -D cannot be used together';
  if (o.batch && o.remove) return '-b and -D cannot be used together';
  if (o.update && (o.create || o.remove || o.batch)) return '-U cannot be used with -c, -D or -b';
  if (o.update) return o.positional.length === 1 ? o : '-U argument given but password file missing';
  const wanted = o.batch ? 3 : 2;
  if (o.positional.length !== wanted) return '';
  return o;
}

/** mosquitto_passwd's is_username_valid. */
function usernameProblem(username: string): string | undefined {
  if (username.length === 0) return 'username must not be empty';
  if (Buffer.byteLength(username) > 65535) return 'username must be less than 65536 bytes long';
  if (/[\u0000-\u001f\u007f]/.test(username)) return 'username must not contain control characters';
  if (username.includes(':')) return "username must not contain the ':' character";
  return undefined;
}

/** The username of a password file line, as Mosquitto reads it; undefined for other lines. */
function lineUser(line: string): string | undefined {
  if (line.startsWith('#') || !line.includes(':')) return undefined;
  return line.slice(0, line.indexOf(':')).trim();
}

/** Writes `text` to `file` atomically, keeping an existing file's mode (new files: 0600). */
function replaceFile(file: string, text: string): void {
  const mode = existsSync(file) ? statSync(file).mode & 0o777 : 0o600;
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  writeFileSync(temp, text, { mode: 0o600 });
  chmodSync(temp, mode);
  renameSync(temp, file);
}

/** Runs the tool; resolves to the process exit code. */
export async function runPasswd(argv: readonly string[], io: PasswdIo): Promise<number> {
  const parsed = parseArgs(argv);
  if (typeof parsed === 'string') {
    if (parsed !== '') io.stderr(`Error: ${parsed}\n`);
    io.stderr(`${USAGE}\n`);
    return 1;
  }
  if (parsed.update) return upgradeFile(parsed.positional[0]!, parsed, io);
  const [file, username, batchPassword] = parsed.positional as [string, string, string | undefined];
  const problem = usernameProblem(username);
  if (problem !== undefined) {
    io.stderr(`Error: ${problem}.\n`);
    return 1;
  }
  let lines: string[] = [];
  if (!parsed.create) {
    try {
      lines = readFileSync(file, 'utf8').split('\n');
    } catch (err) {
      io.stderr(`Error: unable to open password file ${file}: ${err instanceof Error ? err.message : String(err)}\n`);
      return 1;
    }
    if (lines.at(-1) === '') lines.pop();
  }
  if (parsed.remove) {
    const kept = lines.filter((l) => lineUser(l.replace(/\r$/, '')) !== username);
    if (kept.length === lines.length) {
      io.stderr(`Warning: User ${username} not found in password file.\n`);
      return 1;
    }
    replaceFile(file, kept.map((l) => `${l}\n`).join(''));
    return 0;
  }
  const password = batchPassword ?? (await io.readPassword(true));
  if (password === undefined) {
    io.stderr('Error: Passwords do not match.\n');
    return 1;
  }
  if (Buffer.byteLength(password) > 65535) {
    io.stderr('Error: Password must be less than 65536 bytes long.\n');
    return 1;
  }
  const entry = `${username}:${hashPassword(password, parsed.iterations, parsed.kind)}`;
  let found = false;
  const out = lines.map((l) => {
    if (lineUser(l.replace(/\r$/, '')) !== username) return l;
    found = true;
    return entry;
  });
  if (!found) out.push(entry);
  replaceFile(file, out.map((l) => `${l}\n`).join(''));
  return 0;
}

/**
 * -U: every line is `user:password` (blanks around both trimmed, as mosquitto_passwd does); any
 * other line, a comment or an empty one included, makes the file corrupt and nothing is written.
 */
function upgradeFile(file: string, o: Options, io: PasswdIo): number {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    io.stderr(`Error: unable to open password file ${file}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  const out: string[] = [];
  for (const [i, raw] of lines.entries()) {
    const colon = raw.indexOf(':');
    const username = colon < 0 ? '' : raw.slice(0, colon).trim();
    if (colon < 0 || usernameProblem(username) !== undefined) {
      io.stderr(`Error: Corrupt password file at line ${i + 1}.\n`);
      return 1;
    }
    const password = raw.slice(colon + 1).trim();
    if (/^\$[67]\$/.test(password)) {
      io.stderr(`Error: ${file}:${i + 1}: the password of ${username} is already hashed; -U would hash the hash. Nothing was changed.\n`);
      return 1;
    }
    out.push(`${username}:${hashPassword(password, o.iterations, o.kind)}\n`);
  }
  replaceFile(file, out.join(''));
  return 0;
}

/** `culex passwd ARGS` on the process's terminal and stdin; resolves to the exit code. */
export function passwdCommand(args: readonly string[]): Promise<number> {
  return runPasswd(args, { readPassword: readPasswordFromUser, stderr: (t) => process.stderr.write(t) }).catch((err: unknown) => {
    process.stderr.write(`Error: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  });
}

/** Reads one line from the terminal without echo. */
function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(prompt);
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolve(value);
          return;
        }
        if (ch === '\u0003') {
          finish();
          reject(new Error('interrupted'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

/** Reads the first two lines of a non-terminal stdin. */
async function readStdinLines(): Promise<string[]> {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  return text.split(/\r?\n/);
}

async function readPasswordFromUser(confirm: boolean): Promise<string | undefined> {
  if (process.stdin.isTTY) {
    const first = await promptHidden('Password: ');
    if (!confirm) return first;
    const second = await promptHidden('Reenter password: ');
    return first === second ? first : undefined;
  }
  const [first = '', second = ''] = await readStdinLines();
  return !confirm || first === second ? first : undefined;
}

if (import.meta.main) process.exitCode = await passwdCommand(process.argv.slice(2));
