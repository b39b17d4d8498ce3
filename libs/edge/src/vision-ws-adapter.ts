import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ServerOptions } from 'ws';
import { errorReply, refuseUpgrade } from '@vision/http';
import { PROTOCOL_V1, VisionError } from '@vision/wire';
import type { WebSocketServer } from 'ws';

export interface VisionWsAdapterOptions {
  /** Hard cap per message, fragments included; larger messages close the socket with 1009. */
  maxPayload: number;
  /** The upgrade hook: rejects with a VisionError (its HTTP status answers the upgrade) or admits. */
  admit: (req: IncomingMessage) => Promise<void>;
  /** A client's socket broke the protocol (ws closes it): clients cause these, so log them throttled. */
  onClientError: (err: Error & { code?: string }) => void;
}

/**
 * `WsAdapter` with the settings the decorator cannot carry: sub-protocol negotiation, a payload
 * cap, asynchronous message events, and the upgrade hook where the gate (Origin, token, limits) runs.
 */
export class VisionWsAdapter extends WsAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly opts: VisionWsAdapterOptions,
  ) {
    // Messages are handled on the raw socket; Nest's parser must not consume them.
    super(app, { messageParser: () => undefined });
  }

  override create(port: number, options: Record<string, unknown> & { path?: string }) {
    const wsOptions: ServerOptions = {
      maxPayload: this.opts.maxPayload,
      perMessageDeflate: false, // JPEG does not compress; deflate would only burn CPU (and is a zip-bomb surface)
      // One message per event-loop turn: a TCP chunk holding 200k tiny frames must not hold the
      // loop for seconds (ws' default emits them all synchronously).
      allowSynchronousEvents: false,
      // Only yolo.v1 is ever chosen: a `bearer.<jwt>` entry carries a token and must not be echoed back.
      handleProtocols: (protocols) => (protocols.has(PROTOCOL_V1) ? PROTOCOL_V1 : false),
      verifyClient: (
        info: { req: IncomingMessage },
        cb: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void,
      ) => {
        this.opts.admit(info.req).then(
          () => cb(true),
          (err: unknown) => {
            const reply = errorReply(err);
            cb(false, reply.status, reply.body.error.code, reply.headers);
          },
        );
      },
    };
    return super.create(port, { ...options, ...wsOptions });
  }

  /**
   * Nest's own upgrade routing destroys the socket of an upgrade to an unknown path, which leaves
   * the client with no answer at all; this one answers 404 `E_NO_ROUTE`.
   */
  protected override ensureHttpServerExists(port: number, httpServer?: Server): Server | undefined {
    if (this.httpServersRegistry.has(port)) return undefined;
    const server = super.ensureHttpServerExists(port, httpServer)!;
    const nests = server.listeners('upgrade');
    server.removeAllListeners('upgrade');
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = new URL(req.url ?? '/', 'ws://edge').pathname;
      const known = (this.wsServersRegistry.get(port) ?? []).some(
        (ws: WebSocketServer & { path?: string }) => ws.path === path,
      );
      if (known) {
        for (const l of nests) (l as (...a: unknown[]) => void).call(server, req, socket, head);
        return;
      }
      refuseUpgrade(socket, errorReply(new VisionError('E_NO_ROUTE')));
    });
    return server;
  }

  // Nest logs every client socket error at error level: a client could flood our logs at will.
  override bindErrorHandler(server: { on(event: string, cb: (...a: never[]) => void): void }) {
    server.on('connection', (ws: { on(e: 'error', cb: (err: Error) => void): void }) =>
      ws.on('error', (err) => this.opts.onClientError(err)),
    );
    server.on('error', (err: Error) => this.opts.onClientError(err));
    return server;
  }
}
