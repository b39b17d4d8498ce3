import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { IncomingMessage } from 'node:http';
import type { ServerOptions } from 'ws';
import { ERROR_CODES, PROTOCOL_V1, toWireError } from '@vision/protocol';

export interface VisionWsAdapterOptions {
  /** Hard cap per message, fragments included; larger messages close the socket with 1009. */
  maxPayload: number;
  /** The upgrade hook: rejects with a VisionError (its HTTP status answers the upgrade) or admits. */
  admit: (req: IncomingMessage) => Promise<void>;
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
      verifyClient: (info: { req: IncomingMessage }, cb: (ok: boolean, code?: number, message?: string, headers?: Record<string, string>) => void) => {
        this.opts.admit(info.req).then(
          () => cb(true),
          (err: unknown) => {
            const wire = toWireError(err);
            const headers: Record<string, string> = {};
            if (ERROR_CODES[wire.code].http === 401) headers['WWW-Authenticate'] = 'Bearer';
            cb(false, ERROR_CODES[wire.code].http, wire.code, headers);
          },
        );
      },
    };
    return super.create(port, { ...options, ...wsOptions });
  }
}
