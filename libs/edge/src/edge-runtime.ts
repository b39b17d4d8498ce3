import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Logger } from 'pino';
import { MemoryRevocations, RedisRevocations, TokenVerifier } from '@vision/auth';
import { BulkJobs } from '@vision/bulk';
import { loadModelRepository, metricsPortFor, TIMINGS, type AppConfig } from '@vision/config';
import { requireStateSchema } from '@vision/redis';
import { checkRedisTargets, OutageLog, throttledWarn } from '@vision/runtime';
import { serveMetrics } from '@vision/metrics';
import { FRAME_HEADER_MAX_BYTES, VisionError } from '@vision/wire';
import {
  admissionFrom,
  MemoryConnectionLeases,
  RedisConnectionLeases,
  RedisEdgeTransport,
  ShardedEdgeTransport,
  type EdgeTransport,
} from '@vision/transport';
import type { EdgeContext } from './edge-context';
import { EdgeModule } from './edge.module';
import { EdgeService } from './edge.service';
import { ModelCatalog } from './model-catalog';
import { PinoNestLogger } from './nest-logger';
import { VisionWsAdapter } from './vision-ws-adapter';
import { WireErrorFilter } from './wire-error.filter';
import { RouteTable } from '@vision/http';

export interface EdgeRuntime {
  app: INestApplication;
  port: number;
  /** METRICS_PORT's actual port. */
  metricsPort: number;
  edge: EdgeService;
  catalog: ModelCatalog;
  /** Drain (stop accepting, finish open frames up to the grace period, close sockets 1001), then close. */
  stop(): Promise<void>;
}

export type EdgeRuntimeInput = Omit<
  EdgeContext,
  'transport' | 'leases' | 'verifier' | 'catalog' | 'revocations' | 'warn'
> &
  Partial<Pick<EdgeContext, 'transport' | 'leases' | 'catalog' | 'revocations'>> & {
    /**
     * The embedded server (`npm start`): may run without a key source (authentication off, logged loudly),
     * and takes the server's ops port.
     */
    demo?: boolean;
  };

/** File descriptors kept for everything that is not a client socket (Redis, logs, health probes). */
const FD_RESERVE = 256;

/** Builds the Nest app around the edge module and listens on `config.port`. */
export async function startEdgeRuntime(input: EdgeRuntimeInput): Promise<EdgeRuntime> {
  const { config, log } = input;
  checkConnectionCap(config);
  const verifier = verifierFor(config, log, input.demo === true);
  const outage = new OutageLog(log, 'redis', TIMINGS.outageReminderMs);
  const transport = input.transport ?? redisTransport(config, outage);
  if (!input.transport) {
    await checkRedisTargets(config, log);
    if (config.stateRedisTarget)
      await requireStateSchema(config.stateRedisTarget, config.redisPrefix, input.demo === true ? 'server' : 'edge');
  }
  // Connection leases live on the first shard (one place keeps them exact; renewed, so a restart loses
  // nothing); revocations and jobs are state, on the state Redis (docs/architecture.md).
  const { redisTarget, stateRedisTarget } = config;
  const onState = outage.onState;
  const leases =
    input.leases ??
    (redisTarget
      ? new RedisConnectionLeases({ target: redisTarget, prefix: config.redisPrefix, onState })
      : new MemoryConnectionLeases());
  const revocations =
    input.revocations ??
    (stateRedisTarget
      ? new RedisRevocations({ target: stateRedisTarget, prefix: config.redisPrefix, onState })
      : new MemoryRevocations());
  const catalog = input.catalog ?? new ModelCatalog(() => loadModelRepository(config));
  const bulk =
    input.bulk ??
    (stateRedisTarget && !input.transport
      ? new BulkJobs(stateRedisTarget, config.redisPrefix, config.bulk)
      : undefined);
  const warn = throttledWarn(log);
  const ctx: EdgeContext = {
    ...input,
    transport,
    leases,
    revocations,
    verifier,
    catalog,
    warn,
    ...(bulk ? { bulk } : {}),
  };
  const app = await NestFactory.create<NestExpressApplication>(EdgeModule.forRoot(ctx), {
    logger: new PinoNestLogger(log),
    bodyParser: false,
    ...(config.tls
      ? { httpsOptions: { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) } }
      : {}),
  });
  app.disable('x-powered-by');
  let routes: RouteTable<true> | undefined;
  app.useGlobalFilters(new WireErrorFilter(() => (routes ??= registeredRoutes(app))));
  if (config.demoEnabled) serveDemo(app);
  const edge = app.get(EdgeService);
  app.useWebSocketAdapter(
    new VisionWsAdapter(app, {
      maxPayload: config.frames.maxFrameBytes + FRAME_HEADER_MAX_BYTES,
      admit: (req) => edge.admitUpgrade(req),
      onClientError: (err) => warn(err.code ?? 'ws', { err: err.message }, 'client socket error'),
    }),
  );
  await edge.start();
  transport.onConnectionLost?.(() => edge.failAllOpen());
  const server = app.getHttpServer() as Server;
  // Sockets that never finish their request headers (slowloris) or body are cut off; the cap keeps
  // the process below its descriptor limit with room for health probes.
  server.headersTimeout = 10_000;
  server.requestTimeout = 60_000;
  server.maxConnections = config.limits.maxConnections + FD_RESERVE / 2;
  await app.listen(config.port, config.host);
  const port = (server.address() as AddressInfo).port;
  input.metrics.observeQueue(() => transport.health(catalog.ids()));
  const metricsServer = await serveMetrics(
    input.metrics,
    metricsPortFor(config, input.demo === true ? 'server' : 'edge'),
    config.host,
    log,
  );
  const metricsPort = (metricsServer.address() as AddressInfo).port;
  log.info(
    {
      edgeId: config.edgeId,
      port,
      metricsPort,
      tls: Boolean(config.tls),
      auth: verifier ? 'jwt' : 'off',
      transport: transport.kind,
    },
    'edge listening',
  );
  let stopped: Promise<void> | undefined;
  return {
    app,
    port,
    metricsPort,
    edge,
    catalog,
    stop() {
      stopped ??= (async () => {
        await edge.drain(config.frames.shutdownGraceMs);
        await app.close();
        metricsServer.close();
        await transport.close();
        await leases.close();
        await revocations.close();
        await bulk?.close();
        outage.stop();
        log.info({ edgeId: config.edgeId }, 'edge stopped');
      })();
      return stopped;
    },
  };
}

