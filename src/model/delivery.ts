/**
 * A message chosen for one session (the effective QoS, retain flag and subscription ids of this
 * delivery) and the outbound states it passes through. Leaf module.
 * called from: worker
 */
import type { Message } from './message.ts';

/**
 * What a delivery waits for before it may be sent: a commit of the store or another worker's
 * answer (implemented by src/durability/hold.ts). Settles once; never un-settles.
 */
export interface DeliveryGate {
  readonly done: boolean;
  readonly failed: boolean;
  /** `session` holds a delivery that waits for this; it is pumped when this settles */
  wait(session: { pump(now: number): void }): void;
  /** runs `fn` when this settles (at once if it has) */
  later(fn: () => void): void;
}

export const OutState = { AwaitPuback: 1, AwaitPubrec: 2, AwaitPubcomp: 3 } as const;
export type OutStateValue = (typeof OutState)[keyof typeof OutState];

/** A message chosen for one session: the effective QoS and retain flag of this delivery. */
export interface Delivery {
  readonly message: Message;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
  /** v5 subscription identifiers of every matching subscription, or undefined */
  readonly subscriptionIds: readonly number[] | undefined;
  /** persistent sessions: the entry's place in the session's stored queue; 0 = not stored */
  qseq: number;
  /** the stored message the entry refers to (this worker's copy, see journal.ts); 0 = inline in the entry, or none */
  mseq: number;
  /** what this delivery waits for before it may be sent (see journal.ts); undefined = nothing */
  hold: DeliveryGate | undefined;
  /** its entry's stored bytes as read back from a disk-backed queue, while they still describe it (journal.ts) */
  stored: Uint8Array | undefined;
}

export function createDelivery(message: Message, qos: 0 | 1 | 2, retain: boolean, subscriptionIds: readonly number[] | undefined): Delivery {
  return { message, qos, retain, subscriptionIds, qseq: 0, mseq: 0, hold: undefined, stored: undefined };
}
