import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AppConfig } from '@vision/config';
import { VisionError } from '@vision/protocol';
import { RedisEdgeTransport } from '@vision/transport';
import { allowAll, type EdgeContext } from './edge-context';
import { EdgeModule } from './edge.module';
import { EdgeService } from './edge.service';
import { PinoNestLogger } from './nest-logger';
import { VisionWsAdapter } from './vision-ws-adapter';

export interface EdgeRuntime {
  app: INestApplication;
  port: number;
  edge: EdgeService;
  /** Drain (stop accepting, finish open frames up to the grace period, close sockets 1001), then close. */
  stop(): Promise<void>;
}

export type EdgeRuntimeInput = Omit<EdgeContext, 'transport' | 'authorize'> & Partial<Pick<EdgeContext, 'transport' | 'authorize'>>;

/** Builds the Nest app around the edge module and listens on `config.port`. */
export async function startEdgeRuntime(input: EdgeRuntimeInput): Promise<EdgeRuntime> {
  const { config, log } = input;
  const transport = input.transport ?? redisTransport(config);
  const ctx: EdgeContext = { ...input, transport, authorize: input.authorize ?? allowAll };
  const app = await NestFactory.create(EdgeModule.forRoot(ctx), {
    logger: new PinoNestLogger(log),
    bodyParser: false,
  });
  const edge = app.get(EdgeService);
  app.useWebSocketAdapter(
    new VisionWsAdapter(app, {
      // Frames up to twice the limit get a polite E_FRAME_TOO_LARGE; beyond that the socket closes (1009).
      maxPayload: config.frames.maxFrameBytes * 2 + 1024,
      authorize: ctx.authorize,
      accepting: () => !edge.isDraining,
    }),
  );
  await edge.start();
  transport.onConnectionLost?.(() => edge.failAllOpen('E_UNAVAILABLE', 'lost the queue connection; retry the frame'));
  await app.listen(config.port, config.host);
  const port = (app.getHttpServer().address() as AddressInfo).port;
  log.info({ edgeId: config.edgeId, port, transport: transport.kind }, 'edge listening');
  let stopped: Promise<void> | undefined;
  return {
    app,
    port,
    edge,
    stop() {
      stopped ??= (async () => {
        await edge.drain(config.frames.shutdownGraceMs);
        await app.close();
        await transport.close();
        log.info({ edgeId: config.edgeId }, 'edge stopped');
      })();
      return stopped;
    },
  };
}

function redisTransport(config: AppConfig): RedisEdgeTransport {
  if (!config.redisUrl) throw new VisionError('E_CONFIG', 'REDIS_URL must be set for a stand-alone edge');
  return new RedisEdgeTransport({
    url: config.redisUrl,
    prefix: config.redisPrefix,
    maxQueue: config.batching.maxQueue,
    maxLen: config.streams.maxLen,
  });
}
