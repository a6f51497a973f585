/**
 * The plain-HTTP side of a WebSockets listener. With `http_dir`, its files, as Mosquitto 2.0.11
 * serves them (websockets.c callback_http): any method but POST (405); a path ending in `/`
 * means its index.html; a directory is redirected to its path with `/` (302); the file's real
 * path (symbolic links followed) must lie within the directory's, else 403; a missing file 404;
 * only regular files are sent. culex adds a Content-Type for the usual web files (a browser
 * refuses a module script without one) and answers HEAD without the body. Without `http_dir`,
 * every plain HTTP request gets 404 (Mosquitto closes the connection without an answer).
 * called from: worker
 */
import { createReadStream, realpathSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, sep } from 'node:path';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.htm': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

/** realpath's failures as Mosquitto answers them (http__canonical_filename) */
function statusOf(err: unknown): number {
  switch ((err as NodeJS.ErrnoException).code) {
    case 'EACCES': return 403;
    case 'ENOENT':
    case 'ENOTDIR': return 404;
    case 'ENAMETOOLONG': return 414;
    default: return 500;
  }
}

function answer(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Length': '0', Connection: 'close', ...headers });
  res.end();
}

/**
 * The request handler of a WebSockets listener's HTTP server. `dir`: its http_dir, undefined
 * for none; `debug` hears "http serving file …" as Mosquitto logs it.
 * @throws Error naming the listener when `dir` cannot be resolved (Mosquitto: "Unable to find http_dir")
 */
export function httpFiles(port: number, dir: string | undefined, debug: (line: string) => void): (req: IncomingMessage, res: ServerResponse) => void {
  if (dir === undefined) return (_req, res) => answer(res, 404);
  let root: string;
  try {
    root = realpathSync(dir);
  } catch (err) {
    throw new Error(`listener ${port}: unable to find http_dir "${dir}": ${err instanceof Error ? err.message : String(err)}`);
  }
  // what every served file's real path starts with ('/' itself for http_dir /)
  const below = root.endsWith(sep) ? root : root + sep;
  return (req, res) => {
    serve(root, below, req, res, debug).catch(() => {
      if (!res.headersSent) answer(res, 500);
      else res.destroy();
    });
  };
}

async function serve(root: string, below: string, req: IncomingMessage, res: ServerResponse, debug: (line: string) => void): Promise<void> {
  if (req.method === 'POST') return answer(res, 405);
  const raw = (req.url ?? '/').split('?')[0]!;
  let path: string;
  try {
    path = decodeURIComponent(raw);
  } catch {
    return answer(res, 400);
  }
  if (!path.startsWith('/') || path.includes('\0')) return answer(res, 400);
  let file: string;
  try {
    file = await realpath(root + (path.endsWith('/') ? `${path}index.html` : path));
  } catch (err) {
    return answer(res, statusOf(err));
  }
  if (file !== root && !file.startsWith(below)) return answer(res, 403);
  const info = await stat(file);
  if (info.isDirectory()) return answer(res, 302, { Location: `${raw}/` });
  if (!info.isFile()) return answer(res, 403);
  debug(`http serving file "${file}".`);
  const headers: Record<string, string> = { 'Content-Length': String(info.size) };
  const type = CONTENT_TYPES[extname(file).toLowerCase()];
  if (type !== undefined) headers['Content-Type'] = type;
  res.writeHead(200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const body = createReadStream(file);
  body.once('error', () => res.destroy());
  body.pipe(res);
}
