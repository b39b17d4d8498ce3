import type { Socket } from 'node:net';
import type WebSocket from 'ws';

/** The fields of ws' receiver that tell whether a message is in progress, and how many bytes it holds. */
interface ReceiverState {
  _state: number;
  _bufferedBytes: number;
  _fragmented: number;
  /** Payload bytes of the fragments received so far. */
  _messageLength: number;
  /** Chunks waiting in the Writable while a deferred event is pending. */
  writableLength: number;
}
/** ws's Receiver state between messages (its internal enum): anything else is a message under way. */
const GET_INFO = 0;
/** A complete frame waits for its event (`allowSynchronousEvents: false` emits on the next turn). */
const DEFER_EVENT = 6;

/**
 * Tracks since when a connection has had a message in progress, and how many bytes that message
 * holds. ws bounds a message's bytes (`maxPayload`, fragments included) but not its time, and pongs
 * are legal between fragments, so a peer can hold a half-sent message open for ever.
 *
 * The state is read after each TCP chunk (ws' own listener runs first) and again whenever the
 * guard asks, because the edge runs ws with deferred events: right after a complete frame (a
 * message, or a pong) the receiver sits in DEFER_EVENT until the next turn, which is not a message
 * in progress. It uses ws internals: `edge-liveness.test.ts` pins the behaviour against the ws
 * version the edge loads, a quiet client that answers pings included.
 */
export class MessageWatch {
  private since: number | undefined;
  private readonly receiver: ReceiverState | undefined;

  constructor(ws: WebSocket, socket: Socket, onChunk?: (watch: MessageWatch) => void) {
    this.receiver = (ws as unknown as { _receiver?: ReceiverState })._receiver;
    if (!this.receiver) return;
    socket.on('data', () => {
      this.evaluate();
      onChunk?.(this);
    });
  }

  /** Epoch ms the current unfinished message started, if one is open. */
  get partialSince(): number | undefined {
    this.evaluate();
    return this.since;
  }

  /** Bytes ws holds for messages not yet delivered: buffered frame bytes, fragments so far, queued chunks. */
  get heldBytes(): number {
    const r = this.receiver;
    return r ? r._bufferedBytes + r._messageLength + r.writableLength : 0;
  }

  private evaluate(): void {
    const r = this.receiver;
    if (!r) return;
    if (r._fragmented !== 0) {
      this.since ??= Date.now();
      return;
    }
    if (r._state === DEFER_EVENT) {
      // A complete frame waits for its event. Bytes after it are judged once ws has parsed them.
      if (r._bufferedBytes === 0 && r.writableLength === 0) this.since = undefined;
      return;
    }
    if (r._state !== GET_INFO || r._bufferedBytes > 0) this.since ??= Date.now();
    else this.since = undefined;
  }
}
