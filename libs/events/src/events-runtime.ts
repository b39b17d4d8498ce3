import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { metricsPortFor, TIMINGS, type AppConfig, type EventsConfig } from '@vision/config';
import { EventsMetrics, serveMetrics, watchLoop } from '@vision/metrics';
import { checkRedisTargets, OutageLog } from '@vision/runtime';
import { connectTolerant, createRedis, findStatePersistence, requireSchemaVersion } from '@vision/redis';
import { VisionError } from '@vision/wire';
import type { CursorOutput } from './cursor-output';
import { EventEvidence } from './event-evidence';
import { eventsApi } from './events-api';
import { EventsAuth } from './events-auth';
import { EventsFeed } from './events-feed';
import { eventsKeys } from './events-keys';
import { MqttOutput } from './mqtt-output';
import { ResultsSources } from './results-sources';
import { RulesStore } from './rules-store';
import { ShardLeases } from './shard-leases';
import { ShardProcessor } from './shard-processor';
import { WebhookOutputs } from './webhook-output';

export interface EventsRuntime {
  /** The API and /ws/events port as bound. */
  port: number;
  metricsPort: number;
  stop(): Promise<void>;
}

/**
 * The events service: results shards leased from Redis, tracked and evaluated, events committed to
 * the durable events stream and delivered to MQTT, webhooks and the WebSocket feed; the rules API
 * on PORT and /metrics, /healthz, /readyz on METRICS_PORT.
 */
