import type { Socket } from 'node:net';
import type WebSocket from 'ws';

/** ws' receiver between frames: no partial frame buffered, no fragmented message open. */
interface ReceiverState {
  _state: number;
  _bufferedBytes: number;
  _fragmented: number;
}
const GET_INFO = 0;

/**
 * Tracks since when a connection has had a message in progress. ws bounds a message's bytes
 * (`maxPayload`, fragments included) but not its time, and pongs are legal between fragments, so
 * a peer can hold a half-sent message open for ever. This reads ws' receiver state after each TCP
 * chunk (ws' own listener runs first). It uses ws internals: `edge-security.test.ts` pins the
 * behaviour against the ws version the edge loads.
 */
export class MessageWatch {
  private since: number | undefined;

  constructor(ws: WebSocket, socket: Socket) {
    const receiver = (ws as unknown as { _receiver?: ReceiverState })._receiver;
    if (!receiver) return;
    // A complete message may still wait for its (deferred) event; once emitted, nothing is open.
    ws.on('message', () => (this.since = undefined));
    socket.on('data', () => {
      const partial = receiver._state !== GET_INFO || receiver._bufferedBytes > 0 || receiver._fragmented !== 0;
      if (!partial) this.since = undefined;
      else this.since ??= Date.now();
    });
  }

  /** Epoch ms the current unfinished message started, if one is open. */
  get partialSince(): number | undefined {
    return this.since;
  }
}
