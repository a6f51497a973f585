/**
 * Listener blocks: `listener PORT [BIND_ADDRESS]` and the options that apply to the listener
 * most recently declared. Options that appear before any `listener` line configure
 * Mosquitto's implicit default listener (`port`, default 1883), which then exists.
 * called from: main, tests
 */
import type { ListenerConfig } from './types.ts';
import { OptionValueError } from './errors.ts';
import { parseBool, parseEnum, parseInteger, parseIntegerToken, parseText, singleToken, valueTokens } from './lineSyntax.ts';
import type { Warn } from './schema.ts';
import { parseCipherList, parseCipherSuites } from './tlsCiphers.ts';

/** mosquitto `tls_version` values: the lowest version the listener accepts (src/net.c) */
export const TLS_VERSIONS = ['tlsv1.1', 'tlsv1.2', 'tlsv1.3'] as const;

/** A listener while the file is being read. */
export interface ListenerDraft {
  port: number;
  host: string | undefined;
  protocol: 'mqtt' | 'websockets';
  certfile: string | undefined;
  keyfile: string | undefined;
  cafile: string | undefined;
  capath: string | undefined;
  dhparamfile: string | undefined;
  requireCertificate: boolean;
  useIdentityAsUsername: boolean;
  useSubjectAsUsername: boolean;
  crlfile: string | undefined;
  tlsVersion: (typeof TLS_VERSIONS)[number] | undefined;
  ciphers: string | undefined;
  ciphersTls13: string | undefined;
  maxConnections: number;
  mountPoint: string | undefined;
  socketDomain: 'ipv4' | 'ipv6' | undefined;
  bindInterface: string | undefined;
  useUsernameAsClientid: boolean;
  httpDir: string | undefined;
  pskHint: string | undefined;
  /** per-listener in Mosquitto; culex has one global value (see resolveListenerLimits) */
  maxQos: 0 | 1 | 2 | undefined;
  maxTopicAlias: number | undefined;
  /** where the block starts (the default listener: where it was first configured), for messages */
  file: string;
  line: number;
}

/** A fresh draft with Mosquitto's listener defaults. */
export function newListenerDraft(port: number, host: string | undefined, file: string, line: number): ListenerDraft {
  return {
    port,
    host,
    protocol: 'mqtt',
    certfile: undefined,
    keyfile: undefined,
    cafile: undefined,
    capath: undefined,
    dhparamfile: undefined,
    requireCertificate: false,
    useIdentityAsUsername: false,
    useSubjectAsUsername: false,
    crlfile: undefined,
    tlsVersion: undefined,
    ciphers: undefined,
    ciphersTls13: undefined,
    maxConnections: -1,
    mountPoint: undefined,
    socketDomain: undefined,
    bindInterface: undefined,
    useUsernameAsClientid: false,
    httpDir: undefined,
    pskHint: undefined,
    maxQos: undefined,
    maxTopicAlias: undefined,
    file,
    line,
  };
}

/**
 * Parses the value of a `listener` line. Port 0 means "pick a free port" in culex (for tests);
 * in Mosquitto port 0 declares a Unix socket, which culex does not support.
 */
export function parseListenerLine(rest: string): { port: number; host: string | undefined } {
  const tokens = valueTokens(rest);
  if (tokens.length === 0) throw new OptionValueError('missing port');
  const port = parseIntegerToken(tokens[0]!);
  if (port < 0 || port > 65535) throw new OptionValueError(`invalid port ${port} (0..65535)`);
  const host = tokens[1];
  if (tokens.length > 2) {
    throw new OptionValueError(`unexpected text after the bind address: '${tokens.slice(2).join(' ')}'`);
  }
  if (port === 0 && host !== undefined && host.includes('/')) {
    throw new OptionValueError('Unix socket listeners (listener 0 PATH) are not supported by culex');
  }
  return { port, host };
}

