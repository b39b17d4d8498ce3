/**
 * Every Redis key of the events service, under REDIS_PREFIX, all on STATE_REDIS_URL. Shards are
 * the results streams' of every frame Redis (`ResultsSources`).
 */
export function eventsKeys(prefix: string) {
  return {
    /** The durable events stream of a shard: every event once, in capture order per camera. */
    events: (shard: number) => `${prefix}:events:stream:${shard}`,
    lease: (shard: number) => `${prefix}:events:lease:${shard}`,
    /** Hash: `pos` (where reading resumes), `cam:<id>` (a camera's state), `out:<name>` (an output's cursor). */
    checkpoint: (shard: number) => `${prefix}:events:ckpt:${shard}`,
    /** Hash camera -> current counts per rule (JSON), for the API. */
    counts: `${prefix}:events:counts`,
    /** Hash camera -> rules set through the API (JSON array of rule specs). */
    rules: `${prefix}:events:rules`,
    rulesVersion: `${prefix}:events:rules-version`,
    /** Sorted set of live instances, scored by when their heartbeat expires. */
    instances: `${prefix}:events:instances`,
    /** Hash camera -> model id, for every camera seen on the results stream. */
    seen: `${prefix}:events:seen`,
    /** Set of class names seen for a model. */
    classes: (model: string) => `${prefix}:events:classes:${model}`,
    /** Pub/sub channel of confirmed tracks per frame, for the WebSocket feed. */
    live: `${prefix}:events:live`,
  };
}

export type EventsKeys = ReturnType<typeof eventsKeys>;
