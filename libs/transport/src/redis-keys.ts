/** Every Redis key the service uses, under one prefix so tests and tenants never collide. */
export interface RedisKeys {
  /** Stream of one model's frames waiting for a worker: models never share a stream, so batches never mix. */
  stream(model: string): string;
  /** Consumer group the workers of a model share (one per stream). */
  group: string;
  /** Metadata of frames that failed delivery too often (never their images). */
  deadLetter: string;
  /** Sorted set: id of a worker serving `model` → last heartbeat (epoch ms). */
  workers(model: string): string;
  /** Hash: model id → what its workers announced (version, classes, input shape). */
  models: string;
  /** Counter: encoded bytes of frames admitted and not yet finished. */
  bytesWaiting: string;
  /** Sorted set: tenant → expiry of its latest open frame. */
  activeTenants: string;
  /** Sorted set: one tenant's open frame keys → expiry. */
  tenantOpen(tenant: string): string;
  /** Hash: one tenant's frame-rate token bucket. */
  tenantRate(tenant: string): string;
  /** Sorted sets of connection leases (conn id → lease expiry). */
  connectionsByIp(ip: string): string;
  connectionsBySubject(subject: string): string;
  /** Pub/sub channel of one edge's outcomes. */
  results(edgeId: string): string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    stream: (model) => `${prefix}:frames:${model}`,
    group: 'workers',
    deadLetter: `${prefix}:dead`,
    workers: (model) => `${prefix}:workers:${model}`,
    models: `${prefix}:models`,
    bytesWaiting: `${prefix}:bytes`,
    activeTenants: `${prefix}:tenants`,
    tenantOpen: (t) => `${prefix}:tenant:${t}:open`,
    tenantRate: (t) => `${prefix}:tenant:${t}:rate`,
    connectionsByIp: (ip) => `${prefix}:conn:ip:${ip}`,
    connectionsBySubject: (s) => `${prefix}:conn:sub:${s}`,
    results: (edgeId) => `${prefix}:results:${edgeId}`,
  };
}

/** A worker counts as present if it reported within this window. */
export const WORKER_LIVENESS_MS = 5000;