/** An option that applies to the current listener. */
export interface ListenerOption {
  readonly name: string;
  /** Mosquitto rejects a second value for string options ("Duplicate certfile value"). */
  readonly repeat: 'last-wins' | 'error';
  /** set on the implicit default listener, does it make that listener exist (as in Mosquitto)? */
  readonly createsDefaultListener: boolean;
  /** Mosquitto refuses it before the first `listener` line */
  readonly needsListener: boolean;
  readonly apply: (draft: ListenerDraft, rest: string, warn: Warn) => void;
}

function listenerOption(
  name: string,
  apply: ListenerOption['apply'],
  opts: { repeat?: 'last-wins' | 'error'; createsDefaultListener?: boolean; needsListener?: boolean } = {},
): ListenerOption {
  return {
    name,
    apply,
    repeat: opts.repeat ?? 'last-wins',
    createsDefaultListener: opts.createsDefaultListener ?? true,
    needsListener: opts.needsListener ?? false,
  };
}

function parseMaxQos(rest: string): 0 | 1 | 2 {
  return parseInteger(rest, 0, 2) as 0 | 1 | 2;
}

/** Listener-scoped options culex implements. */
export const LISTENER_OPTIONS: readonly ListenerOption[] = [
  listenerOption('protocol', (d, rest) => {
    d.protocol = parseEnum(rest, ['mqtt', 'websockets'] as const);
  }),
  listenerOption('certfile', (d, rest) => (d.certfile = parseText(rest)), { repeat: 'error' }),
  listenerOption('keyfile', (d, rest) => (d.keyfile = parseText(rest)), { repeat: 'error' }),
  listenerOption('cafile', (d, rest) => (d.cafile = parseText(rest)), { repeat: 'error' }),
  listenerOption('require_certificate', (d, rest) => (d.requireCertificate = parseBool(rest))),
  listenerOption('use_identity_as_username', (d, rest) => (d.useIdentityAsUsername = parseBool(rest))),
  listenerOption('use_subject_as_username', (d, rest) => (d.useSubjectAsUsername = parseBool(rest))),
  listenerOption('crlfile', (d, rest) => (d.crlfile = parseText(rest)), { repeat: 'error' }),
  listenerOption('ciphers', (d, rest, warn) => (d.ciphers = parseCipherList(rest, warn)), { repeat: 'error' }),
  listenerOption('ciphers_tls1.3', (d, rest, warn) => (d.ciphersTls13 = parseCipherSuites(rest, warn)), { repeat: 'error' }),
  // Mosquitto does not create the default listener for tls_version alone.
  listenerOption(
    'tls_version',
    (d, rest, warn) => {
      d.tlsVersion = parseEnum(rest, TLS_VERSIONS);
      if (isUnopenedDefault(d)) {
        warn("'tls_version' before any 'listener' line applies to the default listener only (as in Mosquitto), not to the listeners declared later");
      }
    },
    { repeat: 'error', createsDefaultListener: false },
  ),
  listenerOption('max_connections', (d, rest) => {
    const value = parseInteger(rest, Number.MIN_SAFE_INTEGER, 2_147_483_647);
    d.maxConnections = value < 0 ? -1 : value;
  }),
  listenerOption(
    'mount_point',
    (d, rest) => {
      const mount = parseText(rest);
      // Mosquitto: mosquitto_pub_topic_check(mount_point) — no wildcards.
      if (mount.includes('+') || mount.includes('#')) {
        throw new OptionValueError(`invalid mount_point '${mount}': it must not contain + or #`);
      }
      d.mountPoint = mount;
    },
    { repeat: 'error', needsListener: true },
  ),
  listenerOption('socket_domain', (d, rest) => {
    d.socketDomain = parseEnum(rest, ['ipv4', 'ipv6'] as const);
  }),
  listenerOption('bind_interface', (d, rest) => (d.bindInterface = singleToken(rest)), { repeat: 'error' }),
  listenerOption('http_dir', (d, rest) => (d.httpDir = parseText(rest)), { repeat: 'error' }),
  listenerOption('psk_hint', (d, rest) => (d.pskHint = parseText(rest)), { repeat: 'error' }),
  listenerOption('use_username_as_clientid', (d, rest) => (d.useUsernameAsClientid = parseBool(rest))),
  listenerOption('max_qos', (d, rest) => (d.maxQos = parseMaxQos(rest))),
  listenerOption('maximum_qos', (d, rest) => (d.maxQos = parseMaxQos(rest))),
  // Mosquitto does not create the default listener for max_topic_alias alone.
  listenerOption('max_topic_alias', (d, rest) => (d.maxTopicAlias = parseInteger(rest, 0, 65535)), {
    createsDefaultListener: false,
  }),
  // a directory of CA certificates under OpenSSL's hashed names (c_rehash), as Mosquitto loads it
  listenerOption('capath', (d, rest) => (d.capath = parseText(rest)), { repeat: 'error' }),
  // Diffie-Hellman parameters: enables the DHE key exchanges of TLS 1.2 (ECDHE needs none)
  listenerOption('dhparamfile', (d, rest) => (d.dhparamfile = parseText(rest)), { repeat: 'error' }),
];

