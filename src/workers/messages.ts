/**
 * Messages between the main thread and a worker over the worker's MessagePort: a discriminated
 * union per direction. The port only signals and carries control traffic; no message per MQTT
 * PUBLISH ever crosses it. called from: main, worker
 */
import type { BindAddress } from '../transport/bindAddresses.ts';
import type { BrokerConfig } from '../config/types.ts';
import type { DynsecKick } from '../auth/dynsec/engine.ts';
import type { DynsecSnapshot } from '../auth/dynsec/snapshot.ts';
import type { ClusterShared } from './shared.ts';
import type { RefTally } from '../records/stored.ts';
import type { ReportDetail, WorkerReport } from '../metrics/report.ts';

/** What a worker is started with (worker_threads workerData). */
export interface WorkerInit {
  readonly index: number;
  readonly config: BrokerConfig;
  readonly verbose: boolean;
  /** true when CONNECTs must be checked by the main thread's Authenticator */
  readonly remoteAuth: boolean;
  /** shared memory with the other workers; undefined with one worker */
  readonly cluster: ClusterShared | undefined;
  /** the dynamic security rules as they are now; undefined when the plugin is not loaded */
  readonly dynsec: DynsecSnapshot | undefined;
  /** the reload gate's shared memory (src/workers/reloadGate.ts) */
  readonly reloadGate: SharedArrayBuffer;
  /** this run's id, in what a clean stop writes (src/persistence/cleanStop.ts) */
  readonly run: number;
  /** the run whose clean-stop tallies this worker may load its sessions from; undefined: read every entry (a replacement worker always does) */
  readonly cleanRun: number | undefined;
  /** this worker's reference counts of `cleanRun` when the main thread's pass made them (shared memory); undefined: read them from the store */
  readonly refs: RefTally | undefined;
}

export type ToWorker =
  | { readonly type: 'stop' }
  /** counters; with `detail` 'gauges' also the gauges, with 'all' also the thread's runtime metrics: answered by FromWorker 'stats' */
  | { readonly type: 'stats'; readonly id: number; readonly detail: ReportDetail }
  /** `$SYS` topics whose value changed, to publish retained to this worker's subscribers */
  | { readonly type: 'sys'; readonly entries: readonly (readonly [string, string])[] }
  | { readonly type: 'authResult'; readonly id: number; readonly result: 'ok' | 'bad_credentials' | 'not_authorized' | 'error' }
  /** worker `index` died: route nothing more to it */
  | { readonly type: 'peerDown'; readonly index: number }
  /**
   * every worker has loaded its state: open the listeners on `ports` (listener order; 0: a free
   * one), each at its `addresses` (transport/bindAddresses.ts, resolved once by the main thread),
   * and with test placement a loopback port only this worker listens on (like listener 0, so
   * that a test can pick the worker; 0: a free one). Answered by 'ready'.
   */
  | { readonly type: 'listen'; readonly ports: readonly number[]; readonly addresses: readonly (readonly BindAddress[])[]; readonly privatePort: number | undefined }
  /** dynamic security changed: the new rules (if they changed) and the connections to close */
  | { readonly type: 'dynsecUpdate'; readonly snapshot: DynsecSnapshot | undefined; readonly kick: DynsecKick | undefined }
  /** the answer to a `$CONTROL/dynamic-security/v1` request this worker forwarded: publish it */
  | { readonly type: 'dynsecResponse'; readonly payload: string }
  /**
   * configuration reload (SIGHUP): `config` is the running configuration from now on (reloadable
   * options changed, the others as before); `aclFiles` the text of each acl_file it names, as the
   * main thread read and checked it (every worker applies the same rules), `pskFiles` the same
   * for each psk_file; `remoteAuth` as in
   * WorkerInit; `recheck`: the password rules changed, so every connected client is checked
   * again. Answered by 'reloaded' with the same id.
   */
  | {
      readonly type: 'reload';
      readonly id: number;
      /** the reload gate's asks this reload answers: settle them once applied */
      readonly asks: number;
      readonly config: BrokerConfig;
      readonly aclFiles: Readonly<Record<string, string>>;
      readonly pskFiles: Readonly<Record<string, string>>;
      readonly remoteAuth: boolean;
      readonly recheck: boolean;
      /** the TLS listeners (indices) whose files the main thread read again without an error: read them again */
      readonly tlsListeners: readonly number[];
    }
  /** the main thread's Logger.reopen(): close and reopen this worker's log file (logrotate) */
  | { readonly type: 'logReopen' }
  /** `log_dest topic`: the main thread's log lines, to publish ([topic, line] pairs) */
  | { readonly type: 'logPublish'; readonly entries: readonly (readonly [string, string])[] };

export type FromWorker =
  /** state loaded (sessions restored): waiting for 'listen' */
  | { readonly type: 'loaded' }
  /** listening, on these ports (as in 'listen', every 0 replaced by the port the kernel chose) */
  | { readonly type: 'ready'; readonly ports: readonly number[]; readonly privatePort: number | undefined }
  | { readonly type: 'stopped' }
  | { readonly type: 'stats'; readonly id: number; readonly report: WorkerReport }
    /** a CONNECT to authenticate (broker/services.ts AuthRequest) */
  | {
      readonly type: 'auth';
      readonly id: number;
      readonly listener: number;
      readonly clientId: string;
      readonly username: string | undefined;
      readonly password: Uint8Array | undefined;
    }
  /** a PUBLISH to `$CONTROL/dynamic-security/v1` that passed the ACL check: run it */
  | {
      readonly type: 'dynsec';
      readonly payload: Uint8Array;
      readonly clientId: string;
      readonly username: string | undefined;
    }
  | { readonly type: 'fatal'; readonly message: string }
  /** a 'reload' is applied; `disconnected`: clients closed because they are no longer authorised */
  | { readonly type: 'reloaded'; readonly id: number; readonly disconnected: number };
