/** Every Redis key the service uses, under one prefix so tests and tenants never collide. */
export interface RedisKeys {
  /** Stream of frames waiting for a worker. */
  stream: string;
  /** Consumer group all workers share. */
  group: string;
  /** Frames that failed delivery too often. */
  deadLetter: string;
  /** Sorted set: worker id → last heartbeat (epoch ms). */
  workers: string;
  /** Pub/sub channel of one edge's outcomes. */
  results(edgeId: string): string;
}

export function redisKeys(prefix: string): RedisKeys {
  return {
    stream: `${prefix}:frames`,
    group: 'workers',
    deadLetter: `${prefix}:dead`,
    workers: `${prefix}:workers`,
    results: (edgeId) => `${prefix}:results:${edgeId}`,
  };
}

/** A worker counts as present if it reported within this window. */
export const WORKER_LIVENESS_MS = 5000;