/**
 * The browser demo at /demo: its page (libs/edge/demo) and the SDK's browser bundle, built by the
 * client library (libs/client/dist/browser). Same origin as the WebSocket, so no Origin setting.
 */
function serveDemo(app: NestExpressApplication): void {
  // The bundle is a build artefact of libs/client, next to this library in the same checkout or image.
  const bundle = join(__dirname, '..', '..', 'client', 'dist', 'browser');
  app.useStaticAssets(join(__dirname, '..', 'demo'), { prefix: '/demo/' });
  app.useStaticAssets(bundle, { prefix: '/demo/' });
}

/** Authentication is on unless AUTH_DISABLED=true, or this is the embedded demo with no key source. */
function verifierFor(config: AppConfig, log: Logger, demo: boolean): TokenVerifier | undefined {
  const a = config.auth;
  if (a.disabled === true) {
    log.warn('AUTHENTICATION DISABLED (AUTH_DISABLED=true): anyone who can reach this edge can use it');
    return undefined;
  }
  if (a.secret || a.jwksFile || a.jwksUrl) return TokenVerifier.create(a);
  if (demo) {
    log.warn(
      'AUTHENTICATION DISABLED: embedded demo without JWT_SECRET / JWKS_FILE / JWKS_URL; ' +
        'any client and any browser Origin is accepted; do not expose this port',
    );
    return undefined;
  }
  throw new VisionError('E_CONFIG', 'an edge needs JWT_SECRET, JWKS_FILE or JWKS_URL (or AUTH_DISABLED=true)');
}

/** MAX_CONNECTIONS must leave descriptors for everything else, or the edge stops answering at all. */
function checkConnectionCap(config: AppConfig): void {
  let soft: number | undefined;
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const v = line?.split(/\s{2,}/)[1];
    soft = v && v !== 'unlimited' ? Number(v) : undefined;
  } catch {
    soft = undefined; // not Linux: nothing to check against
  }
  if (soft !== undefined && config.limits.maxConnections > soft - FD_RESERVE) {
    throw new VisionError(
      'E_CONFIG',
      `MAX_CONNECTIONS (${config.limits.maxConnections}) must be at most ` +
        `the open-file limit (${soft}) minus ${FD_RESERVE}`,
    );
  }
}

function redisTransport(config: AppConfig, outage: OutageLog): EdgeTransport {
  if (!config.redisTarget)
    throw new VisionError('E_CONFIG', 'REDIS_URL or REDIS_SENTINELS must be set for a stand-alone edge');
  const shards = config.redisTargets.map(
    (target) =>
      new RedisEdgeTransport({
        target,
        prefix: config.redisPrefix,
        admission: admissionFrom(config),
        maxLen: config.streams.maxLen,
        onState: outage.onState,
      }),
  );
  return shards.length === 1 ? shards[0] : new ShardedEdgeTransport(shards);
}

/** The routes Nest registered on Express (method and path pattern), for 405 answers to the others. */
function registeredRoutes(app: NestExpressApplication): RouteTable<true> {
  const table = new RouteTable<true>();
  const express = app.getHttpAdapter().getInstance() as {
    router: { stack: { route?: { path: unknown; methods: Record<string, boolean> } }[] };
  };
  for (const { route } of express.router.stack) {
    if (typeof route?.path !== 'string') continue;
    for (const method of Object.keys(route.methods)) {
      try {
        table.add(method.toUpperCase(), route.path, true);
      } catch {
        // A route the table cannot express (Express' `all`): it never answers 405.
      }
    }
  }
  return table;
}