export async function startEventsRuntime(config: AppConfig, cfg: EventsConfig, log: Logger): Promise<EventsRuntime> {
  const target = config.stateRedisTarget;
  if (!target) throw new VisionError('E_CONFIG', 'the events service needs REDIS_URL or REDIS_SENTINELS');
  // Several URLs: the queue's shards, each with workers appending to its own results streams. The
  // service's own state stays with the site's state (the first, or its sentinel master); it reads the
  // results of all.
  await checkRedisTargets(config, log);
  const auth = new EventsAuth(config.auth);
  const metrics = new EventsMetrics();
  const keys = eventsKeys(config.redisPrefix);
  const connections: ReturnType<typeof createRedis>[] = [];
  // One line when Redis goes away and one when it is back, not one per connection retry.
  const outage = new OutageLog(log, 'redis', TIMINGS.outageReminderMs);
  const onState = outage.onState;
  const redis = (name: string, blocking = false) => {
    const r = createRedis(target, { name, blocking, onState });
    connections.push(r);
    return r;
  };
  const loop = watchLoop(TIMINGS.loopWatch);
  const cmd = redis('events-cmd');
  const ops = await serveMetrics(metrics, metricsPortFor(config, 'events'), config.host, log, async () => ({
    redis: cmd.status === 'ready',
    loop: !loop.stalled(),
  }));
  log.info({ metricsPort: (ops.address() as AddressInfo).port }, 'ops port listening');
  await cmd.connect();
  await requireSchemaVersion(cmd, config.redisPrefix, 'events');
  const unsaved = config.production ? await findStatePersistence(cmd) : undefined;
  if (unsaved) log.warn({ code: unsaved.code, settings: unsaved.settings }, unsaved.message);

  const store = new RulesStore(cmd, keys, cfg, log);
  await store.start();
  const outputs = (): CursorOutput[] => [...(mqtt ? [mqtt.output] : []), ...hooks.all().map((h) => h.output)];
  const readers = config.redisTargets.map((u, i) => {
    const r = createRedis(u, { name: `events-results-${i}`, blocking: true, onState });
    connections.push(r);
    return r;
  });
  const results = new ResultsSources(readers, config.redisPrefix, cfg.results.shards);
  const leases: ShardLeases = new ShardLeases(
    cmd,
    keys,
    { shards: results.shards, leaseMs: cfg.leaseMs, instanceId: cfg.instanceId },
    {
      // Outputs first: a new output's cursor is recorded before the shard makes any event.
      acquired: async (shard, token, checkpoint) => {
        for (const output of outputs()) await output.acquired(shard, token);
        processor.acquired(shard, token, checkpoint);
      },
      releasing: (shard) => processor.releasing(shard),
      lost: (shard) => {
        processor.lost(shard);
        for (const output of outputs()) output.lost(shard);
      },
    },
    log,
  );
  // The first must answer now, like the command connection; another shard may come up later.
  await readers[0].connect();
  for (const r of readers.slice(1)) await connectTolerant(r);
  const evidence = await startEvidence(config, cfg, { results, store, metrics, log, onState, connections });
  const processor = new ShardProcessor({
    cmd,
    results,
    keys,
    cfg,
    store,
    metrics,
    log,
    fenced: (shard) => leases.forfeit(shard),
    ...(evidence ? { evidence } : {}),
  });
  const blockingReader = (name: string) => {
    const r = redis(name, true);
    r.connect().catch(() => undefined);
    return r;
  };
  const deps = { cmd, keys, owned: leases.owned, log };
  const mqtt = cfg.mqtt
    ? new MqttOutput(cfg.mqtt, cfg.instanceId, { ...deps, reader: blockingReader('events-mqtt') }, metrics, log)
    : undefined;
  const hooks = new WebhookOutputs(cfg, deps, () => blockingReader('events-webhook'), metrics, log);
  await hooks.sync(store.webhooks());
  const unwatch = store.onChange(
    () =>
      void hooks.sync(store.webhooks()).catch((err: Error) => log.error({ err: err.message }, 'webhooks not updated')),
  );

  const feed = new EventsFeed({
    cfg,
    keys,
    store,
    auth,
    metrics,
    log,
    shards: results.shards,
    newRedis: (name) => createRedis(target, { name, blocking: true }),
    counts: async (camera) => JSON.parse((await cmd.hget(keys.counts, camera)) ?? '{}') as unknown,
  });
  const server = createServer(
    eventsApi({
      redis: cmd,
      keys,
      store,
      auth,
      shardsOf: (c) => results.shardsOf(c),
      log,
      clip: cfg.clip,
      ...(evidence ? { snapshots: evidence.store } : {}),
    }),
  );
  server.on('upgrade', (req, socket, head) => feed.upgrade(req, socket, head));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  mqtt?.start();
  processor.start();
  leases.start();
  let lostRedis = false;
  cmd.on('close', () => (lostRedis = true));
  cmd.on('ready', () => {
    if (!lostRedis) return;
    lostRedis = false;
    void leases.resumeFromCheckpoints('Redis reconnected; resuming from its checkpoints');
  });
  log.info(
    {
      port,
      instance: cfg.instanceId,
      shards: results.shards,
      redis: readers.length,
      site: cfg.site,
      mqtt: Boolean(mqtt),
      snapshots: Boolean(evidence),
      webhooks: store.webhooks().length,
      auth: auth.enabled,
    },
    'events ready',
  );

  return {
    port,
    metricsPort: (ops.address() as AddressInfo).port,
    async stop() {
      unwatch();
      await processor.stop();
      // Final commits, then the leases go back: another instance resumes at once.
      await leases.stop();
      await Promise.all([mqtt?.stop(), hooks.stop(), feed.close(), evidence?.stop()]);
      store.stop();
      loop.stop();
      outage.stop();
      await new Promise((r) => server.close(r));
      ops.close();
      for (const c of connections) c.disconnect();
    },
  };
}

/** Snapshots (EVENTS_SNAPSHOT_DIR set): a connection to each frames Redis for its frame window. */
async function startEvidence(
  config: AppConfig,
  cfg: EventsConfig,
  deps: {
    results: ResultsSources;
    store: RulesStore;
    metrics: EventsMetrics;
    log: Logger;
    onState: OutageLog['onState'];
    connections: ReturnType<typeof createRedis>[];
  },
): Promise<EventEvidence | undefined> {
  const dir = cfg.snapshots.dir;
  if (!dir) return undefined;
  const frames = config.redisTargets.map((target, i) => {
    const r = createRedis(target, { name: `events-frames-${i}`, onState: deps.onState });
    deps.connections.push(r);
    return r;
  });
  for (const r of frames) await connectTolerant(r);
  const evidence = new EventEvidence(
    { ...cfg.snapshots, dir },
    {
      frames,
      redisOfShard: (shard) => deps.results.redisOf(shard),
      camerasWithRules: () => deps.store.cameras().filter((c) => deps.store.rulesFor(c).length > 0),
      prefix: config.redisPrefix,
      metrics: deps.metrics,
      log: deps.log,
    },
  );
  await evidence.start();
  deps.log.info({ dir, frameWindowMs: cfg.snapshots.frameWindow.ms }, 'snapshots on');
  return evidence;
}
