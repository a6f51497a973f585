/**
 * The files a start reads besides the configuration, read as the start reads them, for
 * `culex check`: every listener's password_file, acl_file and psk_file, its TLS files (OpenSSL must
 * accept them together) and its http_dir. The dynamic security file is not read (the plugin creates and rewrites it).
 * called from: main (`culex check`)
 */
import { readFileSync } from 'node:fs';
import { parseAclFile } from '../auth/acl.ts';
import { parsePasswordFile } from '../auth/passwordFile.ts';
import { parsePskFile } from '../auth/pskFile.ts';
import { listenerSecurity } from '../config/listenerSecurity.ts';
import type { BrokerConfig } from '../config/types.ts';
import { checkTlsFiles } from '../transport/tlsServer.ts';
import { httpFiles } from '../transport/httpFiles.ts';

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Reads every file; returns the problems (`file:line: reason` where a line is at fault) and warnings. */
export function checkFiles(config: BrokerConfig): { problems: string[]; warnings: string[] } {
  const problems: string[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  const once = (option: string, path: string | undefined, parse: (text: string) => void): void => {
    if (path === undefined || seen.has(`${option} ${path}`)) return;
    seen.add(`${option} ${path}`);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      problems.push(`cannot read ${option} '${path}': ${reason(err)}`);
      return;
    }
    try {
      parse(text);
    } catch (err) {
      problems.push(reason(err));
    }
  };
  config.listeners.forEach((l, i) => {
    const security = listenerSecurity(config, i);
    once('password_file', security.passwordFile, (text) => parsePasswordFile(text, security.passwordFile!));
    once('acl_file', security.aclFile, (text) => warnings.push(...parseAclFile(text, security.aclFile!).warnings));
    once('psk_file', security.pskFile, (text) => parsePskFile(text, security.pskFile!));
    try {
      if (l.tls !== undefined) checkTlsFiles(l.port, l.tls);
      httpFiles(l.port, l.httpDir, () => {});
    } catch (err) {
      problems.push(reason(err));
    }
  });
  return { problems, warnings };
}
