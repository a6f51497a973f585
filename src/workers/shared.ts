/**
 * The shared memory of one broker: allocated once by the main thread, handed to every worker in
 * its WorkerInit, and outliving any one worker (a replacement worker picks up the same rings).
 * called from: main (allocation, worker death), worker (reads)
 */
import { createDoorbells } from './doorbell.ts';
import { ClientRegistry, createRegistry } from './registry.ts';
import { createRing } from './ring.ts';

export interface ClusterShared {
  readonly workers: number;
  /** rings[from * workers + to]: the ring from worker `from` to worker `to`; null on the diagonal */
  readonly rings: readonly (SharedArrayBuffer | null)[];
  readonly doorbells: SharedArrayBuffer;
  readonly registry: SharedArrayBuffer;
  /** Int32 slots, see State */
  readonly state: SharedArrayBuffer;
  readonly listeners: number;
}

/** Int32 slots of ClusterShared.state */
export const State = {
  /** last stamp handed out for a retained update */
  retainStamp: 0,
  /** 1 while worker w runs: slot alive + w */
  alive: 16,
} as const;

/** Slot of worker w's open-connection count on listener l (max_connections holds for the whole broker). */
export function openConnectionsSlot(shared: ClusterShared, w: number, l: number): number {
  return State.alive + shared.workers + w * shared.listeners + l;
}

/** Slot of worker w's count of stored (persistent) sessions with a subscription: only those need durable PUBLISH records. */
export function storedSubscribersSlot(shared: ClusterShared, w: number): number {
  return State.alive + shared.workers + shared.workers * shared.listeners + w;
}

/** bytes of each ring's data area */
export const RING_BYTES = 1 << 20;
/** the registry's largest size in slots: client ids live at once (sessions included), up to 15/16 of it; it starts small and doubles as ids come */
export const REGISTRY_MAX_SLOTS = 1 << 24;

export function createClusterShared(workers: number, listeners: number, ringBytes = RING_BYTES): ClusterShared {
  const rings: (SharedArrayBuffer | null)[] = [];
  for (let from = 0; from < workers; from++) {
    for (let to = 0; to < workers; to++) rings.push(from === to ? null : createRing(ringBytes));
  }
  return {
    workers,
    rings,
    doorbells: createDoorbells(workers),
    registry: createRegistry(REGISTRY_MAX_SLOTS),
    state: new SharedArrayBuffer(4 * (State.alive + workers + workers * listeners + workers)),
    listeners,
  };
}

/** Main thread, after worker `w` died: it no longer runs, and the client ids it held are free. */
export function markWorkerDead(shared: ClusterShared, w: number): number {
  const state = new Int32Array(shared.state);
  Atomics.store(state, State.alive + w, 0);
  for (let l = 0; l < shared.listeners; l++) Atomics.store(state, openConnectionsSlot(shared, w, l), 0);
  Atomics.store(state, storedSubscribersSlot(shared, w), 0);
  return new ClientRegistry(shared.registry).releaseAll(w);
}
