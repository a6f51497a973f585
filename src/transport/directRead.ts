/**
 * Plain TCP reads without the Readable machinery: libuv reads into one buffer per thread and
 * Node calls us back with the byte count (net.Socket's `onread` mode, which Node offers only to
 * sockets it creates for connect(); an accepted socket is switched to it here). Each read then
 * costs one pooled copy of the bytes instead of a new backing store, a Readable push, a 'data'
 * emit and a nextTick (measured with native-bench/profile, see the commit that added this file).
 * The chunk handed on is the caller's to keep, as a 'data' chunk is.
 * Pause/resume and end/close behave as in stream mode (Node's Socket handles both modes).
 * called from: worker
 */
import { Socket } from 'node:net';

/** libuv's usual read size; a read never returns more */
const READ_BUFFER_BYTES = 64 * 1024;

/** one per thread: a read's bytes are copied out before the next read can start */
let readBuffer: Buffer | undefined;

/** What reads are handed to: an object, so that a socket needs no closure for it. */
export interface ReadSink {
  onData(chunk: Buffer): void;
}

/** where a switched socket's chunks go */
const SINK = Symbol('culex.readSink');
type SwitchedSocket = Socket & { [SINK]: ReadSink };

/** Node calls it as a method of the socket (`this`): one function for every socket, no closure each. */
function onRead(this: SwitchedSocket, bytes: number, from: Buffer): void {
  const chunk = Buffer.allocUnsafe(bytes);
  from.copy(chunk, 0, 0, bytes);
  this[SINK].onData(chunk);
}

interface OnreadSlots {
  readonly buffer: symbol;
  readonly callback: symbol;
}
/** net.Socket's private onread slots, found by name once; null: this Node has none (use 'data') */
let slots: OnreadSlots | null | undefined;

function findSlots(socket: Socket): OnreadSlots | null {
  const own = Object.getOwnPropertySymbols(socket);
  const buffer = own.find((s) => s.description === 'kBuffer');
  const callback = own.find((s) => s.description === 'kBufferCb');
  return buffer !== undefined && callback !== undefined ? { buffer, callback } : null;
}

/**
 * Feeds `sink` every read of an accepted plain TCP socket, from now on. Returns false, having
 * changed nothing, for a socket this cannot switch (TLS, or a Node without onread slots): the
 * caller then listens to 'data'. Call it in the 'connection' handler, before any read completes.
 */
export function readDirect(socket: Socket, sink: ReadSink): boolean {
  if (socket.constructor !== Socket) return false;
  const handle = (socket as unknown as { _handle: { useUserBuffer?: (b: Buffer) => void } | null })._handle;
  if (handle === null || typeof handle.useUserBuffer !== 'function') return false;
  slots ??= findSlots(socket);
  if (slots === null) return false;
  const buffer = (readBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES));
  const fields = socket as unknown as Record<symbol, unknown>;
  fields[slots.buffer] = buffer;
  fields[slots.callback] = onRead;
  (socket as SwitchedSocket)[SINK] = sink;
  handle.useUserBuffer(buffer);
  // flowing without a 'data' listener, so that the end of input is still emitted as 'end'
  socket.resume();
  return true;
}
