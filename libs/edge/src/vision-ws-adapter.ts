import type { INestApplicationContext } from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import type { IncomingMessage } from 'node:http';
import type { ServerOptions } from 'ws';
import { PROTOCOL_V1 } from '@vision/protocol';
import type { UpgradeAuthorizer } from './edge-context';

export interface VisionWsAdapterOptions {
  /** Hard cap per message; larger messages close the socket with 1009. */
  maxPayload: number;
  authorize: UpgradeAuthorizer;
  /** Refuses upgrades while the edge drains. */
  accepting: () => boolean;
}

/**
 * `WsAdapter` with the settings the decorator cannot carry: sub-protocol negotiation, a payload
 * cap, and the upgrade hook where authentication plugs in.
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
      perMessageDeflate: false, // JPEG does not compress; deflate would only burn CPU
      handleProtocols: (protocols) => (protocols.has(PROTOCOL_V1) ? PROTOCOL_V1 : false),
      verifyClient: (info: { req: IncomingMessage }, cb: (ok: boolean, code?: number, message?: string) => void) => {
        if (!this.opts.accepting()) return cb(false, 503, 'draining');
        this.opts.authorize(info.req).then(
          (r) => (r.ok ? cb(true) : cb(false, r.status, r.message)),
          () => cb(false, 500),
        );
      },
    };
    return super.create(port, { ...options, ...wsOptions });
  }
}