/** The implicit default listener before anything has opened it (load.ts gives it line 0 until then). */
function isUnopenedDefault(d: ListenerDraft): boolean {
  return d.line === 0;
}

/** LISTENER_OPTIONS by key. */
export const LISTENER_OPTIONS_BY_NAME: ReadonlyMap<string, ListenerOption> = new Map(
  LISTENER_OPTIONS.map((o) => [o.name, o]),
);

/**
 * Turns a finished draft into the frozen ListenerConfig, checking the TLS settings.
 * TLS mistakes fail loudly: a listener that silently came up without the client-certificate
 * check its configuration asked for would be less secure than intended. Options that only
 * shape a TLS listener (ciphers, tls_version, certificate usernames) have no effect on a plain
 * one, in Mosquitto as in culex: a note says so.
 */
export function finishListener(d: ListenerDraft): { listener: ListenerConfig; problem?: string; note?: string } {
  const certificatesAsked =
    d.certfile !== undefined || d.keyfile !== undefined || d.cafile !== undefined || d.capath !== undefined ||
    d.requireCertificate || d.crlfile !== undefined;
  const isTls = d.certfile !== undefined && d.keyfile !== undefined;
  // TLS-PSK: psk_hint on an MQTT listener without certificates (Mosquitto's listener__start_local)
  const isPsk = d.pskHint !== undefined && !isTls && !certificatesAsked && d.protocol === 'mqtt';
  const certificateName = d.useIdentityAsUsername || d.useSubjectAsUsername;
  let problem: string | undefined;
  const notes: string[] = [];
  if (certificatesAsked && !isTls) {
    problem = `listener ${d.port}: TLS needs both certfile and keyfile`;
  } else if (d.requireCertificate && d.cafile === undefined && d.capath === undefined) {
    // Mosquitto: "Either cafile or capath must be provided when require_certificate is true"
    problem = `listener ${d.port}: require_certificate true needs cafile or capath (the CAs that sign client certificates)`;
  } else if (isPsk) {
    if (d.useSubjectAsUsername && !d.useIdentityAsUsername) {
      notes.push(`listener ${d.port}: use_subject_as_username has no certificate to read on a TLS-PSK listener: every client will be refused`);
    }
  } else if (!isTls) {
    const tlsOnly = [
      d.ciphers !== undefined ? 'ciphers' : '',
      d.ciphersTls13 !== undefined ? 'ciphers_tls1.3' : '',
      d.tlsVersion !== undefined ? 'tls_version' : '',
      d.dhparamfile !== undefined ? 'dhparamfile' : '',
      d.useIdentityAsUsername ? 'use_identity_as_username' : '',
      d.useSubjectAsUsername ? 'use_subject_as_username' : '',
    ].filter((o) => o !== '');
    if (tlsOnly.length > 0) {
      notes.push(`listener ${d.port}: ${tlsOnly.join(', ')} ignored: not a TLS listener (no certfile/keyfile), as in Mosquitto`);
    }
  } else {
    if (certificateName && !d.requireCertificate) {
      // Mosquitto: SSL_VERIFY_NONE, so no peer certificate: CONNACK "bad user name or password"
      const option = d.useIdentityAsUsername ? 'use_identity_as_username' : 'use_subject_as_username';
      notes.push(`listener ${d.port}: ${option} has no certificate to read unless require_certificate is true: every client will be refused`);
    }
    if (d.useIdentityAsUsername && d.useSubjectAsUsername) {
      notes.push(`listener ${d.port}: use_identity_as_username and use_subject_as_username both set: the CN is used (as in Mosquitto)`);
    }
    if (d.crlfile !== undefined && !d.requireCertificate) {
      notes.push(`listener ${d.port}: crlfile has no client certificate to check unless require_certificate is true`);
    }
  }
  if (d.pskHint !== undefined && !isPsk && problem === undefined) {
    const why = d.protocol !== 'mqtt' ? 'websockets listeners have no TLS-PSK' : 'the listener has certificates, and then offers no PSK';
    notes.push(`listener ${d.port}: psk_hint ignored: ${why}, as in Mosquitto`);
  }
  if (d.httpDir !== undefined && d.protocol !== 'websockets') {
    notes.push(`listener ${d.port}: http_dir ignored: not a websockets listener (protocol mqtt serves no HTTP), as in Mosquitto`);
  }
  // Optional keys are left out rather than set to undefined, so that a parsed listener
  // deep-equals the one in defaultConfig().
  const listener: { -readonly [K in keyof ListenerConfig]: ListenerConfig[K] } = {
    port: d.port,
    host: d.host,
    protocol: d.protocol,
    maxConnections: d.maxConnections,
  };
  if (isTls || isPsk) {
    // what certificate and TLS-PSK listeners share; then either the certificate files or the hint
    const common = {
      ...(d.dhparamfile !== undefined ? { dhparamfile: d.dhparamfile } : {}),
      useIdentityAsUsername: d.useIdentityAsUsername,
      ...(d.useSubjectAsUsername ? { useSubjectAsUsername: true } : {}),
      ...(d.tlsVersion !== undefined ? { tlsVersion: d.tlsVersion } : {}),
      ...(d.ciphers !== undefined ? { ciphers: d.ciphers } : {}),
      ...(d.ciphersTls13 !== undefined ? { ciphersTls13: d.ciphersTls13 } : {}),
    };
    listener.tls = Object.freeze(isPsk
      ? { pskHint: d.pskHint!, requireCertificate: false, ...common }
      : {
          certfile: d.certfile!,
          keyfile: d.keyfile!,
          ...(d.cafile !== undefined ? { cafile: d.cafile } : {}),
          ...(d.capath !== undefined ? { capath: d.capath } : {}),
          requireCertificate: d.requireCertificate,
          ...(d.crlfile !== undefined ? { crlfile: d.crlfile } : {}),
          ...common,
        });
  }
  if (d.mountPoint !== undefined) listener.mountPoint = d.mountPoint;
  if (d.socketDomain !== undefined) listener.socketDomain = d.socketDomain;
  if (d.bindInterface !== undefined) listener.bindInterface = d.bindInterface;
  if (d.useUsernameAsClientid) listener.useUsernameAsClientid = true;
  if (d.httpDir !== undefined && d.protocol === 'websockets') listener.httpDir = d.httpDir;
  return { listener: Object.freeze(listener), problem, note: notes.length > 0 ? notes.join('; ') : undefined };
}

/** The bind address of `bind_address ADDRESS` (default listener only, as in Mosquitto). */
export function parseBindAddress(rest: string): string {
  return singleToken(rest);
}
