/** The results stream of one shard: `<prefix>:results:<shard>`. */
export function resultsStreamKey(prefix: string, shard: number): string {
  return `${prefix}:results:${shard}`;
}

/**
 * The shard a camera's results go to: FNV-1a (32 bit) of the camera id's UTF-8 bytes, mod `shards`.
 * Stable across processes and languages, so any writer and any reader agree.
 */
export function resultsShard(camera: string, shards: number): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(camera, 'utf8')) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % shards;
}
