import type { IConnectPacket } from 'mqtt-packet';
import type { BrokerConfig } from './config/types.ts';
import { openSinks, stderrSink, type LogSink } from './log/sinks.ts';
import { compileStrftime } from './log/strftime.ts';
import { SyslogSink } from './log/syslog.ts';

/**
 * Logging with Mosquitto's log types, destinations and line format ("<time stamp>: <message>").
 * Every call site on a hot path checks a level flag before building its message (STYLE pattern
 * 5); nothing is logged per message unless `debug` is on. Lines are collected and written to
 * each destination once per event-loop turn, from the calling thread (src/log/sinks.ts).
 * called from: main, worker
 */
export interface Logger {
  readonly debugEnabled: boolean;
  /** log_type subscribe: "<client id> <qos> <filter>" per granted subscription */
  readonly subscribeEnabled: boolean;
  /** log_type unsubscribe: "<client id> <filter>" */
  readonly unsubscribeEnabled: boolean;
  /** connection_messages: the connect and disconnect lines are wanted (they are notices) */
  readonly connectionMessages: boolean;
  /** "Error: " + message (+ the error) */
  error(message: string, err?: unknown): void;
  /** "Warning: " + message */
  warning(message: string): void;
  notice(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  subscribe(message: string): void;
  unsubscribe(message: string): void;
  /** `message` as it is, when log type `type` is on (Mosquitto lines that carry their own prefix or none) */
  write(type: LogType, message: string): void;
  /** "New client connected …" as Mosquitto prints it, when connection_messages is on */
  connection(conn: { clientId: string; username: string | undefined; remoteAddress: string | undefined; remotePort: number | undefined; version: number; keepalive: number }, packet: IConnectPacket): void;
  /** Closes and reopens the log file (SIGHUP, logrotate); writes what is pending first. */
  reopen(): void;
  /**
   * With `log_dest topic`: where this thread's lines go as `$SYS/broker/log/…` messages, a batch
   * once per event-loop turn (never from inside the call that logged, which may be routing).
   * Lines logged before this is called are not published. No effect without `log_dest topic`.
   */
  attachTopic(publish: TopicPublisher): void;
  /**
   * Takes new settings (a reload: log_type, log_dest, connection_messages, time stamps): what is
   * pending is written to the old destinations, which are closed; the topic publisher stays.
   */
  reconfigure(opts: LogOptions): void;
}

/** One configuration's logger; createLogger's Logger delegates to the current one. */
type LoggerImpl = Omit<Logger, 'attachTopic' | 'reconfigure'> & { close(): void };

/** Publishes log lines: [topic, line (time stamp included)] pairs, in order. */
export type TopicPublisher = (entries: readonly (readonly [string, string])[]) => void;

/** Mosquitto's `log_dest topic` topics by log type (logging.c); debug and internal lines are not published. */
const LOG_TOPICS: Readonly<Partial<Record<LogType, string>>> = {
  error: '$SYS/broker/log/E',
  warning: '$SYS/broker/log/W',
  notice: '$SYS/broker/log/N',
  information: '$SYS/broker/log/I',
  subscribe: '$SYS/broker/log/M/subscribe',
  unsubscribe: '$SYS/broker/log/M/unsubscribe',
  websockets: '$SYS/broker/log/WS',
};

/** Mosquitto's log types (log_type). */
export type LogType = 'error' | 'warning' | 'notice' | 'information' | 'debug' | 'subscribe' | 'unsubscribe' | 'websockets' | 'internal';

export interface LogOptions {
  /** log_type values; `all` and `none` as in the configuration */
  readonly types: readonly string[];
  /** log_dest values: stdout | stderr | `file PATH` | topic | syslog; empty or `none` = nowhere */
  readonly dest: readonly string[];
  /** log_facility (0-7: local0-local7) for `log_dest syslog`; undefined = daemon */
  readonly facility?: number | undefined;
  readonly connectionMessages: boolean;
  /** -v on the command line: every log type */
  readonly verbose?: boolean | undefined;
  /** log_timestamp (default true) */
  readonly timestamp?: boolean | undefined;
  /** log_timestamp_format (strftime); undefined = epoch seconds */
  readonly timestampFormat?: string | undefined;
}

/** The LogOptions of a configuration. */
export function logOptions(config: BrokerConfig, verbose?: boolean): LogOptions {
  return {
    types: config.logTypes,
    dest: config.logDest,
    facility: config.logFacility,
    connectionMessages: config.connectionMessages,
    verbose,
    timestamp: config.logTimestamp,
    timestampFormat: config.logTimestampFormat,
  };
}

/** Mosquitto prints its own protocol numbers (mosq_p_mqtt31 = 1, mosq_p_mqtt311 = 2, mosq_p_mqtt5 = 5). */
const MOSQUITTO_PROTOCOL: Readonly<Record<number, number>> = { 3: 1, 4: 2, 5: 5 };

/** "1700000000: " or the formatted local time + ": ", computed once per second. */
function stamper(opts: LogOptions): () => string {
  if (opts.timestamp === false) return () => '';
  const format = opts.timestampFormat === undefined ? undefined : compileStrftime(opts.timestampFormat);
  let second = -1;
  let text = '';
  return () => {
    const now = Date.now();
    const s = Math.floor(now / 1000);
    if (s !== second) {
      second = s;
      // Mosquitto prints "Time error" when strftime gives nothing
      text = `${format === undefined ? s : format(new Date(now)) || 'Time error'}: `;
    }
    return text;
  };
}

export function createLogger(opts: LogOptions): Logger {
  let publisher: TopicPublisher | undefined;
  let impl = buildLogger(opts, () => publisher);
  return {
    get debugEnabled() {
      return impl.debugEnabled;
    },
    get subscribeEnabled() {
      return impl.subscribeEnabled;
    },
    get unsubscribeEnabled() {
      return impl.unsubscribeEnabled;
    },
    get connectionMessages() {
      return impl.connectionMessages;
    },
    error: (m, err) => impl.error(m, err),
    warning: (m) => impl.warning(m),
    notice: (m) => impl.notice(m),
    info: (m) => impl.info(m),
    debug: (m) => impl.debug(m),
    subscribe: (m) => impl.subscribe(m),
    unsubscribe: (m) => impl.unsubscribe(m),
    write: (t, m) => impl.write(t, m),
    connection: (c, p) => impl.connection(c, p),
    reopen: () => impl.reopen(),
    attachTopic: (p) => {
      publisher = p;
    },
    reconfigure: (next) => {
      impl.close();
      impl = buildLogger(next, () => publisher);
    },
  };
}

/** `publisher()`: where `log_dest topic` lines go, once attached. */
function buildLogger(opts: LogOptions, publisher: () => TopicPublisher | undefined): LoggerImpl {
  const types = new Set(opts.types);
  const all = opts.verbose === true || types.has('all');
  const stamp = stamper(opts);
  const none = opts.dest.includes('none');
  const sinks: LogSink[] = none ? [] : openSinks(opts.dest, (m) => stderrSink.write(`${stamp()}${m}\n`));
  const toTopic = !none && opts.dest.includes('topic');
  // one logger child per thread, shared by this thread's syslog sinks (src/log/syslog.ts)
  const syslog = !none && opts.dest.includes('syslog') ? new SyslogSink(opts.facility, opts.dest.includes('stderr')) : undefined;
  const on = (t: LogType) => (sinks.length > 0 || toTopic || syslog !== undefined) && !types.has('none') && (all || types.has(t));
  let pending: string[] = [];
  let scheduled = false;
  let published: (readonly [string, string])[] = [];
  const flush = () => {
    scheduled = false;
    if (pending.length > 0) {
      const text = pending.join('');
      pending = [];
      for (const s of sinks) s.write(text);
    }
    syslog?.flush();
    if (published.length > 0) {
      const entries = published;
      published = [];
      publisher()?.(entries);
    }
  };
  const put = (type: LogType, message: string) => {
    const line = `${stamp()}${message}`;
    pending.push(`${line}\n`);
    syslog?.add(type, line);
    if (toTopic && publisher() !== undefined) {
      const topic = LOG_TOPICS[type];
      if (topic !== undefined) published.push([topic, line]);
    }
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  const enabled: Record<LogType, boolean> = {
    error: on('error'),
    warning: on('warning'),
    notice: on('notice'),
    information: on('information'),
    debug: on('debug'),
    subscribe: on('subscribe'),
    unsubscribe: on('unsubscribe'),
    websockets: on('websockets'),
    internal: on('internal'),
  };
  const connOn = opts.connectionMessages && enabled.notice;
  return {
    debugEnabled: enabled.debug,
    subscribeEnabled: enabled.subscribe,
    unsubscribeEnabled: enabled.unsubscribe,
    connectionMessages: opts.connectionMessages,
    error: (m, err) => {
      if (enabled.error) put('error', `Error: ${err === undefined ? m : `${m}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`}`);
    },
    warning: (m) => enabled.warning && put('warning', `Warning: ${m}`),
    notice: (m) => enabled.notice && put('notice', m),
    info: (m) => enabled.information && put('information', m),
    debug: (m) => enabled.debug && put('debug', m),
    subscribe: (m) => enabled.subscribe && put('subscribe', m),
    unsubscribe: (m) => enabled.unsubscribe && put('unsubscribe', m),
    write: (t, m) => enabled[t] && put(t, m),
    connection: (c, p) => {
      if (!connOn) return;
      put('notice', `New client connected from ${c.remoteAddress}:${c.remotePort} as ${c.clientId} (p${MOSQUITTO_PROTOCOL[c.version] ?? c.version}, c${p.clean === false ? 0 : 1}, k${c.keepalive}${c.username !== undefined ? `, u'${c.username}'` : ''}).`);
    },
    reopen: () => {
      flush();
      for (const s of sinks) s.reopen();
    },
    close: () => {
      flush();
      for (const s of sinks) s.close();
      syslog?.close();
    },
  };
}
